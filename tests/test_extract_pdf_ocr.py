"""Scanned pages through Tesseract (the CPU engine of a fresh install): `curate extract` on an
image-only PDF yields its text; the confidence and empty guards reject garbage with a reason;
without an engine the reject names what to install."""

import re
import shutil

import numpy as np
import pymupdf
import pytest
from click.testing import CliRunner

from curate.errors import Reject
from curate.extractors.config import PDFConfig
from curate.extractors.ocr_guards import check_nougat, tail_repetition
from curate.extractors.pdf import PDFExtractor
from curate.testing.pdf_docs import char_error_rate as cer
from curate.testing.pdf_docs import make, scanned

pytesseract = pytest.importorskip("pytesseract", reason="pytesseract not installed (pip install pytesseract)")
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract not installed (make tesseract / apt-get install tesseract-ocr)"
)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _extract(data: bytes, **cfg):
    return PDFExtractor(PDFConfig(**cfg)).extract(data, "mem://scan.pdf")


def _reject(data: bytes, **cfg) -> Reject:
    with pytest.raises(Reject) as e:
        _extract(data, **cfg)
    return e.value


def test_cer_helper():
    assert cer("abc", "abc") == 0 and cer("abd", "abc") == pytest.approx(1 / 3)
    assert cer("kitten", "sitting") == pytest.approx(3 / 7) and cer("", "ab") == 1


@needs_tesseract
def test_curate_extract_reads_a_scanned_pdf(tmp_path):
    from curate.cli import cli
    from curate.pipelines.shards import list_shards, read_shard

    g = scanned(seed=3, dpi=300, font="tiro", skew=0.6)
    src = tmp_path / "scans"
    src.mkdir()
    (src / "paper.pdf").write_bytes(g.data)
    assert not pymupdf.open(stream=g.data)[0].get_text().strip()  # image only
    r = CliRunner().invoke(cli, ["extract", str(src), "--output", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    docs = [d for p in list_shards(str(tmp_path / "out" / "docs")) for d in read_shard(p)]
    assert len(docs) == 1
    assert cer(docs[0]["text"], g.truth) <= 0.02
    assert "tesseract" in docs[0]["extractor"]
    import json

    page = json.loads(docs[0]["meta"])["pages"][0]
    assert (page["route"], page["reason"], page["ocr"]) == ("tesseract", "scanned", "done")
    assert page["tesseract_confidence"] >= 80


@needs_tesseract
def test_scanned_page_beside_a_text_page():
    g = make("scanned", seed=1)  # page 1: image of six paragraphs at 100 DPI; page 2: text layer
    text, meta = _extract(g.data, tesseract_dpi=150)
    p1, p2 = meta["pages"]
    assert (p1["route"], p1["reason"]) == ("tesseract", "scanned") and p2["route"] == "text"
    assert meta["ocr_pages"] == 1 and meta["ocr_unavailable_pages"] == 0
    assert g.truth in text and len(text) > 4 * len(g.truth)  # the scanned page's paragraphs came first


@needs_tesseract
def test_low_confidence_output_is_rejected_with_the_reason():
    g = scanned(seed=1, dpi=40, font="tiro", paragraphs=2)  # too coarse to read: Tesseract guesses
    e = _reject(g.data, tesseract_dpi=100)
    assert e.reason == "extract:pdf:ocr_failed"
    assert "page 1: tesseract:low_confidence (mean word confidence" in e.detail
    # beside a text page, the page keeps its (empty) text layer and says why
    doc = pymupdf.open(stream=g.data)
    doc.insert_pdf(pymupdf.open(stream=make("one_column", seed=1, pages=1).data))
    text, meta = _extract(doc.tobytes(), tesseract_dpi=100)
    p = meta["pages"][0]
    assert (p["route"], p["ocr"]) == ("text", "failed") and p["tesseract_confidence"] < 60
    assert [r["reason"] for r in p["rejected"]] == ["tesseract:low_confidence"]
    assert meta["ocr_failed_pages"] == 1
    assert text == _extract(make("one_column", seed=1, pages=1).data)[0]  # nothing of the guess kept


@needs_tesseract
def test_empty_output_is_rejected_with_the_reason():
    rng = np.random.default_rng(0)
    noise = np.where(rng.random((842, 595)) > 0.5, 0, 255).astype(np.uint8)
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, pixmap=pymupdf.Pixmap(pymupdf.csGRAY, 595, 842, noise.tobytes(), False))
    e = _reject(doc.tobytes(), tesseract_dpi=100)
    assert e.reason == "extract:pdf:ocr_failed" and "tesseract:empty" in e.detail


def test_no_engine_names_what_to_install(monkeypatch):
    g = scanned(seed=1, dpi=72, paragraphs=1)
    e = _reject(g.data, tesseract=False)
    assert e.reason == "extract:pdf:ocr_unavailable"
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in e.detail and "nougat_checkpoint" in e.detail
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    e = _reject(g.data)
    assert e.reason == "extract:pdf:ocr_unavailable" and "tesseract program is not found" in e.detail


@needs_tesseract
def test_missing_language_data_is_named():
    e = _reject(scanned(seed=1, dpi=72, paragraphs=1).data, tesseract_lang="eng+zzz")
    assert e.reason == "extract:pdf:ocr_unavailable" and "no language data for zzz" in e.detail
    assert "tesseract-ocr-zzz" in e.detail


def test_math_pages_without_nougat_keep_their_text_layer_uncounted():
    g = make("formulas", seed=1, pages=2)
    text, meta = _extract(g.data)
    assert all(p["route"] == "text" and p["ocr"] == "not_configured" for p in meta["pages"])
    assert {p["reason"] for p in meta["pages"]} <= {"math_fonts", "formula_lines", "symbol_density"}
    assert meta["ocr_unavailable_pages"] == 0 and "ocr_failed_pages" not in meta


def test_repetition_guard():
    prose = make("one_column", seed=2, pages=1).truth
    assert tail_repetition(prose) is None and check_nougat(prose) is None
    assert check_nougat("$$\\frac{1}{2}$$ and " + "\\alpha + " * 12)[0] == "nougat:repetition"
    assert check_nougat("The zero vector: " + "0 " * 20) is None  # a repeat shorter than 60 characters
    assert tail_repetition("ab" * 40) == (2, 40)
    assert check_nougat("  \n") == ("nougat:empty", "the model wrote nothing")
    assert check_nougat("[MISSING_PAGE_EMPTY:3]")[0] == "nougat:empty"
