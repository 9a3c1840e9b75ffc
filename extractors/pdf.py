"""PDF → Markdown: PyMuPDF's text layer in reading order, scanned and math-heavy pages via Nougat.

Each page is read once: its lines (``pdf_layout``), its routing features and decision
(``pdf_routing``). Running headers/footers are found across pages, the kept lines are put in
reading order and rebuilt into paragraphs. Pages routed to OCR are rendered and run through
the Nougat model (``nougat``), batched; with no checkpoint configured they keep their text
layer and are counted in ``meta["ocr_unavailable_pages"]`` (a document whose text is empty for
that reason is rejected as ``extract:pdf:ocr_unavailable``).

Rejects: ``extract:pdf:invalid`` (not a PDF, unreadable: PyMuPDF raised on open or on the
page count, its message is the detail), ``extract:pdf:truncated``,
``extract:pdf:encrypted``, ``extract:pdf:no_pages``, ``extract:pdf:too_many_pages``,
``extract:pdf:page_errors`` (every page raised inside PyMuPDF), ``extract:pdf:ocr_unavailable``
and ``extract:pdf:ocr_failed`` (text empty because routed pages got no OCR), ``extract:pdf:empty``. Pages that raise are skipped and listed in ``meta["failed_pages"]``;
the good pages of the file are kept.
"""

from __future__ import annotations

import logging
from typing import Any

import pymupdf

from curate.errors import Reject
from curate.extractors import pdf_layout as layout
from curate.extractors import pdf_routing as routing
from curate.extractors.config import PDFConfig

log = logging.getLogger(__name__)

# MuPDF prints warnings for every repaired object; they would flood worker logs. Errors that
# matter surface as exceptions, which become rejects or failed pages.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

VERSION = "1"


def _tail_has_eof(content: bytes) -> bool:
    return b"%%EOF" in content[-2048:]


def _error_detail(e: BaseException) -> str:
    """A PyMuPDF exception as a reject's detail: its type and message, one line, bounded."""
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


class PDFExtractor:
    """Extracts Markdown from a PDF; raises Reject for files that cannot be read.

    Built once per worker; the Nougat model (when configured) loads on the first routed page
    and stays for the worker's life. Call ``close()`` to free it.
    """

    def __init__(self, cfg: PDFConfig):
        self.cfg = cfg
        self.name = f"curate-pdf/{VERSION} pymupdf-{pymupdf.VersionBind}"
        if cfg.nougat_checkpoint and cfg.ocr_routing:
            self.name += f" nougat({cfg.nougat_checkpoint})"
        self._ocr = None
        self._ocr_error: str | None = None

    # ------------------------------------------------------------------ OCR backend

    @property
    def ocr(self):
        """The Nougat backend, loaded once; None when not configured or when loading failed
        (the error is logged once and the pages count as OCR-unavailable)."""
        if self._ocr is None and self.cfg.nougat_checkpoint and self._ocr_error is None:
            from curate.extractors.nougat import NougatOCR

            try:
                self._ocr = NougatOCR(
                    self.cfg.nougat_checkpoint,
                    device=self.cfg.nougat_device,
                    dtype=self.cfg.nougat_dtype,
                    batch_size=self.cfg.nougat_batch_size,
                    max_new_tokens=self.cfg.nougat_max_new_tokens,
                )
            except Exception as e:  # noqa: BLE001 - a bad checkpoint must not drop every PDF
                self._ocr_error = f"{type(e).__name__}: {e}"
                log.error("Nougat checkpoint %s could not be loaded: %s", self.cfg.nougat_checkpoint, self._ocr_error)
        return self._ocr

    def close(self) -> None:
        if self._ocr is not None:
            self._ocr.close()
            self._ocr = None

    # ------------------------------------------------------------------ extraction

    def _open(self, content: bytes) -> tuple[pymupdf.Document, bool]:
        if not content:
            raise Reject("extract:pdf:invalid", "0 bytes")
        if b"%PDF-" not in content[:1024]:
            raise Reject("extract:pdf:invalid", "no %PDF- header in the first 1024 bytes")
        has_eof = _tail_has_eof(content)
        try:
            doc = pymupdf.open(stream=content, filetype="pdf")
        except Exception as e:  # PyMuPDF raises FileDataError, EmptyFileError and friends
            reason = "extract:pdf:invalid" if has_eof else "extract:pdf:truncated"
            raise Reject(reason, _error_detail(e)) from None
        return doc, (not has_eof and doc.is_repaired)

    @staticmethod
    def _page_count(doc: pymupdf.Document, truncated: bool) -> int:
        """The page count of an open document. A damaged page tree or trailer makes PyMuPDF
        raise here (``RuntimeError: code=7: Invalid number of pages``): the file is invalid
        (truncated when MuPDF repaired a file without %%EOF), not an extractor error."""
        try:
            encrypted = doc.needs_pass and not doc.authenticate("")
            n = 0 if encrypted else doc.page_count
        except Exception as e:  # noqa: BLE001 - whatever MuPDF raises, the file is at fault
            raise Reject("extract:pdf:truncated" if truncated else "extract:pdf:invalid", _error_detail(e)) from None
        if encrypted:
            raise Reject("extract:pdf:encrypted")
        return n

    def extract(self, content: bytes, uri: str) -> tuple[str, dict[str, Any]]:
        doc, truncated = self._open(content)
        with doc:
            n = self._page_count(doc, truncated)
            if n == 0:
                raise Reject("extract:pdf:truncated" if truncated else "extract:pdf:no_pages")
            if n > self.cfg.max_pages:
                raise Reject("extract:pdf:too_many_pages", f"{n} pages > {self.cfg.max_pages}")
            if truncated and self.cfg.reject_truncated:
                raise Reject("extract:pdf:truncated", "no %%EOF at the end; MuPDF repaired the file")
            return self._extract_open(doc, truncated, uri)

    def _extract_open(self, doc: pymupdf.Document, truncated: bool, uri: str) -> tuple[str, dict[str, Any]]:
        cfg = self.cfg
        n = doc.page_count
        lines: list[list[layout.Line]] = []
        heights: list[float] = []
        info: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        good: list[int] = []
        for i in range(n):
            try:
                page = doc.load_page(i)
                plines, rotated_chars = layout.page_lines(page)
                if cfg.tables:
                    plines = layout.apply_tables(plines, layout.page_tables(page))
                feats = routing.page_features(page, plines, cfg.scanned_max_chars)
                route, reason = routing.route(feats, cfg) if cfg.ocr_routing else ("text", "text_layer")
                height = page.rect.height
            except Exception as e:  # noqa: BLE001 - one broken page must not lose the others
                failed.append({"page": i + 1, "error": f"{type(e).__name__}: {e}"[:200]})
                continue
            good.append(i)
            lines.append(plines)
            heights.append(height)
            entry = {"page": i + 1, "route": route, "reason": reason, **feats.rounded()}
            if rotated_chars:
                entry["rotated_chars_dropped"] = rotated_chars
            info.append(entry)
        if not good:
            raise Reject(
                "extract:pdf:truncated" if truncated else "extract:pdf:page_errors",
                f"all {n} pages failed; first: {failed[0]['error']}",
            )

        chrome = layout.running_chrome(lines, heights, cfg.header_footer_margin, cfg.header_footer_min_share)
        texts: dict[int, str] = {}
        for k, (pl, drop) in enumerate(zip(lines, chrome)):
            kept = [ln for j, ln in enumerate(pl) if j not in drop]
            info[k]["chrome_lines"] = len(drop)
            texts[k] = "\n\n".join(layout.paragraphs(layout.reading_order(kept)))

        routed = [k for k, e in enumerate(info) if e["route"] == "ocr"]
        ocr_done = ocr_unavailable = ocr_failed = 0
        if routed:
            backend = self.ocr
            if backend is None:
                ocr_unavailable = len(routed)
                for k in routed:
                    info[k]["ocr"] = "unavailable"
            else:
                for k, text in self._run_ocr(backend, doc, [good[k] for k in routed], good).items():
                    if text is None:
                        ocr_failed += 1
                        info[k]["ocr"] = "failed"
                    else:
                        ocr_done += 1
                        info[k]["ocr"] = "done"
                        texts[k] = text

        text = layout.join_pages([texts[k] for k in range(len(good))])
        meta: dict[str, Any] = {
            "page_count": n,
            "pages": info,
            "ocr_pages": ocr_done,
            "ocr_unavailable_pages": ocr_unavailable,
        }
        if ocr_failed:
            meta["ocr_failed_pages"] = ocr_failed
        if failed:
            meta["failed_pages"] = failed
        if truncated:
            meta["truncated"] = True
        if len(text) < cfg.min_chars:
            if truncated:
                raise Reject("extract:pdf:truncated", f"{len(text)} characters recovered")
            if ocr_unavailable:
                raise Reject(
                    "extract:pdf:ocr_unavailable",
                    f"{ocr_unavailable} of {n} pages need OCR and no nougat_checkpoint is configured"
                    + (f" ({self._ocr_error})" if self._ocr_error else ""),
                )
            if ocr_failed:
                raise Reject("extract:pdf:ocr_failed", f"{ocr_failed} of {n} pages: OCR raised or returned nothing")
            if failed:
                raise Reject("extract:pdf:page_errors", f"{len(failed)} of {n} pages failed; rest empty")
            raise Reject("extract:pdf:empty", f"{len(text)} characters")
        return text, meta

    def _run_ocr(self, backend, doc, page_numbers: list[int], good: list[int]) -> dict[int, str | None]:
        """OCR results keyed by index into ``good``; None for pages whose batch failed (they keep
        the text layer; a failing batch, e.g. out of GPU memory, must not drop the document)."""
        index = {p: k for k, p in enumerate(good)}
        out: dict[int, str | None] = {}
        bs = backend.batch_size
        for s in range(0, len(page_numbers), bs):
            batch = page_numbers[s : s + bs]
            try:
                res = backend.ocr_pages(doc, batch)
            except Exception as e:  # noqa: BLE001
                log.warning("Nougat failed on pages %s: %s: %s", batch, type(e).__name__, e)
                res = {}
            for p in batch:
                t = res.get(p)
                out[index[p]] = t if t and t.strip() else None
        return out
