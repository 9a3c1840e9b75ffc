"""Property-based fuzzing of the HTML and PDF extractors: a result or a Reject, never a crash.

Markup is built from fragments that exercise the math and code paths (MathJax scripts,
KaTeX annotations, MathML, formula images, code tables, entities, broken nesting); PDFs
are valid files with bytes flipped, cut or spliced. benchmarks/fuzz.py runs longer.
"""

import os

import pymupdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.errors import Reject
from curate.extractors.config import HTMLConfig, PDFConfig
from curate.extractors.html import HTMLExtractor
from curate.extractors.pdf import PDFExtractor

EXAMPLES = int(os.environ.get("CURATE_FUZZ_EXAMPLES", "60"))

FRAGMENTS = [
    "<p>", "</p>", "<div>", "</div>", "<pre>", "</pre>", "<code class='language-python'>", "</code>",
    "<table class='highlight'><tr><td class='linenos'>1</td><td>", "</td></tr></table>",
    "<script type='math/tex'>", "<script type='math/tex; mode=display'>", "</script>",
    "<span class='katex'><annotation encoding='application/x-tex'>", "</annotation></span>",
    "<math><mfrac><mi>a</mi><mn>2</mn></mfrac>", "<msqrt><mi>x</mi></msqrt></math>", "<math alttext='x^2'>",
    "<img class='latex' alt='\\frac{1}{2}'>", "<img src='https://latex.codecogs.com/png.latex?x%5E2'>",
    "<mjx-container><mjx-assistive-mml><math><mi>y</mi></math></mjx-assistive-mml></mjx-container>",
    "$x$", "$$\\int_0^1 f$$", "\\(a+b\\)", "\\[", "\\]", "\\begin{align}", "\\end{align}", "&amp;", "&lt;", "&#0;",
    "&#xD800;", "<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE x [<!ENTITY e 'v'>]>", "&e;", "<article>", "</article>",
    "<nav><a href='/'>Home</a></nav>", "<h1>", "</h1>", "<ul><li>", "</li></ul>", "<td>", "<tr>", "\x00", "\ufeff",
]
SENTENCE = "The quick harbour ferry carries bread and letters across the bay every morning. "


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.just(SENTENCE * 3), st.text(max_size=40)), max_size=80),
       as_bytes=st.booleans())
def test_html_extractor_never_crashes(parts, as_bytes):
    page = "<html><body>" + "".join(parts) + "</body></html>"
    content = page.encode("utf-8", "surrogatepass") if as_bytes else page
    try:
        text, meta = HTMLExtractor(HTMLConfig(min_chars=0)).extract(content, "https://fuzz.example/", None)
    except Reject as r:
        assert r.reason.startswith(("extract:", "error:"))
        return
    assert isinstance(text, str) and isinstance(meta, dict)


def _pdf() -> bytes:
    doc = pymupdf.open()
    for i in range(2):
        doc.new_page().insert_text((72, 72), f"Page {i} of a small fuzzing document with $x^2$ in it.")
    return doc.tobytes()


VALID_PDF = _pdf()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pdf_extractor_never_crashes(data):
    raw = bytearray(VALID_PDF)
    for _ in range(data.draw(st.integers(1, 5))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(raw) - 1)) if raw else 0
        if op == "flip" and raw:
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del raw[i:]
        else:
            raw[i:i] = data.draw(st.binary(max_size=32))
    try:
        text, meta = PDFExtractor(PDFConfig(min_chars=0)).extract(bytes(raw), "fuzz.pdf")
    except Reject as r:
        assert r.reason.startswith(("extract:", "error:"))
        return
    assert isinstance(text, str)
