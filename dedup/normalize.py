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
import sys
import unicodedata

_PUNCT_TABLE: dict[int, str] | None = None
_EXACT_TABLE: dict[int, str] | None = None
_INNER_SPACE = re.compile(r"(?<=\S)\s+")  # a run of whitespace after a line's first non-space
_BLANK_LINES = re.compile(r"\n{3,}")


def _punct_table() -> dict[int, str]:
    """Every Unicode punctuation code point (categories P*) → a space; built once per process."""
    global _PUNCT_TABLE
    if _PUNCT_TABLE is None:
        _PUNCT_TABLE = {
            cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")
        }
    return _PUNCT_TABLE


def _exact_table() -> dict[int, str]:
    """Dashes (category Pd) and U+2212 MINUS SIGN → "-"; curly quotes, primes, guillemets → ' or "."""
    global _EXACT_TABLE
    if _EXACT_TABLE is None:
        dashes = {cp: "-" for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Pd"}
        _EXACT_TABLE = dashes | {0x2212: "-"} | str.maketrans("‘’‚‛′‹›“”„‟«»", "'''''''\"\"\"\"\"\"")
    return _EXACT_TABLE


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
    t = unicodedata.normalize("NFKC", text).casefold().translate(_exact_table())
    lines = "\n".join(_INNER_SPACE.sub(" ", line.rstrip()) for line in t.splitlines())
    return _BLANK_LINES.sub("\n\n", lines).strip()


def normalize(text: str | None) -> str:
    """NFKC, case-folded, punctuation turned into spaces, whitespace runs collapsed to one space."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_punct_table())
    return " ".join(t.split())


def exact_digest(text: str | None) -> bytes:
    """16-byte BLAKE2b digest of ``exact_normalize(text)``: the exact-dedup key."""
    return hashlib.blake2b(exact_normalize(text).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def exact_hash(text: str | None) -> str:
    """Hex ``exact_digest``; "" when there is nothing to compare (``normalize`` leaves nothing).

    Dedup passes such texts (empty, whitespace or punctuation only) on untouched.
    """
    return exact_digest(text).hex() if normalize(text) else ""
