"""JSONL and Parquet records: fields map by name whatever else a record holds, rows count one by one.

A record may carry fields named like the raw record's own keys (``source``, ``offset``,
``content``, ``id``): they go to meta and never break the read. A record's own ``id`` is kept
as ``meta.source_id``; the document id stays ``doc_id(source, uri, offset)``.
"""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.extractors.config import ExtractConfig
from curate.extractors.dispatch import Extractors, extract_record
from curate.io.readers import is_reject, read_file
from curate.schema import DOCUMENT_SCHEMA, doc_id, new_document, to_table


def _read(path, source="t"):
    recs = list(read_file(str(path), "auto", source, 10_000_000, 100_000_000))
    return [r for r in recs if not is_reject(r)], [r for r in recs if is_reject(r)]


CLASHING = {"source": "upstream-crawl", "offset": 1234, "content": "not the text", "format": "weird", "meta": "{}"}


@pytest.mark.parametrize("field", ["text", "html"])
def test_jsonl_record_with_clashing_field_names(tmp_path, field):
    p = tmp_path / "d.jsonl"
    body = "hello world" if field == "text" else "<p>hello world</p>"
    rows = [
        {field: body, "url": "https://x.example/a", "id": "doc-7", "title": "A title", **CLASHING},
        {field: body, "uri": "https://x.example/b", "lang": "en"},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ok, bad = _read(p)
    assert not bad and len(ok) == 2
    a, b = ok
    assert a["format"] == field and a["source"] == "t" and a["uri"] == "https://x.example/a"
    assert a["content"] == (body if field == "text" else body.encode())
    assert a["id"] == doc_id("t", "https://x.example/a", a["offset"]) and a["offset"] == 1
    meta = json.loads(a["meta"])
    assert meta == {**CLASHING, "source_id": "doc-7", "title": "A title"}
    assert b["uri"] == "https://x.example/b" and json.loads(b["meta"]) == {"lang": "en"}


def test_own_ids_do_not_become_document_ids(tmp_path):
    """Two records with the same own id (or an id that is not a string) get distinct, stable ids."""
    p = tmp_path / "d.jsonl"
    p.write_text(
        json.dumps({"text": "one", "id": "same"}) + "\n"
        + json.dumps({"text": "two", "id": "same"}) + "\n"
        + json.dumps({"text": "three", "id": 17}) + "\n"
    )
    ok, bad = _read(p)
    assert not bad and len({r["id"] for r in ok}) == 3
    assert [json.loads(r["meta"])["source_id"] for r in ok] == ["same", "same", 17]
    assert [r["id"] for r in ok] == [r["id"] for r in _read(p)[0]]
    assert all(r["id"] == doc_id("t", r["uri"], r["offset"]) for r in ok)


def test_parquet_record_with_clashing_column_names(tmp_path):
    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({
        "text": ["alpha beta", "gamma delta"],
        "url": ["https://x.example/1", None],
        "id": ["r1", "r2"],
        "title": ["T1", None],
        "source": ["s", "s"],
        "offset": [10, 20],
        "content": ["c1", "c2"],
    }), p)
    ok, bad = _read(p)
    assert not bad and [r["content"] for r in ok] == ["alpha beta", "gamma delta"]
    assert ok[0]["uri"] == "https://x.example/1" and ok[1]["uri"].endswith("d.parquet#1")
    m0, m1 = (json.loads(r["meta"]) for r in ok)
    assert m0 == {"source_id": "r1", "title": "T1", "source": "s", "offset": 10, "content": "c1"}
    assert m1["source_id"] == "r2" and m1["offset"] == 20
    assert len({r["id"] for r in ok}) == 2 and all(r["source"] == "t" for r in ok)


def test_curate_reads_its_own_documents_parquet(tmp_path):
    docs = [
        new_document(source="web", uri="https://x.example/p", format="html", text="# Page\n\nSome *markdown* text.",
                     extractor="trafilatura", meta={"title": "Page"}, lang="en", lang_score=0.98,
                     scores={"quality": 0.5}),
        new_document(source="books", uri="file:b.txt", format="text", text="Plain text\nover two lines.",
                     extractor="passthrough"),
    ]
    p = tmp_path / "docs.parquet"
    table = to_table(docs)
    assert table.schema == DOCUMENT_SCHEMA
    pq.write_table(table, p)
    ok, bad = _read(p, source="again")
    assert not bad and len(ok) == 2
    assert [r["content"] for r in ok] == [d["text"] for d in docs]
    assert [r["uri"] for r in ok] == [d["uri"] for d in docs]
    assert all(r["format"] == "text" for r in ok)  # already extracted: the text passes through as is
    metas = [json.loads(r["meta"]) for r in ok]
    assert [m["source_id"] for m in metas] == [d["id"] for d in docs]
    assert [m["source"] for m in metas] == ["web", "books"] and [m["format"] for m in metas] == ["html", "text"]
    assert all(r["source"] == "again" and r["id"] == doc_id("again", r["uri"], r["offset"]) for r in ok)
    # ... and extracts to a Document with the same text.
    cfg = ExtractConfig(isolate=False)
    out = [extract_record(r, Extractors(cfg)) for r in ok]
    assert [d["text"] for d in out] == [d["text"] for d in docs]


def test_parquet_without_text_column_rejects_every_row(tmp_path):
    p = tmp_path / "notext.parquet"
    pq.write_table(pa.table({"body": [f"row {i}" for i in range(5)], "url": [f"u{i}" for i in range(5)]}), p)
    ok, bad = _read(p)
    assert not ok and len(bad) == 5
    assert all(r["reason"] == "read:no_text" and r["detail"] for r in bad)
    assert len({r["id"] for r in bad}) == 5


def test_parquet_rows_without_text_are_counted_one_by_one(tmp_path):
    """A text column with nulls: the good rows are kept, each null row is its own reject."""
    p = tmp_path / "some.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c", None]}), p, row_group_size=2)
    ok, bad = _read(p)
    assert [r["content"] for r in ok] == ["a", "c"]
    assert [r["reason"] for r in bad] == ["read:no_text", "read:no_text"]
    assert len({r["id"] for r in ok + bad}) == 4
