"""The mix's three passes over files: tokenize to spools, assign copies, write shard groups.

1. ``tokenize_shard``: one Parquet shard of Documents → a raw token spool (``.tok``, tokens
   back to back) plus an Arrow index (pool, source, domain, id, order hash, length) and a
   ``ShardSummary``. No document or token array ever leaves this function. Documents held
   out for validation (``held_out``: a hash of seed and id, before any sampling) go to a
   spool of their own and into the summary only as dropped ``held_out:validation``, so the
   plan never samples or upsamples them; ``assign_held_out`` gives each one copy.
2. ``assign_copies``: one spool's index + the plan → per-(source, group) Arrow files of copy
   entries (order, pool, id, copy, input position, spool offset, length).
3. ``write_group``: one (source, group)'s entry files → size-capped Megatron datasets, copies
   in (order hash, input position) order, tokens read back from the spools.

Every decision is a function of the seed and the document id, and groups are sorted before
writing, so the shards do not depend on which worker ran which pass or in what order.
Plain functions over paths (through curate.io); the Beam wiring is pipelines/mix.py.
"""

from __future__ import annotations

import collections
import math
import os
import shutil
import tempfile
import uuid
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.io import files
from curate.mixtures import sampler as S
from curate.mixtures.indexed import IndexedDatasetBuilder
from curate.mixtures.layout import safe_name
from curate.mixtures.summary import ShardSummary
from curate.mixtures.tokenizer import DocTokenizer

INDEX_ROWS = 1024  # spool/assignment rows buffered before they go to their file
OPEN_SPOOLS = 64  # token spools a group writer keeps open at once
DOC_COLUMNS = ["id", "source", "uri", "format", "text", "domain", "scores"]

SPOOL_INDEX = pa.schema([("pool", pa.string()), ("source", pa.string()), ("domain", pa.string()),
                         ("id", pa.string()), ("h", pa.uint64()), ("ntok", pa.int64())])
ASSIGN = pa.schema([("order", pa.uint64()), ("pool", pa.string()), ("id", pa.string()), ("k", pa.int32()),
                    ("src", pa.int32()), ("row", pa.int64()), ("offset", pa.int64()), ("ntok", pa.int64())])
ORDER = [("order", "ascending"), ("pool", "ascending"), ("id", "ascending"), ("k", "ascending"),
         ("src", "ascending"), ("row", "ascending")]  # (src, row): input position, for repeated ids


class RowWriter:
    """Streams rows (values in schema order) to an Arrow IPC stream file in batches of INDEX_ROWS."""

    def __init__(self, path: str, schema: pa.Schema):
        self.path = path
        self.schema = schema
        self._f = files.open_write(path)
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


def read_rows(path: str) -> Iterator[pa.RecordBatch]:
    """Record batches of an Arrow IPC stream written by ``RowWriter``."""
    with files.open_raw(path) as f:
        yield from pa.ipc.open_stream(f)


def _close_quietly(*closeables) -> None:
    for c in closeables:
        try:
            if c is not None:
                c.close()
        except Exception:
            pass


# ---------------------------------------------------------------- pass 1: tokenize and spool

HELD_OUT = "held_out:validation"  # the summary's drop reason of a held-out document


def held_out(seed: int, pool: str, doc_id: str, fraction: float) -> bool:
    """Whether a document belongs to the validation split: a hash of seed, pool and id, so the
    choice is by document (every copy the mix would make goes the same way) and order-free."""
    return fraction > 0 and S.doc_hash(seed, pool, doc_id, salt="valid") < fraction * 2.0**64


class _Spool:
    """One spool being written: token file + Arrow index, opened on the first document."""

    def __init__(self, spool_dir: str, name: str, src: int):
        self.tok_path = files.join(spool_dir, name + ".tok")
        self.idx_path = files.join(spool_dir, name + ".idx")
        self.src = src
        self.tokf = self.index = None

    def add(self, arr: np.ndarray, *row) -> None:
        if self.tokf is None:
            self.tokf = files.open_write(self.tok_path)
            self.index = RowWriter(self.idx_path, SPOOL_INDEX)
        self.tokf.write(arr.tobytes())
        self.index.add(*row)

    def close(self) -> dict[str, Any] | None:
        if self.tokf is None:
            return None
        self.tokf.close()
        self.index.close()
        return {"tok": self.tok_path, "idx": self.idx_path, "src": self.src, "docs": self.index.rows}

    def abort(self) -> None:
        _close_quietly(self.tokf, self.index)


def tokenize_shard(path: str, pool: str, src: int, tok: DocTokenizer, seed: int, quality_names: list[str],
                   min_quality: float | None, batch_docs: int, spool_dir: str,
                   samples: int, valid_fraction: float = 0.0
                   ) -> tuple[dict[str, Any] | None, ShardSummary, dict[str, Any] | None]:
    """One Parquet shard → ({tok, idx, src, docs} of its spool, or None when nothing was kept;
    summary; the spool of the documents held out for validation, or None).

    Below-quality and empty documents are counted as dropped, held-out ones as ``HELD_OUT``.
    Memory: one Parquet batch.
    """
    summ = ShardSummary(samples)
    dtype = np.dtype(tok.dtype).newbyteorder("<")
    name = uuid.uuid4().hex
    train, valid = _Spool(spool_dir, name, src), _Spool(spool_dir, name + "-valid", src)

    def kept(pf: pq.ParquetFile) -> Iterator[tuple[list, list[str]]]:
        cols = [c for c in DOC_COLUMNS if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(batch_size=batch_docs, columns=cols):
            keep = []
            for d in batch.to_pylist():
                if isinstance(d.get("scores"), list):
                    d["scores"] = dict(d["scores"])
                q = S.quality_of(d, quality_names)
                if min_quality is not None and q is not None and q < min_quality:
                    summ.drop(pool, d["source"], "below_min_quality")
                elif not (d.get("text") or "").strip():
                    summ.drop(pool, d["source"], "empty_text")
                else:
                    keep.append((d, q))
            if keep:
                yield keep, [d["text"] for d, _ in keep]

    try:
        with files.open_raw(path) as f:
            for keep, arrs in tok.encode_batches(kept(pq.ParquetFile(f))):
                for (d, q), arr in zip(keep, arrs):
                    h = S.doc_hash(seed, pool, d["id"])
                    n = int(arr.shape[0])
                    target = train
                    if held_out(seed, pool, d["id"], valid_fraction):
                        summ.drop(pool, d["source"], HELD_OUT)
                        target = valid
                    else:
                        summ.add(pool, d, q, n, h)
                    target.add(arr.astype(dtype, copy=False), pool, d["source"], S.domain_of(d), d["id"], h, n)
        spool, held = train.close(), valid.close()
    except BaseException:
        train.abort()
        valid.abort()
        raise
    return spool, summ.trim(), held


# ---------------------------------------------------------------- pass 2: assign copies to groups

def source_groups(plan: dict[str, Any], itemsize: int, shard_max_bytes: int) -> dict[str, int]:
    """Groups per source: enough that one group holds about ``shard_max_bytes`` of planned tokens."""
    per_source: dict[str, int] = {}
    for c in plan["cells"]:
        per_source[c["source"]] = per_source.get(c["source"], 0) + c["planned"]
    return {s: max(1, math.ceil(t * itemsize / shard_max_bytes)) for s, t in sorted(per_source.items()) if t > 0}


def _write_entries(spool: dict[str, Any], assign_dir: str, entries_of) -> list[tuple[tuple[str, int], tuple[str, str]]]:
    """One spool's documents → per-group Arrow files of copy entries; ``entries_of(pool, source,
    domain, id, hash)`` gives each document's (order, (source, group), copy) entries."""
    name = uuid.uuid4().hex
    writers: dict[tuple[str, int], RowWriter] = {}
    offset = row = 0
    try:
        for batch in read_rows(spool["idx"]):
            cols = batch.to_pydict()
            for pool, source, domain, doc_id, h, n in zip(cols["pool"], cols["source"], cols["domain"],
                                                           cols["id"], cols["h"], cols["ntok"]):
                for order, key, k in entries_of(pool, source, domain, doc_id, h):
                    w = writers.get(key)
                    if w is None:
                        w = writers[key] = RowWriter(files.join(assign_dir, f"{name}-{len(writers):05d}.arrow"), ASSIGN)
                    w.add(order, pool, doc_id, k, spool["src"], row, offset, n)
                offset += n
                row += 1
        for w in writers.values():
            w.close()
    except BaseException:
        _close_quietly(*writers.values())
        raise
    return [(key, (writers[key].path, spool["tok"])) for key in sorted(writers)]


def assign_copies(spool: dict[str, Any], cells: dict[tuple[str, str, str], dict[str, Any]],
                  groups: dict[str, int], seed: int, assign_dir: str) -> list[tuple[tuple[str, int], tuple[str, str]]]:
    """One spool + the plan's cells → [((source, group), (entry file, spool .tok))], sorted by group."""

    def entries(pool, source, domain, doc_id, h):
        cell = cells.get((pool, source, domain))
        for k in range(S.copies(cell, S.bucket_of(h)) if cell is not None else 0):
            order = S.doc_hash(seed, pool, doc_id, salt=f"order{k}")
            yield order, (source, order % groups.get(source, 1)), k

    return _write_entries(spool, assign_dir, entries)


def assign_held_out(spool: dict[str, Any], seed: int, assign_dir: str) -> list[tuple[tuple[str, int], tuple[str, str]]]:
    """One held-out spool → [((source, 0), (entry file, spool .tok))]: each document once, in
    order-hash order within its source (the validation shards are never upsampled)."""
    return _write_entries(spool, assign_dir, lambda pool, source, domain, doc_id, h:
                          [(S.doc_hash(seed, pool, doc_id, salt="valid-order"), (source, 0), 0)])


# ---------------------------------------------------------------- pass 3: write the shards

class SpoolReader:
    """Random reads of token runs from spool files, at most OPEN_SPOOLS open at once."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        self._open: collections.OrderedDict = collections.OrderedDict()

    def read(self, path: str, offset: int, n: int) -> np.ndarray:
        f = self._open.get(path)
        if f is None:
            if len(self._open) >= OPEN_SPOOLS:
                self._open.popitem(last=False)[1].close()
            f = self._open[path] = files.open_raw(path)
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


def write_group(root: str, source: str, g: int, parts: list[tuple[str, str]], dtype_name: str,
                shard_max_bytes: int) -> list[dict[str, Any]]:
    """One (source, group)'s (entry file, spool) parts → datasets ``<root>/<source>/g<g>-<sub>``
    of at most ``shard_max_bytes``; returns {source, group, sub, docs, tokens, bytes, tmp_prefix}
    per dataset (tmp_prefix relative to ``root``). Remote roots are written locally, then copied."""
    parts = sorted(parts)
    tables, spools = [], []
    for i, (path, tok) in enumerate(parts):
        t = pa.Table.from_batches(list(read_rows(path)), schema=ASSIGN)
        tables.append(t.append_column("spool", pa.array(np.full(t.num_rows, i, np.int32))))
        spools.append(tok)
    entries = pa.concat_tables(tables).sort_by(ORDER).select(["spool", "offset", "ntok"])
    del tables
    dtype = np.dtype(dtype_name)
    reader = SpoolReader(dtype.newbyteorder("<"))
    remote = files.is_remote(root)
    local_root = tempfile.mkdtemp(prefix="curate-mix-") if remote else root
    rel_dir = safe_name(source)
    out: list[dict[str, Any]] = []
    builder = None

    def start(sub: int) -> IndexedDatasetBuilder:
        return IndexedDatasetBuilder(os.path.join(local_root, rel_dir, f"g{g:05d}-{sub:05d}"), dtype=dtype.type)

    def finish(b: IndexedDatasetBuilder, sub: int) -> None:
        out.append({"source": source, "group": g, "sub": sub, "docs": b.num_documents, "tokens": b.num_tokens,
                    "bytes": b.nbytes, "tmp_prefix": f"{rel_dir}/g{g:05d}-{sub:05d}"})
        b.finalize()
        if remote:
            for ext in (".bin", ".idx"):
                files.copy_file(b.prefix + ext, files.join(root, rel_dir, f"g{g:05d}-{sub:05d}{ext}"))

    try:
        sub = 0
        builder = start(sub)
        for batch in entries.to_batches(max_chunksize=INDEX_ROWS):
            cols = batch.to_pydict()
            for i, off, n in zip(cols["spool"], cols["offset"], cols["ntok"]):
                if builder.num_documents and builder.nbytes + n * builder.itemsize > shard_max_bytes:
                    finish(builder, sub)
                    sub += 1
                    builder = start(sub)
                builder.add_document(reader.read(spools[i], off, n))
        finish(builder, sub)
        builder = None
        return out
    finally:
        reader.close()
        if builder is not None:
            builder.abort()
        if remote:
            shutil.rmtree(local_root, ignore_errors=True)
