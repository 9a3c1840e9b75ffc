"""Every input file leaves a trace (issue 16): read, or skipped with a reason; no silent loss."""

import gzip
import json
import os

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.config import default_config
from curate.errors import InputError
from curate.io.inputs import plan_inputs, sources_from_args
from curate.pipelines import steps
from curate.pipelines.stages import run_stage

PAGE = ("<html><head><title>T</title></head><body><article><p>"
        + "A page with enough words to be extracted and kept by the extractor. " * 6 + "</p></article></body></html>")


@pytest.fixture()
def odd(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.html").write_text(PAGE)
    (d / "notes.md").write_text("# notes")
    (d / "data.dat").write_bytes(b"\x00\x01")
    (d / "readme.txt").write_text("hello")
    (d / "empty.jsonl").write_bytes(b"")
    (d / "empty.warc.gz").write_bytes(b"")
    (d / "blank.jsonl").write_text("\n\n")
    (d / "member.jsonl.gz").write_bytes(gzip.compress(b""))  # an empty gzip member
    (d / "empty.jsonl.zst").write_bytes(b"")
    (d / ".hidden.html").write_text(PAGE)
    (d / "a[1].html").write_text(PAGE)
    os.symlink(d / "gone.html", d / "dangling.html")
    (d / os.fsdecode(b"caf\xe9.html")).write_text(PAGE)
    return d


def test_every_file_is_read_or_skipped_with_a_reason(odd):
    read, skipped = steps.plan_sources(sources_from_args([str(odd)]))
    names = {f.name for f in read} | {k.name for k in skipped}
    assert len(names) == len(os.listdir(odd))
    reasons = {k.name: k.reason for k in skipped}
    assert reasons["in/notes.md"] == reasons["in/data.dat"] == reasons["in/readme.txt"] == "no reader for this file type"
    assert reasons["in/dangling.html"] == "dangling symbolic link"
    assert reasons["in/.hidden.html"].startswith("hidden file")
    assert {"in/a[1].html", "in/caf\\xe9.html", "in/empty.jsonl", "in/empty.warc.gz", "in/member.jsonl.gz"} <= {f.name for f in read}


def test_the_extract_manifest_lists_skipped_files_and_empty_files_are_rejects(odd, tmp_path):
    out = tmp_path / "ex"
    r = CliRunner().invoke(cli, ["extract", str(odd), "--output", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "manifest.json").read_text())
    assert {k["name"] for k in m["info"]["skipped"]} == {"in/notes.md", "in/data.dat", "in/readme.txt",
                                                        "in/dangling.html", "in/.hidden.html"}
    assert m["counts"]["read"]["rejects"]["read:empty"] == 5  # empty .jsonl/.warc.gz/.jsonl.zst, blank, empty member
    assert m["counts"]["extract"]["out"] == 3  # good.html, a[1].html, café.html
    # every file of the input is in the manifest, read or skipped, and every read file is in the data
    listed = {n.split(":", 1)[1] for n in m["info"]["read"]} | {k["name"] for k in m["info"]["skipped"]}
    assert listed == {f"in/{os.fsencode(n).decode('utf-8', 'backslashreplace')}" for n in os.listdir(odd)}
    seen = set()
    for sub in ("docs", "rejects"):
        for f in (out / sub).glob("*.parquet"):
            seen |= {r["uri"].split("#")[0] for r in pq.read_table(f).to_pylist()}
    assert {n.split(":", 1)[1] for n in m["info"]["read"]} <= seen


def test_a_named_file_of_an_unknown_kind_is_an_error_before_any_work(tmp_path):
    f = tmp_path / "crawl.warc.lz4"
    f.write_bytes(b"\x04\x22\x4d\x18")
    r = CliRunner().invoke(cli, ["run", "stage2", "--input", str(f), "--output", str(tmp_path / "o")])
    assert r.exit_code != 0 and "no reader for this file type" in r.output and "crawl.warc.lz4" in r.output
    assert not (tmp_path / "_steps").exists() or not os.listdir(tmp_path / "_steps")


def test_inputs_with_nothing_readable_are_an_error(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.md").write_text("# a")
    (d / "b.txt").write_text("b")
    with pytest.raises(InputError, match="no readable input files"):
        run_stage(default_config("stage2"), str(tmp_path / "o"), [], [str(d)], log=lambda m: None)


def test_a_file_name_with_glob_characters_and_undecodable_bytes_is_read(odd, tmp_path):
    read, _ = plan_inputs(sources_from_args([str(odd / "a[1].html")]))
    assert [f.name for f in read] == ["a[1].html"]
    m = run_stage(default_config("stage2"), str(tmp_path / "o" / "stage2"), [],
                  [str(odd / "a[1].html"), str(odd / os.fsdecode(b"caf\xe9.html"))], log=lambda m: None)
    assert m["steps"][0]["counts"]["extract"]["out"] == 2
