"""Benchmark: decontamination throughput and memory against a 50k-item benchmark set.

    .venv/bin/python benchmarks/decontam.py [--items 50000] [--docs 2000] [--words 600] [--repeat 3]

Builds a synthetic benchmark set (--items problems of 20–60 words drawn from a 5,000-word
vocabulary, fixed seed) and --docs documents of --words words, one in ten with a planted item,
then checks every document with
  * curate:  ``curate.synth.decontam.NgramIndex`` (64-bit gram hashes in sorted numpy arrays,
             one ``searchsorted`` per document), and
  * python:  a plain-Python peer: a ``set`` of 13-word tuples per benchmark item, each document's
             13-grams looked up one by one (the same normalized words),
each in a fresh subprocess, --repeat times. Prints per method the median (min–max) of build
seconds, documents/s and peak RSS growth over the process baseline (MiB), the ratios curate /
python, and checks both found the same planted documents.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402


def corpus(items: int, docs: int, words: int, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    bench = [" ".join(rng.choices(vocab, k=rng.randint(20, 60))) for _ in range(items)]
    texts = []
    for d in range(docs):
        body = rng.choices(vocab, k=words)
        if d % 10 == 0:
            at = rng.randrange(words)
            body[at:at] = bench[rng.randrange(items)].split()[:15]
        texts.append(" ".join(body))
    return bench, texts


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, items: int, docs: int, words: int) -> dict:
    from curate.synth.decontam import Item, NgramIndex, words as norm_words

    bench, texts = corpus(items, docs, words)
    norm_words("warm up the normalizer's tables")
    base = _rss_mib()
    t0 = time.perf_counter()
    n = 13
    if method == "curate":
        idx = NgramIndex([Item("bench", i, t) for i, t in enumerate(bench)], n=n, min_tokens=8)
        match = idx.match
    else:
        grams: dict[tuple[str, ...], int] = {}
        for i, t in enumerate(bench):
            ws = norm_words(t)
            for j in range(len(ws) - n + 1):
                grams.setdefault(tuple(ws[j: j + n]), i)

        def match(text):
            ws = norm_words(text)
            for j in range(len(ws) - n + 1):
                if tuple(ws[j: j + n]) in grams:
                    return True
            return None
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits = [i for i, t in enumerate(texts) if match(t) is not None]
    run = time.perf_counter() - t0
    return {"build_s": build, "docs_per_s": len(texts) / run, "rss_mib": _rss_mib() - base, "hits": hits}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--words", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", choices=["curate", "python"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.items, a.docs, a.words)))
        return
    runs: dict[str, list[dict]] = {"curate": [], "python": []}
    for _ in range(a.repeat):
        for m in runs:
            out = subprocess.run([sys.executable, __file__, "--worker", m, "--items", str(a.items), "--docs", str(a.docs),
                                  "--words", str(a.words)], check=True, capture_output=True, text=True).stdout
            runs[m].append(json.loads(out.strip().splitlines()[-1]))
    hits = {m: r[0]["hits"] for m, r in runs.items()}
    print(f"{a.items} benchmark items, {a.docs} documents of {a.words} words, {a.repeat} runs each; "
          f"planted found: curate {len(hits['curate'])}, python {len(hits['python'])}, same: {hits['curate'] == hits['python']}")
    med = {}
    for key, unit in (("build_s", "s"), ("docs_per_s", "docs/s"), ("rss_mib", "MiB")):
        for m, rs in runs.items():
            v = [r[key] for r in rs]
            med[(m, key)] = statistics.median(v)
            print(f"  {m:7s} {key:10s} {statistics.median(v):10.2f} {unit} (min {min(v):.2f} – max {max(v):.2f})")
        ratio = med[("curate", key)] / med[("python", key)] if med[("python", key)] else float("nan")
        print(f"  ratio curate/python {key}: {ratio:.2f}")


if __name__ == "__main__":
    main()
