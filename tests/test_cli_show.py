"""`curate show` (documents and rejects of a step output) and `curate report --json / --absolute`,
on a real `curate run stage2` output."""

import json
import os

import pytest
from click.testing import CliRunner

from curate.cli import cli


def _step_dir(manifest, step):
    return next(s["dir"] for s in manifest["steps"] if s["step"] == step)


def _records(directory, kind):
    from curate.io.doc_shards import list_shards, read_shard

    return [r for p in list_shards(os.path.join(directory, kind)) for r in read_shard(p)]


def _show(*args):
    return CliRunner().invoke(cli, ["show", *map(str, args)])


def _shown_ids(output):
    return [line.split()[1] for line in output.splitlines() if line.startswith("id ")]


def test_show_documents_with_fields_and_text(stage2_run):
    _, manifest = stage2_run
    d = _step_dir(manifest, "filter")
    docs = _records(d, "docs")
    r = _show(d, "-n", 3)
    assert r.exit_code == 0, r.output
    ids = _shown_ids(r.output)
    assert ids == [x["id"] for x in docs[:3]]  # in shard order, -n limits
    first = docs[0]
    for value in (first["source"], first["uri"], str(first["lang"]), str(first["domain"])):
        assert value in r.output
    for name in first["scores"]:
        assert name in r.output
    assert first["text"][:60].splitlines()[0] in r.output
    assert "reason" not in r.output


def test_show_cuts_text_at_about_800_characters(stage2_run):
    _, manifest = stage2_run
    d = _step_dir(manifest, "filter")
    long_doc = next(x for x in _records(d, "docs") if len(x["text"]) > 2000)
    r = _show(d, "-n", 0, "--source", long_doc["source"])
    assert r.exit_code == 0, r.output
    block = r.output.split(f"id {long_doc['id']}")[1].split("\nid ")[0]
    assert long_doc["text"][:700] in block
    assert long_doc["text"][900:1400] not in block
    assert f"{len(long_doc['text']) - 800:,} more characters" in block


def test_show_filters_by_source(stage2_run):
    _, manifest = stage2_run
    d = _step_dir(manifest, "filter")
    docs = _records(d, "docs")
    source = sorted({x["source"] for x in docs})[-1]
    r = _show(d, "-n", 0, "--source", source)
    assert r.exit_code == 0, r.output
    assert _shown_ids(r.output) == [x["id"] for x in docs if x["source"] == source]


def test_show_rejects_with_reason_prefix(stage2_run):
    _, manifest = stage2_run
    d = _step_dir(manifest, "filter")
    rejects = _records(d, "rejects")
    assert rejects
    prefix = ":".join(rejects[0]["reason"].split(":")[:2])  # e.g. filter:lang, filter:gopher_rep
    r = _show(d, "--rejects", "-n", 0, "--reason", prefix)
    assert r.exit_code == 0, r.output
    want = [x for x in rejects if x["reason"].startswith(prefix)]
    assert _shown_ids(r.output) == [x["id"] for x in want]
    assert f"reason {want[0]['reason']}" in r.output
    if want[0]["detail"]:
        assert want[0]["detail"][:40] in r.output
    # a prefix no reason has: nothing shown, said so
    r = _show(d, "--rejects", "--reason", "no-such-reason")
    assert r.exit_code == 0 and _shown_ids(r.output) == [] and "no rejects" in r.output


def test_show_dedup_rejects_name_their_survivor(stage2_run):
    _, manifest = stage2_run
    d = _step_dir(manifest, "dedup")
    rejects = _records(d, "rejects")
    r = _show(d, "--rejects", "-n", 2)
    assert r.exit_code == 0, r.output
    assert _shown_ids(r.output) == [x["id"] for x in rejects[:2]]
    assert rejects[0]["detail"] and f"detail {rejects[0]['detail']}" in r.output
    assert "more match" in r.output  # told that -n cut the list


def test_show_not_a_step_output_is_one_line_naming_it(stage2_run, tmp_path):
    out, _ = stage2_run
    for path in (tmp_path / "missing", tmp_path, out):  # absent, empty, a stage output (not a step)
        r = _show(path)
        assert r.exit_code != 0
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in r.output, r.output


def test_report_json_is_the_summary_only(stage2_run):
    out, _ = stage2_run
    r = CliRunner().invoke(cli, ["report", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.load(open(os.path.join(out, "report.json")))["summary"]
    assert json.loads(r.stdout) == summary


def test_report_absolute_is_the_manifest_data_path_unwrapped(stage2_run, monkeypatch):
    out, manifest = stage2_run
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal must not wrap the Megatron line
    r = CliRunner().invoke(cli, ["report", str(out), "--absolute"])
    assert r.exit_code == 0, r.output
    line = next(l for l in r.stdout.splitlines() if "--data-path" in l)
    assert line == f"Megatron: --data-path {manifest['mix']['data_path_abs']}"
    # without --absolute: the relative prefixes of blend.json, also on one line
    r = CliRunner().invoke(cli, ["report", str(out)])
    blend = json.load(open(os.path.join(out, "blend.json")))
    line = next(l for l in r.stdout.splitlines() if "--data-path" in l)
    assert line == f"Megatron: --data-path {blend['data_path']}"


def test_report_json_absolute(stage2_run):
    out, manifest = stage2_run
    r = CliRunner().invoke(cli, ["report", str(out), "--json", "--absolute"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["data_path"] == manifest["mix"]["data_path_abs"]


def test_report_relative_directory_gives_absolute_prefixes(stage2_run, monkeypatch):
    out, manifest = stage2_run
    monkeypatch.chdir(os.path.dirname(out))
    r = CliRunner().invoke(cli, ["report", os.path.basename(out), "--json", "--absolute"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["data_path"] == manifest["mix"]["data_path_abs"]
