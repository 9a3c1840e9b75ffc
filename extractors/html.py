"""HTML → Markdown that keeps math as LaTeX and code verbatim: lxml pass, trafilatura, lxml pass.

1. bytes are decoded (BOM, declared charset, `<meta charset>`, UTF-8, detection) and parsed by
   lxml with network access and entity expansion off (`markup.parse_html`);
2. formulas (MathJax scripts and output, KaTeX, MathML, Wikipedia, LaTeXML, formula images,
   TeX delimiters in text) and code blocks (`<pre>`, highlighted tables) are swapped for
   tokens (`markup.prepare`);
3. trafilatura picks the main content of that same tree in its plain-text mode (its formatting
   mode changes what it selects), and `markdown.MarkdownWriter` writes the selected tree as
   Markdown for training (no escapes, no emphasis unless configured, no raw HTML); a Q&A or
   forum thread is first cut down to its title and posts (`threads.thread_page`), so every
   answer is kept, not only the one trafilatura would pick;
4. the tokens that survived come back as `$…$`, `$$…$$` and fenced code (`markup.restore`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import trafilatura
from trafilatura.settings import Extractor

from curate.errors import Reject
from curate.extractors import fallback_gate
from curate.extractors.config import HTMLConfig
from curate.extractors.markdown import MarkdownWriter
from curate.extractors.markup import PageWords, drop_unread, parse_html, prepare, restore
from curate.extractors.threads import thread_page
from curate.io.charset import decode_page

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
_TAG = re.compile(r"<[A-Za-z!/?]")
_WS = re.compile(r"\s+")


def _title(tree) -> str | None:
    """The page's `<title>`, else its og:title, else its first `<h1>` (lxml's C-side `find`/`iter`:
    an XPath `//…` search over the whole tree costs more)."""
    firsts = (
        lambda: next((t.text_content() for t in tree.iterfind(".//head/title")), None),
        lambda: next((m.get("content") for m in tree.iter("meta") if m.get("property") == "og:title"
                      and m.get("content") is not None), None),
        lambda: next((h.text_content() for h in tree.iter("h1")), None),
    )
    for first in firsts:
        v = first()
        if v is not None:
            v = _WS.sub(" ", v).strip()
            if v:
                return v[:500]
    return None


def _lang_hint(tree) -> str | None:
    for v in (tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"), tree.get("xml:lang")):
        if v and v.strip():
            return v.strip()[:35]
    found = [m.get("content") for m in tree.iter("meta") if m.get("content") is not None and (
        (m.get("http-equiv") or "").lower() == "content-language" or m.get("property") == "og:locale")]
    return found[0].strip()[:35] if found and found[0].strip() else None


class HTMLExtractor:
    """Extracts the main content of a page as Markdown; raises Reject with the reason otherwise."""

    def __init__(self, cfg: HTMLConfig):
        self.cfg = cfg
        self.name = f"curate-html/trafilatura-{trafilatura.__version__}"
        fallback_gate.install()  # the same Markdown, without readability where it cannot win
        self._template = Extractor(
            output_format="python", tables=cfg.include_tables, formatting=cfg.emphasis, comments=cfg.include_comments,
            recall=cfg.favor_recall, precision=cfg.favor_precision, with_metadata=False, dedup=False,
        )

    def _options(self, uri: str | None) -> Extractor:
        """trafilatura's options for one page: the ones ``bare_extraction(url=uri, …)`` would
        build, copied from a template instead of re-reading its configuration every page."""
        opts = copy.copy(self._template)
        opts.url = uri
        opts.source = uri and uri.encode("utf-8", "replace").decode("utf-8")
        return opts

    def extract(self, content: bytes | str, uri: str, declared_charset: str | None = None) -> tuple[str, dict[str, Any]]:
        size = len(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        if size > self.cfg.max_bytes:
            raise Reject("extract:too_large", f"{size} bytes > {self.cfg.max_bytes}")
        conflict = None
        if isinstance(content, bytes):
            decoded = decode_page(content, declared_charset)
            html, encoding, conflict = decoded.text, decoded.encoding, decoded.conflict
        else:
            html, encoding = content, "str"
        if not html.strip():
            raise Reject("extract:html:empty", "no markup")
        head = html[:20_000]
        if len(_CONTROL.findall(head)) > 0.05 * len(head) or not _TAG.search(head):
            raise Reject("extract:html:malformed", "not HTML text (binary bytes or no tags)")
        has = PageWords(html)
        tree = parse_html(html, has.xml_safe)
        title, lang_hint = _title(tree), _lang_hint(tree)
        prot = prepare(tree, html, has)
        thread = thread_page(tree, self.cfg.thread_comments, has) if self.cfg.threads else None
        drop_unread(tree if thread is None else thread)
        doc = trafilatura.bare_extraction(tree if thread is None else thread, options=self._options(uri))
        markdown = ""
        if doc is not None and doc.body is not None:
            writer = MarkdownWriter(self.cfg.emphasis, prot.is_display_token)
            markdown = writer.write(doc.body)
            if self.cfg.include_comments and doc.commentsbody is not None and len(doc.commentsbody):
                markdown += "\n\n" + writer.write(doc.commentsbody)
        if not markdown.strip():
            raise Reject("extract:html:empty", "no main content found")
        text, n_math, n_code = restore(markdown, prot)
        if not text:
            raise Reject("extract:html:empty", "no main content found")
        if len(text) < self.cfg.min_chars:
            raise Reject("extract:html:too_short", f"{len(text)} characters < {self.cfg.min_chars}")
        meta = {
            "title": title, "url": uri, "lang_hint": lang_hint, "encoding": encoding,
            "formulas": n_math, "code_blocks": n_code,
        }
        if conflict:
            meta["charset_conflict"] = conflict
        return text, meta
