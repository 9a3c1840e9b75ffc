"""Property-based fuzzing of every reader: arbitrary bytes never escape as an exception.

Each reader gets random bytes, and mutations of a valid file (bit flips, cuts, splices);
whatever comes back is a raw record or a reject with a reason. A longer run lives in
benchmarks/fuzz.py.
"""

import functools
import gzip
import os
import random
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.io.readers import is_reject, read_file
from curate.sample.generate import _warc_record

EXAMPLES = int(os.environ.get("CURATE_FUZZ_EXAMPLES", "60"))
SUFFIXES = [".warc.gz", ".warc", ".html", ".jsonl", ".jsonl.gz", ".parquet", ".pdf"]


@functools.lru_cache(maxsize=None)
def _valid(suffix: str) -> bytes:
    """One valid file per suffix, made once: hypothesis replays need the same bytes every time
    (a PDF's bytes carry its creation time)."""
    rng = random.Random(0)
    if suffix.startswith(".warc"):
        data = b"".join(_warc_record(f"https://x/{i}", b"<p>hello</p>" * 20, "2024-01-01T00:00:00Z", rng) for i in range(3))
        return data if suffix.endswith(".gz") else gzip.decompress(data)
    if suffix == ".jsonl":
        return b'{"text": "one"}\n{"html": "<p>two</p>"}\n'
    if suffix == ".jsonl.gz":
        return gzip.compress(b'{"text": "one"}\n{"text": "two"}\n')
    if suffix == ".pdf":
        import pymupdf

        doc = pymupdf.open()
        doc.new_page().insert_text((72, 72), "hello pdf")
        return doc.tobytes()
    if suffix == ".parquet":
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.table({"text": ["a", "b"]}), buf)
        return buf.getvalue()
    return b"<html><body><p>page</p></body></html>"


def _check(suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        for rec in read_file(path, "auto", "fuzz", 1_000_000, 10_000_000):
            if is_reject(rec):
                assert rec["reason"] and rec["step"] == "read"
            else:
                assert rec["format"] in ("html", "text", "pdf") and rec["id"]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=4096))
def test_random_bytes(suffix, data):
    _check(suffix, data)


@settings(max_examples=EXAMPLES + 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(SUFFIXES), data=st.data())
def test_mutated_valid_files(suffix, data):
    raw = bytearray(_valid(suffix))
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "nul"]))
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del raw[i:]
        elif op == "insert":
            raw[i:i] = data.draw(st.binary(max_size=64))
        else:
            raw[i:i] = b"\x00" * data.draw(st.integers(1, 16))
    _check(suffix, bytes(raw))
