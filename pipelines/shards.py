"""Deterministic Parquet shards: documents hashed by id into N shards, each sorted by id.

Beam's own file sinks name and fill shards by bundle, which differs between runs and
runners. Here a shard's contents and bytes depend only on the documents, so in-process,
multi-processing and portable runs write identical files. Documents never go through a
shuffle: each bundle writes them as sorted runs per shard, only file names are grouped, and
each shard is a k-way merge of its runs (an external sort), so memory stays bounded
however large the step or its shards. Each shard is written under a
temporary name and renamed, so a killed run never leaves a partial shard behind.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import re
import uuid
from typing import Any, Iterable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from curate.io import files
from curate.schema import DOCUMENT_SCHEMA, from_table, to_table


def shard_of(doc_id: str, num_shards: int) -> int:
    return int(hashlib.blake2b(doc_id.encode(), digest_size=8).hexdigest(), 16) % num_shards


def read_shard(path: str) -> list[dict[str, Any]]:
    with FileSystems.open(path) as f:
        return from_table(pq.read_table(f))


class ShardError(IOError):
    """A step output's Parquet shards are incomplete, duplicated or unreadable (the message names them)."""


_SHARD_NAME = re.compile(r"part-(\d{5})-of-(\d{5})\.parquet$")


def list_shards(directory: str) -> list[str]:
    """The shards ``part-i-of-n.parquet`` of a directory, sorted; raises ShardError naming the
    directory when the names disagree on n or are not shard names (a stray copy). Empty
    shards are not written, so a missing index is normal here: the step manifest's file list
    (curate.io.checksums) is what tells a lost shard."""
    pattern = FileSystems.join(directory, "part-*.parquet")
    paths = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
    seen = [_SHARD_NAME.search(p) for p in paths]
    if any(m is None for m in seen):
        raise ShardError(f"{directory}: shard names not of the form part-NNNNN-of-NNNNN.parquet: "
                         f"{[p for p, m in zip(paths, seen) if m is None][:3]}")
    totals = {int(m.group(2)) for m in seen}
    if len(totals) > 1:
        raise ShardError(f"{directory}: shards of different sets (of-{sorted(totals)})")
    return paths


SPOOL_BYTES = 32 << 20  # approx. record bytes a bundle buffers before writing them out as sorted runs
RUN_BATCH = 256  # rows per Arrow batch in a run file: the merge holds one batch per run
MAX_RUNS = 128  # runs merged at once; more are first merged in passes of this many
ROW_GROUP = 2048  # rows per Parquet row group of a shard
SORT_COLUMNS = ("id", "reason", "text", "uri")


def _sort_key(schema: pa.Schema):
    """Key ordering records by SORT_COLUMNS (those in ``schema``), nulls last, as Arrow sorts."""
    cols = [c for c in SORT_COLUMNS if c in schema.names]
    return lambda r: tuple((1, "") if r.get(c) is None else (0, r[c]) for c in cols)


def _approx_bytes(rec: dict) -> int:
    return 64 + sum(len(v) for v in rec.values() if isinstance(v, str))


def _write_run(path: str, rows: Iterable[dict], schema: pa.Schema) -> None:
    """Records (already in order) → an Arrow IPC run file, ``RUN_BATCH`` rows per batch, streaming."""
    it = iter(rows)
    with FileSystems.create(path) as f:
        writer = pa.ipc.new_stream(f, schema)
        while batch := list(itertools.islice(it, RUN_BATCH)):
            writer.write_table(to_table(batch, schema))
        writer.close()


def _run_rows(path: str) -> Iterable[dict]:
    with FileSystems.open(path) as f:
        for batch in pa.ipc.open_stream(f):
            yield from from_table(pa.Table.from_batches([batch]))


class _Spool(beam.DoFn):
    """Buffers records per shard and writes them out as sorted runs (Arrow IPC files).

    Only (shard, run path) pairs leave the DoFn, so no runner ever holds the documents
    themselves in a shuffle, and a bundle holds at most ``SPOOL_BYTES`` of records however
    many shards there are: the first half of an external merge sort.
    """

    def __init__(self, spool_dir: str, num_shards: int, schema: pa.Schema, spool_bytes: int = SPOOL_BYTES):
        self.spool_dir = spool_dir
        self.num_shards = num_shards
        self.schema = schema
        self.spool_bytes = spool_bytes

    def setup(self):
        self._key = _sort_key(self.schema)

    def start_bundle(self):
        self._bundle = uuid.uuid4().hex
        self._buffers: dict[int, list] = {}
        self._held = 0
        self._runs = 0

    def process(self, rec):
        self._buffers.setdefault(shard_of(rec["id"], self.num_shards), []).append(rec)
        self._held += _approx_bytes(rec)
        if self._held >= self.spool_bytes:
            yield from self._flush()

    def _flush(self) -> list[tuple[int, str]]:
        out = []
        for s in sorted(self._buffers):
            path = FileSystems.join(self.spool_dir, f"{s:05d}-{self._bundle}-{self._runs:05d}.arrow")
            _write_run(path, sorted(self._buffers[s], key=self._key), self.schema)
            out.append((s, path))
        self._buffers, self._held = {}, 0
        self._runs += 1
        return out

    def finish_bundle(self):
        for pair in self._flush():
            yield GlobalWindows.windowed_value(pair)


class _Merge(beam.DoFn):
    """The sorted runs of one shard → one Parquet file, merged in order and written atomically.

    The second half of the external sort: a k-way merge holding one batch per run, so a
    shard of any size is written in bounded memory.
    """

    def __init__(self, directory: str, num_shards: int, schema: pa.Schema):
        self.directory = directory
        self.num_shards = num_shards
        self.schema = schema

    def process(self, element):
        shard, runs = element
        key = _sort_key(self.schema)
        runs = sorted(runs)
        spooled = list(runs)
        while len(runs) > MAX_RUNS:  # merge in passes so that at most MAX_RUNS files are open
            merged = []
            for i in range(0, len(runs), MAX_RUNS):
                path = f"{runs[i]}.m{len(runs)}"
                _write_run(path, heapq.merge(*map(_run_rows, runs[i:i + MAX_RUNS]), key=key), self.schema)
                merged.append(path)
            spooled += merged
            runs = merged
        path = FileSystems.join(self.directory, f"part-{shard:05d}-of-{self.num_shards:05d}.parquet")
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        n = 0
        with FileSystems.create(tmp) as f:
            writer = pq.ParquetWriter(f, self.schema, compression="zstd", write_statistics=False)
            rows: list[dict] = []
            for rec in heapq.merge(*map(_run_rows, runs), key=key):
                rows.append(rec)
                if len(rows) == ROW_GROUP:
                    writer.write_table(to_table(rows, self.schema), row_group_size=ROW_GROUP)
                    n, rows = n + len(rows), []
            if rows or not n:
                writer.write_table(to_table(rows, self.schema), row_group_size=ROW_GROUP)
                n += len(rows)
            writer.close()
        if FileSystems.exists(path):
            FileSystems.delete([path])
        FileSystems.rename([tmp], [path])
        FileSystems.delete(spooled)
        yield path, n


class WriteShards(beam.PTransform):
    """PCollection[dict] (or a tuple of them) → Parquet shards in ``directory``; outputs (path, rows) per shard.

    Records are spooled as sorted runs per shard and bundle, then each shard's runs are
    merged in id order and written under a temporary name before the rename. Given several
    PCollections (e.g. the rejects of each part of a step), each is spooled where it is
    made and only the small (shard, spool file) pairs are flattened: a Flatten of the
    records themselves would be held whole in the DirectRunner's memory.
    """

    def __init__(self, directory: str, num_shards: int, schema: pa.Schema = DOCUMENT_SCHEMA,
                 spool_bytes: int = SPOOL_BYTES):
        super().__init__()
        self.directory = directory
        self.num_shards = num_shards
        self.schema = schema
        self.spool_bytes = spool_bytes

    def expand(self, pcolls):
        parts = as_list(pcolls)
        spool = FileSystems.join(self.directory, "_spool")
        files.makedirs(spool)
        spooled = [pc | f"Spool{i}" >> beam.ParDo(_Spool(spool, self.num_shards, self.schema, self.spool_bytes)) for i, pc in enumerate(parts)]
        pairs = spooled[0] if len(spooled) == 1 else spooled | "Spools" >> beam.Flatten()
        return (
            pairs
            | "GroupSpools" >> beam.GroupByKey()
            | "Merge" >> beam.ParDo(_Merge(self.directory, self.num_shards, self.schema))
        )


def as_list(pcolls) -> list:
    """A PCollection, or a list/tuple of them, as a list."""
    return list(pcolls) if isinstance(pcolls, (list, tuple)) else [pcolls]


def _read_records(path: str):
    try:
        with FileSystems.open(path) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=512):
                yield from from_table(pa.Table.from_batches([batch]))
    except (pa.ArrowException, OSError) as e:
        raise ShardError(f"cannot read shard {path}: {type(e).__name__}: {e}") from e


class ReadShards(beam.PTransform):
    """All records of the Parquet shards in the given directories, spread across workers."""

    def __init__(self, directories: list[str]):
        super().__init__()
        self.directories = directories

    def expand(self, pbegin):
        paths = [p for d in self.directories for p in list_shards(d)]
        return (
            pbegin
            | "Shards" >> beam.Create(paths)
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.FlatMap(_read_records)
        )
