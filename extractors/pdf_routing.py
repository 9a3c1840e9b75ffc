"""Per-page routing: keep the text layer, or send the page to OCR because it is scanned or
math-heavy (the text layer of a formula is a jumble of glyphs without structure)."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass

import pymupdf

from curate.extractors.config import PDFConfig
from curate.extractors.pdf_layout import RELATIONS, Line, is_formula_line, is_math_font

_MATHY = set("∑∏∫∮√∂∇∞±∓×÷·∘⊕⊗∧∨¬∀∃∅ℝℕℤℚℂ^_{}|") | RELATIONS


def _is_symbol(ch: str) -> bool:
    if ch in _MATHY:
        return True
    cat = unicodedata.category(ch)
    return cat == "Sm" or "\u0370" <= ch <= "\u03ff" or "\U0001d400" <= ch <= "\U0001d7ff"


@dataclass
class PageFeatures:
    chars: int
    math_font_ratio: float
    symbol_ratio: float
    formula_lines: int
    lines: int
    image_coverage: float

    def rounded(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def image_coverage(page: pymupdf.Page) -> float:
    """Share of the page area covered by images (sum of clipped image boxes, capped at 1)."""
    area = abs(page.rect) or 1.0
    total = 0.0
    for info in page.get_image_info():
        r = pymupdf.Rect(info["bbox"]) & page.rect
        if not r.is_empty:
            total += abs(r)
    return min(total / area, 1.0)


def page_features(page: pymupdf.Page, lines: list[Line], scan_chars: int) -> PageFeatures:
    text_chars = 0
    math_chars = 0
    symbols = 0
    formula = 0
    for ln in lines:
        if ln.is_table:
            continue
        for f, c in ln.fonts.items():
            text_chars += c
            if is_math_font(f):
                math_chars += c
        symbols += sum(1 for ch in ln.text if _is_symbol(ch))
        formula += is_formula_line(ln)
    # image coverage only matters for pages with little text: skip the extra pass otherwise
    cov = image_coverage(page) if text_chars < scan_chars else 0.0
    return PageFeatures(
        chars=text_chars,
        math_font_ratio=math_chars / text_chars if text_chars else 0.0,
        symbol_ratio=symbols / text_chars if text_chars else 0.0,
        formula_lines=formula,
        lines=len(lines),
        image_coverage=cov,
    )


def route(f: PageFeatures, cfg: PDFConfig) -> tuple[str, str]:
    """("ocr" | "text", reason) for one page."""
    if f.chars < cfg.scanned_max_chars and f.image_coverage >= cfg.scanned_min_image_coverage:
        return "ocr", "scanned"
    if f.chars == 0:
        return "text", "empty"
    if f.chars >= cfg.math_min_chars:
        if f.math_font_ratio >= cfg.math_font_ratio:
            return "ocr", "math_fonts"
        if f.formula_lines >= cfg.formula_lines_min and f.formula_lines >= cfg.formula_line_ratio * f.lines:
            return "ocr", "formula_lines"
        if f.symbol_ratio >= cfg.symbol_ratio:
            return "ocr", "symbol_density"
    return "text", "text_layer"
