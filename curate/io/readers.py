"""Readers: files → raw records, one generator per input format, no Beam.

A raw record is a dict ``{id, source, uri, offset, format, content, meta}`` where ``content``
is bytes (HTML, PDF) or str (plain text). A record that cannot be read becomes a reject dict
(``make_reject``: has ``reason``) and reading goes on with the next record wherever the
format allows it, so the good records around a bad one are kept.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import zlib
from typing import Any, Iterator

from curate.errors import Reject
from curate.io import files
from curate.schema import doc_id, make_reject

STEP = "read"
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson", ".jsonl.zst")
PARQUET_SUFFIXES = (".parquet",)
PDF_SUFFIXES = (".pdf",)


def detect_format(path: str) -> str | None:
    """Reader name for a file by its extension, or None when no reader applies."""
    p = path.lower()
    for fmt, suffixes in (
        ("warc", WARC_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
        ("pdf", PDF_SUFFIXES),
    ):
        if p.endswith(suffixes):
            return fmt
    return None


def utf8_safe(s: str) -> str:
    """``s`` with lone surrogates (valid in JSON, not in UTF-8) replaced, so it can be encoded."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def raw_record(source: str, uri: str, offset: int | str, fmt: str, content: Any, /, **meta: Any) -> dict[str, Any]:
    """A raw record; ``meta`` may hold any keys, ``source``, ``offset`` and ``content`` included."""
    return {
        "id": doc_id(source, uri, offset),
        "source": source,
        "uri": utf8_safe(uri),
        "offset": offset,
        "format": fmt,
        "content": utf8_safe(content) if isinstance(content, str) else content,
        "meta": utf8_safe(json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str)),
    }


def read_reject(source: str, uri: str, offset: int | str, reason: str, detail: str = "") -> dict[str, Any]:
    base = {"id": doc_id(source, uri, offset), "source": source, "uri": uri, "format": None, "text": ""}
    return make_reject(base, STEP, reason, detail)


def is_reject(rec: dict[str, Any]) -> bool:
    return "reason" in rec


def read_file(path: str, fmt: str, source: str, max_record_bytes: int, max_decompressed_bytes: int,
              name: str | None = None) -> Iterator[dict]:
    """All records of one file (raw records and rejects), streaming.

    ``name`` is the file's stable name (curate.io.inputs: its path relative to the input
    argument); records without a URL of their own take it as their uri, so ids do not depend
    on where the file lives. It defaults to ``path``.
    """
    fmt = detect_format(path) if fmt == "auto" else fmt
    name = name or path
    if fmt is None:
        yield read_reject(source, name, 0, "read:unknown_format", posixpath.basename(path))
        return
    reader = _READERS[fmt]
    n = 0
    try:
        for rec in reader(path, source, max_record_bytes, max_decompressed_bytes, name):
            n += 1
            yield rec
        if n == 0:  # a zero-byte file, an empty gzip member, a WARC without responses: say so
            yield read_reject(source, name, 0, "read:empty", f"no {fmt} records in the file")
    except files.SizeLimitExceeded as e:
        yield read_reject(source, name, "end", "read:gzip_bomb", str(e))
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        yield read_reject(source, name, "end", "read:truncated", f"{type(e).__name__}: {e}")
    except OSError as e:
        yield read_reject(source, name, "end", "read:io_error", f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - a broken file must not take the worker down
        yield read_reject(source, name, "end", f"error:read:{type(e).__name__}", str(e)[:500])
    except BaseException as e:  # Rust panics in native readers arrive as BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        yield read_reject(source, name, "end", f"error:read:{type(e).__name__}", str(e)[:500])


def _read_whole(path: str, limit: int, max_decompressed: int) -> bytes:
    with files.open_read(path, limit=max_decompressed) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Reject("read:too_large", f"more than {limit} bytes")
    return data


def read_html_file(path: str, source: str, max_record_bytes: int, max_decompressed: int, name: str) -> Iterator[dict]:
    try:
        data = _read_whole(path, max_record_bytes, max_decompressed)
    except Reject as r:
        yield read_reject(source, name, 0, r.reason, r.detail)
        return
    if not data.strip():
        yield read_reject(source, name, 0, "read:empty", "file has no content")
        return
    yield raw_record(source, name, 0, "html", data)


def read_pdf_file(path: str, source: str, max_record_bytes: int, max_decompressed: int, name: str) -> Iterator[dict]:
    try:
        data = _read_whole(path, max_record_bytes, max_decompressed)
    except Reject as r:
        yield read_reject(source, name, 0, r.reason, r.detail)
        return
    if not data:
        yield read_reject(source, name, 0, "read:empty", "file has no content")
        return
    yield raw_record(source, name, 0, "pdf", data)


def read_jsonl_file(path: str, source: str, max_record_bytes: int, max_decompressed: int, name: str) -> Iterator[dict]:
    """JSON lines with a ``text`` or ``html`` field; other fields go to meta."""
    with files.open_read(path, limit=max_decompressed) as f:
        for n, line in files.iter_lines(f, max_record_bytes):
            if line is None:
                yield read_reject(source, name, n, "read:too_large", f"line {n} over {max_record_bytes} bytes")
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                yield read_reject(source, name, n, "read:jsonl:bad_json", f"line {n}: {e}")
                continue
            yield _record_from_mapping(obj, source, name, n)


_MAPPED = ("text", "html", "url", "uri", "id")


def _record_from_mapping(obj: Any, source: str, name: str, n: int) -> dict:
    """One JSONL object or Parquet row → raw record, by field name whatever else it holds.

    ``html`` (preferred) or ``text`` is the content, ``url`` or ``uri`` the uri; the record's
    own ``id`` is kept as ``meta.source_id`` (the document id stays ``doc_id(source, uri, n)``,
    stable and unique); every other field (``title``, ``source``, ``offset``, ...) goes to meta
    under its own name. A row that cannot be mapped is a reject of its own, never the file's.
    """
    if not isinstance(obj, dict):
        return read_reject(source, name, n, "read:jsonl:not_object", f"line {n}")
    try:
        uri = str(obj.get("url") or obj.get("uri") or f"{name}#{n}")
        meta = {str(k): v for k, v in obj.items() if k not in _MAPPED}
        if "id" in obj:
            meta["source_id"] = obj["id"]
        if isinstance(obj.get("html"), str):
            return raw_record(source, uri, n, "html", utf8_safe(obj["html"]).encode("utf-8"), **meta)
        if isinstance(obj.get("text"), str):
            return raw_record(source, uri, n, "text", obj["text"], **meta)
    except Exception as e:  # noqa: BLE001 - one odd row costs that row only
        return read_reject(source, name, n, f"error:read:{type(e).__name__}", f"record {n}: {str(e)[:500]}")
    return read_reject(source, name, n, "read:no_text", f"record {n} has neither a text nor an html string field")


def read_parquet_file(path: str, source: str, max_record_bytes: int, max_decompressed: int, name: str) -> Iterator[dict]:
    import pyarrow.parquet as pq

    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        try:
            pf = pq.ParquetFile(f)
        except Exception as e:  # pyarrow raises ArrowInvalid and friends
            yield read_reject(source, name, 0, "read:parquet:invalid", f"{type(e).__name__}: {e}")
            return
        names = pf.schema_arrow.names
        if not set(names) & {"text", "html"}:  # every row is a reject of its own
            detail = f"columns {sorted(names)} have no text or html"
            n = 0
            for batch in pf.iter_batches(batch_size=1024, columns=names[:1]):
                for _ in range(batch.num_rows):
                    yield read_reject(source, name, n, "read:no_text", f"row {n}: {detail}")
                    n += 1
            return
        n = 0
        for batch in pf.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield _record_from_mapping(row, source, name, n)
                n += 1


MAX_WARC_RESYNCS = 1000  # per file; past this the rest of the file is one reject
_WARC_LINE = (b"WARC/1.0\r\n", b"WARC/1.1\r\n")
_SWALLOWED = (b"\nWARC/1.0\r\nWARC-Type:", b"\nWARC/1.1\r\nWARC-Type:")


class _Prefixed(io.RawIOBase):
    """A stream that returns ``head`` first, then the rest of ``raw``."""

    def __init__(self, head: bytes, raw: Any, base: int):
        self._head = head
        self._raw = raw
        self._pos = 0
        self.base = base

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, b) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            data = self._raw.read(len(b))
            n = len(data)
            b[:n] = data
        self._pos += n
        return n


def _seek_record(f: Any, start: int) -> tuple[int, bytes] | None:
    """Skip to the first WARC header line at or after ``start``; (its offset, bytes read past it)."""
    pos = 0
    while pos < start:  # discard (decompressing) up to start
        chunk = f.read(min(1 << 20, start - pos))
        if not chunk:
            return None
        pos += len(chunk)
    buf = b""
    while True:
        chunk = f.read(1 << 16)
        buf += chunk
        hits = [i for i in (_find_line(buf, m) for m in _WARC_LINE) if i >= 0]
        if hits:
            i = min(hits)
            return pos + i, buf[i:]
        if not chunk:
            return None
        keep = len(buf) - 16
        pos += max(0, keep)
        buf = buf[max(0, keep):]


def _find_line(buf: bytes, marker: bytes) -> int:
    """Offset of the next WARC version line (not only at a line start: garbage may precede it)."""
    return buf.find(marker)


def read_warc_file(path: str, source: str, max_record_bytes: int, max_decompressed: int, name: str) -> Iterator[dict]:
    """HTML response records of a WARC (optionally gzipped).

    fastwarc parses; when a record is broken (bad header, a Content-Length that lies), the
    record is a reject and reading resumes at the next ``WARC/1.x`` header line, so the good
    records after a bad one are kept.
    """
    start: int | None = 0
    for _ in range(MAX_WARC_RESYNCS):
        start = yield from _warc_segment(path, source, start, max_record_bytes, max_decompressed, name)
        if start is None:
            return
    yield read_reject(source, name, f"warc-{start}", "read:warc:corrupt", f"gave up after {MAX_WARC_RESYNCS} broken records")


def _warc_segment(path: str, source: str, start: int, max_record_bytes: int, max_decompressed: int, name: str):
    """Records from the header at or after ``start``; returns where to resume, or None at the end."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with files.open_read(path, limit=max_decompressed, buffered=False) as f:
        found = _seek_record(f, start)
        if found is None:
            if f.error is not None:
                raise f.error
            return None
        base, head = found
        it = ArchiveIterator(
            _Prefixed(head, f, base), record_types=WarcRecordType.response | WarcRecordType.resource,
            parse_http=True, stream_detect=False, fsspec_args=False,
        )
        first = True
        while True:
            try:
                rec = next(it)
            except StopIteration:
                if f.error is not None:  # the parser stopped on a stream error: say so
                    raise f.error
                return None
            except files.SizeLimitExceeded:
                raise
            except BaseException as e:  # fastwarc raises OSError; Rust panics are BaseException
                if isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                    raise
                if f.error is not None:
                    raise f.error
                if first:  # the record at ``base`` itself is broken
                    yield read_reject(source, name, f"warc-{base}", "read:warc:corrupt", f"{type(e).__name__}: {e}")
                return base + 1 if first else last + 1
            pos = base + rec.stream_pos
            first, last = False, pos
            out = _warc_record(rec, source, name, max_record_bytes)
            if not is_reject(out) and any(m in out["content"] for m in _SWALLOWED):
                yield read_reject(source, out["uri"], pos, "read:warc:bad_length",
                                  "Content-Length runs into the next record")
                return pos + 1
            yield out


def _warc_record(rec: Any, source: str, name: str, max_record_bytes: int) -> dict:
    uri = rec.headers.get("WARC-Target-URI") or f"{name}#{rec.stream_pos}"
    offset = rec.stream_pos
    declared = rec.content_length
    if declared > max_record_bytes:
        rec.reader.consume()
        return read_reject(source, uri, offset, "read:too_large", f"WARC record of {declared} bytes")
    ctype = (rec.http_content_type or "") if rec.is_http else (rec.headers.get("Content-Type") or "")
    body = rec.reader.read()
    if ctype and not any(t in ctype.lower() for t in ("html", "xml")):
        return read_reject(source, uri, offset, "read:warc:not_html", ctype)
    if not body.strip():
        return read_reject(source, uri, offset, "read:empty", "empty WARC payload")
    return raw_record(
        source, uri, offset, "html", body,
        warc_date=rec.headers.get("WARC-Date"), charset=rec.http_charset if rec.is_http else None,
    )


_READERS = {
    "warc": read_warc_file,
    "html": read_html_file,
    "jsonl": read_jsonl_file,
    "parquet": read_parquet_file,
    "pdf": read_pdf_file,
}
