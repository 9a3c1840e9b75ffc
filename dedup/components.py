"""Connected components by alternating large-star / small-star rounds, and the survivor rule.

Nodes are strings that sort in survivor order (``node_key``): highest quality score first
(when the configured score is present), then the longest text, then the smallest id. So the
minimum node of a component — what large-star/small-star converges to as every component's
center — is the document that survives, with no extra ranking join.

Each round is two keyed steps over edges only (Kiveris et al., "Connected Components in
MapReduce and Beyond", 2014): large-star connects every larger neighbor of a node to the
node's smallest neighbor, small-star connects a node and its smaller neighbors to the
smallest of them. Both keep components and end in stars centered on each component's
minimum. No step ever holds more than one node's neighborhood. ``finalize`` checks that
the stars are reached (every node with a smaller neighbor has exactly one neighbor), which
proves convergence locally; a node that fails is reported so the run can fail clearly.
"""

from __future__ import annotations

import math
import struct
from typing import Iterable

_M64 = (1 << 64) - 1
_NO_SCORE = "1" + "0" * 16


def _desc_float(q: float) -> str:
    """17-char string that sorts ascending as ``q`` sorts descending."""
    u = struct.unpack(">Q", struct.pack(">d", q))[0]
    asc = (u ^ _M64) if u >> 63 else (u | (1 << 63))
    return "0" + format(asc ^ _M64, "016x")


def node_key(doc: dict, quality_key: str | None = None) -> str:
    """Survivor-ordered node name of a document: quality desc, length desc, id asc."""
    q = None
    if quality_key:
        try:
            q = float((doc.get("scores") or {}).get(quality_key))
        except (TypeError, ValueError):
            q = None  # absent or not a number: ranked after every scored document
    qpart = _desc_float(q) if q is not None and not math.isnan(q) else _NO_SCORE
    length = len(doc.get("text") or "")
    return f"{qpart}|{format(_M64 - min(length, _M64), '016x')}|{doc['id']}"


def node_id(node: str) -> str:
    """The document id inside a node name."""
    return node.split("|", 2)[2]


class ComponentsNotConverged(RuntimeError):
    """Large-star/small-star did not reach stars within ``cc_rounds``."""


def large_star(u: str, neighbors: Iterable[str]) -> list[tuple[str, str]]:
    """Edges (v, m) for every neighbor v > u, m = min of u and its neighbors."""
    nb = set(neighbors)
    nb.discard(u)
    if not nb:
        return []
    m = min(min(nb), u)
    return [(v, m) for v in sorted(nb) if v > u and v != m]


def small_star(u: str, smaller: Iterable[str]) -> list[tuple[str, str]]:
    """Given u's smaller neighbors: edges (v, m) for v in them and u, m = the smallest."""
    nb = {v for v in smaller if v < u}
    if not nb:
        return []
    m = min(nb)
    return [(v, m) for v in sorted(nb | {u}) if v != m]


def finalize(u: str, neighbors: Iterable[str]) -> tuple[str, bool]:
    """(component center of u, converged?) on the last round's edges, from u's neighbors only."""
    nb = set(neighbors)
    nb.discard(u)
    smaller = [v for v in nb if v < u]
    if not smaller:
        return u, True
    return min(smaller), len(nb) == 1


def centers(nodes: Iterable[str]) -> list[tuple[str, str]]:
    """A component's nodes → (document id, id of the component's smallest node: the survivor) for each."""
    nodes = sorted(set(nodes))
    return [(node_id(n), node_id(nodes[0])) for n in nodes]


def star_rounds(edges: Iterable[tuple[str, str]], rounds: int) -> tuple[dict[str, str], int]:
    """In-memory run of the same rounds (for tests and small inputs): (node → center, violations)."""
    cur = {(a, b) for a, b in edges if a != b}
    for _ in range(rounds):
        adj: dict[str, set[str]] = {}
        for a, b in cur:
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
        nxt = {e for u, nb in adj.items() for e in large_star(u, nb)}
        low: dict[str, set[str]] = {}
        for a, b in nxt:
            hi, lo = (a, b) if a > b else (b, a)
            low.setdefault(hi, set()).add(lo)
        cur = {e for u, nb in low.items() for e in small_star(u, nb)}
    adj = {}
    for a, b in cur:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    labels, bad = {}, 0
    for u, nb in adj.items():
        c, ok = finalize(u, nb)
        labels[u] = c
        bad += not ok
    return labels, bad


def union_find(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Reference components (node → smallest node of its component), for checking the rounds."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb
    return {x: find(x) for x in list(parent)}
