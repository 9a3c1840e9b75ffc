"""Shared by the resume test and benchmark: run `curate run` in a child, SIGKILL it at a point, compare bytes."""

from __future__ import annotations

import glob
import hashlib
import os
import signal
import subprocess
import sys
import time


def shard_digests(out: str) -> dict[str, str]:
    """sha256 of every shard file and blend.json under a stage output."""
    paths = sorted(glob.glob(os.path.join(out, "shards", "**", "*.*"), recursive=True)) + [os.path.join(out, "blend.json")]
    return {os.path.relpath(p, out): hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths if os.path.isfile(p)}


def curate_cmd(stage: str, out: str, extra: list[str] | None = None) -> list[str]:
    return [sys.executable, "-m", "curate", "run", stage, "--output", out, *(extra or [])]


def run_until(cmd: list[str], ready, timeout: float = 600.0, poll: float = 0.05) -> bool:
    """Start ``cmd``; SIGKILL its whole process group as soon as ``ready()`` is true.

    Returns True when it was killed, False when it finished first.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    t0 = time.time()
    try:
        while proc.poll() is None:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            if time.time() - t0 > timeout:
                raise TimeoutError(" ".join(cmd))
            time.sleep(poll)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def step_done(steps_dir: str, step: str) -> bool:
    return any(os.path.exists(os.path.join(d, "manifest.json")) for d in glob.glob(os.path.join(steps_dir, f"{step}-*")) if ".tmp-" not in d)


def step_started(steps_dir: str, step: str) -> bool:
    return bool(glob.glob(os.path.join(steps_dir, f"{step}-*.tmp-*", "*")))


def reset_outputs(out: str) -> None:
    """Remove a stage output and its cached steps, keeping the embedded sample (same input paths)."""
    import shutil

    steps = os.path.join(os.path.dirname(os.path.abspath(out)), "_steps")
    shutil.rmtree(out, ignore_errors=True)
    for d in glob.glob(os.path.join(steps, "*")):
        if not os.path.basename(d).startswith("sample-"):
            shutil.rmtree(d, ignore_errors=True)
