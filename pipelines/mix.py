"""The mix step: pools → token-budget sample → Megatron shards, blend.json and the report.

    pools (Parquet) ─ Tokenize (batched, EOD per doc) ─┬─ CellStats ─ Plan (solver) ──┐ side input
                                                       ├─ Reservoir / Samples (report)  │
                                                       └─ Copies (seeded) ─ GroupByKey(source, group)
                                                                            ─ WriteShards (.bin/.idx)

Nothing depends on Beam's element or bundle order: every decision is a function of the
seed and the document id, shard groups are sorted before writing, and the plan is solved
from combined integer statistics. The same pools and seed give byte-identical shards on
any runner. Outputs are written under a temporary directory and renamed into place, with
``blend.json`` last.
"""

from __future__ import annotations

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
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from curate.io import files
from curate.mixtures import sampler as S
from curate.mixtures.indexed import IndexedDatasetBuilder
from curate.mixtures.tokenizer import DocTokenizer, file_sha256
from curate.pipelines.shards import ReadShards

Log = Callable[[str], None]
RESERVOIR = 5000  # documents kept (lowest hash) for the score distributions in the report
SNIPPET_CHARS = 600


def safe_name(source: str) -> str:
    """A file-system-safe directory/file name for a source."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._") or "source"
    return s[:100]


# ---------------------------------------------------------------- DoFns (module level: picklable)

class _Tokenize(beam.DoFn):
    """Batch of (pool, doc) → token records; below-quality or empty documents go to 'dropped'."""

    def __init__(self, tok_path: str, eod: str | None, seed: int, quality_names: list[str], min_quality: float | None):
        self.tok = DocTokenizer(tok_path, eod)
        self.seed = seed
        self.quality_names = quality_names
        self.min_quality = min_quality

    def setup(self):
        self.tok.load()

    def process(self, batch):
        keep = []
        for pool, d in batch:
            q = S.quality_of(d, self.quality_names)
            if self.min_quality is not None and q is not None and q < self.min_quality:
                yield beam.pvalue.TaggedOutput("dropped", (pool, d["source"], "below_min_quality"))
                continue
            if not (d.get("text") or "").strip():
                yield beam.pvalue.TaggedOutput("dropped", (pool, d["source"], "empty_text"))
                continue
            keep.append((pool, d, q))
        arrays = self.tok.encode([d["text"] for _, d, _ in keep])
        for (pool, d, q), arr in zip(keep, arrays):
            yield {
                "pool": pool,
                "source": d["source"],
                "domain": S.domain_of(d),
                "id": d["id"],
                "h": S.doc_hash(self.seed, pool, d["id"]),
                "tokens": arr,
                "quality": q,
                "scores": dict(d.get("scores") or {}),
                "format": d.get("format"),
                "uri": d.get("uri"),
                "text": (d.get("text") or "")[:SNIPPET_CHARS],
            }


class _CellStats(beam.CombineFn):
    """Per (pool, source, domain): documents, tokens, token mass per hash bucket, length histogram."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, r):
        key = (r["pool"], r["source"], r["domain"])
        cell = acc.get(key)
        if cell is None:
            cell = acc[key] = S.new_cell_stats()
        S.add_doc_stats(cell, int(r["tokens"].shape[0]), S.bucket_of(r["h"]))
        return acc

    def merge_accumulators(self, accs):
        out: dict = {}
        for a in accs:
            for k, v in a.items():
                if k in out:
                    S.merge_cell_stats(out[k], v)
                else:
                    out[k] = {"docs": v["docs"], "tokens": v["tokens"], "hist": v["hist"].copy(), "lens": v["lens"].copy()}
        return out

    def extract_output(self, acc):
        return acc


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


def _copies(r: dict, plan: dict, seed: int):
    cell = _cell_lookup(plan).get((r["pool"], r["source"], r["domain"]))
    if cell is None:
        return
    n = S.copies(cell, S.bucket_of(r["h"]))
    groups = plan["source_groups"].get(r["source"], 1)
    for k in range(n):
        order = S.doc_hash(seed, r["pool"], r["id"], salt=f"order{k}")
        yield (r["source"], order % groups), (order, r["pool"], r["id"], k, r["tokens"])


_PLAN_CACHE: dict[int, dict] = {}


def _cell_lookup(plan: dict) -> dict:
    key = id(plan)
    got = _PLAN_CACHE.get(key)
    if got is None or got.get("__plan") is not plan:
        got = {"__plan": plan, **{(c["pool"], c["source"], c["domain"]): c for c in plan["cells"]}}
        _PLAN_CACHE.clear()
        _PLAN_CACHE[key] = got
    return got


class _WriteGroup(beam.DoFn):
    """One (source, group): documents sorted by their order hash, written as size-capped datasets."""

    def __init__(self, root: str, dtype_name: str, shard_max_bytes: int):
        self.root = root
        self.dtype_name = dtype_name
        self.shard_max_bytes = shard_max_bytes

    def process(self, element):
        (source, g), items = element
        items = sorted(items, key=lambda t: (t[0], t[1], t[2], t[3]))
        dtype = np.dtype(self.dtype_name).type
        remote = "://" in self.root
        local_root = tempfile.mkdtemp(prefix="curate-mix-") if remote else self.root
        sub = 0
        builder = None
        try:
            builder, prefix = self._open(local_root, source, g, sub, dtype)
            out = []
            for _, _, _, _, tokens in items:
                nb = tokens.shape[0] * builder._itemsize
                if builder.num_documents and builder.nbytes + nb > self.shard_max_bytes:
                    out.append(self._finish(builder, prefix, source, g, sub, remote))
                    sub += 1
                    builder, prefix = self._open(local_root, source, g, sub, dtype)
                builder.add_document(tokens)
            out.append(self._finish(builder, prefix, source, g, sub, remote))
            builder = None
            yield from out
        finally:
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


def _reservoir_row(r: dict) -> tuple:
    row = {"pool": r["pool"], "source": r["source"], "domain": r["domain"], "tokens": int(r["tokens"].shape[0]),
           "quality": r["quality"], "scores": {k: float(v) for k, v in sorted(r["scores"].items())}}
    return (r["h"], r["id"], json.dumps(row, sort_keys=True))


def _sample_row(r: dict) -> tuple:
    row = {"id": r["id"], "pool": r["pool"], "source": r["source"], "domain": r["domain"], "uri": r["uri"],
           "format": r["format"], "tokens": int(r["tokens"].shape[0]), "quality": r["quality"], "text": r["text"]}
    return r["source"], (r["h"], r["id"], json.dumps(row, sort_keys=True))


# ---------------------------------------------------------------- the driver

def _resolve_seed(cfg) -> int:
    return cfg.mix.seed if cfg.mix.seed is not None else cfg.seed


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
    files.makedirs(output)
    local = "://" not in output
    work = files.join(output, f".mix-tmp-{uuid.uuid4().hex[:8]}")
    files.makedirs(work)
    shard_root = files.join(work, "shards")
    files.makedirs(shard_root)
    log(f"[mix] sampling {', '.join(f'{k}={v}' for k, v in sorted(pools.items()))} → {output}")
    cfg_json = mix.model_dump_json()
    try:
        with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
            tagged = []
            for name in sorted(pools):
                docs = p | f"Read_{name}" >> ReadShards([files.join(pools[name], "docs")])
                tagged.append(docs | f"Tag_{name}" >> beam.Map(lambda d, n=name: (n, d)))
            alldocs = tagged | "AllPools" >> beam.Flatten()
            res = (
                alldocs
                | "Batch" >> beam.BatchElements(min_batch_size=min(64, mix.batch_docs), max_batch_size=mix.batch_docs)
                | "Tokenize" >> beam.ParDo(
                    _Tokenize(tok_path, mix.eod_token, seed, list(mix.quality_scores), mix.min_quality)
                ).with_outputs("dropped", main="records")
            )
            recs = res["records"]
            stats = recs | "CellStats" >> beam.CombineGlobally(_CellStats())
            plan = stats | "Plan" >> beam.Map(_make_plan, cfg_json, seed, dtype.itemsize, mix.shard_max_bytes)
            plan | "WritePlan" >> beam.Map(_json_writer(files.join(work, "_plan.json")))
            (
                res["dropped"]
                | "DropKey" >> beam.Map(lambda k: (k, 1))
                | "DropSum" >> beam.CombinePerKey(sum)
                | "DropList" >> beam.combiners.ToList()
                | "WriteDropped" >> beam.Map(_json_writer(files.join(work, "_dropped.json")))
            )
            (
                recs
                | "ResRow" >> beam.Map(_reservoir_row)
                | "Reservoir" >> beam.combiners.Top.Smallest(RESERVOIR)
                | "WriteReservoir" >> beam.Map(_json_writer(files.join(work, "_reservoir.json")))
            )
            (
                recs
                | "SampleRow" >> beam.Map(_sample_row)
                | "Samples" >> beam.combiners.Top.SmallestPerKey(max(mix.report_samples, 1))
                | "SampleList" >> beam.combiners.ToList()
                | "WriteSamples" >> beam.Map(_json_writer(files.join(work, "_samples.json")))
            )
            (
                recs
                | "Copies" >> beam.FlatMap(_copies, beam.pvalue.AsSingleton(plan), seed)
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
        dropped = load("_dropped.json", [])
        reservoir = [json.loads(r[2]) for r in load("_reservoir.json", [])]
        samples = {src: [json.loads(r[2]) for r in rows] for src, rows in load("_samples.json", [])}

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

        total = sum(d["tokens"] for d in datasets)
        out_abs = os.path.abspath(output) if local else output
        for d in datasets:
            d["weight"] = round(d["tokens"] / total, 10) if total else 0.0
        blend = {
            "format": "megatron-indexed-dataset/MMIDIDX-v1",
            "tokenizer": {"path": os.path.basename(tok_path), "sha256": file_sha256(tok_path),
                          "vocab_size": tok.vocab_size, "eod_id": tok.eod, "dtype": dtype.name},
            "context_length": mix.context_length,
            "seed": seed,
            "total_tokens": total,
            "datasets": datasets,
            "data_path": " ".join(f"{d['weight']} {d['prefix']}" for d in datasets),
        }
        # absolute prefixes differ by output location, so they stay out of blend.json (which is
        # byte-identical for the same input and seed) and go to the stage manifest instead
        data_path_abs = " ".join(f"{d['weight']} {out_abs.rstrip('/')}/{d['prefix']}" for d in datasets)
        report = build_report(cfg, plan, datasets, dropped, reservoir, samples, steps, pools, blend)

        # commit: shards directory, then the report, then blend.json (the completion marker)
        final_shards = files.join(output, "shards")
        if local:
            old = None
            if os.path.exists(final_shards):
                old = files.join(output, f".shards-old-{uuid.uuid4().hex[:8]}")
                os.rename(final_shards, old)
            os.rename(files.join(work, "shards"), final_shards)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        else:
            if FileSystems.exists(final_shards + "/"):
                FileSystems.delete([final_shards])
            for d in datasets:
                for ext in (".bin", ".idx"):
                    FileSystems.rename([files.join(work, *d["prefix"].split("/")) + ext],
                                       [files.join(output, *d["prefix"].split("/")) + ext])
        write_report_files(output, report)
        files.write_atomic(files.join(output, "blend.json"), json.dumps(blend, indent=2, sort_keys=True).encode())
    finally:
        if local:
            shutil.rmtree(work, ignore_errors=True)
        else:
            try:
                FileSystems.delete([work])
            except Exception:
                pass

    wall = round(time.time() - t0, 3)
    summary = report["summary"]
    log(f"[mix] done in {wall:.1f}s: {total} tokens in {len(datasets)} shard(s) from "
        f"{len(summary['tokens_per_source'])} source(s); {len(plan['unmet'])} target(s) not met")
    for u in plan["unmet"]:
        log(f"[mix]   {u['dimension']} {u['group']}: target {u['target_share']:.1%}, realized "
            f"{u['realized_share']:.1%} ({u['reason']}; {u['action']})")
    return {**summary, "wall_s": wall, "output": output, "data_path_abs": data_path_abs}
