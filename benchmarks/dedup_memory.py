"""Peak memory of the whole `curate dedup` step at several corpus sizes (issue 11's bound).

    python benchmarks/dedup_memory.py                      # 25k and 100k documents, in-process
    python benchmarks/dedup_memory.py --docs 25000 --docs 100000 --work /tmp/dm -- --direct_running_mode=multi_processing

Writes a generated Parquet pool per size (~5 KB Zipf-word texts: ~20% near-duplicates of earlier
documents, planted with the edits of benchmarks/dedup.py, plus ~3% exact copies with case and
punctuation changed), then runs ``curate dedup POOL --output OUT`` in a child process and
samples the RSS of its process tree (psutil, every 0.1 s; also the kernel's max RSS of the
child). Prints wall time, peak RSS and the ratio of the largest to the smallest size's peak
(the target is <= 1.2). Pools are kept under ``--work`` and reused by later runs.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse
import json
import random
import resource
import shutil
import tempfile
import time

from _rss import run_measured, tail


def write_pool(pool: str, n: int, seed: int, shards: int = 16) -> None:
    """A completed-step-looking pool of ``n`` documents (docs/part-*.parquet + manifest.json)."""
    import pyarrow.parquet as pq

    import dedup as bench  # the planted-edit generator of benchmarks/dedup.py
    from curate.schema import new_document, to_table

    if os.path.exists(os.path.join(pool, "manifest.json")):
        return
    c, LEVELS = bench.Corpus(seed), bench.LEVELS
    rnd = random.Random(seed)
    docs: list[list[dict]] = [[] for _ in range(shards)]
    bases: list[tuple] = []
    for i in range(n):
        r = rnd.random()
        if bases and r < 0.20:
            base = bases[rnd.randrange(len(bases))]
            kind = rnd.choice(sorted(LEVELS))
            text = " ".join(c.variant(base, kind, rnd.choice(LEVELS[kind])))
        elif bases and r < 0.23:
            text = " ".join(bases[rnd.randrange(len(bases))][0]).upper().replace(" w", " , w")
        else:
            base = c.base(900, 1300)
            if len(bases) < 20000:
                bases.append(base)
            else:
                bases[rnd.randrange(len(bases))] = base
            text = " ".join(base[0])
        docs[i % shards].append(new_document(source="bench", uri=f"d{i}", format="text", text=text))
    os.makedirs(os.path.join(pool, "docs"), exist_ok=True)
    for s, part in enumerate(docs):
        pq.write_table(to_table(part), os.path.join(pool, "docs", f"part-{s:05d}-of-{shards:05d}.parquet"))
    with open(os.path.join(pool, "manifest.json"), "w") as f:
        json.dump({"step": "bench", "key": f"bench-{n}-{seed}"}, f)


def measure(pool: str, out: str, beam_args: list[str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "curate", "dedup", pool, "--output", out]
    if beam_args:
        cmd += ["--", *beam_args]
    log_path = out.rstrip("/") + ".log"
    rc, wall, mem = run_measured(cmd, log_path, interval=0.1)
    if rc:
        print(tail(log_path))
        raise SystemExit(f"curate dedup failed ({rc})")
    m = json.load(open(os.path.join(out, "manifest.json")))
    return {"wall_s": wall, "peak_tree_mib": mem.peak / 2**20,
            "max_rss_child_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "counts": m["counts"]["dedup"], "clusters": m["stats"]["clusters"]}


def main() -> None:
    argv = sys.argv[1:]
    beam_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, action="append", help="corpus sizes (default 25000 and 100000)")
    ap.add_argument("--work", help="folder for pools and outputs (default: a new temp folder)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    sizes = args.docs or [25000, 100000]
    work = args.work or tempfile.mkdtemp(prefix="dedup-mem-")
    peaks = {}
    for n in sizes:
        pool = os.path.join(work, f"pool-{n}")
        t0 = time.time()
        write_pool(pool, n, args.seed)
        print(f"pool of {n} documents ready in {time.time() - t0:.0f}s: {pool}", flush=True)
        r = measure(pool, os.path.join(work, f"out-{n}"), beam_args)
        peaks[n] = r["peak_tree_mib"]
        cnt, st = r["counts"], r["clusters"]
        print(f"{n:>7} docs: wall {r['wall_s']:.1f}s, peak RSS (process tree) {r['peak_tree_mib']:.0f} MiB, "
              f"max RSS of one child so far {r['max_rss_child_mib']:.0f} MiB; in {cnt['in']} out {cnt['out']} "
              f"rejects {cnt['rejects']}; clusters {st['clusters']}, candidate edges {st['candidate_edges']}, "
              f"verified {st['verified_edges']}", flush=True)
    if len(peaks) > 1:
        lo, hi = min(peaks), max(peaks)
        print(f"peak RSS ratio {hi} / {lo} docs: {peaks[hi] / peaks[lo]:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
