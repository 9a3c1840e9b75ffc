"""The Deduplicate step end to end: survivors, rejects, dup_cluster, stats, runner independence."""

import random

import apache_beam as beam
import pytest

from curate.dedup.components import node_key
from curate.dedup.config import DedupConfig
from curate.dedup.normalize import exact_hash
from curate.pipelines.dedup import Deduplicate
from curate.io.doc_shards import list_shards, read_shard
from curate.pipelines.runner import Counted, StepGraph, run_step
from curate.schema import new_document

VOCAB = [f"w{i}" for i in range(4000)]


def _doc(uri, text, **kw):
    return new_document(source="t", uri=uri, format="text", text=text, **kw)


def _edit(words, r, n):
    w = list(words)
    for _ in range(n):
        w[r.randrange(len(w))] = r.choice(VOCAB)
    return w


def corpus(seed=0, groups=30):
    """Bases with exact copies (case/whitespace changed) and near copies (a few words replaced)."""
    r = random.Random(seed)
    docs, truth = [], {}  # truth: uri → base uri of its group
    for g in range(groups):
        base = [r.choice(VOCAB) for _ in range(r.randint(300, 500))]
        docs.append(_doc(f"b{g}", " ".join(base)))
        truth[f"b{g}"] = f"b{g}"
        for k in range(g % 4):
            docs.append(_doc(f"b{g}-near{k}", " ".join(_edit(base, r, 1))))
            truth[f"b{g}-near{k}"] = f"b{g}"
        if g % 3 == 0:
            docs.append(_doc(f"b{g}-exact", " ".join(base).upper().replace(" ", " \t ")))
            truth[f"b{g}-exact"] = f"b{g}"
    docs.append(_doc("empty1", " .. "))
    docs.append(_doc("empty2", ""))
    truth["empty1"], truth["empty2"] = "empty1", "empty2"
    r.shuffle(docs)
    return docs, truth


def run(tmp_path, docs, cfg, beam_args=(), quality_key=None, name="out"):
    def build(p):
        inp = p | beam.Create(docs)
        res = inp | Deduplicate(cfg, quality_key=quality_key)
        return StepGraph([Counted("dedup", inp, res["docs"], res["rejects"])], res["docs"], res["rejects"], res["stats"])

    out, manifest = run_step("dedup", "k", str(tmp_path / name), build, list(beam_args), 2, log=lambda _: None)
    kept = [x for s in list_shards(f"{out}/docs") for x in read_shard(s)]
    rejects = [x for s in list_shards(f"{out}/rejects") for x in read_shard(s)]
    return kept, rejects, manifest


def test_dedup_keeps_one_per_cluster_with_reasons_and_clusters(tmp_path):
    docs, truth = corpus()
    kept, rejects, manifest = run(tmp_path, docs, DedupConfig())
    by_id = {d["id"]: d for d in docs}
    uri = {d["id"]: d["uri"] for d in docs}
    assert len(kept) + len(rejects) == len(docs)
    assert manifest["counts"]["dedup"]["in"] == len(docs)
    # Exactly one kept document per planted group, and it is the group's best by the rule.
    groups = {}
    for d in docs:
        groups.setdefault(truth[d["uri"]], []).append(d)
    kept_groups = sorted(truth[d["uri"]] for d in kept)
    assert kept_groups == sorted(groups)
    for d in kept:
        members = groups[truth[d["uri"]]]
        assert d["id"] == min(members, key=lambda x: node_key(x))["id"]
        assert d["dup_cluster"] == (d["id"] if len(members) > 1 else None)
    kept_of = {truth[d["uri"]]: d["id"] for d in kept}
    for r in rejects:
        assert r["step"] == "dedup"
        assert r["dup_cluster"] == kept_of[truth[r["uri"]]]
        if any(exact_hash(r["text"]) == exact_hash(d["text"]) for d in kept):
            assert r["reason"] == "dedup:exact"
            assert truth[uri[r["detail"]]] == truth[r["uri"]]
            assert exact_hash(by_id[r["detail"]]["text"]) == exact_hash(r["text"])  # the identical-text survivor
        else:
            assert r["reason"] == "dedup:minhash" and r["detail"] == r["dup_cluster"]
        assert r["text"] == by_id[r["id"]]["text"]
    assert {d["uri"] for d in kept} >= {"empty1", "empty2"}  # nothing to compare: passed on

    st = manifest["stats"]["clusters"]
    sizes = sorted(len(m) for m in groups.values() if len(m) > 1)
    assert st["clusters"] == len(sizes) and st["removed"] == len(rejects)
    assert st["size_histogram"] == [{"size": s, "clusters": sizes.count(s)} for s in sorted(set(sizes))]
    assert st["largest"][0]["size"] == max(sizes)
    assert st["largest"] == sorted(st["largest"], key=lambda x: (-x["size"], x["id"]))
    assert st["params"]["bands"] == 12 and st["params"]["rows"] == 10 and st["params"]["num_perm"] == 128
    assert st["params"]["threshold"] == 0.8 and st["cc_converged"] is True
    assert st["verified_edges"] <= st["candidate_edges"]


def test_quality_key_picks_survivor_and_switches(tmp_path):
    r = random.Random(5)
    base = [r.choice(VOCAB) for _ in range(200)]
    a = _doc("a", " ".join(base) + " extra words here", scores={"q": 0.1})
    b = _doc("b", " ".join(_edit(base, r, 1)), scores={"q": 0.9})
    c = _doc("c", " ".join(_edit(base, r, 1)))
    kept, rejects, _ = run(tmp_path, [a, b, c], DedupConfig(), quality_key="q")
    assert [d["uri"] for d in kept] == ["b"]
    assert {x["uri"]: x["detail"] for x in rejects} == {"a": b["id"], "c": b["id"]}
    kept, _, _ = run(tmp_path, [a, b, c], DedupConfig(), name="noq")
    assert [d["uri"] for d in kept] == ["a"]  # no quality key: the longest


def test_exact_only_and_minhash_only(tmp_path):
    docs, _ = corpus(seed=2, groups=12)
    kept, rejects, m = run(tmp_path, docs, DedupConfig(minhash=False), name="ex")
    assert {x["reason"] for x in rejects} == {"dedup:exact"}
    assert m["stats"]["clusters"]["candidate_edges"] == 0
    kept2, rejects2, _ = run(tmp_path, docs, DedupConfig(exact=False), name="mh")
    # Without the exact pass, MinHash still finds the exact copies (their shingles are equal).
    assert {x["reason"] for x in rejects2} == {"dedup:minhash"}
    assert sorted(d["id"] for d in kept2) == sorted(d["id"] for d in run(tmp_path, docs, DedupConfig(), name="both")[0])


def test_unconverged_components_fail_clearly(tmp_path):
    # A chain: each document shifts a window of words; neighbours are near-duplicates, others not.
    r = random.Random(9)
    words = [r.choice(VOCAB) for _ in range(3000)]
    docs = [_doc(f"c{i}", " ".join(words[i * 12: i * 12 + 400])) for i in range(40)]
    with pytest.raises(Exception, match="cc_rounds"):
        run(tmp_path, docs, DedupConfig(cc_rounds=1), name="bad")
    kept, rejects, m = run(tmp_path, docs, DedupConfig(cc_rounds=10), name="good")
    assert len(kept) + len(rejects) == 40 and m["stats"]["clusters"]["cc_converged"]
    assert m["stats"]["clusters"]["largest"][0]["size"] > 5  # the chain became one long cluster


def test_same_clusters_in_process_and_multi_processing(tmp_path):
    docs, _ = corpus(seed=4, groups=25)
    cfg = DedupConfig(buckets=7, batch_size=16)
    a = run(tmp_path, docs, cfg, name="inproc")
    b = run(tmp_path, docs, cfg, ["--direct_running_mode=multi_processing", "--direct_num_workers=2"], name="mp")
    key = lambda recs: sorted((x["id"], x["dup_cluster"], x.get("reason"), x.get("detail")) for x in recs)
    assert key(a[0]) == key(b[0]) and key(a[1]) == key(b[1])
    assert len(a[1]) > 10
    assert a[2]["stats"] == b[2]["stats"]


def _write_pool(directory, docs, shards=3):
    import pyarrow.parquet as pq

    from curate.schema import to_table

    directory.mkdir(parents=True)
    for s in range(shards):
        pq.write_table(to_table(docs[s::shards]), str(directory / f"part-{s:05d}-of-{shards:05d}.parquet"))
    return str(directory)


def test_reread_of_parquet_shards_gives_the_same_result(tmp_path):
    """Decisions from a first read, applied to a second read of the shards; identical records keep one."""
    from curate.pipelines.shards import ReadShards

    docs, _ = corpus(seed=6, groups=20)
    twice = next(d for d in docs if d["uri"] == "b4")  # no duplicate, but the very same record twice
    docs = docs + [dict(twice)]
    pool = _write_pool(tmp_path / "pool", docs)
    temp = tmp_path / "temp"
    temp.mkdir()

    def build(p):
        inp = p | "Read" >> ReadShards([pool])
        res = inp | Deduplicate(DedupConfig(buckets=32, batch_size=16), reread=ReadShards([pool]))
        return StepGraph([Counted("dedup", inp, res["docs"], res["rejects"])], res["docs"], res["rejects"], res["stats"])

    out, m = run_step("dedup", "k", str(tmp_path / "reread"), build, [f"--temp_location={temp}"], 2, log=lambda _: None)
    kept = [x for s in list_shards(f"{out}/docs") for x in read_shard(s)]
    rejects = [x for s in list_shards(f"{out}/rejects") for x in read_shard(s)]
    ref = run(tmp_path, docs, DedupConfig(buckets=32, batch_size=16), name="create")
    key = lambda recs: sorted((x["id"], x["dup_cluster"], x.get("reason"), x.get("detail")) for x in recs)
    assert key(kept) == key(ref[0]) and key(rejects) == key(ref[1])
    assert m["stats"] == ref[2]["stats"] and m["counts"]["dedup"]["in"] == len(docs)
    i = twice["id"]  # one copy is kept, the other is an exact duplicate of it
    assert [x["dup_cluster"] for x in kept if x["id"] == i] == [i]
    assert [(x["reason"], x["detail"], x["dup_cluster"]) for x in rejects if x["id"] == i] == [("dedup:exact", i, i)]
    assert len(kept) + len(rejects) == len(docs) and len(rejects) > 10
    assert list(temp.iterdir()) == []  # spool files and their folder are gone


def test_the_spool_folder_is_removed_once_the_run_is_over(tmp_path, monkeypatch):
    """The spool folder and its files go once the run is over."""
    import tempfile

    spools = tmp_path / "tmp"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    docs, _ = corpus(groups=10)
    kept, rejects, _ = run(tmp_path, docs, DedupConfig(buckets=8, batch_size=8))
    assert len(kept) + len(rejects) == len(docs)
    assert not [p.name for p in spools.iterdir() if p.name.startswith("curate-dedup-")]


def test_a_scratch_folder_still_in_use_is_tried_again_and_never_fails_the_run(tmp_path, monkeypatch):
    """Seen once on the Dask runner: the folder was not empty yet when the clean-up ran."""
    from apache_beam.io.filesystem import BeamIOError
    from apache_beam.io.filesystems import FileSystems

    from curate.pipelines import scratch

    monkeypatch.setattr(scratch.time, "sleep", lambda s: None)
    busy = tmp_path / "busy"
    busy.mkdir()
    real, calls = FileSystems.delete, []

    def flaky(paths):
        calls.append(paths)
        if len(calls) < 3:
            raise BeamIOError("Delete operation failed", {paths[0]: OSError(39, "Directory not empty")})
        return real(paths)

    monkeypatch.setattr(FileSystems, "delete", flaky)
    scratch.remove(str(busy))
    assert len(calls) == 3 and not busy.exists()
    stuck = tmp_path / "stuck"
    stuck.mkdir()
    monkeypatch.setattr(FileSystems, "delete", lambda paths: (_ for _ in ()).throw(OSError(39, "not empty")))
    scratch.remove(str(stuck))  # left behind, logged, no exception
    assert stuck.exists()


def test_a_spool_reader_run_twice_reads_the_same_rows(tmp_path):
    """Dask runs a task at least once (seen: a second run of a node-spool reader found its file
    gone, FileNotFoundError); Dataflow and Spark retry bundles. Readers leave the files to the
    clean-up at the end, so a second run of one reads what the first read."""
    from apache_beam.utils.windowed_value import WindowedValue

    from curate.pipelines.dedup import _SpoolRecords, read_spools

    docs, _ = corpus(groups=5)
    fn = _SpoolRecords(DedupConfig(buckets=8), None, str(tmp_path))
    fn.setup()
    fn.start_bundle()
    fn.process(docs)
    out = [o for o in fn.finish_bundle()]
    paths = [o.value.value[1] if isinstance(o.value, WindowedValue) else o.value[1] for o in out]
    assert {p.split("/")[-1].split("-")[0] for p in paths} == {"exact", "bands", "nodes"}
    first = [read_spools([p]) for p in paths]
    second = [read_spools([p]) for p in paths]
    assert all(a is not None and a.num_rows > 0 and a.equals(b) for a, b in zip(first, second))


def test_no_task_of_the_graph_removes_what_a_reader_reads(tmp_path, monkeypatch):
    """Seen in CI on the Dask runner: a node-spool reader found its file gone
    (FileNotFoundError). Dask computes a task again when its result is lost (with a worker, or a
    transfer that fails under load), and that can be after an in-graph "every reader is done"
    clean-up has run; Dataflow and Spark retry bundles. So when the graph has run, every spool
    file is still there for a reader run again; the driver removes the folder after the run."""
    import gc
    import tempfile

    from apache_beam.options.pipeline_options import PipelineOptions

    from curate.pipelines.dedup import read_spools
    from curate.pipelines.runner import pipeline

    spools = tmp_path / "tmp"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    docs, _ = corpus(groups=10)
    with beam.Pipeline(options=PipelineOptions(["--direct_running_mode=in_memory"])) as bare:
        _ = bare | beam.Create(docs) | Deduplicate(DedupConfig(buckets=8, batch_size=8))
    folders = [f for f in spools.iterdir() if f.name.startswith("curate-dedup-")]
    assert len(folders) == 1, folders
    found = sorted(folders[0].iterdir())
    assert {f.name.split("-")[0] for f in found} == {"exact", "bands", "nodes"}
    assert all(read_spools([str(f)]).num_rows > 0 for f in found)
    with pipeline(["--direct_running_mode=in_memory"]) as p:  # curate's runner: gone once the run is over
        _ = p | beam.Create(docs) | Deduplicate(DedupConfig(buckets=8, batch_size=8))
    assert [f.name for f in spools.iterdir() if f.name.startswith("curate-dedup-")] == [folders[0].name]
    del bare  # a pipeline run without curate's runner: its folder goes with the object
    gc.collect()
    assert not folders[0].exists()
