"""Benchmark: per-test overhead of the code sandbox (bubblewrap, judged outside).

    .venv/bin/python benchmarks/sandbox.py [--tests 200] [--repeat 5]

Prints milliseconds per test over --tests trivial tests (batched modes: the median over --repeat
runs of run time / N; one-process-per-test modes: the median of the N tests' times), for:
  * call:   one run_cases call with N function-call tests (``f(i) == i + 1``): one sandbox,
            the program's top level run once, each test a request/response judged by the parent;
  * stdio:  one run_cases call with N stdin/stdout tests (the program runs afresh per test, in a
            process forked inside the same sandbox);
  * fresh:  N run_cases calls of one test each (a sandbox started per test: the worst case);
  * python -c: N plain ``python -c`` subprocesses (no containment, no judging) for comparison,
and each one's ratio to python -c. Needs a working bwrap (see synth/sandbox.py).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from curate.synth import sandbox  # noqa: E402
from curate.synth.sandbox import CallTest, IOTest, SandboxLimits, run_cases  # noqa: E402


def per_test_ms(fn, n: int, repeat: int) -> float:
    """Batched modes: the median over ``repeat`` runs of (run time / n)."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(n)
        runs.append((time.perf_counter() - t0) * 1000 / n)
    return statistics.median(runs)


def each_test_ms(fn, n: int) -> float:
    """One process per test: the median over the n tests of each one's time."""
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    why = sandbox.check_bwrap()
    if why:
        sys.exit(f"sandbox unavailable: {why}")
    lim = SandboxLimits(wall_s=600)
    code = "def f(x):\n    return x + 1\n"
    io_code = "print(int(input()) + 1)\n"

    def call(n):
        res = run_cases(code, [CallTest([i], i + 1) for i in range(n)], "f", lim)
        assert res.passed, res.status

    def stdio(n):
        res = run_cases(io_code, [IOTest(f"{i}\n", f"{i + 1}\n") for i in range(n)], None, lim)
        assert res.passed, res.status

    def fresh(i):
        assert run_cases(code, [CallTest([i], i + 1)], "f", lim).passed

    py = os.path.realpath(sys.executable)

    def plain(i):
        subprocess.run([py, "-I", "-c", f"print({i} + 1)"], capture_output=True, check=True)

    n, r = args.tests, args.repeat
    base = each_test_ms(plain, n)
    rows = [("call (1 sandbox, N tests)", per_test_ms(call, n, r)), ("stdio (1 sandbox, fork per test)", per_test_ms(stdio, n, r)),
            ("fresh sandbox per test", each_test_ms(fresh, n)), ("plain python -c subprocess", base)]
    print(f"ms per test over {n} trivial tests: batched modes the median of {r} runs' mean, one-process-per-test "
          f"modes the median test (isolation: {', '.join(sandbox.ISOLATION)})")
    print(f"{'mode':36} {'ms/test':>9} {'x python -c':>12}")
    for name, ms in rows:
        print(f"{name:36} {ms:9.2f} {ms / base:12.2f}")


if __name__ == "__main__":
    main()
