"""Gopher's n-gram repetition statistics over a word list, with numpy.

Words become integer ids once; the n-grams of each length get dense ids from those of the
length before (code = (n-1)-gram id × vocabulary + next word id, made dense again by one
``np.unique``), so n-grams are grouped exactly (no hashing) in one sort per length instead of
a Python tuple per position and length.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Grams(NamedTuple):
    """The n-grams of a word list: ``ids`` (one per position, equal n-grams equal ids), and
    per distinct id its ``first`` position and ``counts``."""

    ids: np.ndarray
    first: np.ndarray
    counts: np.ndarray


def word_ids(words: list[str]) -> np.ndarray:
    """One int64 id per word, equal ids for equal words."""
    index: dict[str, int] = {}
    return np.fromiter((index.setdefault(w, len(index)) for w in words), dtype=np.int64, count=len(words))


def grams(words: np.ndarray, n: int, shorter: Grams | None = None) -> Grams:
    """The ``len(words) - n + 1`` n-grams of the word ids ``words``; ``shorter``: the
    (n-1)-grams when known (else computed)."""
    if n == 1:
        codes = words
    else:
        if shorter is None:
            shorter = grams(words, n - 1)
        codes = shorter.ids[:-1] * (int(words.max()) + 1) + words[n - 1:]  # < len² : exact below 3·10⁹ words
    _, first, inverse, counts = np.unique(codes, return_index=True, return_inverse=True, return_counts=True)
    return Grams(inverse.reshape(-1), first, counts)


def top_gram(words: list[str], g: Grams, n: int) -> tuple[tuple[str, ...], int]:
    """The most frequent n-gram and its count; among equals, the one that appears first
    (``Counter(...).most_common(1)``'s choice)."""
    top = g.counts.max()
    i = int(g.first[g.counts == top].min())
    return tuple(words[i:i + n]), int(top)


def dup_gram_frac(words: list[str], g: Grams, n: int, total: int) -> float:
    """Share of the characters (``total``: of all words) in words covered by an n-gram that
    repeats an earlier one."""
    starts = np.flatnonzero(g.first[g.ids] != np.arange(len(g.ids)))
    cover = np.zeros(len(words) + 1, dtype=np.int64)
    cover[starts] += 1  # distinct positions: no repeated index in either update
    cover[starts + n] -= 1
    covered = np.cumsum(cover[:-1]) > 0
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return int(lengths[covered].sum()) / total
