"""Exact groups: documents whose ``exact_normalize``d texts hash equal; one survivor per group.

A record is (``exact_key``, node, ``fingerprint``). In a group the survivor is the smallest
(node, fingerprint): the survivor rule (``node_key``), then content for same-ranked copies,
so the choice never depends on arrival order. A duplicate with the survivor's own node is an
identical copy of the same document (settled when the decisions are applied); every other
duplicate is left out of MinHash (``near_excluded``), its survivor stands for it there.
"""

from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple

from curate.dedup.fingerprints import handle
from curate.dedup.normalize import exact_digest


class ExactGroup(NamedTuple):
    """An exact group of ≥ 2 records: the survivor's (node, fingerprint) and the others'."""

    node: str
    fp: bytes
    dups: tuple[tuple[str, bytes], ...]


def exact_key(doc: dict) -> bytes:
    """16-byte key of a document's ``exact_normalize``d text (``exact_digest``)."""
    return exact_digest(doc.get("text"))


def exact_groups(records: Iterable[tuple[bytes, str, bytes]]) -> Iterator[ExactGroup]:
    """(key, node, fingerprint) records → their groups of ≥ 2, in key order."""
    recs = sorted(records)
    i = 0
    while i < len(recs):
        j = i + 1
        while j < len(recs) and recs[j][0] == recs[i][0]:
            j += 1
        if j - i > 1:
            _, node, fp = recs[i]
            yield ExactGroup(node, fp, tuple((n, f) for _, n, f in recs[i + 1: j]))
        i = j


def near_excluded(group: ExactGroup) -> set[int]:
    """Handles of a group's duplicates that MinHash leaves out (all but the survivor's node)."""
    return {handle(n) for n, _ in group.dups if n != group.node}
