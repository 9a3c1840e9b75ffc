"""The whole stage-2 chain at scale, beside datatrove on the same pages and workers.

    python benchmarks/pipeline.py                       # 25k and 100k pages (long)
    python benchmarks/pipeline.py --sizes 2000,8000     # a quick run
    python benchmarks/pipeline.py --sides curate        # skip datatrove
    python benchmarks/pipeline.py --fixed-cost /work/main,.   # curate's fixed CPU cost, A/B

``--fixed-cost A,B`` measures curate's own overhead instead: the CPU seconds (the process
and all its children) of ``curate -q run stage2`` on N and on 2N generated pages (``--sizes
N``, default 100), each from a fresh output, for the source checkouts A and B in turn, so
fixed = 2·cpu(N) − cpu(2N) subtracts the per-document work. One uncounted run per checkout
first compiles its bytecode. Printed per checkout: the median and min–max over ``--reps``
rounds, and the B/A ratio paired per round. PYTHONDONTWRITEBYTECODE is dropped for these runs, so
the first run writes the bytecode the counted ones reuse, as an installed curate would.

For each size N it makes (once, then reuses) a scale corpus with ``curate sample DIR
--pages N`` and then, each from a fresh output directory so nothing is reused:

* curate: ``curate run stage2 --input DIR --output OUT -- --direct_running_mode=
  multi_processing --direct_num_workers=W``. Per step: wall time, documents/s, MB/s (of the
  step's input: the WARC bytes for extract, the previous step's Parquet for the others).
* datatrove 0.10.1 in its own venv (created once under benchmarks/_work/, since datatrove
  pins trafilatura 1.x): LocalPipelineExecutor with W workers, WarcReader → Trafilatura →
  GopherQualityFilter → the four MinHash stages → MegatronDocumentTokenizer, with curate's
  tokenizer.json (see benchmarks/_datatrove_run.py).

Both sides run as subprocesses while a thread sums the RSS of the whole process tree
(the process and every descendant) every 0.2 s; the peak is reported. RSS counts pages that
forked workers share once per process, so it over-states both sides alike.

Printed: per-step figures, end-to-end wall and documents/s, peak RSS, the throughput ratio
curate ÷ datatrove, each side's surviving documents and tokens, the ratio of curate's peak
RSS at the largest size to the smallest (target ≤ 1.2), and how much math and code each side
keeps: ``$``/``$$``/``\\(``/``\\[``-delimited formulas and fenced code blocks per 1,000
surviving documents (curate: the filter step's pool; datatrove: its token files decoded),
beside the formulas and ``<pre>`` code blocks present in the input pages.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import resource
import statistics
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import _rss  # noqa: E402
from _rss import TreeRSS  # noqa: E402

DATATROVE = "datatrove==0.10.1"
# What datatrove's blocks need beyond its "processing" extra: WarcReader (warcio, cchardet,
# python-magic), JsonlWriter (orjson), trafilatura 1.x's jusText (lxml_html_clean), and the
# English word tokenizer of GopherQualityFilter/MinHash (spaCy's blank "en": no model download).
DATATROVE_EXTRAS = ["warcio", "faust-cchardet", "python-magic", "orjson", "lxml_html_clean", "spacy>=3.8"]


def run_measured(cmd: list[str], log_path: str, env: dict | None = None) -> tuple[int, float, TreeRSS]:
    """Run ``cmd`` from the repository root (output to ``log_path``): (exit code, wall s, RSS sampler)."""
    return _rss.run_measured(cmd, log_path, env=env, cwd=ROOT)


STEP_START = re.compile(r"^(\d\d):(\d\d):(\d\d) \[(\w+)\] (running|sampling)")


def peak_per_step(log_path: str, timeline: list[tuple[float, int]]) -> dict[str, float]:
    """Peak tree RSS (MB) while each step ran, from the HH:MM:SS "[step] running" lines of curate's log."""
    starts: list[tuple[float, str]] = []
    with open(log_path, errors="replace") as f:
        for line in f:
            m = STEP_START.match(line)
            if m:
                lt = time.localtime(timeline[0][0]) if timeline else time.localtime()
                t = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, int(m[1]), int(m[2]), int(m[3]), 0, 0, -1))
                starts.append((t, m[4]))
    out: dict[str, float] = {}
    for t, rss in timeline:
        name = "startup"
        for st, step in starts:
            if t >= st:
                name = step
        out[name] = max(out.get(name, 0.0), round(rss / 2**20, 1))
    return out


# ---------------------------------------------------------------- inputs

def ensure_corpus(work: str, pages: int) -> str:
    """``curate sample DIR --pages N`` once; a marker file says the corpus is complete."""
    d = os.path.join(work, f"corpus-{pages}")
    marker = os.path.join(d, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(d, ignore_errors=True)
        t = time.time()
        subprocess.run([sys.executable, "-m", "curate", "sample", d, "--pages", str(pages)], check=True, cwd=ROOT)
        with open(marker, "w") as f:
            f.write(str(pages))
        print(f"corpus: {pages:,} pages written to {d} in {time.time() - t:.1f}s")
    return d


def corpus_bytes(d: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(d, "*.warc.gz")))


def ensure_datatrove_venv(work: str) -> str:
    """The venv with datatrove and its blocks' dependencies; returns its python. Never pulls torch."""
    venv = os.path.join(work, "datatrove-venv")
    py = os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, ".ready")
    if os.path.exists(marker):
        return py
    print(f"creating {venv} ({DATATROVE}) …", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(["python3", "-m", "venv", venv], check=True)
    pip = [py, "-m", "pip", "install", "-q", "-c", os.path.join(ROOT, "constraints.txt")]
    subprocess.run(pip + [f"datatrove[processing]=={DATATROVE.split('==')[1]}"] + DATATROVE_EXTRAS, check=True)
    has_torch = subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0
    if has_torch:
        raise SystemExit(f"{venv} pulled torch; datatrove's blocks here should not need it")
    with open(marker, "w") as f:
        f.write(DATATROVE)
    return py


def default_tokenizer() -> str:
    from curate.mixtures.tokenizer import default_tokenizer_path

    return default_tokenizer_path()


# ---------------------------------------------------------------- math and code

FORMULA = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)
FENCE = re.compile(r"^\s*```", re.M)


class MathCode:
    """Counts delimited formulas and fenced code blocks over texts."""

    def __init__(self):
        self.docs = self.formulas = self.code_blocks = self.docs_math = self.docs_code = 0

    def add(self, text: str) -> None:
        f = len(FORMULA.findall(text))
        c = len(FENCE.findall(text)) // 2
        self.docs += 1
        self.formulas += f
        self.code_blocks += c
        self.docs_math += f > 0
        self.docs_code += c > 0

    def as_dict(self) -> dict:
        k = 1000 / max(self.docs, 1)
        return {"docs": self.docs, "formulas": self.formulas, "code_blocks": self.code_blocks,
                "formulas_per_1k_docs": round(self.formulas * k, 1), "code_blocks_per_1k_docs": round(self.code_blocks * k, 1),
                "docs_with_math": self.docs_math, "docs_with_code": self.docs_code}


INPUT_MATH = re.compile(rb'<script type="math/tex|<span class="katex"|<math xmlns=[^>]*alttext|\$\$[^$<]+\$\$|\$[^$<\n]+\$')
INPUT_CODE = re.compile(rb"<pre>\s*<code")


def input_math_code(corpus: str) -> dict:
    """Formulas (MathJax scripts, KaTeX, MathML, $-TeX) and <pre><code> blocks in the input pages.

    A KaTeX formula carries an inner <math> without alttext, so it is counted once."""
    pages = formulas = code = 0
    for path in sorted(glob.glob(os.path.join(corpus, "*.warc.gz"))):
        with gzip.open(path, "rb") as f:
            for line in f:
                if line.startswith(b"WARC-Type: response"):
                    pages += 1
                formulas += len(INPUT_MATH.findall(line))
                code += len(INPUT_CODE.findall(line))
    k = 1000 / max(pages, 1)
    return {"pages": pages, "formulas": formulas, "code_blocks": code,
            "formulas_per_1k_pages": round(formulas * k, 1), "code_blocks_per_1k_pages": round(code * k, 1)}


def parquet_texts(docs_dir: str):
    import pyarrow.dataset as ds

    files = sorted(glob.glob(os.path.join(docs_dir, "**", "*.parquet"), recursive=True))
    if not files:
        return
    for batch in ds.dataset(files, format="parquet").to_batches(columns=["text"], batch_size=2048):
        yield from batch.column(0).to_pylist()


def token_texts(prefixes: list[str], tokenizer: str):
    """Decode every document of Megatron .bin/.idx files back to text (byte-level BPE round-trips)."""
    from tokenizers import Tokenizer

    from curate.mixtures.indexed import IndexedDataset

    tok = Tokenizer.from_file(tokenizer)
    for prefix in prefixes:
        with IndexedDataset(prefix) as ds:
            ids = [ds[i].tolist() for i in range(len(ds))]
        for i in range(0, len(ids), 1024):
            yield from tok.decode_batch(ids[i:i + 1024], skip_special_tokens=True)


def shard_tokens(prefixes: list[str]) -> tuple[int, int]:
    """(documents, tokens) over Megatron index files."""
    from curate.mixtures.indexed import IndexedDataset

    docs = tokens = 0
    for prefix in prefixes:
        with IndexedDataset(prefix) as ds:
            docs += len(ds)
            tokens += ds.num_tokens
    return docs, tokens


# ---------------------------------------------------------------- the two sides

def dir_bytes(d: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(d, "**", "*"), recursive=True) if os.path.isfile(p))


def step_docs_in(counts: dict, step: str) -> int:
    """Documents into a step: its own counter if named after it, else the largest "in"."""
    if step in counts:
        return int(counts[step].get("in", 0))
    return max((int(c.get("in", 0)) for c in counts.values()), default=0)


def step_docs_out(counts: dict, step: str) -> int:
    if step in counts:
        return int(counts[step].get("out", 0))
    return min((int(c.get("out", 0)) for c in counts.values()), default=0)


def worker_config(config: str | None, workers: int, run_dir: str) -> str:
    """The stage YAML curate runs with: ``config`` (or the bundled stage2) with ``workers``
    processes for the per-document work: curate's default in-process runner with ``workers``
    extraction and filter processes (``extract.processes``, ``filter.processes``)."""
    import yaml

    if config:
        with open(config, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    else:
        data = {"stage": "stage2"}
    for section in ("extract", "filter"):
        data.setdefault(section, {})["processes"] = workers
    path = os.path.join(run_dir, "config.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=True)
    return path


def run_curate(corpus: str, run_dir: str, workers: int, config: str | None, tokenizer: str) -> dict:
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    out = os.path.join(run_dir, "stage2")  # step cache goes to run_dir/_steps: fresh each time
    cmd = [sys.executable, "-m", "curate", "run", "stage2", "--input", corpus, "--output", out]
    cmd += ["--config", worker_config(config, workers, run_dir)]
    rc, wall, mem = run_measured(cmd, os.path.join(run_dir, "curate.log"))
    res: dict = {"cmd": " ".join(cmd), "rc": rc, "wall_s": round(wall, 2), "cpu_s": round(mem.cpu_s, 1),
                 "peak_rss_mb": round(mem.peak / 2**20, 1),
                 "peak_rss_mb_per_step": peak_per_step(os.path.join(run_dir, "curate.log"), mem.timeline)}
    manifest_path = os.path.join(out, "manifest.json")
    if rc != 0 or not os.path.exists(manifest_path):
        with open(os.path.join(run_dir, "curate.log"), errors="replace") as f:
            tail = [ln for ln in f.read().splitlines() if not ln.startswith(("INFO:", "WARNING:"))][-6:]
        res["error"] = "\n".join(tail)
        return res
    with open(manifest_path) as f:
        manifest = json.load(f)
    steps, prev_dir = [], None
    for s in manifest.get("steps", []):
        counts = s.get("counts") or {}
        name = s.get("step", "?")
        n_in, n_out = step_docs_in(counts, name), step_docs_out(counts, name)
        in_bytes = (s.get("info") or {}).get("input_bytes") if prev_dir is None else dir_bytes(os.path.join(prev_dir, "docs"))
        w = float(s.get("wall_s") or 0)
        steps.append({"step": name, "wall_s": w, "in": n_in, "out": n_out, "in_bytes": in_bytes, "reused": s.get("reused"),
                      "docs_per_s": round(n_in / w, 1) if w else None,
                      "mb_per_s": round(in_bytes / 2**20 / w, 2) if w and in_bytes else None,
                      "rejects": {k: v for c in counts.values() for k, v in (c.get("rejects") or {}).items()}})
        prev_dir = s.get("dir")
    mix_wall = max(0.0, float(manifest.get("wall_s") or 0) - sum(s["wall_s"] for s in steps))
    pool_docs = steps[-1]["out"] if steps else 0
    steps.append({"step": "mix (rest of the run)", "wall_s": round(mix_wall, 2), "in": pool_docs, "out": None,
                  "in_bytes": dir_bytes(os.path.join(prev_dir, "docs")) if prev_dir else None,
                  "docs_per_s": round(pool_docs / mix_wall, 1) if mix_wall else None, "mb_per_s": None, "rejects": {}})
    if steps[-1]["in_bytes"] and mix_wall:
        steps[-1]["mb_per_s"] = round(steps[-1]["in_bytes"] / 2**20 / mix_wall, 2)
    res["steps"] = steps
    res["docs_in"] = steps[0]["in"] if steps else 0
    res["surviving_docs"] = pool_docs
    prefixes = sorted(p[:-4] for p in glob.glob(os.path.join(out, "shards", "**", "*.idx"), recursive=True))
    res["shard_docs"], res["shard_tokens"] = shard_tokens(prefixes)
    res["pool_tokens"], res["pool_tokens_from"] = None, None
    report_path = os.path.join(out, "report.json")
    if os.path.exists(report_path):
        with open(report_path) as f:
            report = json.load(f)
        sources = report.get("sources")
        if isinstance(sources, list) and sources and all(isinstance(s, dict) and "tokens_available" in s for s in sources):
            res["pool_tokens"] = sum(int(s["tokens_available"]) for s in sources)
            res["pool_tokens_from"] = "report.json sources[].tokens_available"
    mc = MathCode()
    if prev_dir:
        for text in parquet_texts(os.path.join(prev_dir, "docs")):
            mc.add(text or "")
    res["math_code"] = mc.as_dict()
    first_dir = (manifest.get("steps") or [{}])[0].get("dir")
    if first_dir:  # what extraction kept, before dedup removes near-copies of pages
        mx = MathCode()
        for text in parquet_texts(os.path.join(first_dir, "docs")):
            mx.add(text or "")
        res["math_code_extracted"] = mx.as_dict()
    return res


def run_datatrove(py: str, corpus: str, run_dir: str, workers: int, tokenizer: str) -> dict:
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    result_path = os.path.join(run_dir, "result.json")
    cmd = [py, os.path.join(HERE, "_datatrove_run.py"), "--input", corpus, "--work", os.path.join(run_dir, "work"),
           "--workers", str(workers), "--tokenizer", tokenizer, "--result", result_path]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    rc, wall, mem = run_measured(cmd, os.path.join(run_dir, "datatrove.log"), env=env)
    res: dict = {"cmd": " ".join(cmd), "rc": rc, "cpu_s": round(mem.cpu_s, 1), "peak_rss_mb": round(mem.peak / 2**20, 1)}
    if rc != 0 or not os.path.exists(result_path):
        with open(os.path.join(run_dir, "datatrove.log"), errors="replace") as f:
            res["error"] = "\n".join(f.read().splitlines()[-8:])
        return res
    with open(result_path) as f:
        r = json.load(f)
    res["wall_s"] = round(wall - float(r.get("setup_s", 0)), 2)  # preflight and resharding untimed
    res["setup_s"] = r.get("setup_s")
    res["resharded"] = r.get("resharded")
    res["tasks"] = r.get("tasks")
    blocks = {b["name"]: b["stats"] for st in r["stages"] for b in st["blocks"]}

    def stat(fragment: str, key: str) -> int | None:
        for name, st in blocks.items():
            if fragment in name and key in st:
                return int(st[key])
        return None

    res["docs_in"] = stat("Warc", "documents")
    res["after_extract"] = stat("Trafilatura", "forwarded")
    res["after_gopher"] = stat("Gopher", "forwarded")
    res["surviving_docs"] = stat("MinHash stage 4", "forwarded")
    res["stages"] = [{"step": st["name"], "wall_s": st["wall_s"]} for st in r["stages"]]
    res["gopher_drops"] = {k: v for k, v in (blocks.get(next((n for n in blocks if "Gopher" in n), ""), {}) or {}).items()
                           if k.startswith("dropped_")}
    prefixes = [p if os.path.isabs(p) else os.path.join(ROOT, p) for p in r.get("token_prefixes", [])]
    res["shard_docs"], res["shard_tokens"] = shard_tokens(prefixes)
    mc = MathCode()
    for text in token_texts(prefixes, tokenizer):
        mc.add(text)
    res["math_code"] = mc.as_dict()
    return res


# ---------------------------------------------------------------- report

def fmt(v, spec: str = ",") -> str:
    return "—" if v is None else format(v, spec)


def print_size(pages: int, corpus: str, c: dict | None, d: dict | None, inp: dict | None) -> None:
    mb = corpus_bytes(corpus) / 2**20
    print(f"\n=== {pages:,} pages ({mb:,.0f} MB WARC.gz, {len(glob.glob(os.path.join(corpus, '*.warc.gz')))} files) ===")
    if c:
        if "error" in c:
            print(f"curate FAILED (rc={c['rc']}): {c['error']}")
        else:
            print(f"curate  end-to-end {c['wall_s']:8.1f}s  {c['docs_in'] / c['wall_s']:8.1f} docs/s  "
                  f"{mb / c['wall_s']:6.2f} MB/s  peak RSS {c['peak_rss_mb']:,.0f} MB  CPU {c['cpu_s']:,.0f} s")
            print(f"  {'step':24s} {'wall s':>8s} {'docs in':>9s} {'docs out':>9s} {'docs/s':>9s} {'MB/s':>7s} {'peak MB':>8s}")
            per = c.get("peak_rss_mb_per_step") or {}
            for s in c["steps"]:
                pk = per.get(s["step"], per.get("mix") if s["step"].startswith("mix") else None)
                print(f"  {s['step']:24s} {s['wall_s']:8.1f} {fmt(s['in']):>9s} {fmt(s['out']):>9s} "
                      f"{fmt(s['docs_per_s'], ',.1f'):>9s} {fmt(s['mb_per_s'], '.2f'):>7s} {fmt(pk, ',.0f'):>8s}")
            print(f"  surviving documents {c['surviving_docs']:,}; pool tokens {fmt(c['pool_tokens'])} "
                  f"({c['pool_tokens_from'] or 'report.json has no tokens_available'}); "
                  f"mixture shards {c['shard_docs']:,} docs / {c['shard_tokens']:,} tokens (budget-sampled)")
    if d:
        if "error" in d:
            print(f"datatrove FAILED (rc={d['rc']}): {d['error']}")
        else:
            print(f"datatrove end-to-end {d['wall_s']:6.1f}s  {d['docs_in'] / d['wall_s']:8.1f} docs/s  "
                  f"{mb / d['wall_s']:6.2f} MB/s  peak RSS {d['peak_rss_mb']:,.0f} MB  CPU {d['cpu_s']:,.0f} s  "
                  f"({d['tasks']} tasks{', WARC resharded untimed' if d['resharded'] else ''})")
            for s in d["stages"]:
                print(f"  {s['step']:30s} {s['wall_s']:8.1f}s")
            print(f"  documents: read {fmt(d['docs_in'])} → trafilatura {fmt(d['after_extract'])} → gopher "
                  f"{fmt(d['after_gopher'])} → minhash {fmt(d['surviving_docs'])}; gopher drops {d['gopher_drops']}")
            print(f"  surviving documents {fmt(d['surviving_docs'])}; tokens {d['shard_tokens']:,} (all survivors tokenized)")
    if c and d and "error" not in c and "error" not in d:
        ratio = (c["docs_in"] / c["wall_s"]) / (d["docs_in"] / d["wall_s"])
        print(f"throughput curate ÷ datatrove (same pages, same workers): {ratio:.2f}×  (target ≥ 1.5); "
              f"CPU seconds datatrove ÷ curate {d['cpu_s'] / c['cpu_s']:.2f}×; "
              f"peak RSS curate ÷ datatrove {c['peak_rss_mb'] / d['peak_rss_mb']:.2f} (target ≤ 1)")
    if inp:
        print(f"math/code in the input: {inp['formulas']:,} formulas ({inp['formulas_per_1k_pages']}/1k pages), "
              f"{inp['code_blocks']:,} <pre><code> blocks ({inp['code_blocks_per_1k_pages']}/1k pages)")
    if c and "math_code_extracted" in c:
        m = c["math_code_extracted"]
        print(f"math/code after curate's extract: {m['formulas']:,} delimited formulas, {m['code_blocks']:,} fenced code "
              f"blocks in {m['docs']:,} docs (before dedup)")
    for name, side in (("curate", c), ("datatrove", d)):
        if side and "math_code" in side:
            m = side["math_code"]
            print(f"math/code kept by {name:9s}: {m['formulas']:,} delimited formulas ({m['formulas_per_1k_docs']}/1k docs, "
                  f"{m['docs_with_math']:,} docs), {m['code_blocks']:,} fenced code blocks "
                  f"({m['code_blocks_per_1k_docs']}/1k docs, {m['docs_with_code']:,} docs) in {m['docs']:,} docs")


def median_range(v: list[float]) -> str:
    return f"median {statistics.median(v):.2f} (min {min(v):.2f}, max {max(v):.2f}; n={len(v)})"


def print_rounds(pages: int, rounds: list[dict]) -> None:
    """Per-round paired figures and their median and min–max."""
    ok = [r for r in rounds if r["curate"] and r["datatrove"] and "error" not in r["curate"] and "error" not in r["datatrove"]]
    if not ok:
        return
    thr = [(r["curate"]["docs_in"] / r["curate"]["wall_s"]) / (r["datatrove"]["docs_in"] / r["datatrove"]["wall_s"]) for r in ok]
    cpu = [r["datatrove"]["cpu_s"] / r["curate"]["cpu_s"] for r in ok]
    mem = [r["curate"]["peak_rss_mb"] / r["datatrove"]["peak_rss_mb"] for r in ok]
    print(f"\n[{pages:,}] over {len(ok)} paired round(s): throughput curate ÷ datatrove {median_range(thr)} (target ≥ 1.5); "
          f"CPU s datatrove ÷ curate {median_range(cpu)}; peak RSS curate ÷ datatrove {median_range(mem)} (target ≤ 1)")
    print(f"[{pages:,}] per round (throughput ratio): " + ", ".join(f"{x:.2f}" for x in thr))


def import_root(src: str, work: str) -> str:
    """A folder from which ``import curate`` loads the checkout ``src`` (curate/ with the
    top-level subpackage folders linked in, as setup.cfg's package_dir maps them)."""
    src = os.path.abspath(src)
    root = os.path.join(work, "import-" + re.sub(r"\W", "_", src.strip("/")))
    pkg = os.path.join(root, "curate")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(pkg)
    for name in os.listdir(os.path.join(src, "curate")):
        os.symlink(os.path.join(src, "curate", name), os.path.join(pkg, name))
    for sub in ("extractors", "dedup", "filters", "synth", "mixtures", "pipelines", "pretrain", "configs"):
        os.symlink(os.path.join(src, sub), os.path.join(pkg, sub))
    return root


def stage_cpu(root: str, corpus: str, out_dir: str) -> float:
    """CPU seconds (user + system, every descendant) of ``curate -q run stage2`` on ``corpus``."""
    shutil.rmtree(out_dir, ignore_errors=True)
    # Bytecode is written (and reused) as after a pip install: a PYTHONDONTWRITEBYTECODE set
    # here would make every process of every run compile curate's sources again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = root
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "curate", "-q", "run", "stage2", "--input", corpus, "--output",
                    os.path.join(out_dir, "stage2")], check=True, env=env, cwd=os.path.dirname(out_dir))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(out_dir, ignore_errors=True)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fixed_cost(sources: list[str], pages: int, reps: int, work: str) -> None:
    """Print curate's fixed CPU cost per checkout: 2·cpu(N) − cpu(2N), paired rounds."""
    small, large = ensure_corpus(work, pages), ensure_corpus(work, 2 * pages)
    roots = [import_root(s, work) for s in sources]
    rows: dict[str, list[tuple[float, float, float]]] = {s: [] for s in sources}
    for root in roots:  # not counted: compiles each checkout's bytecode, warms the file cache
        stage_cpu(root, small, os.path.join(work, "fixed-run"))
    for i in range(reps):
        for src, root in zip(sources, roots):
            a = stage_cpu(root, small, os.path.join(work, "fixed-run"))
            b = stage_cpu(root, large, os.path.join(work, "fixed-run"))
            rows[src].append((2 * a - b, a, b))
            print(f"round {i + 1} {src}: cpu({pages})={a:.1f}s cpu({2 * pages})={b:.1f}s fixed={2 * a - b:.1f}s", flush=True)

    def span(v: list[float]) -> str:
        return f"median {statistics.median(v):.2f} (min {min(v):.2f}, max {max(v):.2f})"

    for src in sources:
        print(f"{src}: fixed CPU-s {span([r[0] for r in rows[src]])}; cpu({pages}) {span([r[1] for r in rows[src]])}")
    if len(sources) == 2:
        a, b = sources
        print(f"paired ratio fixed {b}/{a}: {span([y[0] / x[0] for x, y in zip(rows[a], rows[b])])}")
        print(f"paired ratio cpu({pages}) {b}/{a}: {span([y[1] / x[1] for x, y in zip(rows[a], rows[b])])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="25000,100000", help="comma-separated page counts (default 25000,100000)")
    ap.add_argument("--workers", type=int, default=2, help="workers on both sides (default 2)")
    ap.add_argument("--workdir", default=os.path.join(HERE, "_work"), help="corpora, venv and runs (default benchmarks/_work)")
    ap.add_argument("--sides", default="curate,datatrove", help="curate, datatrove or both (default both)")
    ap.add_argument("--config", default=None, help="stage YAML for curate (default: the bundled stage2)")
    ap.add_argument("--keep", action="store_true", help="keep the run outputs (default: deleted after measuring)")
    ap.add_argument("--fixed-cost", default=None, metavar="A[,B]",
                    help="measure curate's fixed CPU cost for these source checkouts (see above) instead")
    ap.add_argument("--reps", type=int, default=3, help="rounds of --fixed-cost (default 3)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="paired rounds per size, the side that goes first alternating (default 1)")
    args = ap.parse_args()

    if args.fixed_cost:
        work = os.path.abspath(args.workdir)
        os.makedirs(work, exist_ok=True)
        pages = int(args.sizes.split(",")[0]) if args.sizes != ap.get_default("sizes") else 100
        fixed_cost([s.strip() for s in args.fixed_cost.split(",") if s.strip()], pages, args.reps, work)
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    sides = {s.strip() for s in args.sides.split(",")}
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    tokenizer = default_tokenizer()
    if args.config:
        from curate.config import load_config

        tok_cfg = load_config(args.config).mix.tokenizer
        tokenizer = tok_cfg or tokenizer
    dt_py = ensure_datatrove_venv(work) if "datatrove" in sides else None
    print(f"workers {args.workers}; tokenizer {tokenizer}; work dir {work}", flush=True)

    results = {}
    for pages in sizes:
        corpus = ensure_corpus(work, pages)
        inp = input_math_code(corpus)
        rounds = []
        for r in range(args.rounds):
            c = d = None
            order = ["curate", "datatrove"] if r % 2 == 0 else ["datatrove", "curate"]  # paired, order alternating
            for side in (x for x in order if x in sides):
                print(f"[{pages:,}] round {r + 1}/{args.rounds}: {side} …", flush=True)
                if side == "curate":
                    c = run_curate(corpus, os.path.join(work, f"run-curate-{pages}"), args.workers, args.config, tokenizer)
                else:
                    d = run_datatrove(dt_py, corpus, os.path.join(work, f"run-datatrove-{pages}"), args.workers, tokenizer)
            if not args.keep:
                for side in ("curate", "datatrove"):
                    shutil.rmtree(os.path.join(work, f"run-{side}-{pages}", "work" if side == "datatrove" else "stage2"), ignore_errors=True)
                    shutil.rmtree(os.path.join(work, f"run-{side}-{pages}", "_steps"), ignore_errors=True)
            print_size(pages, corpus, c, d, inp)
            rounds.append({"curate": c, "datatrove": d})
        results[pages] = {"curate": c, "datatrove": d, "input": inp, "rounds": rounds}
        print_rounds(pages, rounds)
        with open(os.path.join(work, "pipeline-results.json"), "w") as f:  # partial figures survive a stop
            json.dump(results, f, indent=2)

    ok = [p for p in sizes if (results[p]["curate"] or {}).get("peak_rss_mb") and "error" not in results[p]["curate"]]
    if len(ok) >= 2:
        lo, hi = min(ok), max(ok)
        r = results[hi]["curate"]["peak_rss_mb"] / results[lo]["curate"]["peak_rss_mb"]
        print(f"\ncurate peak RSS: {results[lo]['curate']['peak_rss_mb']:,.0f} MB at {lo:,} pages, "
              f"{results[hi]['curate']['peak_rss_mb']:,.0f} MB at {hi:,} pages: ratio {r:.2f} (target ≤ 1.2)")
    okd = [p for p in sizes if (results[p]["datatrove"] or {}).get("peak_rss_mb") and "error" not in results[p]["datatrove"]]
    if len(okd) >= 2:
        lo, hi = min(okd), max(okd)
        r = results[hi]["datatrove"]["peak_rss_mb"] / results[lo]["datatrove"]["peak_rss_mb"]
        print(f"datatrove peak RSS: ratio {hi:,}/{lo:,} pages {r:.2f}")
    out = os.path.join(work, "pipeline-results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nfull figures: {out}")
    failed = any("error" in (results[p][s] or {}) for p in sizes for s in ("curate", "datatrove"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
