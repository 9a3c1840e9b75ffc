"""Text-layer layout for PDF pages: lines, tables, reading order, running headers/footers.

Plain geometry over PyMuPDF's ``get_text("dict")`` output, so every rule is testable without
a model. Reading order: lines are grouped into horizontal *strips* (lines whose heights
overlap), consecutive strips that share a vertical white gap (a gutter) form a *band*, and a
band is read column by column, each column recursively the same way. A full-width line (a
title, a caption) shares no gutter with its neighbours, so it ends the band and the columns
above it are read before the text below it. Whether a line is a displayed formula (math
fonts, or a relation between symbols) is a property of the line, so it lives here too: the
Markdown blocks (``pdf_markdown``) and the page routing (``pdf_routing``) both use it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pymupdf

# Ligatures expanded, whitespace kept, text outside the media box dropped, no images (faster).
TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP

_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-\u2013\u2014]\s*)?(?:page\s+|p\.\s*)?(?:\d{1,4}|[ivxlcdm]{1,6})"
    r"(?:\s*(?:of|/)\s*\d{1,4})?(?:\s*[-\u2013\u2014])?\s*$",
    re.IGNORECASE,
)

# TeX math fonts (Computer Modern, AMS, Euler, RSFS, MathTime), OpenType math fonts (STIX Two
# Math, XITS Math, Cambria Math, Latin Modern Math, TeX Gyre … Math) and Symbol fonts.
MATH_FONT = re.compile(
    r"^(?:CMMI|CMSY|CMEX|CMBSY|CMMIB|MSBM|MSAM|EUFM|EUSM|EUEX|EURM|EUFB|RSFS|MTMI|MTSY|MTEX|LMMATH|LMMONO.*MATH"
    r"|STIX.*MATH|XITS.*MATH|CAMBRIA.?MATH|ASANA|TEXGYRE.*MATH|LIBERTINUSMATH|FIRAMATH|.*[-_ ]?MATH$|.*MATH-"
    r"|SYMBOL|MT-?EXTRA|STMARY|WASY|ESINT|MSBM|TXSY|TXEX|PXSY|PXEX|TXMI|PXMI|MATHDESIGN|MDSY|MDEX)",
    re.IGNORECASE,
)
# Presentation-form ligatures that a font without a ToUnicode map leaves in the text.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij"})


def normalize_text(text: str) -> str:
    """Ligature glyphs spelled out (ﬁ → fi), so words match however the font encoded them."""
    return text.translate(_LIGATURES)


BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demibold|-bd|cmbx|\.b$", re.IGNORECASE)
MONO_FONT = re.compile(r"mono|courier|consol|menlo|cmtt|typewriter|inconsolata|lmmono|sfmono|beramono|txtt|pcrr",
                       re.IGNORECASE)
RELATIONS = set("=<>≤≥≈≡≠∈∉⊂⊆⊃⊇→←↔⇒⇔↦∼≃≅∝")
_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass
class Line:
    """One text line of a page, with what routing needs (fonts, per-font character counts)."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float
    fonts: Counter = field(default_factory=Counter)  # font name (subset prefix removed) → characters
    is_table: bool = False
    bold: bool = False  # most characters in a bold face
    mono: bool = False  # most characters in a monospaced font
    raw: str = ""  # the text with its leading spaces (code indentation); "" when the same as text

    @property
    def h(self) -> float:
        return max(self.y1 - self.y0, 0.1)


def is_math_font(name: str) -> bool:
    return bool(MATH_FONT.match(name.replace(" ", "")))


def is_formula_line(line: Line) -> bool:
    """A line shaped like a displayed formula: mostly math-font glyphs, or a relation between
    symbols with at most one ordinary word."""
    n = sum(line.fonts.values())
    if n >= 3 and sum(c for f, c in line.fonts.items() if is_math_font(f)) >= 0.5 * n:
        return True
    text = line.text
    if len(text) < 3 or not any(ch in RELATIONS for ch in text):
        return False
    return len(_WORD.findall(text)) <= 1


def base_font(name: str) -> str:
    """Font name without the six-letter subset tag (``ABCDEF+CMMI10`` → ``CMMI10``)."""
    if len(name) > 7 and name[6] == "+":
        return name[7:]
    return name


def page_lines(page: pymupdf.Page) -> tuple[list[Line], int]:
    """Horizontal text lines of a page; rotated lines are dropped when they are a minority
    (arXiv stamps, margin notes). Returns (lines, characters in dropped rotated lines)."""
    data = page.get_text("dict", flags=TEXT_FLAGS)
    straight: list[Line] = []
    rotated: list[Line] = []
    for block in data.get("blocks", ()):
        if block.get("type", 0) != 0:
            continue
        for ln in block.get("lines", ()):
            spans = ln.get("spans", ())
            text = normalize_text("".join(s.get("text", "") for s in spans))
            if not text.strip():
                continue
            fonts: Counter = Counter()
            sizes: Counter = Counter()
            bold = mono = 0
            for s in spans:
                n = len(s.get("text", "").strip())
                if n:
                    font = base_font(s.get("font", ""))
                    fonts[font] += n
                    sizes[round(s.get("size", 0.0), 1)] += n
                    flags = s.get("flags", 0)
                    bold += n * bool(flags & pymupdf.TEXT_FONT_BOLD or BOLD_FONT.search(font))
                    mono += n * bool((flags & pymupdf.TEXT_FONT_MONOSPACED or MONO_FONT.search(font))
                                     and not is_math_font(font))
            x0, y0, x1, y1 = ln["bbox"]
            n = sum(fonts.values())
            line = Line(x0, y0, x1, y1, text.strip(), sizes.most_common(1)[0][0] if sizes else 0.0, fonts,
                        bold=bold >= 0.8 * n, mono=mono >= 0.8 * n, raw=text.rstrip() if mono >= 0.8 * n else "")
            dx, dy = ln.get("dir", (1.0, 0.0))
            (straight if abs(dy) < 0.2 and dx > 0 else rotated).append(line)
    straight = merge_row_fragments(attach_markers(straight))
    rot_chars = sum(len(r.text) for r in rotated)
    if rot_chars > sum(len(s.text) for s in straight):
        # a rotated page (landscape table): keep everything, ordered top-down
        return straight + rotated, 0
    return straight, rot_chars


_MARKER = re.compile(r"^(?:[\u2022\u25e6\u25aa\u25cf\u25a0\u25a1\u2023\u2043\u2219\u00b7\u2013\u2014*-]|\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)])$")


def attach_markers(lines: list[Line]) -> list[Line]:
    """A list bullet or enumerator that PyMuPDF returns as a line of its own (set apart from
    its item by a tab stop) is joined to the line right of it on the same row, so that the
    gap between them is not taken for a column gutter."""
    markers = [i for i, ln in enumerate(lines) if _MARKER.match(ln.text)]
    if not markers:
        return lines
    drop = set()
    for i in markers:
        m = lines[i]
        cy = (m.y0 + m.y1) / 2
        right = [
            j for j, ln in enumerate(lines)
            if j != i and j not in drop and ln.y0 <= cy <= ln.y1 and 0 <= ln.x0 - m.x1 <= 4 * max(m.size, ln.size, 1.0)
        ]
        if not right:
            continue
        j = min(right, key=lambda j: lines[j].x0)
        ln = lines[j]
        lines[j] = Line(m.x0, min(m.y0, ln.y0), ln.x1, max(m.y1, ln.y1), f"{m.text} {ln.text}", ln.size,
                        ln.fonts + m.fonts, bold=ln.bold, mono=ln.mono, raw=ln.raw)
        drop.add(i)
    return [ln for i, ln in enumerate(lines) if i not in drop]


def merge_row_fragments(lines: list[Line], max_gap_em: float = 1.2) -> list[Line]:
    """Pieces of one typeset line that PyMuPDF returns as separate lines (a section number
    and its title, "Table" and "1." of a caption) are joined when they sit on the same row,
    in the same size, less than ``max_gap_em`` apart: a column gutter is wider. Returns the
    lines top to bottom, left to right."""
    out: list[Line] = []
    for ln in _rows(lines):
        if out:
            p = out[-1]
            overlap = min(p.y1, ln.y1) - max(p.y0, ln.y0)
            em = max(p.size, ln.size, 1.0)
            if (overlap >= 0.6 * min(p.h, ln.h) and -1.0 <= ln.x0 - p.x1 <= max_gap_em * em
                    and abs(p.size - ln.size) <= 0.1 * em and p.mono == ln.mono and not (p.is_table or ln.is_table)):
                raw = ""
                if p.mono:  # code: as many spaces as the gap is wide, in the font's character width
                    pr = p.raw or p.text
                    cw = (p.x1 - p.x0) / max(len(pr), 1)
                    raw = pr + " " * max(1, round((ln.x0 - p.x1) / cw)) + (ln.raw or ln.text).lstrip(" ")
                out[-1] = Line(p.x0, min(p.y0, ln.y0), ln.x1, max(p.y1, ln.y1), f"{p.text} {ln.text}",
                               p.size, p.fonts + ln.fonts, bold=p.bold and ln.bold, mono=p.mono, raw=raw)
                continue
        out.append(ln)
    return out


def page_tables(page: pymupdf.Page) -> list[tuple[pymupdf.Rect, str]]:
    """Tables PyMuPDF finds on the page, as (bbox, Markdown). Only looked for when the page has
    ruling lines, since finding tables on plain text pages is slow and finds nothing."""
    try:
        paths = page.get_cdrawings()
    except Exception:  # noqa: BLE001 - drawings are optional evidence
        return []
    if sum(len(p.get("items", ())) for p in paths) < 4:
        return []
    out = []
    words = None
    for tab in page.find_tables(use_layout=False).tables:
        if tab.row_count < 2 or tab.col_count < 2:
            continue
        if words is None:
            words = page.get_text("words", flags=TEXT_FLAGS)
        md = table_markdown([[_cell_text(words, c) for c in row.cells] for row in tab.rows])
        if md:
            out.append((pymupdf.Rect(tab.bbox), md))
    return out


def _cell_text(words: list, bbox) -> str:
    """Words whose centre lies in the cell, in reading order."""
    if bbox is None:
        return ""
    x0, y0, x1, y1 = bbox
    inside = [w for w in words if x0 <= (w[0] + w[2]) / 2 <= x1 and y0 <= (w[1] + w[3]) / 2 <= y1]
    inside.sort(key=lambda w: (w[5], w[6], w[7]))  # block, line, word number
    return " ".join(w[4] for w in inside)


def table_markdown(rows: list[list[str | None]]) -> str:
    """Rows of cell texts → a Markdown pipe table, the first row as header. (PyMuPDF's own
    ``to_markdown`` re-extracts every cell and is ~30x slower; its ``extract`` garbles decimals.)"""
    def cell(c: str | None) -> str:
        return re.sub(r"\s+", " ", c or "").strip().replace("|", "\\|")

    rows = [[cell(c) for c in r] for r in rows if any((c or "").strip() for c in r)]
    if len(rows) < 2:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def apply_tables(lines: list[Line], tables: list[tuple[pymupdf.Rect, str]]) -> list[Line]:
    """Replace the lines inside each table's box by one line holding the table's Markdown."""
    if not tables:
        return lines
    kept = []
    for ln in lines:
        cx, cy = (ln.x0 + ln.x1) / 2, (ln.y0 + ln.y1) / 2
        if not any(r.x0 <= cx <= r.x1 and r.y0 <= cy <= r.y1 for r, _ in tables):
            kept.append(ln)
    for r, md in tables:
        kept.append(Line(r.x0, r.y0, r.x1, r.y1, md, 0.0, Counter(), is_table=True))
    return kept


# ---------------------------------------------------------------- running headers and footers


def _chrome_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", " ", text.strip().lower()))


def running_chrome(
    pages: list[list[Line]], heights: list[float], margin: float = 0.12, min_share: float = 0.3
) -> list[set[int]]:
    """For each page, indexes of lines that are running headers/footers or page numbers.

    A line counts when it lies in the top or bottom ``margin`` of its page and either looks
    like a page number, or its text (digits masked) recurs in the same band on at least two
    pages and on ``min_share`` of the pages.
    """
    def band(ln: Line, h: float) -> str | None:
        if ln.y1 <= h * margin:
            return "top"
        if ln.y0 >= h * (1 - margin):
            return "bottom"
        return None

    counts: Counter = Counter()
    for lines, h in zip(pages, heights):
        seen = {(b, _chrome_key(ln.text)) for ln in lines if (b := band(ln, h))}
        counts.update(seen)
    need = max(2, int(min_share * len(pages) + 0.999))
    out = []
    for lines, h in zip(pages, heights):
        drop = set()
        for i, ln in enumerate(lines):
            b = band(ln, h)
            if b is None or ln.is_table:
                continue
            if _PAGE_NUMBER.match(ln.text) or counts[(b, _chrome_key(ln.text))] >= need:
                drop.add(i)
        out.append(drop)
    return out


# ---------------------------------------------------------------- reading order


@dataclass
class Segment:
    """Lines read top to bottom inside one column (or one full-width band)."""

    lines: list[Line]
    x0: float
    x1: float


Gaps = list[tuple[float, float]]


def _intervals_gaps(spans: Gaps, lo: float, hi: float, min_gap: float) -> Gaps:
    gaps = []
    cur = lo
    for a, b in sorted(spans):
        if a - cur >= min_gap:
            gaps.append((cur, a))
        cur = max(cur, b)
    if hi - cur >= min_gap:
        gaps.append((cur, hi))
    return gaps


def _intersect(g1: Gaps, g2: Gaps, min_gap: float) -> Gaps:
    out = []
    for a0, a1 in g1:
        for b0, b1 in g2:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi - lo >= min_gap:
                out.append((lo, hi))
    return out


def _rows(lines: list[Line]) -> list[Line]:
    """Top-to-bottom, and left-to-right among lines of the same row."""
    out: list[Line] = []
    row: list[Line] = []
    for ln in sorted(lines, key=lambda l: (l.y0 + l.y1) / 2):
        if row and (ln.y0 + ln.y1) / 2 > min(r.y1 for r in row) - 0.3 * ln.h:
            out.extend(sorted(row, key=lambda l: l.x0))
            row = []
        row.append(ln)
    out.extend(sorted(row, key=lambda l: l.x0))
    return out


def reading_order(lines: list[Line], depth: int = 0) -> list[Segment]:
    """Segments of ``lines`` in reading order (see the module docstring)."""
    if not lines:
        return []
    lo = min(l.x0 for l in lines)
    hi = max(l.x1 for l in lines)
    if depth >= 4 or len(lines) == 1:
        return [Segment(_rows(lines), lo, hi)]
    heights = sorted(l.h for l in lines)
    med_h = heights[len(heights) // 2]
    min_gap = max(4.0, 0.6 * med_h)

    # strips: lines whose (slightly shrunk) vertical extents overlap
    strips: list[list[Line]] = []
    bottom = None
    for ln in sorted(lines, key=lambda l: l.y0):
        top = ln.y0 + 0.2 * ln.h
        if strips and top < bottom:
            strips[-1].append(ln)
            bottom = max(bottom, ln.y1 - 0.2 * ln.h)
        else:
            strips.append([ln])
            bottom = ln.y1 - 0.2 * ln.h

    # bands: consecutive strips sharing at least one vertical gap, or all sharing none
    bands: list[tuple[list[Line], list[tuple[float, float]]]] = []
    for strip in strips:
        gaps = _intervals_gaps([(l.x0, l.x1) for l in strip], lo, hi, min_gap)
        inner = [g for g in gaps if g[0] > lo and g[1] < hi]  # a gap touching an edge is no gutter alone
        if bands:
            blines, bgaps = bands[-1]
            if not bgaps and not inner:
                blines.extend(strip)
                continue
            if bgaps:
                common = _intersect(bgaps, gaps, min_gap)
                if common:
                    blines.extend(strip)
                    bands[-1] = (blines, common)
                    continue
        bands.append((list(strip), inner))

    out: list[Segment] = []
    for blines, bgaps in bands:
        cuts = sorted((a + b) / 2 for a, b in bgaps if a > lo and b < hi)
        if not cuts:
            out.append(Segment(_rows(blines), lo, hi))
            continue
        cols: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
        for ln in blines:
            cols[sum(1 for c in cuts if ln.x0 >= c)].append(ln)
        nonempty = [c for c in cols if c]
        if len(nonempty) == 1:
            out.append(Segment(_rows(blines), lo, hi))
            continue
        for col in nonempty:
            out.extend(reading_order(col, depth + 1))
    return out
