"""Decontaminate: Documents of any pool (web, PDF, synthetic, problems) → the ones sharing no
n-gram with a benchmark, and rejects ``decontam:<benchmark>`` naming the item and span.

    docs ─ Check (index built once per worker, ``curate.synth.decontam``) ─ docs, rejects, stats

``stats["decontam"]`` is one ``DecontamStats`` record (texts checked; hits per benchmark and per
rule; items per benchmark), merged over workers; ``decontam_step`` (pipelines/steps.py) runs it as a step.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from curate.schema import make_reject

STEP = "decontam"


class _CheckFn(beam.DoFn):
    def __init__(self, cfg):
        self.cfg = cfg
        self.index = None

    def setup(self):
        from curate.synth.decontam import index_from_config

        self.index = index_from_config(self.cfg)

    def process(self, doc):
        hit = self.index.match(doc.get("text") or "")
        if hit is None:
            yield doc
        else:
            yield beam.pvalue.TaggedOutput("hits", (hit.benchmark, hit.rule))
            yield beam.pvalue.TaggedOutput("rejects", make_reject(doc, STEP, hit.reason, hit.detail()))


def _stats(checked: int, hits: list[tuple[str, str]], items: dict[str, int]) -> dict[str, Any]:
    from curate.synth.decontam import DecontamStats

    s = DecontamStats(checked=checked, items=dict(items))
    for bench, rule in hits:
        s.hits[bench] = s.hits.get(bench, 0) + 1
        s.rules[rule] = s.rules.get(rule, 0) + 1
    return s.to_json()


class Decontaminate(beam.PTransform):
    """Documents → {"docs", "rejects", "stats": {"decontam": DecontamStats as JSON}}."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        from curate.synth.decontam import load_items

        items: dict[str, int] = {}
        for it in load_items(self.cfg.benchmarks, self.cfg.packaged):  # errors name the file before the run
            items[it.benchmark] = items.get(it.benchmark, 0) + 1
        res = docs | "Check" >> beam.ParDo(_CheckFn(self.cfg)).with_outputs("rejects", "hits", main="docs")
        stats = (docs | "Checked" >> beam.combiners.Count.Globally()
                 | "Stats" >> beam.Map(_stats, beam.pvalue.AsList(res.hits), items))
        return {"docs": res.docs, "rejects": res.rejects, "stats": {"decontam": stats}}
