"""Candidate edges: a group's nodes as a star, each edge kept if the estimated Jaccard is high enough.

A group of k nodes gives k-1 edges from its smallest node (the same components as all
k(k-1)/2 pairs, linear size). With verification an edge holds when the two signatures agree
on at least ``threshold`` of their values; an edge found by several groups holds if any
verified it. The candidates an edge stands for: one with verification, else one per bucket
it was found in (as banding alone counts them).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from curate.dedup.lsh import estimated_jaccard

Edge = tuple[str, str]


def star_edges(members: Iterable[tuple[str, bytes, tuple[int, ...]]], verify: bool, threshold: float
               ) -> Iterator[tuple[Edge, tuple[tuple[int, ...], bool]]]:
    """A group's (node, signature, buckets) → ((smallest node, other), (buckets, verified?)) per other node."""
    sig: dict[str, bytes] = {}
    buckets: set = set()
    for n, s, bs in members:
        sig[n] = min(s, sig.get(n, s))
        buckets.update(bs)
    nodes = sorted(sig)
    if len(nodes) < 2:
        return
    a, bs = nodes[0], tuple(sorted(buckets))
    sa = np.frombuffer(sig[a], dtype=np.uint32)
    for b in nodes[1:]:
        ok = not verify or estimated_jaccard(sa, np.frombuffer(sig[b], dtype=np.uint32)) >= threshold
        yield (a, b), (bs, ok)


def merge_edge(found: Iterable[tuple[tuple[int, ...], bool]], verify: bool) -> tuple[int, bool]:
    """Every (buckets, verified?) an edge was found with → (candidates it stands for, verified?)."""
    buckets, ok = set(), False
    for bs, k in found:
        buckets.update(bs)
        ok = ok or k
    return (1 if verify else len(buckets)), ok
