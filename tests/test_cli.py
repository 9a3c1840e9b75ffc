"""The CLI: --help everywhere, clear errors naming the input, beam args after `--`."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from curate.cli import cli, main


def _commands(group, prefix=()):
    import click

    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


def test_help_everywhere():
    runner = CliRunner()
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    for path in _commands(cli):
        if path[0] == "pretrain":
            continue  # forwards to its own argparse help; tested with the pretrain entrypoint
        r = runner.invoke(cli, [*path, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, path


def test_run_rejects_bad_config_with_file_and_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("stage: stage2\nnum_shards: many\n")
    r = CliRunner().invoke(cli, ["run", "stage2", "--config", str(p)])
    assert r.exit_code != 0 and str(p) in r.output and "num_shards" in r.output


def test_missing_input_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    r = CliRunner().invoke(cli, ["extract", str(missing), "--output", str(tmp_path / "o")])
    assert r.exit_code != 0 and "nowhere" in r.output and "Traceback" not in r.output


def test_beam_args_after_double_dash(sample_dir, tmp_path):
    out = tmp_path / "ex"

    r = subprocess.run(
        [sys.executable, "-m", "curate", "extract", str(sample_dir / "web"), "--output", str(out), "--",
         "--direct_running_mode=in_memory", "--direct_num_workers=1"],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["read"]["in"] == 30


def test_sample_command(tmp_path):
    r = CliRunner().invoke(cli, ["sample", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s" / "crawl.warc.gz").exists() and (tmp_path / "s" / "problems.jsonl").exists()


def test_quiet_by_default_verbose_and_quiet(tmp_path):
    """No Beam INFO lines or import warnings by default; -q prints only warnings on success; the last
    line of `curate run` points at report.html."""
    import subprocess
    import sys

    def run(*flags):
        return subprocess.run([sys.executable, "-m", "curate", *flags, "run", "stage2", "--output",
                               str(tmp_path / "out" / "stage2")], capture_output=True, text=True, timeout=600)

    r = run()
    assert r.returncode == 0, r.stderr
    assert "apitools" not in r.stderr and "INFO" not in r.stderr and "WARNING:root" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith("report.html")
    r = run("-q")  # only warnings (the sample's shards are too small for Megatron's default split)
    assert r.returncode == 0 and r.stdout.strip() == ""
    assert all("WARNING" in line for line in r.stderr.strip().splitlines()), r.stderr
    r = run("-v")
    assert r.returncode == 0 and "INFO" in r.stderr
