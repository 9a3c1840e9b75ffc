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


# Q&A and forum threads ----------------------------------------------------------------------

def qa_page(n_answers: int = 2) -> str:
    answers = "".join(
        f"<div class='answer' id='answer-{i}'><div class='votecell'>{i + 3}</div>"
        f"<div class='answercell'><div class='s-prose js-post-body'><p>Answer {i} says the bound is "
        f"$n^{i}$ because every step keeps the invariant, which the reader can check by hand.</p></div>"
        f"<ul class='comments-list'><li><span class='comment-copy'>Comment on answer {i}: $k_{i}$ works.</span>"
        "</li></ul></div></div>" for i in range(1, n_answers + 1))
    return (
        "<html><head><title>Bound question</title>" + MATHJAX + "</head><body><nav><a href='/'>Home</a></nav>"
        "<div id='mainbar'><h1>How large is the bound?</h1><div class='question' id='question'>"
        "<div class='s-prose js-post-body'><p>Why is $a_1 + b$ bounded by the sum of the parts here? I tried "
        "induction on the length of the sequence and got stuck at the second step.</p>"
        "<pre><code>print(a_1)</code></pre></div>"
        "<ul class='comments-list'><li><span class='comment-copy'>What have you tried so far?</span></li></ul>"
        "</div><div id='answers'>" + answers + "</div></div>"
        "<div id='sidebar'><div class='related'><a href='/q/2'>Another question about bounds</a></div></div>"
        "</body></html>"
    )


MATHJAX = "<script src='https://cdn.example/mathjax/tex-chtml.js'></script>"


def test_qa_thread_keeps_question_every_answer_and_comments(ex):
    text, meta = ex.extract(qa_page().encode(), "https://qa.example/q/1", None)
    assert paragraphs(text) == [
        "# How large is the bound?",
        "Why is $a_1 + b$ bounded by the sum of the parts here? I tried induction on the length of the sequence "
        "and got stuck at the second step.",
        "```\nprint(a_1)\n```",
        "What have you tried so far?",
        "Answer 1 says the bound is $n^1$ because every step keeps the invariant, which the reader can check by hand.",
        "Comment on answer 1: $k_1$ works.",
        "Answer 2 says the bound is $n^2$ because every step keeps the invariant, which the reader can check by hand.",
        "Comment on answer 2: $k_2$ works.",
    ]


def test_qa_thread_comments_configurable(ex):
    text, _ = HTMLExtractor(HTMLConfig(thread_comments=False)).extract(qa_page().encode(), "u", None)
    assert "Answer 2 says" in text and "Comment on answer" not in text and "What have you tried" not in text


def test_forum_posts_in_table_cells(ex):
    posts = "".join(
        f"<table class='tborder' id='post{i}'><tr><td class='alt2'>user{i}<br>Junior Member</td>"
        f"<td class='alt1'><div id='post_message_{i}'><blockquote class='postcontent restore'>Reply {i} here: "
        f"[tex]x^{i} + y_{i}[/tex] is the identity we need, and [itex]z_{i}[/itex] is its inline form."
        "</blockquote></div></td></tr></table>" for i in range(1, 4))
    html = (f"<html><head><title>Forum thread</title></head><body><div id='header'><a href='/'>Forum home</a></div>"
            f"<h1>Identity question</h1>{posts}<div id='footer'>Powered by a forum engine</div></body></html>")
    text, _ = ex.extract(html.encode(), "https://forum.example/t/1", None)
    for i in range(1, 4):
        assert f"Reply {i} here: $$x^{i} + y_{i}$$ is the identity we need, and ${'z_' + str(i)}$ is its inline form." \
            in paragraphs(text)


# Math delimiters the page configures ------------------------------------------------------------

MJ3_CONFIG = ("<script>window.MathJax = {tex: {inlineMath: [['##', '##'], ['\\\\(', '\\\\)']], "
              "displayMath: [['@@', '@@']]}};</script><script src='https://cdn.example/mathjax@3/tex-chtml.js'></script>")
MJ2_CONFIG = ("<script type='text/x-mathjax-config'>MathJax.Hub.Config({tex2jax: {inlineMath: [['%%','%%']], "
              "displayMath: [['!!','!!']]}});</script>")
KATEX_CONFIG = ("<script>document.addEventListener('DOMContentLoaded', function() { renderMathInElement(document.body, "
                "{delimiters: [{left: '\\\\begin{eq}', right: '\\\\end{eq}', display: true}, "
                "{left: '((', right: '))', display: false}], throwOnError: false}); });</script>")


@pytest.mark.parametrize("head, inline, display", [
    (MJ3_CONFIG, "##x_1 + y_2##", "@@\\sum_{i} a_i@@"),
    (MJ2_CONFIG, "%%x_1 + y_2%%", "!!\\sum_{i} a_i!!"),
    (KATEX_CONFIG, "((x_1 + y_2))", "\\begin{eq}\\sum_{i} a_i\\end{eq}"),
])
def test_page_configured_delimiters(ex, head, inline, display):
    text, meta = run(ex, f"<p>Let {inline} be the sum, and then</p><p>{display}</p><p>holds for every case.</p>", head)
    ps = paragraphs(text)
    assert "Let $x_1 + y_2$ be the sum, and then" in ps and "$$\\sum_{i} a_i$$" in ps
    assert "\\_" not in text and meta["formulas"] == 2


def test_forum_tags(ex):
    body = ("<p>Inline [itex]a_1[/itex], [math]b_2[/math], [latex]c_3[/latex] and display "
            "[tex]\\frac{d_4}{2}[/tex] in one post.</p>")
    text, meta = run(ex, body)
    assert "Inline $a_1$, $b_2$, $c_3$ and display $$\\frac{d_4}{2}$$ in one post." in paragraphs(text)
    assert meta["formulas"] == 4


# AsciiMath ---------------------------------------------------------------------------------------

def test_asciimath_converted_to_latex(ex):
    head = "<script src='https://cdn.example/ASCIIMathML.js'></script>"
    body = ("<p>The sum `sum_(i=1)^n i^3=((n(n+1))/2)^2` holds, and typing \\`x^2\\` gives `x^2`.</p>"
            "<p>Spacing `\\ \\ \\ ` only, then `sqrt(x+1)`.</p>")
    text, meta = run(ex, body, head)
    ps = paragraphs(text)
    assert ("The sum ${\\sum}_{i = 1}^{n} {i}^{3} = {\\left(\\frac{n \\left(n + 1\\right)}{2}\\right)}^{2}$ holds, "
            "and typing `x^2` gives ${x}^{2}$.") in ps
    assert "Spacing only, then $\\sqrt{x + 1}$." in ps
    assert meta["formulas"] == 3


# Formula-only blocks and loose text ---------------------------------------------------------------

def test_formula_only_blocks_and_loose_text(ex):
    body = ("<p>The identities below are standard and used throughout the rest of the article.</p>"
            "<dl><dd>$$a_1 = b_1$$</dd></dl><ul><li>$$a_2 = b_2$$</li></ul><div>$$a_3 = b_3$$</div>"
            "<center>$$a_4 = b_4$$</center>"
            "<div class='answer'>Typing $x_1$ gives the first value.<p></p>You might also write $x_2$ there."
            "<h3>A heading between the runs</h3>Then the last loose run with $x_3$.</div>")
    text, meta = run(ex, body, MATHJAX)
    ps = paragraphs(text)
    for i in range(1, 5):
        assert f"$$a_{i} = b_{i}$$" in ps
    assert "Typing $x_1$ gives the first value." in ps and "You might also write $x_2$ there." in ps
    assert "### A heading between the runs" in ps and "Then the last loose run with $x_3$." in ps


# <math> holding raw TeX, left open -----------------------------------------------------------------

def test_math_element_with_raw_tex_and_unclosed(ex):
    body = ("<p>Let <math>x_{1} + \\frac{a}{b} = 50\\%</math> be the first value in the list.</p>"
            "<p>Then <math>\\alpha^{2} and the text goes on after it</p>"
            "<div>Also <math><mi>y</mi> which is left open <b>with bold words</b> after it</div>")
    text, meta = run(ex, body)
    ps = paragraphs(text)
    assert "Let $x_{1} + \\frac{a}{b} = 50\\%$ be the first value in the list." in ps
    assert "Then $\\alpha^{2}$ and the text goes on after it" in ps
    assert "Also $y$ which is left open with bold words after it" in ps


# Code in wrappers trafilatura takes for chrome --------------------------------------------------------

@pytest.mark.parametrize("wrapper", ["code-toolbar", "highlight-options", "code-meta", "expand-code",
                                     "copy-button-wrapper"])
def test_code_in_wrapper_with_chrome_substring(ex, wrapper):
    body = (f"<p>The snippet below prints the value.</p><div class='{wrapper}'><pre><code class='language-python'>"
            "x_1 = 2\nprint(x_1)</code></pre></div><p>After the snippet the text goes on.</p>")
    text, meta = run(ex, body)
    assert "```python\nx_1 = 2\nprint(x_1)\n```" in paragraphs(text) and meta["code_blocks"] == 1


def test_pre_lifted_out_of_button_only_wrapper(ex):
    body = ("<p>The snippet below prints the value.</p><div class='toolbar-wrap'><pre>echo $HOME</pre>"
            "<div class='toolbar'><button>Copy</button><button>Run</button></div></div>"
            "<p>After the snippet the text goes on.</p>")
    text, _ = run(ex, body)
    assert "```\necho $HOME\n```" in paragraphs(text) and "Copy" not in text


def test_code_in_real_chrome_still_dropped(ex):
    body = "<p>Main text about the topic continues here.</p>"
    html = page(body).replace("</article>", "</article><aside class='sidebar'><pre>sidebar_code()</pre></aside>")
    text, _ = ex.extract(html.encode(), "u", None)
    assert "sidebar_code" not in text


# Code line tables, by structure -------------------------------------------------------------------

def test_code_line_table_by_structure(ex):
    rows = "".join(f"<tr><td>{n}</td><td>{line}</td></tr>" for n, line in
                   enumerate(["int main(void) {", "  return 0;", "}"], start=10))
    body = f"<p>The listing below is the whole program.</p><table>{rows}</table><p>It compiles cleanly.</p>"
    text, meta = run(ex, body)
    assert "```\nint main(void) {\n  return 0;\n}\n```" in paragraphs(text) and "|" not in text


def test_blame_view_table(ex):
    rows = "".join(
        f"<tr><td>alice</td><td><a href='/c/{n}'>3f2a{n}</a></td><td>2021-03-0{n}</td>"
        f"<td data-line-number='{n}'></td><td>{line}</td></tr>"
        for n, line in enumerate(["def f(x):", "    return x * 2"], start=1))
    body = f"<p>The blame of the file follows.</p><table class='blame'>{rows}</table><p>Two lines in all.</p>"
    text, _ = run(ex, body)
    assert "```\ndef f(x):\n    return x * 2\n```" in paragraphs(text)
    assert "alice" not in text and "2021-03-01" not in text


def test_ranking_table_stays_a_table(ex):
    body = ("<p>The ranking of the players is below.</p><table><tr><td>1</td><td>Alice</td></tr>"
            "<tr><td>2</td><td>Bob</td></tr><tr><td>3</td><td>Carol</td></tr></table>")
    text, meta = run(ex, body)
    assert meta["code_blocks"] == 0 and "| 1 | Alice |" in text


# Wikipedia-style furniture, code shown twice -------------------------------------------------------

def test_wikipedia_furniture_and_display_math(ex):
    body = (
        "<div id='toc' class='toc'><h2 id='mw-toc-heading'>Contents</h2><ul><li><a href='#Details'>1 Details</a>"
        "</li></ul></div>"
        "<h2><span class='mw-headline' id='Details'>Details</span><span class='mw-editsection'>"
        "<span class='mw-editsection-bracket'>[</span><a href='/edit'>edit</a>"
        "<span class='mw-editsection-bracket'>]</span></span></h2>"
        "<p>The variance is defined as below.<sup id='cite_ref-1' class='reference'><a href='#cite_note-1'>[1]</a>"
        "</sup> It is used widely.<sup>[citation needed]</sup> Its unit is m<sup>2</sup>.</p>"
        "<dl><dd><span class='mwe-math-element'><span class='mwe-math-mathml-display'>"
        "<math display='block' alttext='{\\displaystyle \\operatorname {Var} (X)=E[(X-\\mu )^{2}]}'><mi>x</mi></math>"
        "</span></span>,</dd></dl><p>where the mean is taken over the whole population of values.</p>")
    text, _ = run(ex, body)
    ps = paragraphs(text)
    assert "## Details" in ps and "Contents" not in text and "edit" not in text
    assert "The variance is defined as below. It is used widely. Its unit is m2." in ps
    assert "$$\\operatorname {Var} (X)=E[(X-\\mu )^{2}]$$," in ps


def test_code_shown_twice_appears_once(ex):
    code = "for i in range(3):\n    print(i)"
    body = (f"<p>The loop below prints three numbers.</p><div class='highlight'><pre><span class='k'>for</span> i "
            f"<span class='ow'>in</span> range(3):\n    print(i)</pre></div><pre class='plain-copy'>{code}</pre>"
            "<p>for i in range(3): print(i)</p><p>That is the whole loop, nothing more.</p>")
    text, meta = run(ex, body)
    assert text.count("print(i)") == 1 and f"```\n{code}\n```" in paragraphs(text)


def test_network_banner_is_boilerplate(ex):
    body = ("<p>Stack Exchange network consists of 183 Q&amp;A communities including Stack Overflow, the largest "
            "online community for developers.</p><p>The real paragraph of the article stays.</p>")
    text, _ = run(ex, body)
    assert "communities" not in text and "The real paragraph of the article stays." in paragraphs(text)
