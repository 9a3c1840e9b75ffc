"""The pure kernels of dedup (curate.dedup.*), on plain values, without a Beam runner.

Together they are the whole computation of the Deduplicate step: the last test runs them
end to end in memory on a small corpus.
"""

import random

import numpy as np
import pytest

from curate.dedup import candidates, cluster_sizes, decisions, edges, partition
from curate.dedup.components import ComponentsNotConverged, centers, node_id, node_key, star_rounds, union_find
from curate.dedup.config import DedupConfig
from curate.dedup.exact import ExactGroup, exact_groups, exact_key, near_excluded
from curate.dedup.fingerprints import fingerprint, group_id, handle, handles
from curate.dedup.lsh import band_keys, shared_keys
from curate.dedup.minhash import MinHasher
from curate.dedup.normalize import normalize
from curate.dedup.stats import ClusterStats
from curate.schema import new_document

VOCAB = [f"w{i}" for i in range(3000)]


def _doc(uri, text, **kw):
    return new_document(source="t", uri=uri, format="text", text=text, **kw)


# -- identities, partitions ------------------------------------------------------------------
def test_fingerprint_handle_group_id():
    a, b = _doc("a", "same text"), _doc("b", "same text")
    assert len(fingerprint(a)) == 8 and fingerprint(a) != fingerprint(b) and fingerprint(a) == fingerprint(dict(a))
    h = handle("node")
    assert 0 <= h < 2**63 and handles(["node", "other"]).tolist() == [h, handle("other")]
    g = np.array(sorted([h, handle("other")]), dtype=np.uint64).tobytes()
    assert 0 <= group_id(g) < 2**63 and group_id(g) != group_id(g[:8])


def test_partitions_and_split():
    assert partition.partitions(DedupConfig(buckets=256)) == 16 and partition.partitions(DedupConfig(buckets=7)) == 1
    part = np.array([2, 0, 2, 1, 0])
    assert [(p, seg.tolist()) for p, seg in partition.split(part)] == [(0, [1, 4]), (1, [3]), (2, [0, 2])]
    hs = np.array([5, 2**63 + 3], dtype=np.uint64)
    assert partition.of_handles(hs, 4).tolist() == [int(h) % 4 for h in hs.tolist()]
    keys = [bytes([7]) + bytes(15), bytes([9]) + bytes(15)]
    assert partition.of_exact_keys(keys, 4).tolist() == [3, 1]


# -- exact groups ---------------------------------------------------------------------------
def test_exact_groups_pick_the_smallest_node_then_fingerprint_whatever_the_order():
    recs = [(b"k1", "n2", b"f1"), (b"k1", "n1", b"f9"), (b"k2", "n3", b"f1"), (b"k1", "n1", b"f2"), (b"k3", "n5", b"f")]
    for seed in range(5):
        random.Random(seed).shuffle(recs)
        assert list(exact_groups(recs)) == [ExactGroup("n1", b"f2", (("n1", b"f9"), ("n2", b"f1")))]
    g = ExactGroup("n1", b"f2", (("n1", b"f9"), ("n2", b"f1"), ("n1", b"f2")))
    assert near_excluded(g) == {handle("n2")}  # same node: a copy of the survivor, not left out of MinHash


def test_exact_key_keeps_meaning():
    assert exact_key(_doc("a", "Hello  World")) == exact_key(_doc("b", "hello world"))
    assert exact_key(_doc("a", "a - b")) != exact_key(_doc("b", "a b"))
    assert len(exact_key(_doc("a", "x"))) == 16


# -- candidates -----------------------------------------------------------------------------
def test_shared_keys_on_handles_and_names():
    keys = np.array([5, 5, 5, 9, 7, 7], dtype=np.uint64)
    names = np.array(["c", "a", "b", "d", "e", "e"])
    assert [(k, g.tolist()) for k, g in shared_keys(keys, names)] == [(5, ["a", "b", "c"])]  # e twice: one member
    hs = np.array([3, 1, 2, 4, 6, 6], dtype=np.uint64)
    assert [(k, g.tolist()) for k, g in shared_keys(keys, hs)] == [(5, [1, 2, 3])]


def test_key_groups_distinct_with_buckets_and_exclusions():
    keys = np.array([10, 10, 13, 13, 21, 21, 21], dtype=np.uint64)
    hs = np.array([1, 2, 2, 1, 1, 2, 3], dtype=np.uint64)
    found = candidates.key_groups(keys, hs, buckets=4)
    g12, g123 = np.array([1, 2], np.uint64).tobytes(), np.array([1, 2, 3], np.uint64).tobytes()
    assert found == {g12: {2, 1}, g123: {1}}  # {1, 2} found by keys 10 and 13: buckets 2 and 1
    assert candidates.key_groups(keys, hs, 4, np.array([2], dtype=np.uint64)) == {np.array([1, 3], np.uint64).tobytes(): {1}}
    routed = dict(candidates.members_by_partition(found, parts=2))
    assert sorted(routed) == [0, 1]
    h1, gid1, b1 = routed[1]  # handles 1 and 3
    assert sorted(set(zip(h1.tolist(), gid1.tolist(), b1.tolist()))) == sorted(
        [(1, group_id(g12), 1), (1, group_id(g12), 2), (1, group_id(g123), 1), (3, group_id(g123), 1)])


def test_wanted_rows_resolve():
    need = candidates.wanted([(np.array([1, 1, 2], np.uint64), np.array([7, 7, 7], np.uint64), np.array([0, 3, 0]))])
    assert need == {1: {7: {0, 3}}, 2: {7: {0}}}
    hs = np.array([2, 9, 1, 1], dtype=np.uint64)
    assert candidates.rows_wanted(need, hs).tolist() == [0, 2, 3]
    got = list(candidates.resolve(need, [2, 1, 1], ["nb", "na", "na"], [b"s2", b"s9", b"s1"]))
    assert got == [(7, ("na", b"s1", (0, 3))), (7, ("nb", b"s2", (0,)))]  # a node read twice: smallest signature


# -- edges by estimated Jaccard -------------------------------------------------------------------
def test_star_edges_verify_by_estimated_jaccard():
    base = np.arange(100, dtype=np.uint32)
    near, far = base.copy(), base.copy()
    near[:10] += 1000  # 90% agreement
    far[:40] += 1000  # 60%
    members = [("b", near.tobytes(), (1,)), ("a", base.tobytes(), (0,)), ("c", far.tobytes(), (2,)), ("b", near.tobytes(), (3,))]
    got = list(edges.star_edges(members, verify=True, threshold=0.8))
    assert got == [(("a", "b"), ((0, 1, 2, 3), True)), (("a", "c"), ((0, 1, 2, 3), False))]
    assert all(ok for _, (_, ok) in edges.star_edges(members, verify=False, threshold=0.8))
    assert list(edges.star_edges([("a", b"", (0,))], True, 0.8)) == []


def test_merge_edge_counts_candidates():
    found = [((0, 1), False), ((1, 2), True)]
    assert edges.merge_edge(found, verify=True) == (1, True)
    assert edges.merge_edge(found, verify=False) == (3, True)
    assert edges.merge_edge([((0,), False)], verify=True) == (1, False)


# -- clusters -------------------------------------------------------------------------------
def test_centers_name_the_smallest_node():
    a, b = node_key({"id": "a", "text": "xx"}), node_key({"id": "b", "text": "xxx"})  # b is longer: survives
    assert centers([a, b, a]) == [("b", "b"), ("a", "b")]


# -- decisions ------------------------------------------------------------------------------
def _outcomes(it):
    out = {}
    for tag, v in it:
        out.setdefault(tag, []).append(v)
    return out


def test_decide_merge_apply():
    s = _doc("s", "survivor text, longest of all")
    d = _doc("d", "survivor text")
    near = _doc("n", "near text")
    sn, dn = node_key(s), node_key(d)
    group = (sn, fingerprint(s), ((d["id"], dn, fingerprint(d)), (s["id"], sn, fingerprint(s))))
    got = list(decisions.decide(s["id"], [s["id"]], [group]))
    assert got == [(s["id"], ("id", (s["id"], s["id"]))), (d["id"], ("exact", ((dn, fingerprint(d)), (s["id"], s["id"])))),
                   (s["id"], ("copies", (sn, fingerprint(s))))]
    by_id = {}
    for k, v in got + list(decisions.decide(near["id"], [s["id"]], [])):
        by_id.setdefault(k, []).append(v)
    decided = {k: decisions.merge(v) for k, v in by_id.items()}

    rej = _outcomes(decisions.apply(d, decided[d["id"]], None))
    assert rej["members"] == [(s["id"], 1)] and "docs" not in rej
    assert [(r["reason"], r["detail"], r["dup_cluster"], r["step"]) for r in rej["rejects"]] == [("dedup:exact", s["id"], s["id"], "dedup")]
    rej = _outcomes(decisions.apply(near, decided[near["id"]], None))
    assert [(r["reason"], r["detail"], r["dup_cluster"]) for r in rej["rejects"]] == [("dedup:minhash", s["id"], s["id"])]
    copy = _outcomes(decisions.apply(s, decided[s["id"]], None))
    assert list(copy) == ["copies"] and copy["copies"][0][0] == (s["id"], sn, fingerprint(s))
    alone = _doc("x", "alone")
    assert _outcomes(decisions.apply(alone, None, None)) == {"docs": [{**alone, "dup_cluster": None}]}


def test_keep_one_copy_keeps_one_and_rejects_the_others_as_exact():
    s = _doc("s", "text")
    out = _outcomes(decisions.keep_one_copy(s["id"], [(dict(s), (s["id"], s["id"]))] * 3))
    assert out["docs"] == [{**s, "dup_cluster": s["id"]}] and out["members"] == [(s["id"], 1)] * 3
    assert [(r["reason"], r["detail"], r["dup_cluster"]) for r in out["rejects"]] == [("dedup:exact", s["id"], s["id"])] * 2


# -- stats ----------------------------------------------------------------------------------
def test_cluster_sizes_merge_in_any_order_and_ties_keep_smaller_ids():
    sizes = [("c", 2), ("a", 3), ("b", 2), ("d", 5), ("e", 2)]
    whole = cluster_sizes.empty()
    for cid, n in sizes:
        cluster_sizes.add(whole, cid, n, top=3)
    parts = []
    for chunk in (sizes[:2], sizes[2:]):
        acc = cluster_sizes.empty()
        for cid, n in chunk:
            cluster_sizes.add(acc, cid, n, top=3)
        parts.append(acc)
    for acc in (whole, cluster_sizes.merge(parts, 3), cluster_sizes.merge(parts[::-1], 3)):
        st = cluster_sizes.result(acc)
        assert st.largest == [{"id": "d", "size": 5}, {"id": "a", "size": 3}, {"id": "b", "size": 2}]
        assert (st.clusters, st.docs_in_clusters, st.removed, st.size_histogram) == (5, 14, 9, {2: 3, 3: 1, 5: 1})


def test_finish_adds_figures_or_fails_on_non_convergence():
    st = cluster_sizes.finish(ClusterStats(), {"x": 1}, candidates=4, verified=3, violations=0, rounds=10)
    assert (st.params, st.candidate_edges, st.verified_edges, st.cc_rounds, st.cc_converged) == ({"x": 1}, 4, 3, 10, True)
    with pytest.raises(ComponentsNotConverged, match="cc_rounds"):
        cluster_sizes.finish(ClusterStats(), {}, 0, None, violations=2, rounds=1)


# -- all kernels, end to end in memory ------------------------------------------------------------
def test_kernels_end_to_end_in_memory():
    r = random.Random(3)
    docs, base_of = [], {}
    for g in range(12):
        base = [r.choice(VOCAB) for _ in range(300)]
        docs.append(_doc(f"b{g}", " ".join(base)))
        for k in range(g % 3):
            w = list(base)
            w[r.randrange(len(w))] = r.choice(VOCAB)
            docs.append(_doc(f"b{g}-near{k}", " ".join(w)))
        if g % 4 == 0:
            docs.append(_doc(f"b{g}-exact", " ".join(base).upper()))
    for d in docs:
        base_of[d["id"]] = d["uri"].split("-")[0]
    c = DedupConfig(buckets=8)
    bands, rows = c.lsh()
    nodes = [node_key(d) for d in docs]
    # exact groups, then MinHash over everything but exact duplicates
    groups = list(exact_groups((exact_key(d), n, fingerprint(d)) for d, n in zip(docs, nodes)))
    excluded = set().union(*(near_excluded(g) for g in groups))
    mh = MinHasher(c.num_perm, c.seed, c.ngram)
    sigs = mh.signatures([normalize(d["text"]) for d in docs], normalized=True)
    hs = handles(nodes)
    keys = band_keys(sigs, bands, rows).reshape(-1)
    found = candidates.key_groups(keys, np.repeat(hs, bands), c.buckets, np.array(sorted(excluded), dtype=np.uint64))
    members = [m for _, m in candidates.members_by_partition(found, 1)]
    need = candidates.wanted(members)
    resolved = {}
    for gid, m in candidates.resolve(need, hs.tolist(), nodes, [s.tobytes() for s in sigs]):
        resolved.setdefault(gid, []).append(m)
    found_edges = {}
    for m in resolved.values():
        for e, v in edges.star_edges(m, c.verify, c.threshold):
            found_edges.setdefault(e, []).append(v)
    kept = [e for e, v in found_edges.items() if edges.merge_edge(v, c.verify)[1]]
    labels, bad = star_rounds(kept, c.cc_rounds)
    assert bad == 0 and labels == union_find(kept)
    comps = {}
    for n, center in labels.items():
        comps.setdefault(center, []).append(n)
    near_centers = dict(p for ns in comps.values() for p in centers(ns))
    # decisions, applied
    by_id = {}
    exact_by_survivor = {}
    for g in groups:
        exact_by_survivor.setdefault(node_id(g.node), []).append(
            (g.node, g.fp, tuple((node_id(n), n, f) for n, f in g.dups)))
    for doc_id in set(near_centers) | set(exact_by_survivor):
        center = [near_centers[doc_id]] if doc_id in near_centers else []
        for k, v in decisions.decide(doc_id, center, exact_by_survivor.get(doc_id, [])):
            by_id.setdefault(k, []).append(v)
    decided = {k: decisions.merge(v) for k, v in by_id.items()}
    out = _outcomes(o for d in docs for o in decisions.apply(d, decided.get(d["id"]), None))
    assert "copies" not in out
    assert sorted(base_of[d["id"]] for d in out["docs"]) == sorted(f"b{g}" for g in range(12))  # one per group
    for rj in out["rejects"]:
        assert base_of[rj["id"]] == base_of[rj["detail"]] == base_of[rj["dup_cluster"]]
        is_exact_pair = {rj["uri"], next(d["uri"] for d in docs if d["id"] == rj["detail"])} == {
            base_of[rj["id"]], base_of[rj["id"]] + "-exact"}
        assert rj["reason"] == ("dedup:exact" if is_exact_pair else "dedup:minhash")
    assert len(out["rejects"]) == len(docs) - 12
