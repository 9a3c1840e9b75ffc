"""Page furniture that sits inside the main content and reads as noise in training text.

Wikipedia-style pages put `[edit]` links in every heading, a table of contents (its
"Contents" heading left empty once the links are dropped) and reference superscripts
(`[1]`, `[citation needed]`) in running text; Q&A networks put a dialog ("… network consists
of 183 Q&A communities …") in their top bar. These go before trafilatura sees the page.
"""

from __future__ import annotations

import re

from lxml import etree

_X_EDIT = etree.XPath("//*[contains(@class,'mw-editsection')]")
_X_TOC = etree.XPath("//*[@id='toc' or @id='mw-toc-heading' or contains(@class,'toc')]")
_X_DIALOG = etree.XPath("//*[@role='dialog' or @aria-modal='true']")
_X_SUP = etree.XPath("//sup")
_REF = re.compile(r"^\s*\[\s*(?:\d+|[a-z]|[a-z]?\s*\d+|note \d+|nb \d+|citation needed|clarification needed|"
                  r"according to whom\?|who\?|when\?|which\?|dubious[^\]]*|verification needed)\s*\]\s*$", re.I)
_REF_CLASS = {"reference", "footnote-ref", "noprint", "Inline-Template", "cite_ref", "mw-ref"}
_TOC_CLASS = {"toc", "mw-toc", "vector-toc", "toc-container", "toctitle", "mw-editsection"}
NETWORK_BANNER = re.compile(r"\bnetwork consists of \d[\d,]* (?:Q&A )?communities\b", re.I)


def _classes(el) -> set[str]:
    return set((el.get("class") or "").split())


def strip_furniture(tree, has=lambda *words: True) -> None:
    """Remove edit links, tables of contents, dialogs and reference superscripts (keeping the
    text that follows each). `has(*words)` says whether the page source holds a word, so the
    searches a page cannot need are skipped."""
    found = []
    if has("mw-editsection"):
        found += _X_EDIT(tree)
    if has("mw-", 'id="toc"', "id='toc'"):  # MediaWiki's table of contents (others: link lists trafilatura drops)
        found += [el for el in _X_TOC(tree) if el.get("id") in ("toc", "mw-toc-heading") or _classes(el) & _TOC_CLASS]
    if has('role="dialog"', "role='dialog'", "aria-modal"):
        found += _X_DIALOG(tree)
    for el in found:
        _drop(el)
    for sup in _X_SUP(tree) if has("<sup", "<SUP") else ():
        if _classes(sup) & _REF_CLASS or (sup.get("id") or "").startswith("cite_ref") or \
                _REF.match("".join(sup.itertext())):
            _drop(sup)


def _drop(el) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)
