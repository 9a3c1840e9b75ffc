"""LSH banding: parameters from the threshold, band keys per document, candidate edges.

Bands and rows come from datasketch's own optimal-parameter rule (``datasketch.lsh._optimal_param``:
minimize the weighted false-positive + false-negative areas of the S-curve), so they are the
ones ``MinHashLSH(threshold, num_perm)`` would use; band i covers signature columns
``[i*r, (i+1)*r)`` as in datasketch. Each band of a signature becomes one 64-bit key (band
index mixed in), and keys are spread over a fixed number of buckets so a whole batch of
documents travels as a few arrays per bucket instead of one Beam element per band key.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from curate.dedup.minhash import fmix64

_BAND_SEED = np.uint64(0xD6E8FEB86659FD93)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimizing datasketch's weighted false positive/negative probability."""
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, fp_weight, fn_weight)
    return int(b), int(r)


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


def split_by_bucket(keys: np.ndarray, nodes: list[str], num_buckets: int):
    """Yield (bucket, (keys uint64[], nodes list)) for every non-empty bucket of a batch.

    ``keys`` is (N, bands); ``nodes`` names the N documents. One output per bucket, not per key.
    """
    flat = keys.reshape(-1)
    owner = np.repeat(np.arange(len(nodes)), keys.shape[1])
    bk = bucket_of(flat, num_buckets)
    order = np.argsort(bk, kind="stable")
    bk_sorted = bk[order]
    cuts = np.flatnonzero(np.diff(bk_sorted)) + 1
    for seg in np.split(order, cuts):
        if len(seg):
            yield int(bk[seg[0]]), (flat[seg], [nodes[i] for i in owner[seg]])


def bucket_edges(parts) -> set[tuple[str, str]]:
    """Star edges (smallest node, other node) for every band key shared by ≥2 documents.

    ``parts`` are the (keys, nodes) pieces of one bucket. A key shared by k documents gives
    k-1 edges to its smallest node (not k(k-1)/2 pairs): the same components, linear size.
    """
    parts = list(parts)
    if not parts:
        return set()
    keys = np.concatenate([k for k, _ in parts])
    nodes = [n for _, ns in parts for n in ns]
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    edges: set[tuple[str, str]] = set()
    same = np.flatnonzero(ks[1:] == ks[:-1])
    if not len(same):
        return edges
    # Runs of equal keys: start where the previous element differs.
    run_starts = same[np.r_[True, np.diff(same) > 1]]
    for s in run_starts:
        e = s + 1
        while e < len(ks) and ks[e] == ks[s]:
            e += 1
        group = sorted({nodes[i] for i in order[s:e]})
        for other in group[1:]:
            edges.add((group[0], other))
    return edges


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal signature values (datasketch's ``MinHash.jaccard``)."""
    return float(np.count_nonzero(a == b)) / float(len(a))
