"""Cluster sizes → the step's ``ClusterStats``: a size histogram and the largest clusters.

A tally is (histogram {size: clusters}, min-heap of the ``top`` largest (size, id)); tallies
merge in any order to the same result (ties on size keep the smaller id).
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import Any, Iterable

from curate.dedup.components import ComponentsNotConverged
from curate.dedup.stats import ClusterStats

Tally = tuple[dict[int, int], list]


class _Desc:
    """Orders ids descending so the min-heap of (size, id) drops the larger id on ties."""

    __slots__ = ("v",)

    def __init__(self, v: str):
        self.v = v

    def __lt__(self, other):
        return self.v > other.v

    def __eq__(self, other):
        return self.v == other.v


def _push(top: list, item, limit: int) -> None:
    heapq.heappush(top, item)
    if len(top) > limit:
        heapq.heappop(top)


def empty() -> Tally:
    return ({}, [])


def add(acc: Tally, cluster: str, size: int, top: int) -> Tally:
    """Count one cluster of ``size`` documents."""
    hist, heap = acc
    hist[size] = hist.get(size, 0) + 1
    _push(heap, (size, _Desc(cluster)), top)
    return acc


def merge(accs: Iterable[Tally], top: int) -> Tally:
    hist, heap = {}, []
    for h, t in accs:
        for k, v in h.items():
            hist[k] = hist.get(k, 0) + v
        for x in t:
            _push(heap, x, top)
    return hist, heap


def result(acc: Tally) -> ClusterStats:
    hist, heap = acc
    largest = [{"id": d.v, "size": s} for s, d in sorted(heap, key=lambda x: (-x[0], x[1].v))]
    return ClusterStats.from_histogram(hist, largest)


def finish(stats: ClusterStats, params: dict, candidates: int, verified: Any, violations: int, rounds: int) -> ClusterStats:
    """The run's figures added to the cluster stats; fails when components did not converge."""
    if violations:
        raise ComponentsNotConverged(
            f"dedup: connected components did not converge in {rounds} large-star/small-star rounds "
            f"({violations} nodes not in star form); raise dedup.cc_rounds"
        )
    return replace(stats, params=params, candidate_edges=candidates, verified_edges=verified,
                   cc_rounds=rounds, cc_converged=True)
