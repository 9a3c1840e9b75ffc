"""Kill `curate run` with SIGKILL at points spread over the steps, rerun, compare final bytes.

    python benchmarks/resume.py [--stage stage2] [--pages N] [--workdir DIR]

First an uninterrupted run gives the reference shards and blend.json. Then, for each kill
point, the outputs (not the input corpus) are cleared, a run is started and SIGKILLed when
the point is reached (a step's temporary output appearing = mid-step; a step's manifest
appearing = between steps), and the run is repeated until it finishes, each time comparing
the final bytes with the reference. Prints one line per kill point and exits non-zero on
any difference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from _kill import curate_cmd, reset_outputs, run_until, shard_digests, step_done, step_started  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="stage2")
    ap.add_argument("--pages", type=int, default=0, help="scale corpus of N pages instead of the embedded sample")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="curate-resume-")
    out = os.path.join(work, args.stage)
    steps = os.path.join(work, "_steps")
    extra: list[str] = []
    if args.pages:
        corpus = os.path.join(work, "corpus")
        if not os.path.exists(corpus):
            subprocess.run([sys.executable, "-m", "curate", "sample", corpus, "--pages", str(args.pages)], check=True)
        extra = ["--input", corpus]

    t0 = time.time()
    subprocess.run(curate_cmd(args.stage, out, extra), check=True, capture_output=True)
    reference = shard_digests(out)
    print(f"reference run: {time.time() - t0:.1f}s, {len(reference)} files")

    points = [
        ("extract started", lambda: step_started(steps, "extract")),
        ("extract done", lambda: step_done(steps, "extract")),
        ("dedup started", lambda: step_started(steps, "dedup")),
        ("dedup done", lambda: step_done(steps, "dedup")),
        ("filter started", lambda: step_started(steps, "filter")),
        ("filter done", lambda: step_done(steps, "filter")),
        ("mix started", lambda: os.path.isdir(out) and any(".tmp" in n for n in os.listdir(out))),
    ]
    failures = 0
    for name, ready in points:
        reset_outputs(out)
        killed = run_until(curate_cmd(args.stage, out, extra), ready)
        reruns = 0
        while not os.path.exists(os.path.join(out, "manifest.json")):
            subprocess.run(curate_cmd(args.stage, out, extra), check=True, capture_output=True)
            reruns += 1
        same = shard_digests(out) == reference
        failures += not same
        print(f"kill at {name:16s} killed={killed!s:5s} reruns={reruns} identical={same}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print("all kill points resumed to identical bytes" if not failures else f"{failures} kill point(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
