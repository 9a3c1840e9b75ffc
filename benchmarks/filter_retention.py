"""Benchmark: how much of what extraction keeps survives curate's filter step, end to end.

    .venv/bin/python benchmarks/filter_retention.py [--dev-corpus /work/shared/dev-corpus] [--keep-work]

Copies math_html/, code_html/ and pdf/ of the dev corpus into a temporary folder and runs the
real CLI there: `curate run stage2 --input math_html --input code_html --input pdf --output
out/stage2`. It then reads the extract, dedup and filter steps' docs/rejects Parquet (found via
out/stage2/manifest.json, else the newest out/_steps/<step>-*/) and prints:
  * per truth page of math_html/ and code_html/: language (from the filter step), formulas or
    code blocks in truth / in the extract step's text / in the filter step's text, matched
    exactly as benchmarks/extract_html.py matches them, and why a page was dropped (filter
    rule and detail; also pages dropped at dedup or never extracted);
  * totals over pages in a configured language (stage2 config filter.languages): the share of
    extracted formulas and code blocks left after the filter step (target >= 90%); pages in
    other languages, and pages that never reached the filter, are listed but not counted;
  * documents (math, code and pdf inputs) in a configured language that reached the filter
    step: how many it kept (target >= 97%), and the rule and detail for each it dropped.
Pages are matched to truth by file basename, so relative or absolute `uri`s both work.
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds scripts named like stdlib modules: keep it off the import path (as extract_html.py does)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import argparse  # noqa: E402
import glob  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pyarrow.parquet as pq  # noqa: E402

ROOT = Path(HERE).parent
CORPUS = Path("/work/shared/dev-corpus")
INPUTS = ("math_html", "code_html", "pdf")
COLUMNS = ("uri", "source", "text", "lang", "step", "reason", "detail")

_spec = importlib.util.spec_from_file_location("extract_html_bench", os.path.join(HERE, "extract_html.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def configured_languages() -> list[str]:
    try:
        from curate.config import default_config
        return list(default_config("stage2").filter.languages)
    except Exception:  # noqa: BLE001 - config models being rewritten: fall back to the YAML itself
        import yaml
        data = yaml.safe_load((ROOT / "configs" / "stage2.yaml").read_text()) or {}
        return list((data.get("filter") or {}).get("languages", ["en"]))


def run_cli(work: Path) -> None:
    curate = ROOT / ".venv" / "bin" / "curate"
    cmd = [str(curate)] if curate.exists() else [sys.executable, "-m", "curate"]
    cmd += ["run", "stage2"] + [a for d in INPUTS for a in ("--input", d)] + ["--output", "out/stage2"]
    print("$", " ".join(cmd), f"   (cwd {work})", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
    p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    for line in (p.stdout + p.stderr).splitlines():
        if "] done in" in line or p.returncode:
            print("  " + line)
    if p.returncode:
        sys.exit(f"error: curate run exited with {p.returncode}")


def step_dirs(out: Path) -> dict[str, Path]:
    """step name → its output folder: from the run manifest, else the newest out/_steps/<step>-*/."""
    found = {}
    manifest = out / "stage2" / "manifest.json"
    if manifest.is_file():
        for s in json.loads(manifest.read_text()).get("steps", []):
            if s.get("step") and s.get("dir"):
                found[s["step"]] = Path(s["dir"])
    for step in ("extract", "dedup", "filter"):
        if step not in found:
            cands = sorted(glob.glob(str(out / "_steps" / f"{step}-*")), key=os.path.getmtime)
            if cands:
                found[step] = Path(cands[-1])
    return found


def read_rows(folder: Path, required: bool) -> list[dict]:
    if not folder.is_dir():
        if required:
            sys.exit(f"error: {folder} not found (did the run write this step's output there?)")
        print(f"note: {folder} not found; treated as empty")
        return []
    rows = []
    for f in sorted(folder.glob("*.parquet")):
        cols = [c for c in COLUMNS if c in pq.read_schema(f).names]
        rows += pq.read_table(f, columns=cols).to_pylist()
    return rows


def by_name(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for r in rows:
        out.setdefault(Path(str(r.get("uri") or "")).name, r)
    return out


def count(kind: str, rec: dict, text: str | None) -> int | None:
    if text is None:
        return None
    if kind == "formulas":
        kinds = rec.get("formula_kinds") or [rec.get("kind", "")] * len(rec["formulas"])
        return sum(bench.formula_hits(rec["formulas"], kinds, text))
    return sum(bench.code_hits([b for b in rec["code_blocks"] if bench._lines(b)], text))


def truth_size(kind: str, rec: dict) -> int:
    return len(rec["formulas"]) if kind == "formulas" else len([b for b in rec["code_blocks"] if bench._lines(b)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev-corpus", default=str(CORPUS), help="folder holding math_html/, code_html/, pdf/")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary run folder and print its path")
    args = ap.parse_args(argv)
    corpus = Path(args.dev_corpus)
    for d in INPUTS:
        if not (corpus / d).is_dir():
            sys.exit(f"error: {corpus / d} not found (is --dev-corpus the dev corpus?)")
    langs = configured_languages()
    in_langs = (lambda lang: lang is not None) if not langs else (lambda lang: lang in langs)

    work = Path(tempfile.mkdtemp(prefix="filter_retention_"))
    try:
        for d in INPUTS:
            shutil.copytree(corpus / d, work / d)
        run_cli(work)
        dirs = step_dirs(work / "out")
        for step in ("extract", "filter"):
            if step not in dirs:
                sys.exit(f"error: no {step} step output in {work / 'out'} (manifest or _steps/{step}-*)")
        ext_docs = by_name(read_rows(dirs["extract"] / "docs", True))
        ext_rej = by_name(read_rows(dirs["extract"] / "rejects", False))
        ded_rej = by_name(read_rows(dirs["dedup"] / "rejects", False)) if "dedup" in dirs else {}
        flt_docs_rows = read_rows(dirs["filter"] / "docs", True)
        flt_rej_rows = read_rows(dirs["filter"] / "rejects", True)
        flt_docs, flt_rej = by_name(flt_docs_rows), by_name(flt_rej_rows)
    finally:
        if args.keep_work:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"configured languages (stage2 filter.languages): {langs or 'all'}")
    totals = {}  # kind → [extracted, after filter]
    excluded, unreached = [], []
    for folder, kind in (("math_html", "formulas"), ("code_html", "code blocks")):
        key = "formulas" if kind == "formulas" else "code"
        print(f"\n== {kind}: {folder}")
        print(f"{'file':58} {'lang':5} {'truth':>5} {'extr':>5} {'filt':>5}  dropped")
        tot = totals.setdefault(kind, [0, 0])
        for rec in bench.load_truth(corpus / folder):
            name = Path(rec["file"]).name
            ed, fd, fr = ext_docs.get(name), flt_docs.get(name), flt_rej.get(name)
            lang = (fd or fr or {}).get("lang")
            n_ext = count(key, rec, ed["text"] if ed else None)
            n_flt = count(key, rec, fd["text"]) if fd else 0 if ed else None
            if fr:
                why = f"{fr.get('reason')}: {fr.get('detail')}"
            elif fd:
                why = ""
            elif name in ded_rej:
                why = f"at dedup {ded_rej[name].get('reason')}: {ded_rej[name].get('detail')}"
            elif name in ext_rej:
                why = f"not extracted {ext_rej[name].get('reason')}: {ext_rej[name].get('detail')}"
            else:
                why = "not extracted (no document and no reject found)"
            show = lambda n: "-" if n is None else str(n)  # noqa: E731
            print(f"{name[:58]:58} {lang or '-':5} {truth_size(key, rec):5} {show(n_ext):>5} {show(n_flt):>5}  {why[:110]}")
            if lang is None:
                if n_ext:
                    unreached.append((name, n_ext, kind, why))
            elif not in_langs(lang):
                excluded.append((name, lang, n_ext or 0, kind))
            else:
                tot[0] += n_ext or 0
                tot[1] += n_flt or 0

    print("\n== totals (pages in a configured language)")
    all_e = sum(t[0] for t in totals.values())
    all_f = sum(t[1] for t in totals.values())
    for kind, (e, f) in totals.items():
        print(f"{kind:12} after extraction {e:5}   after filter {f:5}   remain {f / max(1, e):6.1%}")
    print(f"{'both':12} after extraction {all_e:5}   after filter {all_f:5}   remain {all_f / max(1, all_e):6.1%}")
    print("target: after the filter step >= 90% of the extracted formulas and code blocks remain"
          f"   -> {all_f / max(1, all_e):.1%} {'NOT MEASURED (nothing extracted)' if not all_e else 'MET' if all_f >= 0.9 * all_e else 'NOT MET'}")
    print(f"excluded, language not in {langs}: {len(excluded)} pages")
    for name, lang, n, kind in excluded:
        print(f"  {name[:58]:58} lang={lang:5} {n} {kind} after extraction")
    if unreached:
        print(f"not counted, extracted but never reached the filter step: {len(unreached)} pages")
        for name, n, kind, why in unreached:
            print(f"  {name[:58]:58} {n} {kind} after extraction; {why[:80]}")

    # document level: everything the filter step saw (math, code and pdf inputs)
    seen = [(r, True) for r in flt_docs_rows] + [(r, False) for r in flt_rej_rows]
    ours = [(r, kept) for r, kept in seen if in_langs(r.get("lang"))]
    kept = sum(k for _, k in ours)
    print("\n== documents in a configured language that reached the filter step (math, code, pdf)")
    for src in sorted({str(r.get("source")) for r, _ in ours}):
        sub = [k for r, k in ours if str(r.get("source")) == src]
        print(f"  {src:12} {sum(sub):3} / {len(sub):3} kept")
    print(f"kept {kept} / {len(ours)} = {kept / max(1, len(ours)):.1%}   target >= 97%  "
          f"-> {'NOT MEASURED (no documents)' if not ours else 'MET' if kept >= 0.97 * len(ours) else 'NOT MET'}")
    others = sorted(f"{Path(str(r.get('uri'))).name} ({r.get('lang')})" for r, _ in seen if not in_langs(r.get("lang")))
    print(f"not counted, language not in {langs}: {len(others)}: {', '.join(others)}")
    if ded_rej:
        print(f"(before the filter step, dedup dropped {len(ded_rej)}: {', '.join(sorted(ded_rej))})")
    print("dropped by the filter step:")
    for r, _ in sorted((x for x in ours if not x[1]), key=lambda x: str(x[0].get("uri"))):
        print(f"  {Path(str(r.get('uri'))).name[:58]:58} {r.get('reason')}: {str(r.get('detail'))[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
