"""Keep/drop decisions: from component centers and exact groups to what happens to each document.

``decide`` runs once per id that has a near-duplicate center or heads an exact group, and
emits decisions keyed by the document id they apply to; ``merge`` folds one id's decisions.
``apply`` settles one document with its id's decision; ``keep_one_copy`` settles identical
records of an exact survivor (the same document read more than once).

Outcomes are (tag, value) pairs: "docs" (a kept document), "rejects" (a reject record),
"members" ((cluster, 1): one document of a cluster, kept or not) and "copies" (an identical
copy of a survivor, keyed by (id, node, fingerprint), to be settled together).

``dup_cluster`` is the id of the document kept for the cluster (exact and near duplicates
together), None for a document with no duplicate. Reject ``detail``: for ``dedup:exact`` the
id of the identical-text survivor, for ``dedup:minhash`` the id of the kept document.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from curate.dedup.components import node_key
from curate.dedup.fingerprints import fingerprint
from curate.schema import make_reject

STEP = "dedup"

Outcome = tuple[str, Any]
ExactEntry = tuple[str, bytes, tuple[tuple[str, str, bytes], ...]]  # survivor node, fp, dups (id, node, fp)
Ident = tuple[str, "str | None"]  # (center id, cluster id)
Decision = tuple[dict, set, "Ident | None"]  # exact dups by (node, fp), identical copies, ident


def decide(doc_id: str, centers: Iterable[str], groups: Iterable[ExactEntry]) -> Iterator[tuple[str, tuple[str, Any]]]:
    """An id with its component centers and the exact groups it survives → decisions keyed by document id.

    ("id", (center, cluster)) for the id itself; ("exact", ((node, fingerprint), (survivor,
    cluster))) for each exact duplicate; ("copies", (node, fingerprint)) when the survivor's
    own record occurs more than once (identical copies: one is kept).
    """
    centers, groups = sorted(centers), sorted(groups)
    center = centers[0] if centers else doc_id
    cluster = center if centers or groups else None
    yield doc_id, ("id", (center, cluster))
    for s_node, s_fp, dups in groups:
        for d_id, d_node, d_fp in dups:
            if (d_node, d_fp) == (s_node, s_fp):
                yield doc_id, ("copies", (s_node, s_fp))
            else:
                yield d_id, ("exact", ((d_node, d_fp), (doc_id, cluster)))


def merge(entries: Iterable[tuple[str, Any]]) -> Decision:
    """All decisions of one id → (exact dups by (node, fp), copies set, (center, cluster) or None)."""
    exact, copies, ident = {}, set(), None
    for kind, v in entries:
        if kind == "exact":
            exact[v[0]] = v[1]
        elif kind == "copies":
            copies.add(v)
        else:
            ident = v
    return exact, copies, ident


def with_cluster(doc: dict, cluster: str | None) -> dict:
    return {**doc, "dup_cluster": cluster}


def by_id(doc: dict, ident: Ident | None) -> Iterator[Outcome]:
    """Keep ``doc`` or reject it as a near duplicate, by its id's (center, cluster)."""
    if ident is None:
        yield "docs", with_cluster(doc, None)
        return
    center, cluster = ident
    if cluster is not None:
        yield "members", (cluster, 1)
    if center == doc["id"]:
        yield "docs", with_cluster(doc, cluster)
    else:
        yield "rejects", make_reject(with_cluster(doc, center), STEP, "dedup:minhash", center)


def exact_reject(doc: dict, survivor: str, cluster: str | None) -> Iterator[Outcome]:
    yield "members", (cluster, 1)
    yield "rejects", make_reject(with_cluster(doc, cluster), STEP, "dedup:exact", survivor)


def apply(doc: dict, decision: Decision | None, quality_key: str | None) -> Iterator[Outcome]:
    """A document and its id's decision (None: no duplicate) → kept doc, reject, or "copies"."""
    if decision is None:
        yield "docs", with_cluster(doc, None)
        return
    exact, copies, ident = decision
    if exact or copies:
        k = (node_key(doc, quality_key), fingerprint(doc))
        if k in exact:
            yield from exact_reject(doc, *exact[k])
            return
        if k in copies:
            yield "copies", ((doc["id"], *k), (doc, ident))
            return
    yield from by_id(doc, ident)


def keep_one_copy(doc_id: str, items: Iterable[tuple[dict, Ident | None]]) -> Iterator[Outcome]:
    """Identical records of an exact survivor: the first (by content) takes the decision, the rest are exact dups."""
    items = sorted(items, key=lambda x: json.dumps(x[0], sort_keys=True, default=str))
    ident = items[0][1]
    yield from by_id(items[0][0], ident)
    for doc, _ in items[1:]:
        yield from exact_reject(doc, doc_id, ident[1])
