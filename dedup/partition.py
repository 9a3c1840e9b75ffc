"""Which partition a dedup record goes to, and a batch's rows split by partition.

Records that must meet land in the same partition: exact records by their key, band records
by their band key's bucket, node records (and the group members that ask for them) by their
handle. A partition holds ≈ 16·docs/buckets records.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from curate.dedup.config import DedupConfig


def partitions(cfg: DedupConfig) -> int:
    """Exact-hash buckets and spool partitions: one holds ≈ 16·docs/buckets records."""
    return max(1, cfg.buckets // 16)


def of_exact_keys(keys: list[bytes], parts: int) -> np.ndarray:
    """Partition of each exact key (its first 8 bytes, little-endian)."""
    return np.array([int.from_bytes(k[:8], "little") % parts for k in keys])


def of_buckets(buckets: np.ndarray, parts: int) -> np.ndarray:
    """Partition of each band-key bucket."""
    return buckets % parts


def of_handles(handles: np.ndarray, parts: int) -> np.ndarray:
    """Partition of each uint64 node handle (``int(h) % parts`` for one)."""
    return (handles % np.uint64(parts)).astype(np.int64)


def split(part: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(partition, row indices in their order) for every partition present in ``part``, ascending."""
    order = np.argsort(part, kind="stable")
    cuts = np.flatnonzero(np.diff(part[order])) + 1
    for seg in np.split(order, cuts):
        if len(seg):
            yield int(part[seg[0]]), seg
