"""Readers on good and bad input: every bad record is a reject with a reason, good ones survive."""

import gzip
import json

import pytest

from curate.errors import InputError
from curate.io import files
from curate.io.charset import decode_html
from curate.io.readers import is_reject, read_file
from curate.sample.generate import _warc_record, write_warc
import random


def _read(path, fmt="auto", max_record=10_000_000, max_decomp=100_000_000):
    recs = list(read_file(str(path), fmt, "t", max_record, max_decomp))
    return [r for r in recs if not is_reject(r)], [r for r in recs if is_reject(r)]


def _pages(n):
    return [(f"https://x.example/{i}", f"<html><body><p>page number {i}</p></body></html>") for i in range(n)]


def test_warc_gz_reads_html_records(tmp_path):
    p = tmp_path / "a.warc.gz"
    write_warc(str(p), iter(_pages(5)), 1)
    ok, bad = _read(p)
    assert [r["uri"] for r in ok] == [f"https://x.example/{i}" for i in range(5)]
    assert not bad and ok[0]["format"] == "html" and b"page number 0" in ok[0]["content"]
    assert len({r["id"] for r in ok}) == 5


def test_plain_warc(tmp_path):
    gz = tmp_path / "a.warc.gz"
    write_warc(str(gz), iter(_pages(3)), 1)
    plain = tmp_path / "a.warc"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    ok, bad = _read(plain)
    assert len(ok) == 3 and not bad


def test_truncated_gzip_keeps_records_before_the_cut(tmp_path):
    p = tmp_path / "cut.warc.gz"
    write_warc(str(p), iter(_pages(6)), 1)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.7)])
    ok, bad = _read(p)
    assert 2 <= len(ok) < 6
    assert len(bad) == 1 and bad[0]["reason"] in ("read:truncated", "read:warc:corrupt")


def test_warc_with_broken_record_in_the_middle(tmp_path):
    rng = random.Random(0)
    recs = [_warc_record(u, h.encode(), "2024-01-01T00:00:00Z", rng) for u, h in _pages(5)]
    broken = gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: notanumber\r\n\r\ngarbage", mtime=0)
    p = tmp_path / "mid.warc.gz"
    p.write_bytes(b"".join(recs[:2]) + broken + b"".join(recs[2:]))
    ok, bad = _read(p)
    assert [r["uri"] for r in ok] == [f"https://x.example/{i}" for i in range(5)]
    assert len(bad) == 1 and bad[0]["reason"] in ("read:warc:corrupt", "read:empty")


@pytest.mark.parametrize("delta", [5000, -40])
@pytest.mark.parametrize("compressed", [True, False])
def test_warc_content_length_that_lies(tmp_path, delta, compressed):
    rng = random.Random(0)
    recs = [_warc_record(u, h.encode() * 5, "2024-01-01T00:00:00Z", rng) for u, h in _pages(5)]
    raw = gzip.decompress(recs[2])
    i = raw.index(b"Content-Length: ") + 16
    j = raw.index(b"\r\n", i)
    lying = raw[:i] + str(int(raw[i:j]) + delta).encode() + raw[j:]
    data = b"".join(recs[:2]) + gzip.compress(lying) + b"".join(recs[3:])
    p = tmp_path / ("l.warc.gz" if compressed else "l.warc")
    p.write_bytes(data if compressed else gzip.decompress(data))
    ok, bad = _read(p)
    kept = {r["uri"] for r in ok}
    assert {f"https://x.example/{i}" for i in (0, 1, 3, 4)} <= kept  # neighbours never lost
    assert len(ok) + len(bad) == 5 and all(r["uri"].endswith("/2") for r in bad)


def test_gzip_bomb_is_cut_off(tmp_path):
    p = tmp_path / "bomb.jsonl.gz"
    with gzip.open(p, "wb") as f:
        for _ in range(200):
            f.write(b'{"text": "' + b"a" * 100_000 + b'"}\n')
    ok, bad = _read(p, max_decomp=1_000_000)
    assert bad and bad[-1]["reason"] == "read:gzip_bomb"
    assert len(ok) < 200


def test_html_folder_non_utf8_and_empty(tmp_path):
    (tmp_path / "latin.html").write_bytes("<html><head><meta charset='iso-8859-1'></head><body>café</body></html>".encode("latin-1"))
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a page")
    found = files.expand([str(tmp_path)])
    assert [p.rsplit("/", 1)[1] for p, _ in found] == ["empty.html", "latin.html", "notes.txt"]
    ok, bad = _read(tmp_path / "latin.html")
    assert decode_html(ok[0]["content"])[0].count("café") == 1
    ok, bad = _read(tmp_path / "empty.html")
    assert not ok and bad[0]["reason"] == "read:empty"
    ok, bad = _read(tmp_path / "notes.txt")
    assert bad[0]["reason"] == "read:unknown_format"


def test_charset_detection():
    assert decode_html("Grüße".encode("utf-8"))[0] == "Grüße"
    assert decode_html("<p>Grüße</p>".encode("utf-16-le"))[0] == "<p>Grüße</p>"  # no BOM
    assert decode_html("<p>Grüße</p>".encode("utf-16"))[0] == "<p>Grüße</p>"  # BOM
    text, enc = decode_html("<p>naïve résumé</p>".encode("cp1252"))
    assert "résumé" in text
    assert decode_html(b"\xff\xfe\x00\x00bad")[0]  # never raises


def test_jsonl_text_html_and_bad_lines(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(
        b'{"text": "hello world", "url": "u1", "lang": "en"}\n'
        b"{not json\n"
        b'{"html": "<p>hi</p>"}\n'
        b'["a list"]\n'
        b'{"other": 1}\n'
        b'{"text": "lone \\ud800 surrogate"}\n'
    )
    ok, bad = _read(p)
    assert [r["format"] for r in ok] == ["text", "html", "text"]
    assert json.loads(ok[0]["meta"]) == {"lang": "en"} and ok[0]["uri"] == "u1"
    assert sorted(r["reason"] for r in bad) == ["read:jsonl:bad_json", "read:jsonl:not_object", "read:no_text"]


def test_parquet_reader(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a b c", "d e f"], "url": ["u1", "u2"]}), p)
    ok, bad = _read(p)
    assert [r["content"] for r in ok] == ["a b c", "d e f"] and not bad
    q = tmp_path / "bad.parquet"
    q.write_bytes(b"PAR1 not really")
    ok, bad = _read(q)
    assert bad[0]["reason"] == "read:parquet:invalid"


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does-not-exist"):
        files.expand([str(tmp_path / "does-not-exist")])


def test_oversized_record_is_rejected(tmp_path):
    p = tmp_path / "big.html"
    p.write_bytes(b"<p>" + b"x" * 5000 + b"</p>")
    ok, bad = _read(p, max_record=1000)
    assert not ok and bad[0]["reason"] == "read:too_large"
