"""CountPart: counts a step's documents in, out and rejected per bundle (the count law's
events) and reports what each part reads for the live progress the driver shows
(curate.progress), in one ParDo per counted PCollection."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from curate.progress import Reporter


class _Count(beam.DoFn):
    """Elements → once per bundle, (None, ((part, kind, reason), n)) per key seen.

    ``kind`` is "in", "out" or "reject" (keyed by each reject's reason). Keyed by None so
    that one GroupByKey gathers every count of a step. With ``progress_dir`` it also counts
    every element (and the bytes of a raw record's content) into a Reporter there.
    """

    def __init__(self, part: str, kind: str, progress_dir: str | None = None):
        self.part, self.kind, self.progress_dir = part, kind, progress_dir
        self.reporter: Reporter | None = None

    def setup(self):
        if self.progress_dir:
            self.reporter = Reporter(self.progress_dir, self.part)

    def start_bundle(self):
        self._counts: dict[tuple[str, str, str], int] = {}

    def process(self, element):
        key = (self.part, self.kind, element["reason"] if self.kind == "reject" else "")
        self._counts[key] = self._counts.get(key, 0) + 1
        if self.reporter is not None:
            content = element.get("content") if isinstance(element, dict) else None
            self.reporter.add(1, len(content) if isinstance(content, (bytes, str)) else 0)

    def finish_bundle(self):
        if self.reporter is not None:
            self.reporter.flush()
        for key, n in sorted(self._counts.items()):
            yield GlobalWindows.windowed_value((None, (key, n)))
        self._counts = {}

    def teardown(self):
        if self.reporter is not None:
            self.reporter.flush()


def CountPart(part: str, kind: str, progress_dir: str | None = None) -> beam.PTransform:
    """Count one PCollection of the counted part ``part`` as ``kind`` (see ``_Count``)."""
    return beam.ParDo(_Count(part, kind, progress_dir))
