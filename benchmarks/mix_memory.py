"""Peak memory and wall time of the mix step alone (`curate mix`) against corpus size.

    python benchmarks/mix_memory.py [--docs 25000 100000] [--workdir DIR] [--keep]

Builds its own pools: two step outputs (``web``: cc general/math/unlabelled, arxiv math,
gh code; ``synthetic``: synth-math), 8 Parquet shards each (the project's Document schema,
row groups of 2,048 as the steps write them), ~5 KB texts, domains and quality scores set.
The budget is 1,000 tokens per document with stage 2's domain shares, so math and code are
upsampled and general text downsampled. Each size runs `curate mix` in its own process
(DirectRunner, in-process) under ``/usr/bin/time -v`` and reports its maximum RSS (falling
back to polling the process tree with psutil). Target (issue 11): peak RSS at the largest
size <= 1.2 x the peak at the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARDS = 8
ROW_GROUP = 2048
SOURCES = [  # pool, source, domain, format, share of documents
    ("web", "cc", "general", "html", 0.62),
    ("web", "cc", "math", "html", 0.08),
    ("web", "cc", None, "html", 0.05),
    ("web", "arxiv", "math", "pdf", 0.08),
    ("web", "gh", "code", "html", 0.07),
    ("synthetic", "synth-math", "math", "synthetic", 0.10),
]


def _banks(seed: int = 3):
    from curate.sample import generate as g
    from curate.sample import text as T

    rng = random.Random(seed)
    tag = re.compile(r"<[^>]+>")
    prose = [T.paragraph(rng) for _ in range(3000)]
    math = [tag.sub(" ", g.math_body(rng)[1]) for _ in range(300)]
    code = [tag.sub(" ", g.code_body(rng)[1]) for _ in range(300)]
    return prose, math, code


def _text(rng: random.Random, domain: str | None, banks, i: int) -> str:
    prose, math, code = banks
    target = rng.randint(3000, 7000)
    parts, n = [f"Document {i}."], 0
    while n < target:
        pool = math if domain == "math" and rng.random() < 0.5 else code if domain == "code" and rng.random() < 0.5 else prose
        p = rng.choice(pool)
        parts.append(p)
        n += len(p) + 2
    return "\n\n".join(parts)


def make_pools(root: str, docs: int, seed: int = 11) -> dict[str, str]:
    """Write the two pools for ``docs`` documents under ``root``; returns {pool: directory}."""
    import pyarrow.parquet as pq

    from curate.schema import DOCUMENT_SCHEMA, new_document, to_table
    from curate.io.doc_shards import shard_of

    banks = _banks()
    rng = random.Random(seed)
    dirs = {}
    for pool in sorted({s[0] for s in SOURCES}):
        d = os.path.join(root, pool)
        os.makedirs(os.path.join(d, "docs"), exist_ok=True)
        writers = [pq.ParquetWriter(os.path.join(d, "docs", f"part-{k:05d}-of-{SHARDS:05d}.parquet"), DOCUMENT_SCHEMA,
                                    compression="zstd") for k in range(SHARDS)]
        buffers: list[list[dict]] = [[] for _ in range(SHARDS)]
        for p, source, domain, fmt, share in SOURCES:
            if p != pool:
                continue
            for i in range(int(docs * share)):
                doc = new_document(source=source, uri=f"https://{source}.example/{domain}/{i}", format=fmt,
                                   text=_text(rng, domain, banks, i), offset=i)
                doc["domain"] = domain
                doc["lang"], doc["lang_score"] = "en", 0.99
                doc["scores"] = {"fasttext_quality": round(rng.random(), 4), "gopher_words": float(rng.randint(300, 1500))}
                k = shard_of(doc["id"], SHARDS)
                buffers[k].append(doc)
                if len(buffers[k]) >= ROW_GROUP:
                    writers[k].write_table(to_table(buffers[k]), row_group_size=ROW_GROUP)
                    buffers[k] = []
        for k in range(SHARDS):
            if buffers[k]:
                writers[k].write_table(to_table(buffers[k]), row_group_size=ROW_GROUP)
            writers[k].close()
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump({"key": f"bench-{pool}-{docs}", "step": "filter"}, f)
        dirs[pool] = d
    return dirs


def write_config(path: str, docs: int) -> str:
    import yaml

    from curate.config import default_config

    data = default_config("stage2").model_dump(mode="json")
    data["mix"]["total_tokens"] = docs * 1000
    with open(path, "w") as f:
        yaml.safe_dump(data, f)
    return path


def _max_rss_psutil(cmd: list[str]) -> tuple[int, float, int]:
    import psutil

    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = sum(c.memory_info().rss for c in [p, *p.children(recursive=True)])
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    proc.communicate()
    return peak // 1024, time.time() - t0, proc.returncode


def measure(pools: dict[str, str], config: str, output: str, beam_args: list[str]) -> dict:
    curate = os.path.join(os.path.dirname(sys.executable), "curate")
    cmd = [curate, "mix", *[pools[k] for k in sorted(pools)], "--output", output, "--config", config, *(["--", *beam_args] if beam_args else [])]
    if os.path.exists("/usr/bin/time"):
        t0 = time.time()
        r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
        wall = time.time() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        if r.returncode != 0 or not m:
            raise SystemExit(f"curate mix failed ({r.returncode}):\n{r.stderr[-3000:]}")
        rss_kb = int(m.group(1))
    else:
        rss_kb, wall, rc = _max_rss_psutil(cmd)
        if rc != 0:
            raise SystemExit(f"curate mix failed ({rc})")
    from curate.mixtures.blend import Blend, read_blend

    blend = read_blend(os.path.join(output, "blend.json"))
    assert isinstance(blend, Blend), "curate mix wrote a blend.json without its records"
    return {"max_rss_mb": round(rss_kb / 1024, 1), "wall_s": round(wall, 1), "tokens": blend.total_tokens,
            "shards": len(blend.datasets)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[25_000, 100_000])
    ap.add_argument("--workdir", help="where pools and outputs go (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the generated pools and outputs")
    ap.add_argument("beam_args", nargs="*", help="Beam pipeline flags after --")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="mix-memory-")
    results = {}
    try:
        for n in args.docs:
            root = os.path.join(work, f"docs{n}")
            pools_root = os.path.join(root, "pools")
            if os.path.exists(os.path.join(pools_root, "web", "manifest.json")):
                pools = {p: os.path.join(pools_root, p) for p in ("synthetic", "web")}
            else:
                t0 = time.time()
                pools = make_pools(pools_root, n)
                print(f"[bench] {n} docs: pools written in {time.time() - t0:.0f}s", flush=True)
            config = write_config(os.path.join(root, "mix.yaml"), n)
            out = os.path.join(root, "out")
            shutil.rmtree(out, ignore_errors=True)
            results[n] = measure(pools, config, out, args.beam_args)
            print(f"[bench] {n} docs: {json.dumps(results[n])}", flush=True)
        if len(results) > 1:
            lo, hi = min(results), max(results)
            ratio = results[hi]["max_rss_mb"] / results[lo]["max_rss_mb"]
            print(f"[bench] peak RSS {hi} / {lo} docs = {ratio:.2f} (target <= 1.20)")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
