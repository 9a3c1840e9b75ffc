"""`curate run stage2` end to end on the embedded sample: manifest, count law, runners agree."""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from _kill import reset_outputs, shard_digests  # noqa: E402

from curate.config import default_config  # noqa: E402
from curate.pipelines.stages import run_stage  # noqa: E402

MP = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
PORTABLE = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]


@pytest.fixture(scope="module")
def stage2(stage2_run):
    return stage2_run


def test_manifest_and_count_law(stage2):
    out, manifest = stage2
    on_disk = json.loads((out / "manifest.json").read_text())
    assert [s["step"] for s in on_disk["steps"]] == ["extract", "dedup", "filter", "decontam"]
    names = set()
    for step in on_disk["steps"]:
        for name, c in step["counts"].items():
            names.add(name)
            assert c["in"] == c["out"] + sum(c["rejects"].values()), (step["step"], name, c)
            assert all(reason for reason in c["rejects"])
        assert os.path.isdir(os.path.join(step["dir"], "rejects"))
    assert {"read", "extract", "dedup", "filter"} <= names
    chain = {n: c for s in on_disk["steps"] for n, c in s["counts"].items()}
    assert chain["read"]["out"] == chain["extract"]["in"]
    assert chain["extract"]["out"] == chain["dedup"]["in"]
    assert chain["dedup"]["out"] == chain["filter"]["in"]
    # the sample plants duplicates, spam, boilerplate-only and foreign pages: each step drops some
    for n in ("extract", "dedup", "filter"):
        assert chain[n]["rejected"] > 0, n


def test_outputs_written(stage2):
    out, _ = stage2
    for name in ("blend.json", "report.json", "report.html"):
        assert (out / name).exists(), name
    assert shard_digests(str(out))


@pytest.mark.parametrize("runner", [MP, PORTABLE], ids=["multi_processing", "portable"])
def test_runners_give_identical_shards(stage2, runner):
    out, _ = stage2
    reference = shard_digests(str(out))
    copy = out.parent / "stage2-copy"
    reset_outputs(str(copy))
    run_stage(default_config("stage2"), str(copy), runner, log=lambda m: None)
    assert shard_digests(str(copy)) == reference
    assert (copy / "report.json").read_bytes() == (out / "report.json").read_bytes()
