"""Same bytes anywhere, and a step cache that cannot lie (issue 15).

Every test starts from what was seen: results that depended on where files live, cached
steps reused after their inputs, code or data changed, and damaged step outputs read on.
"""

import glob
import hashlib
import json
import os
import shutil

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.config import default_config
from curate.io.inputs import plan_inputs, source_name, sources_from_args
from curate.pipelines.stages import run_stage
from curate.schema import from_table

QUIET = dict(log=lambda m: None)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A small input tree written by the project's own sample writer (HTML, WARC, PDF)."""
    from curate.sample.generate import write_sample

    d = tmp_path_factory.mktemp("tree") / "corpus"
    write_sample(str(d), seed=7)
    return d


def _cfg(**mix):
    cfg = default_config("stage2")
    cfg.mix.total_tokens = 20_000
    return cfg


def _ids(step_dir):
    out = []
    for f in sorted(glob.glob(os.path.join(step_dir, "docs", "*.parquet"))):
        out += [r["id"] for r in from_table(pq.read_table(f))]
    return sorted(out)


def _digest_tree(out):
    """sha256 of shards, blend.json and report.json of a stage output, by relative name."""
    got = {}
    for f in sorted(glob.glob(os.path.join(out, "shards", "**", "*"), recursive=True)) + [
            os.path.join(out, "blend.json"), os.path.join(out, "report.json")]:
        if os.path.isfile(f):
            got[os.path.relpath(f, out)] = hashlib.sha256(open(f, "rb").read()).hexdigest()
    return got


def _inputs(root):
    return [str(root / "web"), str(root / "crawl.warc.gz"), str(root / "pdf")]


def test_same_input_anywhere_gives_the_same_bytes(tree, tmp_path, monkeypatch):
    """One tree copied to two places, outputs in two other places: identical shards, blend,
    report and kept ids (was: 40,054 vs 39,980 tokens, 59 of 91 ids shared)."""
    a, b = tmp_path / "a" / "corpus", tmp_path / "elsewhere" / "deeper" / "corpus"
    shutil.copytree(tree, a)
    shutil.copytree(tree, b)
    runs = []
    for inp, out, cwd in ((a, tmp_path / "out1" / "stage2", tmp_path / "a"),
                          (b, tmp_path / "x" / "y" / "out2" / "stage2", tmp_path / "elsewhere")):
        monkeypatch.chdir(cwd)
        runs.append((out, run_stage(_cfg(), str(out), [], _inputs(inp), **QUIET)))
    (o1, m1), (o2, m2) = runs
    assert _digest_tree(o1) == _digest_tree(o2) and _digest_tree(o1)
    for s1, s2 in zip(m1["steps"], m2["steps"]):
        assert s1["step"] == s2["step"] and s1["key"] == s2["key"]
        assert _ids(s1["dir"]) == _ids(s2["dir"]) and _ids(s1["dir"])
    uris = [r["uri"] for f in glob.glob(os.path.join(m1["steps"][0]["dir"], "docs", "*.parquet"))
            for r in from_table(pq.read_table(f))]
    assert not any(str(tmp_path) in u or u.startswith("/") for u in uris)


def test_embedded_sample_has_the_same_ids_wherever_it_is_written(tmp_path):
    m1 = run_stage(_cfg(), str(tmp_path / "one" / "stage2"), [], None, **QUIET)
    m2 = run_stage(_cfg(), str(tmp_path / "two" / "three" / "stage2"), [], None, **QUIET)
    assert [s["key"] for s in m1["steps"]] == [s["key"] for s in m2["steps"]]
    assert _ids(m1["steps"][-1]["dir"]) == _ids(m2["steps"][-1]["dir"])
    assert _digest_tree(str(tmp_path / "one" / "stage2")) == _digest_tree(str(tmp_path / "two" / "three" / "stage2"))


def test_extract_and_run_name_a_source_alike(tree, tmp_path):
    web = str(tree / "web")
    out = tmp_path / "ex"
    r = CliRunner().invoke(cli, ["extract", web, "--output", str(out)])
    assert r.exit_code == 0, r.output
    m = run_stage(_cfg(), str(tmp_path / "run" / "stage2"), [], [web], **QUIET)
    assert _ids(str(out)) == _ids(m["steps"][0]["dir"])
    assert source_name(web) == source_name(web + "/") == "web"


def test_the_same_folder_given_twice_is_read_once(tree, monkeypatch):
    monkeypatch.chdir(tree.parent)
    files, skipped = plan_inputs(sources_from_args([str(tree / "web"), "corpus/web", "./corpus/web/"]))
    names = [f.name for f in files]
    assert len(names) == len(set(names)) == len(glob.glob(str(tree / "web" / "*")))
    assert len(skipped) == 2 * len(names) and all("already read" in k.reason for k in skipped)
    assert {f.source for f in files} == {"web"}


def test_input_names_do_not_depend_on_the_spelling_of_the_path(tree, monkeypatch):
    monkeypatch.chdir(tree)
    rel = plan_inputs(sources_from_args(["web"]))[0]
    absolute = plan_inputs(sources_from_args([str(tree / "web")]))[0]
    assert [f.name for f in rel] == [f.name for f in absolute]
    assert all(f.name.startswith("web/") for f in rel)


def _log():
    lines = []
    return lines, dict(log=lines.append)


def test_input_edited_past_its_first_mib_is_not_reused(tmp_path):
    """Was: a key from path, size and the first MiB reused the old output."""
    d = tmp_path / "in"
    d.mkdir()
    page = "<html><body><article><p>" + "Words of a long page. " * 60_000 + "</p><p>{}</p></article></body></html>"
    (d / "p.html").write_text(page.format("The ending says one thing and then another thing."))
    cfg = _cfg()
    m1 = run_stage(cfg, str(tmp_path / "o" / "stage2"), [], [str(d)], **QUIET)
    (d / "p.html").write_text(page.format("The ending says one THING and then another THING."))  # same length
    lines, log = _log()
    m2 = run_stage(cfg, str(tmp_path / "o" / "stage2"), [], [str(d)], **log)
    assert m1["steps"][0]["key"] != m2["steps"][0]["key"]
    assert not any("reusing" in ln for ln in lines if ln.startswith("[extract]"))


def test_a_code_change_means_new_step_keys(tmp_path, monkeypatch):
    from curate.pipelines import runner as step

    cfg = _cfg()
    m1 = run_stage(cfg, str(tmp_path / "o" / "stage2"), [], None, **QUIET)
    monkeypatch.setattr(step, "_code_digest", "0" * 64)  # what a changed line of curate would do
    lines, log = _log()
    m2 = run_stage(cfg, str(tmp_path / "o" / "stage2"), [], None, **log)
    assert all(a["key"] != b["key"] for a, b in zip(m1["steps"], m2["steps"]))
    assert not any("reusing" in ln for ln in lines)


def test_code_digest_covers_every_module():
    import importlib.util

    from curate.pipelines import runner as step

    n = 0
    for pkg in step._PACKAGES:
        for root in importlib.util.find_spec(pkg).submodule_search_locations:
            n += len(glob.glob(os.path.join(root, "*.py")))
    assert n > 60
    assert step.code_digest() == step.code_digest() and len(step.code_digest()) == 64


@pytest.fixture()
def cached(tmp_path):
    """A finished stage-2 run on the embedded sample: (cfg, output, manifest)."""
    cfg = _cfg()
    out = str(tmp_path / "o" / "stage2")
    return cfg, out, run_stage(cfg, out, [], None, **QUIET)


def _step(m, name):
    return next(s for s in m["steps"] if s["step"] == name)


def test_deleted_shard_of_a_cached_step_is_rebuilt_not_read_around(cached):
    """Was: extract out 2,878, dedup in 2,534, exit 0."""
    cfg, out, m1 = cached
    ext = _step(m1, "extract")["dir"]
    victim = sorted(glob.glob(os.path.join(ext, "docs", "*.parquet")))[1]
    os.remove(victim)
    lines, log = _log()
    m2 = run_stage(cfg, out, [], None, **log)
    assert any("[extract]" in ln and "damaged" in ln and os.path.basename(victim) in ln for ln in lines), lines
    assert _step(m2, "extract")["counts"]["extract"]["out"] == _step(m2, "dedup")["counts"]["dedup"]["in"]
    assert _step(m2, "dedup")["counts"] == _step(m1, "dedup")["counts"]
    assert os.path.exists(victim)


def test_duplicated_or_truncated_filter_shard_is_caught(cached):
    cfg, out, m1 = cached
    flt = _step(m1, "filter")["dir"]
    shards = sorted(glob.glob(os.path.join(flt, "docs", "*.parquet")))
    shutil.copy(shards[0], os.path.join(flt, "docs", "part-00000-of-00008 copy.parquet"))
    with open(shards[2], "r+b") as f:
        f.truncate(os.path.getsize(shards[2]) // 2)
    lines, log = _log()
    m2 = run_stage(cfg, out, [], None, **log)
    assert any("[filter]" in ln and "damaged" in ln for ln in lines), lines
    assert _step(m2, "filter")["counts"] == _step(m1, "filter")["counts"]
    assert json.load(open(os.path.join(out, "report.json")))["summary"]["total_tokens"] == m1["mix"]["total_tokens"]


def test_damaged_step_given_to_a_command_is_an_error_naming_the_file(cached, tmp_path):
    _, _, m1 = cached
    ext = _step(m1, "extract")["dir"]
    victim = sorted(glob.glob(os.path.join(ext, "docs", "*.parquet")))[0]
    with open(victim, "r+b") as f:
        f.truncate(100)
    r = CliRunner().invoke(cli, ["dedup", ext, "--output", str(tmp_path / "dd")])
    assert r.exit_code != 0
    assert os.path.basename(victim) in r.output and "damaged" in r.output


def test_a_stray_shard_is_an_error_naming_the_directory(cached):
    from curate.io.doc_shards import ShardError, list_shards

    _, _, m1 = cached
    docs = os.path.join(_step(m1, "dedup")["dir"], "docs")
    first = sorted(glob.glob(os.path.join(docs, "*.parquet")))[0]
    shutil.copy(first, os.path.join(docs, "part-00000-of-00009.parquet"))
    with pytest.raises(ShardError, match="different sets"):
        list_shards(docs)


def test_a_changed_upstream_output_invalidates_the_steps_after_it(cached):
    """Was: rebuilding a damaged step kept the later steps' keys."""
    from curate.io import checksums
    from curate.pipelines.runner import MANIFEST

    cfg, out, m1 = cached
    ext = _step(m1, "extract")["dir"]
    shard = sorted(glob.glob(os.path.join(ext, "docs", "*.parquet")))[0]
    t = pq.read_table(shard)
    pq.write_table(t.slice(0, max(0, t.num_rows - 1)), shard)  # a rebuild that came out different
    man = json.load(open(os.path.join(ext, MANIFEST)))
    man["outputs"] = checksums.describe(ext, exclude=(MANIFEST,))
    man["output_digest"] = checksums.digest(man["outputs"])
    with open(os.path.join(ext, MANIFEST), "w") as f:
        json.dump(man, f)
    lines, log = _log()
    m2 = run_stage(cfg, out, [], None, **log)
    assert _step(m2, "extract")["key"] == _step(m1, "extract")["key"]
    assert _step(m2, "dedup")["key"] != _step(m1, "dedup")["key"]
    assert _step(m2, "filter")["key"] != _step(m1, "filter")["key"]


def test_count_law_equals_the_parquet_rows(cached):
    _, _, m1 = cached
    for s in m1["steps"]:
        docs = sum(pq.ParquetFile(f).metadata.num_rows for f in glob.glob(os.path.join(s["dir"], "docs", "*.parquet")))
        rejects = sum(pq.ParquetFile(f).metadata.num_rows for f in glob.glob(os.path.join(s["dir"], "rejects", "*.parquet")))
        counts = list(s["counts"].values())
        assert s["counts"][s["step"]]["out"] == docs  # the step's last part writes its documents
        assert sum(c["rejected"] for c in counts) == rejects
        for c in counts:
            assert c["in"] == c["out"] + c["rejected"] == c["out"] + sum(c["rejects"].values())


def test_same_bytes_in_process_and_multi_processing_in_two_places(tree, tmp_path):
    a, b = tmp_path / "a" / "corpus", tmp_path / "b" / "c" / "corpus"
    shutil.copytree(tree, a)
    shutil.copytree(tree, b)
    m1 = run_stage(_cfg(), str(tmp_path / "o1" / "stage2"), [], _inputs(a), **QUIET)
    m2 = run_stage(_cfg(), str(tmp_path / "o2" / "stage2"),
                   ["--direct_running_mode=multi_processing", "--direct_num_workers=2"], _inputs(b), **QUIET)
    assert _digest_tree(str(tmp_path / "o1" / "stage2")) == _digest_tree(str(tmp_path / "o2" / "stage2"))
    assert [_ids(s["dir"]) for s in m1["steps"]] == [_ids(s["dir"]) for s in m2["steps"]]


def test_a_killed_mix_leaves_nothing_behind_after_the_next_run(cached):
    """Was: out/.mix-tmp-* stayed forever (8 of 8 kills)."""
    cfg, out, _ = cached
    left = os.path.join(out, ".mix.tmp-deadbeef")
    os.makedirs(os.path.join(left, "spool"))
    open(os.path.join(left, "spool", "x.arrow"), "wb").write(b"half written")
    lines, log = _log()
    run_stage(cfg, out, [], None, **log)
    assert not os.path.exists(left)
    assert not [e for e in os.listdir(out) if ".tmp-" in e]
    assert any("interrupted run" in ln for ln in lines)


def test_write_atomic_replaces_without_a_moment_of_absence(tmp_path, monkeypatch):
    """Was: the old file was deleted before the rename."""
    from apache_beam.io.filesystems import FileSystems

    from curate.io import files

    target = tmp_path / "blend.json"
    target.write_bytes(b"old")

    def no_delete(paths):
        raise AssertionError(f"deleted {paths} before the new file was in place")

    monkeypatch.setattr(FileSystems, "delete", no_delete)
    files.write_atomic(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["blend.json"]
