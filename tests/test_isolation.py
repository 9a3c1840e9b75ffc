"""Per-document limits: a slow document becomes extract:timeout and the worker goes on."""

import pytest

from curate.errors import Reject
from curate.extractors.config import ExtractConfig
from curate.extractors.isolation import IsolatedExtractors
from curate.io.readers import raw_record


def _page(n_par):
    body = "".join(f"<p>Paragraph {i} talks about rivers, lighthouses and bakeries at some length.</p>" for i in range(n_par))
    return raw_record("t", f"https://x.example/{n_par}", 0, "html", f"<html><body><article>{body}</article></body></html>".encode())


def test_timeout_rejects_one_document_and_recovers():
    ex = IsolatedExtractors(ExtractConfig(timeout_s=0.05))
    try:
        doc = ex.extract(_page(20))  # first record: the child's start-up is allowed for
        assert "Paragraph 19" in doc["text"]
        with pytest.raises(Reject) as e:
            ex.extract(_page(60_000))  # several MB of markup: far beyond 50 ms
        assert e.value.reason == "extract:timeout"
        doc = ex.extract(_page(5))  # a fresh child takes the next record
        assert "Paragraph 4" in doc["text"]
    finally:
        ex.close()


def test_extractor_rejects_cross_the_process_boundary():
    ex = IsolatedExtractors(ExtractConfig())
    try:
        with pytest.raises(Reject) as e:
            ex.extract(raw_record("t", "u", 0, "html", b"<html><body></body></html>"))
        assert e.value.reason.startswith("extract:html:")
    finally:
        ex.close()
