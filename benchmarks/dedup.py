"""Dedup benchmark: accuracy on planted near-duplicates, signature throughput, whole-step scale.

    python benchmarks/dedup.py                       # all three, 100k documents for the scale run
    python benchmarks/dedup.py --scale-docs 20000    # smaller scale run
    python benchmarks/dedup.py --only accuracy       # or: throughput, scale

1. Accuracy: distinct base texts (Zipf words) with planted variants at known edit levels
   (adjacent word swaps, insertions, deletions, boilerplate header/footer replaced,
   truncation). The Deduplicate transform runs on the DirectRunner; exact Jaccard of the
   same shingles (curate.dedup.minhash.shingles over normalized text) is the truth.
   Precision: removed documents that have a partner at J ≥ 0.75 (in their cluster).
   Recall: in each component of the graph of pairs at J ≥ 0.85, size-1 documents are
   redundant; recall = Σ min(removed, size-1) / Σ (size-1). Bases are independent random
   texts, so cross-family pairs have J ≈ 0 (checked on a sample and printed).
2. Signature throughput, same documents, same run: curate's vectorized MinHasher vs
   datasketch's per-token ``MinHash.update`` loop and ``MinHash.bulk`` (both with the same
   words64 shingle hash, and with datasketch's default sha1 on shingle bytes).
3. Scale: the whole ``curate dedup`` CLI on N documents (a Parquet pool written first) with
   ``--direct_running_mode=multi_processing --direct_num_workers=W``: wall time and peak
   RSS of the process tree (psutil, sampled every 0.2 s).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import random
import tempfile
import time

import numpy as np

from curate.dedup.config import DedupConfig
from curate.dedup.minhash import MinHasher, shingles, units
from curate.dedup.normalize import normalize
from curate.schema import new_document
from _rss import run_measured, tail  # noqa: E402

VOCAB_SIZE = 30000


class Corpus:
    """Random Zipf texts and planted variants."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.vocab = np.array([f"w{i}" for i in range(VOCAB_SIZE)], dtype=object)
        p = 1.0 / np.arange(1, VOCAB_SIZE + 1) ** 1.05
        self.cdf = np.cumsum(p / p.sum())
        self.boiler = [self.words(30) for _ in range(20)]  # site headers/footers

    def words(self, n: int) -> list[str]:
        idx = np.searchsorted(self.cdf, self.rng.random(n) * self.cdf[-1], side="right")
        return list(self.vocab[np.minimum(idx, VOCAB_SIZE - 1)])

    def base(self, lo=200, hi=800) -> tuple[list[str], int, int]:
        """(words, header id, footer id): boilerplate around a random body."""
        h, f = self.rng.integers(len(self.boiler), size=2)
        return self.boiler[h] + self.words(int(self.rng.integers(lo, hi))) + self.boiler[f], int(h), int(f)

    def variant(self, base: tuple[list[str], int, int], kind: str, level: float) -> list[str]:
        w, h, f = base
        w = list(w)
        n = len(w)
        k = max(1, int(round(level * n)))
        r = self.rng
        if kind == "swap":
            for i in r.integers(0, n - 1, size=k):
                w[i], w[i + 1] = w[i + 1], w[i]
        elif kind == "insert":
            for i in sorted(r.integers(0, n, size=k), reverse=True):
                w.insert(int(i), self.words(1)[0])
        elif kind == "delete":
            keep = np.ones(n, bool)
            keep[r.choice(n, size=min(k, n - 1), replace=False)] = False
            w = [x for x, m in zip(w, keep) if m]
        elif kind == "boilerplate":
            nh = (h + 1 + int(r.integers(len(self.boiler) - 1))) % len(self.boiler)
            w = self.boiler[nh] + w[30:-30] + (self.boiler[f] if level < 0.5 else self.boiler[(f + 1) % len(self.boiler)])
        elif kind == "truncate":
            w = w[: n - k]
        return w


LEVELS = {
    "swap": [0.005, 0.01, 0.02, 0.04, 0.08],
    "insert": [0.005, 0.01, 0.02, 0.04, 0.08],
    "delete": [0.005, 0.01, 0.02, 0.04, 0.08],
    "boilerplate": [0.0, 1.0],  # header only / header and footer
    "truncate": [0.05, 0.1, 0.2, 0.35],
}


def shingle_set(text: str, cfg: DedupConfig) -> set:
    return set(shingles(units(normalize(text), cfg.char_ngrams), cfg.ngram))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def accuracy(args) -> None:
    import apache_beam as beam

    from curate.pipelines.dedup import Deduplicate

    print(f"\n== 1. accuracy: {args.bases} bases with planted variants ==")
    c = Corpus(args.seed)
    cfg = DedupConfig(**json.loads(args.config))
    print(f"config overrides {args.config}; bands/rows {cfg.lsh()}")
    docs, family, label = [], {}, {}
    rnd = random.Random(args.seed)
    for b in range(args.bases):
        base = c.base()
        d = new_document(source="bench", uri=f"b{b}", format="text", text=" ".join(base[0]))
        docs.append(d)
        family[d["id"]], label[d["id"]] = b, ("base", 0.0)
        for _ in range(rnd.randint(0, 4)):
            kind = rnd.choice(sorted(LEVELS))
            level = rnd.choice(LEVELS[kind])
            v = new_document(source="bench", uri=f"b{b}-{len(docs)}", format="text",
                             text=" ".join(c.variant(base, kind, level)))
            docs.append(v)
            family[v["id"]], label[v["id"]] = b, (kind, level)
    print(f"documents: {len(docs)}")
    from curate.io.doc_shards import list_shards, read_shard
    from curate.pipelines.runner import Counted, StepGraph, run_step

    def build(p):
        inp = p | beam.Create(docs)
        res = inp | Deduplicate(cfg)
        return StepGraph([Counted("dedup", inp, res["docs"], res["rejects"])], res["docs"], res["rejects"], res["stats"])

    t0 = time.time()
    out = tempfile.mkdtemp(prefix="dedup-acc-")
    run_step("dedup", "acc", f"{out}/step", build, [], 4, log=lambda _: None)
    kept = [(d["id"], d["dup_cluster"]) for s in list_shards(f"{out}/step/docs") for d in read_shard(s)]
    rejects = [(r["id"], r["dup_cluster"], r["reason"]) for s in list_shards(f"{out}/step/rejects") for r in read_shard(s)]
    print(f"dedup (DirectRunner in-process): {time.time() - t0:.1f}s, kept {len(kept)}, removed {len(rejects)}")

    sets = {d["id"]: shingle_set(d["text"], cfg) for d in docs}
    cluster_of = {i: cl for i, cl in kept if cl} | {i: cl for i, cl, _ in rejects}
    members: dict[str, list[str]] = {}
    for i, cl in cluster_of.items():
        members.setdefault(cl, []).append(i)
    # Precision: each removed document has a partner at J >= 0.75 in its cluster.
    good = 0
    bad_examples = []
    for i, cl, _ in rejects:
        best = max((jaccard(sets[i], sets[j]) for j in members[cl] if j != i), default=0.0)
        good += best >= 0.75
        if best < 0.75:
            bad_examples.append((label[i], round(best, 3)))
    precision = good / len(rejects) if rejects else 1.0
    # Recall: components of the J >= 0.85 graph (pairs within a family; cross-family checked below).
    by_family: dict[int, list[str]] = {}
    for i, f in family.items():
        by_family.setdefault(f, []).append(i)
    removed = {i for i, _, _ in rejects}
    from curate.dedup.components import union_find

    edges = []
    for ids in by_family.values():
        for x in range(len(ids)):
            for y in range(x + 1, len(ids)):
                if jaccard(sets[ids[x]], sets[ids[y]]) >= 0.85:
                    edges.append((ids[x], ids[y]))
    comps: dict[str, list[str]] = {}
    for node, root in union_find(edges).items():
        comps.setdefault(root, []).append(node)
    need = sum(len(m) - 1 for m in comps.values())
    got = sum(min(sum(i in removed for i in m), len(m) - 1) for m in comps.values())
    recall = got / need if need else 1.0
    sample = random.Random(1).sample(sorted(sets), min(300, len(sets)))
    cross = max(jaccard(sets[a], sets[b]) for a in sample for b in sample if family[a] != family[b])
    print(f"max J across families (sample of {len(sample)}): {cross:.3f}")
    print(f"precision {precision:.4f} ({good}/{len(rejects)} removed have a partner at J>=0.75)  target >= 0.98")
    print(f"recall    {recall:.4f} ({got}/{need} redundant at J>=0.85 removed)  target >= 0.95")
    if bad_examples:
        print("removed without a J>=0.75 partner (kind, level), best J:", bad_examples[:10])
    # Per edit level: share of variants removed, and their mean J to the base.
    base_of = {f: ids[0] for f, ids in by_family.items()}
    rows: dict[tuple, list] = {}
    for i, (kind, level) in label.items():
        if kind == "base":
            continue
        j = jaccard(sets[i], sets[base_of[family[i]]])
        same = cluster_of.get(i) is not None and cluster_of.get(i) == cluster_of.get(base_of[family[i]])
        rows.setdefault((kind, level), []).append((j, same))
    print(f"{'edit':<12} {'level':>6} {'n':>5} {'mean J':>7} {'with base*':>10}")
    for (kind, level), v in sorted(rows.items()):
        print(f"{kind:<12} {level:>6} {len(v):>5} {np.mean([x for x, _ in v]):>7.3f} {np.mean([y for _, y in v]):>10.3f}")
    print("*with base: share of variants put in the same cluster as their base")


def throughput(args) -> None:
    from datasketch import MinHash

    from curate.dedup.minhash import sha1_hash, words64_hash

    print(f"\n== 2. signature throughput: {args.sig_docs} documents ==")
    c = Corpus(args.seed + 1)
    texts = [" ".join(c.base(300, 900)[0]) for _ in range(args.sig_docs)]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    mh = MinHasher()
    for run in ("cold (builds caches)", "warm"):
        t0 = time.perf_counter()
        ours = mh.signatures(texts)
        t_ours = time.perf_counter() - t0
        print(f"curate MinHasher words64, incl. normalize, {run}: {len(texts) / t_ours:9.1f} docs/s {mb / t_ours:7.2f} MB/s")
    sub = texts[: args.loop_docs]
    mb_sub = sum(len(t.encode()) for t in sub) / 1e6
    sh = [shingles(normalize(t).split(), 5) for t in sub]  # shingling is not charged to datasketch
    t0 = time.perf_counter()
    loop = []
    for s in sh:
        m = MinHash(num_perm=128, seed=1, hashfunc=words64_hash)
        for x in s:
            m.update(x)
        loop.append(m.hashvalues)
    t_loop = time.perf_counter() - t0
    assert all(np.array_equal(a, b) for a, b in zip(loop, ours)), "signatures differ from datasketch's"
    t0 = time.perf_counter()
    bulk = MinHash.bulk(sh, num_perm=128, seed=1, hashfunc=words64_hash)
    t_bulk = time.perf_counter() - t0
    assert all(np.array_equal(a.hashvalues, b) for a, b in zip(bulk, ours))
    shb = [[" ".join(x).encode() for x in s] for s in sh]
    t0 = time.perf_counter()
    for s in shb:
        m = MinHash(num_perm=128, seed=1)
        for x in s:
            m.update(x)
    t_loop_sha = time.perf_counter() - t0
    t0 = time.perf_counter()
    MinHash.bulk(shb, num_perm=128, seed=1)
    t_bulk_sha = time.perf_counter() - t0
    mh_sha = MinHasher(shingle_hash="sha1")
    t0 = time.perf_counter()
    mh_sha.signatures(sub)
    t_ours_sha = time.perf_counter() - t0
    t0 = time.perf_counter()
    mh.signatures(sub)
    t_ours_sub = time.perf_counter() - t0
    n = len(sub)
    print(f"on the same {n} documents ({mb_sub:.2f} MB; datasketch gets pre-built shingles):")
    for name, t in [
        ("curate MinHasher words64", t_ours_sub),
        ("curate MinHasher sha1", t_ours_sha),
        ("datasketch update loop, words64 hash", t_loop),
        ("datasketch MinHash.bulk, words64 hash", t_bulk),
        ("datasketch update loop, default sha1", t_loop_sha),
        ("datasketch MinHash.bulk, default sha1", t_bulk_sha),
    ]:
        print(f"  {name:<40} {n / t:9.1f} docs/s {mb_sub / t:7.2f} MB/s  curate words64 is {t / t_ours_sub:6.1f}x")
    print(f"speed-up vs update loop (same hash): {t_loop / t_ours_sub:.1f}x (target >= 10x); "
          f"vs bulk: {t_bulk / t_ours_sub:.1f}x; sha1 mode vs sha1 update loop: {t_loop_sha / t_ours_sha:.1f}x")


def scale(args) -> None:
    import pyarrow.parquet as pq

    from curate.schema import to_table

    n = args.scale_docs
    print(f"\n== 3. whole `curate dedup` on {n} documents, DirectRunner multi_processing x{args.workers} ==")
    c = Corpus(args.seed + 2)
    work = tempfile.mkdtemp(prefix="dedup-bench-")
    pool = os.path.join(work, "pool")
    os.makedirs(os.path.join(pool, "docs"))
    t0 = time.time()
    docs, bases = [], []
    rnd = random.Random(args.seed)
    while len(docs) < n:
        if bases and rnd.random() < 0.3:  # ~30% planted duplicates of earlier documents
            base = rnd.choice(bases)
            kind = rnd.choice(sorted(LEVELS))
            words = c.variant(base, kind, rnd.choice(LEVELS[kind]))
        else:
            base = c.base(100, 500)
            bases.append(base)
            words = base[0]
        docs.append(new_document(source="bench", uri=f"d{len(docs)}", format="text", text=" ".join(words)))
    shards = 8
    for s in range(shards):
        pq.write_table(to_table(docs[s::shards]), os.path.join(pool, "docs", f"part-{s:05d}-of-{shards:05d}.parquet"))
    with open(os.path.join(pool, "manifest.json"), "w") as f:
        json.dump({"step": "bench", "key": f"bench-{n}-{args.seed}"}, f)
    mb = sum(len(d["text"]) for d in docs) / 1e6
    del docs, bases
    print(f"corpus written in {time.time() - t0:.1f}s ({mb:.0f} MB of text) → {pool}")
    out = os.path.join(work, "out")
    cmd = [sys.executable, "-m", "curate", "dedup", pool, "--output", out, "--",
           "--direct_running_mode=multi_processing", f"--direct_num_workers={args.workers}"]
    log_path = os.path.join(work, "dedup.log")
    rc, wall, mem = run_measured(cmd, log_path)
    peak = [mem.peak]
    if rc:
        print(tail(log_path))
        raise SystemExit(f"curate dedup failed ({rc})")
    m = json.load(open(os.path.join(out, "manifest.json")))
    cnt = m["counts"]["dedup"]
    st = m["stats"]["clusters"]
    print(f"wall {wall:.1f}s ({n / wall:.0f} docs/s), peak RSS of process tree {peak[0] / 2**20:.0f} MiB")
    print(f"in {cnt['in']} → out {cnt['out']}, rejects {cnt['rejects']}")
    print(f"clusters {st['clusters']}, largest {st['largest'][:3]}, candidate edges {st['candidate_edges']}, "
          f"verified {st['verified_edges']}, bands/rows {st['params']['bands']}/{st['params']['rows']}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["accuracy", "throughput", "scale"], action="append")
    ap.add_argument("--bases", type=int, default=600, help="base texts in the accuracy corpus")
    ap.add_argument("--sig-docs", type=int, default=2000, help="documents for curate's signature throughput")
    ap.add_argument("--loop-docs", type=int, default=200, help="documents for the (slow) datasketch loops")
    ap.add_argument("--scale-docs", type=int, default=100_000, help="documents in the whole-step run")
    ap.add_argument("--workers", type=int, default=2, help="--direct_num_workers of the whole-step run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--config", default="{}", help='DedupConfig overrides for the accuracy run, JSON (e.g. \'{"verify": false}\')')
    ap.add_argument("--keep", action="store_true", help="keep the scale run's pool and output")
    args = ap.parse_args()
    parts = args.only or ["accuracy", "throughput", "scale"]
    for part in ("accuracy", "throughput", "scale"):
        if part in parts:
            globals()[part](args)


if __name__ == "__main__":
    main()
