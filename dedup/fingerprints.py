"""The 8-byte BLAKE2b identities dedup hashes things to: a document's content, a node, a group.

``fingerprint`` tells apart same-ranked records in an exact group (same node: same id, score
and length) by their content; ``handle`` is the 63-bit stand-in for a node name that band
keys and the connected-components rounds carry (it fits an int64 coder); ``group_id`` names a
set of handles that share a band key.
"""

from __future__ import annotations

import hashlib

import numpy as np


def fingerprint(doc: dict) -> bytes:
    """8 bytes of BLAKE2b over text and uri: tells apart same-ranked copies in an exact group."""
    h = hashlib.blake2b(digest_size=8)
    h.update((doc.get("text") or "").encode("utf-8", "surrogatepass"))
    h.update(b"\x00" + (doc.get("uri") or "").encode("utf-8", "surrogatepass"))
    return h.digest()


def handle(node: str) -> int:
    """63-bit handle of a node name (what band keys carry instead of the name; fits an int64 coder)."""
    return int.from_bytes(hashlib.blake2b(node.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little") >> 1


def handles(nodes: list[str]) -> np.ndarray:
    """``handle`` of each node, as uint64."""
    return np.array([handle(n) for n in nodes], dtype=np.uint64)


def group_id(members: bytes) -> int:
    """63-bit id of a group of handles, from the bytes of its sorted uint64 handles."""
    return int.from_bytes(hashlib.blake2b(members, digest_size=8).digest(), "little") >> 1
