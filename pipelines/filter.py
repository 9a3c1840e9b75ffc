"""Filter: Documents → kept Documents (lang, domain, scores filled) and rejects naming the rule.

    docs ─ BatchElements(≤ batch_size) ─ ParDo(DocumentFilter in processes) ┬─ docs
                                                                          ├─ rejects (filter:<rule>, detail with the score)
                                                                          └─ events → stats.judges (exemptions that
                                                                             saved documents, rules/LM disagreements)
    docs (domain, language) + events ─ one CombineGlobally ─ stats.domains, stats.langs, stats.judges

Models (language id, fastText, the LM encoder) load once per process that judges (the worker,
and each of its ``processes`` children once the input is large enough); a model
path on a remote filesystem is first copied to a local temporary directory (curate.io.files.local_copy).
Documents go through in batches so the classifiers score many at once (the LM on GPU when
present). An unexpected error in a batch rejects its documents as ``error:filter:<Type>``
instead of stopping the worker. ``Score`` is the same transform in score-only mode.
"""

from __future__ import annotations

import apache_beam as beam

from curate.filters.config import FilterConfig
from curate.io import files
from curate.pipelines.runner import windowed
from curate.schema import domain_of, lang_of, make_reject

STEP = "filter"


INLINE_DOCS = 2000  # documents a worker judges itself before it starts its filter processes


class _FilterBatchFn(beam.DoFn):
    """Batches of Documents → kept docs, rejects and judge events, judged in ``cfg.processes``
    children (curate.procpool) that answer in order; the answers owed are emitted by the end of
    the bundle."""

    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg
        self.pool = None

    def setup(self):
        from curate.filters.apply import DocumentFilter, judge_safely
        from curate.procpool import BatchPool

        c = self.cfg
        local = c.model_copy(update={
            "lang_model": c.lang_model if c.lang_model == "py3langid" else files.local_copy(c.lang_model),
            "fasttext": c.fasttext.model_copy(update={"model": files.local_copy(c.fasttext.model)}),
            "lm": c.lm.model_copy(update={"model": files.local_copy(c.lm.model)}),
            "domain": c.domain.model_copy(update={"model": files.local_copy(c.domain.model)}),
        })
        self.drop = local.mode == "filter"
        self.pool = BatchPool(judge_safely, c.processes or 1, init=DocumentFilter, initargs=(local,),
                              inline_items=INLINE_DOCS)

    def process(self, batch, ts=beam.DoFn.TimestampParam, win=beam.DoFn.WindowParam):
        batch = list(batch)
        self.pool.submit((batch, ts, win), batch)
        yield from self._emit(self.pool.ready())

    def finish_bundle(self):
        yield from self._emit(self.pool.drain())

    def _emit(self, answers):
        for (batch, ts, win), out in answers:
            for tag, value in self._outputs(batch, out):
                yield windowed(value if tag is None else beam.pvalue.TaggedOutput(tag, value), ts, win)

    def _outputs(self, batch, out):
        if isinstance(out, Exception):  # the child itself failed (judge_safely catches the filter's own errors)
            for doc in batch:
                yield "rejects", make_reject(doc, STEP, f"error:filter:{type(out).__name__}", str(out)[:500])
            return
        for v in out:
            if isinstance(v, tuple):
                yield "rejects", make_reject(*v[:1], STEP, *v[1:])
                continue
            for event in v.events:
                yield "events", event
            if v.reject is None or not self.drop:
                yield None, v.doc
            else:
                yield "rejects", make_reject(v.doc, STEP, *v.reject)

    def teardown(self):
        if self.pool is not None:
            self.pool.close()


class _CountLabels(beam.CombineFn):
    """(stat, label) pairs → {stat: {label: count}} for each of ``stats`` (for the step manifest)."""

    def __init__(self, stats: tuple[str, ...]):
        self.stats = stats

    def create_accumulator(self):
        return {s: {} for s in self.stats}

    def add_input(self, acc, item):
        stat, label = item
        key = str(label)
        acc[stat][key] = acc[stat].get(key, 0) + 1
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            for stat, counts in a.items():
                for k, v in counts.items():
                    out[stat][k] = out[stat].get(k, 0) + v
        return out

    def extract_output(self, acc):
        return {stat: dict(sorted(counts.items())) for stat, counts in acc.items()}


def _doc_labels(doc):
    return [("domains", domain_of(doc)), ("langs", lang_of(doc))]


class Filter(beam.PTransform):
    """PCollection of Documents → dict(docs, rejects, stats={domains, langs}) under ``FilterConfig``."""

    def __init__(self, cfg: FilterConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        out = (
            docs
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.cfg.batch_size)
            | "FilterBatch" >> beam.ParDo(_FilterBatchFn(self.cfg)).with_outputs("rejects", "events", main="docs")
        )
        names = ("domains", "langs", "judges")
        counts = (
            (out.docs | "DocLabels" >> beam.FlatMap(_doc_labels), out.events | "Judges" >> beam.Map(lambda e: ("judges", e)))
            | "AllLabels" >> beam.Flatten()
            | "CountLabels" >> beam.CombineGlobally(_CountLabels(names))
        )
        stats = {n: counts | f"Stat{n}" >> beam.Map(lambda c, n=n: c[n]) for n in names}
        return {"docs": out.docs, "rejects": out.rejects, "stats": stats}


class Score(Filter):
    """Like Filter, but keeps every document: only lang, domain and scores are written."""

    def __init__(self, cfg: FilterConfig):
        super().__init__(cfg.model_copy(update={"mode": "score"}))
