"""Exact dedup: documents whose normalized text hashes equal; one survivor per group."""

from __future__ import annotations

from typing import Iterable

from curate.dedup.components import node_key
from curate.dedup.normalize import exact_hash


def exact_key(doc: dict) -> str:
    """128-bit hex hash of the normalized text; "" when nothing is left after normalization."""
    return exact_hash(doc.get("text"))


def pick_survivor(docs: Iterable[dict], quality_key: str | None = None) -> tuple[dict, list[dict]]:
    """(survivor, the others) by the survivor rule: quality desc, length desc, id asc.

    Deterministic whatever the order of ``docs``; equal-ranked copies (same id and length)
    are told apart by their text so the choice never depends on arrival order.
    """
    ranked = sorted(docs, key=lambda d: (node_key(d, quality_key), d.get("text") or "", d.get("uri") or ""))
    return ranked[0], ranked[1:]
