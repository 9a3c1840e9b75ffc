"""PDF → Markdown: PyMuPDF's text layer in reading order; scanned pages OCRed (Nougat or Tesseract).

Each page is read once: its lines (``pdf_layout``), its routing features and decision
(``pdf_routing``). Running headers/footers are found across pages, the kept lines are put in
reading order and rebuilt into Markdown (headings, code, lists, tables, paragraphs). Pages
routed to OCR go to Nougat (``nougat``, batched) when a checkpoint is configured; scanned
pages that Nougat did not handle go to Tesseract (``tesseract``, CPU). Every OCR output passes
a guard (``ocr_guards``) or is rejected; a page no engine accepts keeps its text layer and its
``meta.pages`` entry lists the rejections. ``meta.pages[i].route`` is what produced the page
(text, nougat, tesseract) and ``reason`` why it was routed. Math pages without Nougat keep
their text layer (formula lines on their own lines). Scanned pages with no engine available
are counted in ``meta["ocr_unavailable_pages"]``; pages whose OCR was rejected or raised in
``meta["ocr_failed_pages"]``.

Rejects: ``extract:pdf:invalid`` (not a PDF, unreadable: PyMuPDF raised on open or on the
page count, its message is the detail), ``extract:pdf:truncated``,
``extract:pdf:encrypted``, ``extract:pdf:no_pages``, ``extract:pdf:too_many_pages``,
``extract:pdf:page_errors`` (every page raised inside PyMuPDF), ``extract:pdf:ocr_unavailable``
(text empty, scanned pages and no OCR engine installed: the detail names what to install),
``extract:pdf:ocr_failed`` (text empty, every OCR output rejected or raised: the detail gives
each page's reasons), ``extract:pdf:empty``. Pages that raise are skipped and listed in
``meta["failed_pages"]``; the good pages of the file are kept.
"""

from __future__ import annotations

import logging
from typing import Any

import pymupdf

from curate.errors import Reject
from curate.extractors import pdf_layout as layout
from curate.extractors import pdf_markdown as markdown
from curate.extractors import pdf_routing as routing
from curate.extractors.config import PDFConfig
from curate.extractors.ocr_guards import check_nougat, check_tesseract
from curate.extractors.tesseract import install_hint

log = logging.getLogger(__name__)

# MuPDF prints warnings for every repaired object; they would flood worker logs. Errors that
# matter surface as exceptions, which become rejects or failed pages.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

VERSION = "2"


def _tail_has_eof(content: bytes) -> bool:
    return b"%%EOF" in content[-2048:]


def _error_detail(e: BaseException) -> str:
    """A PyMuPDF exception as a reject's detail: its type and message, one line, bounded."""
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


class PDFExtractor:
    """Extracts Markdown from a PDF; raises Reject for files that cannot be read.

    Built once per worker; the OCR engines (Nougat when configured, Tesseract when enabled)
    load on the first page routed to them and stay for the worker's life. Call ``close()`` to
    free them.
    """

    def __init__(self, cfg: PDFConfig):
        self.cfg = cfg
        self.name = f"curate-pdf/{VERSION} pymupdf-{pymupdf.VersionBind}"
        if cfg.nougat_checkpoint and cfg.ocr_routing:
            self.name += f" nougat({cfg.nougat_checkpoint})"
        if cfg.tesseract and cfg.ocr_routing:
            self.name += f" tesseract({cfg.tesseract_lang},{cfg.tesseract_dpi}dpi)"
        self._nougat = None
        self._nougat_error: str | None = None
        self._tess = None
        self._tess_error: str | None = None

    # ------------------------------------------------------------------ OCR engines

    @property
    def nougat(self):
        """The Nougat backend, loaded once; None when not configured or when loading failed
        (the error is logged once and its pages go to the next engine)."""
        if self._nougat is None and self.cfg.nougat_checkpoint and self._nougat_error is None:
            from curate.extractors.nougat import NougatOCR

            try:
                self._nougat = NougatOCR(
                    self.cfg.nougat_checkpoint,
                    device=self.cfg.nougat_device,
                    dtype=self.cfg.nougat_dtype,
                    batch_size=self.cfg.nougat_batch_size,
                    max_new_tokens=self.cfg.nougat_max_new_tokens,
                )
            except Exception as e:  # noqa: BLE001 - a bad checkpoint must not drop every PDF
                self._nougat_error = f"Nougat checkpoint {self.cfg.nougat_checkpoint} could not be loaded: {type(e).__name__}: {e}"
                log.error("%s", self._nougat_error)
        return self._nougat

    @property
    def tesseract(self):
        """The Tesseract backend, checked once; None when disabled or not installed (the
        reason, naming what to install, is logged once)."""
        if self._tess is None and self.cfg.tesseract and self._tess_error is None:
            from curate.extractors.tesseract import TesseractOCR, TesseractUnavailable

            c = self.cfg
            try:
                self._tess = TesseractOCR(
                    c.tesseract_lang, c.tesseract_dpi, c.tesseract_psm, c.tesseract_timeout_s,
                    c.tesseract_max_megapixels, c.tesseract_threads,
                )
            except TesseractUnavailable as e:
                self._tess_error = str(e)
                log.warning("Tesseract OCR unavailable: %s", e)
        return self._tess

    def close(self) -> None:
        if self._nougat is not None:
            self._nougat.close()
            self._nougat = None

    def _unavailable_detail(self) -> str:
        why = [e for e in (self._tess_error, self._nougat_error) if e]
        if not self.cfg.tesseract:
            why.append("extract.pdf.tesseract is false")
        hint = f"install Tesseract ({install_hint(self.cfg.tesseract_lang)}) or set extract.pdf.nougat_checkpoint"
        return hint + (f" [{'; '.join(why)}]" if why else "")

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
        kept = [[ln for j, ln in enumerate(pl) if j not in drop] for pl, drop in zip(lines, chrome)]
        style = markdown.Style.from_pages(kept)
        texts: dict[int, str] = {}
        for k, (pl, drop) in enumerate(zip(kept, chrome)):
            info[k]["chrome_lines"] = len(drop)
            texts[k] = "\n\n".join(markdown.blocks(layout.reading_order(pl), style))

        ocr_done, ocr_unavailable, ocr_failed = self._ocr(doc, good, info, texts)
        text = markdown.join_pages([texts[k] for k in range(len(good))], style.vocab)
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
                    f"{ocr_unavailable} of {n} pages are scanned and no OCR engine is available: "
                    + self._unavailable_detail(),
                )
            if ocr_failed:
                why = [
                    f"page {e['page']}: " + ", ".join(f"{r['reason']} ({r['detail']})" for r in e.get("rejected", ()))
                    for e in info if e.get("ocr") == "failed"
                ]
                raise Reject("extract:pdf:ocr_failed", f"{ocr_failed} of {n} pages: " + "; ".join(why)[:400])
            if failed:
                raise Reject("extract:pdf:page_errors", f"{len(failed)} of {n} pages failed; rest empty")
            raise Reject("extract:pdf:empty", f"{len(text)} characters")
        return text, meta

    def _ocr(self, doc, good: list[int], info: list[dict], texts: dict[int, str]) -> tuple[int, int, int]:
        """Run the OCR engines on the pages routed to OCR, in place: a page's text is replaced by
        the first engine output that passes its guard (Nougat on scanned and math pages when
        configured, then Tesseract on scanned pages); ``route`` becomes that engine, rejected
        outputs are listed in ``rejected``. A page no engine accepts keeps its text layer.
        Returns (pages OCRed, scanned pages with no engine available, pages OCR failed on)."""
        wanted = [k for k, e in enumerate(info) if e["route"] == "ocr"]
        for k in wanted:
            info[k]["route"] = "text"
        if not wanted:
            return 0, 0, 0
        cfg = self.cfg
        tried: set[int] = set()
        done: set[int] = set()

        def reject(k: int, reason: str, detail: str) -> None:
            info[k].setdefault("rejected", []).append({"reason": reason, "detail": detail[:200]})

        nougat = self.nougat
        if nougat is not None:
            from curate.extractors.nougat import NougatOCR

            for k, raw in self._run_nougat(nougat, doc, [good[k] for k in wanted], good).items():
                tried.add(k)
                if isinstance(raw, Exception):
                    reject(k, "nougat:error", f"{type(raw).__name__}: {raw}")
                    continue
                bad = check_nougat(raw, cfg.nougat_repetition_chars)
                if bad:
                    reject(k, *bad)
                    continue
                texts[k] = NougatOCR.postprocess(raw)
                info[k]["route"] = "nougat"
                done.add(k)

        scanned = [k for k in wanted if k not in done and info[k]["reason"] == "scanned"]
        tess = self.tesseract if scanned else None
        if tess is not None:
            for k in scanned:
                tried.add(k)
                try:
                    res = tess.ocr_page(doc.load_page(good[k]))
                except Exception as e:  # noqa: BLE001 - a failing page must not drop the document
                    reject(k, "tesseract:error", f"{type(e).__name__}: {e}")
                    continue
                info[k]["tesseract_confidence"] = round(res.confidence, 1)
                bad = check_tesseract(res.text, res.words, res.confidence, cfg.tesseract_min_confidence)
                if bad:
                    reject(k, *bad)
                    continue
                texts[k] = layout.normalize_text(res.text)
                info[k]["route"] = "tesseract"
                done.add(k)

        unavailable = failed = 0
        for k in wanted:
            if k in done:
                info[k]["ocr"] = "done"
            elif k in tried:
                info[k]["ocr"] = "failed"
                failed += 1
            elif info[k]["reason"] == "scanned":
                info[k]["ocr"] = "unavailable"
                unavailable += 1
            else:
                info[k]["ocr"] = "not_configured"  # math pages without Nougat keep their text layer
        return len(done), unavailable, failed

    def _run_nougat(self, backend, doc, page_numbers: list[int], good: list[int]) -> dict[int, str | Exception]:
        """Nougat's raw output keyed by index into ``good``; the exception for pages whose batch
        failed (a failing batch, e.g. out of GPU memory, must not drop the document)."""
        index = {p: k for k, p in enumerate(good)}
        out: dict[int, str | Exception] = {}
        bs = backend.batch_size
        for s in range(0, len(page_numbers), bs):
            batch = page_numbers[s : s + bs]
            try:
                res: dict[int, str | Exception] = dict(backend.ocr_pages(doc, batch))
            except Exception as e:  # noqa: BLE001
                log.warning("Nougat failed on pages %s: %s: %s", batch, type(e).__name__, e)
                res = {p: e for p in batch}
            for p in batch:
                out[index[p]] = res.get(p, "")
        return out
