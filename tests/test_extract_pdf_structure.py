"""Structure from the text layer: headings by type size and weight, monospaced listings as
fenced code, list items, ruled tables, hyphenation repaired without gluing compounds,
ligatures spelled out, formula lines kept in order on their own lines."""

import difflib
import re

import pymupdf
import pytest

from curate.extractors import pdf_markdown as markdown
from curate.extractors.config import PDFConfig
from curate.extractors.pdf import PDFExtractor
from curate.extractors.pdf_layout import page_lines
from curate.testing.pdf_docs import FORMULAS, make, structured


def _extract(data: bytes, **cfg):
    return PDFExtractor(PDFConfig(**cfg)).extract(data, "mem://paper.pdf")


@pytest.fixture(scope="module", params=[1, 2], ids=["one_column", "two_columns"])
def paper(request):
    g, st = structured(seed=request.param, columns=request.param)
    text, meta = _extract(g.data)
    return g, st, text


def test_markdown_matches_the_known_document(paper):
    g, st, text = paper
    assert difflib.SequenceMatcher(None, text, st.markdown, autojunk=False).ratio() >= 0.99


def test_headings_levels_by_size_and_weight(paper):
    _, st, text = paper
    got = re.findall(r"(?m)^(#{1,6}) (.+)$", text)
    title, *rest = st.headings
    assert got[0] == ("#", title)
    assert [h for _, h in got] == st.headings
    assert all(len(m) == (2 if not re.match(r"\d+\.\d", h) else 3) for m, h in got[1:])


def test_code_listings_are_fenced_with_their_indentation(paper):
    _, st, text = paper
    blocks = re.findall(r"(?ms)^```\n(.*?)\n```$", text)
    assert blocks == st.code_blocks
    assert "    for x in xs:\n        total += x" in text or "for (int i" in text


def test_list_items_and_tables(paper):
    _, st, text = paper
    items = [ln for ln in st.markdown.splitlines() if ln.startswith("- ")]
    assert all(("\n" + it + "\n") in ("\n" + text + "\n") for it in items)
    assert "| Method | Score | Time |\n|---|---|---|" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert [c.strip() for r in rows for c in r.strip("|").split("|")] == st.table_cells


def test_line_end_hyphens_joined_and_compounds_kept(paper):
    _, _, text = paper
    assert "Every value was automatically checked, and the automatically-detected errors were fixed by hand." in text
    assert "auto-matically" not in text and "automaticallydetected" not in text


def test_hyphenation_rules():
    vocab = {"results", "were", "detected", "model", "based"}
    assert markdown.join("auto-", "matically checked") == "automatically checked"
    assert markdown.join("the automatically-", "detected errors") == "the automatically-detected errors"
    assert markdown.join("a well-", "known result") == "a well-known result"
    assert markdown.join("consider-", "ing that") == "considering that"  # a suffix, not a word
    assert markdown.join("the model-", "based method", vocab) == "the model-based method"  # both words in use
    assert markdown.join("re-", "sults were", vocab | {"re"}) == "results were"  # the whole word in use
    assert markdown.join("state-of-the-", "art results") == "state-of-the-art results"


def test_ligatures_spelled_out():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="F1", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text((72, 72), "The \ufb01rst \ufb02ow of the \ufb01eld", fontname="F1", fontsize=11)
    page = pymupdf.open(stream=doc.tobytes())[0]
    assert "\ufb01" in page.get_text()  # the text layer holds the ligature glyph
    lines, _ = page_lines(page)
    assert [ln.text for ln in lines] == ["The first flow of the field"]


def test_formula_lines_kept_in_order_on_their_own():
    g = make("formulas", seed=4, pages=1)
    text, _ = _extract(g.data)
    formulas = [p for p in g.truth.split("\n\n") if p in FORMULAS]
    assert len(formulas) >= 4
    assert [p for p in text.split("\n\n") if p in FORMULAS] == formulas  # each a block of its own, in order


def test_bullet_set_apart_from_its_text_is_one_item():
    """The bullet and its text are separate lines to PyMuPDF; the gap is no column gutter."""
    doc = pymupdf.open()
    page = doc.new_page()
    y = 100
    for item in ("first point of the list", "second point of the list"):
        page.insert_text((72, y), "\u2022", fontsize=10)
        page.insert_text((90, y), item, fontsize=10)
        y += 14
    page.insert_text((72, y + 20), "A closing sentence after the list ends here.", fontsize=10)
    text, _ = _extract(doc.tobytes(), min_chars=1)
    assert text.split("\n\n") == ["- first point of the list", "- second point of the list",
                                  "A closing sentence after the list ends here."]


def test_code_set_word_by_word_keeps_its_spacing_and_indentation():
    """LaTeX listings places each token itself (no space glyphs): PyMuPDF returns the tokens of
    a row as separate lines; the block must read as the program, indented by position."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "A short program follows in the listing below, for the reader.", fontsize=10)
    cw = pymupdf.get_text_length("x", "cour", 9)
    rows = [[(0, "function"), (9, "add(a,"), (16, "b)"), (19, "{")], [(4, "return"), (11, "a"), (13, "+"), (15, "b;")],
            [(0, "}")]]
    y = 110
    for row in rows:
        for col, tok in row:
            page.insert_text((72 + col * cw, y), tok, fontsize=9, fontname="cour")
        y += 11
    text, _ = _extract(doc.tobytes(), min_chars=1)
    assert "```\nfunction add(a, b) {\n    return a + b;\n}\n```" in text


def test_bold_cells_side_by_side_are_no_headings():
    """A bold line alone on its row is a heading; bold cells sharing a row (the header of a
    table without rules) are not."""
    doc = pymupdf.open()
    page = doc.new_page()
    body = "Body text of the page, set in the regular face at the body size of ten points here."
    page.insert_text((72, 80), "Results Overview", fontsize=10, fontname="hebo")
    for i in range(4):
        page.insert_text((72, 100 + 13 * i), body, fontsize=10)
    for x, cell in ((72, "Country"), (200, "Population"), (330, "Capital")):
        page.insert_text((x, 170), cell, fontsize=10, fontname="hebo")
        page.insert_text((x, 184), "value", fontsize=10)
    text, _ = _extract(doc.tobytes(), min_chars=1)
    assert text.startswith("# Results Overview\n\n")
    assert not re.search(r"(?m)^#+ (Country|Population|Capital)", text)
