"""PDFs with known text, made with PyMuPDF, for the tests and benchmarks/extract_pdf.py.

The generator sets every line itself (its own line breaking, with end-of-line hyphenation),
so the text a perfect extractor should return is known exactly: ``GeneratedPDF.truth`` holds
the body paragraphs in reading order, without running headers, footers or page numbers.
Formula lines use a font whose PDF name is rewritten to ``CMMI10`` (the TeX math italic), as
in a LaTeX paper; a scanned page is an image of a rendered page with no text layer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import pymupdf

WORDS = (
    "the of and model data which results analysis method theory function space value system "
    "equation proof lemma order linear matrix vector sample process random variable measure "
    "integral series bound estimate converge continuous network training learning language "
    "structure problem solution algorithm complexity parameter distribution probability "
    "inference observation experiment hypothesis consequence representation approximation "
    "transformation characterization generalization interpretation considerable substantial "
    "independent straightforward particularly corresponding"
).split()

FORMULAS = (
    "f(x) = a x + b",
    "E = m c^2 + p",
    "g(y) = y^2 - 4 y + 1",
    "h(t) = sin t + cos t",
    "x + y = z - w",
    "u(n) = u(n-1) + u(n-2)",
)


def paragraph_text(rng: random.Random, sentences: int = 4) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


@dataclass
class GeneratedPDF:
    name: str
    data: bytes
    truth: str  # body text in reading order, paragraphs separated by a blank line
    pages: int
    kinds: list[str] = field(default_factory=list)


class _Setter:
    """Sets paragraphs into columns of pages with its own line breaking and hyphenation."""

    def __init__(self, doc, columns=1, fontsize=10.0, header=None, footer=True, width=595, height=842, font="helv"):
        self.doc, self.columns, self.fs, self.font = doc, columns, fontsize, font
        self.header, self.footer = header, footer
        self.w, self.h = width, height
        self.margin, self.gutter = 60.0, 24.0
        self.leading = fontsize * 1.3
        self.page = None
        self.col = 0
        self.y = 0.0

    @property
    def col_width(self) -> float:
        return (self.w - 2 * self.margin - (self.columns - 1) * self.gutter) / self.columns

    def new_page(self):
        self.page = self.doc.new_page(width=self.w, height=self.h)
        n = self.doc.page_count
        if self.header:
            self.page.insert_text((self.margin, 40), self.header, fontsize=8, fontname="helv")
            self.page.insert_text((self.w - self.margin - 60, 40), f"Vol. 7, {n + 100}", fontsize=8, fontname="helv")
        if self.footer:
            self.page.insert_text((self.w / 2 - 5, self.h - 30), str(n), fontsize=9, fontname="helv")
        self.col, self.y, self.top = 0, 80.0, 80.0

    def _advance(self, needed: float):
        if self.page is None:
            self.new_page()
        elif self.y + needed > self.h - 70:
            self.col += 1
            self.y = self.top
            if self.col >= self.columns:
                self.new_page()

    def full_width(self, text: str, fontsize: float = 14.0):
        """A title across all columns, starting a fresh page."""
        self.new_page()
        self.page.insert_text((self.margin, self.y), text, fontsize=fontsize, fontname="hebo")
        self.y += fontsize * 2.2
        self.top = self.y

    def break_lines(self, text: str, width: float, hyphenate: bool = True) -> list[str]:
        """Greedy line breaking at ``width``; long words are hyphenated at a line end."""
        words = text.split()
        line: list[str] = []
        lines = []
        i = 0
        while i < len(words):
            cand = " ".join(line + [words[i]])
            if pymupdf.get_text_length(cand, self.font, self.fs) <= width:
                line.append(words[i])
                i += 1
                continue
            w = words[i]
            if hyphenate and len(w) >= 8 and line:
                for cut in range(len(w) - 3, 2, -1):
                    head = " ".join(line + [w[:cut] + "-"])
                    if pymupdf.get_text_length(head, self.font, self.fs) <= width:
                        lines.append(head)
                        words[i] = w[cut:]
                        line = []
                        break
                else:
                    lines.append(" ".join(line))
                    line = []
                continue
            if not line:  # a single word wider than the column
                line.append(w)
                i += 1
            lines.append(" ".join(line))
            line = []
        if line:
            lines.append(" ".join(line))
        return lines

    def paragraph(self, text: str, hyphenate: bool = True):
        lines = self.break_lines(text, self.col_width, hyphenate)
        for ln in lines:
            self._advance(self.leading)
            x = self.margin + self.col * (self.col_width + self.gutter)
            self.page.insert_text((x, self.y), ln, fontsize=self.fs, fontname=self.font)
            self.y += self.leading
        self.y += self.leading * 0.9  # paragraph gap

    @property
    def x(self) -> float:
        return self.margin + self.col * (self.col_width + self.gutter)

    def set_lines(self, lines: list[str], font: str | None = None, fontsize: float | None = None,
                  indent: float = 0.0, hanging: float = 0.0, gap: float = 0.9):
        """Lines set as given (no line breaking): the first at ``indent``, the rest at ``indent +
        hanging``; then a gap of ``gap`` leadings."""
        fs = fontsize or self.fs
        lead = fs * 1.3
        for i, ln in enumerate(lines):
            self._advance(lead)
            self.page.insert_text((self.x + indent + (hanging if i else 0), self.y), ln, fontsize=fs,
                                  fontname=font or self.font)
            self.y += lead
        self.y += lead * gap

    def heading(self, text: str, fontsize: float, font: str = "hebo"):
        self._advance(fontsize * 4)  # never the last line of a column
        self.y += fontsize * 0.6
        self.set_lines([text], font=font, fontsize=fontsize, gap=0.4)

    def code(self, lines: list[str], fontsize: float = 8.5):
        """Monospaced lines; leading spaces are set as space glyphs, as a listing package does."""
        self._advance(fontsize * 1.3 * min(len(lines), 6))
        self.set_lines(lines, font="cour", fontsize=fontsize)

    def bullets(self, items: list[str]):
        """List items: a bullet, then the item's lines at a hanging indent."""
        for item in items:
            lines = self.break_lines(item, self.col_width - 18, hyphenate=False)
            self._advance(self.leading * len(lines))
            self.page.insert_text((self.x + 6, self.y), "\u2022", fontsize=self.fs, fontname=self.font)
            self.set_lines(lines, indent=18, gap=0.2)
        self.y += self.leading * 0.6

    def table(self, rows: list[list[str]]):
        """A ruled table across the column, the first row as header."""
        rh = self.fs * 2.0
        self._advance(rh * len(rows) + self.leading)
        cw = self.col_width / len(rows[0])
        top = self.y
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                x0 = self.x + c * cw
                self.page.draw_rect(pymupdf.Rect(x0, top + r * rh, x0 + cw, top + (r + 1) * rh), width=0.6)
                self.page.insert_text((x0 + 3, top + r * rh + rh * 0.68), cell, fontsize=self.fs - 1,
                                      fontname="hebo" if r == 0 else self.font)
        self.y = top + len(rows) * rh + self.leading * 1.5

    def formula(self, text: str):
        self._advance(self.leading * 2)
        x = self.margin + self.col * (self.col_width + self.gutter) + 30
        self.y += self.leading * 0.3
        self.page.insert_text((x, self.y), text, fontsize=self.fs, fontname="tiit")
        self.y += self.leading * 1.6


def _rename_math_font(doc) -> None:
    """Rewrite the PDF name of Times-Italic to CMMI10, so formula lines carry a TeX math font."""
    seen = set()
    for page in doc:
        for xref, _ext, _type, basefont, _name, _enc in page.get_fonts():
            if xref not in seen and basefont == "Times-Italic":
                doc.xref_set_key(xref, "BaseFont", "/CMMI10")
                seen.add(xref)


CODE = [
    ["def mean(xs):", "    total = 0", "    for x in xs:", "        total += x", "    return total / len(xs)"],
    ["for (int i = 0; i < n; i++) {", "    sum += a[i] * b[i];", "}"],
    ["$ curate run stage2 --config my.yaml", "$ curate report out/stage2"],
]


@dataclass
class Structured:
    """The Markdown a perfect extractor writes for a ``structured`` PDF, and its parts."""

    markdown: str
    headings: list[str]
    code_blocks: list[str]
    table_cells: list[str]


def structured(seed: int = 0, columns: int = 1, sections: int = 3) -> tuple[GeneratedPDF, Structured]:
    """A paper with a title, numbered sections and bold subsections, paragraphs, a bulleted
    list, code listings in a monospaced font, a ruled table, formula lines and a hyphenation
    trap (a line-break hyphen and an author's compound hyphen at line ends), in one or two
    columns. ``GeneratedPDF.truth`` is the plain text in reading order; ``Structured`` the
    Markdown and the headings, code blocks and table cells to recall."""
    rng = random.Random(f"structured-{seed}-{columns}")
    doc = pymupdf.open()
    s = _Setter(doc, columns=columns, footer=True)
    md: list[str] = []
    heads: list[str] = []
    codes: list[str] = []
    cells: list[str] = []
    title = "On the " + " ".join(rng.choice(WORDS) for _ in range(3)).title()
    s.full_width(title, fontsize=16)
    md.append("# " + title)
    heads.append(title)
    for sec in range(1, sections + 1):
        h = f"{sec} " + rng.choice(WORDS).title() + " " + rng.choice(WORDS).title()
        s.heading(h, 12.5)
        md.append("## " + h)
        heads.append(h)
        p = paragraph_text(rng, 3)
        s.paragraph(p)
        md.append(p)
        sub = f"{sec}.1 " + rng.choice(WORDS).title() + " " + rng.choice(WORDS)
        s.heading(sub, s.fs)
        md.append("### " + sub)
        heads.append(sub)
        if sec == 1:
            s.set_lines(["Every value was auto-", "matically checked, and the automatically-",
                         "detected errors were fixed by hand."])
            md.append("Every value was automatically checked, and the automatically-detected errors were fixed by hand.")
        items = [paragraph_text(rng, 1) for _ in range(3)]
        s.bullets(items)
        md.extend("- " + it for it in items)
        code = CODE[(seed + sec) % len(CODE)]
        s.code(code)
        md.append("```\n" + "\n".join(code) + "\n```")
        codes.append("\n".join(code))
        p = paragraph_text(rng, 2)
        s.paragraph(p)
        md.append(p)
        rows = [["Method", "Score", "Time"]] + [
            [rng.choice(WORDS), f"{rng.uniform(0, 100):.1f}", f"{rng.randint(1, 99)} s"] for _ in range(3)
        ]
        s.table(rows)
        table = ["| " + " | ".join(r) + " |" for r in rows]
        md.append("\n".join(table[:1] + ["|" + "---|" * len(rows[0])] + table[1:]))
        cells.extend(c for r in rows for c in r)
        p = paragraph_text(rng, 3)
        s.paragraph(p)
        md.append(p)
    plain = "\n\n".join(plain_text(b) for b in md)
    g = GeneratedPDF(f"structured-{columns}col", doc.tobytes(garbage=3, deflate=True), plain, doc.page_count,
                     ["structured"])
    return g, Structured("\n\n".join(md), heads, codes, cells)


def plain_text(markdown: str) -> str:
    """Markdown without its markup (heading marks, fences, list marks, table pipes and rules),
    for comparing reading order whatever markup an extractor writes."""
    out = []
    for ln in markdown.splitlines():
        t = ln.strip()
        if t.startswith("```") or re.fullmatch(r"\|?\s*:?-{3,}.*", t):
            continue
        t = re.sub(r"^#{1,6}\s+|^[-*\u2022]\s+|^\d+\.\s+", "", t)
        t = re.sub(r"\*\*|__|`", "", t).replace("|", " ")
        out.append(t)
    return "\n".join(out)


def make(kind: str, seed: int = 0, pages: int = 2) -> GeneratedPDF:
    """One generated PDF of a kind: one_column, two_column, headers, formulas, scanned."""
    rng = random.Random(f"{kind}-{seed}")
    doc = pymupdf.open()
    truth: list[str] = []
    if kind in ("one_column", "headers"):  # one column of paragraphs; "headers" adds running heads and page numbers
        s = (_Setter(doc, columns=1, footer=False) if kind == "one_column"
             else _Setter(doc, columns=1, header="Journal of Generated Results", footer=True))
        while doc.page_count < pages or s.y < 500:
            p = paragraph_text(rng)
            s.paragraph(p)
            truth.append(p)
    elif kind == "two_column":
        s = _Setter(doc, columns=2, footer=False)
        title = "A Study of " + " ".join(rng.choice(WORDS) for _ in range(4)).title()
        s.full_width(title)
        truth.append(title)
        while doc.page_count < pages or (s.col == 0 and s.y < 400):
            p = paragraph_text(rng)
            s.paragraph(p)
            truth.append(p)
    elif kind == "formulas":
        s = _Setter(doc, columns=1, footer=True)
        while doc.page_count < pages or s.y < 500:
            p = paragraph_text(rng, sentences=2)
            s.paragraph(p)
            truth.append(p)
            for _ in range(2):
                f = rng.choice(FORMULAS)
                s.formula(f)
                truth.append(f)
        _rename_math_font(doc)
    elif kind == "scanned":
        s = _Setter(doc, columns=1, footer=False)
        for _ in range(6):
            p = paragraph_text(rng)
            s.paragraph(p)
            truth.append(p)
        src = doc
        doc = pymupdf.open()
        page = doc.new_page(width=595, height=842)
        pix = src[0].get_pixmap(dpi=100)
        page.insert_image(page.rect, pixmap=pix)
        text_page = doc.new_page(width=595, height=842)
        extra = paragraph_text(rng)
        text_page.insert_textbox(pymupdf.Rect(60, 80, 535, 780), extra, fontsize=10, fontname="helv")
        truth = [extra]  # the scanned page has no text layer: without OCR only page 2 is known
        pages = 2
    else:
        raise ValueError(kind)
    data = doc.tobytes(garbage=3, deflate=True)
    return GeneratedPDF(kind, data, "\n\n".join(truth), doc.page_count, [kind])


def scanned(seed: int = 0, dpi: int = 300, font: str = "helv", skew: float = 0.0, paragraphs: int = 5,
            fontsize: float = 11.0) -> GeneratedPDF:
    """An image-only one-page PDF: known paragraphs set in ``font`` (helv, tiro, cour, …),
    rasterised at ``dpi``, turned by ``skew`` degrees (as a scanner feeds a sheet slightly
    askew), and placed as the page's only content. ``truth`` is the set text, hyphens joined."""
    from PIL import Image

    rng = random.Random(f"scanned-{seed}-{font}")
    src = pymupdf.open()
    s = _Setter(src, columns=1, footer=False, font=font, fontsize=fontsize)
    truth = []
    for _ in range(paragraphs):
        p = paragraph_text(rng, sentences=3)
        s.paragraph(p)
        truth.append(p)
    pix = src[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    if skew:
        img = img.rotate(skew, resample=Image.BICUBIC, expand=False, fillcolor=255)
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, pixmap=pymupdf.Pixmap(pymupdf.csGRAY, img.width, img.height, img.tobytes(), False))
    name = f"scanned-{font}-{dpi}dpi-skew{skew:g}"
    return GeneratedPDF(name, doc.tobytes(garbage=3, deflate=True), "\n\n".join(truth), 1, ["scanned"])


def char_error_rate(got: str, want: str) -> float:
    """Levenshtein distance between the whitespace-normalised texts / length of ``want``."""
    import numpy as np

    a, b = " ".join(got.split()), " ".join(want.split())
    if not b:
        return float(bool(a))
    aa = np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    j = np.arange(len(bb) + 1)
    prev = j.copy()
    # one row per character of ``a``: substitution and deletion vectorised, insertion as a
    # running minimum of (cur[j] - j) + j
    for i in range(1, len(aa) + 1):
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[:-1] + (bb != aa[i - 1]), prev[1:] + 1)
        prev = np.minimum.accumulate(cur - j) + j
    return float(prev[-1]) / len(bb)
