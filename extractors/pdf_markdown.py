"""Ordered text-layer lines → Markdown blocks: headings, fenced code, list items, tables and
paragraphs, with end-of-line hyphenation repaired.

The structure comes from the type: a line set larger than the body text (the most common
size of the document) is a heading, its level the rank of its size among heading sizes; a
whole bold line at body size is the level below, unless other bold lines share its row (the
header row of a table without rules). Lines set in a monospaced font form a
fenced code block, their line breaks and indentation kept. A line that starts with a bullet
or an enumerator starts a list item. Formula-shaped lines stay on their own lines, in order.

Hyphenation: a line ending in ``word-`` followed by a lower-case word is joined without the
hyphen ("auto-" + "matically" → "automatically") unless the hyphen is the author's: the head
holds a hyphen already ("state-of-the-" + "art"), the joined word never occurs in the document
while both halves do as words of their own, or the head is an adverb or participle that forms
compounds ("automatically-" + "detected", "well-" + "known") and the tail is a word, not a suffix.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from curate.extractors.pdf_layout import Line, Segment, is_formula_line

_TERMINAL = tuple(".!?:;\u201d\"')]")
_WORDS = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?", re.UNICODE)
_BULLET = re.compile(r"^([\u2022\u25e6\u25aa\u25cf\u25a0\u25a1\u2023\u2043\u2219\u00b7\u2013\u2014*-])\s+(\S.*)$")
_BULLET_GLYPHS = tuple("\u2022\u25e6\u25aa\u25cf\u25a0\u25a1\u2023\u2043\u2219\u00b7")
_ENUM = re.compile(r"^(\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)])\s+(\S.*)$")
# Tails that are suffixes, not words: a hyphen before them is always a line-break hyphen.
_SUFFIXES = {"ing", "ings", "ed", "er", "ers", "est", "ion", "ions", "tion", "tions", "ment", "ments", "ness",
             "ity", "ities", "able", "ible", "al", "ally", "ly", "ous", "ive", "ives", "ize", "izes", "ized",
             "ise", "ised", "ism", "ist", "ists", "ance", "ence", "ant", "ent", "ful", "less", "ship", "ward"}
# Heads that form compounds with a following word: "well-known", "self-attention", "non-linear".
_COMPOUND_HEADS = {"well", "self", "non", "half", "ill", "semi", "quasi", "pseudo", "cross", "state", "real",
                   "two", "three", "four", "multi", "high", "low", "long", "short", "large", "small", "fine"}
MAX_HEADING_CHARS = 120


def words(text: str) -> list[str]:
    return _WORDS.findall(text)


@dataclass
class Style:
    """What the document's type says: the body size, heading levels by size, and the words
    the document uses (for hyphenation)."""

    body: float = 0.0
    levels: dict[float, int] = field(default_factory=dict)  # heading size (0.5 pt steps) → level
    bold_level: int = 0  # level of whole-bold lines at body size; 0: none
    vocab: set[str] = field(default_factory=set)  # lower-case words not cut by a line-end hyphen
    in_bold_rows: set[int] = field(default_factory=set)  # ids of bold lines sharing their row with another


    @classmethod
    def from_pages(cls, pages: list[list[Line]]) -> "Style":
        sizes: Counter = Counter()
        vocab: set[str] = set()
        for lines in pages:
            for ln in lines:
                if ln.is_table:
                    continue
                sizes[round(ln.size * 2) / 2] += len(ln.text)
                ws = words(ln.text)
                if ln.text.endswith(("-", "\u2010")) and ws:
                    ws = ws[:-1]
                vocab.update(w.lower() for w in ws[1:])  # the first word may be a hyphenation tail
        rows: set[int] = set()
        for lines in pages:
            bold = [ln for ln in lines if ln.bold and not ln.is_table]
            for a in bold:
                if any(b is not a and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5 * min(a.h, b.h) for b in bold):
                    rows.add(id(a))
        if not sizes:
            return cls(vocab=vocab, in_bold_rows=rows)
        body = sizes.most_common(1)[0][0]
        style = cls(body=body, vocab=vocab, in_bold_rows=rows)
        heads = sorted({round(ln.size * 2) / 2 for lines in pages for ln in lines if style._heading_shape(ln)
                        and ln.size >= 1.15 * body}, reverse=True)
        style.levels = {s: min(i + 1, 5) for i, s in enumerate(heads)}
        style.bold_level = min(len(heads) + 1, 6)
        return style

    def _heading_shape(self, ln: Line) -> bool:
        t = ln.text
        return (not ln.is_table and not ln.mono and len(t) <= MAX_HEADING_CHARS and len(words(t)) >= 1
                and not is_formula_line(ln) and not t.endswith((",", ";")))

    def heading_level(self, ln: Line) -> int:
        """The Markdown heading level of a line; 0 when it is not a heading."""
        if not self.body or not self._heading_shape(ln):
            return 0
        level = self.levels.get(round(ln.size * 2) / 2, 0) if ln.size >= 1.15 * self.body else 0
        if (not level and ln.bold and abs(ln.size - self.body) <= 0.15 * self.body and not ln.text.endswith(".")
                and id(ln) not in self.in_bold_rows):  # bold cells side by side: a table's header row
            level = self.bold_level
        return level


# ---------------------------------------------------------------- hyphenation


def _keeps_hyphen(head: str, tail: str, vocab: set[str]) -> bool:
    """Whether ``head-`` at a line end followed by ``tail`` is the author's hyphen."""
    h, t = head.lower(), tail.lower()
    if not h or not t:
        return False
    if (h + t) in vocab:
        return False
    if t in _SUFFIXES:
        return False
    if h in _COMPOUND_HEADS:
        return True
    if h in vocab and t in vocab and len(h) >= 3 and len(t) >= 3:
        return True
    return len(h) >= 5 and h.endswith(("ly", "ed")) and len(t) >= 4


def join(a: str, b: str, vocab: set[str] | None = None) -> str:
    """Join two lines of one paragraph, undoing end-of-line hyphenation (see the module doc)."""
    if a.endswith("\u00ad"):
        return a[:-1] + b
    if len(a) >= 2 and a[-1] in "-\u2010" and a[-2].isalpha() and b[:1].islower():
        last_word = a.rsplit(None, 1)[-1]
        if "-" in last_word[:-1]:  # "state-of-the-" + "art": a real compound, keep the hyphen
            return a + b
        head = (words(last_word) or [""])[-1]
        tail = (words(b) or [""])[0]
        if _keeps_hyphen(head, tail, vocab or set()):
            return a + b
        return a[:-1] + b
    return a + " " + b


def join_lines(lines: list[str], vocab: set[str] | None = None) -> str:
    """Lines of one paragraph joined into one, end-of-line hyphenation undone."""
    out = ""
    for ln in lines:
        out = join(out, ln, vocab) if out else ln
    return out


# ---------------------------------------------------------------- blocks


def _list_item(text: str) -> str | None:
    """The line as a Markdown list item when it starts with a bullet or an enumerator."""
    m = _BULLET.match(text)
    if m:
        return "- " + m.group(2)
    m = _ENUM.match(text)
    if m:
        marker = m.group(1)
        if marker[:-1].isdigit() and marker[-1] in ".)":
            return f"{marker[:-1]}. {m.group(2)}"
        return f"- {marker} {m.group(2)}"
    return None


def _code_block(lines: list[Line]) -> str:
    """Monospaced lines as a fenced block: indentation from leading spaces and from the
    line's offset in character widths; a blank line where the vertical gap is large."""
    base = min(ln.x0 for ln in lines)
    out = []
    prev = None
    for ln in lines:
        raw = ln.raw or ln.text
        cw = (ln.x1 - ln.x0) / max(len(raw), 1)
        lead = len(raw) - len(raw.lstrip(" "))
        text_x0 = ln.x0 + lead * cw
        indent = max(0, round((text_x0 - base) / cw)) if cw > 0 else lead
        if prev is not None and ln.y0 - prev.y1 > 0.8 * prev.h:
            out.append("")
        out.append(" " * indent + raw.strip())
        prev = ln
    body = "\n".join(out)
    fence = "````" if "```" in body else "```"
    return f"{fence}\n{body}\n{fence}"


def blocks(segments: list[Segment], style: Style | None = None, gap_factor: float = 0.7) -> list[str]:
    """Markdown blocks from ordered segments. A new paragraph starts after a vertical gap
    larger than ``gap_factor`` line heights, at a first-line indent, after a short line ending
    a sentence, at a change of size, at a table, heading, code block or list item; a paragraph
    that runs on from one column into the next (no sentence end, lower-case continuation) is
    kept whole."""
    style = style or Style()
    vocab = style.vocab
    out: list[str] = []
    cur: str | None = None
    item_x: float | None = None  # left edge of the current list item's first line
    code: list[Line] = []
    prev: Line | None = None
    prev_seg: Segment | None = None
    prev_level = 0

    def flush() -> None:
        nonlocal cur, code, item_x
        if cur:
            out.append(cur)
        if code:
            out.append(_code_block(code))
        cur, code, item_x = None, [], None

    for seg in segments:
        width = seg.x1 - seg.x0
        for ln in seg.lines:
            if ln.is_table:
                flush()
                out.append(ln.text)
                prev, prev_seg, prev_level = None, seg, 0
                continue
            level = style.heading_level(ln)
            if level:
                if (prev_level == level and prev is not None and cur is None and not code
                        and 0 <= ln.y0 - prev.y1 < 0.8 * ln.h and abs(ln.size - prev.size) < 0.5):
                    out[-1] = join(out[-1], ln.text, vocab)  # a heading set on two lines
                else:
                    flush()
                    out.append("#" * level + " " + ln.text)
                prev, prev_seg, prev_level = ln, seg, level
                continue
            if ln.mono:
                if cur:
                    out.append(cur)
                    cur, item_x = None, None
                code.append(ln)
                prev, prev_seg, prev_level = ln, seg, 0
                continue
            if code:
                flush()
            item = _list_item(ln.text)
            if item is not None and not ln.text.startswith(_BULLET_GLYPHS) and cur and item_x is None \
                    and not cur.endswith(_TERMINAL):
                item = None  # "-", "2." or "(a)" at the start of a line inside a sentence
            new = cur is None or item is not None
            if not new and prev is not None:
                em = max(prev.size, ln.size, 1.0)
                same_row = abs((ln.y0 + ln.y1) - (prev.y0 + prev.y1)) < 0.5 * min(ln.h, prev.h)
                if same_row and ln.x0 >= prev.x1 - 1:
                    new = False  # formula and its number, or a line PyMuPDF split in two
                elif ln.y0 < prev.y0 - 0.5 * prev.h or ln.x0 > prev.x1:
                    # jumped up or right: next column; continue only a sentence cut mid-way
                    new = cur.endswith(_TERMINAL) or not ln.text[:1].islower()
                else:
                    gap = ln.y0 - prev.y1
                    short = prev.x1 < (prev_seg.x1 if prev_seg else seg.x1) - 2.5 * em and width > 20 * em
                    indent = ln.x0 > prev.x0 + 0.8 * em and ln.x0 - seg.x0 > 0.8 * em
                    hanging = item_x is not None and ln.x0 > item_x + 0.5 * em  # a list item's next line
                    new = (
                        gap > gap_factor * max(prev.h, ln.h)
                        or (short and cur.endswith(_TERMINAL) and not hanging)
                        or (indent and cur.endswith(_TERMINAL) and not hanging)
                        or (item_x is not None and not hanging)
                        or abs(ln.size - prev.size) > 0.25 * em
                        or is_formula_line(ln) != is_formula_line(prev)
                        or (is_formula_line(ln) and indent)
                    )
            if new:
                flush()
                cur = item or ln.text
                item_x = ln.x0 if item is not None else None
            else:
                cur = join(cur, ln.text, vocab)
            prev, prev_seg, prev_level = ln, seg, 0
    flush()
    return out


def join_pages(page_texts: list[str], vocab: set[str] | None = None) -> str:
    """Join page texts, continuing a paragraph cut by a page break."""
    out = ""
    for t in page_texts:
        t = t.strip()
        if not t:
            continue
        last = out.rsplit("\n\n", 1)[-1]
        runs_on = not out.endswith(_TERMINAL) and t[:1].islower() and not out.endswith(("|", "```"))
        if out and runs_on and not last.startswith(("#", "- ")):
            out = join(out, t, vocab)
        else:
            out = f"{out}\n\n{t}" if out else t
    return out
