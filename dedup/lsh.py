"""LSH banding: parameters from the threshold, band keys per document, keys shared by documents.

Bands and rows follow datasketch's optimal-parameter rule (``datasketch.lsh._optimal_param``:
minimize the weighted false-positive + false-negative areas of the S-curve), so they are the
ones ``MinHashLSH(threshold, num_perm)`` would use (computed here without scipy); band i covers signature columns
``[i*r, (i+1)*r)`` as in datasketch. Each band of a signature becomes one 64-bit key (band
index mixed in), and keys are spread over a fixed number of buckets so a whole batch of
documents travels as a few arrays per bucket instead of one Beam element per band key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np

from curate.dedup.minhash import fmix64

_BAND_SEED = np.uint64(0xD6E8FEB86659FD93)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false positive + false negative areas of the
    S-curve, datasketch's rule (``datasketch.lsh._optimal_param``, same search order and
    strict minimum). Both integrands are polynomials of degree b*r ≤ num_perm, so Gauss-Legendre
    quadrature with num_perm//2 + 1 nodes integrates them exactly: no scipy at start-up."""
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    b, r = pairs[:, :1], pairs[:, 1:]
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def area(lo: float, hi: float, fn) -> np.ndarray:
        s = (hi - lo) / 2 * x + (hi + lo) / 2
        return fn(s) @ w * (hi - lo) / 2

    fp = area(0.0, threshold, lambda s: 1 - (1 - s ** r) ** b)
    fn = area(threshold, 1.0, lambda s: (1 - s ** r) ** b)
    best = int(np.argmin(fp * fp_weight + fn * fn_weight))
    return int(pairs[best, 0]), int(pairs[best, 1])


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(N, bands) uint64 keys: band i of two signatures has the same key iff (up to 2^-64) equal."""
    if sigs.shape[1] < bands * rows:
        raise ValueError(f"signatures have {sigs.shape[1]} values, bands*rows needs {bands * rows}")
    n = sigs.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    s64 = sigs.astype(np.uint64)
    for i in range(bands):
        h = np.full(n, _BAND_SEED ^ np.uint64(i), dtype=np.uint64)
        for j in range(i * rows, (i + 1) * rows):
            h = fmix64(h ^ s64[:, j])
        keys[:, i] = h
    return keys


def bucket_of(keys: np.ndarray, num_buckets: int) -> np.ndarray:
    """Bucket number of each key (keys are already well mixed)."""
    return (keys % np.uint64(num_buckets)).astype(np.int64)


def shared_keys(keys: np.ndarray, members: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(key, its sorted distinct members) for every key shared by ≥ 2 distinct members, in key order.

    ``keys[i]`` is a band key held by ``members[i]`` (a node handle, or any sortable name).
    """
    if len(keys) < 2:
        return
    order = np.lexsort((members, keys))
    ks, ms = keys[order], members[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    ends = np.r_[starts[1:], len(ks)]
    multi = ends - starts > 1
    for s, e in zip(starts[multi].tolist(), ends[multi].tolist()):
        g = np.unique(ms[s:e])
        if len(g) > 1:
            yield int(ks[s]), g


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal signature values (datasketch's ``MinHash.jaccard``)."""
    return float(np.count_nonzero(a == b)) / float(len(a))
