"""Near-duplicate problems: MinHash over the statement, with the dedup step's kernels.

A problem set is small (MiMo's RL set: ~130k problems), so it is deduplicated in one place:
signatures (``dedup.minhash``), LSH band keys and the keys two problems share (``dedup.lsh``),
candidate pairs kept when their estimated Jaccard reaches the threshold, clusters by union-find
(``dedup.components``). The survivor of a cluster is its smallest id, whatever the input order.
"""

from __future__ import annotations

import numpy as np

from curate.dedup.components import union_find
from curate.dedup.config import DedupConfig
from curate.dedup.lsh import band_keys, estimated_jaccard, shared_keys
from curate.dedup.minhash import MinHasher


def near_duplicates(items: list[tuple[str, str]], cfg: DedupConfig) -> dict[str, str]:
    """(id, statement) pairs → {id of a dropped problem: id of the problem it duplicates}."""
    items = sorted(items)
    if len(items) < 2 or not cfg.minhash:
        return {}
    hasher = MinHasher(cfg.num_perm, cfg.seed, cfg.ngram, cfg.char_ngrams, cfg.shingle_hash)
    sigs = hasher.signatures([t for _, t in items])
    bands, rows = cfg.lsh()
    keys = band_keys(sigs, bands, rows)
    members = np.repeat(np.arange(len(items)), bands)
    edges = []
    for _, group in shared_keys(keys.ravel(), members):
        a = int(group[0])
        for b in group[1:].tolist():
            if not cfg.verify or estimated_jaccard(sigs[a], sigs[b]) >= cfg.threshold:
                edges.append((items[a][0], items[b][0]))
    return {node: root for node, root in sorted(union_find(edges).items()) if node != root}
