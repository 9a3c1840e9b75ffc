"""Code blocks and formulas inside wrappers that trafilatura takes for page chrome.

Trafilatura discards containers whose class or id *contains* a boilerplate word: Prism's
`div.code-toolbar` contains `bar`, `highlight-options` contains `options`, `code-meta`
contains `meta`, `expand-code` contains `expand`, `copy-button-wrapper` contains `button`, and
the code inside goes with them. Here page chrome is matched by whole class tokens instead: a
wrapper around a code block that trafilatura would discard loses the class/id words that
caught it unless one of its tokens really names chrome (`nav`, `sidebar`, `footer`, …). And a
`<pre>` whose wrapper holds nothing else but buttons (Copy, Run) is lifted out of it.
"""

from __future__ import annotations

import re

from lxml import etree

try:  # trafilatura's own discard rules, so the wrappers checked are the ones it would drop
    from trafilatura.xpaths import OVERALL_DISCARD_XPATH as _DISCARD
except ImportError:  # pragma: no cover - an older/newer trafilatura without the module
    _DISCARD = []

CHROME_TOKENS = frozenset({
    "nav", "navbar", "navigation", "menu", "sidebar", "side-bar", "footer", "header", "masthead", "breadcrumb",
    "breadcrumbs", "related", "widget", "share", "sharing", "social", "banner", "advert", "ads", "ad", "promo",
    "cookie", "newsletter", "comments", "comment", "byline", "author", "tags", "subnav", "topbar", "navbox",
})
_POST_TOKENS = {"js-post-body", "post-text", "bbwrapper", "postbody", "comment-copy"}
_CHROME_TAGS = {"nav", "aside", "footer", "header", "menu", "form"}
_BUTTONISH = {"button", "svg", "select", "input"}
_EXSLT_RE = "http://exslt.org/regular-expressions"
# trafilatura's rules are `.//*[test]` over the whole tree; asked of one element as `self::*[test]`,
# so only the ancestors of a code block or formula are tested, not every element of the page.
_DISCARD_SELF = [etree.XPath(re.sub(r"^\s*\.//\*", "self::*", xp.path, count=1), namespaces={"re": _EXSLT_RE})
                 for xp in _DISCARD]
assert all(re.match(r"^\s*\.//\*\[", xp.path) for xp in _DISCARD), "trafilatura's discard rules changed form"
_X_CODE_PRE = etree.XPath("//pre[starts-with(., 'zqxc')]")
_X_MATH_HOLDERS = etree.XPath("//text()[contains(., 'zqxm')]/..")
_SPLIT = re.compile(r"[\s]+")


def _tokens(el) -> set[str]:
    return {t.lower() for t in _SPLIT.split(((el.get("class") or "") + " " + (el.get("id") or "")).strip()) if t}


def _button_only(el, keep) -> bool:
    """True when every element of `el` other than `keep` is a button (or holds one and no other
    text) and `el` has no text of its own."""
    if (el.text or "").strip():
        return False
    others = [c for c in el if c is not keep and isinstance(c.tag, str)]
    if not others:
        return False
    for c in others:
        if (c.tail or "").strip():
            return False
        if c.tag in _BUTTONISH or c.get("role") == "button":
            continue
        if c.find(".//button") is not None and len(" ".join(c.itertext()).split()) <= 4:
            continue
        return False
    return not (keep.tail or "").strip()


def free_code(tree) -> None:
    """Lift code `<pre>` out of button-only wrappers, and clear the class/id of wrappers around
    code that trafilatura would discard by substring but that carry no whole chrome token."""
    pres = _X_CODE_PRE(tree)
    if not pres:
        return
    for pre in pres:
        parent = pre.getparent()
        while parent is not None and parent.tag in ("div", "span", "figure") and _button_only(parent, pre):
            grand = parent.getparent()
            if grand is None:
                break
            pre.tail = parent.tail
            grand.replace(parent, pre)
            parent = grand
    _unmask(tree, pres)


def free_math(tree) -> None:
    """Clear the class/id of wrappers around formulas that trafilatura would discard by
    substring (`message` in `div.message`, a forum's quoted post) but that carry no whole
    chrome token."""
    holders = _X_MATH_HOLDERS(tree)
    if holders:
        _unmask(tree, holders)


def _unmask(tree, inner: list) -> None:
    seen: dict = {}

    def discarded(el) -> bool:
        if el not in seen:
            seen[el] = any(xp(el) for xp in _DISCARD_SELF)
        return seen[el]

    for el in inner:
        for anc in el.iterancestors():
            if anc.tag in ("body", "html"):
                break
            if not discarded(anc):
                continue
            tokens = _tokens(anc)
            if anc.tag in _CHROME_TAGS or tokens & CHROME_TOKENS:
                break  # really chrome: the content goes with it
            if tokens & _POST_TOKENS or (anc.get("id") or "").startswith("post_message_"):
                continue  # names a thread's post: `threads` reads it
            anc.attrib.pop("class", None)
            anc.attrib.pop("id", None)
