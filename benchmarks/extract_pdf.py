"""Benchmark the PDF extractor: text-layer pages/s and reading-order similarity.

Generated PDFs (curate.testing.pdf_docs: one column, two columns, running headers and
footers, formula lines, a scanned page) have known text; similarity is character-level edit
similarity (rapidfuzz's normalized Indel similarity when installed, else difflib's ratio) of
whitespace-normalized text. The peer is PyMuPDF's own ``get_text("text", sort=True)`` on the
same files, timed in the same run. With --corpus, real PDFs (index.jsonl) are run too, to
find bugs: reject reasons, routes, and similarity to a second opinion where one exists.

    python benchmarks/extract_pdf.py [--pages 5] [--seeds 3] [--corpus ../shared/dev-corpus/pdf]
                                     [--nougat CHECKPOINT_DIR]
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds scripts named like stdlib modules (tokenize.py); running this file puts the
# folder first on sys.path, which would shadow them
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import difflib
import json
import re
import time
from collections import Counter

import pymupdf

from curate.errors import Reject
from curate.extractors.config import PDFConfig
from curate.extractors.pdf import PDFExtractor
from curate.testing.pdf_docs import make

KINDS = ["one_column", "two_column", "headers", "formulas", "scanned"]


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def similarity(a: str, b: str) -> float:
    a, b = norm(a), norm(b)
    try:
        from rapidfuzz.distance import Indel

        return Indel.normalized_similarity(a, b)
    except ImportError:
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def peer_text(data: bytes) -> str:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        return "\n\n".join(p.get_text("text", sort=True) for p in doc)


def bench_generated(pages: int, seeds: int, repeat: int) -> None:
    ex = PDFExtractor(PDFConfig())
    print(f"generated PDFs: {pages} pages each (scanned: 2), {seeds} seeds; time = best of {repeat}")
    print(f"{'kind':<12}{'sim':>8}{'peer sim':>10}{'pages/s':>10}{'peer p/s':>10}{'ratio':>8}  routes")
    tot_pages = tot_t = tot_pt = 0.0
    for kind in KINDS:
        sims, psims, t_ours, t_peer, n_pages = [], [], 0.0, 0.0, 0
        routes: Counter = Counter()
        for seed in range(seeds):
            g = make(kind, seed=seed, pages=pages)
            best = best_p = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                text, meta = ex.extract(g.data, kind)
                best = min(best, time.perf_counter() - t0)
                t0 = time.perf_counter()
                ptext = peer_text(g.data)
                best_p = min(best_p, time.perf_counter() - t0)
            t_ours += best
            t_peer += best_p
            n_pages += g.pages
            sims.append(similarity(text, g.truth))
            psims.append(similarity(ptext, g.truth))
            routes.update(f"{p['route']}:{p['reason']}" for p in meta["pages"])
        tot_pages += n_pages
        tot_t += t_ours
        tot_pt += t_peer
        print(
            f"{kind:<12}{min(sims):8.4f}{min(psims):10.4f}{n_pages / t_ours:10.1f}{n_pages / t_peer:10.1f}"
            f"{t_peer / t_ours:8.2f}  {dict(routes)}"
        )
    print(f"{'all':<12}{'':8}{'':10}{tot_pages / tot_t:10.1f}{tot_pages / tot_pt:10.1f}{tot_pt / tot_t:8.2f}")
    print("sim = worst seed; ratio = peer time / our time (<1: we are slower than bare get_text)")


def bench_corpus(folder: str, nougat: str | None) -> None:
    index = os.path.join(folder, "index.jsonl")
    entries = [json.loads(l) for l in open(index)] if os.path.exists(index) else [
        {"file": f} for f in sorted(os.listdir(folder)) if f.endswith(".pdf")
    ]
    ex = PDFExtractor(PDFConfig(nougat_checkpoint=nougat))
    print(f"\ncorpus {folder}: {len(entries)} files" + (f", nougat={nougat}" if nougat else ""))
    for e in entries:
        data = open(os.path.join(folder, e["file"]), "rb").read()
        t0 = time.perf_counter()
        try:
            text, meta = ex.extract(data, e["file"])
        except Reject as r:
            print(f"  {e['file']:<46} REJECT {r.reason} {r.detail[:60]}  [{','.join(e.get('kinds', []))}]")
            continue
        except Exception as err:  # noqa: BLE001 - a crash here is a bug to report, not to hide
            print(f"  {e['file']:<46} CRASH {type(err).__name__}: {err}")
            continue
        dt = time.perf_counter() - t0
        routes = Counter(f"{p['route']}:{p['reason']}" for p in meta["pages"])
        extra = ""
        if e.get("groundtruth"):
            truth = open(os.path.join(folder, e["groundtruth"])).read()
            truth = re.sub(r"<!--.*?-->|^#+ |\*\*|^- ", "", truth, flags=re.M)
            extra = f" sim_vs_{e['groundtruth'].split('.')[-2]}={similarity(text, truth):.3f}"
            extra += f" (peer {similarity(peer_text(data), truth):.3f})"
        print(
            f"  {e['file']:<46} {meta['page_count']:3d}p {len(text):7d}ch {meta['page_count'] / dt:7.1f}p/s "
            f"{dict(routes)} unavailable={meta['ocr_unavailable_pages']}{extra}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--corpus", default=None, help="folder of real PDFs (with index.jsonl) to try")
    ap.add_argument("--nougat", default=None, help="Nougat checkpoint directory for the corpus run")
    a = ap.parse_args()
    bench_generated(a.pages, a.seeds, a.repeat)
    if a.corpus:
        bench_corpus(a.corpus, a.nougat)


if __name__ == "__main__":
    main()
