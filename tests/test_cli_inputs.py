"""Step commands on raw inputs, and remote paths without their cloud extra."""

import json
import os

import pytest
from click.testing import CliRunner

from curate.cli import cli, remote_problem


@pytest.fixture(scope="module")
def raw_dedup(sample_dir, tmp_path_factory):
    """`curate dedup web/ crawl.warc.gz --output out/dd`: raw inputs, no extract run before."""
    out = tmp_path_factory.mktemp("raw") / "out"
    inputs = [str(sample_dir / "web"), str(sample_dir / "crawl.warc.gz")]
    r = CliRunner().invoke(cli, ["dedup", *inputs, "--output", str(out / "dd")])
    return out, inputs, r


def test_dedup_reads_raw_inputs_as_extract_would(raw_dedup, tmp_path):
    out, inputs, r = raw_dedup
    assert r.exit_code == 0, r.output
    dd = json.load(open(out / "dd" / "manifest.json"))
    assert dd["step"] == "dedup" and dd["counts"]["dedup"]["rejected"] > 0  # the sample plants duplicates
    ext_dir = dd["info"]["inputs"][0]
    assert os.path.dirname(ext_dir) == str(out / "_steps")
    ext = json.load(open(os.path.join(ext_dir, "manifest.json")))
    assert ext["counts"]["extract"]["out"] == dd["counts"]["dedup"]["in"]
    # the same documents as `curate extract` on the same inputs: same key, same output digest
    r2 = CliRunner().invoke(cli, ["extract", *inputs, "--output", str(tmp_path / "ext")])
    assert r2.exit_code == 0, r2.output
    mine = json.load(open(tmp_path / "ext" / "manifest.json"))
    assert (mine["key"], mine["output_digest"]) == (ext["key"], ext["output_digest"])


def test_mix_on_raw_input_names_the_command_to_run_first(sample_dir, tmp_path):
    web = str(sample_dir / "web")
    r = CliRunner().invoke(cli, ["mix", web, "--output", str(tmp_path / "m")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert f"curate run stage2 --input {web}" in r.output and f"curate filter {web} --output POOL" in r.output


def test_a_stage_output_given_to_a_step_names_its_steps(stage2_run, tmp_path):
    out, manifest = stage2_run
    r = CliRunner().invoke(cli, ["filter", str(out), "--output", str(tmp_path / "f")])
    assert r.exit_code != 0 and "is a stage output" in r.output
    assert all(s["dir"] in r.output for s in manifest["steps"])


@pytest.mark.parametrize("scheme, extra", [("gs", "gcp"), ("s3", "aws")])
def test_remote_path_without_the_cloud_extra_is_one_clean_line(tmp_path, scheme, extra):
    if remote_problem(f"{scheme}://bucket/x") is None:
        pytest.skip(f"the {extra} extra is installed here")
    for args in (["run", "stage2", "--input", f"{scheme}://bucket/crawl/", "--output", str(tmp_path / "o")],
                 ["run", "stage2", "--output", f"{scheme}://bucket/out"],
                 ["extract", f"{scheme}://bucket/x.warc.gz", "--output", str(tmp_path / "e")]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 1, (args, r.output)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and f'pip install "curate[{extra}]"' in lines[0] and f"{scheme}://bucket" in lines[0], r.output


def test_every_pipeline_command_takes_beam_args_and_worker_defaults_from_one_place(tmp_path):
    """Was: `curate decontam`/`synth`/`problems` read the Beam options on their own, without the
    worker defaults (and their log line) every other command applies."""
    from mixhelp import commit_pool

    from curate.schema import new_document

    pool = tmp_path / "pool"
    commit_pool(str(pool), [new_document(source="w", uri="w://a", format="html", text="Gardening notes. " * 30)])
    cfg = tmp_path / "stage.yaml"
    cfg.write_text("stage: stage2\ndecontam:\n  packaged: []\n")
    r = CliRunner().invoke(cli, ["decontam", str(pool), "--config", str(cfg), "--output", str(tmp_path / "out")],
                           obj={"beam_args": []})
    assert r.exit_code == 0, r.output
    assert "[beam] in-process" in r.output
