"""ReportProgress: counts what a step reads, for the live progress the driver shows (curate.progress)."""

from __future__ import annotations

import apache_beam as beam

from curate.progress import Reporter


class _Report(beam.DoFn):
    """Passes every element on, counting it (and the bytes of a raw record's content)."""

    def __init__(self, directory: str, part: str):
        self.directory, self.part = directory, part
        self.reporter: Reporter | None = None

    def setup(self):
        self.reporter = Reporter(self.directory, self.part)

    def process(self, element):
        content = element.get("content") if isinstance(element, dict) else None
        self.reporter.add(1, len(content) if isinstance(content, (bytes, str)) else 0)
        yield element

    def finish_bundle(self):
        self.reporter.flush()

    def teardown(self):
        if self.reporter is not None:
            self.reporter.flush()


def ReportProgress(directory: str, part: str) -> beam.PTransform:
    """Count the elements of a PCollection into ``directory`` (the step's ``_progress`` folder) as ``part``."""
    return beam.ParDo(_Report(directory, part))
