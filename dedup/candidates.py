"""Candidate groups: handles that share a band key, and the nodes and signatures they stand for.

Band records carry handles only (slim); a group of ≥ 2 distinct handles sharing a key is kept
once, named by ``group_id``, with the buckets of the keys it was found by (without
verification each bucket counts as a candidate). Its members are then routed to the
partition of their handle, where the node records resolve them to (node, signature).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from curate.dedup.fingerprints import group_id
from curate.dedup.lsh import shared_keys

Members = tuple[np.ndarray, np.ndarray, np.ndarray]  # handles, group ids, buckets (one row per member and bucket)


def key_groups(keys: np.ndarray, hs: np.ndarray, buckets: int, excluded: np.ndarray | None = None) -> dict[bytes, set[int]]:
    """Band keys and their handles → {sorted distinct handles' bytes: buckets of the keys they share}.

    Handles in ``excluded`` (exact duplicates) take no part.
    """
    if excluded is not None and len(excluded):
        keep = ~np.isin(hs, excluded)
        keys, hs = keys[keep], hs[keep]
    found: dict[bytes, set[int]] = {}
    for key, g in shared_keys(keys, hs):
        found.setdefault(g.tobytes(), set()).add(key % buckets)
    return found


def members_by_partition(found: dict[bytes, set[int]], parts: int) -> Iterator[tuple[int, Members]]:
    """Groups → (partition, members) for each partition holding a member's handle, ascending."""
    out: dict[int, tuple[list, list, list]] = {}
    for g in sorted(found):
        gid = group_id(g)
        for h in np.frombuffer(g, dtype=np.uint64).tolist():
            hl, gl, bl = out.setdefault(h % parts, ([], [], []))
            for b in sorted(found[g]):
                hl.append(h)
                gl.append(gid)
                bl.append(b)
    for p in sorted(out):
        hl, gl, bl = out[p]
        yield p, (np.array(hl, dtype=np.uint64), np.array(gl, dtype=np.uint64), np.array(bl, dtype=np.int64))


def wanted(members: Iterable[Members]) -> dict[int, dict[int, set[int]]]:
    """Members of one partition → handle → group id → buckets."""
    need: dict[int, dict[int, set]] = {}
    for hs, gids, buckets in members:
        for h, gid, b in zip(hs.tolist(), gids.tolist(), buckets.tolist()):
            need.setdefault(h, {}).setdefault(gid, set()).add(b)
    return need


def rows_wanted(need: dict[int, dict[int, set[int]]], hs: np.ndarray) -> np.ndarray:
    """Indices of the node records whose handle is wanted."""
    return np.flatnonzero(np.isin(hs, np.array(sorted(need), dtype=np.uint64)))


def resolve(need: dict[int, dict[int, set[int]]], hs: list[int], nodes: list[str], sigs: list[bytes]
            ) -> Iterator[tuple[int, tuple[str, bytes, tuple[int, ...]]]]:
    """Wanted handles + node records (handle, node, signature) → (group id, (node, signature, buckets)).

    A node recorded twice (the same document read twice) resolves to its smallest signature.
    """
    rows: dict[int, dict[str, bytes]] = {}
    for h, n, s in zip(hs, nodes, sigs):
        cur = rows.setdefault(h, {})
        if n not in cur or s < cur[n]:  # the same node twice: a fixed choice
            cur[n] = s
    for h in sorted(need):
        for gid, buckets in sorted(need[h].items()):
            for n, s in sorted(rows.get(h, {}).items()):
                yield gid, (n, s, tuple(sorted(buckets)))
