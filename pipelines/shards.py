"""Document shards as Beam wiring: WriteShards (spool sorted runs where records are made,
group only file names, merge each shard) and ReadShards. The format, the sort and the merge
are curate.io.doc_shards; a shard's bytes depend only on its documents, so in-process,
multi-processing and portable runs write identical files.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from curate.io import files
from curate.io.doc_shards import (ShardError, approx_bytes, iter_records, list_shards, merge_runs, read_shard,
                                  shard_of, sort_key, write_run)
from curate.schema import DOCUMENT_SCHEMA

__all__ = ["ReadShards", "WriteShards", "as_list", "ShardError", "list_shards", "read_shard", "shard_of"]

SPOOL_BYTES = 32 << 20  # approx. record bytes a bundle buffers before writing them out as sorted runs


class _Spool(beam.DoFn):
    """Buffers records per shard and writes them out as sorted runs (Arrow IPC files).

    Only (shard, run file name) pairs leave the DoFn (a name, not a path: a folder named with
    bytes that are not UTF-8 is a str Beam cannot encode), so no runner ever holds the documents
    themselves in a shuffle, and a bundle holds at most ``SPOOL_BYTES`` of records however
    many shards there are: the first half of an external merge sort.
    """

    def __init__(self, spool_dir: str, num_shards: int, schema: pa.Schema, spool_bytes: int = SPOOL_BYTES):
        self.spool_dir = spool_dir
        self.num_shards = num_shards
        self.schema = schema
        self.spool_bytes = spool_bytes

    def setup(self):
        self._key = sort_key(self.schema)

    def start_bundle(self):
        self._bundle = uuid.uuid4().hex
        self._buffers: dict[int, list] = {}
        self._held = 0
        self._runs = 0

    def process(self, rec) -> Iterator[Any]:  # declared: Beam would infer it from the bytecode, ~10 ms a graph
        self._buffers.setdefault(shard_of(rec["id"], self.num_shards), []).append(rec)
        self._held += approx_bytes(rec)
        if self._held >= self.spool_bytes:
            yield from self._flush()

    def _flush(self) -> list[tuple[int, str]]:
        out = []
        for s in sorted(self._buffers):
            name = f"{s:05d}-{self._bundle}-{self._runs:05d}.arrow"
            write_run(FileSystems.join(self.spool_dir, name), sorted(self._buffers[s], key=self._key), self.schema)
            out.append((s, name))
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

    def __init__(self, directory: str, spool_dir: str, num_shards: int, schema: pa.Schema):
        self.directory = directory
        self.spool_dir = spool_dir
        self.num_shards = num_shards
        self.schema = schema

    def process(self, element) -> Iterator[Any]:  # declared, as _Spool's
        shard, names = element
        runs = [FileSystems.join(self.spool_dir, n) for n in names]
        path, rows = merge_runs(self.directory, shard, self.num_shards, runs, self.schema)
        yield path.rsplit("/", 1)[-1], rows  # a name, as _Spool's


class WriteShards(beam.PTransform):
    """PCollection[dict] (or a tuple of them) → Parquet shards in ``directory``; outputs (name, rows) per shard.

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
            | "Merge" >> beam.ParDo(_Merge(self.directory, spool, self.num_shards, self.schema))
        )


def as_list(pcolls) -> list:
    """A PCollection, or a list/tuple of them, as a list."""
    return list(pcolls) if isinstance(pcolls, (list, tuple)) else [pcolls]


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
            | "Read" >> beam.FlatMap(iter_records)
        )
