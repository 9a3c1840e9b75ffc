"""The mix as Beam wiring: pool shards → token-budget sample → Megatron datasets.

    (pool, shard path) ─ Reshuffle ─ Tokenize ─┬─ spools ────────────── Assign ─ GroupByKey(source, group) ─ WriteGroups
                                               │                         ↑ plan
                                               ├─ summaries ─ MergeSummaries ─ Plan
                                               └─ held-out spools ─ AssignHeldOut ─ GroupByKey ─ WriteHeldOut

Each box calls one function of curate.mixtures.spool (the three passes over files) or
curate.mixtures.summary / sampler (the plan); see those modules for what is written where
and why nothing depends on Beam's element or bundle order. The step that runs this graph and
commits its output is ``mix_step`` in pipelines/steps.py.
"""

from __future__ import annotations

from typing import Any, Iterator

import apache_beam as beam
import numpy as np

from curate.mixtures import sampler as S
from curate.mixtures import spool
from curate.mixtures.config import MixConfig
from curate.mixtures.summary import ShardSummary
from curate.mixtures.tokenizer import DocTokenizer


class _Tokenize(beam.DoFn):
    """(pool, shard path, number) → its spool {tok, idx, src, docs}; tagged 'summary': its ShardSummary;
    tagged 'held_out': the spool of its documents held out for validation."""

    def __init__(self, tok: DocTokenizer, mix: MixConfig, seed: int, spool_dir: str, samples: int):
        self.tok, self.mix, self.seed, self.spool_dir, self.samples = tok, mix, seed, spool_dir, samples

    def setup(self):
        self.tok.load()

    def process(self, element) -> Iterator[Any]:  # declared: Beam would infer it from the bytecode, ~0.1 s
        pool, path, src = element
        found, summary, held = spool.tokenize_shard(
            path, pool, src, self.tok, self.seed, list(self.mix.quality_scores), self.mix.min_quality,
            self.mix.batch_docs, self.spool_dir, self.samples, self.mix.valid_fraction)
        if found is not None:
            yield found
        if held is not None:
            yield beam.pvalue.TaggedOutput("held_out", held)
        yield beam.pvalue.TaggedOutput("summary", summary)


class _MergeSummaries(beam.CombineFn):
    """ShardSummary values → one (ShardSummary.merge, in any order)."""

    def __init__(self, samples: int):
        self.samples = samples

    def create_accumulator(self):
        return ShardSummary(self.samples)

    def add_input(self, acc, s):
        return acc.merge(s)

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            out.merge(a)
        return out

    def extract_output(self, acc):
        return acc


def make_plan(summary: ShardSummary, mix: MixConfig, seed: int, itemsize: int) -> dict:
    """The sampler's plan for the merged summary, with the shard groups per source."""
    plan = S.build_plan(summary.stats, mix, seed)
    plan["source_groups"] = spool.source_groups(plan, itemsize, mix.shard_max_bytes)
    return plan


class _Assign(beam.DoFn):
    """One spool + the plan (side input) → ((source, group), (entry file, spool))."""

    def __init__(self, assign_dir: str, seed: int):
        self.assign_dir, self.seed = assign_dir, seed
        self._plan = self._cells = None

    def process(self, found, plan):
        if self._plan is not plan:  # one lookup table per plan, not per spool
            self._plan, self._cells = plan, S.cell_index(plan)
        yield from spool.assign_copies(found, self._cells, plan["source_groups"], self.seed, self.assign_dir)


class _WriteGroup(beam.DoFn):
    """((source, group), parts) → one info dict per Megatron dataset written."""

    def __init__(self, root: str, dtype_name: str, shard_max_bytes: int):
        self.root, self.dtype_name, self.shard_max_bytes = root, dtype_name, shard_max_bytes

    def process(self, element) -> Iterator[Any]:  # declared, as _Tokenize's
        (source, g), parts = element
        yield from spool.write_group(self.root, source, g, list(parts), self.dtype_name, self.shard_max_bytes)


class Mix(beam.PTransform):
    """(pool, shard path, number) → {'summary': merged ShardSummary, 'plan': the plan,
    'written': one info dict per dataset written under ``work['groups']``, 'held_out': the same
    for the validation datasets under ``work['held_out']``}."""

    def __init__(self, tok: DocTokenizer, mix: MixConfig, seed: int, work: dict[str, str], samples: int):
        super().__init__()
        self.tok, self.mix, self.seed, self.work, self.samples = tok, mix, seed, work, samples

    def expand(self, shards):
        dtype = np.dtype(self.tok.dtype)
        tok = (
            shards
            | "Spread" >> beam.Reshuffle()
            | "Tokenize" >> beam.ParDo(_Tokenize(self.tok, self.mix, self.seed, self.work["spool"], self.samples))
            .with_outputs("summary", "held_out", main="spools")
        )
        summary = tok.summary | "MergeSummaries" >> beam.CombineGlobally(_MergeSummaries(self.samples))
        plan = summary | "Plan" >> beam.Map(make_plan, self.mix, self.seed, dtype.itemsize)
        written = (
            tok.spools
            | "Assign" >> beam.ParDo(_Assign(self.work["assign"], self.seed), beam.pvalue.AsSingleton(plan))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteGroups" >> beam.ParDo(_WriteGroup(self.work["groups"], dtype.name, self.mix.shard_max_bytes))
        )
        held_out = (
            tok.held_out
            | "AssignHeldOut" >> beam.FlatMap(spool.assign_held_out, self.seed, self.work["assign"])
            | "GroupHeldOut" >> beam.GroupByKey()
            | "WriteHeldOut" >> beam.ParDo(_WriteGroup(self.work["held_out"], dtype.name, self.mix.shard_max_bytes))
        )
        return {"summary": summary, "plan": plan, "written": written, "held_out": held_out}
