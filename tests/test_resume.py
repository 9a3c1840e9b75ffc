"""Kill `curate run stage2` after its first step, rerun, and get the bytes of an uninterrupted run."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

from _kill import curate_cmd, reset_outputs, run_until, shard_digests, step_done  # noqa: E402


def test_kill_after_first_step_resumes_to_identical_shards(tmp_path):
    out = tmp_path / "stage2"
    steps = tmp_path / "_steps"
    subprocess.run(curate_cmd("stage2", str(out)), check=True, capture_output=True)
    reference = shard_digests(str(out))
    assert reference

    reset_outputs(str(out))
    killed = run_until(curate_cmd("stage2", str(out)), lambda: step_done(str(steps), "extract"))
    assert killed, "the run finished before it could be killed"
    assert not (out / "manifest.json").exists()
    r = subprocess.run(curate_cmd("stage2", str(out)), check=True, capture_output=True, text=True)
    assert "[extract] reusing" in r.stderr
    assert shard_digests(str(out)) == reference
