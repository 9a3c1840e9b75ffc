"""Checks on OCR output before it replaces a page: garbage is never kept.

Each check returns ``(reason, detail)`` when the output must be rejected (the page then goes
to the next engine, or keeps its text layer, or is dropped), else None. Reasons:
``nougat:empty`` (nothing but whitespace or Nougat's missing-page markers),
``nougat:repetition`` (the decoder fell into a loop: the tail repeats one unit at least
``min_repeats`` times over ``min_chars`` characters or more), ``tesseract:empty`` (no words),
``tesseract:low_confidence`` (mean word confidence under the threshold).
"""

from __future__ import annotations

import re

_MISSING = re.compile(r"\[MISSING_PAGE_[A-Z_]*(?::\d+)?\]")


def tail_repetition(text: str, min_chars: int = 60, min_repeats: int = 3, max_unit: int = 500) -> tuple[int, int] | None:
    """(unit length, repeats) of the shortest unit that the whitespace-normalised text ends
    with ``min_repeats`` or more times and over ``min_chars`` or more characters; else None."""
    t = " ".join(text.split())
    n = len(t)
    for p in range(1, min(max_unit, n // min_repeats) + 1):
        unit = t[n - p :]
        r = 1
        while (r + 1) * p <= n and t[n - (r + 1) * p : n - r * p] == unit:
            r += 1
        if r >= min_repeats and r * p >= min_chars:
            return p, r
    return None


def check_nougat(raw: str, min_chars: int = 60, min_repeats: int = 3) -> tuple[str, str] | None:
    """Nougat's raw decoded page (before its own repetition truncation)."""
    if not _MISSING.sub("", raw).strip():
        return "nougat:empty", "the model wrote nothing" if not raw.strip() else raw.strip()[:80]
    rep = tail_repetition(raw, min_chars, min_repeats)
    if rep:
        p, r = rep
        unit = " ".join(raw.split())[-p:]
        return "nougat:repetition", f"{unit[:40]!r} repeated {r} times at the end"
    return None


def check_tesseract(text: str, words: int, confidence: float, min_confidence: float) -> tuple[str, str] | None:
    if not words or not text.strip():
        return "tesseract:empty", "no words recognised"
    if confidence < min_confidence:
        return "tesseract:low_confidence", f"mean word confidence {confidence:.1f} < {min_confidence:g}"
    return None
