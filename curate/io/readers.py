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
import re
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
# Version lines read: WARC/1.0 and 1.1 (ISO 28500) and the drafts 0.17 (Heritrix 1.x) and 0.18
# (ClueWeb09). ClueWeb09 ends its lines with LF alone; fastwarc reads those in quirks mode.
_WARC_LINE = re.compile(rb"WARC/(?:0\.1[78]|1\.[01])(\r?)\n")
_SWALLOWED = re.compile(rb"\nWARC/(?:0\.1[78]|1\.[01])\r?\nWARC-Type:")
_TRUNCATION = (EOFError, zlib.error, gzip.BadGzipFile)  # stream errors read_file reports as read:truncated


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
    """Skip to the first WARC version line at or after ``start``; (its offset, bytes read past it).

    The line need not start a line of the file: garbage may precede it.
    """
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
        m = _WARC_LINE.search(buf)
        if m:
            return pos + m.start(), buf[m.start():]
        if not chunk:
            return None
        keep = len(buf) - 16
        pos += max(0, keep)
        buf = buf[max(0, keep):]


def read_warc_file(path: str, source: str, max_record_bytes: int, max_decompressed: int, name: str) -> Iterator[dict]:
    """HTML response records of a WARC (optionally gzipped), WARC/0.17, 0.18, 1.0 or 1.1.

    fastwarc parses; when a record is broken (bad header, a Content-Length that lies), the
    record is a reject and reading resumes at the next WARC version line, so the good records
    after a bad one are kept. A record the file ends inside is a ``read:truncated`` reject.
    HTTP transfer and content codings (chunked; gzip, deflate, br) are undone.
    """
    start: int | None = 0
    for _ in range(MAX_WARC_RESYNCS):
        start = yield from _warc_segment(path, source, start, max_record_bytes, max_decompressed, name)
        if start is None:
            return
    yield read_reject(source, name, f"warc-{start}", "read:warc:corrupt", f"gave up after {MAX_WARC_RESYNCS} broken records")


class _Cut(Exception):
    """The stream ends inside this record: fewer payload bytes than its Content-Length."""

    def __init__(self, uri: str, offset: int, detail: str):
        super().__init__(detail)
        self.uri, self.offset, self.detail = uri, offset, detail


class _Resync(Exception):
    """A record whose end the parser cannot trust (its Content-Length is missing or runs into
    the next record): it is a reject, and reading resumes at the next version line after it."""

    def __init__(self, uri: str, reason: str, detail: str):
        super().__init__(detail)
        self.uri, self.reason, self.detail = uri, reason, detail


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
        lf_only = not _WARC_LINE.match(head).group(1)  # type: ignore[union-attr]
        it = ArchiveIterator(
            _Prefixed(head, f, base), record_types=WarcRecordType.response | WarcRecordType.resource,
            parse_http=True, stream_detect=False, fsspec_args=False, quirks_mode=lf_only,
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
            try:
                out = _warc_record(rec, source, name, max_record_bytes, max_decompressed)
            except _Resync as e:
                yield read_reject(source, e.uri, pos, e.reason, e.detail)
                return pos + 1
            except _Cut as e:
                # The file ends inside this record, so nothing follows it: the record is the
                # truncation reject (and stands for a clipped file's read:truncated). Other
                # stream errors (decompression cap, I/O) stay file-level; the record is dropped.
                if f.error is not None and not isinstance(f.error, _TRUNCATION):
                    raise f.error from None
                why = f"; file: {type(f.error).__name__}: {f.error}" if f.error is not None else ""
                yield read_reject(source, e.uri, e.offset, "read:truncated", e.detail + why)
                return None
            yield out


class _Undecodable(Exception):
    """An HTTP body that cannot be decoded: ``reason`` is the reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _warc_record(rec: Any, source: str, name: str, max_record_bytes: int, max_decompressed: int) -> dict:
    uri = rec.headers.get("WARC-Target-URI") or f"{name}#{rec.stream_pos}"
    offset = rec.stream_pos
    declared = rec.content_length
    if declared > max_record_bytes:
        rec.reader.consume()
        return read_reject(source, uri, offset, "read:too_large", f"WARC record of {declared} bytes")
    if not (rec.headers.get("Content-Length") or "").strip().isdigit():
        raise _Resync(uri, "read:warc:corrupt", "no Content-Length, or not a number")
    body = rec.reader.read()
    cut = len(body) < declared
    ctype = (rec.http_content_type or "") if rec.is_http else (rec.headers.get("Content-Type") or "")
    html = not ctype or any(t in ctype.lower() for t in ("html", "xml"))
    # A Content-Length that lies may run into the next record, or past the file's end with
    # records inside: look for a swallowed header first (in what would be kept, or cut).
    if (html or cut) and _SWALLOWED.search(body):
        raise _Resync(uri, "read:warc:bad_length", "Content-Length runs into the next record")
    if cut:
        raise _Cut(uri, offset, f"record ends after {len(body)} of {declared} payload bytes")
    if not html:
        return read_reject(source, uri, offset, "read:warc:not_html", ctype)
    if rec.is_http:
        try:
            body = _http_decode(body, rec.http_headers, max_record_bytes, max_decompressed)
        except _Undecodable as e:
            return read_reject(source, uri, offset, e.reason, e.detail)
    if not body.strip():
        return read_reject(source, uri, offset, "read:empty", "empty WARC payload")
    return raw_record(
        source, uri, offset, "html", body,
        warc_date=rec.headers.get("WARC-Date"), charset=rec.http_charset if rec.is_http else None,
    )


def _codings(headers: Any, field: str) -> list[str]:
    return [c.strip().lower() for v in headers.get_multiple(field) for c in v.split(",") if c.strip()]


def _http_decode(body: bytes, headers: Any, max_record_bytes: int, max_decompressed: int) -> bytes:
    """``body`` with its Transfer-Encoding, then its Content-Encoding undone (last applied first).

    Decoded output is capped like a compressed file: past ``max_decompressed`` bytes it is
    ``read:gzip_bomb``, past ``max_record_bytes`` (when smaller) ``read:too_large``. A coding
    that fails on a body that already looks like markup is taken as a stale header (archivers
    that store decoded payloads but keep the header) and skipped.
    """
    if not body.strip():
        return body  # nothing to decode (a 204, a HEAD): read:empty, not a broken stream
    codings = _codings(headers, "Transfer-Encoding")[::-1] + _codings(headers, "Content-Encoding")[::-1]
    limit = min(max_record_bytes, max_decompressed)
    over = "read:gzip_bomb" if max_decompressed <= max_record_bytes else "read:too_large"
    for coding in codings:
        if coding in ("identity", "none"):
            continue
        try:
            if coding == "chunked":
                body = _dechunk(body)
            elif coding in ("gzip", "x-gzip", "deflate", "br"):
                body = _decompress(body, coding, limit, over)
            else:
                raise _Undecodable("read:warc:bad_encoding", f"unsupported HTTP coding {coding!r}")
        except _Undecodable as e:
            if e.reason == "read:warc:bad_encoding" and _looks_like_markup(body):
                continue
            raise
    return body


def _looks_like_markup(body: bytes) -> bool:
    return body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def _dechunk(body: bytes) -> bytes:
    """HTTP/1.1 chunked body → its data (chunk extensions and trailers dropped).

    A body whose first line is no chunk size was de-chunked already and is returned as is.
    """
    out, i, n = [], 0, len(body)
    while True:
        j = body.find(b"\n", i)
        line = body[i:j if j >= 0 else n].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(line):
            if i == 0:
                return body
            if j < 0 and not line:
                raise _Undecodable("read:truncated", f"chunked body ends without its last chunk at byte {i}")
            raise _Undecodable("read:warc:bad_encoding", f"bad chunk size line at byte {i}")
        if j < 0:
            raise _Undecodable("read:truncated", f"chunked body ends in a chunk size line at byte {i}")
        size = int(line, 16)
        if size == 0:
            return b"".join(out)
        data = body[j + 1:j + 1 + size]
        if len(data) < size:
            raise _Undecodable("read:truncated", f"chunked body ends inside a chunk of {size} bytes")
        out.append(data)
        k = j + 1 + size
        if body.startswith(b"\r\n", k):
            i = k + 2
        elif body.startswith(b"\n", k):
            i = k + 1
        elif k == n:
            raise _Undecodable("read:truncated", "chunked body ends without its last chunk")
        else:
            raise _Undecodable("read:warc:bad_encoding", f"chunk of {size} bytes not followed by a line end")


def _decompress(data: bytes, coding: str, limit: int, over: str) -> bytes:
    """gzip / deflate / br ``data`` decoded; at most ``limit`` bytes out (``over`` past it)."""
    if coding == "br":
        import brotli

        d = brotli.Decompressor()
        try:
            out = d.process(data, output_buffer_limit=limit + 1)
        except brotli.error as e:
            raise _Undecodable("read:warc:bad_encoding", f"br: {e}") from None
        if len(out) > limit:
            raise _Undecodable(over, f"br body expands past {limit} bytes")
        if not d.is_finished():
            raise _Undecodable("read:truncated", "br body ends before its stream does")
        return out
    if coding == "deflate":  # zlib-wrapped per the RFC; raw deflate from some servers
        wbits = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    else:
        wbits = [16 + zlib.MAX_WBITS]
    parts: list[bytes] = []
    total = 0
    while True:  # gzip members one after another (bytes after the last that are no member: ignored)
        for k, w in enumerate(wbits):
            d = zlib.decompressobj(w)
            try:
                part = d.decompress(data, limit - total + 1)
                break
            except zlib.error as e:
                if k + 1 == len(wbits):
                    raise _Undecodable("read:warc:bad_encoding", f"{coding}: {e}") from None
        total += len(part)
        parts.append(part)
        if total > limit:
            raise _Undecodable(over, f"{coding} body expands past {limit} bytes")
        if not d.eof:
            raise _Undecodable("read:truncated", f"{coding} body ends before its stream does")
        data = d.unused_data
        if coding == "deflate" or not data.startswith(b"\x1f\x8b"):
            return b"".join(parts)


_READERS = {
    "warc": read_warc_file,
    "html": read_html_file,
    "jsonl": read_jsonl_file,
    "parquet": read_parquet_file,
    "pdf": read_pdf_file,
}
