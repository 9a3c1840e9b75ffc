"""Text normalization for dedup: ``exact_normalize`` for exact hashing, ``normalize`` for MinHash.

Exact dedup keys on ``exact_normalize``, which folds only what never changes meaning (case,
whitespace, Unicode forms), so texts that differ by a sign, an operator or a decimal point
never merge. MinHash shingles ``normalize``, which also turns punctuation into spaces: a near
duplicate that differs only in punctuation then shingles the same. Symbols (``+ = ^ $``) are
kept by both: they carry meaning in math and code.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_INNER_SPACE = re.compile(r"(?<=\S)\s+")  # a run of whitespace after a line's first non-space
_BLANK_LINES = re.compile(r"\n{3,}")
_QUOTES = str.maketrans("‘’‚‛′‹›“”„‟«»", "\'\'\'\'\'\'\'\"\"\"\"\"\"")


class _LazyTable(dict):
    """A ``str.translate`` table filled as characters are met (``rule(char)``: the replacement,
    or None to keep the character), instead of classifying all 1.1M code points up front."""

    def __init__(self, rule, fixed: dict[int, str] | None = None):
        super().__init__(fixed or {})
        self.rule = rule

    def __missing__(self, cp: int) -> str:
        c = chr(cp)
        out = self.rule(c)
        self[cp] = c if out is None else out
        return self[cp]


# Every Unicode punctuation character (categories P*) → a space.
_PUNCT_TABLE = _LazyTable(lambda c: " " if unicodedata.category(c).startswith("P") else None)
# Dashes (category Pd) and U+2212 MINUS SIGN → "-"; curly quotes, primes, guillemets → ' or ".
_EXACT_TABLE = _LazyTable(lambda c: "-" if unicodedata.category(c) == "Pd" else None, {0x2212: "-"} | _QUOTES)


def exact_normalize(text: str | None) -> str:
    """The text exact dedup hashes: folded where spelling varies, never where meaning does.

    Folded: Unicode compatibility forms (NFKC: full-width letters and digits, ligatures,
    non-breaking and other wide spaces), letter case (casefold), every dash and the minus sign
    to "-", curly quotes to straight ones, line ends (CRLF, CR) to LF, trailing whitespace,
    runs of whitespace inside a line, runs of blank lines, and whitespace at both ends.
    Kept: all punctuation and symbols (operators, signs, decimal points, brackets), line breaks
    and indentation — ``a - b`` is not ``a b``, ``2.5`` is not ``2,5`` and a Python line
    indented out of a loop is another program.
    """
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_EXACT_TABLE)
    lines = "\n".join(_INNER_SPACE.sub(" ", line.rstrip()) for line in t.splitlines())
    return _BLANK_LINES.sub("\n\n", lines).strip()


def normalize(text: str | None) -> str:
    """NFKC, case-folded, punctuation turned into spaces, whitespace runs collapsed to one space."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_PUNCT_TABLE)
    return " ".join(t.split())


def exact_digest(text: str | None) -> bytes:
    """16-byte BLAKE2b digest of ``exact_normalize(text)``: the exact-dedup key."""
    return hashlib.blake2b(exact_normalize(text).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def exact_hash(text: str | None) -> str:
    """Hex ``exact_digest``; "" when there is nothing to compare (``normalize`` leaves nothing).

    Dedup passes such texts (empty, whitespace or punctuation only) on untouched.
    """
    return exact_digest(text).hex() if normalize(text) else ""
