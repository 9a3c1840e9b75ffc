"""ReadSources: input files → raw records (and read rejects), one file per work item."""

from __future__ import annotations

import apache_beam as beam

from curate.io.readers import is_reject, read_file


class _ReadFile(beam.DoFn):
    def __init__(self, max_record_bytes: int, max_decompressed_bytes: int):
        self.max_record_bytes = max_record_bytes
        self.max_decompressed_bytes = max_decompressed_bytes

    def process(self, item):
        source, path, fmt, name = item
        path = path.decode("utf-8", "surrogateescape")
        for rec in read_file(path, fmt, source, self.max_record_bytes, self.max_decompressed_bytes, name):
            if is_reject(rec):
                yield beam.pvalue.TaggedOutput("rejects", rec)
            else:
                yield rec


class ReadSources(beam.PTransform):
    """(source, path, format, name) work items → raw records; unreadable records go to ``rejects``.

    ``name`` is the file's stable name (curate.io.inputs), the uri of records without a URL.

    Returns a dict with ``files`` (the work items), ``seen`` (every record found, the read
    step's count of documents in: the records and the rejects, as a list, not flattened),
    ``records`` and ``rejects``.
    """

    def __init__(self, items: list[tuple[str, str, str, str]], max_record_bytes: int, max_decompressed_bytes: int):
        super().__init__()
        self.items = items
        self.max_record_bytes = max_record_bytes
        self.max_decompressed_bytes = max_decompressed_bytes

    def expand(self, pbegin):
        # a path travels as bytes: a local file name may hold bytes that are not UTF-8
        items = [(s, p.encode("utf-8", "surrogateescape"), f, n) for s, p, f, n in self.items]
        files = pbegin | "Files" >> beam.Create(items) | "SpreadFiles" >> beam.Reshuffle()
        out = files | "ReadFile" >> beam.ParDo(
            _ReadFile(self.max_record_bytes, self.max_decompressed_bytes)
        ).with_outputs("rejects", main="records")
        return {"files": files, "seen": [out.records, out.rejects], "records": out.records, "rejects": out.rejects}
