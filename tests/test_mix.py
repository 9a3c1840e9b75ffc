"""The mix step end to end: token-budget sampling, Megatron shards, blend.json, report.json."""

import collections
import hashlib
import json
import os
import warnings

import numpy as np
import pytest

from curate.config import default_config
from curate.mixtures.indexed import IndexedDataset
from curate.mixtures.tokenizer import DocTokenizer
from curate.pipelines.stages import run_mix
from curate.io.doc_shards import list_shards, read_shard

from mixhelp import pools as make_pools


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    return make_pools(str(tmp_path_factory.mktemp("pools")))


def _cfg(**mix):
    cfg = default_config("stage2")
    cfg.mix.total_tokens = 100_000
    cfg.mix.pool_shares = {"synthetic": 0.1}
    for k, v in mix.items():
        setattr(cfg.mix, k, v)
    return cfg


def _tree_digest(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            if n.endswith((".bin", ".idx")) or n in ("blend.json", "report.json", "report.html"):
                out[os.path.relpath(p, d)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def mixed(pools, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("mix") / "stage2")
    summary = run_mix(_cfg(), pools, out, [], [], log=lambda m: None)
    return out, summary


def _docs_by_source(pools):
    docs = collections.defaultdict(list)
    for d in pools.values():
        for sh in list_shards(os.path.join(d, "docs")):
            for doc in read_shard(sh):
                docs[doc["source"]].append(doc)
    return docs


def test_shares_within_two_points(mixed):
    out, summary = mixed
    assert summary["unmet"] == []
    assert abs(summary["total_tokens"] - 100_000) < 2_000
    shares = summary["shares"]
    for dom, target in {"math": 0.4, "code": 0.3, "general": 0.3}.items():
        assert abs(shares["domain"][dom]["realized"] - target) <= 0.02, (dom, shares["domain"][dom])
    assert abs(shares["pool"]["synthetic"]["realized"] - 0.1) <= 0.02
    # epoch caps hold
    for src, e in summary["epochs_per_source"].items():
        assert e <= 4.0 + 1e-9, src


def test_outputs_and_blend(mixed):
    out, summary = mixed
    for f in ("blend.json", "report.json", "report.html"):
        assert os.path.exists(os.path.join(out, f)), f
    assert not [n for n in os.listdir(out) if ".tmp" in n or n.startswith(".")]
    blend = json.load(open(os.path.join(out, "blend.json")))
    assert blend["context_length"] == 8192 and blend["tokenizer"]["eod_id"] == 0
    prefixes = [d["prefix"] for d in blend["datasets"]]
    assert sorted(prefixes) == prefixes and all(p.startswith("shards/") for p in prefixes)
    parts = blend["data_path"].split()
    assert parts[1::2] == prefixes
    assert abs(sum(float(w) for w in parts[0::2]) - 1.0) < 1e-6
    assert {d["source"] for d in blend["datasets"]} == {"cc", "arxiv", "gh", "synth-math"}
    assert sum(d["tokens"] for d in blend["datasets"]) == summary["total_tokens"]
    for d in blend["datasets"]:
        ds = IndexedDataset(os.path.join(out, d["prefix"]))
        assert ds.num_tokens == d["tokens"] and len(ds) == d["docs"]
    rep = json.load(open(os.path.join(out, "report.json")))
    assert rep["summary"]["tokens_per_source"] == summary["tokens_per_source"]
    assert set(rep["examples"]) == {"cc", "arxiv", "gh", "synth-math"}  # example documents per source


def test_megatron_reads_same_tokens(mixed, pools):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mid = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    out, _ = mixed
    blend = json.load(open(os.path.join(out, "blend.json")))
    tok = DocTokenizer()
    docs = _docs_by_source(pools)
    for d in blend["datasets"]:
        expected = {tuple(a.tolist()) for a in tok.encode([x["text"] for x in docs[d["source"]]])}
        theirs = mid.IndexedDataset(os.path.join(out, d["prefix"]))
        ours = IndexedDataset(os.path.join(out, d["prefix"]))
        assert len(theirs) == len(ours) == d["docs"]
        for i in range(len(ours)):
            seq = theirs[i]
            assert np.array_equal(seq, ours[i])
            assert seq[-1] == 0  # EOD closes every document
            assert tuple(seq.tolist()) in expected


def test_deterministic_across_runners(pools, mixed, tmp_path):
    out, _ = mixed
    out2 = str(tmp_path / "again")
    run_mix(_cfg(), pools, out2, ["--direct_running_mode=multi_processing", "--direct_num_workers=2"], [],
            log=lambda m: None)
    a, b = _tree_digest(out), _tree_digest(out2)
    assert a and a.keys() == b.keys()
    assert a == b  # shards, blend.json and report included: nothing depends on the output path
    assert "data_path_abs" not in json.load(open(os.path.join(out, "blend.json")))


def test_unmet_target_is_reported_and_redistributed(pools, tmp_path):
    out = str(tmp_path / "capped")
    s = run_mix(_cfg(source_max_epochs={"gh": 1.0}), pools, out, [], [], log=lambda m: None)
    unmet = {(u["dimension"], u["group"]) for u in s["unmet"]}
    assert ("domain", "code") in unmet
    assert s["epochs_per_source"]["gh"] <= 1.0 + 1e-9
    assert s["shares"]["domain"]["code"]["realized"] < 0.2
    assert abs(s["total_tokens"] - 100_000) < 2_000  # redistribute keeps the budget
    # shrink keeps the shares and lowers the budget instead
    out = str(tmp_path / "shrunk")
    s = run_mix(_cfg(source_max_epochs={"gh": 1.0}, on_shortfall="shrink"), pools, out, [], [], log=lambda m: None)
    assert s["total_tokens"] < 50_000
    assert abs(s["shares"]["domain"]["code"]["realized"] - 0.3) <= 0.02
    assert any(u["dimension"] == "total" for u in s["unmet"])
    html = open(os.path.join(out, "report.html")).read()
    assert "Not met: total" in html


def test_size_cap_shards_and_min_quality(pools, tmp_path):
    out = str(tmp_path / "small")
    s = run_mix(_cfg(shard_max_bytes=20_000, min_quality=0.3), pools, out, [], [], log=lambda m: None)
    blend = json.load(open(os.path.join(out, "blend.json")))
    cc = [d for d in blend["datasets"] if d["source"] == "cc"]
    assert len(cc) > 1
    assert [d["prefix"] for d in cc] == [f"shards/cc/cc_{i:05d}" for i in range(len(cc))]
    for d in blend["datasets"]:
        assert os.path.getsize(os.path.join(out, d["prefix"] + ".bin")) <= 20_000
    rep = json.load(open(os.path.join(out, "report.json")))
    dropped = sum(src["dropped"].get("below_min_quality", 0) for src in rep["sources"])
    n_low = sum(1 for docs in _docs_by_source(pools).values() for d in docs if d["scores"]["fasttext_quality"] < 0.3)
    assert dropped == n_low > 0
    mixstep = [r for r in rep["steps"] if r["step"] == "mix"][0]
    assert mixstep["in"] == mixstep["out"] + mixstep["rejected"]


def _shard_docs(out, blend, source):
    seqs = []
    for d in blend["datasets"]:
        if d["source"] == source:
            ds = IndexedDataset(os.path.join(out, d["prefix"]))
            seqs += [tuple(ds[i].tolist()) for i in range(len(ds))]
    return seqs


def test_shards_hold_planned_copies_in_order_hash_order(pools, tmp_path):
    """Recompute each source's shards from the plan in report.json: copies per document, groups
    by order hash modulo the group count, each group sorted by (order, pool, id, copy) and, for
    ids that repeat (the test pools have some), by input position (shard number, row)."""
    from curate.mixtures import sampler as S

    cap = 20_000
    out = str(tmp_path / "ordered")
    run_mix(_cfg(shard_max_bytes=cap), pools, out, [], [], log=lambda m: None)
    blend = json.load(open(os.path.join(out, "blend.json")))
    rep = json.load(open(os.path.join(out, "report.json")))
    seed = blend["seed"]
    cells = {(c["pool"], c["source"], c["domain"]): c for c in rep["cells"]}
    planned = collections.Counter()
    for c in cells.values():
        planned[c["source"]] += c["planned"]
    groups = {s: -(-t * 2 // cap) for s, t in planned.items() if t}
    assert max(groups.values()) > 1  # the test covers several groups per source
    entries = collections.defaultdict(list)
    shards = [(pool, sh) for pool in sorted(pools) for sh in list_shards(os.path.join(pools[pool], "docs"))]
    ids = collections.Counter()
    for src, (pool, sh) in enumerate(shards):
        for row, doc in enumerate(read_shard(sh)):
            ids[(pool, doc["id"])] += 1
            cell = cells[(pool, doc["source"], doc["domain"] or "general")]
            for k in range(S.copies(cell, S.bucket_of(S.doc_hash(seed, pool, doc["id"])))):
                order = S.doc_hash(seed, pool, doc["id"], salt=f"order{k}")
                entries[(doc["source"], order % groups[doc["source"]])].append((order, pool, doc["id"], k, src, row, doc["text"]))
    assert max(ids.values()) > 1
    tok = DocTokenizer()
    for source, g_count in groups.items():
        texts = [e[6] for g in range(g_count) for e in sorted(entries[(source, g)])]
        expected = [tuple(a.tolist()) for a in tok.encode(texts)]
        assert _shard_docs(out, blend, source) == expected, source
    for d in blend["datasets"]:
        assert os.path.getsize(os.path.join(out, d["prefix"] + ".bin")) <= cap


def test_tiny_spool_batches_and_few_open_spools_change_nothing(pools, mixed, tmp_path, monkeypatch):
    """Index files in many small Arrow batches and a writer that reopens spools give the same bytes."""
    from curate.mixtures import spool as M

    monkeypatch.setattr(M, "INDEX_ROWS", 7)
    monkeypatch.setattr(M, "OPEN_SPOOLS", 1)
    out2 = str(tmp_path / "tiny")
    run_mix(_cfg(), pools, out2, [], [], log=lambda m: None)
    assert _tree_digest(mixed[0]) == _tree_digest(out2)


def test_all_documents_dropped(pools, tmp_path):
    out = str(tmp_path / "none")
    s = run_mix(_cfg(min_quality=2.0), pools, out, [], [], log=lambda m: None)
    assert s["total_tokens"] == 0
    blend = json.load(open(os.path.join(out, "blend.json")))
    assert blend["datasets"] == []
    rep = json.load(open(os.path.join(out, "report.json")))
    n_docs = sum(len(v) for v in _docs_by_source(pools).values())
    assert sum(sum(src["dropped"].values()) for src in rep["sources"]) == n_docs
    assert not [n for n in os.listdir(out) if n.startswith(".")]


def test_mix_is_a_step_committed_and_reused_like_every_step(pools, mixed, tmp_path):
    """The mix runs through the one step runner: its output (shards, blend.json, plan, report
    parts) is a committed step directory with a checksummed manifest, reused by the next run
    and published into the stage output with the same bytes."""
    from curate.io import checksums
    from curate.pipelines.runner import MANIFEST, load_manifest

    out, summary = mixed
    m = load_manifest(summary["dir"])
    assert m["step"] == "mix" and m["key"] == summary["key"] and summary["reused"] is False
    assert not checksums.problems(summary["dir"], m["outputs"], "checksums", exclude=(MANIFEST,))
    assert {"blend.json", "plan.json", "parts.json"} <= set(m["outputs"])
    c = m["counts"]["mix"]
    assert c["in"] == c["out"] + c["rejected"] and c["out"] > 0
    lines = []
    again = run_mix(_cfg(), pools, str(tmp_path / "elsewhere"), [], [], log=lines.append,
                    cache_dir=os.path.dirname(summary["dir"]))
    assert again["reused"] is True and any("reusing" in ln for ln in lines)
    assert _tree_digest(out) == _tree_digest(str(tmp_path / "elsewhere"))


def test_tokenizer_engine_changes_neither_the_key_nor_the_shards(pools, mixed, tmp_path):
    out, summary = mixed
    lines = []
    hf = run_mix(_cfg(tokenizer_engine="tokenizers"), pools, str(tmp_path / "hf"), [], [], log=lines.append)
    assert any("token ids by tokenizers" in ln for ln in lines)
    assert hf["key"] == summary["key"] and hf["reused"] is False

    def shards(d):
        return {k: v for k, v in _tree_digest(d).items() if not k.startswith("report")}

    a, b = shards(out), shards(str(tmp_path / "hf"))
    assert any(k.endswith(".bin") for k in a) and a == b
    fast = []
    run_mix(_cfg(), pools, str(tmp_path / "fast"), [], [], log=fast.append)
    assert any("token ids by tiktoken" in ln for ln in fast)
