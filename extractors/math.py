"""Math found in HTML: TeX delimiters in running text, and LaTeX carried by image alt text or URLs.

`find_tex` scans one text string for `$$…$$`, `\\[…\\]`, `\\(…\\)`, `\\begin{env}…\\end{env}` and,
when the page loads a TeX renderer, single-dollar `$…$` (price-like `$5` is never taken).
`img_latex` reads an `<img>` that renders a formula (class "latex"/"tex", codecogs-style
`?latex=` URLs, mimetex/mathtex CGI, Google chart `cht=tx`), returning its TeX.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

_ENVS = (
    r"equation\*?|align\*?|aligned|alignat\*?|gather\*?|gathered|multline\*?|eqnarray\*?|displaymath|"
    r"math|split|cases|array|matrix|[pbBvV]matrix|flalign\*?"
)
_DISPLAY_ONLY = re.compile(
    r"(?s)\$\$(?P<dd>.+?)\$\$|\\\[(?P<sb>.+?)\\\]|\\\((?P<rp>.+?)\\\)"
    r"|(?P<env>\\begin\{(?P<envname>" + _ENVS + r")\}.*?\\end\{(?P=envname)\})"
)
_WITH_DOLLAR = re.compile(
    _DISPLAY_ONLY.pattern
    + r"|(?<![\\$\w])\$(?P<d>[^\s$](?:[^$\n]|\n(?!\s*\n)){0,800}?)(?<![\s\\])\$(?![\d$])"
)
_BR = re.compile(r"<br\s*/?>", re.I)
_IMG_URL = re.compile(r"(?:latex|mimetex|mathtex|tex2img|texify|mathurl|forkosh|cht=tx|/tex\?|wp-latex)", re.I)


def clean_tex(tex: str) -> str:
    """TeX as found in attributes and scripts: HTML line breaks dropped, whitespace trimmed."""
    tex = _BR.sub(" ", tex).replace("\u00a0", " ").strip()
    return tex


def find_tex(text: str, single_dollar: bool) -> list[tuple[int, int, str, bool]]:
    """(start, end, tex, display) for each delimited formula in `text`, in order."""
    rx = _WITH_DOLLAR if single_dollar else _DISPLAY_ONLY
    out = []
    for m in rx.finditer(text):
        if m.group("env"):
            tex, display = m.group("env"), True
        elif m.group("dd") is not None:
            tex, display = m.group("dd"), True
        elif m.group("sb") is not None:
            tex, display = m.group("sb"), True
        elif m.group("rp") is not None:
            tex, display = m.group("rp"), False
        else:
            tex, display = m.group("d"), False
        tex = tex.strip()
        if tex:
            out.append((m.start(), m.end(), tex, display))
    return out


def _strip_delims(tex: str) -> str:
    tex = tex.strip()
    for a, b in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if len(tex) > len(a) + len(b) and tex.startswith(a) and tex.endswith(b):
            return tex[len(a): -len(b)].strip()
    return tex


def img_latex(img) -> str | None:
    """TeX rendered by an image, from its URL query or (for formula images) its alt text."""
    src = img.get("src") or img.get("data-src") or ""
    cls = (img.get("class") or "").lower()
    alt = (img.get("alt") or img.get("title") or "").strip()
    if "mwe-math-fallback-image" in cls:
        return clean_tex(alt) or None
    url_is_tex = bool(_IMG_URL.search(src))
    if url_is_tex:
        parts = urlsplit(src)
        query = parse_qs(parts.query, keep_blank_values=True)
        for key in ("latex", "chl", "tex", "formula", "eq", "math", "l"):
            if key in query and query[key][0].strip():
                return clean_tex(_strip_delims(query[key][0]))
        whole_query = re.search(r"mimetex|mathtex|codecogs|\.latex$|tex2img|\.cgi$", parts.netloc + parts.path, re.I)
        if parts.query and (whole_query or "=" not in parts.query.split("&")[0][:12]):
            # codecogs / mimetex style: everything after '?' is the (URL-encoded) TeX
            raw = src.split("?", 1)[1]
            raw = re.sub(r"^\\(?:dpi|bg|fg)\{[^}]*\}\s*|^\\(?:inline|large|small)\s*", "", unquote(raw))
            return clean_tex(_strip_delims(raw)) or None
        if alt:
            return clean_tex(_strip_delims(alt))
    if re.search(r"(?:^|\s|-)(?:latex|tex|math|formula|equation|mathtex|ql-img-inline-formula)(?:\s|-|$)", cls) and alt:
        return clean_tex(_strip_delims(alt))
    return None
