"""Document shard sets: the Parquet format every step writes, with its reader and its sort.

A step's ``docs/`` (and ``rejects/``) is a set of ``part-NNNNN-of-MMMMM.parquet`` files: a
document goes to shard ``shard_of(id)`` (a hash of its id, so the split does not depend on
bundles or workers) and each shard is sorted by ``SORT_COLUMNS``. Shards are built by an
external merge sort: records are written as sorted *runs* (Arrow IPC files, ``write_run``)
and each shard is a k-way merge of its runs (``merge_runs``), so memory stays bounded however
large a shard is, and each shard is written under a temporary name and renamed. The Beam
wiring (which worker spools what) is pipelines/shards.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import re
import uuid
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from curate.schema import from_table, to_table

RUN_BATCH = 256  # rows per Arrow batch in a run file: the merge holds one batch per run
MAX_RUNS = 128  # runs merged at once; more are first merged in passes of this many
ROW_GROUP = 2048  # rows per Parquet row group of a shard
SORT_COLUMNS = ("id", "reason", "text", "uri")
_SHARD_NAME = re.compile(r"part-(\d{5})-of-(\d{5})\.parquet$")


class ShardError(IOError):
    """A step output's Parquet shards are incomplete, duplicated or unreadable (the message names them)."""


def shard_of(doc_id: str, num_shards: int) -> int:
    """The shard of a document: a hash of its id, the same on every worker and runner."""
    return int(hashlib.blake2b(doc_id.encode(), digest_size=8).hexdigest(), 16) % num_shards


def shard_name(shard: int, num_shards: int) -> str:
    return f"part-{shard:05d}-of-{num_shards:05d}.parquet"


UNFINISHED = ".tmp-"  # a shard is written as NAME.tmp-XXXXXXXX, then renamed to NAME


def unfinished(directory: str) -> list[str]:
    """Temporaries of shards a merge left half-written when it died (its retry wrote the shard):
    for the driver to remove before the step's files are listed."""
    pattern = FileSystems.join(directory, f"part-*.parquet{UNFINISHED}*")
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


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


def read_shard(path: str) -> list[dict[str, Any]]:
    """Every record of one shard (small shards: tests, ``curate show``)."""
    with FileSystems.open(path) as f:
        return from_table(pq.read_table(f))


def iter_records(path: str) -> Iterator[dict[str, Any]]:
    """The records of one shard in batches; an unreadable shard is a ShardError naming it."""
    try:
        with FileSystems.open(path) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=512):
                yield from from_table(pa.Table.from_batches([batch]))
    except (pa.ArrowException, OSError) as e:
        raise ShardError(f"cannot read shard {path}: {type(e).__name__}: {e}") from e


def sort_key(schema: pa.Schema):
    """Key ordering records by SORT_COLUMNS (those in ``schema``), nulls last, as Arrow sorts."""
    cols = [c for c in SORT_COLUMNS if c in schema.names]
    return lambda r: tuple((1, "") if r.get(c) is None else (0, r[c]) for c in cols)


def approx_bytes(rec: dict) -> int:
    """A cheap estimate of a record's size, for bounding what a worker buffers."""
    return 64 + sum(len(v) for v in rec.values() if isinstance(v, str))


def write_run(path: str, rows: Iterable[dict], schema: pa.Schema) -> None:
    """Records (already in order) → an Arrow IPC run file, ``RUN_BATCH`` rows per batch, streaming."""
    it = iter(rows)
    with FileSystems.create(path) as f:
        writer = pa.ipc.new_stream(f, schema)
        while batch := list(itertools.islice(it, RUN_BATCH)):
            writer.write_table(to_table(batch, schema))
        writer.close()


def run_rows(path: str) -> Iterable[dict]:
    with FileSystems.open(path) as f:
        for batch in pa.ipc.open_stream(f):
            yield from from_table(pa.Table.from_batches([batch]))


def merge_runs(directory: str, shard: int, num_shards: int, runs: list[str], schema: pa.Schema) -> tuple[str, int]:
    """The sorted runs of one shard → its Parquet file in ``directory`` (written under a
    temporary name, then renamed; the runs deleted); returns (path, rows). A k-way merge
    holding one batch per run, in passes of at most MAX_RUNS open files.

    Run again after an earlier run of it deleted some runs (a runner runs a task at least
    once), it returns the shard that run renamed into place whole."""
    key = sort_key(schema)
    runs = sorted(runs)
    path = FileSystems.join(directory, shard_name(shard, num_shards))
    if FileSystems.exists(path) and not all(FileSystems.exists(r) for r in runs):
        _delete_present(runs)
        with FileSystems.open(path) as f:
            return path, pq.ParquetFile(f).metadata.num_rows
    spooled = list(runs)
    while len(runs) > MAX_RUNS:
        merged = []
        for i in range(0, len(runs), MAX_RUNS):
            part = f"{runs[i]}.m{len(runs)}"
            write_run(part, heapq.merge(*map(run_rows, runs[i:i + MAX_RUNS]), key=key), schema)
            merged.append(part)
        spooled += merged
        runs = merged
    tmp = f"{path}{UNFINISHED}{uuid.uuid4().hex[:8]}"
    try:
        with FileSystems.create(tmp) as f:
            writer = pq.ParquetWriter(f, schema, compression="zstd", write_statistics=False)
            try:
                n = _write_rows(writer, heapq.merge(*map(run_rows, runs), key=key), schema)
            except BaseException:
                with contextlib.suppress(Exception):  # now, not in __del__ after its file is closed
                    writer.close()
                raise
            writer.close()
    except BaseException:  # an error or Ctrl-C: the runs stay for a retry, the temporary goes
        with contextlib.suppress(Exception):
            FileSystems.delete([tmp])
        raise
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    _delete_present(spooled)
    return path, n


def _write_rows(writer: pq.ParquetWriter, records: Iterable[dict], schema: pa.Schema) -> int:
    """Records → row groups of ``ROW_GROUP`` rows (one, maybe empty, at least); returns the rows."""
    n, rows = 0, []
    for rec in records:
        rows.append(rec)
        if len(rows) == ROW_GROUP:
            writer.write_table(to_table(rows, schema), row_group_size=ROW_GROUP)
            n, rows = n + len(rows), []
    if rows or not n:
        writer.write_table(to_table(rows, schema), row_group_size=ROW_GROUP)
        n += len(rows)
    return n


def _delete_present(paths: list[str]) -> None:
    """Delete ``paths``; one already gone is no error (a duplicate of the task may have deleted it)."""
    try:
        FileSystems.delete(paths)
    except BeamIOError as e:
        if any(FileSystems.exists(p) for p in e.exception_details):
            raise
