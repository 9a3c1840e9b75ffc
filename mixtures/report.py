"""The mixture report: report.json (the numbers), report.html (self-contained charts), a terminal summary.

report.html embeds report.json and draws every chart as inline SVG with a few lines of
JavaScript: no network, no external script or font. When drawing is done it sets
``data-charts-rendered`` on ``<body>`` to the number of charts drawn (the headless-browser
test reads it). Nothing in the report depends on wall time, so the same input and seed give
the same bytes.
"""

from __future__ import annotations

import html
import json
import math
import os
from typing import Any

from curate.dedup.stats import ClusterStats
from curate.filters.judges import JudgeStats
from curate.io import files

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


def build_report(cfg, plan: dict, datasets: list[dict], dropped: list, reservoir: list[dict],
                 samples: dict[str, list[dict]], steps: list[dict], pools: dict[str, str], blend: dict) -> dict[str, Any]:
    """Every number the report shows, as one JSON-able dict."""
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
    lengths = {k: v[:nbins] for k, v in lengths.items()}
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
        "input_files": _input_files(steps),
        "length_hist": {"bins": [f"{2**i}-{2**(i+1)-1}" for i in range(len(next(iter(lengths.values()), [])))],
                        "by_domain": dict(sorted(lengths.items()))},
        "quality_hist": {"sampled_docs": len(reservoir), "scores": quality},
        "samples": {k: samples[k] for k in sorted(samples)},
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
    files.write_atomic(files.join(output, "report.json"), json.dumps(report, indent=2, sort_keys=True).encode())
    files.write_atomic(files.join(output, "report.html"), render_html(report).encode())


# ---------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f5f5f5}td.l,th.l{text-align:left}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
.chart{margin:8px 0 16px}.chart svg text{font-size:11px;fill:#333}.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
pre{white-space:pre-wrap;background:#f7f7f7;padding:8px;max-height:220px;overflow:auto;font-size:12px}
code{font-size:12px;word-break:break-all}
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
// horizontal grouped bars: cats = labels, series = [{name, values, color}]
function hbars(id, cats, series, opts){
  const box=document.getElementById(id); if(!box)return; opts=opts||{};
  if(!cats.length){box.appendChild(document.createTextNode('(no data)'));box.dataset.rendered='0';drawn++;return;}
  const bh=12, gap=8, lw=opts.labelWidth||190, w=opts.width||760, pw=w-lw-70;
  const gh=series.length*bh+gap, h=cats.length*gh+24;
  let max=0; series.forEach(s=>s.values.forEach(v=>{if(v!=null&&v>max)max=v;})); if(max<=0)max=1;
  const svg=el('svg',{width:w,height:h,viewBox:`0 0 ${w} ${h}`,role:'img'},box); let marks=0;
  cats.forEach((c,ci)=>{
    const y0=ci*gh+4; const t=el('text',{x:lw-6,y:y0+series.length*bh/2+4,'text-anchor':'end'},svg); t.textContent=String(c).slice(0,34);
    series.forEach((s,si)=>{const v=s.values[ci]; if(v==null)return; const bw=Math.max(1,pw*v/max);
      const r=el('rect',{x:lw,y:y0+si*bh,width:bw,height:bh-2,fill:s.color||COLORS[si%COLORS.length]},svg); marks++;
      const tt=el('title',{},r); tt.textContent=`${s.name}: ${fmt(v,opts.pct)}`;
      const lab=el('text',{x:lw+bw+4,y:y0+si*bh+bh-3},svg); lab.textContent=fmt(v,opts.pct);});
  });
  el('line',{x1:lw,y1:0,x2:lw,y2:h-20,stroke:'#999'},svg);
  if(series.length>1||opts.legend)legend(box,series);
  box.dataset.rendered=String(marks); drawn++;
}
// vertical histogram(s): bins labels, series
function vbars(id, bins, series, opts){
  const box=document.getElementById(id); if(!box)return; opts=opts||{};
  if(!bins.length){box.appendChild(document.createTextNode('(no data)'));box.dataset.rendered='0';drawn++;return;}
  const w=opts.width||760, h=220, pl=50, pb=50, pw=w-pl-10, ph=h-pb-10;
  let max=0; series.forEach(s=>s.values.forEach(v=>{if(v>max)max=v;})); if(max<=0)max=1;
  const svg=el('svg',{width:w,height:h,viewBox:`0 0 ${w} ${h}`,role:'img'},box); let marks=0;
  const gw=pw/bins.length, bw=Math.max(1,(gw-2)/series.length);
  bins.forEach((b,bi)=>{
    series.forEach((s,si)=>{const v=s.values[bi]||0; if(!v)return; const bh=ph*v/max;
      const r=el('rect',{x:pl+bi*gw+si*bw,y:10+ph-bh,width:bw,height:bh,fill:s.color||COLORS[si%COLORS.length]},svg); marks++;
      const tt=el('title',{},r); tt.textContent=`${s.name} ${b}: ${v}`;});
    if(bins.length<=30||bi%Math.ceil(bins.length/30)==0){const t=el('text',{x:pl+bi*gw+gw/2,y:h-pb+14,'text-anchor':'end',transform:`rotate(-40 ${pl+bi*gw+gw/2} ${h-pb+14})`},svg);t.textContent=b;}
  });
  el('line',{x1:pl,y1:10+ph,x2:w-10,y2:10+ph,stroke:'#999'},svg);
  const mt=el('text',{x:pl-4,y:16,'text-anchor':'end'},svg); mt.textContent=fmt(max);
  if(series.length>1||opts.legend)legend(box,series);
  box.dataset.rendered=String(marks); drawn++;
}
function shareChart(id, dim){
  const s=R.shares[dim]; const cats=Object.keys(s.realized).concat(Object.keys(s.target).filter(k=>!(k in s.realized)));
  const series=[{name:'realized',values:cats.map(c=>s.realized[c]||0),color:'#4e79a7'}];
  if(Object.keys(s.target).length)series.push({name:'target',values:cats.map(c=>c in s.target?s.target[c]:null),color:'#f28e2b'});
  hbars(id,cats,series,{pct:true,legend:true});
}
try{
  shareChart('chart-domain','domain');
  shareChart('chart-source','source');
  const src=R.sources.map(s=>s.source);
  hbars('chart-tokens',src,[{name:'tokens taken',values:R.sources.map(s=>s.tokens)},{name:'tokens available',values:R.sources.map(s=>s.tokens_available),color:'#bab0ac'}],{legend:true});
  hbars('chart-epochs',src,[{name:'epochs used',values:R.sources.map(s=>s.epochs),color:'#59a14f'},{name:'epoch cap',values:R.sources.map(s=>s.max_epochs),color:'#e15759'}],{legend:true});
  const st=R.steps.map(s=>s.step+(s.substep!==s.step?'/'+s.substep:''));
  hbars('chart-steps',st,[{name:'in',values:R.steps.map(s=>s['in'])},{name:'out',values:R.steps.map(s=>s.out),color:'#59a14f'},{name:'rejected',values:R.steps.map(s=>s.rejected),color:'#e15759'}],{legend:true});
  const rj={}; R.steps.forEach(s=>{for(const k in s.rejects)rj[k]=(rj[k]||0)+s.rejects[k];});
  const rk=Object.keys(rj).sort((a,b)=>rj[b]-rj[a]);
  hbars('chart-rejects',rk,[{name:'documents',values:rk.map(k=>rj[k]),color:'#e15759'}],{labelWidth:240});
  const lh=R.length_hist; vbars('chart-lengths',lh.bins,Object.keys(lh.by_domain).map(d=>({name:d,values:lh.by_domain[d]})),{legend:true});
  const qs=R.quality_hist.scores; const qbox=document.getElementById('chart-quality');
  const qn=Object.keys(qs);
  if(!qn.length){qbox.appendChild(document.createTextNode('(no quality scores on the sampled documents)'));qbox.dataset.rendered='0';drawn++;}
  else qn.forEach((n,i)=>{const d=document.createElement('div');d.id='chart-quality-'+i;const h=document.createElement('h4');h.textContent=n;qbox.appendChild(h);qbox.appendChild(d);
    const e=qs[n].edges; vbars(d.id,qs[n].counts.map((_,j)=>e[j].toFixed(2)),[{name:n,values:qs[n].counts,color:COLORS[(i+4)%10]}]); qbox.dataset.rendered=String(qn.length);});
  const cl=R.dedup_clusters; const ck=Object.keys(cl);
  vbars('chart-clusters',ck,[{name:'clusters',values:ck.map(k=>cl[k]),color:'#b07aa1'}]);
  const sbox=document.getElementById('samples');
  Object.keys(R.samples).forEach(s=>{const h=document.createElement('h3');h.textContent=s;sbox.appendChild(h);
    R.samples[s].forEach(d=>{const m=document.createElement('div');m.className='meta';m.textContent=`${d.id} · ${d.domain} · ${d.format} · ${d.tokens} tokens · ${d.uri||''}`;const p=document.createElement('pre');p.textContent=d.text;sbox.appendChild(m);sbox.appendChild(p);});});
  document.body.dataset.chartsRendered=String(drawn);
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


def render_html(report: dict) -> str:
    """report.html: tables written here, charts drawn by the inline script from the embedded JSON."""
    s = report["summary"]
    data = json.dumps(report, sort_keys=True).replace("</", "<\\/").replace("<!--", "<\\!--")
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
    steps = "".join(
        f"<tr><td class=l>{_e(r['step'])}</td><td class=l>{_e(r['substep'])}</td><td>{_num(r['in'])}</td>"
        f"<td>{_num(r['out'])}</td><td>{_num(r['rejected'])}</td>"
        f"<td class=l>{_e(', '.join(f'{k}: {v}' for k, v in r['rejects'].items()) or '–')}</td></tr>"
        for r in report["steps"]
    )
    fj = report.get("filter_judges") or {"exemptions": {}, "judges": {}}
    exempt_rows = "".join(
        f"<tr><td class=l>{_e(profile)}</td><td class=l>{_e(rule)}</td><td>{_num(n)}</td></tr>"
        for profile, rules in fj["exemptions"].items() for rule, n in rules.items()
    ) or "<tr><td class=l colspan=3>No kept document needed an exemption from the web rules.</td></tr>"
    jd = fj["judges"]
    judges = (
        f"<p>Small-LM classifier and rules: agree to keep {_num(jd.get('agree_keep', 0))}, agree to drop "
        f"{_num(jd.get('agree_drop', 0))}; <b>rules would drop, model keeps {_num(jd.get('rules_drop_lm_keep', 0))}</b>; "
        f"<b>rules keep, model drops {_num(jd.get('rules_keep_lm_drop', 0))}</b>.</p>"
        if jd else "<p>No small-LM classifier judged this data (filter.lm.model and filter.lm.min_score unset).</p>"
    )
    inp = report.get("input_files") or {"read": 0, "skipped": {}, "skipped_files": []}
    skipped_rows = "".join(f"<tr><td class=l>{_e(k['name'])}</td><td class=l>{_e(k['reason'])}</td></tr>"
                           for k in inp["skipped_files"])
    inputs_html = (f"<p>{_num(inp['read'])} input file(s) read; {_num(sum(inp['skipped'].values()))} not read"
                   + (": " + ", ".join(f"{_num(n)} {_e(r)}" for r, n in inp["skipped"].items()) if inp["skipped"] else "")
                   + ".</p>" + (f"<table><tr><th class=l>file not read</th><th class=l>why</th></tr>{skipped_rows}</table>"
                                if skipped_rows else ""))
    tok = report["tokenizer"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>curate mixture report: {_e(report['stage'])}</title><style>{_CSS}</style></head>
<body data-charts-rendered="0">
<h1>Mixture report: {_e(report['stage'])}</h1>
<p><b>{_num(s['total_tokens'])}</b> tokens (budget {_num(s['budget_tokens'])}) in {s['shards']} shard(s) ·
context length {report['context_length']:,} · seed {report['seed']} · tokenizer {_e(tok['path'])}
(vocab {tok['vocab_size']:,}, EOD id {tok['eod_id']}, {_e(tok['dtype'])})</p>
<h2>Targets</h2><ul>{unmet}</ul>
<table><tr><th class=l>dimension</th><th class=l>group</th><th>target</th><th>after shortfall</th><th>realized</th><th>tokens</th><th>capacity (× epoch cap)</th><th>status</th></tr>{''.join(targets)}</table>
<h2>Realized vs target share per domain</h2><div class=chart id=chart-domain></div>
<h2>Realized vs target share per source</h2><div class=chart id=chart-source></div>
<h2>Tokens per source</h2><div class=chart id=chart-tokens></div>
<h2>Epochs used per source</h2><div class=chart id=chart-epochs></div>
<table><tr><th class=l>source</th><th class=l>pools</th><th>docs available</th><th>tokens available</th><th>tokens taken</th><th>share</th><th>epochs</th><th>cap</th><th>shards</th><th class=l>dropped at mix</th></tr>{''.join(rows)}</table>
<h2>Input files</h2>{inputs_html}
<h2>Where the data went: documents per step</h2><div class=chart id=chart-steps></div>
<table><tr><th class=l>step</th><th class=l>part</th><th>in</th><th>out</th><th>rejected</th><th class=l>reasons</th></tr>{steps}</table>
<h2>Reject reasons</h2><div class=chart id=chart-rejects></div>
<h2>Filter: rules made for math, code and papers</h2>
<p>Kept documents that the web rules (Gopher, C4, FineWeb defaults) would have dropped, saved by the rules of their profile.</p>
<table><tr><th class=l>profile</th><th class=l>web rule it was exempted from</th><th>documents saved</th></tr>{exempt_rows}</table>
{judges}
<h2>Document length (tokens, log<sub>2</sub> bins) per domain</h2><div class=chart id=chart-lengths></div>
<h2>Quality scores (deterministic sample of {report['quality_hist']['sampled_docs']:,} documents)</h2><div class=chart id=chart-quality></div>
<h2>Near-duplicate cluster sizes</h2><div class=chart id=chart-clusters></div>
<h2>Megatron</h2><p><code>--data-path {_e(s['data_path'])}</code> (prefixes relative to this directory; the stage's manifest.json has them absolute, as <code>mix.data_path_abs</code>)</p>
<h2>Sample documents per source</h2><div id=samples></div>
<script type="application/json" id="report-data">{data}</script>
<script>{_JS}</script>
</body></html>
"""


# ---------------------------------------------------------------- terminal

def print_summary(directory: str, console=None, data_path: str | None = None) -> dict:
    """Print the mixture summary of ``directory`` (a stage or mix output with report.json) with rich.

    The last line is Megatron's ``--data-path`` (``data_path`` when given, e.g. with absolute
    prefixes, else the report's, relative to ``directory``), never wrapped: it is meant to be
    copied whole, whatever the terminal width.
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
    console.print(f"Megatron: --data-path {data_path or s['data_path']}", soft_wrap=True, markup=False,
                  highlight=False, crop=False)
    return report
