"""HTML extraction: one written page per math/code pattern, every reject reason, safe parsing."""

from __future__ import annotations

import lxml.html
import pytest

from curate.errors import Reject
from curate.extractors.config import HTMLConfig
from curate.extractors.html import HTMLExtractor
from curate.extractors.markup import PARSER, parse_html, prepare, restore
from curate.extractors.mathml import mathml_to_latex

FILLER = (
    "<p>This paragraph explains the topic in ordinary words so that the page has a real body of text, "
    "which is what a main-content extractor looks for before it keeps anything at all from a page.</p>"
    "<p>A second paragraph follows with more explanation, a few more sentences about the method, and "
    "some remarks on how the result is used in practice by the people who read this article.</p>"
)


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><title>Test page</title>{head}</head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/about'>About us</a></li>"
        "<li><a href='/x'>Navigation link text</a></li></ul></nav>"
        f"<article><h1>Article heading</h1>{FILLER}{body}{FILLER}</article>"
        "<footer><p>Copyright footer text, all rights reserved, contact the webmaster.</p></footer></body></html>"
    )


@pytest.fixture(scope="module")
def ex():
    return HTMLExtractor(HTMLConfig())


def run(ex, body, head="", **kw):
    text, meta = ex.extract(page(body, head, **kw).encode("utf-8"), "https://example.org/a", None)
    return text, meta


MATHJAX = "<script src='https://cdn.example/mathjax/tex-chtml.js'></script>"


def test_mathjax_scripts_inline_and_display(ex):
    body = ("<p>Let <span class='MathJax_Preview'>x_1</span><script type='math/tex'>x_1 + y^2</script> be given,"
            " and then</p><div class='MathJax_Display'>rendered</div>"
            "<script type='math/tex; mode=display'>\\int_0^1 f(x)\\,dx = \\frac{a_1}{2}</script><p>holds.</p>")
    text, meta = run(ex, body, MATHJAX)
    assert "$x_1 + y^2$" in text
    assert "$$\\int_0^1 f(x)\\,dx = \\frac{a_1}{2}$$" in text
    assert "rendered" not in text and meta["formulas"] == 2


def test_mathjax3_container_with_assistive_mathml(ex):
    body = ("<p>We have <mjx-container class='MathJax' jax='CHTML'><mjx-math><mjx-c>junk</mjx-c></mjx-math>"
            "<mjx-assistive-mml><math xmlns='http://www.w3.org/1998/Math/MathML'><msup><mi>a</mi><mn>2</mn></msup>"
            "<mo>+</mo><msup><mi>b</mi><mn>2</mn></msup></math></mjx-assistive-mml></mjx-container> here.</p>"
            "<mjx-container display='true'><mjx-assistive-mml><math display='block'><mfrac><mi>π</mi><mn>4</mn>"
            "</mfrac></math></mjx-assistive-mml></mjx-container>")
    text, meta = run(ex, body)
    assert "${a}^{2}+{b}^{2}$" in text.replace("a^{2}", "{a}^{2}").replace("b^{2}", "{b}^{2}")
    assert "$$\\frac{\\pi}{4}$$" in text
    assert "junk" not in text


def test_katex_annotation(ex):
    body = ("<p>Inline <span class='katex'><span class='katex-mathml'><math><semantics><mrow><mi>e</mi></mrow>"
            "<annotation encoding='application/x-tex'>e^{i\\pi} = -1</annotation></semantics></math></span>"
            "<span class='katex-html'>e i π = − 1</span></span> and display:</p>"
            "<span class='katex-display'><span class='katex'><span class='katex-mathml'><math><semantics><mi>x</mi>"
            "<annotation encoding='application/x-tex'>\\sum_{k=1}^n k</annotation></semantics></math></span>"
            "</span></span>")
    text, _ = run(ex, body)
    assert "$e^{i\\pi} = -1$" in text and "$$\\sum_{k=1}^n k$$" in text
    assert "e i π" not in text


def test_raw_mathml_alttext_annotation_and_conversion(ex):
    body = ("<p>Alt: <math alttext='\\alpha_1'><mi>α</mi></math>. Annotated: <math><semantics><mi>y</mi>"
            "<annotation encoding='TeX'>\\beta^2</annotation></semantics></math>. Converted: "
            "<math><mrow><msqrt><mrow><msup><mi>x</mi><mn>2</mn></msup><mo>+</mo><mn>1</mn></mrow></msqrt>"
            "<mo>≤</mo><mfrac><mn>1</mn><mi>n</mi></mfrac></mrow></math>.</p>")
    text, meta = run(ex, body)
    assert "$\\alpha_1$" in text and "$\\beta^2$" in text
    assert "$\\sqrt{x^{2}+1}\\leq\\frac{1}{n}$" in text
    assert meta["formulas"] == 3


def test_mathml_converter_structures():
    def conv(s):
        return mathml_to_latex(lxml.html.fragment_fromstring(s, parser=PARSER))

    assert conv("<math><msubsup><mo>∑</mo><mi>i</mi><mi>n</mi></msubsup><msub><mi>x</mi><mi>i</mi></msub></math>") \
        == "\\sum_{i}^{n}x_{i}"
    assert conv("<math><mover><mi>v</mi><mo>→</mo></mover></math>") == "\\vec{v}"
    assert conv("<math><munder><mo>lim</mo><mrow><mi>n</mi><mo>→</mo><mi>∞</mi></mrow></munder></math>") \
        == "\\lim_{n\\to\\infty}"
    assert conv("<math><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>0</mn></mtd></mtr><mtr><mtd><mn>0</mn></mtd>"
                "<mtd><mn>1</mn></mtd></mtr></mtable></math>") == "\\begin{matrix}1 & 0 \\\\ 0 & 1\\end{matrix}"
    assert conv("<math><mroot><mi>x</mi><mn>3</mn></mroot><mi>sin</mi><mi>θ</mi></math>") == "\\sqrt[3]{x}\\sin\\theta"


def test_wikipedia_fallback_image_and_mathml(ex):
    body = ("<p>The variance <span class='mwe-math-element'><span class='mwe-math-mathml-inline'>"
            "<math alttext='{\\displaystyle \\sigma ^{2}}'><mi>σ</mi></math></span>"
            "<img class='mwe-math-fallback-image-inline' alt='{\\displaystyle \\sigma ^{2}}' src='x.svg'></span> "
            "and <img class='mwe-math-fallback-image-inline' alt='{\\displaystyle s^{2}}' src='y.svg'> are used.</p>")
    text, _ = run(ex, body)
    assert "$\\sigma ^{2}$" in text and "$s^{2}$" in text


def test_latexml_ar5iv_equation_table(ex):
    body = ("<p>Inline <math class='ltx_Math' alttext='E=mc^{2}' display='inline'><mi>E</mi></math> here.</p>"
            "<table class='ltx_equation ltx_eqn_table'><tr><td class='ltx_eqn_cell'>"
            "<math class='ltx_Math' alttext='\\nabla\\cdot E=\\rho' display='block'><mi>x</mi></math></td>"
            "<td class='ltx_eqn_eqno'>(1)</td></tr></table>")
    text, _ = run(ex, body)
    assert "$E=mc^{2}$" in text and "$$\\nabla\\cdot E=\\rho$$" in text
    assert "(1)" not in text


def test_formula_images(ex):
    body = ("<p>Image <img class='latex' alt='$\\frac{a}{b}$' src='/l.png'> and codecogs "
            "<img src='https://latex.codecogs.com/png.latex?\\int_0%5E1%20x%5E2' alt='formula'> and "
            "<img src='/wp/latex.php?latex=x%5E3&amp;bg=ffffff' alt='x^3'> and mimetex "
            "<img src='/cgi-bin/mimetex.cgi?f(z)=\\exp(z)-1'>.</p>")
    text, meta = run(ex, body)
    assert "$\\frac{a}{b}$" in text and "$\\int_0^1 x^2$" in text and "$x^3$" in text
    assert "$f(z)=\\exp(z)-1$" in text and meta["formulas"] == 4


def test_tex_delimiters_in_text_kept_and_not_escaped(ex):
    body = ("<p>Inline \\(a_1 * b_2\\) and $c_3$ and display \\[x_{n+1} = x_n^2\\] and $$y_1$$ too.</p>"
            "<p>\\begin{align} a &amp;= b_1 \\\\ c &amp;= d_2 \\end{align}</p><p>It costs $5 and $10 today.</p>")
    text, _ = run(ex, body, MATHJAX)
    assert "$a_1 * b_2$" in text and "$c_3$" in text and "$$x_{n+1} = x_n^2$$" in text and "$$y_1$$" in text
    assert "\\begin{align} a &= b_1 \\\\ c &= d_2 \\end{align}" in text
    assert "\\_" not in text.split("costs")[0]
    assert "$5 and $10" in text


def test_single_dollar_needs_a_tex_renderer(ex):
    text, meta = run(ex, "<p>Prices went from $5 to $7 and then $x$ fell.</p>")
    assert meta["formulas"] == 0 and "$5 to $7" in text


def test_pre_code_language_indentation_blank_lines(ex):
    code = "def f(x):\n    if x &gt; 1:\n\n        return x * 2_0\n\n\n    return None"
    body = f"<p>The function is below.</p><pre><code class='language-python'>{code}</code></pre><p>After.</p>"
    text, meta = run(ex, body)
    assert "```python\ndef f(x):\n    if x > 1:\n\n        return x * 2_0\n\n\n    return None\n```" in text
    assert meta["code_blocks"] == 1


def test_pygments_table_line_numbers_removed(ex):
    body = ("<p>Listing:</p><table class='highlighttable'><tr><td class='linenos'><div class='linenodiv'>"
            "<pre>1\n2\n3</pre></div></td><td class='code'><div class='highlight'><pre><span class='k'>for</span>"
            " i <span class='ow'>in</span> xs:\n    <span class='nb'>print</span>(i)\n# done</pre></div></td></tr>"
            "</table>")
    text, _ = run(ex, body)
    assert "```\nfor i in xs:\n    print(i)\n# done\n```" in text
    assert "1\n2\n3" not in text


def test_github_blob_table(ex):
    rows = "".join(
        f"<tr><td id='L{i}' class='blob-num js-line-number' data-line-number='{i}'></td>"
        f"<td class='blob-code blob-code-inner js-file-line'>{line}</td></tr>"
        for i, line in enumerate(["int main() {", "  return 0;", "}"], 1)
    )
    body = f"<p>Source file:</p><div class='highlight-source-c'><table class='highlight'>{rows}</table></div>"
    text, _ = run(ex, body)
    assert "```c\nint main() {\n  return 0;\n}\n```" in text


def test_forum_code_box_one_cell_per_line(ex):
    rows = "".join(f"<tr><td><span>{line}</span></td></tr>" for line in
                   ["function&nbsp;load(sender)&nbsp;{", "&nbsp;&nbsp;var&nbsp;v&nbsp;=&nbsp;1;", "}"])
    body = (f"<p>Here is my JS for reference:</p><div class='tFormatCodeBlock supportThreadCodeBlock'>"
            f"<table><colgroup><col></colgroup><tbody>{rows}</tbody></table></div><p>It fails.</p>")
    text, meta = run(ex, body)
    assert "```\nfunction load(sender) {\n  var v = 1;\n}\n```" in text
    assert meta["code_blocks"] == 1 and "| function" not in text


def test_one_column_table_outside_code_box_stays_a_table(ex):
    body = "<table><tr><td>plain cell one</td></tr><tr><td>plain cell two</td></tr></table>"
    text, meta = run(ex, body)
    assert meta["code_blocks"] == 0 and "plain cell one" in text and "```" not in text


def test_heading_left_open_does_not_swallow_code(ex):
    # `<h1>` never closed: lxml nests everything after it inside it, and trafilatura drops the lot
    body = ("<div class='content' id='quality'><h1>Collaborator Metric <pre><p>0.1.0 failed this metric</pre>"
            "<pre>Failure: cookbook has 0 collaborators, needs 2.</pre></pre>"
            "<h1>License Metric <pre><p>0.1.0 passed this metric</pre></pre></div>")
    text, meta = run(ex, body)
    assert "# Collaborator Metric\n\n```\n0.1.0 failed this metric\n```" in text
    assert "```\nFailure: cookbook has 0 collaborators, needs 2.\n```" in text
    assert "# License Metric\n\n```\n0.1.0 passed this metric\n```" in text
    assert meta["code_blocks"] == 3
    # trafilatura drops such a swallowing heading on some real pages: the pre-pass closes it
    tree, _ = _prepared(body)
    for h in tree.iter("h1"):
        assert h.find(".//pre") is None and h.find(".//h1") is None
    assert [h.text.strip() for h in tree.iter("h1")] == ["Article heading", "Collaborator Metric", "License Metric"]


def test_heading_with_wrapped_title_kept_as_heading(ex):
    text, _ = run(ex, "<h2><div>Wrapped section title</div></h2><p>Section text follows here.</p>")
    assert "## Wrapped section title" in text


def _prepared(body: str):
    tree = parse_html(page(body))
    return tree, prepare(tree)


def test_code_dropped_by_fallback_goes_back_after_its_paragraph():
    before = "You could try scraping whatever you need with PHP on the server, here is an example with PHP:"
    after = "This is just a minimal example to illustrate the idea, it does not sanitize the URL."
    body = (f"<p>{before}</p><pre><code>&lt;?php\necho $data;\n?&gt;</code></pre><p>{after}</p>"
            "<aside class='sidebar'><p>Related snippet in the sidebar of the page</p>"
            "<pre>sidebar();\nmore();</pre></aside>")
    _, prot = _prepared(body)
    assert len(prot.code) == 2 and 1 not in prot.anchors  # the sidebar block is never put back
    # what a fallback extractor (readability/justext) returns: the text, without the <pre>
    markdown = f"{before}\n\n{after}\n\nRelated snippet in the sidebar of the page"
    text, _, n_code = restore(markdown, prot)
    assert f"{before}\n\n```\n<?php\necho $data;\n?>\n```\n\n{after}" in text
    assert "sidebar()" not in text and n_code == 1


def test_code_dropped_with_the_text_before_it_goes_before_the_text_after_it():
    after = "This is just a minimal example to illustrate the idea, it does not sanitize the URL."
    _, prot = _prepared(f"<p>Lead words that the extractor will drop here.</p><pre>run();\nstop();</pre><p>{after}</p>")
    text, _, n_code = restore(f"Some other kept paragraph of text.\n\n{after}", prot)
    assert f"Some other kept paragraph of text.\n\n```\nrun();\nstop();\n```\n\n{after}" in text and n_code == 1


def test_code_whose_surroundings_were_dropped_stays_dropped():
    _, prot = _prepared("<p>Words around this block were all dropped by the extractor.</p><pre>gone();\nx();</pre>")
    text, _, n_code = restore("Only an unrelated paragraph about another topic entirely survived.", prot)
    assert "gone()" not in text and n_code == 0


def test_layout_tidied_outside_code_only():
    _, prot = _prepared("<pre>a = 1\n\n\n\nb = 2\n    \nc = 3</pre>")
    markdown = "Intro text.\n        \n      # Heading\n\n\n\n```\nzqxc0s\nmangled\nzqxc0e\n```\n\n\nEnd."
    text, _, _ = restore(markdown, prot)
    assert text == "Intro text.\n\n# Heading\n\n```\na = 1\n\n\n\nb = 2\n\nc = 3\n```\n\nEnd."


def test_inline_code_table_headings_lists(ex):
    body = ("<h2>Section two</h2><p>Call <code>get_value(a_b)</code> first.</p>"
            "<table><tr><th>name</th><th>value</th></tr><tr><td>alpha</td><td>1</td></tr></table>"
            "<ul><li>first item</li><li>second item</li></ul><ol><li>step one</li></ol>")
    text, _ = run(ex, body)
    assert "`get_value(a_b)`" in text
    assert "## Section two" in text
    assert "| name | value |" in text and "| alpha | 1 |" in text
    assert "- first item" in text and "1. step one" in text


def test_meta_and_boilerplate(ex):
    text, meta = run(ex, "<p>Body.</p>", lang="de-DE")
    assert meta["title"] == "Test page" and meta["url"] == "https://example.org/a" and meta["lang_hint"] == "de-DE"
    assert "Navigation link text" not in text and "Copyright footer" not in text


def test_charset_from_bytes(ex):
    html = page("<p>Größe und Übermaß, café.</p>").replace("<head>", "<head><meta charset='iso-8859-1'>")
    text, meta = ex.extract(html.encode("iso-8859-1"), "u", None)
    assert "Größe und Übermaß, café." in text and meta["encoding"] == "iso8859-1"


def test_reject_empty(ex):
    with pytest.raises(Reject) as e:
        ex.extract(b"   \n ", "u", None)
    assert e.value.reason == "extract:html:empty"
    with pytest.raises(Reject) as e:
        ex.extract(b"<html><head><title>t</title></head><body><script>var a = 1;</script></body></html>", "u", None)
    assert e.value.reason == "extract:html:empty"


def test_reject_too_short():
    ex = HTMLExtractor(HTMLConfig(min_chars=5000))
    with pytest.raises(Reject) as e:
        ex.extract(page("<p>Body.</p>").encode(), "u", None)
    assert e.value.reason == "extract:html:too_short"


def test_reject_too_large():
    ex = HTMLExtractor(HTMLConfig(max_bytes=1000))
    with pytest.raises(Reject) as e:
        ex.extract(page("<p>x</p>" * 100).encode(), "u", None)
    assert e.value.reason == "extract:too_large"


def test_reject_malformed(ex):
    with pytest.raises(Reject) as e:
        ex.extract(bytes(range(256)) * 40, "u", None)
    assert e.value.reason == "extract:html:malformed"
    with pytest.raises(Reject) as e:
        ex.extract("just some words without any markup at all " * 5, "u", None)
    assert e.value.reason == "extract:html:malformed"


def test_billion_laughs_not_expanded(ex):
    ents = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
    html = ('<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol0 "lol">' + ents + ']>'
            + page("<p>Entity &lol9; here.</p>"))
    text, _ = ex.extract(html.encode(), "u", None)
    assert "lollol" not in text and len(text) < 5000


def test_external_entity_not_read(ex, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRETVALUE")
    html = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}">]>' + page("<p>Value: &xxe; end.</p>")
    text, _ = ex.extract(html.encode(), "u", None)
    assert "TOPSECRETVALUE" not in text


def test_page_words_one_pass_answers_like_a_substring_search():
    from curate.extractors.markup import PageWords

    src = page("<p>See $$x^2$$ and \\(y\\) in a <span class='katex'>k</span>.</p>", "<script>Math.floor(1)</script>")
    has = PageWords(src)
    for w in ("$$", "\\(", "katex", "[math]", "mw-editsection", "<sup", "ltx_eq", "ode", "not-on-page"):
        assert has(w) == (w in src), w
    assert has.mathy and has.xml_safe  # `katex` names math; nothing XML forbids
    assert not PageWords(page("<p>Math.floor(x) and Math(y)</p>")).mathy  # JavaScript's Math only
    assert PageWords(page("<p>math class</p>")).mathy


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"])
def test_characters_xml_forbids_are_dropped_before_parsing(ex, bad):
    from curate.extractors.markup import PageWords

    body = f"<p>Value{bad} with a formula $$a_1{bad}+b$$ here.</p>"
    assert not PageWords(page(body)).xml_safe
    text, _ = ex.extract(page(body), "https://example.org/a")  # str: a lone surrogate has no UTF-8 bytes
    assert "Value with a formula" in text and "$$a_1+b$$" in text


def test_scripts_styles_svg_dropped_before_trafilatura_keep_their_tails():
    from curate.extractors.markup import drop_unread

    tree = parse_html(page("<p>Before <script>var x = 1;</script>after the script <svg><text>icon</text></svg>"
                           "and after the icon.</p>", "<style>p{}</style>"
                           "<script type='application/ld+json'>{\"@type\": \"DiscussionForumPosting\"}</script>"))
    drop_unread(tree)
    assert [e.get("type") for e in tree.iter("script")] == ["application/ld+json"]
    assert not list(tree.iter("style", "svg"))
    assert "Before after the script and after the icon." in tree.find(".//article").text_content()


def test_heading_with_math_that_trafilatura_drops_comes_back_before_its_section(ex):
    html = (
        "<!DOCTYPE html><html lang='en'><head><title>Formulas</title>"
        "<script defer src='https://cdn.jsdelivr.net/npm/mathjax@4/tex-chtml.js'></script></head><body>"
        "<div id='frame'><h1>Sample formulas</h1><div class='show display'>"
        "<p>When \\(a \\ne 0\\), there are two solutions to \\(ax^2 + bx + c = 0\\) and they are "
        "$$x = {-b \\pm \\sqrt{b^2-4ac} \\over 2a}.$$</p>"
        "<h2>The Lorenz Equations</h2><p>\\[\\dot{x} = \\sigma(y-x)\\]</p>"
        "<h2>The probability of getting \\(k\\) heads when flipping \\(n\\) coins is:</h2>"
        "<p>\\[P(E) = {n \\choose k} p^k (1-p)^{ n-k} \\]</p>"
        "<h2>In-line Mathematics</h2><p>Finally, while display equations look good for a page of samples, the "
        "ability to mix math and text in a paragraph is also important. This expression "
        "\\(\\sqrt{3x-1}+(1+x)^2\\) is an example of an inline equation.</p></div></div></body></html>"
    )
    text, _ = HTMLExtractor(HTMLConfig(min_chars=0)).extract(html, "https://example.org/demo")
    assert text == (
        "When $a \\ne 0$, there are two solutions to $ax^2 + bx + c = 0$ and they are "
        "$$x = {-b \\pm \\sqrt{b^2-4ac} \\over 2a}.$$\n\n"
        "$$\\dot{x} = \\sigma(y-x)$$\n\n"
        "## The probability of getting $k$ heads when flipping $n$ coins is:\n\n"
        "$$P(E) = {n \\choose k} p^k (1-p)^{ n-k}$$\n\n"
        "Finally, while display equations look good for a page of samples, the ability to mix math and text in a "
        "paragraph is also important. This expression $\\sqrt{3x-1}+(1+x)^2$ is an example of an inline equation."
    )


def test_math_heading_whose_section_was_dropped_stays_dropped():
    tree, prot = _prepared("<h2>Heading with \\(k\\)</h2><p>The section \\(x^2\\) text.</p>"
                           "<div class='sidebar'><h3>Side \\(n\\)</h3><p>\\(y\\)</p></div>")
    assert [h[0] for h in prot.headings] == ["## Heading with zqxm0q"]
    assert restore("Other text only.", prot)[0] == "Other text only."
    assert restore("Before.\n\nThe section zqxm1q text.", prot)[0] == \
        "Before.\n\n## Heading with $k$\n\nThe section $x^2$ text."


def test_forum_reply_keeps_a_quoted_earlier_post_that_holds_a_formula():
    def post(n, body):
        return (f"<li class='postcontainer' id='post_{n}'><div class='postbody'><div class='content'>"
                f"<div id='post_message_{n}'><blockquote class='postcontent restore'>{body}</blockquote>"
                "</div></div></div></li>")

    img = "<img src='http://latex.codecogs.com/png.latex?\\int x\\,dx' alt='\\int x\\,dx' />"
    quote = ("<div class='bbcode_container'><div class='bbcode_quote'><div class='quote_container'>"
             "<div class='bbcode_quote_container'></div><div class='bbcode_postedby'><img src='/q.png' alt='Quote'/> "
             "Originally Posted by <strong>asker</strong> <a href='/t.html#post1' rel='nofollow'><img src='/v.png' "
             "alt='View Post'/></a></div><div class='message'>" + img + "<br/>How do I solve this?</div></div></div>"
             "</div>")
    html = ("<!DOCTYPE html><html><head><title>Integral question</title></head><body><h1>Integral question</h1><ol>"
            + post(1, img + "<br/>How do I solve this?")
            + post(2, quote + "Use the power rule on it, and add the constant at the end of the computation.")
            + "</ol></body></html>")
    text, _ = HTMLExtractor(HTMLConfig(min_chars=0)).extract(html, "https://forum.example.org/t")
    assert text == (
        "# Integral question\n\n$\\int x\\,dx$\n\nHow do I solve this?\n\n"
        "> Originally Posted by asker\n>\n> $\\int x\\,dx$\n> How do I solve this?\n\n"
        "Use the power rule on it, and add the constant at the end of the computation."
    )
