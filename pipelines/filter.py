"""Filter: Documents → kept Documents (lang, domain, scores filled) and rejects naming the rule.

    docs ─ BatchElements(≤ batch_size) ─ ParDo(DocumentFilter per worker) ─┬─ docs
                                                                          ├─ rejects (filter:<rule>, detail with the score)
                                                                          └─ events → stats.judges (exemptions that
                                                                             saved documents, rules/LM disagreements)

Models (language id, fastText, the LM encoder) load once per worker in ``setup``; a model
path on a remote filesystem is first copied to a local temporary directory (curate.io.files.local_copy).
Documents go through in batches so the classifiers score many at once (the LM on GPU when
present). An unexpected error in a batch rejects its documents as ``error:filter:<Type>``
instead of stopping the worker. ``Score`` is the same transform in score-only mode.
"""

from __future__ import annotations

import apache_beam as beam

from curate.filters.config import FilterConfig
from curate.io import files
from curate.schema import domain_of, lang_of, make_reject

STEP = "filter"


class _FilterBatchFn(beam.DoFn):
    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg
        self.filter = None

    def setup(self):
        from curate.filters.apply import DocumentFilter

        c = self.cfg
        local = c.model_copy(update={
            "lang_model": c.lang_model if c.lang_model == "py3langid" else files.local_copy(c.lang_model),
            "fasttext": c.fasttext.model_copy(update={"model": files.local_copy(c.fasttext.model)}),
            "lm": c.lm.model_copy(update={"model": files.local_copy(c.lm.model)}),
            "domain": c.domain.model_copy(update={"model": files.local_copy(c.domain.model)}),
        })
        self.filter = DocumentFilter(local)

    def process(self, batch):
        try:
            verdicts = self.filter.judge(list(batch))
        except Exception as e:  # noqa: BLE001 - one bad batch must not take the worker down
            if len(batch) > 1:  # find the culprit: retry one by one
                for doc in batch:
                    yield from self.process([doc])
                return
            for doc in batch:
                yield beam.pvalue.TaggedOutput(
                    "rejects", make_reject(doc, STEP, f"error:filter:{type(e).__name__}", str(e)[:500]))
            return
        for v in verdicts:
            for event in v.events:
                yield beam.pvalue.TaggedOutput("events", event)
            if v.reject is None or not self.filter.drop:
                yield v.doc
            else:
                yield beam.pvalue.TaggedOutput("rejects", make_reject(v.doc, STEP, *v.reject))


class _CountDict(beam.CombineFn):
    """Counts of string values → one small dict (for the step manifest)."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, value):
        key = str(value)
        acc[key] = acc.get(key, 0) + 1
        return acc

    def merge_accumulators(self, accs):
        out: dict = {}
        for a in accs:
            for k, v in a.items():
                out[k] = out.get(k, 0) + v
        return out

    def extract_output(self, acc):
        return dict(sorted(acc.items()))


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
        stats = {
            "domains": out.docs | "Domains" >> beam.Map(domain_of) | "CountDomains" >> beam.CombineGlobally(_CountDict()),
            "langs": out.docs | "Langs" >> beam.Map(lang_of) | "CountLangs" >> beam.CombineGlobally(_CountDict()),
            "judges": out.events | "CountJudges" >> beam.CombineGlobally(_CountDict()),
        }
        return {"docs": out.docs, "rejects": out.rejects, "stats": stats}


class Score(Filter):
    """Like Filter, but keeps every document: only lang, domain and scores are written."""

    def __init__(self, cfg: FilterConfig):
        super().__init__(cfg.model_copy(update={"mode": "score"}))
