"""The mixture report: report.json (the numbers), report.html (self-contained charts and
readable examples), a terminal summary.

The numbers come from what the steps wrote: their manifests (counts, stats, wall time) and
their Parquet shards (per-source funnel, languages, reject examples, duplicate clusters,
example texts; mixtures/report_records.py). report.html embeds the report as JSON and draws
every chart as inline SVG with a little JavaScript sized to the page (readable at 400 px);
documents are rendered as Markdown (mixtures/render.py) with math typeset by the bundled
KaTeX (mixtures/assets, MIT licence, fonts inlined as data: URLs): no network, no external
script or font. When drawing is done it sets ``data-charts-rendered`` on ``<body>`` to the
number of charts drawn and ``data-math-rendered`` to the number of formulas typeset; each
chart's ``data-rendered`` is its number of bars (the browser test checks them).

Same bytes: report.json holds nothing that depends on the clock, the output location or
worker count. report.html adds one clock-dependent block, the step wall times and rates
(``timings``), read from the step manifests: a run that reuses the same step outputs writes
the same bytes.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

from curate.dedup.stats import ClusterStats
from curate.filters.judges import JudgeStats
from curate.synth.decontam import DecontamStats
from curate.io import files
from curate.mixtures import report_records as records
from curate.mixtures.render import code_css, markdown_html, shorten

SCORE_BINS = 20


def _hist(values: list[float], bins: int = SCORE_BINS) -> dict[str, Any]:
    if not values:
        return {"edges": [], "counts": []}
    lo, hi = min(values), max(values)
    if 0.0 <= lo and hi <= 1.0:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    w = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / w), bins - 1)] += 1
    return {"edges": [round(lo + i * w, 6) for i in range(bins + 1)], "counts": counts}


def _cluster_hist(steps: list[dict]) -> dict[str, int]:
    """Cluster size → number of clusters, from the dedup step's ClusterStats (curate.dedup.stats)."""
    hist: dict[int, int] = {}
    for s in steps:
        if s.get("step") != "dedup":
            continue
        for size, n in ClusterStats.from_json((s.get("stats") or {}).get("clusters")).size_histogram.items():
            hist[size] = hist.get(size, 0) + n
    return {str(k): v for k, v in sorted(hist.items())}


def _filter_judges(steps: list[dict]) -> dict[str, Any]:
    """Exemptions and rules-vs-LM agreement of the filter step(s), summed (filters/judges.py)."""
    ex: dict[str, dict[str, int]] = {}
    judges: dict[str, int] = {}
    for s in steps:
        if s.get("step") != "filter":
            continue
        st = JudgeStats.from_counts((s.get("stats") or {}).get("judges"))
        for profile, rules in st.exemptions.items():
            for rule, n in rules.items():
                ex.setdefault(profile, {})[rule] = ex.get(profile, {}).get(rule, 0) + n
        for k, n in st.judges.items():
            judges[k] = judges.get(k, 0) + n
    return JudgeStats(exemptions={p: dict(sorted(r.items())) for p, r in sorted(ex.items())},
                      judges=dict(sorted(judges.items()))).to_json()


def _decontam(steps: list[dict]) -> dict[str, Any]:
    """Texts checked and hits per benchmark and rule of the decontam step(s) (curate.synth.decontam.DecontamStats)."""
    parts = [DecontamStats.from_json(st) for s in steps if s.get("step") == "decontam"
             for st in [(s.get("stats") or {}).get("decontam")] if st]
    return DecontamStats.merge(parts).to_json() if parts else {}


def _input_files(steps: list[dict]) -> dict[str, Any]:
    """Input files read and skipped (with reasons) by the extract step(s), from their manifests."""
    read, why, names = 0, {}, []
    for s in steps:
        if s.get("step") != "extract":
            continue
        info = s.get("info") or {}
        read += int(info.get("files", 0))
        for k in info.get("skipped") or []:
            why[k["reason"]] = why.get(k["reason"], 0) + 1
            names.append(k)
    return {"read": read, "skipped": dict(sorted(why.items())), "skipped_files": names[:200]}


def _funnel(steps: list[dict], sources: list[dict]) -> list[dict[str, Any]]:
    """Per input source: documents after each step (read → extract → dedup → filter → mixed),
    tokens taken, and its top reject reasons, including sources that lost every document."""
    per = records.funnel(steps)
    by = {s["source"]: s for s in sources}
    rows = []
    for name in sorted(set(per) | set(by)):
        st = per.get(name, [])
        src = by.get(name)
        stages = ([{"stage": "read" if st[0]["step"] == "extract" else st[0]["step"] + " in", "docs": st[0]["in"]}]
                  if st else [])
        stages += [{"stage": x["step"], "docs": x["out"]} for x in st]
        stages.append({"stage": "mixed", "docs": src["docs_available"] if src else 0})
        reasons: dict[str, int] = {}
        for x in st:
            for r, n in x["rejects"].items():
                reasons[r] = reasons.get(r, 0) + n
        for r, n in (src["dropped"] if src else {}).items():
            reasons[f"mix:{r}"] = reasons.get(f"mix:{r}", 0) + n
        top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        rows.append({"source": name, "stages": stages, "tokens": src["tokens"] if src else 0,
                     "top_rejects": [{"reason": r, "docs": n} for r, n in top], "lost_all": stages[-1]["docs"] == 0})
    return rows


def _token_matrix(cells: list[dict], names: list[str]) -> dict[str, Any]:
    """Tokens taken per (source, domain), every source of the funnel a row."""
    domains = sorted({c["domain"] for c in cells})
    cell: dict[tuple[str, str], int] = {}
    for c in cells:
        cell[(c["source"], c["domain"])] = cell.get((c["source"], c["domain"]), 0) + c["planned"]
    return {"sources": names, "domains": domains,
            "tokens": [[cell.get((s, d), 0) for d in domains] for s in names]}


def _examples(pools: dict[str, str], per_cell: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A few documents per source and domain of the pools the mix drew from: the ``per_cell``
    with the smallest sha256 of their id (spread over the shards, the same every run), text
    shortened at a line end."""
    import hashlib

    picked: dict[tuple[str, str], list[tuple[str, dict]]] = {}
    for pool in sorted(pools):
        for t in records.read_columns(files.join(pools[pool], "docs"), ["id", "source", "domain", "uri", "format"]):
            for r in t.to_pylist():
                key = (r["source"], r["domain"] or "unlabelled")
                picked.setdefault(key, []).append((hashlib.sha256(r["id"].encode()).hexdigest(), {**r, "pool": pool}))
                if len(picked[key]) > 4 * per_cell:
                    picked[key] = sorted(picked[key])[:per_cell]
    chosen = {k: [r for _, r in sorted(v)[:per_cell]] for k, v in picked.items()}
    texts = records.full_texts(pools, {r["id"] for rows in chosen.values() for r in rows})
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for (src, dom), rows in sorted(chosen.items()):
        for r in rows:
            text, cut = shorten(texts.get(r["id"], ""))
            out.setdefault(src, {}).setdefault(dom, []).append(
                {"id": r["id"], "uri": r["uri"] or "", "format": r["format"] or "", "pool": r["pool"],
                 "chars": len(texts.get(r["id"], "")), "text": text, "cut": cut})
    return out


def _timings(steps: list[dict]) -> list[dict[str, Any]]:
    """Wall time and throughput of each step, as its manifest recorded them (clock-dependent;
    a reused step shows the run that built it, so a rerun writes the same bytes)."""
    out = []
    for s in steps:
        counts = s.get("counts") or {}
        docs = max((c.get("in", 0) for c in counts.values()), default=0)
        wall = float(s.get("wall_s") or 0.0)
        nbytes = int((s.get("info") or {}).get("input_bytes") or 0)
        out.append({"step": s.get("step"), "wall_s": round(wall, 3), "docs_in": docs, "input_bytes": nbytes,
                    "docs_per_s": round(docs / wall, 1) if wall > 0 else None,
                    "mb_per_s": round(nbytes / wall / 1e6, 2) if wall > 0 and nbytes else None})
    return out


MEGATRON_SPLIT = (969, 30, 1)  # Megatron-LM's default --split (train, valid, test)
POOL_USE_WARN = 0.10  # warn when the budget takes under this share of the pools' tokens


def empty_splits(docs: int, split=MEGATRON_SPLIT) -> list[str]:
    """Which of train/valid/test a dataset of ``docs`` documents leaves empty under Megatron's
    ``--split`` (megatron-core cuts each dataset at round(cumulative share × documents); it
    loops forever drawing from a split that has a weight but no documents)."""
    total = float(sum(split))
    names, out, acc = ("train", "valid", "test"), [], 0.0
    for name, w in zip(names, split):
        beg = int(round(acc / total * docs))
        acc += w
        end = int(round(acc / total * docs))
        if w > 0 and end <= beg:
            out.append(name)
    return out


def _warnings(plan: dict, datasets: list[dict], budget: int) -> list[str]:
    """What a data engineer should know before training on this mixture: a budget that leaves
    most of the pool unused or asks more than the epoch caps allow, shards too small for
    Megatron's default split."""
    out = []
    pool = sum(c["tokens"] for c in plan["cells"])
    capacity = sum(c["tokens"] * (c["max_epochs"] or 0) for c in plan["cells"])
    if pool and budget < POOL_USE_WARN * pool:
        out.append(f"the budget ({budget:,} tokens) uses {budget / pool:.1%} of the pools' {pool:,} tokens "
                   f"(under {POOL_USE_WARN:.0%}): most of the data is left out; raise mix.total_tokens if that is not meant")
    if budget > capacity:
        out.append(f"the budget ({budget:,} tokens) needs more than the pools give within their epoch caps "
                   f"({capacity:,} tokens): raise mix.max_epochs / source_max_epochs or add data")
    small = [(d["prefix"], d["docs"], empty_splits(d["docs"])) for d in datasets]
    small = [x for x in small if x[2]]
    if small:
        least = next(n for n in range(1, 1_000_000) if not empty_splits(n))
        names = ", ".join(f"{p} ({n:,} documents: {'/'.join(e)} empty)" for p, n, e in small[:5])
        out.append(f"{len(small)} shard(s) are too small for Megatron's default --split "
                   f"{','.join(map(str, MEGATRON_SPLIT))} (it needs {least:,} documents per dataset; with an empty "
                   f"split megatron-core loops forever): {names}{' …' if len(small) > 5 else ''}; "
                   "train with --split 100,0,0 or make larger shards")
    return out


def megatron_flags(report: dict, directory: str = ".") -> str:
    """The tokenizer and length flags Megatron needs beside --data-path (tokenizer.json is in the stage output)."""
    return (f"--tokenizer-type HuggingFaceTokenizer --tokenizer-model {directory.rstrip('/')}/{report['tokenizer']['path']} "
            f"--seq-length {report['context_length']}")


def build_report(cfg, plan: dict, datasets: list[dict], dropped: list, reservoir: list[dict],
                 samples: dict[str, list[dict]], steps: list[dict], pools: dict[str, str], blend: dict) -> dict[str, Any]:
    """Every number the report shows, as one JSON-able dict (``samples``: unused, the examples
    are read from the pools; ``timings`` is the one clock-dependent entry)."""
    mix = cfg.mix
    total = sum(d["tokens"] for d in datasets)
    cells = plan["cells"]
    by_source: dict[str, dict[str, Any]] = {}
    for c in cells:
        s = by_source.setdefault(c["source"], {"source": c["source"], "pools": [], "docs_available": 0,
                                               "tokens_available": 0, "tokens": 0, "max_epochs": c["max_epochs"],
                                               "dropped": {}})
        if c["pool"] not in s["pools"]:
            s["pools"].append(c["pool"])
        s["docs_available"] += c["docs"]
        s["tokens_available"] += c["tokens"]
        s["tokens"] += c["planned"]
    for (pool, source, reason), n in dropped:
        s = by_source.setdefault(source, {"source": source, "pools": [pool], "docs_available": 0, "tokens_available": 0,
                                          "tokens": 0, "max_epochs": None, "dropped": {}})
        s["dropped"][reason] = s["dropped"].get(reason, 0) + n
    for s in by_source.values():
        s["epochs"] = round(s["tokens"] / s["tokens_available"], 4) if s["tokens_available"] else 0.0
        s["share"] = round(s["tokens"] / total, 6) if total else 0.0
        s["shards"] = sum(1 for d in datasets if d["source"] == s["source"])
    sources = [by_source[k] for k in sorted(by_source)]

    def realized(dim: str) -> dict[str, float]:
        out: dict[str, int] = {}
        for c in cells:
            out[c[dim]] = out.get(c[dim], 0) + c["planned"]
        return {k: round(v / total, 6) if total else 0.0 for k, v in sorted(out.items())}

    shares = {}
    for dim in ("domain", "source", "pool"):
        targets = getattr(mix, f"{dim}_shares")
        shares[dim] = {"realized": realized(dim), "target": dict(sorted(targets.items())),
                       "groups": plan["groups"].get(dim, {})}

    lengths: dict[str, list[int]] = {}
    for c in cells:
        cur = lengths.setdefault(c["domain"], [0] * len(c["lens"]))
        lengths[c["domain"]] = [a + b for a, b in zip(cur, c["lens"])]
    nbins = max((max((i + 1 for i, v in enumerate(l) if v), default=0) for l in lengths.values()), default=0)
    first = min((min((i for i, v in enumerate(l) if v), default=nbins) for l in lengths.values()), default=0)
    lengths = {k: v[first:nbins] for k, v in lengths.items()}
    score_names = sorted({k for r in reservoir for k in r["scores"]})
    quality = {n: _hist([r["scores"][n] for r in reservoir if n in r["scores"]]) for n in score_names}

    step_rows = []
    for s in steps:
        for sub, c in (s.get("counts") or {}).items():
            step_rows.append({"step": s.get("step"), "substep": sub, "in": c.get("in", 0), "out": c.get("out", 0),
                              "rejected": c.get("rejected", 0), "rejects": dict(sorted((c.get("rejects") or {}).items()))})
    docs_in = sum(s["docs_available"] for s in sources) + sum(sum(s["dropped"].values()) for s in sources)
    step_rows.append({"step": "mix", "substep": "mix", "in": docs_in, "out": sum(s["docs_available"] for s in sources),
                      "rejected": docs_in - sum(s["docs_available"] for s in sources),
                      "rejects": {f"mix:{r}": n for r, n in sorted(_sum_dropped(sources).items())}})

    funnel = _funnel(steps, sources)
    summary = {
        "stage": cfg.stage,
        "total_tokens": total,
        "budget_tokens": mix.total_tokens,
        "effective_budget": plan["effective_budget"],
        "tokens_per_source": {s["source"]: s["tokens"] for s in sources},
        "epochs_per_source": {s["source"]: s["epochs"] for s in sources},
        "shares": {dim: {g: {"target": v["target_share"], "realized": v["realized_share"], "unmet": v["unmet"]}
                         for g, v in plan["groups"].get(dim, {}).items()} for dim in ("domain", "source", "pool")
                   if plan["groups"].get(dim)},
        "realized_domain_shares": shares["domain"]["realized"],
        "unmet": plan["unmet"],
        "shards": len(datasets),
        "data_path": blend["data_path"],
        "warnings": _warnings(plan, datasets, mix.total_tokens),
    }
    return {
        "stage": cfg.stage,
        "seed": plan["seed"],
        "context_length": mix.context_length,
        "tokenizer": blend["tokenizer"],
        # the step output each pool came from, by name (its directory depends on where the run was)
        "pools": {k: os.path.basename(v.rstrip("/")) for k, v in sorted(pools.items())},
        "summary": summary,
        "shares": shares,
        "sources": sources,
        "cells": cells,
        "datasets": datasets,
        "steps": step_rows,
        "dedup_clusters": _cluster_hist(steps),
        "filter_judges": _filter_judges(steps),
        "decontam": _decontam(steps),
        "input_files": _input_files(steps),
        "length_hist": {"bins": [f"{2**i}-{2**(i+1)-1}" for i in range(first, first + len(next(iter(lengths.values()), [])))],
                        "by_domain": dict(sorted(lengths.items()))},
        "quality_hist": {"sampled_docs": len(reservoir), "scores": quality},
        "funnel": funnel,
        "token_matrix": _token_matrix(cells, [f["source"] for f in funnel]),
        "languages": records.languages(steps),
        "reject_examples": records.reject_examples(steps),
        "dup_clusters_largest": records.largest_clusters(steps),
        "examples": _examples(pools, max(mix.report_samples, 1)),
        "timings": _timings(steps),
        "blend": {"data_path": blend["data_path"], "weights": {d["prefix"]: d["weight"] for d in datasets}},
        "config": mix.model_dump(mode="json"),
    }


def _sum_dropped(sources: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sources:
        for r, n in s["dropped"].items():
            out[r] = out.get(r, 0) + n
    return out


def write_report_files(output: str, report: dict) -> None:
    """report.json (without the clock-dependent ``timings``) and report.html."""
    numbers = {k: v for k, v in report.items() if k != "timings"}
    files.write_atomic(files.join(output, "report.json"), json.dumps(numbers, indent=2, sort_keys=True).encode())
    files.write_atomic(files.join(output, "report.html"), render_html(report).encode())


# ---------------------------------------------------------------- HTML

_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;color:#222;padding:12px 16px 48px;overflow-wrap:anywhere}
h1{font-size:24px;margin:12px 0}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}h4{font-size:14px;margin:12px 0 4px}
nav{font-size:13px;line-height:1.9}nav a{margin-right:10px;white-space:nowrap;color:#2a5db0}
.scroll{overflow-x:auto;max-width:100%;margin:8px 0}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums;vertical-align:top}
th{background:#f5f5f5}td.l,th.l{text-align:left}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
.chart{margin:8px 0 16px;max-width:100%}.chart svg{display:block;max-width:100%;height:auto}.chart svg text{font-size:11px;fill:#333}
.legend{font-size:12px}.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
code{font-size:13px;overflow-wrap:anywhere}
.doc{border:1px solid #ddd;border-radius:6px;margin:10px 0;background:#fff;min-width:0}
.doc .meta{font-size:12px;color:#555;background:#f7f7f7;padding:4px 10px;border-bottom:1px solid #eee;overflow-wrap:anywhere}
.doc .body{padding:4px 12px;max-height:460px;overflow:auto}
.doc .body h1{font-size:18px}.doc .body h2{font-size:16px;border:0;margin-top:12px}.doc .body h3{font-size:15px}
.doc pre,.raw{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;padding:8px;font-size:12px;border-radius:4px;margin:6px 0}
.doc pre.hl{white-space:pre;overflow-x:auto;overflow-wrap:normal}
.lang{float:right;font-size:11px;color:#888}
.cut{font-size:12px;color:#888;font-style:italic}
.math[data-display="1"]{display:block;text-align:center;margin:8px 0;overflow-x:auto;overflow-y:hidden}
.katex-display{overflow-x:auto;overflow-y:hidden}
.side{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,300px),1fr));gap:10px}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;color:#fff;background:#1b7f3b;margin-right:6px}
.badge.rm{background:#b00020}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.heat td{min-width:64px}
.lost{color:#b00020;font-weight:600}
.warn{background:#fff8e1;border-left:3px solid #e0a800;padding:4px 8px;margin:4px 0;list-style:none}
td,th{overflow-wrap:normal}td:not(.l),th:not(.l){white-space:nowrap}td.l{min-width:90px}
@media (max-width:640px){body{font-size:14px;padding:8px 10px 40px}td,th{padding:2px 5px;font-size:13px}.doc .body{padding:2px 8px}}
"""

_JS = r"""
(function(){
const R = JSON.parse(document.getElementById('report-data').textContent);
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#4e79a7','#f28e2b','#59a14f','#e15759','#76b7b2','#edc948','#b07aa1','#ff9da7','#9c755f','#bab0ac'];
let drawn = 0;
function el(tag, attrs, parent){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function fmt(v, pct){if(pct)return (100*v).toFixed(1)+'%';if(Math.abs(v)>=1e9)return (v/1e9).toFixed(2)+'G';if(Math.abs(v)>=1e6)return (v/1e6).toFixed(2)+'M';if(Math.abs(v)>=1e3)return (v/1e3).toFixed(1)+'k';return (Math.round(v*100)/100).toString();}
function legend(box, series){const d=document.createElement('div');d.className='legend';series.forEach((s,i)=>{const sp=document.createElement('span');const b=document.createElement('i');b.style.background=s.color||COLORS[i%COLORS.length];sp.appendChild(b);sp.appendChild(document.createTextNode(s.name));d.appendChild(sp);});box.appendChild(d);}
function width(box){return Math.max(280,Math.min(900,box.clientWidth||760));}
function empty(box,msg){box.appendChild(document.createTextNode(msg||'(no data)'));box.dataset.rendered='0';drawn++;}
// horizontal grouped bars: cats = labels, series = [{name, values, color}]; one bar per positive value
function hbars(id, cats, series, opts){
  const box=document.getElementById(id); if(!box)return; opts=opts||{};
  if(!cats.length){empty(box);return;}
  const w=width(box), lw=Math.min(opts.labelWidth||190, Math.round(w*0.34)), pw=w-lw-52, bh=13, gap=8;
  const gh=series.length*bh+gap, h=cats.length*gh+8, chars=Math.floor(lw/6.2);
  let max=0; series.forEach(s=>s.values.forEach(v=>{if(v!=null&&v>max)max=v;})); if(max<=0)max=1;
  const svg=el('svg',{width:w,height:h,viewBox:`0 0 ${w} ${h}`,role:'img'},box); let marks=0;
  cats.forEach((c,ci)=>{
    const y0=ci*gh+4; const t=el('text',{x:lw-6,y:y0+series.length*bh/2+4,'text-anchor':'end'},svg);
    const label=String(c); t.textContent=label.length>chars?label.slice(0,chars-1)+'…':label; el('title',{},t).textContent=label;
    series.forEach((s,si)=>{const v=s.values[ci]; if(v==null||v<=0)return; const bw=Math.max(1,pw*v/max);
      const r=el('rect',{x:lw,y:y0+si*bh,width:bw,height:bh-2,fill:s.color||COLORS[si%COLORS.length]},svg); marks++;
      el('title',{},r).textContent=`${s.name}: ${fmt(v,opts.pct)}`;
      const lab=el('text',{x:lw+bw+4,y:y0+si*bh+bh-3},svg); lab.textContent=fmt(v,opts.pct);});
  });
  el('line',{x1:lw,y1:0,x2:lw,y2:h,stroke:'#999'},svg);
  if(series.length>1||opts.legend)legend(box,series);
  box.dataset.rendered=String(marks); drawn++;
}
// vertical histogram(s): bins labels, series; one bar per positive count (opts.part: one part of a chart)
function vbars(id, bins, series, opts){
  const box=document.getElementById(id); if(!box)return; opts=opts||{};
  if(!bins.length){empty(box);return;}
  const w=width(box), h=200, pl=44, pb=48, pw=w-pl-10, ph=h-pb-10;
  let max=0; series.forEach(s=>s.values.forEach(v=>{if(v>max)max=v;})); if(max<=0)max=1;
  const svg=el('svg',{width:w,height:h,viewBox:`0 0 ${w} ${h}`,role:'img'},box); let marks=0;
  const gw=Math.min(pw/bins.length,64), bw=Math.max(1,(gw-2)/series.length), every=Math.ceil(bins.length/Math.max(4,Math.floor(pw/22)));
  bins.forEach((b,bi)=>{
    series.forEach((s,si)=>{const v=s.values[bi]||0; if(!v)return; const bh=Math.max(1,ph*v/max);
      const r=el('rect',{x:pl+bi*gw+si*bw,y:10+ph-bh,width:bw,height:bh,fill:s.color||COLORS[si%COLORS.length]},svg); marks++;
      el('title',{},r).textContent=`${s.name} ${b}: ${v}`;});
    if(bi%every==0){const x=pl+bi*gw+gw/2, y=h-pb+14; const t=el('text',{x:x,y:y,'text-anchor':'end',transform:`rotate(-40 ${x} ${y})`},svg);t.textContent=b;}
  });
  el('line',{x1:pl,y1:10+ph,x2:w-10,y2:10+ph,stroke:'#999'},svg);
  const mt=el('text',{x:pl-4,y:16,'text-anchor':'end'},svg); mt.textContent=fmt(max);
  if(series.length>1||opts.legend)legend(box,series);
  box.dataset.rendered=String(marks); if(!opts.part)drawn++;
}
function shareChart(id, dim){
  const s=R.shares[dim]; const cats=Object.keys(s.realized).concat(Object.keys(s.target).filter(k=>!(k in s.realized)));
  const series=[{name:'realized',values:cats.map(c=>s.realized[c]||0),color:'#4e79a7'}];
  if(Object.keys(s.target).length)series.push({name:'target',values:cats.map(c=>c in s.target?s.target[c]:null),color:'#f28e2b'});
  hbars(id,cats,series,{pct:true,legend:true});
}
function typeset(){
  let n=0; if(typeof katex==='undefined')return n;
  document.querySelectorAll('.math').forEach(e=>{katex.render(e.textContent,e,{displayMode:e.dataset.display==='1',throwOnError:false,strict:'ignore',output:'htmlAndMathml'});n++;});
  return n;
}
try{
  shareChart('chart-domain','domain');
  shareChart('chart-source','source');
  const src=R.sources.map(s=>s.source);
  hbars('chart-tokens',src,[{name:'tokens taken',values:R.sources.map(s=>s.tokens)},{name:'tokens available',values:R.sources.map(s=>s.tokens_available),color:'#bab0ac'}],{legend:true});
  hbars('chart-epochs',src,[{name:'epochs used',values:R.sources.map(s=>s.epochs),color:'#59a14f'},{name:'epoch cap',values:R.sources.map(s=>s.max_epochs),color:'#e15759'}],{legend:true});
  const fn=R.funnel, stages=[]; fn.forEach(f=>f.stages.forEach(s=>{if(!stages.includes(s.stage))stages.push(s.stage);}));
  hbars('chart-funnel',fn.map(f=>f.source),stages.map((st,i)=>({name:st,values:fn.map(f=>{const x=f.stages.find(s=>s.stage===st);return x?x.docs:null;}),color:COLORS[i%10]})),{legend:true});
  const st=R.steps.map(s=>s.step+(s.substep!==s.step?'/'+s.substep:''));
  hbars('chart-steps',st,[{name:'in',values:R.steps.map(s=>s['in'])},{name:'out',values:R.steps.map(s=>s.out),color:'#59a14f'},{name:'rejected',values:R.steps.map(s=>s.rejected),color:'#e15759'}],{legend:true});
  const rj={}; R.steps.forEach(s=>{for(const k in s.rejects)rj[k]=(rj[k]||0)+s.rejects[k];});
  const rk=Object.keys(rj).sort((a,b)=>rj[b]-rj[a]||(a<b?-1:1));
  hbars('chart-rejects',rk,[{name:'documents',values:rk.map(k=>rj[k]),color:'#e15759'}],{labelWidth:240});
  const lt=l=>R.languages[l].kept+R.languages[l].rejected;
  const lg=Object.keys(R.languages).sort((a,b)=>lt(b)-lt(a)||(a<b?-1:1));
  hbars('chart-langs',lg,[{name:'kept',values:lg.map(l=>R.languages[l].kept),color:'#59a14f'},{name:'rejected',values:lg.map(l=>R.languages[l].rejected),color:'#e15759'}],{legend:true});
  const lh=R.length_hist; vbars('chart-lengths',lh.bins,Object.keys(lh.by_domain).map(d=>({name:d,values:lh.by_domain[d]})),{legend:true});
  const qs=R.quality_hist.scores; const qbox=document.getElementById('chart-quality'); const qn=Object.keys(qs);
  if(!qn.length){empty(qbox,'(no quality scores on the sampled documents)');}
  else{let qm=0; qn.forEach((n,i)=>{const d=document.createElement('div');d.id='chart-quality-'+i;d.className='chart';const h=document.createElement('h4');h.textContent=n;qbox.appendChild(h);qbox.appendChild(d);
    const e=qs[n].edges; vbars(d.id,qs[n].counts.map((_,j)=>e[j].toFixed(2)),[{name:n,values:qs[n].counts,color:COLORS[(i+4)%10]}],{part:true}); qm+=Number(d.dataset.rendered);});
    qbox.dataset.rendered=String(qm); drawn++;}
  const cl=R.dedup_clusters; const ck=Object.keys(cl);
  vbars('chart-clusters',ck,[{name:'clusters',values:ck.map(k=>cl[k]),color:'#b07aa1'}]);
  const tm=R.timings||[];
  hbars('chart-timing',tm.map(t=>t.step),[{name:'documents/s',values:tm.map(t=>t.docs_per_s),color:'#76b7b2'}],{legend:true});
  document.body.dataset.chartsRendered=String(drawn);
  document.body.dataset.mathRendered=String(typeset());
}catch(err){document.body.dataset.chartsError=String(err);throw err;}
})();
"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return _e(v)


def _asset(name: str) -> bytes:
    with open(os.path.join(os.path.dirname(__file__), "assets", name), "rb") as f:
        return f.read()


def _katex_css() -> str:
    """KaTeX's stylesheet with its fonts inlined (woff2 only, as data: URLs)."""
    import base64
    import re

    css = _asset("katex.min.css").decode()

    def font(m: re.Match) -> str:
        data = base64.b64encode(_asset(m.group(1) + ".woff2")).decode()
        return f"src:url(data:font/woff2;base64,{data}) format('woff2')"

    return re.sub(r"src:url\(fonts/([\w-]+)\.woff2\)[^;}]*", font, css)


def _table(head: list[str], rows: list[str], left: int = 1, text_last: bool = False) -> str:
    """A table in a box that scrolls sideways on a narrow screen (the page itself never does);
    the first ``left`` columns (and the last, with ``text_last``) are text, left-aligned."""
    last = len(head) - 1 if text_last else -1
    ths = "".join(f"<th{' class=l' if i < left or i == last else ''}>{_e(h)}</th>" for i, h in enumerate(head))
    return f"<div class=scroll><table><tr>{ths}</tr>{''.join(rows)}</table></div>"


def _doc_card(meta: str, body: str) -> str:
    return f"<article class=doc><div class=meta>{meta}</div><div class=body>{body}</div></article>"


def _raw(text: str, empty: str = "(no text)") -> str:
    return f"<pre class=raw>{_e(text)}</pre>" if text.strip() else f"<p class=cut>{_e(empty)}</p>"


def _funnel_html(report: dict) -> str:
    stages: list[str] = []
    for f in report["funnel"]:
        stages += [s["stage"] for s in f["stages"] if s["stage"] not in stages]
    rows = []
    for f in report["funnel"]:
        by = {s["stage"]: s["docs"] for s in f["stages"]}
        top = "; ".join(f"{_e(r['reason'])} {_num(r['docs'])}" for r in f["top_rejects"]) or "–"
        name = _e(f["source"]) + (" <span class=lost>(lost every document)</span>" if f["lost_all"] else "")
        rows.append(f"<tr><td class=l>{name}</td>" + "".join(f"<td>{_num(by[s]) if s in by else '–'}</td>" for s in stages)
                    + f"<td>{_num(f['tokens'])}</td><td class=l>{top}</td></tr>")
    return _table(["source", *stages, "tokens mixed", "top reject reasons"], rows, text_last=True) if rows \
        else "<p>(no sources)</p>"


def _matrix_html(report: dict) -> str:
    m = report["token_matrix"]
    if not m["domains"]:
        return "<p>(no tokens were mixed)</p>"
    top = max((v for row in m["tokens"] for v in row), default=0) or 1
    rows = []
    for src, row in zip(m["sources"], m["tokens"]):
        cells = "".join(f"<td style=\"background:rgba(78,121,167,{0.08 + 0.6 * v / top:.3f})\">{_num(v)}</td>" if v
                        else "<td>0</td>" for v in row)
        rows.append(f"<tr><td class=l>{_e(src)}</td>{cells}<td><b>{_num(sum(row))}</b></td></tr>")
    totals = [sum(r[i] for r in m["tokens"]) for i in range(len(m["domains"]))]
    rows.append("<tr><th class=l>total</th>" + "".join(f"<th>{_num(v)}</th>" for v in totals)
                + f"<th>{_num(sum(totals))}</th></tr>")
    return _table(["source \\ domain", *m["domains"], "total"], rows).replace("<table>", "<table class=heat>")


def _examples_html(report: dict) -> str:
    out = []
    for src, domains in report["examples"].items():
        parts = []
        for dom, docs in domains.items():
            cards = "".join(_doc_card(
                f"{_e(d['uri'] or d['id'])} · {_e(d['format'])} · {_num(d['chars'])} characters",
                markdown_html(d["text"]) + (f"<p class=cut>… shortened to {_num(len(d['text']))} of "
                                            f"{_num(d['chars'])} characters</p>" if d["cut"] else "")) for d in docs)
            parts.append(f"<h4>{_e(dom)}</h4>{cards}")
        out.append(f"<details open><summary>{_e(src)}</summary>{''.join(parts)}</details>")
    return "".join(out) or "<p>(no documents reached the mix)</p>"


def _reject_examples_html(report: dict) -> str:
    out = []
    totals: dict[str, int] = {}
    for r in report["steps"]:
        for k, v in r["rejects"].items():
            totals[k] = totals.get(k, 0) + v
    for reason, docs in report["reject_examples"].items():
        cards = "".join(_doc_card(
            f"{_e(d['source'])} · {_e(d['uri'] or d['id'])} · <b>detail:</b> {_e(d['detail'] or '–')}",
            _raw(d["text"], "(no text: nothing was extracted)")) for d in docs)
        out.append(f"<h3>{_e(reason)} <small>({_num(totals.get(reason, 0))} documents)</small></h3><div class=side>{cards}</div>")
    return "".join(out) or "<p>No document was rejected.</p>"


def _clusters_html(report: dict) -> str:
    out = []
    for c in report["dup_clusters_largest"]:
        cards = "".join(_doc_card(
            ("<span class=badge>kept</span>" if m["kept"] else f"<span class='badge rm'>removed: {_e(m['reason'])}</span>")
            + f"{_e(m['source'])} · {_e(m['uri'] or m['id'])}", markdown_html(shorten(m["text"])[0])) for m in c["members"])
        out.append(f"<h3>Cluster {_e(c['id'][:12])} <small>({c['size']} documents"
                   f"{', first ' + str(len(c['members'])) + ' shown' if len(c['members']) < c['size'] else ''})</small></h3>"
                   f"<div class=side>{cards}</div>")
    return "".join(out) or "<p>No near-duplicate clusters.</p>"


def _decontam_html(report: dict) -> str:
    d = report.get("decontam") or {}
    if not d:
        return "<p>No decontamination step ran on these pools.</p>"
    rows = [f"<tr><td class=l>{_e(b)}</td><td>{_num(d['items'].get(b, 0))}</td><td>{_num(d['hits'].get(b, 0))}</td></tr>"
            for b in sorted(set(d["items"]) | set(d["hits"]))]
    rules = ", ".join(f"{_e(r)}: {_num(n)}" for r, n in d["rules"].items()) or "none"
    return (f"<p>{_num(d['checked'])} documents checked against the benchmarks below; "
            f"{_num(sum(d['hits'].values()))} rejected (by rule: {rules}).</p>"
            + _table(["benchmark", "items", "documents rejected"], rows))


def _timings_html(report: dict) -> str:
    rows = [f"<tr><td class=l>{_e(t['step'])}</td><td>{t['wall_s']:.1f}</td>"
            f"<td>{_num(t['docs_in'])}</td><td>{_num(t['docs_per_s']) if t['docs_per_s'] is not None else '–'}</td>"
            f"<td>{_num(t['mb_per_s']) if t['mb_per_s'] is not None else '–'}</td></tr>" for t in report.get("timings") or []]
    return _table(["step", "wall s", "documents in", "documents/s", "input MB/s"], rows) if rows else "<p>(no step timings)</p>"


def render_html(report: dict) -> str:
    """report.html: tables and examples written here, charts drawn by the inline script from the embedded JSON."""
    s = report["summary"]
    light = {k: v for k, v in report.items() if k not in ("examples", "reject_examples", "dup_clusters_largest", "cells",
                                                            "config", "datasets", "input_files")}
    data = json.dumps(light, sort_keys=True).replace("</", "<\\/").replace("<!--", "<\\!--")
    rows = []
    for src in report["sources"]:
        dropped = ", ".join(f"{k}: {v}" for k, v in src["dropped"].items()) or "–"
        rows.append(
            f"<tr><td class=l>{_e(src['source'])}</td><td class=l>{_e(', '.join(src['pools']))}</td>"
            f"<td>{_num(src['docs_available'])}</td><td>{_num(src['tokens_available'])}</td><td>{_num(src['tokens'])}</td>"
            f"<td>{src['share']:.1%}</td><td>{src['epochs']:.2f}</td><td>{_num(src['max_epochs'])}</td>"
            f"<td>{src['shards']}</td><td class=l>{_e(dropped)}</td></tr>"
        )
    targets = []
    for dim, groups in report["shares"].items():
        for g, v in groups["groups"].items():
            cls = "bad" if v["unmet"] else "ok"
            targets.append(
                f"<tr><td class=l>{_e(dim)}</td><td class=l>{_e(g)}</td><td>{v['target_share']:.1%}</td>"
                f"<td>{v['adjusted_share']:.1%}</td><td>{v['realized_share']:.1%}</td><td>{_num(v['tokens'])}</td>"
                f"<td>{_num(v['capacity_tokens'])}</td><td class={cls}>{'not met' if v['unmet'] else 'met'}</td></tr>"
            )
    unmet = "".join(
        f"<li class=bad>Not met: {_e(u['dimension'])} <b>{_e(u['group'])}</b>: target {u['target_share']:.1%}, realized "
        f"{u['realized_share']:.1%}: {_e(u['reason'])}; {_e(u['action'])}.</li>" for u in s["unmet"]
    ) or "<li class=ok>Every target was met within 2 points.</li>"
    steps = [
        f"<tr><td class=l>{_e(r['step'])}</td><td class=l>{_e(r['substep'])}</td><td>{_num(r['in'])}</td>"
        f"<td>{_num(r['out'])}</td><td>{_num(r['rejected'])}</td>"
        f"<td class=l>{_e(', '.join(f'{k}: {v}' for k, v in r['rejects'].items()) or '–')}</td></tr>"
        for r in report["steps"]
    ]
    fj = report.get("filter_judges") or {"exemptions": {}, "judges": {}}
    exempt_rows = [
        f"<tr><td class=l>{_e(profile)}</td><td class=l>{_e(rule)}</td><td>{_num(n)}</td></tr>"
        for profile, rules in fj["exemptions"].items() for rule, n in rules.items()
    ] or ["<tr><td class=l colspan=3>No kept document needed an exemption from the web rules.</td></tr>"]
    jd = fj["judges"]
    judges = (
        f"<p>Small-LM classifier and rules: agree to keep {_num(jd.get('agree_keep', 0))}, agree to drop "
        f"{_num(jd.get('agree_drop', 0))}; <b>rules would drop, model keeps {_num(jd.get('rules_drop_lm_keep', 0))}</b>; "
        f"<b>rules keep, model drops {_num(jd.get('rules_keep_lm_drop', 0))}</b>.</p>"
        if jd else "<p>No small-LM classifier judged this data (filter.lm.model and filter.lm.min_score unset).</p>"
    )
    inp = report.get("input_files") or {"read": 0, "skipped": {}, "skipped_files": []}
    skipped_rows = [f"<tr><td class=l>{_e(k['name'])}</td><td class=l>{_e(k['reason'])}</td></tr>"
                    for k in inp["skipped_files"]]
    inputs_html = (f"<p>{_num(inp['read'])} input file(s) read; {_num(sum(inp['skipped'].values()))} not read"
                   + (": " + ", ".join(f"{_num(n)} {_e(r)}" for r, n in inp["skipped"].items()) if inp["skipped"] else "")
                   + ".</p>" + (_table(["file not read", "why"], skipped_rows, 2) if skipped_rows else ""))
    tok = report["tokenizer"]
    warnings = "".join(f"<li class=warn>{_e(w)}</li>" for w in s.get("warnings") or [])
    warnings = f"<h2 id=warnings>Warnings</h2><ul>{warnings}</ul>" if warnings else ""
    sections = [("targets", "Targets"), ("funnel", "Sources: where each one's documents went"),
                ("matrix", "Tokens per source and domain"), ("shares", "Shares"), ("steps", "Steps"),
                ("rejects", "Reject reasons"), ("languages", "Languages"), ("lengths", "Lengths"),
                ("quality", "Quality scores"), ("dedup", "Near-duplicates"), ("decontam", "Decontamination"),
                ("timing", "Step timings"),
                ("examples", "Example documents"), ("megatron", "Megatron")]
    nav = "".join(f"<a href=#{k}>{_e(v)}</a>" for k, v in sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:">
<title>curate mixture report: {_e(report['stage'])}</title>
<style>{_katex_css()}</style><style>{code_css()}</style><style>{_CSS}</style></head>
<body data-charts-rendered="0" data-math-rendered="0">
<h1>Mixture report: {_e(report['stage'])}</h1>
<p><b>{_num(s['total_tokens'])}</b> tokens (budget {_num(s['budget_tokens'])}) in {s['shards']} shard(s) ·
context length {report['context_length']:,} · seed {report['seed']} · tokenizer {_e(tok['path'])}
(vocab {tok['vocab_size']:,}, EOD id {tok['eod_id']}, {_e(tok['dtype'])})</p>
<nav>{nav}</nav>
{warnings}<h2 id=targets>Targets</h2><ul>{unmet}</ul>
{_table(["dimension", "group", "target", "after shortfall", "realized", "tokens", "capacity (× epoch cap)", "status"], targets, 2)}
<h2 id=funnel>Sources: where each one's documents went</h2>
<p>Documents of each input source after each step (from the steps' own output shards), tokens taken into the mix, and its most frequent reject reasons.</p>
<div class=chart id=chart-funnel></div>
{_funnel_html(report)}
<h3>Input files</h3>{inputs_html}
<h2 id=matrix>Tokens per source and domain</h2>{_matrix_html(report)}
<h2 id=shares>Shares</h2>
<h3>Realized vs target share per domain</h3><div class=chart id=chart-domain></div>
<h3>Realized vs target share per source</h3><div class=chart id=chart-source></div>
<h3>Tokens per source</h3><div class=chart id=chart-tokens></div>
<h3>Epochs used per source</h3><div class=chart id=chart-epochs></div>
{_table(["source", "pools", "docs available", "tokens available", "tokens taken", "share", "epochs", "cap", "shards", "dropped at mix"], rows, 2, True)}
<h2 id=steps>Steps: documents in, out and rejected</h2><div class=chart id=chart-steps></div>
{_table(["step", "part", "in", "out", "rejected", "reasons"], steps, 2, True)}
<h2 id=rejects>Reject reasons</h2><div class=chart id=chart-rejects></div>
<p>For each of the most frequent reasons, the first rejected documents with the rule's detail.</p>
{_reject_examples_html(report)}
<h3>Filter: rules made for math, code and papers</h3>
<p>Kept documents that the web rules (Gopher, C4, FineWeb defaults) would have dropped, saved by the rules of their profile.</p>
{_table(["profile", "web rule it was exempted from", "documents saved"], exempt_rows, 2)}
{judges}
<h2 id=languages>Languages (documents at the filter step)</h2><div class=chart id=chart-langs></div>
<h2 id=lengths>Document length (tokens, log<sub>2</sub> bins) per domain</h2><div class=chart id=chart-lengths></div>
<h2 id=quality>Quality scores (deterministic sample of {report['quality_hist']['sampled_docs']:,} documents)</h2><div class=chart id=chart-quality></div>
<h2 id=dedup>Near-duplicates</h2><h3>Cluster sizes</h3><div class=chart id=chart-clusters></div>
<h3>Largest clusters, members side by side</h3>{_clusters_html(report)}
<h2 id=decontam>Decontamination: benchmark overlap</h2>{_decontam_html(report)}
<h2 id=timing>Step timings</h2><p>Wall time of each step as its manifest recorded it (a reused step shows the run that built it).</p>
<div class=chart id=chart-timing></div>{_timings_html(report)}
<h2 id=examples>Example documents per source and domain</h2>{_examples_html(report)}
<h2 id=megatron>Megatron</h2><p><code>--data-path {_e(s['data_path'])} {_e(megatron_flags(report))}</code></p><p>Prefixes are relative to this directory; the stage's manifest.json has them absolute (<code>mix.data_path_abs</code>, or <code>curate report --absolute</code>).</p>
<script type="application/json" id="report-data">{data}</script>
<script>{_asset("katex.min.js").decode()}</script>
<script>{_JS}</script>
</body></html>
"""


# ---------------------------------------------------------------- terminal

def print_summary(directory: str, console=None, data_path: str | None = None) -> dict:
    """Print the mixture summary of ``directory`` (a stage or mix output with report.json) with rich.

    The last two lines are the tokenizer flags Megatron needs and its ``--data-path``
    (``data_path`` when given, e.g. with absolute prefixes, and then the tokenizer path is
    absolute too; else the report's, relative to ``directory``), never wrapped: they are meant
    to be copied whole, whatever the terminal width.
    """
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    report = json.loads(files.read_bytes(files.join(directory, "report.json")))
    s = report["summary"]
    console.print(f"[bold]{report['stage']}[/bold]: {s['total_tokens']:,} tokens (budget {s['budget_tokens']:,}) "
                  f"in {s['shards']} shard(s), context {report['context_length']:,}, seed {report['seed']}")
    t = Table(title="Sources")
    for c in ("source", "tokens", "share", "epochs", "cap", "docs", "dropped"):
        t.add_column(c, justify="left" if c in ("source", "dropped") else "right")
    for src in report["sources"]:
        t.add_row(src["source"], f"{src['tokens']:,}", f"{src['share']:.1%}", f"{src['epochs']:.2f}",
                  f"{src['max_epochs']}", f"{src['docs_available']:,}",
                  ", ".join(f"{k}: {v}" for k, v in src["dropped"].items()) or "-")
    console.print(t)
    t = Table(title="Targets")
    for c in ("dimension", "group", "target", "realized", "status"):
        t.add_column(c, justify="left" if c in ("dimension", "group", "status") else "right")
    for dim, groups in report["shares"].items():
        for g, v in groups["groups"].items():
            t.add_row(dim, g, f"{v['target_share']:.1%}", f"{v['realized_share']:.1%}",
                      "[red]not met[/red]" if v["unmet"] else "[green]met[/green]")
    if t.row_count:
        console.print(t)
    dom = report["shares"]["domain"]["realized"]
    if dom:
        console.print("realized domain shares: " + ", ".join(f"{k} {v:.1%}" for k, v in dom.items()))
    for u in s["unmet"]:
        console.print(f"[red]not met[/red] {u['dimension']} {u['group']}: target {u['target_share']:.1%}, "
                      f"realized {u['realized_share']:.1%} ({u['reason']}; {u['action']})")
    t = Table(title="Steps")
    for c in ("step", "in", "out", "rejected", "top reasons"):
        t.add_column(c, justify="left" if c in ("step", "top reasons") else "right")
    for r in report["steps"]:
        top = sorted(r["rejects"].items(), key=lambda kv: -kv[1])[:3]
        name = r["step"] if r["substep"] == r["step"] else f"{r['step']}/{r['substep']}"
        t.add_row(name, f"{r['in']:,}", f"{r['out']:,}", f"{r['rejected']:,}", ", ".join(f"{k} {v}" for k, v in top) or "-")
    console.print(t)
    fj = report.get("filter_judges") or {}
    saved = ", ".join(f"{p}/{r.split(':', 1)[-1]} {n}" for p, rules in (fj.get("exemptions") or {}).items() for r, n in rules.items())
    if saved:
        console.print(f"filter exemptions (kept documents the web rules would drop): {saved}")
    jd = fj.get("judges") or {}
    if jd:
        console.print(f"LM vs rules: rules drop/model keeps {jd.get('rules_drop_lm_keep', 0):,}, "
                      f"rules keep/model drops {jd.get('rules_keep_lm_drop', 0):,}")
    for w in s.get("warnings") or []:
        console.print(f"[yellow]warning[/yellow] {w}", highlight=False)
    # paths as the --data-path line has them: relative to ``directory``, or absolute with ``data_path``
    base = "." if data_path is None else directory if files.is_remote(directory) else os.path.abspath(directory)
    console.print(f"Megatron flags: {megatron_flags(report, base)}", soft_wrap=True, markup=False, highlight=False,
                  crop=False)
    console.print(f"Megatron: --data-path {data_path or s['data_path']}", soft_wrap=True, markup=False,
                  highlight=False, crop=False)
    return report
