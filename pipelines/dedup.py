"""Dedup: exact, then MinHash LSH near-duplicates, global over every input document.

    docs ─ exact hash ─ GroupByKey ─ survivor per hash ──────────────────────────┐  (exact dups ─┐)
            └─ batches ─ signatures ─ band keys per bucket ─ GroupByKey(bucket) ─ star edges ─┐  │
                 └─ signatures ─ join ×2 ─ estimated Jaccard ≥ threshold ◄───────────────────┘  │
                      edges ─ [large-star ─ small-star] × cc_rounds ─ finalize (+ check) ─┐     │
    CoGroupByKey(id): survivor docs + component center + exact dups ─ keep / reject ◄──────┴─────┘

Nothing is gathered on one worker: exact groups hold identical texts, a bucket holds
≈ docs·bands/buckets band keys, each component step holds one node's neighborhood, the final
join one document with its exact copies. Clusters are independent of bundling and worker
count: every step is set- and min-based.

``dup_cluster``: the id of the document kept for the cluster (exact and near duplicates
together), on the kept document and on every reject of that cluster; None for a document
with no duplicate. Reject ``detail``: for ``dedup:exact`` the id of the identical-text
survivor, for ``dedup:minhash`` the id of the kept document of the cluster.
"""

from __future__ import annotations

import heapq
from typing import Any

import apache_beam as beam
import numpy as np

from curate.dedup.components import finalize, large_star, node_id, node_key, small_star
from curate.dedup.config import DedupConfig
from curate.dedup.exact import exact_key, pick_survivor
from curate.dedup.lsh import band_keys, bucket_edges, estimated_jaccard, split_by_bucket
from curate.dedup.normalize import normalize
from curate.schema import make_reject

STEP = "dedup"
_EMPTY = "\x00empty:"  # exact key prefix of documents with no text after normalization


class ComponentsNotConverged(RuntimeError):
    """Large-star/small-star did not reach stars within ``cc_rounds``."""


# -- exact ---------------------------------------------------------------------------------
def _exact_keyed(doc: dict) -> tuple[str, dict]:
    k = exact_key(doc)
    return (k or _EMPTY + str(doc.get("id")), doc)


class _ExactPick(beam.DoFn):
    def __init__(self, quality_key: str | None):
        self.quality_key = quality_key

    def process(self, element):
        key, docs = element
        if key.startswith(_EMPTY):  # nothing to compare: passed on untouched (filters judge empties)
            yield from docs
            return
        survivor, dups = pick_survivor(docs, self.quality_key)
        yield survivor
        for d in dups:
            yield beam.pvalue.TaggedOutput("dups", (survivor["id"], d))


# -- signatures and candidates ---------------------------------------------------------------
class _SignBatch(beam.DoFn):
    """A batch of documents → (bucket, (band keys, nodes)) per bucket, and (node, signature)."""

    def __init__(self, cfg: DedupConfig, quality_key: str | None):
        self.cfg = cfg
        self.quality_key = quality_key
        self.hasher = None

    def setup(self):
        from curate.dedup.minhash import MinHasher

        c = self.cfg
        self.hasher = MinHasher(c.num_perm, c.seed, c.ngram, c.char_ngrams, c.shingle_hash)
        self.bands, self.rows = c.lsh()

    def process(self, batch):
        nodes, hashes = [], []
        for doc in batch:
            norm = normalize(doc.get("text"))
            if norm:
                nodes.append(node_key(doc, self.quality_key))
                hashes.append(self.hasher.shingle_hashes(norm))
        if not nodes:
            return
        sigs = self.hasher.signatures_from_hashes(hashes)
        keys = band_keys(sigs, self.bands, self.rows)
        yield from split_by_bucket(keys, nodes, self.cfg.buckets)
        if self.cfg.verify:
            for n, s in zip(nodes, sigs):
                yield beam.pvalue.TaggedOutput("sigs", (n, s.tobytes()))


def _edges_of_bucket(element):
    _, parts = element
    edges = bucket_edges(parts)
    yield beam.pvalue.TaggedOutput("count", len(edges))
    yield from edges


def _send_sig_to_partner(element):
    """Join 1 (key a): attach a's signature to each distinct candidate partner b."""
    a, grouped = element
    sigs, partners = list(grouped["sig"]), set(grouped["edge"])
    yield beam.pvalue.TaggedOutput("count", len(partners))
    if sigs:
        for b in sorted(partners):
            yield (b, (a, sigs[0]))


class _CheckPair(beam.DoFn):
    """Join 2 (key b): keep (a, b) when the signatures agree on ≥ threshold of their values."""

    def __init__(self, threshold: float):
        self.threshold = threshold

    def process(self, element):
        b, grouped = element
        sigs = list(grouped["sig"])
        if not sigs:
            return
        sb = np.frombuffer(sigs[0], dtype=np.uint32)
        for a, sa in grouped["edge"]:
            if estimated_jaccard(np.frombuffer(sa, dtype=np.uint32), sb) >= self.threshold:
                yield (a, b)


# -- connected components ------------------------------------------------------------------
def _both_directions(edge):
    a, b = edge
    return [(a, b), (b, a)]


def _large_star(element):
    u, nb = element
    return large_star(u, nb)  # (v, m) with v > m: keyed by the larger end, as small-star wants


def _small_star(element):
    u, smaller = element
    out = []
    for v, m in small_star(u, smaller):
        out += [(v, m), (m, v)]  # both directions, as large-star (or finalize) wants
    return out


def _finalize(element, to_id: bool):
    u, nb = element
    center, ok = finalize(u, nb)
    if not ok:
        yield beam.pvalue.TaggedOutput("bad", 1)
    yield (node_id(u), node_id(center)) if to_id else (u, center)


class Components(beam.PTransform):
    """Undirected edges (node, node) → (node, its component's minimum node), for every node.

    ``rounds`` large-star + small-star rounds unrolled in the graph; outputs "labels" and
    "violations" (one int: nodes not in star form after the last round; 0 means converged).
    With ``to_id`` the labels name documents (``node_id``) instead of nodes.
    """

    def __init__(self, rounds: int, to_id: bool = False):
        super().__init__()
        self.rounds = rounds
        self.to_id = to_id

    def expand(self, edges):
        e = edges | "Both" >> beam.FlatMap(_both_directions)
        for i in range(self.rounds):
            e = (
                e
                | f"GroupL{i}" >> beam.GroupByKey()
                | f"Large{i}" >> beam.FlatMap(_large_star)
                | f"GroupS{i}" >> beam.GroupByKey()
                | f"Small{i}" >> beam.FlatMap(_small_star)
            )
        fin = e | "GroupF" >> beam.GroupByKey() | "Finalize" >> beam.FlatMap(_finalize, self.to_id).with_outputs("bad", main="labels")
        bad = fin.bad | "Violations" >> beam.CombineGlobally(sum)
        return {"labels": fin.labels, "violations": bad}


# -- resolve and stats -----------------------------------------------------------------------
def _with_cluster(doc: dict, cluster: str | None) -> dict:
    return {**doc, "dup_cluster": cluster}


def _resolve(element):
    """Key = a surviving-exact document's id: keep it, or reject it and its exact copies."""
    doc_id, g = element
    docs, centers, dups = list(g["doc"]), sorted(g["center"]), list(g["dup"])
    center = centers[0] if centers else doc_id
    clustered = bool(centers) or bool(dups)
    cluster = center if clustered else None
    for d in docs:
        if center == doc_id:
            yield _with_cluster(d, cluster)
        else:
            yield beam.pvalue.TaggedOutput("rejects", make_reject(_with_cluster(d, center), STEP, "dedup:minhash", center))
    for d in sorted(dups, key=lambda x: (x.get("id") or "", x.get("text") or "")):
        yield beam.pvalue.TaggedOutput("rejects", make_reject(_with_cluster(d, cluster), STEP, "dedup:exact", doc_id))
    if clustered:
        yield beam.pvalue.TaggedOutput("members", (cluster, len(docs) + len(dups)))


class _ClusterStats(beam.CombineFn):
    """(cluster id, size) → size histogram, cluster/doc counts and the largest clusters."""

    def __init__(self, top: int):
        self.top = top

    def create_accumulator(self):
        return ({}, [])

    def add_input(self, acc, item):
        hist, top = acc
        cid, size = item
        hist[size] = hist.get(size, 0) + 1
        heapq.heappush(top, (size, _Desc(cid)))
        if len(top) > self.top:
            heapq.heappop(top)
        return acc

    def merge_accumulators(self, accs):
        hist, top = {}, []
        for h, t in accs:
            for k, v in h.items():
                hist[k] = hist.get(k, 0) + v
            for x in t:
                heapq.heappush(top, x)
                if len(top) > self.top:
                    heapq.heappop(top)
        return hist, top

    def extract_output(self, acc):
        hist, top = acc
        return {
            "clusters": sum(hist.values()),
            "docs_in_clusters": sum(s * n for s, n in hist.items()),
            "removed": sum((s - 1) * n for s, n in hist.items()),
            "size_histogram": [{"size": s, "clusters": hist[s]} for s in sorted(hist)],
            "largest": [{"id": d.v, "size": s} for s, d in sorted(top, key=lambda x: (-x[0], x[1].v))],
        }


class _Desc:
    """Orders ids descending so the min-heap of (size, id) drops the larger id on ties."""

    __slots__ = ("v",)

    def __init__(self, v: str):
        self.v = v

    def __lt__(self, other):
        return self.v > other.v

    def __eq__(self, other):
        return self.v == other.v


def _finish_stats(stats: dict, params: dict, candidates: int, verified: Any, violations: int, rounds: int) -> dict:
    if violations:
        raise ComponentsNotConverged(
            f"dedup: connected components did not converge in {rounds} large-star/small-star rounds "
            f"({violations} nodes not in star form); raise dedup.cc_rounds"
        )
    return {**stats, "params": params, "candidate_edges": candidates, "verified_edges": verified,
            "cc_rounds": rounds, "cc_converged": True}


class Deduplicate(beam.PTransform):
    """PCollection[Document] → {"docs", "rejects", "stats": {"clusters": one dict}}.

    ``quality_key`` (else ``cfg.quality_key``) names the ``doc["scores"]`` entry that ranks
    survivors: highest score first, then the longest text, then the smallest id.
    """

    def __init__(self, cfg: DedupConfig, quality_key: str | None = None):
        super().__init__()
        self.cfg = cfg
        self.quality_key = quality_key if quality_key is not None else cfg.quality_key

    def params(self) -> dict:
        c = self.cfg
        bands, rows = c.lsh()
        return {
            "exact": c.exact, "minhash": c.minhash, "threshold": c.threshold, "num_perm": c.num_perm,
            "bands": bands, "rows": rows, "ngram": c.ngram, "char_ngrams": c.char_ngrams, "seed": c.seed,
            "shingle_hash": c.shingle_hash, "verify": c.verify, "buckets": c.buckets,
            "quality_key": self.quality_key,
        }

    def expand(self, docs):
        c, qk, p = self.cfg, self.quality_key, docs.pipeline
        if c.exact:
            ex = (
                docs
                | "ExactKey" >> beam.Map(_exact_keyed)
                | "ExactGroup" >> beam.GroupByKey()
                | "ExactPick" >> beam.ParDo(_ExactPick(qk)).with_outputs("dups", main="kept")
            )
            kept, dups = ex.kept, ex.dups
        else:
            kept, dups = docs, p | "NoExactDups" >> beam.Create([])

        if c.minhash:
            signed = (
                kept
                | "Batch" >> beam.BatchElements(min_batch_size=min(64, c.batch_size), max_batch_size=c.batch_size)
                | "Sign" >> beam.ParDo(_SignBatch(c, qk)).with_outputs("sigs", main="bands")
            )
            cand = (
                signed.bands
                | "GroupBucket" >> beam.GroupByKey()
                | "BucketEdges" >> beam.FlatMap(_edges_of_bucket).with_outputs("count", main="edges")
            )
            if c.verify:
                j1 = (
                    {"sig": signed.sigs, "edge": cand.edges}
                    | "JoinA" >> beam.CoGroupByKey()
                    | "SendSig" >> beam.FlatMap(_send_sig_to_partner).with_outputs("count", main="pairs")
                )
                edges = (
                    {"sig": signed.sigs, "edge": j1.pairs}
                    | "JoinB" >> beam.CoGroupByKey()
                    | "CheckPair" >> beam.ParDo(_CheckPair(c.threshold))
                )
                candidates = j1.count | "CountCandidates" >> beam.CombineGlobally(sum)
                verified = edges | "CountVerified" >> beam.combiners.Count.Globally()
            else:
                edges = cand.edges
                candidates = cand.count | "CountCandidates" >> beam.CombineGlobally(sum)
                verified = p | "NoVerify" >> beam.Create([None])
            comp = edges | "Components" >> Components(c.cc_rounds, to_id=True)
            centers, violations = comp["labels"], comp["violations"]
        else:
            centers = p | "NoCenters" >> beam.Create([])
            candidates = p | "NoCandidates" >> beam.Create([0])
            verified = p | "NoVerified" >> beam.Create([None])
            violations = p | "NoViolations" >> beam.Create([0])

        res = (
            {"doc": kept | "ById" >> beam.Map(lambda d: (d["id"], d)), "center": centers, "dup": dups}
            | "JoinResolve" >> beam.CoGroupByKey()
            | "Resolve" >> beam.FlatMap(_resolve).with_outputs("rejects", "members", main="docs")
        )
        stats = (
            res.members
            | "ClusterSizes" >> beam.CombinePerKey(sum)
            | "ClusterStats" >> beam.CombineGlobally(_ClusterStats(c.top_clusters))
            | "FinishStats" >> beam.Map(
                _finish_stats,
                params=self.params(),
                candidates=beam.pvalue.AsSingleton(candidates),
                verified=beam.pvalue.AsSingleton(verified),
                violations=beam.pvalue.AsSingleton(violations),
                rounds=c.cc_rounds if c.minhash else 0,
            )
        )
        return {"docs": res.docs, "rejects": res.rejects, "stats": {"clusters": stats}}
