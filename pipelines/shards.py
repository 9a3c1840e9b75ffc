"""Deterministic Parquet shards: documents hashed by id into N shards, each sorted by id.

Beam's own file sinks name and fill shards by bundle, which differs between runs and
runners. Here a shard's contents and bytes depend only on the documents, so in-process,
multi-processing and portable runs write identical files. Documents never go through a
shuffle: they are spooled to per-shard files, and only file names are grouped, so memory
stays bounded by one shard however large the step. Each shard is written under a
temporary name and renamed, so a killed run never leaves a partial shard behind.
"""

from __future__ import annotations

import hashlib
import io
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


def list_shards(directory: str) -> list[str]:
    pattern = FileSystems.join(directory, "part-*.parquet")
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


SPOOL_BATCH = 1000  # rows buffered (over all shards of a bundle) before they go to the spool files


class _Spool(beam.DoFn):
    """Appends each record to its shard's spool file for this bundle (Arrow IPC, in batches).

    Only (shard, spool path) pairs leave the DoFn, so no runner ever holds the documents
    themselves in a shuffle: memory stays bounded by ``SPOOL_BATCH`` rows, however many shards.
    """

    def __init__(self, spool_dir: str, num_shards: int, schema: pa.Schema):
        self.spool_dir = spool_dir
        self.num_shards = num_shards
        self.schema = schema

    def start_bundle(self):
        self._bundle = uuid.uuid4().hex
        self._buffers: dict[int, list] = {}
        self._held = 0
        self._writers: dict[int, tuple] = {}

    def process(self, rec):
        s = shard_of(rec["id"], self.num_shards)
        self._buffers.setdefault(s, []).append(rec)
        self._held += 1
        if self._held >= SPOOL_BATCH:
            for shard in list(self._buffers):
                self._flush(shard)
            self._held = 0

    def _flush(self, s: int) -> None:
        rows = self._buffers.pop(s, [])
        if not rows:
            return
        if s not in self._writers:
            path = FileSystems.join(self.spool_dir, f"{s:05d}-{self._bundle}.arrow")
            f = FileSystems.create(path)
            self._writers[s] = (path, f, pa.ipc.new_stream(f, self.schema))
        self._writers[s][2].write_table(to_table(rows, self.schema))

    def finish_bundle(self):
        for s in list(self._buffers):
            self._flush(s)
        for s, (path, f, writer) in sorted(self._writers.items()):
            writer.close()
            f.close()
            yield GlobalWindows.windowed_value((s, path))
        self._writers = {}


class _Merge(beam.DoFn):
    """All spool files of one shard → one Parquet file sorted by id, written atomically."""

    def __init__(self, directory: str, num_shards: int, schema: pa.Schema):
        self.directory = directory
        self.num_shards = num_shards
        self.schema = schema

    def process(self, element):
        shard, paths = element
        tables = []
        for p in sorted(paths):
            with FileSystems.open(p) as f:
                tables.append(pa.ipc.open_stream(f).read_all())
        table = pa.concat_tables(tables) if tables else self.schema.empty_table()
        order = [(c, "ascending") for c in ("id", "reason", "text", "uri") if c in table.column_names]
        table = table.sort_by(order)
        path = FileSystems.join(self.directory, f"part-{shard:05d}-of-{self.num_shards:05d}.parquet")
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd", row_group_size=2048, write_statistics=False)
        files.write_atomic(path, buf.getvalue())
        FileSystems.delete(sorted(paths))
        yield path, table.num_rows


class WriteShards(beam.PTransform):
    """PCollection[dict] (or a tuple of them) → Parquet shards in ``directory``; outputs (path, rows) per shard.

    Records are spooled per shard and bundle, then each shard's spool files are merged,
    sorted by id and written under a temporary name before the rename. Given several
    PCollections (e.g. the rejects of each part of a step), each is spooled where it is
    made and only the small (shard, spool file) pairs are flattened: a Flatten of the
    records themselves would be held whole in the DirectRunner's memory.
    """

    def __init__(self, directory: str, num_shards: int, schema: pa.Schema = DOCUMENT_SCHEMA):
        super().__init__()
        self.directory = directory
        self.num_shards = num_shards
        self.schema = schema

    def expand(self, pcolls):
        parts = as_list(pcolls)
        spool = FileSystems.join(self.directory, "_spool")
        files.makedirs(spool)
        spooled = [pc | f"Spool{i}" >> beam.ParDo(_Spool(spool, self.num_shards, self.schema)) for i, pc in enumerate(parts)]
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
    with FileSystems.open(path) as f:
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(batch_size=512):
            yield from from_table(pa.Table.from_batches([batch]))


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
