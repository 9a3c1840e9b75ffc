"""A longer fuzzing run of the readers and extractors than the test suite's.

    python benchmarks/fuzz.py [--examples 5000]

Runs the same hypothesis properties as tests/test_fuzz_*.py with many more examples and
prints how many ran and how long it took. Any exception escaping a reader or an extractor
fails the run with hypothesis's minimal failing input.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import pytest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=5000)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    targets = sorted(glob.glob(os.path.join(root, "tests", "test_fuzz_*.py")))
    os.environ["CURATE_FUZZ_EXAMPLES"] = str(args.examples)
    t0 = time.time()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics", *targets])
    print(f"{len(targets)} fuzz modules, {args.examples} examples per property, {time.time() - t0:.0f}s, exit {int(code)}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
