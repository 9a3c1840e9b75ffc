"""HTML extraction on the web as it is: one small page per markup class that used to lose or
corrupt content, asserting the exact Markdown of its formulas, code and prose."""

from __future__ import annotations

import pytest

from curate.extractors.config import HTMLConfig
from curate.extractors.html import HTMLExtractor

FILLER = (
    "<p>This paragraph explains the topic in ordinary words so that the page has a real body of text, "
    "which is what a main-content extractor looks for before it keeps anything at all from a page.</p>"
    "<p>A second paragraph follows with more explanation, a few more sentences about the method, and "
    "some remarks on how the result is used in practice by the people who read this article.</p>"
)


def page(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>Test page</title>{head}</head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/about'>About us</a></li></ul></nav>"
        f"<article><h1>Article heading</h1>{FILLER}{body}{FILLER}</article>"
        "<footer><p>Copyright footer text, all rights reserved, contact the webmaster.</p></footer></body></html>"
    )


@pytest.fixture(scope="module")
def ex():
    return HTMLExtractor(HTMLConfig())


def run(ex, body, head="", cfg=None):
    extractor = ex if cfg is None else HTMLExtractor(cfg)
    return extractor.extract(page(body, head).encode("utf-8"), "https://example.org/a", None)


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


# Markdown as training text ------------------------------------------------------------------

def test_prose_has_no_escapes_emphasis_or_inline_html(ex):
    body = ("<p>Register <b>SENSOR_SERVICE</b> with id 1-68474-1_13, then <em>*um</em> the "
            "<u>value</u> x<sup>2</sup> [sic] and a_b*c.</p>")
    text, _ = run(ex, body)
    assert "Register SENSOR_SERVICE with id 1-68474-1_13, then *um the value x2 [sic] and a_b*c." in paragraphs(text)


def test_emphasis_when_configured(ex):
    text, _ = run(ex, "<p>Some <b>bold words</b> and <i>italic</i> here in a sentence.</p>",
                  cfg=HTMLConfig(emphasis=True))
    assert "Some **bold words** and *italic* here in a sentence." in paragraphs(text)


def test_inline_code_text_exact(ex):
    body = "<p>Call <code>f(a,  b_c)</code> then <code>x`y</code> and <code> padded </code> now.</p>"
    text, _ = run(ex, body)
    assert "Call `f(a,  b_c)` then ``x`y`` and ` padded ` now." in paragraphs(text)


def test_headings_lists_quotes_tables(ex):
    body = ("<h2>Section two</h2><ul><li>first item</li><li>second_item</li></ul><ol><li>step one</li>"
            "<li>step two</li></ol><blockquote><p>quoted words stand here</p></blockquote>"
            "<table><tr><th>name</th><th>value</th></tr><tr><td>a|b</td><td>1</td></tr></table>")
    text, _ = run(ex, body)
    ps = paragraphs(text)
    assert "## Section two" in ps and "- first item\n- second_item" in ps and "1. step one\n2. step two" in ps
    assert "> quoted words stand here" in ps
    assert "| name | value |\n|---|---|\n| a\\|b | 1 |" in ps
