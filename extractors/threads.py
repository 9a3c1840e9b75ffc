"""Q&A and forum threads: the question and every answer or reply are the main content.

Trafilatura picks one block of a page, which on a thread is the question alone (or the first
post). A page whose markup names its posts (Stack Exchange `js-post-body`/`post-text`,
schema.org Question/Answer/DiscussionForumPosting `itemprop=text`, XenForo `bbWrapper`,
vBulletin `post_message_N`, phpBB `postbody > content`) and holds two or more of them is read as
a thread: its title, then every post in page order, each followed by its comments when asked
for. The result is a new small page that trafilatura then turns into text like any article, so
the posts' own boilerplate (signatures, vote counts) is still judged by it.
"""

from __future__ import annotations

import copy

import lxml.html
from lxml import etree


def _has(cls: str) -> str:
    return f"contains(concat(' ',normalize-space(@class),' '),' {cls} ')"


_POST_CLASSES = {"js-post-body", "post-text", "bbWrapper"}
# cheap C-side candidates (plain substring tests), checked by whole class token in Python
_X_CANDIDATES = etree.XPath(
    "//*[contains(@class,'post-') or contains(@class,'bbWrapper') or starts-with(@id,'post_message_')"
    " or @itemprop='text' or (contains(@class,'content') and parent::*[contains(@class,'postbody')])]"
)
_X_QA_ITEM = etree.XPath(
    "ancestor::*[contains(@itemtype,'/Question') or contains(@itemtype,'/Answer')"
    " or contains(@itemtype,'DiscussionForumPosting')]"
)
_X_COMMENTS = etree.XPath("//*[contains(@class,'comment-copy')]")


def _is_post(el) -> bool:
    classes = set((el.get("class") or "").split())
    if classes & _POST_CLASSES or (el.get("id") or "").startswith("post_message_"):
        return True
    if "content" in classes and "postbody" in (el.getparent().get("class") or "").split():
        return True
    return el.get("itemprop") == "text" and bool(_X_QA_ITEM(el))


_X_SKIP = etree.XPath(
    f"ancestor-or-self::*[{_has('message-signature')} or {_has('signature')} or {_has('js-post-body-field')}"
    " or self::textarea or self::form or self::aside or self::nav]"
)


_WRAPPERS = {"div", "blockquote", "section", "article", "span"}


def _outermost(els: list) -> list:
    chosen = set(els)
    out = []
    for el in els:
        if not any(a in chosen for a in el.iterancestors()):
            out.append(el)
    return out


# words one of which the source of every thread page this reads holds (class names, ids, itemtypes)
THREAD_HINTS = ("post-text", "post_message_", "postbody", "js-post-body", "bbWrapper", "/Question", "/Answer",
                "DiscussionForumPosting")


def _tokens(el) -> list[str]:
    return (el.get("class") or "").split()


def _plain_quote(quote) -> None:
    """A vBulletin quote of an earlier post (`div.bbcode_quote`, alone in a `div.bbcode_container`:
    an attribution with a link, then the quoted message) becomes a `<blockquote>` of its attribution as plain text and the
    message's blocks: trafilatura drops the nested divs whole, the formulas in them too."""
    bq = etree.Element("blockquote")
    for div in quote.iter("div"):
        classes = _tokens(div)
        if "bbcode_postedby" in classes:
            p = etree.SubElement(bq, "p")
            p.text = " ".join(div.text_content().split())
        elif "quote_container" in _tokens(div.getparent()) and not classes or "message" in classes:
            if (div.text or "").strip():
                etree.SubElement(bq, "p").text = div.text
            bq.extend(list(div))
    outer = quote.getparent()
    if "bbcode_container" not in _tokens(outer) or len(outer) != 1 or (outer.text or "").strip():
        outer = quote
    bq.tail = outer.tail
    outer.getparent().replace(outer, bq)


def thread_page(tree, comments: bool, has=None):
    """A new page holding the thread's title, posts (and comments) in page order, or None
    when `tree` is not a thread of two posts or more. `has(*words)`, whether the page source
    holds any of `words`, lets a page that names none of THREAD_HINTS skip the tree search."""
    if has is not None and not has(*THREAD_HINTS):
        return None
    posts = _outermost([p for p in _X_CANDIDATES(tree) if _is_post(p) and not _X_SKIP(p)])
    if len(posts) < 2:
        return None
    picked = posts + ([c for c in _X_COMMENTS(tree) if "comment-copy" in (c.get("class") or "").split()
                       and not _X_SKIP(c)] if comments else [])
    picked = _outermost(picked)
    order = {el: i for i, el in enumerate(tree.iter())}
    picked.sort(key=lambda el: order.get(el, 0))
    page = lxml.html.document_fromstring("<html><head></head><body><article></article></body></html>")
    article = page.find(".//article")
    title = next((h for h in tree.iter("h1") if h.text_content().strip()), None)
    if title is not None:
        h1 = etree.SubElement(article, "h1")
        h1.text = " ".join(title.text_content().split())
    for el in picked:
        body = copy.deepcopy(el)
        body.tail = None
        while len(body) == 1 and not (body.text or "").strip() and not (body[0].tail or "").strip() \
                and body[0].tag in _WRAPPERS:  # a post held in one blockquote (vBulletin) is not a quote
            body = body[0]
        for quote in [q for q in body.iter("div") if "bbcode_quote" in (q.get("class") or "").split()
                      and "zqxm" in q.text_content()]:
            _plain_quote(quote)
        if el in posts:  # a post's blocks go straight into the article: trafilatura keeps one <div>
            if (body.text or "").strip():
                p = etree.SubElement(article, "p")
                p.text = body.text
            article.extend(list(body))
        else:
            body.tag = "p"
            article.append(body)
    return page
