"""Dedup: exact, then MinHash LSH near-duplicates, global over every input document.

    docs ─ batches ─ normalize, node, fingerprint, signature ─ spool files per kind and partition:
      ├─ exact (hash, node, fp) ─ GroupByKey(paths) ─ exact groups ─ excluded dups ─┐ (side input)
      ├─ bands (key, handle) ─── GroupByKey(paths) ─ key groups (exact dups left out) ◄┘ ─ members ─┐
      └─ nodes (handle, node, signature) ──────────── CoGroupByKey(partition) ◄─────────────────────┘
           ─ GroupByKey(group) ─ star edges, verified ─ GroupByKey(edge) ─ distinct edges (handles)
           ─ [large-star ─ small-star] × cc_rounds ─ finalize ─ smallest node per component ─ centers
    CoGroupByKey(id): centers + exact groups ─ decisions (removed docs, kept members of clusters)
    reread docs ─ apply decisions (AsDict side input) ─ docs / rejects
                    └─ identical copies of an exact survivor ─ GroupByKey ─ keep one ─ docs / rejects

Only slim records cross a shuffle: the first pass spools them to files (only file paths are
grouped), each partition's files are read and deleted by the step that needs them, and what
is shuffled after that is O(#candidates): groups, edges, signatures of candidate nodes,
decisions. Documents are read twice (``reread``): the second read applies the decisions
without a shuffle. Clusters are independent of bundling and worker count: every step is
set- and min-based.

``dup_cluster``: the id of the document kept for the cluster (exact and near duplicates
together), on the kept document and on every reject of that cluster; None for a document
with no duplicate. Reject ``detail``: for ``dedup:exact`` the id of the identical-text
survivor, for ``dedup:minhash`` the id of the kept document of the cluster.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import tempfile
import uuid
from dataclasses import replace
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from curate.dedup.components import finalize, large_star, node_id, node_key, small_star
from curate.dedup.config import DedupConfig
from curate.dedup.lsh import band_keys, bucket_of, estimated_jaccard
from curate.dedup.normalize import exact_digest, normalize
from curate.dedup.stats import ClusterStats
from curate.io import files
from curate.schema import make_reject

STEP = "dedup"
SPOOL_ROWS = 1000  # spool rows buffered per partition before a write


class ComponentsNotConverged(RuntimeError):
    """Large-star/small-star did not reach stars within ``cc_rounds``."""


def partitions(cfg: DedupConfig) -> int:
    """Exact-hash buckets and spool partitions: one holds ≈ 16·docs/buckets records."""
    return max(1, cfg.buckets // 16)


def fingerprint(doc: dict) -> bytes:
    """8 bytes of BLAKE2b over text and uri: tells apart same-ranked copies in an exact group."""
    h = hashlib.blake2b(digest_size=8)
    h.update((doc.get("text") or "").encode("utf-8", "surrogatepass"))
    h.update(b"\x00" + (doc.get("uri") or "").encode("utf-8", "surrogatepass"))
    return h.digest()


def handle(node: str) -> int:
    """63-bit handle of a node name (what band keys carry instead of the name; fits an int64 coder)."""
    return int.from_bytes(hashlib.blake2b(node.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little") >> 1


# -- first pass: slim records, spooled ------------------------------------------------------------
EXACT_SCHEMA = pa.schema([("ek", pa.binary(16)), ("node", pa.string()), ("fp", pa.binary(8))])
BANDS_SCHEMA = pa.schema([("key", pa.uint64()), ("handle", pa.uint64())])


def _nodes_schema(verify: bool) -> pa.Schema:
    return pa.schema([("handle", pa.uint64()), ("node", pa.string())] + ([("sig", pa.binary())] if verify else []))


def read_spools(paths) -> pa.Table | None:
    """The rows of some spool files (then deleted), or None when there are none."""
    paths = sorted(paths)
    tables = []
    for path in paths:
        with FileSystems.open(path) as f:
            tables.append(pa.ipc.open_stream(f).read_all())
    if paths:
        FileSystems.delete(paths)
    return pa.concat_tables(tables) if tables else None


class _FirstPass(beam.DoFn):
    """A batch of documents → slim records appended to spool files per kind and partition.

    Kinds: "exact" (16-byte ``exact_digest`` of the text, node, fingerprint), "bands" (band
    key, node handle; partitioned by the key's bucket), "nodes" (handle, node, signature).
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
        order = np.argsort(part, kind="stable")
        cuts = np.flatnonzero(np.diff(part[order])) + 1
        for seg in np.split(order, cuts):
            if not len(seg):
                continue
            p = int(part[seg[0]])
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
                eks.append(exact_digest(doc.get("text")))
                enodes.append(node)
                fps.append(fingerprint(doc))
            if c.minhash:
                nodes.append(node)
                hashes.append(self.hasher.shingle_hashes(norm))
        if eks:
            part = np.array([int.from_bytes(k[:8], "little") % self.parts for k in eks])
            self._write("exact", [pa.array(eks, pa.binary(16)), pa.array(enodes), pa.array(fps, pa.binary(8))], part)
        if nodes:
            sigs = self.hasher.signatures_from_hashes(hashes)
            handles = np.array([handle(n) for n in nodes], dtype=np.uint64)
            keys = band_keys(sigs, self.bands, self.rows).reshape(-1)
            self._write("bands", [pa.array(keys), pa.array(np.repeat(handles, self.bands))],
                        bucket_of(keys, c.buckets) % self.parts)
            cols = [pa.array(handles), pa.array(nodes)]
            if c.verify:
                cols.append(pa.array([s.tobytes() for s in sigs], pa.binary()))
            self._write("nodes", cols, (handles % np.uint64(self.parts)).astype(np.int64))

    def finish_bundle(self):
        for (kind, p), (path, f, writer) in sorted(self._writers.items()):
            writer.close()
            f.close()
            yield beam.pvalue.TaggedOutput(kind, GlobalWindows.windowed_value((p, path)))
        self._writers = {}


# -- exact ---------------------------------------------------------------------------------
def _exact_groups(element, minhash: bool):
    """One partition's exact records → (survivor id, (node, fingerprint, dups)) per exact group.

    The survivor is the smallest (node, fingerprint): the survivor rule, then a content hash
    for same-ranked copies. "excluded": handles of the duplicates, left out of MinHash.
    """
    _, paths = element
    t = read_spools(paths)
    yield beam.pvalue.TaggedOutput("done", 1)
    if t is None:
        return
    recs = sorted(zip(*(t.column(n).to_pylist() for n in ("ek", "node", "fp"))))
    excluded = set()
    i = 0
    while i < len(recs):
        j = i + 1
        while j < len(recs) and recs[j][0] == recs[i][0]:
            j += 1
        if j - i > 1:
            _, s_node, s_fp = recs[i]
            yield node_id(s_node), (s_node, s_fp, tuple((node_id(n), n, f) for _, n, f in recs[i + 1: j]))
            if minhash:
                excluded.update(handle(n) for _, n, _ in recs[i + 1: j] if n != s_node)
        i = j
    if excluded:
        yield beam.pvalue.TaggedOutput("excluded", np.array(sorted(excluded), dtype=np.uint64))


# -- candidates, verification ---------------------------------------------------------------
class _KeyGroups(beam.DoFn):
    """One partition's band keys → distinct groups of handles sharing a key, as members per partition.

    Output (node partition, (handles, group ids, buckets)): a group id is a hash of the
    group's sorted handles, the bucket that of the band key it was found by.
    """

    def __init__(self, parts: int, buckets: int):
        self.parts = parts
        self.buckets = buckets

    def process(self, element, excluded):
        _, paths = element
        t = read_spools(paths)
        yield beam.pvalue.TaggedOutput("done", 1)
        if t is None:
            return
        keys, hs = t.column("key").to_numpy(), t.column("handle").to_numpy()
        if excluded:
            keep = ~np.isin(hs, np.concatenate(list(excluded)))
            keys, hs = keys[keep], hs[keep]
        order = np.lexsort((hs, keys))
        ks, hs = keys[order], hs[order]
        if len(ks) < 2:
            return
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        ends = np.r_[starts[1:], len(ks)]
        multi = ends - starts > 1
        found: dict[bytes, set] = {}
        for s, e in zip(starts[multi].tolist(), ends[multi].tolist()):
            g = np.unique(hs[s:e])
            if len(g) > 1:
                found.setdefault(g.tobytes(), set()).add(int(bucket_of(ks[s: s + 1], self.buckets)[0]))
        out: dict[int, tuple[list, list, list]] = {}
        for g in sorted(found):
            gid = int.from_bytes(hashlib.blake2b(g, digest_size=8).digest(), "little") >> 1
            for h in np.frombuffer(g, dtype=np.uint64).tolist():
                hl, gl, bl = out.setdefault(h % self.parts, ([], [], []))
                for b in sorted(found[g]):
                    hl.append(h)
                    gl.append(gid)
                    bl.append(b)
        for p in sorted(out):
            hl, gl, bl = out[p]
            yield p, (np.array(hl, dtype=np.uint64), np.array(gl, dtype=np.uint64), np.array(bl, dtype=np.int64))


class _Resolve(beam.DoFn):
    """One partition: group members + node spools → (group, (node, signature, buckets))."""

    def __init__(self, verify: bool):
        self.verify = verify

    def process(self, element):
        _, g = element
        need: dict[int, dict[int, set]] = {}
        for hs, gids, buckets in g["member"]:
            for h, gid, b in zip(hs.tolist(), gids.tolist(), buckets.tolist()):
                need.setdefault(h, {}).setdefault(gid, set()).add(b)
        t = read_spools(g["spool"])
        yield beam.pvalue.TaggedOutput("done", 1)
        if t is None or not need:
            return
        idx = np.flatnonzero(np.isin(t.column("handle").to_numpy(), np.array(sorted(need), dtype=np.uint64)))
        t = t.take(pa.array(idx))
        sigs = t.column("sig").to_pylist() if self.verify else [b""] * t.num_rows
        rows: dict[int, dict[str, bytes]] = {}
        for h, n, s in zip(t.column("handle").to_pylist(), t.column("node").to_pylist(), sigs):
            cur = rows.setdefault(h, {})
            if n not in cur or s < cur[n]:  # the same node twice: a fixed choice
                cur[n] = s
        for h in sorted(need):
            for gid, buckets in sorted(need[h].items()):
                for n, s in sorted(rows.get(h, {}).items()):
                    yield gid, (n, s, tuple(sorted(buckets)))


def _group_edges(element, verify: bool, threshold: float):
    """A group's nodes → star edges ((smallest node, other), (buckets, verified?))."""
    _, members = element
    sig: dict[str, bytes] = {}
    buckets: set = set()
    for n, s, bs in members:
        sig[n] = min(s, sig.get(n, s))
        buckets.update(bs)
    nodes = sorted(sig)
    if len(nodes) < 2:
        return
    a, bs = nodes[0], tuple(sorted(buckets))
    sa = np.frombuffer(sig[a], dtype=np.uint32)
    for b in nodes[1:]:
        ok = not verify or estimated_jaccard(sa, np.frombuffer(sig[b], dtype=np.uint32)) >= threshold
        yield (a, b), (bs, ok)


def _distinct_edge(element, verify: bool):
    """An edge with its buckets → the edge as handles if verified, and its two (handle, node);
    "count": the candidates it stands for (with verification a distinct pair; without, a pair
    per bucket it was found in).
    """
    (a, b), vals = element
    buckets, ok = set(), False
    for bs, k in vals:
        buckets.update(bs)
        ok = ok or k
    yield beam.pvalue.TaggedOutput("count", 1 if verify else len(buckets))
    if ok:
        ha, hb = handle(a), handle(b)
        yield ha, hb
        yield beam.pvalue.TaggedOutput("node", (ha, a))
        yield beam.pvalue.TaggedOutput("node", (hb, b))


def _component_of(element):
    """A handle with its component label (the smallest handle) and node → (label, node)."""
    _, g = element
    for label in set(g["label"]):
        for node in set(g["node"]):
            yield label, node


def _centers(element):
    """A component's nodes → (document id, id of the component's smallest node) for each."""
    _, nodes = element
    nodes = sorted(set(nodes))
    for n in nodes:
        yield node_id(n), node_id(nodes[0])


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


# -- decisions and their application -----------------------------------------------------------
def _decide(element):
    """Key = an id with a component center or exact duplicates → decisions keyed by document id.

    ("id", (center, cluster)) for the id itself; ("exact", ((node, fingerprint), (survivor,
    cluster))) for each exact duplicate; ("copies", (node, fingerprint)) when the survivor's
    own record occurs more than once (identical copies: one is kept).
    """
    doc_id, g = element
    centers, groups = sorted(g["center"]), sorted(g["exact"])
    center = centers[0] if centers else doc_id
    cluster = center if centers or groups else None
    yield doc_id, ("id", (center, cluster))
    for s_node, s_fp, dups in groups:
        for d_id, d_node, d_fp in dups:
            if (d_node, d_fp) == (s_node, s_fp):
                yield doc_id, ("copies", (s_node, s_fp))
            else:
                yield d_id, ("exact", ((d_node, d_fp), (doc_id, cluster)))


def _decision(element):
    """All decisions of one id → (id, (exact dups by (node, fp), copies set, (center, cluster) or None))."""
    doc_id, entries = element
    exact, copies, ident = {}, set(), None
    for kind, v in entries:
        if kind == "exact":
            exact[v[0]] = v[1]
        elif kind == "copies":
            copies.add(v)
        else:
            ident = v
    return doc_id, (exact, copies, ident)


def _with_cluster(doc: dict, cluster: str | None) -> dict:
    return {**doc, "dup_cluster": cluster}


def _by_id(doc: dict, ident):
    """Keep ``doc`` or reject it as a near duplicate, by its id's (center, cluster)."""
    if ident is None:
        yield _with_cluster(doc, None)
        return
    center, cluster = ident
    if cluster is not None:
        yield beam.pvalue.TaggedOutput("members", (cluster, 1))
    if center == doc["id"]:
        yield _with_cluster(doc, cluster)
    else:
        yield beam.pvalue.TaggedOutput("rejects", make_reject(_with_cluster(doc, center), STEP, "dedup:minhash", center))


def _exact_reject(doc: dict, survivor: str, cluster: str | None):
    yield beam.pvalue.TaggedOutput("members", (cluster, 1))
    yield beam.pvalue.TaggedOutput("rejects", make_reject(_with_cluster(doc, cluster), STEP, "dedup:exact", survivor))


class _Apply(beam.DoFn):
    """A document + the decisions (side input, O(#duplicates)) → kept doc, reject, or "copies"."""

    def __init__(self, quality_key: str | None):
        self.quality_key = quality_key

    def process(self, doc, decisions):
        dec = decisions.get(doc["id"])
        if dec is None:
            yield _with_cluster(doc, None)
            return
        exact, copies, ident = dec
        if exact or copies:
            k = (node_key(doc, self.quality_key), fingerprint(doc))
            if k in exact:
                yield from _exact_reject(doc, *exact[k])
                return
            if k in copies:
                yield beam.pvalue.TaggedOutput("copies", ((doc["id"], *k), (doc, ident)))
                return
        yield from _by_id(doc, ident)


def _keep_one_copy(element):
    """Identical records of an exact survivor: the first (by content) takes the decision, the rest are exact dups."""
    (doc_id, _, _), items = element
    items = sorted(items, key=lambda x: json.dumps(x[0], sort_keys=True, default=str))
    ident = items[0][1]
    yield from _by_id(items[0][0], ident)
    for doc, _ in items[1:]:
        yield from _exact_reject(doc, doc_id, ident[1])


def _remove_spool(path: str, *_done) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])


# -- stats -----------------------------------------------------------------------------------
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
        largest = [{"id": d.v, "size": s} for s, d in sorted(top, key=lambda x: (-x[0], x[1].v))]
        return ClusterStats.from_histogram(hist, largest).to_json()


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
    return replace(ClusterStats.from_json(stats), params=params, candidate_edges=candidates,
                   verified_edges=verified, cc_rounds=rounds, cc_converged=True).to_json()


def _spool_root(pipeline: beam.Pipeline) -> str:
    """A fresh folder for signature spools: under --temp_location when set, else the local temp dir."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions

    temp = pipeline.options.view_as(GoogleCloudOptions).temp_location if pipeline.options else None
    if temp:
        root = FileSystems.join(temp, f"curate-dedup-{uuid.uuid4().hex}")
        files.makedirs(root)
        return root
    return tempfile.mkdtemp(prefix="curate-dedup-")


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
        c, qk, p = self.cfg, self.quality_key, docs.pipeline
        parts = partitions(c)
        spool = _spool_root(p)
        first = (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=min(64, c.batch_size), max_batch_size=c.batch_size)
            | "FirstPass" >> beam.ParDo(_FirstPass(c, qk, spool)).with_outputs("exact", "bands", "nodes")
        )
        done = []
        if c.exact:
            ex = (
                first.exact
                | "GroupExact" >> beam.GroupByKey()
                | "ExactGroups" >> beam.FlatMap(_exact_groups, c.minhash).with_outputs("excluded", "done", main="groups")
            )
            exact_groups, excluded = ex.groups, ex.excluded
            done.append(ex.done)
        else:
            exact_groups = p | "NoExactGroups" >> beam.Create([])
            excluded = p | "NoExcluded" >> beam.Create([])

        if c.minhash:
            kg = (
                first.bands
                | "GroupBands" >> beam.GroupByKey()
                | "KeyGroups" >> beam.ParDo(_KeyGroups(parts, c.buckets), beam.pvalue.AsList(excluded)).with_outputs(
                    "done", main="members")
            )
            res = (
                {"member": kg.members, "spool": first.nodes}
                | "JoinNodes" >> beam.CoGroupByKey()
                | "Resolve" >> beam.ParDo(_Resolve(c.verify)).with_outputs("done", main="nodes")
            )
            done += [kg.done, res.done]
            cand = (
                res.nodes
                | "GroupNodes" >> beam.GroupByKey()
                | "StarEdges" >> beam.FlatMap(_group_edges, c.verify, c.threshold)
                | "GroupEdges" >> beam.GroupByKey()
                | "DistinctEdges" >> beam.FlatMap(_distinct_edge, c.verify).with_outputs("count", "node", main="edges")
            )
            candidates = cand.count | "CountCandidates" >> beam.CombineGlobally(sum)
            if c.verify:
                verified = cand.edges | "CountVerified" >> beam.combiners.Count.Globally()
            else:
                verified = p | "NoVerify" >> beam.Create([None])
            # Components on 64-bit handles (compact in every round); the center is then the
            # smallest node name of each component, as large-star/small-star on names gives.
            comp = cand.edges | "Components" >> Components(c.cc_rounds)
            centers = (
                {"label": comp["labels"], "node": cand.node}
                | "JoinLabels" >> beam.CoGroupByKey()
                | "ComponentOf" >> beam.FlatMap(_component_of)
                | "GroupComponents" >> beam.GroupByKey()
                | "Centers" >> beam.FlatMap(_centers)
            )
            violations = comp["violations"]
        else:
            centers = p | "NoCenters" >> beam.Create([])
            candidates = p | "NoCandidates" >> beam.Create([0])
            verified = p | "NoVerified" >> beam.Create([None])
            violations = p | "NoViolations" >> beam.Create([0])
        # Every spool file is deleted where it is read; the folder goes once all readers are done.
        _ = p | "SpoolRoot" >> beam.Create([spool]) | "RemoveSpool" >> beam.Map(
            _remove_spool, *[beam.pvalue.AsSingleton(d | f"Done{i}" >> beam.CombineGlobally(sum)) for i, d in enumerate(done)])

        decisions = (
            {"center": centers, "exact": exact_groups}
            | "JoinDecide" >> beam.CoGroupByKey()
            | "Decide" >> beam.FlatMap(_decide)
            | "GroupDecisions" >> beam.GroupByKey()
            | "Decisions" >> beam.Map(_decision)
        )
        again = p | "Reread" >> self.reread if self.reread is not None else docs
        out = again | "Apply" >> beam.ParDo(_Apply(qk), beam.pvalue.AsDict(decisions)).with_outputs(
            "rejects", "members", "copies", main="docs")
        cp = (
            out.copies
            | "GroupCopies" >> beam.GroupByKey()
            | "KeepOneCopy" >> beam.FlatMap(_keep_one_copy).with_outputs("rejects", "members", main="docs")
        )
        sizes = [m | f"ClusterSizes{i}" >> beam.CombinePerKey(sum) for i, m in enumerate((out.members, cp.members))]
        stats = (
            sizes
            | "AllSizes" >> beam.Flatten()
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
        return {"docs": [out.docs, cp.docs], "rejects": [out.rejects, cp.rejects], "stats": {"clusters": stats}}
