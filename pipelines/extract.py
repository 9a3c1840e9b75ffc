"""Extract: raw records → Documents with Markdown text, by format.

    records ─ ByFormat ─┬─ ExtractHTML (trafilatura + lxml, math and code kept) ─┐
                        ├─ ExtractPDF  (PyMuPDF reading order; Nougat route)  ───┼─ docs, rejects
                        └─ ExtractText (JSONL/Parquet text, passed through)  ────┘
                                       (three docs and rejects PCollections, never flattened)

Each branch runs its extractor (``curate.extractors``) once per worker: by default in a
child process with a wall-time limit per document (extractors/isolation.py), so a page that
hangs or crashes a parser costs that page only. A record an extractor refuses becomes a
reject with the extractor's reason; an unexpected exception becomes
``error:extract:<Type>`` and the worker goes on.
"""

from __future__ import annotations

import apache_beam as beam

from curate.errors import Reject
from curate.extractors.config import ExtractConfig
from curate.extractors.dispatch import extract_record
from curate.pipelines.runner import windowed
from curate.schema import get_meta, make_reject

STEP = "extract"
BRANCHES = ("html", "pdf", "text")


class _ExtractFn(beam.DoFn):
    """Records → Documents and rejects; with ``cfg.isolate`` through a pool of child processes
    that holds records across ``process`` calls, answered by the end of the bundle."""

    def __init__(self, cfg: ExtractConfig):
        self.cfg = cfg
        self.extractors = None

    def setup(self):
        from curate.extractors.dispatch import Extractors
        from curate.extractors.isolation import ExtractorPool

        self.extractors = ExtractorPool(self.cfg, self.cfg.processes or 1) if self.cfg.isolate else Extractors(self.cfg)

    def process(self, rec, ts=beam.DoFn.TimestampParam, win=beam.DoFn.WindowParam):
        if not self.cfg.isolate:
            try:
                yield extract_record(rec, self.extractors)
            except Exception as e:  # noqa: BLE001 - a bad document must never take the worker down
                yield _rejected(rec, e)
            return
        self.extractors.submit((rec, ts, win), rec)
        yield from self._emit(self.extractors.ready(wait=self.extractors.full()))

    def finish_bundle(self):
        if self.cfg.isolate:
            yield from self._emit(self.extractors.drain())

    @staticmethod
    def _emit(answers):
        for (rec, ts, win), out in answers:
            yield windowed(_rejected(rec, out) if isinstance(out, Exception) else out, ts, win)

    def teardown(self):
        if self.extractors is not None:
            self.extractors.close()


def _rejected(rec: dict, e: Exception) -> beam.pvalue.TaggedOutput:
    """The reject of ``rec``: the extractor's reason, or ``error:extract:<Type>`` for a bug."""
    if isinstance(e, Reject):
        return beam.pvalue.TaggedOutput("rejects", make_reject(_as_doc(rec), STEP, e.reason, e.detail))
    return beam.pvalue.TaggedOutput("rejects", make_reject(_as_doc(rec), STEP, f"error:extract:{type(e).__name__}",
                                                           str(e)[:500]))


def _as_doc(rec: dict) -> dict:
    return {k: rec.get(k) for k in ("id", "source", "uri", "format", "meta")} | {"text": ""}


class _ExtractBranch(beam.PTransform):
    def __init__(self, cfg: ExtractConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, records):
        out = records | "Extract" >> beam.ParDo(_ExtractFn(self.cfg)).with_outputs("rejects", main="docs")
        return {"docs": out.docs, "rejects": out.rejects}


class ExtractHTML(_ExtractBranch):
    """HTML records → Documents whose Markdown keeps LaTeX math and fenced code."""


class ExtractPDF(_ExtractBranch):
    """PDF records → Documents: text layer in reading order, routed pages through Nougat."""


class ExtractText(_ExtractBranch):
    """Plain-text records (JSONL/Parquet `text`) → Documents, empty ones rejected."""


def _branch(rec: dict, n: int) -> int:
    fmt = rec.get("format")
    return BRANCHES.index(fmt) if fmt in BRANCHES else BRANCHES.index("text")


def _ocr_pages(doc: dict) -> list[tuple[str, int]]:
    meta = get_meta(doc)
    out = []
    for key, reason in (("ocr_unavailable_pages", "extract:pdf:ocr_unavailable"), ("ocr_failed_pages", "extract:pdf:ocr_failed")):
        pages = meta.get(key)
        n = len(pages) if isinstance(pages, list) else int(pages or 0)
        if n:
            out.append((reason, n))
    return out


class _OcrStats(beam.CombineFn):
    """Kept PDFs whose routed pages fell back to the text layer: documents and pages, by reason."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, doc):
        for reason, n in _ocr_pages(doc):
            entry = acc.setdefault(reason, {"docs": 0, "pages": 0})
            entry["docs"] += 1
            entry["pages"] += n
        return acc

    def merge_accumulators(self, accs):
        out: dict = {}
        for acc in accs:
            for reason, e in acc.items():
                t = out.setdefault(reason, {"docs": 0, "pages": 0})
                t["docs"] += e["docs"]
                t["pages"] += e["pages"]
        return out

    def extract_output(self, acc):
        return dict(sorted(acc.items()))


class Extract(beam.PTransform):
    """Raw records → dict(docs, rejects, stats={"pdf_ocr": …}) through the branch of their format.

    ``docs`` and ``rejects`` are lists, one PCollection per branch: they are written by
    ``WriteShards`` without a Flatten, which the DirectRunner would hold whole in memory.
    """

    def __init__(self, cfg: ExtractConfig):
        super().__init__()
        self.cfg = cfg

    def expand(self, records):
        html, pdf, text = records | "ByFormat" >> beam.Partition(_branch, len(BRANCHES))
        parts = [
            html | "ExtractHTML" >> ExtractHTML(self.cfg),
            pdf | "ExtractPDF" >> ExtractPDF(self.cfg),
            text | "ExtractText" >> ExtractText(self.cfg),
        ]
        docs = [p["docs"] for p in parts]
        rejects = [p["rejects"] for p in parts]
        ocr = parts[1]["docs"] | "OcrFallbacks" >> beam.CombineGlobally(_OcrStats())
        return {"docs": docs, "rejects": rejects, "stats": {"pdf_ocr": ocr}}
