"""Benchmark: curate's HTML extractor against plain `trafilatura.extract`, same pages, same run.

    python benchmarks/extract_html.py [MATH_DIR] [CODE_DIR] [GENERAL_DIR] [--misses N] [--runs N]
                                      [--end-to-end N]

Defaults are the dev corpus in /work/shared/dev-corpus/{math_html,code_html,general_html}.
Prints, for both extractors:
  * formula retention on MATH_DIR (truth.jsonl): a formula counts when its normalized TeX
    (whitespace, braces, `\\displaystyle` and HTML line breaks dropped) equals, or for longer
    ones is contained in, a math span of the output (`$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]`,
    `\\begin{env}…\\end{env}`). Truth given as MathML is turned into TeX with the project's
    converter first; AsciiMath truth is turned into LaTeX with the project's converter
    (py-asciimath) and looked for as a math span, else in the text as written.
  * code-block retention on CODE_DIR (truth.jsonl): a block counts when all its non-blank
    lines (stripped, nbsp as space) appear in order inside one fenced block of the output; a
    truth line may match consecutive output lines glued together (whitespace ignored), since
    truth taken from an element's text glues the lines a page lays out as one `<div>` each.
  * main-text F1 on GENERAL_DIR (ground-truth.json → articleBody) with the article-extraction
    benchmark's own scoring: `\\w+` tokens, lower-cased, in 4-gram shingles, F1 per page,
    averaged; trafilatura with its defaults and with `favor_precision`, pages where we do worse.
  * pages/s of the extractor alone against `trafilatura.extract` (same pages, alternating order;
    the first pass over all pages, then --runs-1 more over the general pages: median and range),
    and with --end-to-end N, `curate extract` over the general pages (one process per run,
    Beam and the extraction child included) against trafilatura over the same files in one
    process.
Truth entries that are layout rather than formulas (MathJax's `$\\begingroup$`/`$\\endgroup$`
around each Stack Exchange post, AsciiMath spacers made only of `\\ `) are set aside, and
counted. Our extractor runs with min_chars=0: the length floor is a filter, not extraction.
Every formula and code block that we miss is printed with the element path where it stood
in the page, marked CHROME when that path runs through navigation, sidebars, comments, etc.
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds scripts named like stdlib modules (tokenize.py): keep it off the import path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import lxml.html  # noqa: E402
import trafilatura  # noqa: E402

from curate.errors import Reject  # noqa: E402
from curate.extractors.asciimath import asciimath_to_latex  # noqa: E402
from curate.extractors.config import HTMLConfig  # noqa: E402
from curate.extractors.html import HTMLExtractor  # noqa: E402
from curate.extractors.markup import PARSER  # noqa: E402
from curate.extractors.mathml import mathml_to_latex  # noqa: E402

CORPUS = Path("/work/shared/dev-corpus")
_SEG = re.compile(
    r"(?s)\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(\\begin\{([a-zA-Z*]+)\}.*?\\end\{\5\})|(?<!\\)\$(.+?)(?<!\\)\$"
)
_LAYOUT_ONLY = re.compile(r"^\s*(?:\\begingroup|\\endgroup|(?:\\\s|\s)*\\?)\s*$")
_CODE_FENCE = re.compile(r"(?ms)^(`{3,})[^\n]*\n(.*?)^\1[ \t]*$")
_NO_WS = re.compile(r"\s+")
_CHROME = re.compile(r"nav|menu|footer|header|sidebar|comment|related|breadcrumb|widget|share|banner|toolbar", re.I)


def plain(content: bytes, uri: str, **kw) -> str:
    return trafilatura.extract(content, url=uri, output_format="markdown", include_tables=True,
                               include_formatting=True, **kw) or ""


def norm_tex(s: str) -> str:
    s = re.sub(r"<br\s*/?>", " ", s).strip()
    m = re.fullmatch(r"(?s)\{\\displaystyle\s*(.*)\}", s)
    if m:
        s = m.group(1)
    s = re.sub(r"\\(?:displaystyle|textstyle)\b", "", s)
    return re.sub(r"[\s{}]", "", s)


def truth_tex(formula: str, kind: str) -> str:
    if kind.startswith("mathml") or "mml" in kind or formula.lstrip().startswith("<math"):
        try:
            el = lxml.html.fragment_fromstring(formula, parser=PARSER)
            return norm_tex(mathml_to_latex(el))
        except Exception:  # noqa: BLE001 - a truth entry we cannot read counts as missed
            return norm_tex(formula)
    return norm_tex(formula)


def segments(text: str) -> list[str]:
    out = []
    for m in _SEG.finditer(text):
        body = next(g for g in (m.group(1), m.group(2), m.group(3), m.group(4), m.group(6)) if g is not None)
        out.append(norm_tex(body))
        envm = re.fullmatch(r"(?s)\\begin\{[a-zA-Z*]+\}(.*)\\end\{[a-zA-Z*]+\}", body.strip())
        if envm:
            out.append(norm_tex(envm.group(1)))
    return out


def formula_hits(truth: list[str], kinds: list[str], output: str) -> list[bool]:
    segs = segments(output)
    pool = Counter(segs)
    flat = re.sub(r"\s+", "", output.replace("\\_", "_").replace("\\*", "*"))
    hits = []
    for f, kind in zip(truth, kinds):
        if kind.startswith("asciimath"):
            tex = asciimath_to_latex(f)
            n = norm_tex(tex) if tex else ""
            if not n or not pool.get(n, 0):
                hits.append(re.sub(r"\s+", "", f) in flat)
                continue
        else:
            n = truth_tex(f, kind)
        if pool.get(n, 0) > 0:
            pool[n] -= 1
            hits.append(True)
        else:
            hits.append(bool(n) and len(n) >= 6 and any(n in s for s in segs))
    return hits


def _lines(block: str) -> list[str]:
    return [ln.replace("\u00a0", " ").strip() for ln in block.split("\n") if ln.replace("\u00a0", " ").strip()]


def _in_order(want: list[str], block: list[str]) -> bool:
    """Every wanted line appears, in order, as one line of `block` or as consecutive lines of it
    glued (compared without whitespace): truth taken from `text_content()` glues the lines that a
    page renders as one `<div>` each."""
    squeezed = [_NO_WS.sub("", line) for line in block]
    pos = 0
    for w in want:
        if w in block[pos:]:
            pos = block.index(w, pos) + 1
            continue
        ws = _NO_WS.sub("", w)
        found = False
        while pos < len(block) and not found:
            if squeezed[pos] and ws.startswith(squeezed[pos]):
                joined, end = "", pos
                while end < len(block) and len(joined) < len(ws):
                    joined += squeezed[end]
                    end += 1
                found = joined == ws
                if found:
                    pos = end
            if not found:
                pos += 1
        if not found:
            return False
    return True


def code_hits(truth: list[str], output: str) -> list[bool]:
    blocks = [_lines(m.group(2)) for m in _CODE_FENCE.finditer(output)]
    hits = []
    for t in truth:
        want = _lines(t)
        hits.append(bool(want) and any(_in_order(want, b) for b in blocks))
    return hits


def where(tree, probe: str) -> str:
    """Element path (last 5 steps) of the first element whose text or attributes hold `probe`."""
    probe = re.sub(r"\s+", " ", probe).strip()[:40]
    if not probe:
        return "?"
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        texts = [el.text or "", el.tail or ""] + [v for k, v in el.attrib.items() if k in ("alt", "alttext", "aria-label", "src", "title")]
        if any(probe in re.sub(r"\s+", " ", t) for t in texts):
            steps = []
            for a in [el] + list(el.iterancestors()):
                if not isinstance(a.tag, str):
                    continue
                step = a.tag + (f"#{a.get('id')}" if a.get("id") else "") + (
                    "." + ".".join((a.get("class") or "").split()[:2]) if a.get("class") else "")
                steps.append(step)
            path = ">".join(reversed(steps[:6]))
            return ("CHROME " if _CHROME.search(" ".join(steps)) else "content ") + path
    return "not located"


def _probe_formula(f: str, kind: str) -> str:
    if f.lstrip().startswith("<math"):
        return re.sub(r"<[^>]+>", " ", f)
    return re.sub(r"<br\s*/?>", " ", f)


def _probe_code(c: str) -> str:
    lines = _lines(c)
    return max(lines, key=len)[:40] if lines else ""


class Timer:
    def __init__(self):
        self.ours = 0.0
        self.plain = 0.0
        self.pages = 0


def run_pair(ex: HTMLExtractor, content: bytes, uri: str, timer: Timer) -> tuple[str, str]:
    order = timer.pages % 2
    res = {}
    for who in (("ours", "plain") if order == 0 else ("plain", "ours")):
        t0 = time.perf_counter()
        if who == "ours":
            try:
                res[who] = ex.extract(content, uri)[0]
            except Reject:
                res[who] = ""
        else:
            res[who] = plain(content, uri)
        setattr(timer, who, getattr(timer, who) + time.perf_counter() - t0)
    timer.pages += 1
    return res["ours"], res["plain"]


def load_truth(folder: Path) -> list[dict]:
    path = folder / "truth.jsonl"
    if not path.is_file():
        sys.exit(f"error: {path} not found (is {folder} a dev-corpus folder?)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bench_math(folder: Path, ex, timer, misses_max: int) -> tuple[int, int, int, list[float], list[float]]:
    total = ours_n = plain_n = 0
    pages_o: list[float] = []
    pages_p: list[float] = []
    set_aside = 0
    print(f"\n== formulas: {folder}")
    print(f"{'file':60} {'n':>5} {'ours':>5} {'traf':>5}")
    missed = []
    for rec in load_truth(folder):
        content = (folder / rec["file"]).read_bytes()
        ours, pl = run_pair(ex, content, rec["file"], timer)
        kinds = rec.get("formula_kinds") or [rec.get("kind", "")] * len(rec["formulas"])
        kept = [i for i, f in enumerate(rec["formulas"]) if not _LAYOUT_ONLY.match(f)]
        set_aside += len(rec["formulas"]) - len(kept)
        rec = {**rec, "formulas": [rec["formulas"][i] for i in kept]}
        kinds = [kinds[i] for i in kept]
        h_o = formula_hits(rec["formulas"], kinds, ours)
        h_p = formula_hits(rec["formulas"], kinds, pl)
        total += len(h_o)
        ours_n += sum(h_o)
        plain_n += sum(h_p)
        print(f"{rec['file'][:60]:60} {len(h_o):5} {sum(h_o):5} {sum(h_p):5}")
        if h_o:
            pages_o.append(sum(h_o) / len(h_o))
            pages_p.append(sum(h_p) / len(h_p))
        if not all(h_o):
            tree = lxml.html.document_fromstring(content.decode("utf-8", "replace"), parser=PARSER)
            for f, k, ok in zip(rec["formulas"], kinds, h_o):
                if not ok:
                    missed.append((rec["file"], k, f, where(tree, _probe_formula(f, k))))
    print(f"set aside: {set_aside} truth entries that are layout, not formulas (MathJax's per-post "
          f"`$\\begingroup$`/`$\\endgroup$` scoping, AsciiMath `\\ \\ \\ ` spacers)")
    print(f"formula retention: ours {ours_n}/{total} = {ours_n / max(1, total):.1%}   "
          f"trafilatura {plain_n}/{total} = {plain_n / max(1, total):.1%}")
    chrome = sum(1 for m in missed if m[3].startswith("CHROME"))
    print(f"missed by ours: {len(missed)} ({chrome} in page chrome); first {misses_max}:")
    for file, kind, f, loc in missed[:misses_max]:
        print(f"  MISS {file[:40]} [{kind}] {re.sub(chr(10), ' ', f)[:70]!r} @ {loc[:150]}")
    return total, ours_n, plain_n, pages_o, pages_p


def bench_code(folder: Path, ex, timer, misses_max: int) -> tuple[int, int, int]:
    total = ours_n = plain_n = 0
    print(f"\n== code blocks: {folder}")
    print(f"{'file':60} {'n':>5} {'ours':>5} {'traf':>5}")
    missed = []
    for rec in load_truth(folder):
        content = (folder / rec["file"]).read_bytes()
        ours, pl = run_pair(ex, content, rec["file"], timer)
        blocks = [b for b in rec["code_blocks"] if _lines(b)]
        h_o, h_p = code_hits(blocks, ours), code_hits(blocks, pl)
        total += len(h_o)
        ours_n += sum(h_o)
        plain_n += sum(h_p)
        print(f"{rec['file'][:60]:60} {len(h_o):5} {sum(h_o):5} {sum(h_p):5}")
        if not all(h_o):
            tree = lxml.html.document_fromstring(content.decode("utf-8", "replace"), parser=PARSER)
            for b, ok in zip(blocks, h_o):
                if not ok:
                    missed.append((rec["file"], b, where(tree, _probe_code(b))))
    print(f"code-block retention: ours {ours_n}/{total} = {ours_n / max(1, total):.1%}   "
          f"trafilatura {plain_n}/{total} = {plain_n / max(1, total):.1%}")
    chrome = sum(1 for m in missed if m[2].startswith("CHROME"))
    print(f"missed by ours: {len(missed)} ({chrome} in page chrome); first {misses_max}:")
    for file, b, loc in missed[:misses_max]:
        print(f"  MISS {file[:40]} {b.strip()[:70]!r} @ {loc[:150]}")
    return total, ours_n, plain_n


def _shingles(text: str, n: int = 4) -> Counter:
    words = re.findall(r"\w+", text.lower())
    if len(words) < n:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def f1(pred: str, gold: str) -> float:
    """The article-extraction benchmark's score: `\\w+` tokens in 4-gram shingles, F1 per page."""
    p, g = _shingles(pred), _shingles(gold)
    if not p and not g:
        return 1.0
    common = sum((p & g).values())
    if not common:
        return 0.0
    prec, rec = common / sum(p.values()), common / sum(g.values())
    return 2 * prec * rec / (prec + rec)


def bench_general(folder: Path, ex, timer, misses_max: int) -> tuple[float, float, float]:
    gt_path = folder / "ground-truth.json"
    if not gt_path.is_file():
        sys.exit(f"error: {gt_path} not found (is {folder} the general_html folder?)")
    truth = json.loads(gt_path.read_text())
    f_o, f_p, f_fp, ids = [], [], [], []
    for page_id, rec in sorted(truth.items()):
        path = folder / "html" / f"{page_id}.html.gz"
        if not path.is_file():
            continue
        content = gzip.decompress(path.read_bytes())
        ours, pl = run_pair(ex, content, rec.get("url") or page_id, timer)
        gold = rec.get("articleBody") or ""
        f_o.append(f1(ours, gold))
        f_p.append(f1(pl, gold))
        f_fp.append(f1(plain(content, rec.get("url") or page_id, favor_precision=True), gold))
        ids.append(page_id)
    n = max(1, len(f_o))
    mo, mp, mfp = sum(f_o) / n, sum(f_p) / n, sum(f_fp) / n
    print(f"\n== main-text F1 (\\w+ tokens, 4-gram shingles, per page averaged): {folder} ({len(f_o)} pages)")
    print(f"mean F1: ours {mo:.4f}   trafilatura {mp:.4f}   trafilatura favor_precision {mfp:.4f}   "
          f"(ours better than default on {sum(a > b for a, b in zip(f_o, f_p))}, "
          f"worse on {sum(a < b for a, b in zip(f_o, f_p))})")
    worst = sorted(zip(ids, f_o, f_p), key=lambda t: t[1] - t[2])[:misses_max]
    for page_id, a, b in worst:
        if a < b:
            print(f"  WORSE {page_id} ours {a:.3f} trafilatura {b:.3f}")
    return mo, mp, mfp


def end_to_end(folder: Path, runs: int) -> list[tuple[float, float]]:
    """`curate extract` over the general pages (written out as .html files) against plain
    `trafilatura.extract` over the same files in one process; (curate s, trafilatura s) per run."""
    import shutil
    import subprocess
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        pages = Path(tmp) / "pages"
        pages.mkdir()
        for gz in sorted((folder / "html").glob("*.html.gz")):
            (pages / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
        curate = shutil.which("curate") or str(Path(sys.executable).with_name("curate"))
        for _ in range(runs):
            t0 = time.perf_counter()
            for f in sorted(pages.iterdir()):
                plain(f.read_bytes(), f.name)
            t_plain = time.perf_counter() - t0
            target = Path(tmp) / "out"
            shutil.rmtree(target, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([curate, "-q", "extract", str(pages), "--output", str(target)], check=True,
                           stdout=subprocess.DEVNULL)
            out.append((time.perf_counter() - t0, t_plain))
    return out


def _spread(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {xs[len(xs) // 2]:.2f} (min {xs[0]:.2f} – max {xs[-1]:.2f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("math_dir", nargs="?", default=str(CORPUS / "math_html"))
    ap.add_argument("code_dir", nargs="?", default=str(CORPUS / "code_html"))
    ap.add_argument("general_dir", nargs="?", default=str(CORPUS / "general_html"))
    ap.add_argument("--misses", type=int, default=60, help="how many misses to print per section")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of the extractor-alone throughput pass")
    ap.add_argument("--end-to-end", type=int, default=0, metavar="RUNS",
                    help="also time `curate extract` on the general pages against trafilatura, RUNS times")
    args = ap.parse_args(argv)
    for d in (args.math_dir, args.code_dir, args.general_dir):
        if not Path(d).is_dir():
            sys.exit(f"error: folder {d} does not exist; pass the math, code and general page folders")
    ex = HTMLExtractor(HTMLConfig(min_chars=0))  # the length floor is a filter; trafilatura has none
    timer = Timer()
    mt, mo, mp, pages_o, pages_p = bench_math(Path(args.math_dir), ex, timer, args.misses)
    ct, co, cp = bench_code(Path(args.code_dir), ex, timer, args.misses)
    fo, fp, ffp = bench_general(Path(args.general_dir), ex, timer, args.misses)
    ratios = [timer.pages / timer.ours / (timer.pages / timer.plain)]
    for _ in range(args.runs - 1):
        again = Timer()
        for gz in sorted((Path(args.general_dir) / "html").glob("*.html.gz")):
            run_pair(ex, gzip.decompress(gz.read_bytes()), gz.name, again)
        ratios.append(again.ours and (again.plain / again.ours))
    ops, pps = timer.pages / timer.ours, timer.pages / timer.plain
    print("\n== summary")
    print(f"formula retention    ours {mo / max(1, mt):6.1%}   trafilatura {mp / max(1, mt):6.1%}   target >= 98%")
    print(f"formula page mean    ours {sum(pages_o) / max(1, len(pages_o)):6.1%}   "
          f"trafilatura {sum(pages_p) / max(1, len(pages_p)):6.1%}   target >= 97%")
    print(f"code-block retention ours {co / max(1, ct):6.1%}   trafilatura {cp / max(1, ct):6.1%}   target >= 98%")
    print(f"general F1           ours {fo:.4f}   trafilatura {fp:.4f}   favor_precision {ffp:.4f}   target > both")
    print(f"throughput           ours {ops:.2f} pages/s   trafilatura {pps:.2f} pages/s "
          f"(first pass, {timer.pages} pages)")
    print(f"  extractor alone / trafilatura pages/s: {_spread(ratios)} over {len(ratios)} runs   target >= 0.9")
    if args.end_to_end:
        e2e = end_to_end(Path(args.general_dir), args.end_to_end)
        print(f"  curate extract end to end / trafilatura in one process (pages/s ratio): "
              f"{_spread([p / c for c, p in e2e])} over {len(e2e)} runs "
              f"(curate {_spread([c for c, _ in e2e])} s, trafilatura {_spread([p for _, p in e2e])} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
