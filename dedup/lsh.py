"""LSH banding: parameters from the threshold, band keys per document, keys shared by documents.

Bands and rows come from datasketch's own optimal-parameter rule (``datasketch.lsh._optimal_param``:
minimize the weighted false-positive + false-negative areas of the S-curve), so they are the
ones ``MinHashLSH(threshold, num_perm)`` would use; band i covers signature columns
``[i*r, (i+1)*r)`` as in datasketch. Each band of a signature becomes one 64-bit key (band
index mixed in), and keys are spread over a fixed number of buckets so a whole batch of
documents travels as a few arrays per bucket instead of one Beam element per band key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np

from curate.dedup.minhash import fmix64
from curate.dedup.partition import split

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
    The bucket view of ``partition.split``, the split the step's spools are written with.
    """
    flat = keys.reshape(-1)
    owner = np.repeat(np.arange(len(nodes)), keys.shape[1])
    for b, seg in split(bucket_of(flat, num_buckets)):
        yield b, (flat[seg], [nodes[i] for i in owner[seg]])


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


def bucket_edges(parts) -> set[tuple[str, str]]:
    """Star edges (smallest node, other node) for every band key shared by ≥2 documents.

    ``parts`` are the (keys, nodes) pieces of one bucket. A key shared by k documents gives
    k-1 edges to its smallest node (not k(k-1)/2 pairs): the same components, linear size.
    The in-memory view of ``shared_keys``, which the step's key groups (``candidates``) are made by.
    """
    parts = list(parts)
    if not parts:
        return set()
    keys = np.concatenate([k for k, _ in parts])
    nodes = np.array([n for _, ns in parts for n in ns], dtype=str)
    edges: set[tuple[str, str]] = set()
    for _, group in shared_keys(keys, nodes):
        group = group.tolist()
        edges.update((group[0], other) for other in group[1:])
    return edges


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal signature values (datasketch's ``MinHash.jaccard``)."""
    return float(np.count_nonzero(a == b)) / float(len(a))
