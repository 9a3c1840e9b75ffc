"""The step runner: count law, rejects with reasons, atomic commit, reuse, runner equivalence."""

import json
import os

import pytest

from curate.config import default_config
from curate.pipelines import steps
from curate.io.doc_shards import list_shards, read_shard
from curate.pipelines.runner import CountLawError, check_count_law, load_manifest
from curate.sample.generate import sample_sources

MP = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def _docs(d):
    return sorted((r["id"], r["text"]) for p in list_shards(os.path.join(d, "docs")) for r in read_shard(p))


def _extract(sample_dir, out, beam_args=(), extra_paths=()):
    cfg = default_config("stage2")
    srcs = sample_sources(str(sample_dir))
    srcs.append({"name": "bad", "paths": list(extra_paths), "format": "auto"}) if extra_paths else None
    return steps.extract_step(cfg, steps.source_items(srcs), str(out), str(out), list(beam_args), log=lambda m: None)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.html").write_bytes(b"")
    (d / "latin1.html").write_bytes(
        ("<html><head><meta charset='iso-8859-1'><title>Caf\xe9</title></head><body><article><p>"
         + "Le caf\xe9 du coin sert un excellent petit d\xe9jeuner tous les matins. " * 8
         + "</p></article></body></html>").encode("latin-1"))
    (d / "broken.jsonl").write_bytes(b'{"text": "' + b"word " * 60 + b'"}\n{oops\n')
    (d / "cut.warc.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    return [str(d / n) for n in ("empty.html", "latin1.html", "broken.jsonl", "cut.warc.gz")]


def test_extract_step_count_law_and_rejects(sample_dir, tmp_path, bad_inputs):
    out, m = _extract(sample_dir, tmp_path / "ex", extra_paths=bad_inputs)
    counts = m["counts"]
    for name in ("read", "extract"):
        c = counts[name]
        assert c["in"] == c["out"] + sum(c["rejects"].values()) and c["in"] > 0
    assert counts["read"]["out"] == counts["extract"]["in"]
    reasons = counts["read"]["rejects"]
    assert reasons.get("read:empty") == 1 and reasons.get("read:jsonl:bad_json") == 1
    assert any(r.startswith(("read:truncated", "read:warc", "error:read")) for r in reasons)
    rejects = [r for p in list_shards(os.path.join(out, "rejects")) for r in read_shard(p)]
    assert len(rejects) == counts["read"]["rejected"] + counts["extract"]["rejected"]
    assert all(r["reason"] and r["step"] in ("read", "extract") for r in rejects)
    docs = _docs(out)
    assert len(docs) == counts["extract"]["out"]
    assert any("café" in t for _, t in docs)  # latin-1 page decoded, kept beside the bad files


def test_reuse_and_partial_output_not_trusted(sample_dir, tmp_path):
    out = tmp_path / "ex"
    _, m1 = _extract(sample_dir, out)
    _, m2 = _extract(sample_dir, out)
    assert m2["reused"] and not m1["reused"]
    os.remove(out / "manifest.json")  # as if killed before the commit
    assert load_manifest(str(out)) is None
    _, m3 = _extract(sample_dir, out)
    assert not m3["reused"] and m3["counts"] == m1["counts"]


def test_multiprocessing_gives_same_documents_and_bytes(sample_dir, tmp_path):
    a, _ = _extract(sample_dir, tmp_path / "a")
    b, _ = _extract(sample_dir, tmp_path / "b", MP)
    assert _docs(a) == _docs(b)
    for name in sorted(os.listdir(os.path.join(a, "docs"))):
        assert open(os.path.join(a, "docs", name), "rb").read() == open(os.path.join(b, "docs", name), "rb").read()


def test_count_law_check_fails_loudly():
    with pytest.raises(CountLawError, match="dedup"):
        check_count_law({"dedup": {"in": 5, "out": 3, "rejected": 1, "rejects": {"dedup:exact": 1}}}, "step dedup")


def test_a_manifest_curate_did_not_write_is_named_and_rebuilt(sample_dir, tmp_path):
    """The manifest is a typed record (runner.StepManifest): one missing a field is never trusted;
    the runner rebuilds it with a line naming the file, and a command given it fails naming it."""
    from curate.errors import InputError
    from curate.pipelines.runner import MANIFEST

    out, m1 = _extract(sample_dir, tmp_path / "ex")
    path = os.path.join(out, MANIFEST)
    raw = json.load(open(path))
    del raw["outputs"]  # what an older curate wrote
    json.dump(raw, open(path, "w"))
    with pytest.raises(InputError, match="outputs"):
        steps.pool_keys([out])
    lines = []
    cfg = default_config("stage2")
    _, m2 = steps.extract_step(cfg, steps.source_items(sample_sources(str(sample_dir))), out, out, [], log=lines.append)
    assert m2["reused"] is False and any("damaged" in ln and MANIFEST in ln for ln in lines), lines
    assert load_manifest(out)["output_digest"] == m1["output_digest"]


def test_extraction_processes_change_neither_the_key_nor_the_bytes(sample_dir, tmp_path):
    from curate.pipelines.runner import processes_per_worker

    assert processes_per_worker([], 4) == 4
    assert processes_per_worker(["--direct_running_mode=multi_processing", "--direct_num_workers=2"], 4) == 2
    assert processes_per_worker(["--runner=DataflowRunner"], 16) == 1
    digests, keys = [], []
    for n in (1, 3):
        cfg = default_config("stage2")
        cfg.extract.processes = n
        out = tmp_path / f"p{n}"
        _, m = steps.extract_step(cfg, steps.source_items(sample_sources(str(sample_dir))), str(out), str(out), [],
                                  log=lambda m: None)
        digests.append(m["output_digest"])
        keys.append(m["key"])
    assert digests[0] == digests[1] and keys[0] == keys[1]


def test_construction_time_type_inference_is_off_unless_asked_for():
    """Beam infers each transform's output type from its bytecode as the graph is built
    (~5% of a small stage's CPU); curate's pipelines run with it off, a user's flag wins."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import TypeOptions

    from curate.pipelines.runner import pipeline

    seen = {}
    for args in ([], ["--pipeline_type_check"]):
        with pipeline(args) as p:
            pc = p | beam.Create([1, 2]) | beam.Map(lambda x: str(x))
            seen[bool(args)] = (p.options.view_as(TypeOptions).pipeline_type_check, pc.element_type)
    assert seen[False][0] is False and seen[False][1] in (None, beam.typehints.Any)
    assert seen[True] == (True, str)


def test_scratch_folders_go_when_the_run_is_over_even_a_failed_one(tmp_path):
    """A scratch folder lives through every task of the run and is removed after it, by the driver."""
    import apache_beam as beam

    from curate.pipelines import scratch
    from curate.pipelines.runner import pipeline

    seen = tmp_path / "seen"

    def look(_, path):
        seen.write_text(str(os.path.isdir(path)))

    with pipeline([f"--temp_location={tmp_path}"]) as p:
        path = scratch.folder(p, "t-")
        _ = p | beam.Create([0]) | beam.Map(look, path)
    assert seen.read_text() == "True" and path.startswith(str(tmp_path)) and not os.path.exists(path)

    def boom(_):
        raise ValueError("boom")

    with pytest.raises(Exception, match="boom"):
        with pipeline([f"--temp_location={tmp_path}"]) as p:
            path = scratch.folder(p, "t-")
            _ = p | beam.Create([0]) | beam.Map(boom)
    assert os.path.isdir(tmp_path) and not os.path.exists(path)


def test_no_wait_until_finish_is_refused_naming_the_flag():
    """With it Beam returns before the job ends: curate would read outputs not yet written and
    remove scratch folders the job still reads."""
    from curate.errors import ConfigError
    from curate.pipelines.runner import pipeline

    with pytest.raises(ConfigError, match="--no_wait_until_finish"):
        with pipeline(["--no_wait_until_finish"]):
            pass


def test_a_merge_that_died_mid_write_leaves_nothing_in_the_committed_step(tmp_path, monkeypatch):
    """A runner retries a shard merge whose worker died while writing (Dataflow retries the
    bundle, Dask computes it again); the dead attempt's half-written temporary stays beside the
    shards (a SIGKILL runs no clean-up of its own). The step's committed folder and manifest
    hold only what a clean run holds."""
    import apache_beam as beam
    import pyarrow.parquet as pq

    from curate.io import doc_shards
    from curate.pipelines import shards
    from curate.pipelines.runner import Counted, StepGraph, run_step
    from curate.schema import new_document

    docs = [new_document(source="s", uri=f"u{i}", format="text", text=f"text {i} " * 50) for i in range(300)]

    def build(p):
        inp = p | beam.Create(docs)
        none = p | "NoRejects" >> beam.Create([])
        return StepGraph([Counted("copy", inp, inp, none)], inp, none, {})

    clean, m_clean = run_step("copy", "k", str(tmp_path / "clean"), build, ["--direct_running_mode=in_memory"], 2,
                              log=lambda _: None)

    class Dies(pq.ParquetWriter):
        def write_table(self, *a, **k):
            super().write_table(*a, **k)
            raise OSError("worker lost mid-write")

    real = doc_shards.merge_runs

    def attempt_then_retry(*args):
        with monkeypatch.context() as m:
            m.setattr(doc_shards.pq, "ParquetWriter", Dies)
            m.setattr(doc_shards.FileSystems, "delete", lambda paths: None)  # killed: nothing of its own runs
            with pytest.raises(OSError):
                real(*args)
        return real(*args)

    monkeypatch.setattr(shards, "merge_runs", attempt_then_retry)
    retried, m_retried = run_step("copy", "k", str(tmp_path / "retried"), build, ["--direct_running_mode=in_memory"], 2,
                                  log=lambda _: None)
    assert sorted(os.listdir(os.path.join(retried, "docs"))) == sorted(os.listdir(os.path.join(clean, "docs")))
    assert m_retried["output_digest"] == m_clean["output_digest"]
