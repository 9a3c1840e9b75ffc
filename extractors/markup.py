"""The lxml passes around trafilatura: a safe parse, then math and code swapped for tokens.

Trafilatura escapes Markdown characters in text (`a\\_1`), drops `<script>` (where MathJax
keeps its TeX) and MathML, and collapses blank lines inside `<pre>`. So before it runs, every
formula becomes an opaque word token (`zqxm12q`) and every code block keeps its text but
gains start/end tokens; after it runs, `restore` puts back `$…$`/`$$…$$` and fenced blocks
with the language from the originals (code shown twice comes back once). Tokens that
trafilatura dropped as boilerplate stay dropped, so the math and code handling never decides
what is main content. Layout that would hide content from trafilatura is fixed first: headings
left open, loose text runs in `<div>`/`<center>`, an unclosed `<math>`; page furniture goes
(`furniture`) and wrappers it would take for chrome by substring are cleared (`wrappers`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

import lxml.html
from lxml import etree

from curate.errors import Reject
from curate.extractors.asciimath import asciimath_to_latex
from curate.extractors.furniture import strip_furniture
from curate.extractors.code import code_text, div_code, language_of, table_code
from curate.extractors.math import clean_tex, find_tex, img_latex, page_delimiters
from curate.extractors.mathml import local_name, mathml_to_latex
from curate.extractors.threads import THREAD_HINTS
from curate.extractors.wrappers import free_code, free_math

PARSER = lxml.html.HTMLParser(
    recover=True, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True,
    default_doctype=False, collect_ids=False,
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.I | re.S)
_SKIP_TEXT = {"script", "style", "pre", "code", "textarea", "title", "kbd", "samp", "tt", "noscript", "head"}
_INLINE_PARENTS = {
    "p", "span", "a", "li", "td", "th", "em", "strong", "b", "i", "font", "label", "dd", "dt", "h1", "h2", "h3",
    "h4", "h5", "h6", "sup", "sub", "small", "big", "u", "code", "caption", "summary", "q", "cite", "mark",
}
_MJ2_ARTIFACTS = re.compile(
    r"(?:^|\s)(?:MathJax_Preview|MathJax|MathJax_Display|MathJax_CHTML|MathJax_SVG|MathJax_SVG_Display|"
    r"MathJax_MathML|MJXc-display|MJX_Assistive_MathML|MathJax_PHTML)(?:\s|$)"
)
_TEXLIKE = re.compile(r"\\[A-Za-z]+|[\^_=]")
# AsciiMath between backticks; `\`` is a literal backtick and `\ ` a space inside a formula
_ASCIIMATH = re.compile(r"(?<![`\w\\])`((?:[^`\\\n]|\\[^`]|\n(?![ \t]*\n)){1,400}?)`(?!`)")
_ASCII_SPACER = re.compile(r"^(?:\\\s|\s)*\\?$")
MATH_TOKEN = re.compile(r"zqxm(\d+)q")
_DISPLAY_ALONE = re.compile(r"\s*zqxm(\d+)q\s*[.,;:]?\s*")
CODE_SPAN = re.compile(r"\n*(?:```[^\n]*\n)?[ \t]*zqxc(\d+)s\b.*?zqxc\1e[ \t]*(?:\n```)?[ \t]*\n*", re.S)
_BLANK_LINE = re.compile(r"^[ \t]+$", re.M)
_BLANK_RUN = re.compile(r"\n{3,}")
_HEADING_INDENT = re.compile(r"^[ \t]+(?=#{1,6} )", re.M)
_CODE_SLOT = re.compile(r"\x00(\d+)\x00")
_LEFTOVER = re.compile(r"[ \t]*zqx[cm]\d+[seq]\b[ \t]*")
# Characters XML forbids: lxml refuses them in text it is asked to set, so they go before parsing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20)])


def parse_html(text: str, xml_safe: bool = False):
    """Parse page text with lxml, network and entity expansion off; Reject if nothing parses.
    `xml_safe`: the caller knows `text` holds no character XML forbids (`PageWords.xml_safe`),
    so the search for them is skipped."""
    text = _XML_DECL.sub("", text, count=1)
    if not xml_safe:
        text = _NOT_XML.sub("", text)
    text = _DOCTYPE_SUBSET.sub("<!DOCTYPE html>", text[:100_000], count=1) + text[100_000:]
    try:
        tree = lxml.html.document_fromstring(text, parser=PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as e:
        raise Reject("extract:html:malformed", str(e)[:200]) from e
    if tree is None or not isinstance(tree.tag, str):
        raise Reject("extract:html:malformed", "no document element")
    return tree


def _classes(el) -> str:
    return el.get("class") or ""


def _has_class(el, name: str) -> bool:
    return name in _classes(el).split()


@dataclass
class Protected:
    """What the pre-pass took out of the tree: formulas and code blocks, by token number."""

    math: list[tuple[str, bool]] = field(default_factory=list)  # (tex, display)
    asciimath: set[int] = field(default_factory=set)
    code: list[tuple[str, str | None]] = field(default_factory=list)  # (text, language)
    anchors: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # words around
    # headings holding formulas: (Markdown line, its math tokens, the first tokens of its section)
    headings: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)

    def add_math(self, tex: str, display: bool, ascii_math: bool = False) -> str:
        self.math.append((tex, display))
        if ascii_math:
            self.asciimath.add(len(self.math) - 1)
        return f"zqxm{len(self.math) - 1}q"

    def is_display_token(self, text: str) -> bool:
        """True when `text` is one display-formula token and nothing else (but the punctuation
        that ends the sentence it closes)."""
        m = _DISPLAY_ALONE.fullmatch(text)
        return bool(m) and int(m.group(1)) < len(self.math) and self.math[int(m.group(1))][1]

    def add_code(self, text: str, lang: str | None) -> tuple[str, str]:
        self.code.append((text, lang))
        n = len(self.code) - 1
        return f"zqxc{n}s", f"zqxc{n}e"


def _replace(el, text: str, block: bool = False) -> None:
    """Put `text` where `el` stood (keeping its tail); a display formula gets its own paragraph."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    if block and local_name(parent) not in _INLINE_PARENTS:
        new = etree.Element("p")
        new.text = text
        new.tail = tail
        parent.replace(el, new)
        return
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text + tail
    else:
        parent.text = (parent.text or "") + text + tail
    parent.remove(el)


def _outermost(els):
    """Elements of `els` that are not inside another element of `els`."""
    chosen = set(els)
    out = []
    for el in els:
        anc = el.getparent()
        while anc is not None and anc not in chosen:
            anc = anc.getparent()
        if anc is None:
            out.append(el)
    return out


def _in_pre(el) -> bool:
    return any(local_name(a) in ("pre",) for a in el.iterancestors())


def _katex_tex(el) -> str | None:
    for ann in el.iter("annotation"):
        if "tex" in (ann.get("encoding") or "").lower() and (ann.text or "").strip():
            return ann.text.strip()
    mml = next((e for e in el.iter() if _has_class(e, "katex-mathml")), None)
    if mml is not None:
        chunks = [c.strip() for c in re.split(r"\n\s*\n", mml.text_content()) if c.strip()]
        if chunks:
            return chunks[-1]
    return None


def prepare(tree, source: str | None = None, has: "PageWords | None" = None) -> Protected:
    """Swap every formula and code block in `tree` for tokens; returns what was swapped.

    `source`, the page text `tree` was parsed from, lets each search over the tree be skipped
    when the page does not hold the word it looks for (`katex`, `<math`, `mjx-container`, …):
    most pages hold no math, and each such search costs as much as a small part of trafilatura.
    `has`, a `PageWords(source)` already made, saves making another."""
    prot = Protected()
    has = has if has is not None else PageWords(source)
    single_dollar = ascii_math = False
    delimiters: tuple[tuple[str, str, bool], ...] = ()
    if has.mathy or has("katex", "AMdisplay"):  # a page loading MathJax, KaTeX or AsciiMath names it
        scripts = [(s.get("src") or "") + " " + (s.text or "") for s in tree.iter("script")
                   if not (s.get("type") or "").lower().startswith("math/")]
        scripts_src = " ".join(t[:2000] for t in scripts)
        single_dollar = bool(_RENDERER.search(scripts_src))
        ascii_math = bool(re.search(r"ASCIIMath|asciimath|AMdisplay", scripts_src))
        config = " ".join(t[:20_000] for t in scripts if _CONFIG_HINT.search(t, 0, 20_000))
        delimiters = page_delimiters(config) if config else ()

    _open_headings(tree)
    strip_furniture(tree, has)
    _prepare_code(tree, prot, has)
    _prepare_math_elements(tree, prot, has)
    _prepare_text(tree, prot, single_dollar, ascii_math, delimiters, has)
    _loose_text(tree)
    free_code(tree)
    if prot.math:
        free_math(tree)
    _anchor_code(tree, prot)
    if prot.math:
        _anchor_math_headings(tree, prot)
    return prot


# Words the passes ask the page source about (`PageWords`): found in one Aho-Corasick pass over the
# page's UTF-8 bytes, where one `in` per word scans the whole page again for each word it lacks.
_SOURCE_WORDS = (
    "math", "Math", "MATH", "katex", "KaTeX", "AMdisplay", "latex", "tex?", "cht=tx", "formula", "ltx_eq",
    "tex]", "[math]", "[imath]", "$$", "\\[", "\\(", "\\begin{", "[tex]", "[itex]", "[latex]",
    "mw-editsection", "mw-", 'id="toc"', "id='toc'", 'role="dialog"', "role='dialog'", "aria-modal", "<sup", "<SUP",
    *THREAD_HINTS,
)


@lru_cache(maxsize=1)
def _source_automaton():
    import ahocorasick_rs

    return ahocorasick_rs.BytesAhoCorasick([w.encode() for w in _SOURCE_WORDS] + ["\ufffe".encode(), "\uffff".encode()],
                                           implementation=ahocorasick_rs.Implementation.DFA)


class PageWords:
    """`has(*words)`: whether the page source holds any of `words` (always True without a source).
    The words of `_SOURCE_WORDS` are all looked for in one pass; others by `in`, kept per word.
    `mathy`: whether the page names math at all (a renderer, MathML, `math` as a word or class;
    not JavaScript's `Math.floor(…)`/`Math.max`); a page that does not skips every math word at once."""

    def __init__(self, source: str | None):
        self.source = source
        self.seen: dict[str, bool] = {}
        self.mathy = True
        self.xml_safe = False  # whether the source holds no character XML forbids (see _NOT_XML)
        if source is None:
            return
        try:
            data = source.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            data = source.encode("utf-8", "surrogatepass")
        else:  # control bytes never occur inside a UTF-8 sequence; U+FFFE/U+FFFF are looked for below
            self.xml_safe = len(data.translate(None, _CONTROL_BYTES)) == len(data)
        mathy = False
        for i, _start, end in _source_automaton().find_matches_as_indexes(data, overlapping=True):
            if i >= len(_SOURCE_WORDS):  # U+FFFE or U+FFFF
                self.xml_safe = False
                continue
            word = _SOURCE_WORDS[i]
            self.seen[word] = True
            if i < 3 and data[end: end + 1] not in (b".", b"("):
                mathy = True
        self.mathy = mathy or "katex" in self.seen or "KaTeX" in self.seen
        self.seen.update((w, False) for w in _SOURCE_WORDS if w not in self.seen)

    def __call__(self, *words: str) -> bool:
        if self.source is None:
            return True
        for w in words:
            if ("math" in w.lower() or w == "MJX") and not self.mathy:
                continue
            hit = self.seen.get(w)
            if hit is None:
                hit = self.seen[w] = w in self.source
            if hit:
                return True
        return False


_WORD = re.compile(r"\w+")
_CODE_IN_TEXT = re.compile(r"zqxc(\d+)s\b.*?zqxc\1e", re.S)
_TOKENS = re.compile(r"zqx[cm]\d+[seq]")
ANCHOR_WORDS = 48  # words of context kept on each side of a code block
WINDOW = 6  # words a context window must match in the output
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_SWALLOWED = {"pre", "table", "ul", "ol", "blockquote", "dl", "form", *_HEADINGS}
_CHROME_TAGS = {"nav", "aside", "footer", "header", "menu"}
_CHROME_ATTR = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|sidebar|side-bar|footer|header|masthead|breadcrumbs?|related|"
    r"widget|share|sharing|banner|toolbar|advert|ads|promo|cookie)(?:$|[\s_-])", re.I
)


def _open_headings(tree) -> None:
    """A heading left open (`<h1>Title <pre>…</pre> <h1>Next …`) swallows the blocks after it,
    and trafilatura drops the lot as an over-long heading: move those blocks out after it."""
    for h in [h for h in tree.iter(*_HEADINGS)]:
        kids = list(h)
        first = next((i for i, c in enumerate(kids) if c.tag in _SWALLOWED
                      or (c.tag in ("p", "div") and (h.text or "").strip())), None)
        parent = h.getparent()
        if first is None or parent is None:
            continue
        at = parent.index(h)
        moved = kids[first:]
        if moved[-1].tail is None or not moved[-1].tail.strip():
            moved[-1].tail = h.tail
        else:
            moved[-1].tail += h.tail or ""
        h.tail = None
        for j, c in enumerate(moved):
            parent.insert(at + 1 + j, c)


_INLINE = {
    "a", "span", "b", "i", "em", "strong", "code", "sub", "sup", "small", "big", "u", "font", "abbr", "cite", "q",
    "mark", "s", "strike", "tt", "kbd", "var", "img", "br", "label", "time", "del", "ins", "wbr", "bdi", "bdo",
}
_X_LOOSE = etree.XPath("//div[text()[normalize-space()]] | //center")


def _loose_text(tree) -> None:
    """Text standing directly in a `<div>` between block elements (and `<center>`, which
    trafilatura drops, formulas and all) becomes `<p>` paragraphs, one per run, so it is read
    as the paragraphs it renders as rather than dropped or glued to its neighbours."""
    for div in _X_LOOSE(tree):
        div.tag = "div"
        kids = list(div)
        runs: list[tuple[str, list]] = []  # (leading text, inline children) between blocks
        blocks: list = []
        text, inline = div.text or "", []
        div.text = None
        for k in kids:
            div.remove(k)
            if isinstance(k.tag, str) and k.tag not in _INLINE:
                runs.append((text, inline))
                blocks.append(k)
                text, inline = k.tail or "", []
                k.tail = None
            else:
                inline.append(k)
        runs.append((text, inline))
        for i, (lead, children) in enumerate(runs):
            if lead.strip() or any(isinstance(c.tag, str) for c in children):
                p = etree.SubElement(div, "p")
                p.text = lead
                p.extend(children)
            if i < len(blocks):
                div.append(blocks[i])


def _in_chrome(el) -> bool:
    for a in el.iterancestors():
        if a.tag in _CHROME_TAGS:
            return True
        attrs = (a.get("class") or "") + " " + (a.get("id") or "")
        if attrs.strip() and _CHROME_ATTR.search(attrs):
            return True
    return False


_ANY_TOKEN = re.compile(r"zqxm\d+q|zqxc\d+s")


def _anchor_math_headings(tree, prot: Protected) -> None:
    """Remember each h2–h6 of the page content that holds a formula, with the first formula or
    code tokens of its section (the siblings after it, up to the next heading): trafilatura drops
    some headings (every `<h2>` of a MathJax demo page), and the formulas in them with it."""
    for h in tree.iter(*_HEADINGS[1:]):
        text = " ".join(h.text_content().split())
        own = tuple(MATH_TOKEN.findall(text))
        if not own or "zqxc" in text or _in_chrome(h):
            continue
        after: list[str] = _ANY_TOKEN.findall(h.tail or "")
        for sib in h.itersiblings():
            if len(after) >= 3 or sib.tag in _HEADINGS:
                break
            if isinstance(sib.tag, str):
                after += _ANY_TOKEN.findall(sib.text_content())
            after += _ANY_TOKEN.findall(sib.tail or "")
        if after:
            line = "#" * int(h.tag[1]) + " " + text
            prot.headings.append((line, tuple(f"zqxm{n}q" for n in own), tuple(after[:3])))


def _restore_headings(markdown: str, prot: Protected) -> str:
    """Headings with formulas that trafilatura dropped (none of their formulas is in the output)
    go back before the paragraph holding the first kept token of their section; a heading whose
    section was dropped too stays dropped."""
    for line, own, after in prot.headings:
        if any(t in markdown for t in own):
            continue
        pos = next((p for p in (markdown.find(t) for t in after) if p >= 0), -1)
        if pos < 0:
            continue
        para = markdown.rfind("\n\n", 0, pos)
        at = 0 if para < 0 else para
        markdown = markdown[:at] + "\n\n" + line + "\n\n" + markdown[at:]
    return markdown


def _anchor_code(tree, prot: Protected) -> None:
    """Remember the words around each code block in page content (not navigation, sidebars,
    footers), so a block that trafilatura's fallback extractors dropped while keeping the text
    around it can go back in place."""
    body = tree.find("body")
    if body is None or not prot.code:
        return
    chrome = set()
    for pre in tree.iter("pre"):
        m = re.match(r"zqxc(\d+)s", pre.text or "")
        if m and _in_chrome(pre):
            chrome.add(int(m.group(1)))
    text = " ".join(body.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]"))
    pos = 0
    gaps: list[list[str]] = []  # words between consecutive code blocks
    order: list[int] = []
    for m in _CODE_IN_TEXT.finditer(text):
        gaps.append([w.lower() for w in _WORD.findall(_TOKENS.sub(" ", text[pos:m.start()]))])
        order.append(int(m.group(1)))
        pos = m.end()
    gaps.append([w.lower() for w in _WORD.findall(_TOKENS.sub(" ", text[pos:pos + 20 * ANCHOR_WORDS]))])
    for k, i in enumerate(order):
        if i in chrome:
            continue
        before: list[str] = []
        for g in reversed(gaps[: k + 1]):
            before[:0] = g[-(ANCHOR_WORDS - len(before)):]
            if len(before) >= ANCHOR_WORDS:
                break
        after: list[str] = []
        for g in gaps[k + 1:]:
            after += g[: ANCHOR_WORDS - len(after)]
            if len(after) >= ANCHOR_WORDS:
                break
        prot.anchors[i] = (tuple(before), tuple(after))


def _prepare_code(tree, prot: Protected, has=PageWords(None)) -> None:
    for table in _outermost([t for t in tree.iter("table")]):
        found = table_code(table)
        if found is None:
            continue
        text, lang = found
        if text.strip():
            pre = etree.Element("pre")
            start, end = prot.add_code(text, lang)
            pre.text = f"{start}\n{text}\n{end}"
            pre.tail = table.tail
            table.getparent().replace(table, pre)
    for div in _outermost(_X_CODE_DIVS(tree) if has("ode", "ighlight") else []):
        text = div_code(div) if div.getparent() is not None else None
        if text:
            start, end = prot.add_code(text, language_of(div, div.getparent()))
            pre = etree.Element("pre")
            pre.text = f"{start}\n{text}\n{end}"
            pre.tail = div.tail
            div.getparent().replace(div, pre)
    pres = [p for p in tree.iter("pre") if not p.text or not p.text.startswith("zqxc")]
    for pre in _outermost(pres):
        code_el = next(pre.iter("code"), None)
        text = code_text(pre)
        if not text.strip():
            continue
        parent = pre.getparent()
        lang = language_of(code_el, pre, parent, parent.getparent() if parent is not None else None)
        start, end = prot.add_code(text, lang)
        for child in list(pre):
            pre.remove(child)
        pre.text = f"{start}\n{text}\n{end}"
    for code in list(tree.iter("code")):
        if _in_pre(code) or code.getparent() is None:
            continue
        text = code_text(code)
        if "\n" not in text.strip():
            continue
        start, end = prot.add_code(text, language_of(code, code.getparent()))
        pre = etree.Element("pre")
        pre.text = f"{start}\n{text}\n{end}"
        pre.tail = code.tail
        code.getparent().replace(code, pre)


def _mathml_from_script(text: str):
    try:
        frag = lxml.html.fragment_fromstring(text.strip(), parser=PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return next((e for e in frag.iter() if local_name(e) == "math"), frag)


# Candidates are picked by XPath (in C) and only they are checked in Python: walking every
# element of a page from Python costs more than trafilatura's whole run.
_X_CODE_DIVS = etree.XPath("//div[contains(@class,'ode') or contains(@class,'ighlight')]")
_X_MJ2 = etree.XPath("//*[contains(@class,'MathJax') or contains(@class,'MJX')]")
_X_MJX = etree.XPath("//mjx-container")
_X_LABELLED = etree.XPath("//*[@aria-label][contains(@class,'mjx-math')]")
_X_KATEX = etree.XPath("//*[contains(@class,'katex')]")
_X_MWE = etree.XPath("//*[contains(@class,'mwe-math-element')]")
_X_MATH = etree.XPath("//math | //*[contains(name(),':math')]")
_X_TEX_HOLDERS = etree.XPath(
    "//formula | //*[contains(name(),':formula')] | //*[contains(@class,'math') or contains(@class,'tex')]"
)
_RENDERER = re.compile(r"mathjax|katex|tex2jax|inlineMath|renderMathInElement", re.I)
_CONFIG_HINT = re.compile(r"inlineMath|displayMath|renderMathInElement|delimiters")
_TEXT_PROBES = ("$", "\\", "[tex]", "[itex]", "[math]", "[imath]", "[latex]")


@lru_cache(maxsize=64)
def _x_text(probes: tuple[str, ...]):
    """XPath of the text nodes holding any of `probes` (chosen in C; only those reach Python)."""
    def lit(p: str) -> str:
        return f"'{p}'" if "'" not in p else f'"{p}"'
    tests = " or ".join(f"contains(.,{lit(p)})" for p in probes)
    return etree.XPath(f"//text()[not(parent::script or parent::style)][{tests}]")


def _prepare_math_elements(tree, prot: Protected, has=PageWords(None)) -> None:
    # MathJax 2: TeX or MathML in <script type="math/...">; its rendered copies are dropped.
    scripts = [s for s in tree.iter("script") if (s.get("type") or "").lower().startswith("math/")]
    if scripts and has.mathy:
        for el in [e for e in _X_MJ2(tree) if _MJ2_ARTIFACTS.search(_classes(e))]:
            if el.getparent() is not None and not any(a in scripts for a in el.iter("script")):
                _replace(el, "")
    for s in scripts:
        kind = (s.get("type") or "").lower()
        display = "mode=display" in kind.replace(" ", "")
        body = s.text or ""
        if "mml" in kind or "mathml" in kind:
            math = _mathml_from_script(body)
            tex = mathml_to_latex(math) if math is not None else ""
            display = display or (math is not None and math.get("display") == "block")
        elif "asciimath" in kind:
            tex = body.strip()
            if tex:
                _replace(s, prot.add_math(tex, display, ascii_math=True), display)
            continue
        else:
            tex = clean_tex(body)
        if tex:
            _replace(s, prot.add_math(tex, display), display)
    # MathJax 3 output: mjx-container with assistive MathML (or the TeX it was typeset from).
    for el in _outermost(_X_MJX(tree)):
        math = next((m for m in el.iter() if local_name(m) == "math"), None)
        display = el.get("display") in ("true", "block") or _has_class(el, "MathJax_Display")
        if math is not None:
            tex = mathml_to_latex(math)
        else:
            formula = next((f for f in el.iter() if local_name(f) in ("formula", "script")), None)
            tex = clean_tex((formula.text_content() if formula is not None else "") or el.get("aria-label") or "")
        if tex:
            _replace(el, prot.add_math(tex, display), display)
    # MathJax 2 CommonHTML pre-rendered pages (engrafo, arxiv-vanity): TeX in aria-label.
    labelled = [e for e in (_X_LABELLED(tree) if has.mathy else []) if _has_class(e, "mjx-math")]
    for el in labelled:
        holder = el
        for anc in el.iterancestors():
            if _has_class(anc, "mjpage") or _has_class(anc, "mjx-chtml"):
                holder = anc
                if _has_class(anc, "mjpage"):
                    break
        if holder.getparent() is None:
            continue
        display = "mjpage__block" in _classes(holder) or "MJXc-display" in _classes(holder) or any(
            _has_class(a, "mjpage__block") for a in holder.iterancestors()
        )
        _replace(holder, prot.add_math(clean_tex(el.get("aria-label")), display), display)
    # KaTeX: TeX in the MathML annotation (or, when flattened, the last chunk of its text).
    katex = [e for e in (_X_KATEX(tree) if has("katex") else [])
             if _has_class(e, "katex-display") or _has_class(e, "katex")
             or _has_class(e, "katex--inline") or _has_class(e, "katex--display")]
    for el in _outermost(katex):
        tex = _katex_tex(el)
        display = _has_class(el, "katex-display") or _has_class(el, "katex--display")
        if tex:
            _replace(el, prot.add_math(clean_tex(tex), display), display)
    # Wikipedia: MathML with alttext, fallback image with the same TeX in alt.
    for el in _outermost([e for e in (_X_MWE(tree) if has.mathy else [])
                          if _has_class(e, "mwe-math-element")]):
        math = next((m for m in el.iter() if local_name(m) == "math"), None)
        img = next(el.iter("img"), None)
        tex = mathml_to_latex(math) if math is not None else (img.get("alt") if img is not None else "")
        display = "display" in " ".join(
            [_classes(e) for e in el.iter() if isinstance(e.tag, str)] + [math.get("display", "") if math is not None else ""]
        )
        if tex:
            _replace(el, prot.add_math(_unwrap_displaystyle(clean_tex(tex)), display), display)
    # Any other MathML (raw, LaTeXML/ar5iv): alttext, TeX annotation or conversion.
    maths = _X_MATH(tree) if has.mathy else []
    for math in _outermost([e for e in maths if local_name(e) == "math"]):
        if math.getparent() is None or _in_pre(math):
            continue
        _close_math(math)
        if not any(isinstance(c.tag, str) for c in math) and not math.get("alttext"):
            tex = clean_tex(_raw_tex(math))  # a broken mirror's <math> holding TeX text, not MathML
        else:
            tex = _unwrap_displaystyle(clean_tex(mathml_to_latex(math)))
        display = math.get("display") == "block" or math.get("mode") == "display"
        if tex:
            _replace(math, prot.add_math(tex, display), display)
    # Formula images.
    for img in list(tree.iter("img")) if has.mathy or has("latex", "tex?", "cht=tx") else []:
        tex = img_latex(img)
        if tex and img.getparent() is not None:
            _replace(img, prot.add_math(_unwrap_displaystyle(tex), False))
    # Elements that hold bare TeX: <formula>, .math-tex, .math, .tex, .latex.
    holders = _X_TEX_HOLDERS(tree) if has.mathy or has("formula", "latex") else []
    for el in _outermost([e for e in holders if local_name(e) == "formula" or re.search(
            r"(?:^|\s)(?:math-tex|math|tex|latex|math-display|math-inline|arithmatex)(?:\s|$)", _classes(e))]):
        if el.getparent() is None or _in_pre(el) or any(local_name(c) not in ("br",) for c in el):
            continue
        text = clean_tex(el.text_content())
        delimited = [f for f in find_tex(text, True) if not text.startswith("\\begin", f[0])]
        if not text or delimited or not _TEXLIKE.search(text) or len(text) > 3000:
            continue
        display = local_name(el) == "div" or "display" in _classes(el)
        _replace(el, prot.add_math(text, display), display)
    # LaTeXML equation tables: keep the formulas, drop the equation-number cells.
    for table in [t for t in (tree.iter("table") if has("ltx_eq") else ()) if re.search(r"ltx_equation|ltx_eqn_table",
                                                                                       _classes(t))]:
        tokens = MATH_TOKEN.findall(table.text_content())
        if tokens and table.getparent() is not None:
            _replace(table, " ".join(f"zqxm{t}q" for t in tokens), True)


def drop_unread(tree) -> None:
    """Scripts (but JSON-LD, where trafilatura looks for forum posts), styles and SVG go, their
    tails kept: trafilatura drops them unread, but copies the whole tree and runs its XPath
    prunes over it before it does. Call after `prepare` (MathJax keeps TeX in scripts)."""
    for el in [e for e in tree.iter("script", "style", "svg")
               if e.tag != "script" or (e.get("type") or "").lower() != "application/ld+json"]:
        if el.getparent() is not None:
            _replace(el, "")


_HTML_M = {"main", "mark", "menu", "meta", "meter", "map", "marquee"}
_PROSE_RUN = re.compile(r"(?<![\\A-Za-z])(?:[A-Za-z]{2,}[,.;:]?\s+){2,}[A-Za-z]{2,}")


def _is_mathml(el) -> bool:
    name = local_name(el)
    return (name.startswith("m") and name not in _HTML_M) or name in ("semantics", "annotation", "annotation-xml",
                                                                      "none")


def _close_math(math) -> None:
    """A `<math>` left open swallows what follows it: HTML elements inside it (and everything
    after the first one), and prose standing after its MathML children, go back out after it."""
    kids = list(math)
    cut = None
    for i, c in enumerate(kids):
        if isinstance(c.tag, str) and not _is_mathml(c):
            cut = (i, "")
            break
        if (c.tail or "").strip():
            cut = (i + 1, c.tail)
            c.tail = None
            break
    if cut is None:
        return
    first, text = cut
    parent = math.getparent()
    at = parent.index(math)
    moved = kids[first:]
    rest = math.tail or ""
    math.tail = text
    if moved:
        moved[-1].tail = (moved[-1].tail or "") + rest
    else:
        math.tail += rest
    for j, c in enumerate(moved):
        parent.insert(at + 1 + j, c)


def _raw_tex(math) -> str:
    """TeX text of a `<math>` with no MathML inside; when it runs on into prose (an unclosed
    `<math>`: three plain words in a row outside braces), the prose goes back after it."""
    text = math.text or ""
    for m in _PROSE_RUN.finditer(text):
        depth = text.count("{", 0, m.start()) - text.count("}", 0, m.start())
        if depth == 0 and m.start() > 0:
            math.tail = " " + text[m.start():] + (math.tail or "")
            return text[: m.start()]
    return text


def _unwrap_displaystyle(tex: str) -> str:
    m = re.fullmatch(r"\{\\displaystyle\s*(.*)\}", tex.strip(), re.S)
    return m.group(1).strip() if m else tex


def _prepare_text(tree, prot: Protected, single_dollar: bool, ascii_math: bool,
                  delimiters: tuple[tuple[str, str, bool], ...] = (), has=PageWords(None)) -> None:
    """TeX delimiters (and AsciiMath backticks) in running text become tokens."""

    def swap(text: str) -> str:
        found = find_tex(text, single_dollar, delimiters)
        if not found and not ascii_math:
            return text
        out, pos = [], 0
        for start, end, tex, display in found:
            out.append(text[pos:start])
            out.append(prot.add_math(tex, display))
            pos = end
        out.append(text[pos:])
        text = "".join(out)
        if ascii_math:
            text = _ASCIIMATH.sub(_ascii_token, text).replace("\\`", "`")
        return text

    def _ascii_token(m) -> str:
        if _ASCII_SPACER.match(m.group(1)):  # `\ \ \ ` only spaces a line out: no formula
            return " "
        return prot.add_math(m.group(1).strip(), False, ascii_math=True)

    def skipped(el) -> bool:
        return local_name(el) in _SKIP_TEXT or any(local_name(a) in _SKIP_TEXT for a in el.iterancestors())

    # without single-dollar math, only the default delimiters' openings need a look (fewer text nodes)
    base = _TEXT_PROBES if single_dollar else ("$$", "\\[", "\\(", "\\begin{") + _TEXT_PROBES[2:]
    probes = base + tuple(sorted({a for a, _b, _d in delimiters if '"' not in a or "'" not in a}))
    tags = has("tex]", "[math]", "[imath]")  # one scan for [tex], [itex], [latex]
    probes = tuple(p for p in probes + (("`",) if ascii_math else ())
                   if (tags if p.startswith("[") and p.endswith("]") else has(p)))
    for found in _x_text(probes)(tree) if probes else []:
        el = found.getparent()
        if el is None:
            continue
        if found.is_text:
            if el.text and not skipped(el):
                el.text = swap(el.text)
        elif found.is_tail and el.tail:
            parent = el.getparent()
            if parent is not None and not skipped(parent):
                el.tail = swap(el.tail)


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _fence(code: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    return "`" * max(3, longest + 1)


def _reanchor(markdown: str, prot: Protected) -> str:
    """Code blocks of the page content that trafilatura dropped (its fallback extractors drop
    `<pre>`) while keeping text within ANCHOR_WORDS words of them go back: after the paragraph
    holding the nearest kept words before the block, else before the one holding the nearest
    kept words after it. Blocks whose surroundings were dropped stay dropped."""
    kept = {int(n) for n in re.findall(r"zqxc(\d+)s", markdown)}
    lost = [i for i in range(len(prot.code)) if i not in kept and i in prot.anchors]
    if not lost:
        return markdown
    spans = [(m.start(), m.end()) for m in CODE_SPAN.finditer(markdown)]
    blanked = _TOKENS.sub(lambda m: " " * len(m.group(0)), markdown)
    matches = list(_WORD.finditer(blanked))
    starts, acc = [], 0
    for m in matches:
        starts.append(acc)
        acc += len(m.group(0)) + 1
    flat = " ".join(m.group(0).lower() for m in matches)

    def locate(words: tuple[str, ...]) -> tuple[int, int] | None:
        at = f" {flat} ".find(f" {' '.join(words)} ")
        if at < 0:
            return None
        first = bisect.bisect_right(starts, at) - 1
        return matches[first].start(), matches[first + len(words) - 1].end()

    def outside_code(pos: int, forward: bool) -> int:
        for a, b in spans:
            if a < pos < b:
                return b if forward else a
        return pos

    inserts = []
    for i in lost:
        before, after = prot.anchors[i]
        at = None
        for end in range(len(before), min(WINDOW, len(before)) - 1, -1):
            window = before[max(0, end - WINDOW): end]
            if len(window) >= 4 and (found := locate(window)):
                para = markdown.find("\n\n", found[1])
                at = outside_code(len(markdown) if para < 0 else para, True)
                break
        if at is None:
            for start in range(0, max(0, len(after) - 4) + 1):
                window = after[start: start + WINDOW]
                if len(window) >= 4 and (found := locate(window)):
                    para = markdown.rfind("\n\n", 0, found[0])
                    at = outside_code(0 if para < 0 else para, False)
                    break
        if at is not None:
            inserts.append((at, i))
    for at, i in sorted(inserts, reverse=True):
        markdown = markdown[:at] + f"\n\nzqxc{i}s\nzqxc{i}e\n\n" + markdown[at:]
    return markdown


def restore(markdown: str, prot: Protected) -> tuple[str, int, int]:
    """Tokens back to `$…$`, `$$…$$` and fenced code; returns (text, formulas kept, code blocks kept).

    Code goes in last, after the layout of the text around it is tidied (whitespace-only lines
    emptied, runs of blank lines cut to one, indentation before `#` headings dropped), so the
    tidying never touches code."""
    n_math = 0
    kept: list[int] = []

    seen: set[str] = set()

    def code_sub(m):
        i = int(m.group(1))
        flat = _squeeze(prot.code[i][0])
        if flat in seen:  # the same code shown twice (highlighted and plain copies): once
            return "\n\n"
        seen.add(flat)
        kept.append(i)
        return f"\n\n\x00{len(kept) - 1}\x00\n\n"

    def code_back(m):
        text, lang = prot.code[kept[int(m.group(1))]]
        fence = _fence(text)
        return f"{fence}{lang or ''}\n{text}\n{fence}"

    def math_sub(m):
        nonlocal n_math
        i = int(m.group(1))
        if i >= len(prot.math):
            return m.group(0)
        n_math += 1
        tex, display = prot.math[i]
        if i in prot.asciimath:
            converted = asciimath_to_latex(tex)
            if converted is None:
                return "`" + tex + "`"
            tex = converted
        if display:
            return "$$" + tex.strip() + "$$"
        return "$" + re.sub(r"\s*\n\s*", " ", tex.strip()) + "$"

    text = _BLANK_LINE.sub("", _restore_headings(_reanchor(markdown, prot), prot))
    text = CODE_SPAN.sub(code_sub, text)
    if seen:  # a flattened copy of a code block standing as a paragraph goes
        text = "\n\n".join(p for p in text.split("\n\n") if len(p) < 20 or _squeeze(p) not in seen)
    # math tokens inside restored code blocks are left alone: they cannot occur (code is not scanned)
    text = MATH_TOKEN.sub(math_sub, text)
    text = _LEFTOVER.sub("", text)
    text = _HEADING_INDENT.sub("", _BLANK_RUN.sub("\n\n", text))
    text = _CODE_SLOT.sub(code_back, text)
    return text.strip(), n_math, len(kept)
