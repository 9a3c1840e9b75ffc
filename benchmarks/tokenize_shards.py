"""Tokens/s of writing Megatron shards against two peers, paired round by round.

    python benchmarks/tokenize_shards.py [--docs 20000] [--rounds 5] [--workers N] [--corpus DIR_OR_JSONL]

* hf_fast, hf: HF ``Tokenizer.encode_batch_fast`` and ``encode_batch`` alone over the same
  batches, nothing converted or written (what the writer cost when HF computed its ids);
* ours: ``DocTokenizer.encode_batches`` (batch encoding + EOD, the next batch encoded while
  this one is written: what the mix step's tokenize pass runs) into ``IndexedDatasetBuilder``,
  finalized. Its ids come from tiktoken where it reproduces HF's (mixtures/fast_bpe.py: the
  bundled tokenizer qualifies), so the check below compares two engines;
* loop: Megatron ``preprocess_data``-style, one ``encode`` call per document in a
  ``multiprocessing.Pool`` of the same number of workers (imap, chunksize 32), the parent
  writing each document to the builder.

Every measurement runs in a fresh Python process (nothing warm carries over: tokenizer caches,
thread pools, allocator state), timed from loading the tokenizer to the finalized files. Each
round runs ours and the loop back to back, alternating which goes first, then HF alone;
the ratios are taken per round and summarised as median and min–max, beside the ratio of
CPU-seconds (process and children), which other load on the machine moves much less than
wall time. The shard files of ours and the loop must hold identical token ids (checked every
round; the run fails otherwise, and --corpus runs the same check on other text). Target: ours ≥ 2 × loop. The corpus is generated from the embedded sample's text banks
unless --corpus points at .txt/.md files or a JSONL with a "text" field.
"""

from __future__ import annotations

import os
import sys

# This file is named like the stdlib's `tokenize`; keep its folder off the import path so
# `import tokenize` (numpy → inspect → linecache) finds the real one.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import json
import multiprocessing as mp
import random
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(_HERE))

from curate.mixtures.indexed import IndexedDataset, IndexedDatasetBuilder  # noqa: E402
from curate.mixtures.tokenizer import DocTokenizer, default_tokenizer_path  # noqa: E402


def generated_corpus(n: int, seed: int = 7) -> list[str]:
    from curate.sample import generate as g

    rng = random.Random(seed)
    tag = re.compile(r"<[^>]+>")
    out = []
    for i in range(n):
        parts = [tag.sub(" ", (g.article_body, g.math_body, g.code_body)[(i + k) % 3](rng)[1]) for k in range(3)]
        out.append("\n\n".join(parts))
    return out


def file_corpus(path: str, n: int) -> list[str]:
    texts = []
    if os.path.isdir(path):
        for root, _, names in sorted(os.walk(path)):
            for name in sorted(names):
                if name.endswith((".txt", ".md")):
                    with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                        texts.append(f.read())
    else:
        with open(path, encoding="utf-8") as f:
            for line in f:
                texts.append(json.loads(line)["text"])
    if not texts:
        raise SystemExit(f"no texts in {path}")
    while len(texts) < n:
        texts = texts + texts
    return texts[:n]


def batches(xs, size):
    for i in range(0, len(xs), size):
        yield xs[i : i + size]


def run_hf_alone(texts, batch, fast=False):
    t0 = time.perf_counter()
    tok = DocTokenizer().tokenizer
    encode = tok.encode_batch_fast if fast else tok.encode_batch
    n = 0
    for b in batches(texts, batch):
        n += sum(len(e.ids) + 1 for e in encode(b, add_special_tokens=False))
    return n, time.perf_counter() - t0


def run_ours(texts, batch, prefix):
    t0 = time.perf_counter()
    tok = DocTokenizer().load()
    b = IndexedDatasetBuilder(prefix, dtype=tok.dtype)
    for _, arrs in tok.encode_batches((None, chunk) for chunk in batches(texts, batch)):
        b.add_documents(arrs)
    b.finalize()
    return b.num_tokens, time.perf_counter() - t0


_WORKER_TOK = None


def _init_worker(path):
    global _WORKER_TOK
    from tokenizers import Tokenizer

    _WORKER_TOK = Tokenizer.from_file(path)


def _encode_one(text):
    ids = _WORKER_TOK.encode(text, add_special_tokens=False).ids
    ids.append(0)
    return ids


def run_loop(texts, workers, prefix):
    t0 = time.perf_counter()
    tok = DocTokenizer().load()
    b = IndexedDatasetBuilder(prefix, dtype=tok.dtype)
    with mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(default_tokenizer_path(),)) as pool:
        for ids in pool.imap(_encode_one, texts, chunksize=32):
            b.add_document(np.array(ids, dtype=tok.dtype))
    b.finalize()
    return b.num_tokens, time.perf_counter() - t0


METHODS = {
    "ours": lambda a, texts: run_ours(texts, a.batch, a.out),
    "loop": lambda a, texts: run_loop(texts, a.workers, a.out),
    "hf_fast": lambda a, texts: run_hf_alone(texts, a.batch, fast=True),
    "hf": lambda a, texts: run_hf_alone(texts, a.batch),
}


def child(a) -> None:
    """One measurement in this (fresh) process: prints {tokens, seconds, cpu} as JSON."""
    with open(a.texts, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    c0 = os.times()
    n, s = METHODS[a.child](a, texts)
    c1 = os.times()
    cpu = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system", "children_user", "children_system"))
    print(json.dumps({"tokens": n, "seconds": s, "cpu": cpu}))


def measure(a, method: str, texts_path: str, out: str | None = None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, "--texts", texts_path,
           "--batch", str(a.batch), "--workers", str(a.workers)] + (["--out", out] if out else [])
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.workers))
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{method} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def same_ids(p, q) -> bool:
    with IndexedDataset(p) as x, IndexedDataset(q) as y:
        return len(x) == len(y) and all(np.array_equal(x[i], y[i]) for i in range(len(x)))


def spread(xs) -> str:
    return f"median {statistics.median(xs):.2f}x  (min {min(xs):.2f}x, max {max(xs):.2f}x, {len(xs)} rounds)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=512, help="documents per encode_batch call (mix.batch_docs)")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("RAYON_NUM_THREADS", 0)) or os.cpu_count())
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--rounds", type=int, default=5, help="paired rounds (ours and the loop back to back)")
    ap.add_argument("--child", choices=sorted(METHODS), help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    texts = file_corpus(a.corpus, a.docs) if a.corpus else generated_corpus(a.docs)
    chars = sum(len(t) for t in texts)
    print(f"corpus: {len(texts)} documents, {chars / 1e6:.1f} M chars; workers/threads: {a.workers}; "
          f"batch {a.batch}; {a.rounds} rounds, each method in a fresh process")
    tmp = tempfile.mkdtemp(prefix="bench-tok-")
    texts_path = os.path.join(tmp, "texts.jsonl")
    with open(texts_path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    del texts
    ratios: dict[str, list[float]] = {"loop": [], "hf_fast": [], "hf": []}
    cpu_ratio: list[float] = []  # loop CPU-seconds / ours: the work each does, whatever else runs
    for r in range(a.rounds):
        order = ("ours", "loop") if r % 2 == 0 else ("loop", "ours")
        res = {m: measure(a, m, texts_path, os.path.join(tmp, m)) for m in order}
        res.update({m: measure(a, m, texts_path) for m in ("hf_fast", "hf")})
        if not same_ids(os.path.join(tmp, "ours"), os.path.join(tmp, "loop")):
            raise SystemExit(f"round {r + 1}: the shard files of ours and the loop hold different token ids")
        if len({v["tokens"] for v in res.values()}) != 1:
            raise SystemExit(f"round {r + 1}: token counts differ: { {k: v['tokens'] for k, v in res.items()} }")
        rate = {m: v["tokens"] / v["seconds"] for m, v in res.items()}
        for m in ratios:
            ratios[m].append(rate["ours"] / rate[m])
        cpu_ratio.append(res["loop"]["cpu"] / res["ours"]["cpu"])
        print(f"round {r + 1} ({order[0]} first): " + "  ".join(
            f"{m} {v['seconds']:.2f} s ({v['cpu']:.1f} cpu-s)" for m, v in res.items())
            + f"  | ours/loop {ratios['loop'][-1]:.2f}x  ours/hf_fast {ratios['hf_fast'][-1]:.2f}x", flush=True)
    n = res["ours"]["tokens"]
    print(f"{n:,d} tokens per method; identical token ids in ours and the loop in every round")
    print(f"ours / per-doc loop               {spread(ratios['loop'])}   (target >= 2)")
    print(f"ours / HF encode_batch_fast alone {spread(ratios['hf_fast'])}")
    print(f"ours / HF encode_batch alone      {spread(ratios['hf'])}")
    print(f"CPU-seconds, loop / ours          {spread(cpu_ratio)}")


if __name__ == "__main__":
    main()
