"""PDFs with known text, made with PyMuPDF, for the tests and benchmarks/extract_pdf.py.

The generator sets every line itself (its own line breaking, with end-of-line hyphenation),
so the text a perfect extractor should return is known exactly: ``GeneratedPDF.truth`` holds
the body paragraphs in reading order, without running headers, footers or page numbers.
Formula lines use a font whose PDF name is rewritten to ``CMMI10`` (the TeX math italic), as
in a LaTeX paper; a scanned page is an image of a rendered page with no text layer.
"""

from __future__ import annotations

import random
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

    def paragraph(self, text: str, hyphenate: bool = True):
        width = self.col_width
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
        for ln in lines:
            self._advance(self.leading)
            x = self.margin + self.col * (self.col_width + self.gutter)
            self.page.insert_text((x, self.y), ln, fontsize=self.fs, fontname=self.font)
            self.y += self.leading
        self.y += self.leading * 0.9  # paragraph gap

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


def make(kind: str, seed: int = 0, pages: int = 2) -> GeneratedPDF:
    """One generated PDF of a kind: one_column, two_column, headers, formulas, scanned."""
    rng = random.Random(f"{kind}-{seed}")
    doc = pymupdf.open()
    truth: list[str] = []
    if kind == "one_column":
        s = _Setter(doc, columns=1, footer=False)
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
    elif kind == "headers":
        s = _Setter(doc, columns=1, header="Journal of Generated Results", footer=True)
        while doc.page_count < pages or s.y < 500:
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
