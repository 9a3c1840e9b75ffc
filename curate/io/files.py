"""File access through Beam's FileSystems, so gs://, s3:// and hdfs:// work like local paths.

This module uses Beam's filesystem layer only (no pipelines): listing inputs, opening them
with transparent decompression and a cap on decompressed size, and atomic writes.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import shutil
import tempfile
import posixpath
import uuid
from typing import BinaryIO, Iterator

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from curate.errors import InputError


class SizeLimitExceeded(IOError):
    """Raised by LimitedReader when a stream yields more bytes than allowed (e.g. a gzip bomb)."""


class LimitedReader(io.RawIOBase):
    """A read-only stream that raises SizeLimitExceeded after ``limit`` bytes."""

    def __init__(self, raw: BinaryIO, limit: int, defer_errors: bool = False):
        self._raw = raw
        # read1 returns what is decoded so far, so data before a stream error is not lost
        self._read = getattr(raw, "read1", raw.read)
        self._limit = limit
        self.count = 0
        self.error: BaseException | None = None
        # With defer_errors, a stream error reads as end-of-stream (so a reader that buffers
        # ahead still hands out the records before it) and is kept in ``error`` for the caller.
        self.defer_errors = defer_errors

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.count

    def readinto(self, b) -> int:  # type: ignore[override]
        try:
            data = self._read(len(b))
        except Exception as e:
            self.error = e
            if self.defer_errors:
                return 0
            raise
        if not data:
            return 0
        self.count += len(data)
        if self.count > self._limit:
            self.error = SizeLimitExceeded(f"more than {self._limit} bytes after decompression")
            if self.defer_errors:
                return 0
            raise self.error
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def is_remote(path: str) -> bool:
    """Whether ``path`` is on a remote filesystem (gs://, s3://, hdfs://, …): the one place that asks."""
    return "://" in path


def join(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts)


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def expand(patterns: list[str], suffixes: tuple[str, ...] | None = None) -> list[tuple[str, int]]:
    """Files matched by paths, directories (recursively) or globs, sorted; (path, size) each.

    Raises InputError naming the pattern when nothing exists there.
    """
    found: dict[str, int] = {}
    for pat in patterns:
        globbed = any(ch in pat for ch in "*?[")
        specs = [pat]
        if not globbed and is_dir(pat):
            specs = [pat.rstrip("/") + "/**"]
        results = FileSystems.match(specs)
        metas = [m for r in results for m in r.metadata_list]
        if not metas:
            raise InputError(f"input path does not exist or matches no files: {pat}")
        for m in metas:
            name = posixpath.basename(m.path)
            if name.startswith((".", "_")):
                continue
            if suffixes and not m.path.lower().endswith(suffixes):
                continue
            found[m.path] = m.size_in_bytes
    return sorted(found.items())


def expand_all(pattern: str, literal: bool = False) -> list[tuple[str, int, bool]]:
    """Every file a path, directory (recursively) or glob matches, sorted: (path, size, hidden).

    Unlike ``expand`` it keeps hidden files (name starting with "." or "_") and flags them,
    so a caller can list them. ``literal`` reads the pattern as a plain path even when it
    holds glob characters (a file named ``a[1].html``). Raises InputError naming the pattern
    when nothing exists there.
    """
    if literal and not is_dir(pattern):
        return [(pattern, os.path.getsize(pattern), posixpath.basename(pattern).startswith((".", "_")))]
    spec = pattern
    if (literal or not any(ch in pattern for ch in "*?[")) and is_dir(pattern):
        spec = glob_escape(pattern.rstrip("/")) + "/**"
    metas = [m for r in FileSystems.match([spec]) for m in r.metadata_list]
    if not metas and not (literal and is_dir(pattern)):
        raise InputError(f"input path does not exist or matches no files: {pattern}")
    base = pattern.rstrip("/") + "/"
    out = []
    for m in metas:
        rel = m.path[len(base):] if m.path.startswith(base) else posixpath.basename(m.path)
        hidden = any(part.startswith((".", "_")) for part in rel.split("/"))
        out.append((m.path, m.size_in_bytes, hidden))
    return sorted(out)


def glob_escape(path: str) -> str:
    """``path`` with glob characters escaped, for FileSystems.match."""
    import glob

    return glob.escape(path) if not is_remote(path) else path


def is_dir(path: str) -> bool:
    """Whether ``path`` is a directory (a prefix with objects under it, for object stores)."""
    if not is_remote(path):
        return os.path.isdir(path)
    return not FileSystems.match([path])[0].metadata_list and FileSystems.exists(path.rstrip("/") + "/")


def open_read(path: str, limit: int | None = None, buffered: bool = True) -> BinaryIO:
    """Open for reading, decompressing .gz/.bz2/… by extension; cap decompressed bytes at ``limit``.

    ``buffered=False`` returns the raw limited stream for readers that buffer themselves; its
    errors read as end-of-stream and wait in ``.error`` for the caller to raise.
    """
    f = FileSystems.open(path, mime_type="application/octet-stream", compression_type=CompressionTypes.UNCOMPRESSED)
    # Python's own decompressors, not Beam's CompressedFile: they raise on a truncated stream
    # (Beam's ends silently, which would lose the tail of a file without a word).
    lower = path.lower()
    if not lower.endswith((".gz", ".bz2", ".zst", ".zstd")):
        limit = None  # the decompression cap is for compressed files; record caps apply to the rest
    if lower.endswith(".gz"):
        f = gzip.GzipFile(fileobj=f, mode="rb")
    elif lower.endswith(".bz2"):
        f = bz2.BZ2File(f, mode="rb")
    elif lower.endswith((".zst", ".zstd")):
        import zstandard

        f = zstandard.ZstdDecompressor().stream_reader(f)
    raw = LimitedReader(f, limit if limit is not None else 1 << 62, defer_errors=not buffered)
    return io.BufferedReader(raw, buffer_size=1 << 20) if buffered else raw


def content_hash(path: str, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's full bytes, streamed (a step key must change with any changed byte).

    Costs one read of the file: about 1-2 s per GB on one core, paid once per run for each
    input (cached steps are looked up by it).
    """
    h = hashlib.sha256()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` under a temporary name, then rename it over ``path``.

    On a local disk the rename replaces the old file in one step (``os.replace``), so a reader
    sees the old bytes or the new ones, never none. Object stores have no atomic overwrite:
    there the new object is written whole first, then swapped in.
    """
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(data)
    if not is_remote(path):
        os.replace(tmp, path)
        return
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def open_write(path: str) -> BinaryIO:
    """A new file for writing: plain ``open`` on a local disk (fast), Beam's FileSystems elsewhere."""
    return FileSystems.create(path) if is_remote(path) else open(path, "wb")


def open_raw(path: str) -> BinaryIO:
    """A file for reading as stored (no decompression): plain ``open`` locally, FileSystems elsewhere."""
    return FileSystems.open(path) if is_remote(path) else open(path, "rb")


def copy_file(src: str, dst: str, link: bool = False) -> None:
    """Copy ``src`` to ``dst`` (either may be remote), streaming; with ``link``, two local
    paths on one file system share the file (a hard link: no bytes copied) when they can."""
    if link and not is_remote(src) and not is_remote(dst):
        try:
            if os.path.exists(dst):
                os.remove(dst)
            os.link(src, dst)
            return
        except OSError:
            pass
    with open_raw(src) as fin, open_write(dst) as fout:
        shutil.copyfileobj(fin, fout, 1 << 22)


def local_copy(path: str | None) -> str | None:
    """A local copy of a remote model file or directory (local paths are returned unchanged)."""
    if not path or not is_remote(path):
        return path
    base = path.rstrip("/")
    root = os.path.join(tempfile.mkdtemp(prefix="curate-model-"), base.rsplit("/", 1)[-1])
    for res in FileSystems.match([base, base + "/**"]):
        for m in res.metadata_list:
            dst = root if m.path == base else os.path.join(root, m.path[len(base) + 1:])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with FileSystems.open(m.path) as src, open(dst, "wb") as out:
                out.write(src.read())
    return root


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def makedirs(path: str) -> None:
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)
    else:
        FileSystems.mkdirs(path)


def iter_lines(stream: BinaryIO, max_line: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) pairs; a line longer than ``max_line`` yields (n, None) and is skipped."""
    n = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        n += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            while True:  # drain the rest of the oversized line
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield n, None
            continue
        yield n, line
