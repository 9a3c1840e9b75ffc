"""Dedup: exact, then MinHash LSH near-duplicates, global over every input document.

    Deduplicate = FirstPass → ExactGroups → Candidates → Clusters → Decisions → ApplyDecisions → Stats

    docs ─ FirstPass: batches ─ normalize, node, fingerprint, signature ─ spool files per kind and partition:
      ├─ exact (key, node, fp) ─ ExactGroups: GroupByKey(paths) ─ exact groups ─ excluded dups ─┐ (side input)
      ├─ bands (key, handle) ─── Candidates: GroupByKey(paths) ─ key groups (exact dups left out) ◄┘ ─ members ─┐
      └─ nodes (handle, node, signature) ─────── CoGroupByKey(partition) ◄────────────────────────────────────┘
           ─ GroupByKey(group) ─ star edges, verified ─ GroupByKey(edge) ─ distinct edges (handles)
      Clusters: [large-star ─ small-star] × cc_rounds ─ finalize ─ smallest node per component ─ centers
    Decisions: CoGroupByKey(id): centers + exact groups ─ decisions (removed docs, kept members of clusters)
    ApplyDecisions: reread docs ─ apply decisions (AsDict side input) ─ docs / rejects
                    └─ identical copies of an exact survivor ─ GroupByKey ─ keep one ─ docs / rejects
    Stats: cluster sizes ─ histogram, largest clusters, candidate/verified edges, convergence

Only slim records cross a shuffle: the first pass spools them to files (only file paths are
grouped), each partition's files are read by the step that needs them (the folder, a
``scratch`` folder, is removed by the driver once the run is over), and what is shuffled after that is O(#candidates): groups, edges,
signatures of candidate nodes, decisions. Documents are read twice (``reread``): the second read applies the decisions
without a shuffle. Clusters are independent of bundling and worker count: every step is
set- and min-based.

The transforms here only move data; what is computed is in ``curate.dedup``: ``exact``
(exact groups), ``candidates`` (key groups, their nodes), ``edges`` (star edges by estimated
Jaccard), ``components`` (large-star/small-star, centers), ``decisions`` (keep/drop, with
``dup_cluster`` and reject details), ``cluster_sizes`` (the stats), ``partition`` and
``fingerprints`` (where records go, what they are named by).
"""

from __future__ import annotations

import uuid

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import AsDict, AsList, AsSingleton, TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from curate.dedup import candidates, cluster_sizes, decisions, edges, partition
from curate.dedup.components import ComponentsNotConverged, centers, finalize, large_star, node_id, node_key, small_star
from curate.dedup.config import DedupConfig
from curate.dedup.exact import exact_groups, exact_key, near_excluded
from curate.dedup.fingerprints import fingerprint, handle, handles
from curate.dedup.lsh import band_keys, bucket_of
from curate.dedup.normalize import normalize
from curate.dedup.partition import partitions
from curate.dedup.stats import ClusterStats
from curate.pipelines import scratch

STEP = decisions.STEP

__all__ = ["Deduplicate", "Components", "ComponentsNotConverged", "STEP"]


def _tagged(outcomes, main: str = "docs"):
    """(tag, value) outcomes of a kernel → the main output and tagged outputs."""
    for tag, value in outcomes:
        yield value if tag == main else TaggedOutput(tag, value)


# -- spools ----------------------------------------------------------------------------------
EXACT_SCHEMA = pa.schema([("ek", pa.binary(16)), ("node", pa.string()), ("fp", pa.binary(8))])
BANDS_SCHEMA = pa.schema([("key", pa.uint64()), ("handle", pa.uint64())])


def _nodes_schema(verify: bool) -> pa.Schema:
    return pa.schema([("handle", pa.uint64()), ("node", pa.string())] + ([("sig", pa.binary())] if verify else []))


def read_spools(paths) -> pa.Table | None:
    """The rows of some spool files, or None when there are none. The files stay until the run
    is over (``scratch``): a runner may run a reader again."""
    tables = []
    for path in sorted(paths):
        with FileSystems.open(path) as f:
            tables.append(pa.ipc.open_stream(f).read_all())
    return pa.concat_tables(tables) if tables else None


# -- first pass: slim records, spooled ------------------------------------------------------------
class _SpoolRecords(beam.DoFn):
    """A batch of documents → slim records appended to spool files per kind and partition.

    Kinds: "exact" (16-byte ``exact_key``, node, fingerprint), "bands" (band key, node
    handle; partitioned by the key's bucket), "nodes" (handle, node, signature).
    Only (partition, spool file) pairs leave the DoFn, once per bundle, kind and partition.
    """

    def __init__(self, cfg: DedupConfig, quality_key: str | None, spool_dir: str):
        self.cfg = cfg
        self.quality_key = quality_key
        self.spool_dir = spool_dir
        self.hasher = None

    def setup(self):
        c = self.cfg
        self.parts = partitions(c)
        self.schemas = {"exact": EXACT_SCHEMA, "bands": BANDS_SCHEMA, "nodes": _nodes_schema(c.verify)}
        if c.minhash:
            from curate.dedup.minhash import MinHasher

            self.hasher = MinHasher(c.num_perm, c.seed, c.ngram, c.char_ngrams, c.shingle_hash)
            self.bands, self.rows = c.lsh()

    def start_bundle(self):
        self._bundle = uuid.uuid4().hex
        self._writers: dict[tuple[str, int], tuple] = {}

    def _write(self, kind: str, columns: list, part: np.ndarray) -> None:
        batch = pa.record_batch(columns, schema=self.schemas[kind])
        for p, seg in partition.split(part):
            if (kind, p) not in self._writers:
                path = FileSystems.join(self.spool_dir, f"{kind}-{p:05d}-{self._bundle}.arrow")
                f = FileSystems.create(path)
                self._writers[kind, p] = (path, f, pa.ipc.new_stream(f, self.schemas[kind]))
            self._writers[kind, p][2].write_batch(batch.take(pa.array(seg)))

    def process(self, batch):
        c, eks, enodes, fps, nodes, hashes = self.cfg, [], [], [], [], []
        for doc in batch:
            norm = normalize(doc.get("text"))
            if not norm:  # nothing to compare: passed on untouched (filters judge empties)
                continue
            node = node_key(doc, self.quality_key)
            if c.exact:  # keyed on exact_normalize (meaning kept), not the MinHash normalization
                eks.append(exact_key(doc))
                enodes.append(node)
                fps.append(fingerprint(doc))
            if c.minhash:
                nodes.append(node)
                hashes.append(self.hasher.shingle_hashes(norm))
        if eks:
            self._write("exact", [pa.array(eks, pa.binary(16)), pa.array(enodes), pa.array(fps, pa.binary(8))],
                        partition.of_exact_keys(eks, self.parts))
        if nodes:
            sigs = self.hasher.signatures_from_hashes(hashes)
            hs = handles(nodes)
            keys = band_keys(sigs, self.bands, self.rows).reshape(-1)
            self._write("bands", [pa.array(keys), pa.array(np.repeat(hs, self.bands))],
                        partition.of_buckets(bucket_of(keys, c.buckets), self.parts))
            cols = [pa.array(hs), pa.array(nodes)]
            if c.verify:
                cols.append(pa.array([s.tobytes() for s in sigs], pa.binary()))
            self._write("nodes", cols, partition.of_handles(hs, self.parts))

    def finish_bundle(self):
        for (kind, p), (path, f, writer) in sorted(self._writers.items()):
            writer.close()
            f.close()
            yield TaggedOutput(kind, GlobalWindows.windowed_value((p, path)))
        self._writers = {}


class FirstPass(beam.PTransform):
    """Documents → spooled (partition, file) per kind: "exact", "bands", "nodes"."""

    def __init__(self, cfg: DedupConfig, quality_key: str | None, spool: str):
        super().__init__()
        self.cfg, self.quality_key, self.spool = cfg, quality_key, spool

    def expand(self, docs):
        c = self.cfg
        return (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=min(64, c.batch_size), max_batch_size=c.batch_size)
            | "Spool" >> beam.ParDo(_SpoolRecords(c, self.quality_key, self.spool)).with_outputs("exact", "bands", "nodes")
        )


# -- exact ---------------------------------------------------------------------------------
def _exact_partition(element, minhash: bool):
    """One partition's exact records → (survivor id, (node, fingerprint, dups)) per exact group;
    "excluded": handles of the duplicates, left out of MinHash."""
    _, paths = element
    t = read_spools(paths)
    if t is None:
        return
    excluded = set()
    for g in exact_groups(zip(*(t.column(n).to_pylist() for n in ("ek", "node", "fp")))):
        yield node_id(g.node), (g.node, g.fp, tuple((node_id(n), n, f) for n, f in g.dups))
        if minhash:
            excluded |= near_excluded(g)
    if excluded:
        yield TaggedOutput("excluded", np.array(sorted(excluded), dtype=np.uint64))


class ExactGroups(beam.PTransform):
    """Exact spools → {"groups": (survivor id, group), "excluded": handle arrays}."""

    def __init__(self, cfg: DedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, spools):
        p = spools.pipeline
        if not self.cfg.exact:
            return {"groups": p | "NoGroups" >> beam.Create([]), "excluded": p | "NoExcluded" >> beam.Create([])}
        ex = (
            spools
            | "GroupExact" >> beam.GroupByKey()
            | "Groups" >> beam.FlatMap(_exact_partition, self.cfg.minhash).with_outputs("excluded", main="groups")
        )
        return {"groups": ex.groups, "excluded": ex.excluded}


# -- candidates, verification ---------------------------------------------------------------
class _KeyGroups(beam.DoFn):
    """One partition's band keys → distinct groups of handles sharing a key, as members per partition."""

    def __init__(self, parts: int, buckets: int):
        self.parts = parts
        self.buckets = buckets

    def process(self, element, excluded):
        _, paths = element
        t = read_spools(paths)
        if t is None:
            return
        found = candidates.key_groups(t.column("key").to_numpy(), t.column("handle").to_numpy(), self.buckets,
                                      np.concatenate(list(excluded)) if excluded else None)
        yield from candidates.members_by_partition(found, self.parts)


class _Resolve(beam.DoFn):
    """One partition: group members + node spools → (group, (node, signature, buckets))."""

    def __init__(self, verify: bool):
        self.verify = verify

    def process(self, element):
        _, g = element
        need = candidates.wanted(g["member"])
        t = read_spools(g["spool"])
        if t is None or not need:
            return
        t = t.take(pa.array(candidates.rows_wanted(need, t.column("handle").to_numpy())))
        sigs = t.column("sig").to_pylist() if self.verify else [b""] * t.num_rows
        yield from candidates.resolve(need, t.column("handle").to_pylist(), t.column("node").to_pylist(), sigs)


def _star_edges(element, verify: bool, threshold: float):
    _, members = element
    return edges.star_edges(members, verify, threshold)


def _distinct_edge(element, verify: bool):
    """An edge with what it was found with → the edge as handles if verified, and its two
    (handle, node) as "node"; "count": the candidates it stands for."""
    (a, b), found = element
    count, ok = edges.merge_edge(found, verify)
    yield TaggedOutput("count", count)
    if ok:
        ha, hb = handle(a), handle(b)
        yield ha, hb
        yield TaggedOutput("node", (ha, a))
        yield TaggedOutput("node", (hb, b))


class Candidates(beam.PTransform):
    """{"bands", "nodes" spools, "excluded"} → {"edges" (handles), "node" (handle, node), "count"}."""

    def __init__(self, cfg: DedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, inputs):
        c = self.cfg
        kg = (
            inputs["bands"]
            | "GroupBands" >> beam.GroupByKey()
            | "KeyGroups" >> beam.ParDo(_KeyGroups(partitions(c), c.buckets), AsList(inputs["excluded"]))
        )
        res = (
            {"member": kg, "spool": inputs["nodes"]}
            | "JoinNodes" >> beam.CoGroupByKey()
            | "Resolve" >> beam.ParDo(_Resolve(c.verify))
        )
        cand = (
            res
            | "GroupNodes" >> beam.GroupByKey()
            | "StarEdges" >> beam.FlatMap(_star_edges, c.verify, c.threshold)
            | "GroupEdges" >> beam.GroupByKey()
            | "DistinctEdges" >> beam.FlatMap(_distinct_edge, c.verify).with_outputs("count", "node", main="edges")
        )
        return {"edges": cand.edges, "node": cand.node, "count": cand.count}


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
        yield TaggedOutput("bad", 1)
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


def _component_of(element):
    """A handle with its component label (the smallest handle) and node → (label, node)."""
    _, g = element
    for label in set(g["label"]):
        for node in set(g["node"]):
            yield label, node


def _centers(element):
    _, nodes = element
    return centers(nodes)


class Clusters(beam.PTransform):
    """Candidate edges (handles) + their nodes → {"centers": (id, center id), "violations"}.

    Components run on 64-bit handles (compact in every round); the center is then the
    smallest node name of each component, as large-star/small-star on names gives.
    """

    def __init__(self, rounds: int):
        super().__init__()
        self.rounds = rounds

    def expand(self, cand):
        comp = cand["edges"] | "Components" >> Components(self.rounds)
        found = (
            {"label": comp["labels"], "node": cand["node"]}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "ComponentOf" >> beam.FlatMap(_component_of)
            | "GroupComponents" >> beam.GroupByKey()
            | "Centers" >> beam.FlatMap(_centers)
        )
        return {"centers": found, "violations": comp["violations"]}


class NearDuplicates(beam.PTransform):
    """Band and node spools, exact dups left out → Candidates → Clusters, with the counts the stats need.

    {"centers", "candidates" (one int), "verified" (one int, or None without verification),
    "violations" (one int)}; without MinHash, no centers and zero counts.
    """

    def __init__(self, cfg: DedupConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, inputs):
        c, p = self.cfg, inputs["bands"].pipeline
        if not c.minhash:
            return {"centers": p | "NoCenters" >> beam.Create([]), "candidates": p | "NoCandidates" >> beam.Create([0]),
                    "verified": p | "NoVerified" >> beam.Create([None]),
                    "violations": p | "NoViolations" >> beam.Create([0])}
        cand = inputs | "Candidates" >> Candidates(c)
        clusters = {"edges": cand["edges"], "node": cand["node"]} | "Clusters" >> Clusters(c.cc_rounds)
        if c.verify:
            verified = cand["edges"] | "CountVerified" >> beam.combiners.Count.Globally()
        else:
            verified = p | "NoVerify" >> beam.Create([None])
        return {"centers": clusters["centers"], "candidates": cand["count"] | "CountCandidates" >> beam.CombineGlobally(sum),
                "verified": verified, "violations": clusters["violations"]}


# -- decisions and their application -----------------------------------------------------------
def _decide(element):
    doc_id, g = element
    return decisions.decide(doc_id, g["center"], g["exact"])


def _merge(element):
    doc_id, entries = element
    return doc_id, decisions.merge(entries)


class Decisions(beam.PTransform):
    """{"center": (id, center id), "exact": (survivor id, group)} → (document id, decision), O(#duplicates)."""

    def expand(self, found):
        return (
            found
            | "Join" >> beam.CoGroupByKey()
            | "Decide" >> beam.FlatMap(_decide)
            | "Group" >> beam.GroupByKey()
            | "Merge" >> beam.Map(_merge)
        )


class _Apply(beam.DoFn):
    """A document + the decisions (side input, O(#duplicates)) → kept doc, reject, or "copies"."""

    def __init__(self, quality_key: str | None):
        self.quality_key = quality_key

    def process(self, doc, decided):
        yield from _tagged(decisions.apply(doc, decided.get(doc["id"]), self.quality_key))


def _keep_one_copy(element):
    (doc_id, _, _), items = element
    yield from _tagged(decisions.keep_one_copy(doc_id, items))


class ApplyDecisions(beam.PTransform):
    """Documents → {"docs": [kept], "rejects": [rejected], "members": {name: (cluster, 1)}} by the decisions."""

    def __init__(self, decided, quality_key: str | None):
        super().__init__()
        self.decided, self.quality_key = decided, quality_key

    def expand(self, docs):
        out = docs | "Apply" >> beam.ParDo(_Apply(self.quality_key), AsDict(self.decided)).with_outputs(
            "rejects", "members", "copies", main="docs")
        cp = (
            out.copies
            | "GroupCopies" >> beam.GroupByKey()
            | "KeepOneCopy" >> beam.FlatMap(_keep_one_copy).with_outputs("rejects", "members", main="docs")
        )
        return {"docs": [out.docs, cp.docs], "rejects": [out.rejects, cp.rejects], "members": {"applied": out.members, "copies": cp.members}}


# -- stats -----------------------------------------------------------------------------------
class _ClusterStats(beam.CombineFn):
    """(cluster id, size) → size histogram, cluster/doc counts and the largest clusters."""

    def __init__(self, top: int):
        self.top = top

    def create_accumulator(self):
        return cluster_sizes.empty()

    def add_input(self, acc, item):
        return cluster_sizes.add(acc, *item, self.top)

    def merge_accumulators(self, accs):
        return cluster_sizes.merge(accs, self.top)

    def extract_output(self, acc):
        return cluster_sizes.result(acc).to_json()


def _finish_stats(stats: dict, **figures) -> dict:
    return cluster_sizes.finish(ClusterStats.from_json(stats), **figures).to_json()


class Stats(beam.PTransform):
    """Cluster members {name: (cluster, 1)} + the near-duplicate counts → one ``ClusterStats`` dict."""

    def __init__(self, cfg: DedupConfig, params: dict, near: dict):
        super().__init__()
        self.cfg, self.params, self.near = cfg, params, near

    def expand(self, members):
        return (
            tuple(members.values())
            | "AllMembers" >> beam.Flatten()
            | "ClusterSizes" >> beam.CombinePerKey(sum)
            | "ClusterStats" >> beam.CombineGlobally(_ClusterStats(self.cfg.top_clusters))
            | "FinishStats" >> beam.Map(
                _finish_stats,
                params=self.params,
                candidates=AsSingleton(self.near["candidates"]),
                verified=AsSingleton(self.near["verified"]),
                violations=AsSingleton(self.near["violations"]),
                rounds=self.cfg.cc_rounds if self.cfg.minhash else 0,
            )
        )


class Deduplicate(beam.PTransform):
    """PCollection[Document] → {"docs": [kept], "rejects": [rejected], "stats": {"clusters": one dict}}.

    ``docs`` and ``rejects`` are lists of PCollections (identical copies of a record are
    settled apart), to be written or counted each where it is made, not flattened.
    ``quality_key`` (else ``cfg.quality_key``) names the ``doc["scores"]`` entry that ranks
    survivors: highest score first, then the longest text, then the smallest id.
    ``reread``: a PTransform of the pipeline root yielding the same documents again (e.g.
    ``ReadShards(dirs)``) to which the decisions are applied; None reuses the input (which a
    runner then holds whole: for small inputs and tests).
    """

    def __init__(self, cfg: DedupConfig, quality_key: str | None = None, reread: beam.PTransform | None = None):
        super().__init__()
        self.cfg = cfg
        self.quality_key = quality_key if quality_key is not None else cfg.quality_key
        self.reread = reread

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
        c, p = self.cfg, docs.pipeline
        spool = scratch.folder(p, "curate-dedup-")  # removed by the driver once the run is over
        first = docs | "FirstPass" >> FirstPass(c, self.quality_key, spool)
        exact = first.exact | "ExactGroups" >> ExactGroups(c)
        near = ({"bands": first.bands, "nodes": first.nodes, "excluded": exact["excluded"]}
                | "NearDuplicates" >> NearDuplicates(c))
        decided = {"center": near["centers"], "exact": exact["groups"]} | "Decisions" >> Decisions()
        again = p | "Reread" >> self.reread if self.reread is not None else docs
        out = again | "ApplyDecisions" >> ApplyDecisions(decided, self.quality_key)
        stats = out["members"] | "Stats" >> Stats(c, self.params(), near)
        return {"docs": out["docs"], "rejects": out["rejects"], "stats": {"clusters": stats}}
