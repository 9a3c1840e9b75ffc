"""The mix step: pools → token-budget sample → Megatron shards, blend.json and the report.

    (pool, shard path) ─ Reshuffle ─ TokenizeShard ─┬─ spool paths ─────────────────── Assign ─ GroupByKey(source, group)
                                     │              │                                    ↑ plan    ─ WriteShards (.bin/.idx)
              tokens + index → spool files          └─ shard summaries ─ MergeSummaries ─ Plan
                                                       (cell stats, report rows, drops)

Tokenizing is done once: each Parquet shard is read in batches and its token arrays go to a
raw spool file with an Arrow index (pool, source, domain, id, hash, length), so no document
or token array is ever a Beam element. The plan is solved from merged per-shard summaries
(cell statistics, bounded report rows). ``Assign`` reads each spool's index, the plan a side
input (its main input, spool paths, is small), and writes each copy's (order, pool, id, copy,
input position, offset, length) to a per-(source, group) file; only those file paths are
grouped. ``WriteShards`` sorts one group's entries and copies their tokens from the spools,
so memory holds one group's small entries (a group is about ``shard_max_bytes`` of tokens),
never the corpus. Spooling, rather than re-reading the pools in a second pipeline, keeps the
costly part (tokenizing) to one pass.

Nothing depends on Beam's element or bundle order: every decision is a function of the
seed and the document id, groups are sorted before writing (by order hash, then input
position for a repeated id), and the plan is solved from combined integer statistics. The
same pools and seed give byte-identical shards on any runner. Outputs are written under a
temporary directory and renamed into place, with ``blend.json`` last.
"""

from __future__ import annotations

import collections
import heapq
import json
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from typing import Any, Callable

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from curate.io import files
from curate.io.folder import Folder
from curate.mixtures import sampler as S
from curate.mixtures.blend import Blend, BlendTokenizer
from curate.mixtures.indexed import IndexedDatasetBuilder
from curate.mixtures.tokenizer import DocTokenizer, file_sha256
from curate.pipelines.shards import list_shards

Log = Callable[[str], None]
RESERVOIR = 5000  # documents kept (lowest hash) for the score distributions in the report
SNIPPET_CHARS = 600
INDEX_ROWS = 1024  # spool/assignment rows buffered before they go to their file
OPEN_SPOOLS = 64  # token spools a group writer keeps open at once
DOC_COLUMNS = ["id", "source", "uri", "format", "text", "domain", "scores"]

SPOOL_INDEX = pa.schema([("pool", pa.string()), ("source", pa.string()), ("domain", pa.string()),
                         ("id", pa.string()), ("h", pa.uint64()), ("ntok", pa.int64())])
ASSIGN = pa.schema([("order", pa.uint64()), ("pool", pa.string()), ("id", pa.string()), ("k", pa.int32()),
                    ("src", pa.int32()), ("row", pa.int64()), ("offset", pa.int64()), ("ntok", pa.int64())])
ORDER = [("order", "ascending"), ("pool", "ascending"), ("id", "ascending"), ("k", "ascending"),
         ("src", "ascending"), ("row", "ascending")]  # (src, row): input position, for repeated ids


def safe_name(source: str) -> str:
    """A file-system-safe directory/file name for a source."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._") or "source"
    return s[:100]


def _open_write(path: str):
    return files.open_write(path)


def _open_read(path: str):
    return files.open_raw(path)


class _Rows:
    """Streams rows (values in schema order) to an Arrow IPC stream file in batches of INDEX_ROWS."""

    def __init__(self, path: str, schema: pa.Schema):
        self.path = path
        self.schema = schema
        self._f = _open_write(path)
        self._w = pa.ipc.new_stream(self._f, schema)
        self._buf: dict[str, list] = {n: [] for n in schema.names}
        self.rows = 0

    def add(self, *values) -> None:
        for n, v in zip(self.schema.names, values):
            self._buf[n].append(v)
        self.rows += 1
        if len(self._buf[self.schema.names[0]]) >= INDEX_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._buf[self.schema.names[0]]:
            self._w.write_batch(pa.record_batch([pa.array(self._buf[n], f.type) for n, f in
                                                 zip(self.schema.names, self.schema)], schema=self.schema))
            self._buf = {n: [] for n in self.schema.names}

    def close(self) -> None:
        self.flush()
        self._w.close()
        self._f.close()


def _read_rows(path: str):
    """Record batches of an Arrow IPC stream written by ``_Rows``."""
    with _open_read(path) as f:
        yield from pa.ipc.open_stream(f)


def _keep(buf: list, v, k: int) -> None:
    """Add ``v`` to ``buf``, which keeps (at least) the ``k`` smallest values seen, at most 2k."""
    buf.append(v)
    if len(buf) >= 2 * k:
        buf[:] = heapq.nsmallest(k, buf)


# ---------------------------------------------------------------- pass 1: tokenize and spool

def _new_summary() -> dict:
    return {"stats": {}, "reservoir": [], "samples": {}, "dropped": {}}


class _TokenizeShard(beam.DoFn):
    """(pool, shard path, shard number) → token spool + index files; tagged 'summary': small totals.

    Below-quality or empty documents are counted as dropped. Memory: one Parquet batch.
    """

    def __init__(self, tok_path: str, eod: str | None, seed: int, quality_names: list[str],
                 min_quality: float | None, batch_docs: int, spool_dir: str, samples: int):
        self.tok = DocTokenizer(tok_path, eod)
        self.seed = seed
        self.quality_names = quality_names
        self.min_quality = min_quality
        self.batch_docs = batch_docs
        self.spool_dir = spool_dir
        self.samples = samples

    def setup(self):
        self.tok.load()

    def process(self, element):
        pool, path, src = element
        summ = _new_summary()
        dropped = summ["dropped"]
        dtype = np.dtype(self.tok.dtype).newbyteorder("<")
        name = uuid.uuid4().hex
        tok_path = FileSystems.join(self.spool_dir, name + ".tok")
        tokf = index = None
        try:
            with FileSystems.open(path) as f:
                pf = pq.ParquetFile(f)
                cols = [c for c in DOC_COLUMNS if c in pf.schema_arrow.names]
                for batch in pf.iter_batches(batch_size=self.batch_docs, columns=cols):
                    keep = []
                    for d in batch.to_pylist():
                        if isinstance(d.get("scores"), list):
                            d["scores"] = dict(d["scores"])
                        q = S.quality_of(d, self.quality_names)
                        reason = None
                        if self.min_quality is not None and q is not None and q < self.min_quality:
                            reason = "below_min_quality"
                        elif not (d.get("text") or "").strip():
                            reason = "empty_text"
                        if reason:
                            key = (pool, d["source"], reason)
                            dropped[key] = dropped.get(key, 0) + 1
                        else:
                            keep.append((d, q))
                    if not keep:
                        continue
                    if tokf is None:
                        tokf = _open_write(tok_path)
                        index = _Rows(FileSystems.join(self.spool_dir, name + ".idx"), SPOOL_INDEX)
                    for (d, q), arr in zip(keep, self.tok.encode([d["text"] for d, _ in keep])):
                        h = self._add(pool, d, q, arr, summ)
                        tokf.write(arr.astype(dtype, copy=False).tobytes())
                        index.add(pool, d["source"], S.domain_of(d), d["id"], h, int(arr.shape[0]))
            if tokf is not None:
                tokf.close()
                index.close()
                yield {"tok": tok_path, "idx": index.path, "src": src, "docs": index.rows}
        except BaseException:
            for c in (tokf, index):
                try:
                    if c is not None:
                        c.close()
                except Exception:
                    pass
            raise
        summ["reservoir"] = heapq.nsmallest(RESERVOIR, summ["reservoir"])
        summ["samples"] = {s: heapq.nsmallest(self.samples, v) for s, v in summ["samples"].items()}
        yield beam.pvalue.TaggedOutput("summary", summ)

    def _add(self, pool: str, d: dict, q, arr: np.ndarray, summ: dict) -> int:
        """Count one kept document in the shard's summary; returns its hash."""
        h = S.doc_hash(self.seed, pool, d["id"])
        n = int(arr.shape[0])
        domain = S.domain_of(d)
        key = (pool, d["source"], domain)
        cell = summ["stats"].get(key)
        if cell is None:
            cell = summ["stats"][key] = S.new_cell_stats()
        S.add_doc_stats(cell, n, S.bucket_of(h))
        scores = d.get("scores") or {}
        row = {"pool": pool, "source": d["source"], "domain": domain, "tokens": n, "quality": q,
               "scores": {k: float(v) for k, v in sorted(scores.items())}}
        _keep(summ["reservoir"], (h, d["id"], json.dumps(row, sort_keys=True)), RESERVOIR)
        row = {"id": d["id"], "pool": pool, "source": d["source"], "domain": domain, "uri": d.get("uri"),
               "format": d.get("format"), "tokens": n, "quality": q, "text": (d.get("text") or "")[:SNIPPET_CHARS]}
        _keep(summ["samples"].setdefault(d["source"], []), (h, d["id"], json.dumps(row, sort_keys=True)),
              self.samples)
        return h


class _MergeSummaries(beam.CombineFn):
    """Shard summaries → one: cell statistics summed, report rows kept smallest-first, drops summed."""

    def __init__(self, samples: int):
        self.samples = samples

    def create_accumulator(self):
        return _new_summary()

    def add_input(self, acc, s):
        for k, v in s["stats"].items():
            if k in acc["stats"]:
                S.merge_cell_stats(acc["stats"][k], v)
            else:
                acc["stats"][k] = {"docs": v["docs"], "tokens": v["tokens"], "hist": v["hist"].copy(),
                                   "lens": v["lens"].copy()}
        acc["reservoir"] = heapq.nsmallest(RESERVOIR, acc["reservoir"] + list(s["reservoir"]))
        for src, rows in s["samples"].items():
            acc["samples"][src] = heapq.nsmallest(self.samples, acc["samples"].get(src, []) + list(rows))
        for k, n in s["dropped"].items():
            acc["dropped"][k] = acc["dropped"].get(k, 0) + n
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            self.add_input(out, a)
        return out

    def extract_output(self, acc):
        return acc


def _report_parts(summ: dict) -> dict:
    return {"reservoir": summ["reservoir"], "samples": sorted(summ["samples"].items()),
            "dropped": sorted([list(k), n] for k, n in summ["dropped"].items())}


def _make_plan(stats: dict, cfg_json: str, seed: int, itemsize: int, shard_max_bytes: int) -> dict:
    from curate.mixtures.config import MixConfig

    cfg = MixConfig.model_validate_json(cfg_json)
    plan = S.build_plan(stats, cfg, seed)
    per_source: dict[str, int] = {}
    for c in plan["cells"]:
        per_source[c["source"]] = per_source.get(c["source"], 0) + c["planned"]
    plan["source_groups"] = {
        s: max(1, math.ceil(t * itemsize / shard_max_bytes)) for s, t in sorted(per_source.items()) if t > 0
    }
    return plan


_PLAN_CACHE: dict[int, dict] = {}


def _cell_lookup(plan: dict) -> dict:
    key = id(plan)
    got = _PLAN_CACHE.get(key)
    if got is None or got.get("__plan") is not plan:
        got = {"__plan": plan, **{(c["pool"], c["source"], c["domain"]): c for c in plan["cells"]}}
        _PLAN_CACHE.clear()
        _PLAN_CACHE[key] = got
    return got


# ---------------------------------------------------------------- pass 2: assign copies to groups

class _Assign(beam.DoFn):
    """One spool + the plan → per-(source, group) files of copy entries; outputs ((source, group), (file, spool))."""

    def __init__(self, assign_dir: str, seed: int):
        self.assign_dir = assign_dir
        self.seed = seed

    def process(self, spool, plan):
        cells = _cell_lookup(plan)
        groups = plan["source_groups"]
        name = uuid.uuid4().hex
        writers: dict[tuple[str, int], _Rows] = {}
        offset = row = 0
        src = spool["src"]
        try:
            for batch in _read_rows(spool["idx"]):
                cols = batch.to_pydict()
                for pool, source, domain, doc_id, h, n in zip(cols["pool"], cols["source"], cols["domain"],
                                                               cols["id"], cols["h"], cols["ntok"]):
                    cell = cells.get((pool, source, domain))
                    copies = S.copies(cell, S.bucket_of(h)) if cell is not None else 0
                    for k in range(copies):
                        order = S.doc_hash(self.seed, pool, doc_id, salt=f"order{k}")
                        key = (source, order % groups.get(source, 1))
                        w = writers.get(key)
                        if w is None:
                            w = writers[key] = _Rows(FileSystems.join(self.assign_dir, f"{name}-{len(writers):05d}.arrow"),
                                                     ASSIGN)
                        w.add(order, pool, doc_id, k, src, row, offset, n)
                    offset += n
                    row += 1
            for w in writers.values():
                w.close()
        except BaseException:
            for w in writers.values():
                try:
                    w.close()
                except Exception:
                    pass
            raise
        for key in sorted(writers):
            yield key, (writers[key].path, spool["tok"])


# ---------------------------------------------------------------- pass 3: write the shards

class _Spools:
    """Random reads of token runs from spool files, at most OPEN_SPOOLS open at once."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        self._open: collections.OrderedDict = collections.OrderedDict()

    def read(self, path: str, offset: int, n: int) -> np.ndarray:
        f = self._open.get(path)
        if f is None:
            if len(self._open) >= OPEN_SPOOLS:
                self._open.popitem(last=False)[1].close()
            f = self._open[path] = _open_read(path)
        else:
            self._open.move_to_end(path)
        size = self.dtype.itemsize
        f.seek(offset * size)
        data = f.read(n * size)
        if len(data) != n * size:
            raise IOError(f"spool {path} is short: wanted {n} tokens at {offset}")
        return np.frombuffer(data, dtype=self.dtype)

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()


class _WriteGroup(beam.DoFn):
    """One (source, group): copies sorted by their order hash, written as size-capped datasets."""

    def __init__(self, root: str, dtype_name: str, shard_max_bytes: int):
        self.root = root
        self.dtype_name = dtype_name
        self.shard_max_bytes = shard_max_bytes

    def process(self, element):
        (source, g), parts = element
        parts = sorted(parts)
        tables, spools = [], []
        for i, (path, tok) in enumerate(parts):
            t = pa.Table.from_batches(list(_read_rows(path)), schema=ASSIGN)
            tables.append(t.append_column("spool", pa.array(np.full(t.num_rows, i, np.int32))))
            spools.append(tok)
        entries = pa.concat_tables(tables).sort_by(ORDER).select(["spool", "offset", "ntok"])
        del tables
        dtype = np.dtype(self.dtype_name)
        reader = _Spools(dtype.newbyteorder("<"))
        remote = files.is_remote(self.root)
        local_root = tempfile.mkdtemp(prefix="curate-mix-") if remote else self.root
        sub = 0
        builder = None
        try:
            builder, prefix = self._open(local_root, source, g, sub, dtype.type)
            out = []
            for batch in entries.to_batches(max_chunksize=INDEX_ROWS):
                cols = batch.to_pydict()
                for i, off, n in zip(cols["spool"], cols["offset"], cols["ntok"]):
                    if builder.num_documents and builder.nbytes + n * builder._itemsize > self.shard_max_bytes:
                        out.append(self._finish(builder, prefix, source, g, sub, remote))
                        sub += 1
                        builder, prefix = self._open(local_root, source, g, sub, dtype.type)
                    builder.add_document(reader.read(spools[i], off, n))
            out.append(self._finish(builder, prefix, source, g, sub, remote))
            builder = None
            yield from out
        finally:
            reader.close()
            if builder is not None:
                builder.abort()
            if remote:
                shutil.rmtree(local_root, ignore_errors=True)

    @staticmethod
    def _open(root, source, g, sub, dtype):
        prefix = os.path.join(root, safe_name(source), f"g{g:05d}-{sub:05d}")
        return IndexedDatasetBuilder(prefix, dtype=dtype), prefix

    def _finish(self, builder, prefix, source, g, sub, remote):
        info = {"source": source, "group": g, "sub": sub, "docs": builder.num_documents,
                "tokens": builder.num_tokens, "bytes": builder.nbytes}
        builder.finalize()
        rel = os.path.relpath(prefix, os.path.dirname(os.path.dirname(prefix)))
        if remote:
            dest = FileSystems.join(self.root, *rel.split(os.sep))
            for ext in (".bin", ".idx"):
                with open(prefix + ext, "rb") as src, FileSystems.create(dest + ext) as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
        info["tmp_prefix"] = rel.replace(os.sep, "/")
        return info


def _json_writer(path: str):
    def write(value):
        files.write_atomic(path, json.dumps(value, sort_keys=True, default=_jsonable).encode())
    return write


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(type(v).__name__)


# ---------------------------------------------------------------- the driver

def _resolve_seed(cfg) -> int:
    return cfg.mix.seed if cfg.mix.seed is not None else cfg.seed


def _pool_shards(pools: dict[str, str]) -> list[tuple[str, str, int]]:
    """(pool, Parquet shard path, number) for every shard of every pool, numbered in a fixed order."""
    paths = [(name, path) for name in sorted(pools) for path in list_shards(files.join(pools[name], "docs"))]
    return [(name, path, i) for i, (name, path) in enumerate(paths)]


def run_mix(cfg, pools: dict[str, str], output: str, beam_args: list[str], steps: list[dict],
            log: Log = print) -> dict[str, Any]:
    """Sample ``pools`` to the ``cfg.mix`` budget and write shards, blend.json and the report.

    ``pools`` maps a pool name to a step output directory (documents in ``<dir>/docs``).
    Returns the summary for the stage manifest.
    """
    from curate.mixtures.report import build_report, write_report_files

    mix = cfg.mix
    seed = _resolve_seed(cfg)
    tok_path = mix.tokenizer or DocTokenizer().path
    tok = DocTokenizer(tok_path, mix.eod_token).load()
    dtype = np.dtype(tok.dtype)
    t0 = time.time()
    out_dir = Folder(output).makedirs()
    scratch = out_dir.child(".mix")
    for gone in scratch.sweep_staging():  # left by a killed run; the run lock keeps live ones safe
        log(f"[mix] removed {gone}, left by an interrupted run")
    staged = scratch.staging()
    work = staged.path
    shard_root = files.join(work, "shards")
    spool_dir = files.join(work, "spool")
    assign_dir = files.join(work, "assign")
    for d in (shard_root, spool_dir, assign_dir):
        files.makedirs(d)
    log(f"[mix] sampling {', '.join(f'{k}={v}' for k, v in sorted(pools.items()))} → {output}")
    cfg_json = mix.model_dump_json()
    n_samples = max(mix.report_samples, 1)
    try:
        inputs = _pool_shards(pools)
        with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
            res = (
                p
                | "PoolShards" >> beam.Create(inputs)
                | "Spread" >> beam.Reshuffle()
                | "TokenizeShard" >> beam.ParDo(
                    _TokenizeShard(tok_path, mix.eod_token, seed, list(mix.quality_scores), mix.min_quality,
                                   mix.batch_docs, spool_dir, n_samples)
                ).with_outputs("summary", main="spools")
            )
            summary = res["summary"] | "MergeSummaries" >> beam.CombineGlobally(_MergeSummaries(n_samples))
            summary | "ReportParts" >> beam.Map(_report_parts) | "WriteParts" >> beam.Map(
                _json_writer(files.join(work, "_parts.json")))
            plan = summary | "Plan" >> beam.Map(
                lambda s: _make_plan(s["stats"], cfg_json, seed, dtype.itemsize, mix.shard_max_bytes))
            plan | "WritePlan" >> beam.Map(_json_writer(files.join(work, "_plan.json")))
            (
                res["spools"]
                | "Assign" >> beam.ParDo(_Assign(assign_dir, seed), beam.pvalue.AsSingleton(plan))
                | "GroupShards" >> beam.GroupByKey()
                | "WriteShards" >> beam.ParDo(_WriteGroup(shard_root, dtype.name, mix.shard_max_bytes))
                | "WrittenList" >> beam.combiners.ToList()
                | "WriteWritten" >> beam.Map(_json_writer(files.join(work, "_written.json")))
            )

        def load(name, default):
            path = files.join(work, name)
            return json.loads(files.read_bytes(path)) if files.exists(path) else default

        plan = load("_plan.json", None)
        if plan is None:  # no documents at all: the CombineGlobally default ({}) still plans
            plan = _make_plan({}, cfg_json, seed, dtype.itemsize, mix.shard_max_bytes)
        written = sorted(load("_written.json", []), key=lambda w: (w["source"], w["group"], w["sub"]))
        parts = load("_parts.json", {"reservoir": [], "samples": [], "dropped": []})
        dropped = parts["dropped"]
        reservoir = [json.loads(r[2]) for r in parts["reservoir"]]
        samples = {src: [json.loads(r[2]) for r in rows] for src, rows in parts["samples"]}

        # final names: <source>/<source>_00000 …, numbered in (group, sub) order
        datasets = []
        counter: dict[str, int] = {}
        for w in written:
            if w["docs"] == 0:
                continue
            sname = safe_name(w["source"])
            i = counter.get(sname, 0)
            counter[sname] = i + 1
            rel = f"shards/{sname}/{sname}_{i:05d}"
            src_prefix = files.join(shard_root, *w["tmp_prefix"].split("/"))
            dst_prefix = files.join(work, *rel.split("/"))
            for ext in (".bin", ".idx"):
                FileSystems.rename([src_prefix + ext], [dst_prefix + ext])
            datasets.append({"source": w["source"], "prefix": rel, "docs": w["docs"], "tokens": w["tokens"], "bytes": w["bytes"]})

        # the plan knows exactly what each source yields: check the shards hold just that
        planned_src: dict[str, int] = {}
        for c in plan["cells"]:
            planned_src[c["source"]] = planned_src.get(c["source"], 0) + c["planned"]
        written_src: dict[str, int] = {}
        for d in datasets:
            written_src[d["source"]] = written_src.get(d["source"], 0) + d["tokens"]
        mismatch = {s: (t, written_src.get(s, 0)) for s, t in planned_src.items() if t != written_src.get(s, 0)}
        if mismatch:
            raise RuntimeError(f"mix: written tokens differ from the plan (planned, written): {mismatch}")

        blend = Blend.build(
            BlendTokenizer(path=os.path.basename(tok_path), sha256=file_sha256(tok_path),
                           vocab_size=tok.vocab_size, eod_id=tok.eod, dtype=dtype.name),
            context_length=mix.context_length, seed=seed, datasets=datasets)
        total = blend.total_tokens
        out_abs = out_dir.path if out_dir.remote else os.path.abspath(output)
        datasets = blend.to_dict()["datasets"]  # with their weights (token shares)
        # absolute prefixes differ by output location, so they stay out of blend.json (which is
        # byte-identical for the same input and seed) and go to the stage manifest instead
        data_path_abs = " ".join(f"{d['weight']} {out_abs.rstrip('/')}/{d['prefix']}" for d in datasets)
        report = build_report(cfg, plan, datasets, dropped, reservoir, samples, steps, pools, blend.to_dict())

        # commit: shards directory, then the report, then blend.json (the completion marker)
        out_dir.child("shards").commit(staged.child("shards"))
        write_report_files(output, report)
        blend.write(out_dir.path)
    finally:
        staged.delete()

    wall = round(time.time() - t0, 3)
    summary = report["summary"]
    log(f"[mix] done in {wall:.1f}s: {total} tokens in {len(datasets)} shard(s) from "
        f"{len(summary['tokens_per_source'])} source(s); {len(plan['unmet'])} target(s) not met")
    for u in plan["unmet"]:
        log(f"[mix]   {u['dimension']} {u['group']}: target {u['target_share']:.1%}, realized "
            f"{u['realized_share']:.1%} ({u['reason']}; {u['action']})")
    return {**summary, "wall_s": wall, "output": output, "data_path_abs": data_path_abs}
