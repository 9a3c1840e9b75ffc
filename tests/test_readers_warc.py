"""WARC reader: draft versions (0.17/0.18, LF-only like ClueWeb09), HTTP transfer and content
codings, and records cut short. Every WARC here is built byte by byte in the test."""

import gzip
import random
import string
import zlib

import brotli
import pytest

from curate.io.readers import is_reject, read_file
from curate.schema import doc_id

PAGE = b"<html><head><title>t</title></head><body><p>" + b"the quick brown fox " * 40 + b"</p></body></html>"


def _http(body: bytes, headers=(), nl: bytes = b"\r\n", ctype: bytes = b"text/html; charset=utf-8") -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: " + ctype, *headers]
    return nl.join(lines) + nl + nl + body


def _record(url: str | None, block: bytes, version: str = "1.0", nl: bytes = b"\r\n", rtype: str = "response",
            declared: int | None = None, extra=()) -> bytes:
    """One uncompressed WARC record: version line, named fields, block, two line ends."""
    fields = [f"WARC/{version}".encode(), b"WARC-Type: " + rtype.encode()]
    if url is not None:
        fields.append(b"WARC-Target-URI: " + url.encode())
    fields += [b"WARC-Date: 2009-01-13T18:05:10Z", *extra]
    if rtype == "response":
        fields.append(b"Content-Type: application/http;msgtype=response")
    elif rtype == "resource":
        fields.append(b"Content-Type: text/html")
    fields.append(b"Content-Length: " + str(len(block) if declared is None else declared).encode())
    return nl.join(fields) + nl + nl + block + nl + nl


def _warcinfo(version: str, nl: bytes) -> bytes:
    return _record(None, b"software: test" + nl + b"format: WARC" + nl, version, nl, rtype="warcinfo")


def _read(path, max_record=10_000_000, max_decomp=100_000_000, name=None):
    recs = list(read_file(str(path), "auto", "t", max_record, max_decomp, name))
    return [r for r in recs if not is_reject(r)], [r for r in recs if is_reject(r)]


def _pages(n):
    return [(f"http://x.example/{i}", b"<html><body><p>page number %d</p></body></html>" % i) for i in range(n)]


def _write(tmp_path, filename, records: list[bytes], layout: str):
    """records as a plain WARC, one gzip member per record, or one gzip stream for the file (ClueWeb09)."""
    p = tmp_path / filename
    if layout == "plain":
        p.write_bytes(b"".join(records))
    elif layout == "member":
        p.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records))
    else:
        p.write_bytes(gzip.compress(b"".join(records), mtime=0))
    return p


def _one(tmp_path, block: bytes, **kw):
    """A .warc.gz of three records, the middle one with ``block``; (kept, rejects)."""
    pages = _pages(3)
    recs = [_record(u, _http(b)) for u, b in pages]
    recs[1] = _record("http://x.example/1", block)
    return _read(_write(tmp_path, "a.warc.gz", recs, "member"), **kw)


# --- versions -------------------------------------------------------------------------------------


def test_clueweb09_style_file_with_29_responses(tmp_path):
    """WARC/0.18, LF line ends in WARC and HTTP headers, a warcinfo first, one gzip stream."""
    nl = b"\n"
    pages = _pages(29)
    recs = [_warcinfo("0.18", nl)] + [
        _record(u, _http(b, [b"Server: WebServerX"], nl=nl, ctype=b"text/html"), "0.18", nl,
                extra=[b"WARC-TREC-ID: clueweb09-en0000-00-%05d" % i])
        for i, (u, b) in enumerate(pages)
    ]
    ok, bad = _read(_write(tmp_path, "00.warc.gz", recs, "stream"))
    assert not bad
    assert [r["uri"] for r in ok] == [u for u, _ in pages]
    assert [r["content"] for r in ok] == [b for _, b in pages]


@pytest.mark.parametrize("version", ["0.17", "0.18", "1.0", "1.1"])
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("layout", ["plain", "member", "stream"])
def test_warc_versions(tmp_path, version, nl, layout):
    pages = _pages(3)
    recs = [_warcinfo(version, nl)] + [_record(u, _http(b, nl=nl), version, nl) for u, b in pages]
    ok, bad = _read(_write(tmp_path, "v.warc" + ("" if layout == "plain" else ".gz"), recs, layout))
    assert not bad
    assert [(r["uri"], r["content"]) for r in ok] == pages


@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_draft_version_resyncs_after_a_broken_record(tmp_path, nl):
    pages = _pages(4)
    recs = [_record(u, _http(b, nl=nl), "0.18", nl) for u, b in pages]
    broken = b"WARC/0.18" + nl + b"WARC-Type: response" + nl + b"Content-Length: notanumber" + nl + nl + b"garbage"
    p = _write(tmp_path, "b.warc", recs[:2] + [broken] + recs[2:], "plain")
    ok, bad = _read(p)
    assert [r["uri"] for r in ok] == [u for u, _ in pages]
    assert len(bad) == 1


@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_draft_version_content_length_that_runs_into_the_next_record(tmp_path, nl):
    pages = _pages(4)
    recs = [_record(u, _http(b, nl=nl), "0.17", nl) for u, b in pages]
    block = _http(pages[1][1], nl=nl)
    recs[1] = _record(pages[1][0], block, "0.17", nl, declared=len(block) + 60)
    ok, bad = _read(_write(tmp_path, "l.warc", recs, "plain"))
    assert {u for u, _ in pages} - {pages[1][0]} <= {r["uri"] for r in ok}
    assert [r["reason"] for r in bad] == ["read:warc:bad_length"] and bad[0]["uri"] == pages[1][0]


def test_unknown_version_is_not_read(tmp_path):
    p = _write(tmp_path, "u.warc", [_record("http://x/0", _http(PAGE), "2.0")], "plain")
    ok, bad = _read(p)
    assert not ok


# --- transfer and content codings -----------------------------------------------------------------


def _chunked(body: bytes, sizes=(7, 100, 1, 3000), ext: bool = True) -> bytes:
    out, i, k = [], 0, 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        part = body[i:i + n]
        head = b"%x" % len(part) + (b";name=value" if ext and k == 1 else b"")
        out.append(head + b"\r\n" + part + b"\r\n")
        i += n
        k += 1
    return b"".join(out) + b"0\r\nX-Trailer: yes\r\n\r\n"


def test_chunked_transfer_encoding_is_decoded(tmp_path):
    ok, bad = _one(tmp_path, _http(_chunked(PAGE), [b"Transfer-Encoding: chunked"]))
    assert not bad and len(ok) == 3
    assert ok[1]["content"] == PAGE


def test_chunked_lf_only_and_upper_case_sizes(tmp_path):
    body = b"".join(b"%X\n" % len(c) + c + b"\n" for c in (PAGE[:300], PAGE[300:])) + b"0\n\n"
    ok, bad = _one(tmp_path, _http(body, [b"Transfer-Encoding: chunked"]))
    assert not bad and ok[1]["content"] == PAGE


def test_chunked_header_over_a_body_already_dechunked_is_kept_as_is(tmp_path):
    ok, bad = _one(tmp_path, _http(PAGE, [b"Transfer-Encoding: chunked"]))
    assert not bad and ok[1]["content"] == PAGE


def test_chunked_body_cut_inside_a_chunk_is_truncated(tmp_path):
    body = _chunked(PAGE)[:-500]
    ok, bad = _one(tmp_path, _http(body, [b"Transfer-Encoding: chunked"]))
    assert [r["uri"] for r in ok] == ["http://x.example/0", "http://x.example/2"]
    assert [r["reason"] for r in bad] == ["read:truncated"] and bad[0]["uri"] == "http://x.example/1"


def test_chunked_body_with_broken_framing_is_a_reject(tmp_path):
    body = b"a\r\n0123456789\r\nzz\r\nrest of it\r\n0\r\n\r\n"
    ok, bad = _one(tmp_path, _http(body, [b"Transfer-Encoding: chunked"]))
    assert len(ok) == 2 and [r["reason"] for r in bad] == ["read:warc:bad_encoding"]


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("coding,encode", [
    ("gzip", lambda b: gzip.compress(b, mtime=0)),
    ("x-gzip", lambda b: gzip.compress(b, mtime=0)),
    ("deflate", zlib.compress),
    ("deflate", _deflate_raw),
    ("br", brotli.compress),
    ("GZIP", lambda b: gzip.compress(b, mtime=0)),
    ("identity", lambda b: b),
])
def test_content_encoding_is_decoded(tmp_path, coding, encode):
    ok, bad = _one(tmp_path, _http(encode(PAGE), [b"Content-Encoding: " + coding.encode()]))
    assert not bad and len(ok) == 3
    assert ok[1]["content"] == PAGE


def test_chunked_and_gzip_together(tmp_path):
    body = _chunked(gzip.compress(PAGE, mtime=0), sizes=(50, 13))
    ok, bad = _one(tmp_path, _http(body, [b"Transfer-Encoding: chunked", b"Content-Encoding: gzip"]))
    assert not bad and ok[1]["content"] == PAGE


def test_two_content_codings_are_undone_in_reverse_order(tmp_path):
    body = brotli.compress(gzip.compress(PAGE, mtime=0))
    ok, bad = _one(tmp_path, _http(body, [b"Content-Encoding: gzip, br"]))
    assert not bad and ok[1]["content"] == PAGE


def test_content_encoding_header_over_a_plain_body_is_kept_as_is(tmp_path):
    ok, bad = _one(tmp_path, _http(PAGE, [b"Content-Encoding: gzip"]))
    assert not bad and ok[1]["content"] == PAGE


@pytest.mark.parametrize("coding,body", [
    ("gzip", b"\x1f\x8b\x08\x00" + bytes(range(200))),
    ("br", bytes(range(255, 0, -1))),
    ("deflate", b"\x00\xff" * 100),
    ("compress", b"\x1f\x9d" + bytes(100)),
])
def test_undecodable_content_is_a_reject(tmp_path, coding, body):
    ok, bad = _one(tmp_path, _http(body, [b"Content-Encoding: " + coding.encode()]))
    assert [r["uri"] for r in ok] == ["http://x.example/0", "http://x.example/2"]
    assert [r["reason"] for r in bad] == ["read:warc:bad_encoding"] and bad[0]["uri"] == "http://x.example/1"


@pytest.mark.parametrize("coding,encode", [("gzip", gzip.compress), ("br", brotli.compress)])
def test_compressed_body_cut_short_is_truncated(tmp_path, coding, encode):
    rng = random.Random(1)
    page = "".join(rng.choice(string.ascii_letters) for _ in range(20_000)).encode()
    body = encode(page)
    ok, bad = _one(tmp_path, _http(body[: len(body) // 2], [b"Content-Encoding: " + coding.encode()]))
    assert len(ok) == 2 and [r["reason"] for r in bad] == ["read:truncated"]


@pytest.mark.parametrize("coding,encode", [("gzip", gzip.compress), ("br", brotli.compress), ("deflate", zlib.compress)])
def test_content_encoding_bomb_is_capped(tmp_path, coding, encode):
    body = encode(b"<p>" + b"a" * 5_000_000)
    assert len(body) < 100_000
    ok, bad = _one(tmp_path, _http(body, [b"Content-Encoding: " + coding.encode()]), max_decomp=1_000_000)
    assert [r["uri"] for r in ok] == ["http://x.example/0", "http://x.example/2"]
    assert [r["reason"] for r in bad] == ["read:gzip_bomb"] and bad[0]["uri"] == "http://x.example/1"
    # under the file cap but over the record cap: too large, like any other record
    ok, bad = _one(tmp_path, _http(body, [b"Content-Encoding: " + coding.encode()]), max_record=1_000_000)
    assert len(ok) == 2 and [r["reason"] for r in bad] == ["read:too_large"]
    ok, bad = _one(tmp_path, _http(body, [b"Content-Encoding: " + coding.encode()]))
    assert not bad and len(ok[1]["content"]) == 5_000_003


def test_binary_record_is_not_decoded(tmp_path):
    block = _http(gzip.compress(b"\x89PNG" + bytes(1000)), [b"Content-Encoding: gzip"], ctype=b"image/png")
    ok, bad = _one(tmp_path, block)
    assert len(ok) == 2 and [r["reason"] for r in bad] == ["read:warc:not_html"]


# --- records cut short ----------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.99, 0.8, 0.5, 0.3])
def test_last_record_shorter_than_its_content_length_is_truncated(tmp_path, keep):
    pages = _pages(3)
    recs = [_record(u, _http(b * 10)) for u, b in pages]
    offset = len(recs[0]) + len(recs[1])
    cut = recs[2][: int(len(recs[2]) * keep)]
    assert cut.index(b"\r\n\r\n") < len(cut) - 4  # the WARC header is whole
    ok, bad = _read(_write(tmp_path, "c.warc", recs[:2] + [cut], "plain"))
    assert [r["uri"] for r in ok] == [u for u, _ in pages[:2]]
    assert [r["reason"] for r in bad] == ["read:truncated"]
    assert bad[0]["uri"] == pages[2][0] and bad[0]["id"] == doc_id("t", pages[2][0], offset)


def test_lf_draft_last_record_cut_is_truncated(tmp_path):
    pages = _pages(3)
    recs = [_record(u, _http(b * 10, nl=b"\n"), "0.18", b"\n") for u, b in pages]
    recs[2] = recs[2][: len(recs[2]) // 2 + 100]
    ok, bad = _read(_write(tmp_path, "c.warc.gz", recs, "stream"))
    assert [r["uri"] for r in ok] == [u for u, _ in pages[:2]]
    assert [r["reason"] for r in bad] == ["read:truncated"] and bad[0]["uri"] == pages[2][0]


@pytest.mark.parametrize("keep", [0.9, 0.6, 0.4])
def test_clipped_gzip_file_does_not_keep_the_cut_record(tmp_path, keep):
    rng = random.Random(0)
    pages = _pages(3)
    big = "".join(rng.choice(string.ascii_letters + " ") for _ in range(200_000)).encode()
    pages[2] = (pages[2][0], b"<html><body><p>" + big + b"</p></body></html>")
    members = [gzip.compress(_record(u, _http(b)), mtime=0) for u, b in pages]
    data = b"".join(members)
    p = tmp_path / "clip.warc.gz"
    p.write_bytes(data[: len(members[0]) + len(members[1]) + int(len(members[2]) * keep)])
    ok, bad = _read(p)
    assert [r["uri"] for r in ok] == [u for u, _ in pages[:2]]
    assert [r["reason"] for r in bad] == ["read:truncated"]
    assert bad[0]["uri"] == pages[2][0] and "EOFError" in bad[0]["detail"]


def test_clipped_gzip_file_cut_between_records_keeps_all_before(tmp_path):
    members = [gzip.compress(_record(u, _http(b)), mtime=0) for u, b in _pages(3)]
    p = tmp_path / "clip.warc.gz"
    p.write_bytes(b"".join(members[:2]) + members[2][:10])
    ok, bad = _read(p)
    assert len(ok) == 2 and [r["reason"] for r in bad] == ["read:truncated"]


# --- ids ------------------------------------------------------------------------------------------


def test_ids_are_source_uri_and_offset_and_name_stands_in_for_a_missing_uri(tmp_path):
    pages = _pages(2)
    recs = [_record(u, _http(b)) for u, b in pages] + [_record(None, PAGE, rtype="resource")]
    p = _write(tmp_path, "ids.warc", recs, "plain")
    ok, bad = _read(p, name="crawl/ids.warc")
    offsets = [0, len(recs[0]), len(recs[0]) + len(recs[1])]
    assert not bad
    assert [r["uri"] for r in ok] == [pages[0][0], pages[1][0], f"crawl/ids.warc#{offsets[2]}"]
    assert [r["id"] for r in ok] == [doc_id("t", r["uri"], o) for r, o in zip(ok, offsets)]
    assert [r["offset"] for r in ok] == offsets


def test_empty_body_with_a_content_encoding_is_empty_not_broken(tmp_path):
    ok, bad = _one(tmp_path, _http(b"", [b"Content-Encoding: gzip"]))
    assert len(ok) == 2 and [r["reason"] for r in bad] == ["read:empty"]


def test_last_record_without_its_closing_line_ends_is_kept(tmp_path):
    recs = [_record(u, _http(b)) for u, b in _pages(3)]
    recs[2] = recs[2][:-4]
    ok, bad = _read(_write(tmp_path, "e.warc", recs, "plain"))
    assert len(ok) == 3 and not bad


def test_file_cap_hit_inside_a_record_is_one_gzip_bomb(tmp_path):
    rng = random.Random(2)
    pages = _pages(3)
    pages[2] = (pages[2][0], b"<p>" + "".join(rng.choice(string.ascii_letters) for _ in range(300_000)).encode())
    recs = [_record(u, _http(b)) for u, b in pages]
    p = _write(tmp_path, "cap.warc.gz", recs, "member")
    ok, bad = _read(p, max_decomp=len(recs[0]) + len(recs[1]) + 100_000)
    assert [r["uri"] for r in ok] == [u for u, _ in pages[:2]]
    assert [r["reason"] for r in bad] == ["read:gzip_bomb"]


def test_non_html_payload_holding_a_warc_is_not_mistaken_for_a_bad_length(tmp_path):
    inner = _record("http://inner/", _http(PAGE))
    block = _http(b"x\n" + inner, ctype=b"application/warc")
    ok, bad = _one(tmp_path, block)
    assert [r["uri"] for r in ok] == ["http://x.example/0", "http://x.example/2"]
    assert [r["reason"] for r in bad] == ["read:warc:not_html"]
