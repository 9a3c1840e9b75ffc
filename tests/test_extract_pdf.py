"""PDF extraction: reading order, headers/footers, paragraphs, routing, bad input."""

import difflib
import re

import pymupdf
import pytest

from curate.errors import Reject
from curate.extractors import pdf_markdown as markdown
from curate.extractors.config import PDFConfig
from curate.extractors.pdf import PDFExtractor
from curate.testing.pdf_docs import make


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _sim(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _norm(a), _norm(b), autojunk=False).ratio()


def _extract(data: bytes, **cfg):
    return PDFExtractor(PDFConfig(**cfg)).extract(data, "mem://test.pdf")


def _reason(data: bytes, **cfg) -> str:
    with pytest.raises(Reject) as e:
        _extract(data, **cfg)
    return e.value.reason


def _text_pdf(n_pages: int = 3, body: str = "Readable body text of page {i}, long enough to keep. ") -> bytes:
    doc = pymupdf.open()
    for i in range(n_pages):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 300, 520, 500), body.format(i=i) * 3, fontsize=11)
    return doc.tobytes()


# ------------------------------------------------------------------ reading order and layout


@pytest.mark.parametrize("kind", ["one_column", "two_column", "headers"])
def test_reading_order_matches_known_text(kind):
    g = make(kind, seed=1, pages=3)
    text, meta = _extract(g.data)
    assert _sim(text, g.truth) >= 0.95
    assert [p["route"] for p in meta["pages"]] == ["text"] * g.pages


def test_two_columns_are_read_column_by_column():
    g = make("two_column", seed=2, pages=2)
    text, _ = _extract(g.data)
    paras = g.truth.split("\n\n")
    # every known paragraph appears whole, and in order
    pos = [_norm(text).find(_norm(p)) for p in paras]
    assert all(p >= 0 for p in pos), [paras[i][:40] for i, p in enumerate(pos) if p < 0]
    assert pos == sorted(pos)


def test_a_line_by_line_reading_would_fail_the_check():
    """The similarity check has teeth: reading rows across both columns scores far lower."""
    g = make("two_column", seed=2, pages=2)
    doc = pymupdf.open(stream=g.data)
    rows = "\n".join(page.get_text("text", sort=True) for page in doc)
    text, _ = _extract(g.data)
    assert _sim(rows, g.truth) < 0.8 < _sim(text, g.truth)


def test_running_headers_footers_and_page_numbers_removed():
    g = make("headers", seed=3, pages=3)
    text, meta = _extract(g.data)
    assert "Journal of Generated Results" not in text
    assert "Vol. 7" not in text
    assert not re.search(r"(?m)^\d+$", text)
    assert all(p["chrome_lines"] >= 2 for p in meta["pages"])


def test_hyphenation_joined_and_compounds_kept():
    assert markdown.join("the exam-", "ple shows") == "the example shows"
    assert markdown.join("state-of-the-", "art results") == "state-of-the-art results"
    assert markdown.join("see Figure", "3 below") == "see Figure 3 below"
    g = make("one_column", seed=4, pages=2)
    text, _ = _extract(g.data)
    # the generator hyphenates long words at line ends; none may survive as "xxx- yyy" or "xxx-yyy"
    for word in set(g.truth.split()):
        if len(word) >= 8 and word.isalpha():
            assert not re.search(re.escape(word[:4]) + r"\w*-\s?\w", text.replace(word, ""))
    assert _sim(text, g.truth) > 0.99


def test_paragraphs_rebuilt():
    g = make("one_column", seed=5, pages=1)
    text, _ = _extract(g.data)
    got = [_norm(p) for p in text.split("\n\n")]
    want = [_norm(p) for p in g.truth.split("\n\n")]
    assert got == want


def test_table_kept_as_markdown():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 520, 150), "A paragraph before the table with enough words. " * 2)
    x0, y0, cw, rh = 72, 200, 120, 24
    cells = [["Name", "Value", "Unit"], ["alpha", "1.5", "m"], ["beta", "2.25", "s"]]
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            page.draw_rect(pymupdf.Rect(x0 + c * cw, y0 + r * rh, x0 + (c + 1) * cw, y0 + (r + 1) * rh), width=0.8)
            page.insert_text((x0 + c * cw + 4, y0 + r * rh + 16), cell, fontsize=10)
    text, _ = _extract(doc.tobytes())
    assert re.search(r"\|\s*Name\s*\|\s*Value\s*\|\s*Unit\s*\|", text)
    assert re.search(r"\|\s*beta\s*\|\s*2\.25\s*\|\s*s\s*\|", text)
    assert text.index("paragraph before") < text.index("Name")
    text_off, _ = _extract(doc.tobytes(), tables=False)
    assert "|" not in text_off


# ------------------------------------------------------------------ routing


def test_formula_pages_routed_with_reason_and_keep_text_layer_without_checkpoint():
    g = make("formulas", seed=1, pages=2)
    text, meta = _extract(g.data)
    assert [p["route"] for p in meta["pages"]] == ["text"] * g.pages
    assert {p["reason"] for p in meta["pages"]} <= {"math_fonts", "formula_lines", "symbol_density"}
    assert meta["pages"][0]["math_font_ratio"] > 0.1
    assert all(p["ocr"] == "not_configured" for p in meta["pages"])
    assert meta["ocr_unavailable_pages"] == 0 and meta["ocr_pages"] == 0
    assert _sim(text, g.truth) > 0.95  # the text layer


def test_scanned_page_routed_and_counted_when_no_engine():
    g = make("scanned", seed=1)
    text, meta = _extract(g.data, tesseract=False)
    p1, p2 = meta["pages"]
    assert (p1["route"], p1["reason"], p1["ocr"]) == ("text", "scanned", "unavailable")
    assert p1["image_coverage"] > 0.9 and p1["chars"] == 0
    assert (p2["route"], p2["reason"]) == ("text", "text_layer")
    assert meta["ocr_unavailable_pages"] == 1
    assert _sim(text, g.truth) > 0.95


def test_plain_pages_not_routed_and_routing_can_be_off():
    g = make("formulas", seed=2, pages=1)
    _, meta = _extract(g.data, ocr_routing=False)
    assert [p["route"] for p in meta["pages"]] == ["text"]
    assert meta["ocr_unavailable_pages"] == 0


def test_scanned_only_document_without_ocr_is_rejected_as_ocr_unavailable():
    src = make("one_column", seed=1, pages=1)
    s = pymupdf.open(stream=src.data)
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(page.rect, pixmap=s[0].get_pixmap(dpi=72))
    assert _reason(doc.tobytes(), tesseract=False) == "extract:pdf:ocr_unavailable"


# ------------------------------------------------------------------ bad input


def test_not_a_pdf():
    assert _reason(b"") == "extract:pdf:invalid"
    assert _reason(b"<html><body>hello</body></html>") == "extract:pdf:invalid"
    assert _reason(b"%PDF-1.4\n%%EOF\n") == "extract:pdf:invalid"


def test_encrypted():
    data = pymupdf.open(stream=_text_pdf()).tobytes(
        encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner"
    )
    assert _reason(data) == "extract:pdf:encrypted"
    # an owner password alone (permissions only) does not stop reading
    data = pymupdf.open(stream=_text_pdf()).tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner")
    text, _ = _extract(data)
    assert "Readable body text of page 2" in text


def test_truncated():
    data = _text_pdf(8)
    assert _reason(data[:200]) == "extract:pdf:truncated"  # nothing recoverable
    cut = data[: int(len(data) * 0.6)]
    text, meta = _extract(cut)  # MuPDF recovers the pages it can; they are kept and flagged
    assert meta["truncated"] is True and "Readable body text of page 0" in text
    assert _reason(cut, reject_truncated=True) == "extract:pdf:truncated"


def test_zero_pages():
    raw = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    assert _reason(raw) == "extract:pdf:no_pages"


def test_over_page_cap():
    assert _reason(_text_pdf(3), max_pages=2) == "extract:pdf:too_many_pages"
    _extract(_text_pdf(3), max_pages=3)


def test_empty_document():
    doc = pymupdf.open()
    doc.new_page()
    assert _reason(doc.tobytes()) == "extract:pdf:empty"


def _with_kids(data: bytes, kids) -> bytes:
    doc = pymupdf.open(stream=data)
    pages = int(doc.xref_get_key(doc.pdf_catalog(), "Pages")[1].split()[0])
    refs = [f"{doc[i].xref} 0 R" for i in range(doc.page_count)]
    doc.xref_set_key(pages, "Kids", "[" + " ".join(kids(refs, f"{pages} 0 R")) + "]")
    return doc.tobytes()


def test_page_raising_inside_pymupdf_is_skipped_and_good_pages_kept():
    # the third entry of the page tree points back at the tree: MuPDF raises for that page
    data = _with_kids(_text_pdf(3), lambda refs, tree: [refs[0], refs[1], tree])
    with pytest.raises(Exception):
        pymupdf.open(stream=data).load_page(2)
    text, meta = _extract(data)
    assert "page 0" in text and "page 1" in text
    assert [f["page"] for f in meta["failed_pages"]] == [3]
    assert "cycle" in meta["failed_pages"][0]["error"]
    assert [p["page"] for p in meta["pages"]] == [1, 2]


def test_every_page_raising_is_a_reject():
    data = _with_kids(_text_pdf(2), lambda refs, tree: [tree])
    assert _reason(data) == "extract:pdf:page_errors"


def test_self_referencing_xobject_does_not_hang():
    doc = pymupdf.open(stream=_text_pdf(1))
    page = doc[0]
    x = doc.get_new_xref()
    doc.update_object(
        x, f"<< /Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /X1 {x} 0 R >> >> >>"
    )
    doc.update_stream(x, b"q /X1 Do Q")
    kind, val = doc.xref_get_key(page.xref, "Resources")
    res = int(val.split()[0]) if kind == "xref" else page.xref
    doc.xref_set_key(res, "XObject" if kind == "xref" else "Resources/XObject", f"<< /X1 {x} 0 R >>")
    c = page.get_contents()[0]
    doc.update_stream(c, doc.xref_stream(c) + b"\nq /X1 Do Q\n")
    text, meta = _extract(doc.tobytes())
    assert "Readable body text of page 0" in text
    assert meta["page_count"] == 1
