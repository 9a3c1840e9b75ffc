"""Tokens/s of writing Megatron shards, against two peers measured in the same run.

    python benchmarks/tokenize_shards.py [--docs 20000] [--workers N] [--corpus DIR_OR_JSONL]

* ceiling: ``Tokenizer.encode_batch`` over the same batches, nothing written (also shown:
  ``encode_batch_fast``, which the writer uses);
* ours: ``DocTokenizer.encode`` (batch encoding + EOD) into ``IndexedDatasetBuilder``, finalized;
* loop: Megatron ``preprocess_data``-style, one ``encode`` call per document in a
  ``multiprocessing.Pool`` of the same number of workers (imap, chunksize 32), the parent
  writing each document to the builder.

Targets: ours ≥ 0.8 × ceiling and ≥ 2 × loop. The corpus is generated from the embedded
sample's text banks unless --corpus points at .txt/.md files or a JSONL with a "text" field.
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


def run_ceiling(texts, batch, fast=False):
    tok = DocTokenizer().tokenizer
    t0 = time.perf_counter()
    n = 0
    for b in batches(texts, batch):
        encs = tok.encode_batch_fast(b, add_special_tokens=False) if fast else tok.encode_batch(b, add_special_tokens=False)
        n += sum(len(e.ids) + 1 for e in encs)
    return n, time.perf_counter() - t0


def run_ours(texts, batch, prefix):
    tok = DocTokenizer().load()
    t0 = time.perf_counter()
    b = IndexedDatasetBuilder(prefix, dtype=tok.dtype)
    for chunk in batches(texts, batch):
        for arr in tok.encode(chunk):
            b.add_document(arr)
    b.finalize()
    return b.num_tokens, time.perf_counter() - t0


_WORKER_TOK = None


def _init_worker(path):
    global _WORKER_TOK
    os.environ["RAYON_NUM_THREADS"] = "1"
    from tokenizers import Tokenizer

    _WORKER_TOK = Tokenizer.from_file(path)


def _encode_one(text):
    ids = _WORKER_TOK.encode(text, add_special_tokens=False).ids
    ids.append(0)
    return ids


def run_loop(texts, workers, prefix):
    tok = DocTokenizer().load()
    t0 = time.perf_counter()
    b = IndexedDatasetBuilder(prefix, dtype=tok.dtype)
    with mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(default_tokenizer_path(),)) as pool:
        for ids in pool.imap(_encode_one, texts, chunksize=32):
            b.add_document(np.array(ids, dtype=tok.dtype))
    b.finalize()
    return b.num_tokens, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=512, help="documents per encode_batch call (mix.batch_docs)")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("RAYON_NUM_THREADS", 0)) or os.cpu_count())
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--repeat", type=int, default=2, help="best of N runs per method")
    a = ap.parse_args()
    texts = file_corpus(a.corpus, a.docs) if a.corpus else generated_corpus(a.docs)
    chars = sum(len(t) for t in texts)
    print(f"corpus: {len(texts)} documents, {chars / 1e6:.1f} M chars; workers/threads: {a.workers}; batch {a.batch}")
    os.environ.setdefault("RAYON_NUM_THREADS", str(a.workers))
    tmp = tempfile.mkdtemp(prefix="bench-tok-")
    res = {}
    for _ in range(a.repeat):
        for name, fn in (
            ("ceiling encode_batch", lambda: run_ceiling(texts, a.batch)),
            ("ceiling encode_batch_fast", lambda: run_ceiling(texts, a.batch, fast=True)),
            ("shards (ours)", lambda: run_ours(texts, a.batch, os.path.join(tmp, "ours"))),
            ("per-doc loop", lambda: run_loop(texts, a.workers, os.path.join(tmp, "loop"))),
        ):
            n, s = fn()
            best = res.get(name)
            if best is None or n / s > best[0] / best[1]:
                res[name] = (n, s)
    ours, loop = IndexedDataset(os.path.join(tmp, "ours")), IndexedDataset(os.path.join(tmp, "loop"))
    same = len(ours) == len(loop) and all(np.array_equal(ours[i], loop[i]) for i in range(len(ours)))
    for name, (n, s) in res.items():
        print(f"{name:28s} {n:>12,d} tokens {s:8.2f} s {n / s / 1e6:8.3f} M tokens/s")
    r = {k: v[0] / v[1] for k, v in res.items()}
    c = r["ceiling encode_batch"]
    print(f"shards / ceiling(encode_batch)      = {r['shards (ours)'] / c:.2f}x   (target >= 0.8)")
    print(f"shards / ceiling(encode_batch_fast) = {r['shards (ours)'] / r['ceiling encode_batch_fast']:.2f}x")
    print(f"shards / per-doc loop               = {r['shards (ours)'] / r['per-doc loop']:.2f}x   (target >= 2)")
    print(f"identical token ids in both shard files: {same}")


if __name__ == "__main__":
    main()
