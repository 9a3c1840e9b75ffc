"""Documents as the report shows them: Markdown to HTML with math left for KaTeX and code highlighted.

A Document's text is Markdown with ``$…$`` / ``$$…$$`` (or ``\\(…\\)`` / ``\\[…\\]``) math and
fenced code (DESIGN, the Document record). Math is lifted out before Markdown parsing (so
``_`` and ``*`` inside a formula are not read as emphasis) and put back as
``<span class="math" data-display="0|1">TeX</span>``, which the report's script typesets
with the bundled KaTeX. Code blocks are highlighted by Pygments with CSS classes. Raw HTML,
links and images in a document are shown as text: the report loads nothing and runs no
markup from the data. The same text always gives the same HTML.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MAX_CHARS = 2500  # characters of a document shown in an example (cut at a line boundary)

_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")
_FENCE = re.compile(r"^(```+|~~~+)", re.M)
# code spans first (left alone), then display math, then inline math; $ followed by a digit-space
# pattern like "$5 and $6" is not math: inline math must not start or end with a space
_MATH = re.compile(r"(`+)(?:.|\n)*?\1|\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)",
                   re.S)


def code_css() -> str:
    """The CSS of highlighted code (Pygments' default style, class-based)."""
    return _FORMATTER.get_style_defs(".hl")


def _highlight(code: str, lang: str, _attrs) -> str:
    name = (lang or "").split()[0] if lang else ""
    try:
        lexer = get_lexer_by_name(name) if name else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, _FORMATTER) if lexer else html.escape(code)
    label = f'<span class="lang">{html.escape(name)}</span>' if name else ""
    return f'<pre class="hl">{label}<code>{body}</code></pre>'


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    md.enable("table")
    md.disable(["link", "image", "autolink"])
    return md


_MD = _markdown()


def shorten(text: str, limit: int = MAX_CHARS) -> tuple[str, bool]:
    """At most ``limit`` characters, cut at a line end outside any code fence (a fence open at
    the cut is closed); returns (text, whether it was cut)."""
    if len(text) <= limit:
        return text, False
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > limit // 2 else limit
    head = text[:cut].rstrip()
    if len(_FENCE.findall(head)) % 2:
        head += "\n```"
    return head, True


def _math_tokens(text: str) -> tuple[str, list[tuple[str, bool]]]:
    """Text with each formula replaced by a placeholder word, and the formulas (TeX, display)."""
    found: list[tuple[str, bool]] = []
    parts: list[str] = []
    in_fence = False
    # fenced code is left alone: the text is split at fence lines and only outside parts are scanned
    pieces = re.split(r"(^(?:```+|~~~+)[^\n]*$)", text, flags=re.M)
    for piece in pieces:
        if _FENCE.match(piece or ""):
            in_fence = not in_fence
            parts.append(piece)
            continue
        if in_fence:
            parts.append(piece)
            continue

        def sub(m: re.Match) -> str:
            if m.group(1):
                return m.group(0)
            display = m.group(2) is not None or m.group(3) is not None
            tex = next(g for g in m.groups()[1:] if g is not None)
            found.append((tex.strip(), display))
            return f"CURATEMATH{len(found) - 1}X"

        parts.append(_MATH.sub(sub, piece))
    return "".join(parts), found


def markdown_html(text: str) -> str:
    """HTML of one document's Markdown text (see the module docstring)."""
    body, formulas = _math_tokens(text)
    out = _MD.render(body)

    def put(m: re.Match) -> str:
        tex, display = formulas[int(m.group(1))]
        return f'<span class="math" data-display="{int(display)}">{html.escape(tex)}</span>'

    return re.sub(r"CURATEMATH(\d+)X", put, out)
