"""Raw record → Document, by format; the per-worker set of extractors (models load once)."""

from __future__ import annotations

import json
from typing import Any

from curate.errors import Reject
from curate.extractors.config import ExtractConfig
from curate.schema import new_document


class Extractors:
    """One HTML and one PDF extractor per worker; built lazily so text-only runs load nothing."""

    def __init__(self, cfg: ExtractConfig):
        self.cfg = cfg
        self._html = None
        self._pdf = None

    @property
    def html(self):
        if self._html is None:
            from curate.extractors.html import HTMLExtractor

            self._html = HTMLExtractor(self.cfg.html)
        return self._html

    @property
    def pdf(self):
        if self._pdf is None:
            from curate.extractors.pdf import PDFExtractor

            self._pdf = PDFExtractor(self.cfg.pdf)
        return self._pdf

    def close(self) -> None:
        for ex in (self._html, self._pdf):
            if ex is not None and hasattr(ex, "close"):
                ex.close()


def extract_record(rec: dict[str, Any], extractors: Extractors) -> dict[str, Any]:
    """Turn one raw record into a Document; raises Reject with the reason when it is not kept."""
    fmt = rec["format"]
    meta = json.loads(rec.get("meta") or "{}")
    content = rec["content"]
    cfg = extractors.cfg
    if fmt == "html":
        text, extra, name = *extractors.html.extract(content, rec["uri"], meta.get("charset")), extractors.html.name
    elif fmt == "pdf":
        text, extra, name = *extractors.pdf.extract(content, rec["uri"]), extractors.pdf.name
    elif fmt == "text":
        text, extra, name = content, {}, "passthrough"
        if not text.strip():
            raise Reject("extract:text:empty")
    else:
        raise Reject("extract:unknown_format", str(fmt))
    if len(text) > cfg.max_output_chars:
        raise Reject("extract:too_large", f"{len(text)} characters of output")
    meta.update(extra)
    return new_document(
        id=rec["id"], source=rec["source"], uri=rec["uri"], format=fmt, text=text, extractor=name, meta=meta,
    )
