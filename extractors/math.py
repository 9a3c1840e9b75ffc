"""Math found in HTML: TeX delimiters in running text, and LaTeX carried by image alt text or URLs.

`find_tex` scans one text string for `$$…$$`, `\\[…\\]`, `\\(…\\)`, `\\begin{env}…\\end{env}`, the
forum tags (`[tex]`, `[itex]`, `[math]`, `[latex]`), the delimiters the page configures for
MathJax or KaTeX (`page_delimiters`) and, when the page loads a TeX renderer, single-dollar
`$…$` (price-like `$5` is never taken).
`img_latex` reads an `<img>` that renders a formula (class "latex"/"tex", codecogs-style
`?latex=` URLs, mimetex/mathtex CGI, Google chart `cht=tx`), returning its TeX.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlsplit

_ENVS = (
    r"equation\*?|align\*?|aligned|alignat\*?|gather\*?|gathered|multline\*?|eqnarray\*?|displaymath|"
    r"math|split|cases|array|matrix|[pbBvV]matrix|flalign\*?"
)
_ENV = r"(?P<env>\\begin\{(?P<envname>" + _ENVS + r")\}.*?\\end\{(?P=envname)\})"
_SINGLE_DOLLAR = r"(?<![\\$\w])\$(?P<{g}>[^\s$](?:[^$\n]|\n(?!\s*\n)){{0,800}}?)(?<![\s\\])\$(?![\d$])"
# (left, right, display): what MathJax and KaTeX recognise out of the box, and the forum tags.
DEFAULT_DELIMITERS = (("$$", "$$", True), ("\\[", "\\]", True), ("\\(", "\\)", False))
FORUM_DELIMITERS = (
    ("[tex]", "[/tex]", True), ("[itex]", "[/itex]", False), ("[math]", "[/math]", False),
    ("[imath]", "[/imath]", False),
    ("[latex]", "[/latex]", False), ("$latex ", "$", False),
)
_PAIR = re.compile(r"""\[\s*(['"])((?:\\.|(?!\1).)*)\1\s*,\s*(['"])((?:\\.|(?!\3).)*)\3\s*\]""")
_MJ_KEY = re.compile(r"""['"]?(inlineMath|displayMath)['"]?\s*:\s*(\[\s*\[.*?\]\s*\])""", re.S)
_KATEX_DELIMS = re.compile(r"""delimiters['"]?\s*:\s*\[(.*?)\]\s*[,}]""", re.S)
_KATEX_ONE = re.compile(
    r"""\{\s*['"]?left['"]?\s*:\s*(['"])((?:\\.|(?!\1).)*)\1\s*,\s*['"]?right['"]?\s*:\s*(['"])((?:\\.|(?!\3).)*)\3"""
    r"""\s*,\s*['"]?display['"]?\s*:\s*(true|false|!0|!1)""", re.S
)


def _js_string(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def page_delimiters(scripts: str) -> tuple[tuple[str, str, bool], ...]:
    """Delimiters a page configures for MathJax (`tex.inlineMath`/`displayMath` in v3's
    `window.MathJax = {…}`, `tex2jax` in v2's `MathJax.Hub.Config`) or KaTeX auto-render
    (`delimiters: [{left, right, display}]`), read from its inline scripts."""
    out: list[tuple[str, str, bool]] = []
    for m in _MJ_KEY.finditer(scripts):
        display = m.group(1) == "displayMath"
        for p in _PAIR.finditer(m.group(2)):
            out.append((_js_string(p.group(2)), _js_string(p.group(4)), display))
    for m in _KATEX_DELIMS.finditer(scripts):
        for d in _KATEX_ONE.finditer(m.group(1)):
            out.append((_js_string(d.group(2)), _js_string(d.group(4)), d.group(5) in ("true", "!0")))
    return tuple((a, b, disp) for a, b, disp in out if a and b and len(a) <= 20 and len(b) <= 20)


@lru_cache(maxsize=64)
def _pattern(delims: tuple[tuple[str, str, bool], ...]) -> tuple[re.Pattern, tuple[bool, ...]]:
    seen: dict[tuple[str, str], bool] = {}
    for a, b, disp in delims:
        seen.setdefault((a, b), disp)
    pairs = sorted(seen.items(), key=lambda kv: -len(kv[0][0]))  # `$$` before `$`
    alts, display = [_ENV], []
    for i, ((a, b), disp) in enumerate(pairs):
        g = f"g{i}"
        if a == b == "$":
            alts.append(_SINGLE_DOLLAR.format(g=g))
        elif len(a) == 1 and a == b:  # one-character pairs other than `$` need a word edge
            alts.append(rf"(?<![\w{re.escape(a)}]){re.escape(a)}(?P<{g}>[^\s{re.escape(a)}][^\n]{{0,300}}?)"
                        rf"{re.escape(b)}(?![\w{re.escape(b)}])")
        else:
            alts.append(rf"{re.escape(a)}(?P<{g}>.+?){re.escape(b)}")
        display.append(disp)
    return re.compile("(?s)" + "|".join(alts)), tuple(display)


def find_tex(text: str, single_dollar: bool, delimiters: tuple[tuple[str, str, bool], ...] = ()
             ) -> list[tuple[int, int, str, bool]]:
    """(start, end, tex, display) for each delimited formula in `text`, in order: the default
    delimiters, the forum tags, `$…$` when `single_dollar`, and the page's own `delimiters`."""
    delims = delimiters + DEFAULT_DELIMITERS + FORUM_DELIMITERS + ((("$", "$", False),) if single_dollar else ())
    rx, display = _pattern(delims)
    out = []
    for m in rx.finditer(text):
        if m.group("env"):
            tex, disp = m.group("env"), True
        else:
            i = next(i for i, v in enumerate(m.groups()[2:]) if v is not None)
            tex, disp = m.group(f"g{i}"), display[i]
        tex = tex.strip()
        if tex:
            out.append((m.start(), m.end(), tex, disp))
    return out


_BR = re.compile(r"<br\s*/?>", re.I)
_IMG_URL = re.compile(r"(?:latex|mimetex|mathtex|tex2img|texify|mathurl|forkosh|cht=tx|/tex\?|wp-latex)", re.I)


def clean_tex(tex: str) -> str:
    """TeX as found in attributes and scripts: HTML line breaks dropped, whitespace trimmed."""
    tex = _BR.sub(" ", tex).replace("\u00a0", " ").strip()
    return tex


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
