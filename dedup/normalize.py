"""Text normalization shared by exact and MinHash dedup.

Two texts that differ only in Unicode form (NFKC), letter case, whitespace or punctuation
normalize to the same string, so they hash equal for exact dedup and shingle the same for
MinHash. Symbols (``+ = ^ $``) are kept: they carry meaning in math and code.
"""

from __future__ import annotations

import hashlib
import sys
import unicodedata

_PUNCT_TABLE: dict[int, str] | None = None


def _punct_table() -> dict[int, str]:
    """Every Unicode punctuation code point (categories P*) → a space; built once per process."""
    global _PUNCT_TABLE
    if _PUNCT_TABLE is None:
        _PUNCT_TABLE = {
            cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")
        }
    return _PUNCT_TABLE


def normalize(text: str | None) -> str:
    """NFKC, case-folded, punctuation turned into spaces, whitespace runs collapsed to one space."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).casefold().translate(_punct_table())
    return " ".join(t.split())


def exact_hash(text: str | None) -> str:
    """128-bit hex digest of the normalized text ("" for text that normalizes to nothing)."""
    norm = normalize(text)
    if not norm:
        return ""
    return hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
