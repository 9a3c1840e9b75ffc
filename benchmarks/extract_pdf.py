"""Benchmark the PDF extractor against pymupdf4llm and bare get_text, in the same run.

1. Structure: papers made by curate.testing.pdf_docs.structured (title, sections, bold
   subsections, lists, code listings, ruled tables, in one and two columns) with known
   Markdown. Per extractor: reading-order similarity (plain text, markup removed, against the
   known text), heading recall (known headings found as Markdown headings), code-block recall
   (known listings found whole, line by line, inside one fenced block), table-cell recall
   (known cells found in Markdown table rows), pages/s.
2. Layout: the generated kinds (one column, two columns, running headers, formula lines, a
   scanned page): similarity and pages/s against get_text(sort=True).
3. OCR: image-only pages rasterised from known text (fonts helv, tiro, cour; 150 and 300 DPI;
   no skew and 1° skew): character error rate of Tesseract through curate, and pages/s.
4. With --corpus: real PDFs (index.jsonl): route taken per page, characters produced, and
   similarity and heading recall against the *.docling.md second opinion where one exists.

Similarity is character-level edit similarity (difflib's ratio without autojunk) of
whitespace-normalised text. Times are the best of --repeat runs.

    python benchmarks/extract_pdf.py [--seeds 3] [--repeat 3] [--no-ocr]
                                     [--corpus ../shared/dev-corpus/pdf] [--nougat CHECKPOINT_DIR]
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
import logging
import re
import statistics
import time
from collections import Counter

import pymupdf

from curate.errors import Reject
from curate.extractors.config import PDFConfig
from curate.extractors.pdf import PDFExtractor
from curate.testing.pdf_docs import char_error_rate, make, plain_text, scanned, structured

KINDS = ["one_column", "two_column", "headers", "formulas", "scanned"]


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, norm(a), norm(b), autojunk=False).ratio()


def _unmark(s: str) -> str:
    return norm(re.sub(r"\*\*|__|`", "", s)).lower()


def headings(md: str) -> list[str]:
    return [_unmark(m.group(1)) for m in re.finditer(r"(?m)^#{1,6}\s+(.+)$", md)]


def fenced_blocks(md: str) -> list[list[str]]:
    return [[l.strip() for l in m.group(1).splitlines() if l.strip()]
            for m in re.finditer(r"(?ms)^\s*(?:`{3,}|~{3,})[^\n]*\n(.*?)^\s*(?:`{3,}|~{3,})\s*$", md)]


def table_cells(md: str) -> list[str]:
    cells = []
    for ln in md.splitlines():
        t = ln.strip()
        if t.startswith("|") and not re.fullmatch(r"[|:\-\s]+", t):
            cells += [_unmark(c.replace("\\|", "|")) for c in re.split(r"(?<!\\)\|", t.strip("|"))]
    return cells


def recall(found: list[str], want: list[str]) -> float:
    have = Counter(found)
    hit = 0
    for w in want:
        if have[w] > 0:
            have[w] -= 1
            hit += 1
    return hit / len(want) if want else 1.0


def code_recall(md: str, want: list[str]) -> float:
    blocks = fenced_blocks(md)
    hit = 0
    for code in want:
        lines = [l.strip() for l in code.splitlines() if l.strip()]
        if any(any(b[i : i + len(lines)] == lines for i in range(len(b) - len(lines) + 1)) for b in blocks):
            hit += 1
    return hit / len(want) if want else 1.0


# ------------------------------------------------------------------ the extractors compared


def curate_md(ex: PDFExtractor):
    return lambda data: ex.extract(data, "bench.pdf")[0]


def pymupdf4llm_md(data: bytes) -> str:
    import contextlib
    import io

    import pymupdf4llm

    with pymupdf.open(stream=data, filetype="pdf") as doc, contextlib.redirect_stdout(io.StringIO()):
        return pymupdf4llm.to_markdown(doc, show_progress=False)


def get_text(data: bytes) -> str:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        return "\n\n".join(p.get_text("text", sort=True) for p in doc)


def timed(fn, data: bytes, repeat: int) -> tuple[str, float]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(data)
        best = min(best, time.perf_counter() - t0)
    return out, best


def bench_structure(seeds: int, repeat: int) -> None:
    ex = PDFExtractor(PDFConfig(tesseract=False))
    peers = {"curate": curate_md(ex), "pymupdf4llm": pymupdf4llm_md, "get_text": get_text}
    print(f"\n1. structure: generated papers, {seeds} seeds x 1 and 2 columns; time = best of {repeat}")
    print(f"{'extractor':<13}{'order sim':>10}{'headings':>10}{'code':>8}{'cells':>8}{'pages/s':>9}   (median; min-max)")
    rows: dict[str, dict[str, list[float]]] = {k: {m: [] for m in ("sim", "head", "code", "cell", "pps")} for k in peers}
    for cols in (1, 2):
        for seed in range(seeds):
            g, st = structured(seed=seed, columns=cols)
            want_heads = [_unmark(h) for h in st.headings]
            want_cells = [_unmark(c) for c in st.table_cells]
            for name, fn in peers.items():
                md, dt = timed(fn, g.data, repeat)
                r = rows[name]
                r["sim"].append(similarity(plain_text(md), g.truth))
                r["head"].append(recall(headings(md), want_heads))
                r["code"].append(code_recall(md, st.code_blocks))
                r["cell"].append(recall(table_cells(md), want_cells))
                r["pps"].append(g.pages / dt)

    def fmt(v: list[float], w: int, d: int = 3) -> str:
        return f"{statistics.median(v):{w}.{d}f}"

    for name, r in rows.items():
        spread = "  ".join(f"{k} {min(v):.3f}-{max(v):.3f}" for k, v in r.items() if k != "pps")
        print(f"{name:<13}{fmt(r['sim'], 10)}{fmt(r['head'], 10)}{fmt(r['code'], 8)}{fmt(r['cell'], 8)}"
              f"{fmt(r['pps'], 9, 1)}   {spread}")
    ours, peer = rows["curate"], rows["pymupdf4llm"]
    print("curate / pymupdf4llm pages/s: " + f"{statistics.median(ours['pps']) / statistics.median(peer['pps']):.2f}x")


def bench_layout(pages: int, seeds: int, repeat: int) -> None:
    ex = PDFExtractor(PDFConfig(tesseract=False))
    print(f"\n2. layout: generated PDFs, {pages} pages each (scanned: 2, without OCR), {seeds} seeds")
    print(f"{'kind':<12}{'sim':>8}{'get_text':>10}{'pages/s':>10}{'get_text':>10}  routes")
    for kind in KINDS:
        sims, psims, t_ours, t_peer, n_pages = [], [], 0.0, 0.0, 0
        routes: Counter = Counter()
        for seed in range(seeds):
            g = make(kind, seed=seed, pages=pages)
            (text, meta), dt = timed(lambda d: ex.extract(d, kind), g.data, repeat)
            ptext, pdt = timed(get_text, g.data, repeat)
            t_ours += dt
            t_peer += pdt
            n_pages += g.pages
            sims.append(similarity(plain_text(text), g.truth))
            psims.append(similarity(ptext, g.truth))
            routes.update(f"{p['route']}:{p['reason']}" for p in meta["pages"])
        print(f"{kind:<12}{min(sims):8.4f}{min(psims):10.4f}{n_pages / t_ours:10.1f}{n_pages / t_peer:10.1f}  {dict(routes)}")
    print("sim = worst seed")


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the tesseract runs): a measure
    that a busy machine does not inflate as it does wall time."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_ocr(repeat: int) -> None:
    ex = PDFExtractor(PDFConfig())
    if ex.tesseract is None:
        print(f"\n3. OCR: skipped, {ex._tess_error}")
        return
    print(f"\n3. OCR: image-only pages of known text through curate (Tesseract {ex.tesseract.version}, "
          f"rendered at {ex.cfg.tesseract_dpi} DPI); time = best of {repeat}")
    print(f"{'font':<6}{'scan dpi':>9}{'skew':>6}{'CER':>8}{'conf':>7}{'pages/s':>9}{'CPU s/page':>11}  route")
    by_dpi: dict[int, list[float]] = {}
    for font in ("helv", "tiro", "cour"):
        for dpi in (150, 300):
            for skew in (0.0, 1.0):
                g = scanned(seed=7, dpi=dpi, font=font, skew=skew)
                cpu0 = _cpu_s()
                (text, meta), dt = timed(lambda d: ex.extract(d, "scan.pdf"), g.data, repeat)
                cpu = (_cpu_s() - cpu0) / repeat
                p = meta["pages"][0]
                cer = char_error_rate(text, g.truth)
                by_dpi.setdefault(dpi, []).append(cer)
                print(f"{font:<6}{dpi:9d}{skew:6.1f}{cer:8.4f}{p.get('tesseract_confidence', 0):7.1f}{1 / dt:9.2f}"
                      f"{cpu:11.2f}  {p['route']}:{p['reason']}")
    for dpi, v in by_dpi.items():
        print(f"CER at {dpi} DPI: median {statistics.median(v):.4f}, max {max(v):.4f}")


def bench_corpus(folder: str, nougat: str | None) -> None:
    index = os.path.join(folder, "index.jsonl")
    entries = [json.loads(l) for l in open(index)] if os.path.exists(index) else [
        {"file": f} for f in sorted(os.listdir(folder)) if f.endswith(".pdf")
    ]
    ex = PDFExtractor(PDFConfig(nougat_checkpoint=nougat))
    print(f"\n4. corpus {folder}: {len(entries)} files" + (f", nougat={nougat}" if nougat else ""))
    for e in entries:
        data = open(os.path.join(folder, e["file"]), "rb").read()
        t0 = time.perf_counter()
        try:
            text, meta = ex.extract(data, e["file"])
        except Reject as r:
            print(f"  {e['file']:<44} REJECT {r.reason} {r.detail[:90]}  [{','.join(e.get('kinds', []))}]")
            continue
        except Exception as err:  # noqa: BLE001 - a crash here is a bug to report, not to hide
            print(f"  {e['file']:<44} CRASH {type(err).__name__}: {err}")
            continue
        dt = time.perf_counter() - t0
        routes = Counter(f"{p['route']}:{p['reason']}" for p in meta["pages"])
        print(f"  {e['file']:<44} {meta['page_count']:3d}p {len(text):7d}ch {meta['page_count'] / dt:6.1f}p/s "
              f"{dict(routes)} ocr_failed={meta.get('ocr_failed_pages', 0)} unavailable={meta['ocr_unavailable_pages']}")
        for p in meta["pages"]:
            if p["reason"] == "scanned":
                conf = p.get("tesseract_confidence")
                print(f"      page {p['page']}: {p['route']} ({p['ocr']}), confidence {conf}, "
                      f"rejected {[r['reason'] for r in p.get('rejected', [])]}")
        if e.get("groundtruth"):
            truth = open(os.path.join(folder, e["groundtruth"])).read()
            truth_plain = plain_text(re.sub(r"<!--.*?-->", "", truth, flags=re.S))
            want_heads, want_cells = headings(truth), table_cells(truth)
            want_code = ["\n".join(b) for b in fenced_blocks(truth)]
            print(f"      vs {e['groundtruth']} ({len(want_heads)} headings, {len(want_code)} code blocks, "
                  f"{len(want_cells)} table cells):")
            for name, md in (("curate", text), ("pymupdf4llm", pymupdf4llm_md(data)), ("get_text", get_text(data))):
                print(f"        {name:<12} sim {similarity(plain_text(md), truth_plain):.3f}"
                      f"  headings {recall(headings(md), want_heads):.2f}  code {code_recall(md, want_code):.2f}"
                      f"  cells {recall(table_cells(md), want_cells):.2f}")
        if any(k in e.get("kinds", []) for k in ("scanned", "ocr")) or "scan" in e["file"]:
            print(f"      text: {norm(text)[:160]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-ocr", action="store_true", help="skip the OCR part (3)")
    ap.add_argument("--corpus", default=None, help="folder of real PDFs (with index.jsonl) to try")
    ap.add_argument("--nougat", default=None, help="Nougat checkpoint directory for the corpus run")
    a = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    bench_structure(a.seeds, a.repeat)
    bench_layout(a.pages, a.seeds, a.repeat)
    if not a.no_ocr:
        bench_ocr(max(1, a.repeat - 2))
    if a.corpus:
        bench_corpus(a.corpus, a.nougat)


if __name__ == "__main__":
    main()
