"""Tesseract OCR backend: a PDF page → paragraphs of text and a mean word confidence, on CPU.

The page is rendered by PyMuPDF (grayscale, at a configured DPI, capped in pixels) and read
by the ``tesseract`` program (Debian ``tesseract-ocr`` + ``tesseract-ocr-<lang>``) through
pytesseract's ``image_to_data``: one run gives the words, their block/paragraph/line numbers
and confidences, so the paragraphs are rebuilt here (end-of-line hyphens joined by the same
rule as the text layer) and the confidence guard needs no second pass.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import pymupdf

from curate.extractors.pdf_markdown import join_lines


class TesseractUnavailable(RuntimeError):
    """Tesseract cannot run here; the message says what to install."""


@dataclass
class TesseractPage:
    text: str  # paragraphs separated by a blank line
    confidence: float  # character-weighted mean word confidence, 0–100 (0 when no words)
    words: int
    dpi: int


def install_hint(lang: str) -> str:
    packs = " ".join(f"tesseract-ocr-{l}" for l in lang.split("+"))
    return f"apt-get install tesseract-ocr {packs}; pip install pytesseract"


class TesseractOCR:
    """Checks once that pytesseract, the program and the language data are present (raises
    ``TesseractUnavailable`` naming what to install), then OCRs pages one at a time."""

    def __init__(self, lang: str = "eng", dpi: int = 300, psm: int = 3, timeout_s: float = 60.0,
                 max_megapixels: float = 50.0, threads: int = 1):
        # Tesseract parallelises with OpenMP; workers already run one per core, and more threads
        # per page only contend (Tesseract's own advice for parallel runs). Read by the program
        # at start, so it only affects the tesseract processes this one starts.
        os.environ["OMP_THREAD_LIMIT"] = str(threads)
        try:
            import pytesseract
        except ImportError:
            raise TesseractUnavailable(f"pytesseract is not installed ({install_hint(lang)})") from None
        try:
            self.version = str(pytesseract.get_tesseract_version())
            have = set(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, OSError) as e:
            raise TesseractUnavailable(f"the tesseract program is not found ({install_hint(lang)}): {e}") from None
        missing = [l for l in lang.split("+") if l not in have]
        if missing:
            raise TesseractUnavailable(f"Tesseract has no language data for {'+'.join(missing)} ({install_hint(lang)})")
        self._tess = pytesseract
        self.lang, self.dpi, self.psm, self.timeout_s = lang, dpi, psm, timeout_s
        self.max_pixels = max_megapixels * 1e6

    def _dpi_for(self, page: pymupdf.Page) -> int:
        """The configured DPI, lowered for pages so large that it would exceed the pixel cap."""
        inches = abs(page.rect) / 72.0 / 72.0
        if inches <= 0:
            return self.dpi
        return max(36, min(self.dpi, int((self.max_pixels / inches) ** 0.5)))

    def ocr_page(self, page: pymupdf.Page) -> TesseractPage:
        dpi = self._dpi_for(page)
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
        with tempfile.TemporaryDirectory(prefix="curate-tess-") as tmp:
            path = os.path.join(tmp, "page.pnm")
            pix.save(path)
            data = self._tess.image_to_data(
                path, lang=self.lang, config=f"--psm {self.psm}", timeout=self.timeout_s,
                output_type=self._tess.Output.DICT,
            )
        return _assemble(data, dpi)


def _assemble(data: dict, dpi: int) -> TesseractPage:
    """Words of ``image_to_data`` → paragraphs (block, paragraph, line order as Tesseract gives
    them) and the character-weighted mean confidence of the words."""
    paras: dict[tuple[int, int], dict[int, list[str]]] = {}
    total = weighted = 0.0
    n = 0
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]))
        paras.setdefault(key, {}).setdefault(int(data["line_num"][i]), []).append(word)
        total += len(word)
        weighted += conf * len(word)
        n += 1
    out = []
    for lines in paras.values():
        out.append(join_lines([" ".join(ws) for ws in lines.values()]))
    return TesseractPage("\n\n".join(p for p in out if p), weighted / total if total else 0.0, n, dpi)
