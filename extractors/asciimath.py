"""AsciiMath (`sum_(i=1)^n i^3`, as written between backticks on pages that load MathJax's
AsciiMath input) → LaTeX, with py-asciimath's grammar, so training text holds one math notation.

py-asciimath configures the root logger at import (DEBUG, to stderr) and logs each call; the
import here leaves the root logger as it found it. Its parser is built once per process, on
first use (about a second), since most pages never need it.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

_TEXT_TYPO = re.compile(r"\\mathmr\{")  # py-asciimath 0.3.0 writes `\mathmr` for `if`-style words
_DOLLARS = re.compile(r"^\$(.*)\$$", re.S)


@lru_cache(maxsize=1)
def _translator():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from py_asciimath.translator.translator import ASCIIMath2Tex
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
    return ASCIIMath2Tex(log=False, inplace=True)


@lru_cache(maxsize=4096)
def asciimath_to_latex(text: str) -> str | None:
    """LaTeX for one AsciiMath formula, or None when the grammar does not accept it."""
    if not text.strip():
        return None
    try:
        out = _translator().translate(text, displaystyle=False, from_file=False, pprint=False)
    except Exception:  # noqa: BLE001 - lark raises many error types on input outside the grammar
        return None
    m = _DOLLARS.match(out.strip())
    tex = _TEXT_TYPO.sub(r"\\mathrm{", m.group(1) if m else out).strip()
    return tex or None
