"""Split a Document's Markdown into prose, math, code, tables and references, so rules judge only the prose.

Documents carry Markdown in which inline math is ``$…$`` (``$ \\psi $`` too when its content
is TeX, or ``\\(…\\)``), display math is ``$$…$$``, ``\\[…\\]`` or a bare
``\\begin{env}…\\end{env}``, code sits in fenced or indented blocks or inline backticks, tables
are ``| a | b |`` rows, papers end in a reference list, and Markdown from other tools carries
HTML comments and wrapper lines (``<div class="image">``). Web-text rules (Gopher, C4,
FineWeb) were tuned on prose: ``{``, ``#``, short lines without punctuation, repeated lines
and the absence of stop words are signs of junk in prose but normal in LaTeX, code, tables
and bibliographies. ``parse`` therefore
masks all of those first and returns:

* ``prose``: what is left, with every inline formula replaced by one placeholder word (so a
  sentence keeps its shape) and inline code by the word ``code``;
* ``lang_text``: the prose with those placeholders dropped, for language id;
* the counts the rules and the domain classifier need (characters and tokens of code and
  math, spans, masked table and reference lines). Code and formulas inside a masked table
  still count as code and math characters, and table words toward the document's length.

Math and inline code are found in one left-to-right scan, so a ``\\[`` inside ``$…$`` (as
in ``\\\\[4pt]``) is part of that formula, and escaped ``\\$``, ``\\\\`` and ``\\``` are text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MATH_WORD = "m"  # prefix of the one alphabetic word that stands for an inline formula
CODE_WORD = "code"  # the word that stands for an inline code span

TABLE_PROSE_CELL = 80  # a table row whose cells average this many characters holds prose, not data
_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_INDENTED = re.compile(r"^(?: {4}|\t)[ \t]*\S")  # CommonMark's indented code block line
_LIST_ITEM = re.compile(r"^[ \t]{0,3}(?:[-*+]|\d{1,9}[.)])[ \t]")
_MARKUP_LINE = re.compile(r"^[ \t]*(?:</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>[ \t]*)+$")
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+")
_HEADING_MARK = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
_REF_TITLE = re.compile(r"^[ \t]{0,3}(?:(#{1,6})[ \t]+)?(?:\d+\.?\s+)?(references|bibliography|works cited|literature cited|"
                        r"citations|notes and references|references and notes)[ \t]*:?[ \t]*$", re.I)
_ANY_BLOCK = re.compile("|".join(r.pattern for r in (_FENCE_OPEN, _TABLE_ROW, _REF_TITLE, _INDENTED, _MARKUP_LINE)), re.I | re.M)
# Openers of math and inline code, found left to right; the closer of each is looked up once
# per closer string (``_Closers``), so text with thousands of unclosed "\\[" stays linear.
_OPENER = re.compile(r"\\[\\$`]|\$\$|\$|\\\[|\\\(|\\begin\{([A-Za-z]+\*?)\}|`+")
# Pandoc's rule for $…$: no space after the opening $, none before the closing one, the closing
# one not followed by a digit ("costs $5 and $10" is not math), and on one line.
# MathJax and KaTeX also read "$ \\psi $" (spaces inside) as math: taken when the content is TeX
_INLINE_DOLLAR_SPACED = re.compile(r"\$[ \t]+((?:\\[\s\S]|[^$\\\n])+?)\$(?!\d)")
_HTML_COMMENT = re.compile(r"<!--[\s\S]*?-->")
_INLINE_DOLLAR = re.compile(r"\$(?=[^\s$])(?:\\[\s\S]|[^$\\\n])+?(?<!\s)\$(?!\d)")
_TEX_HINT = re.compile(r"[\\^_=+{}<>]")
# Han, kana and Hangul are written without spaces: each character counts as a word, as the
# rules' statistics (word count, n-grams) expect one unit of meaning per word.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
_WORDS = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
_MATH_TOKEN = re.compile(r"\\[A-Za-z]+|[A-Za-z]+|\d+(?:\.\d+)?|[^\s\w{}\\$]")
# "{kylel, lucyw}@allenai.org": a paper's grouped e-mail addresses, not a brace in prose
_EMAIL_GROUP = re.compile(r"\{[\w.+\- ,]{1,300}\}@[\w-]+(?:\.[\w-]+)+")


@dataclass
class Parsed:
    """A document seen by the rules: prose (math → placeholder, code, tables, references removed) and counts."""

    text: str
    prose: str
    prose_lines: list[str]
    prose_words: list[str]
    code_tokens: int
    code_chars: int
    math_chars: int
    math_spans: int
    code_blocks: int
    total_chars: int
    lang_text: str = ""
    lang: str | None = None  # set by the filter after language id; English-only rules skip other languages
    math_tokens: int = 0
    inline_math: int = 0
    table_lines: int = 0
    table_words: int = 0
    reference_lines: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def code_frac(self) -> float:
        """Share of the document's non-space characters inside code (fenced or inline)."""
        return self.code_chars / self.total_chars if self.total_chars else 0.0

    @property
    def math_frac(self) -> float:
        """Share of the document's non-space characters inside math spans."""
        return self.math_chars / self.total_chars if self.total_chars else 0.0

    @property
    def n_words(self) -> int:
        """Words of the whole document: prose words, plus the tokens of code, of formulas (a
        formula's TeX commands, names, numbers and operators) and the words of tables, so a page
        of derivations with a line of prose between them is not "too short"."""
        return len(self.prose_words) - self.inline_math + self.math_tokens + self.code_tokens + self.table_words


def math_word(formula: str) -> str:
    """The placeholder word of a formula: letters only, the same for the same formula, so a
    page that repeats one formula still repeats a word while distinct formulas stay distinct."""
    h = hashlib.blake2b(formula.encode("utf-8", "surrogatepass"), digest_size=5).digest()
    return MATH_WORD + "".join(chr(97 + b % 26) for b in h)


def _nonspace(s: str) -> int:
    return len(s) - sum(s.count(c) for c in " \t\n\r")


@dataclass
class _Blocks:
    """Line-level masking result: prose chunks and what was taken out of them."""

    chunks: list[str]
    code_bodies: list[str]
    table_text: list[str] = field(default_factory=list)
    table_lines: int = 0
    reference_lines: int = 0


def _blocks(text: str) -> _Blocks:
    """Take fenced code blocks, tables and reference sections out of ``text``, line by line.

    A reference section starts at a line that is only "References" / "Bibliography" / …
    (a Markdown heading or a bare line, as PDF text layers give it) and runs to the next
    heading of the same or a higher level (any heading when it was a bare line) or the end.
    """
    out = _Blocks(chunks=[], code_bodies=[])
    if not _ANY_BLOCK.search(text):
        out.chunks.append(text)
        return out
    cur: list[str] = []
    lines = text.split("\n")
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        m = _FENCE_OPEN.match(ln)
        if m:
            fence = m.group(1)
            close = re.compile(r"^[ \t]{0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
            j = i + 1
            while j < n and not close.match(lines[j]):
                j += 1
            out.code_bodies.append("\n".join(lines[i + 1:j]))
            cur.append("")
            i = j + 1
            continue
        if _TABLE_ROW.match(ln):
            j = i
            while j < n and (_TABLE_ROW.match(lines[j]) or _TABLE_RULE.match(lines[j])):
                j += 1
            for row in lines[i:j]:
                cells = [c.strip() for c in row.strip().strip("|").split("|")]
                if _TABLE_RULE.match(row) or sum(len(c) for c in cells) / max(1, len(cells)) < TABLE_PROSE_CELL:
                    out.table_lines += 1
                    out.table_text.append(" ".join(cells))
                    cur.append("")
                else:  # a layout table whose cells are paragraphs (forums): their text is prose
                    cur.append(" ".join(cells))
            i = j
            continue
        if _INDENTED.match(ln) and (i == 0 or not lines[i - 1].strip()) and not _after_list_item(cur):
            j = i
            while j < n and (_INDENTED.match(lines[j]) or not lines[j].strip()):
                j += 1
            while j > i and not lines[j - 1].strip():
                j -= 1
            out.code_bodies.append("\n".join(lines[i:j]))
            cur.append("")
            i = j
            continue
        if _MARKUP_LINE.match(ln):  # raw HTML wrappers (<div class="image">, </center>) are not prose
            cur.append("")
            i += 1
            continue
        r = _REF_TITLE.match(ln)
        if r:
            level = len(r.group(1)) if r.group(1) else 7
            j = i + 1
            while j < n:
                h = _HEADING.match(lines[j])
                if h and (len(h.group(1)) <= level or level == 7):
                    break
                j += 1
            out.reference_lines += sum(1 for x in lines[i + 1:j] if x.strip())
            cur.append("")
            i = j
            continue
        cur.append(ln)
        i += 1
    out.chunks.append("\n".join(cur))
    return out


def _after_list_item(cur: list[str]) -> bool:
    """Whether the last non-blank line before is a list item (its indented lines continue it, not code)."""
    for ln in reversed(cur):
        if ln.strip():
            return bool(_LIST_ITEM.match(ln)) or ln.startswith((" ", "\t"))
    return False


class _Closers:
    """``find(closer, pos)``: the next index of ``closer`` at or after ``pos``, each search done once.

    Openers come in increasing position, so a search that found nothing answers every later
    opener, and one that found index ``i`` answers every opener before ``i``.
    """

    def __init__(self, text: str):
        self.text = text
        self.memo: dict[str, tuple[int, int]] = {}

    def find(self, closer: str, pos: int) -> int:
        hit = self.memo.get(closer)
        if hit is not None and hit[0] <= pos and (hit[1] == -1 or hit[1] >= pos):
            return hit[1]
        i = self.text.find(closer, pos)
        self.memo[closer] = (pos, i)
        return i

    def find_ticks(self, n: int, pos: int) -> int:
        """Start of the next run of exactly ``n`` backticks at or after ``pos``, or -1."""
        key = "`" * n
        while True:
            i = self.find(key, pos)
            if i < 0:
                return -1
            j = i + n
            while j < len(self.text) and self.text[j] == "`":
                j += 1
            if j - i == n and (i == 0 or self.text[i - 1] != "`"):
                return i
            pos = j


def _spans(chunk: str):
    """(kind, start, end) of math (`display`, `inline`) and inline `code` spans in ``chunk``, in order."""
    closers = _Closers(chunk)
    pos = 0
    while True:
        m = _OPENER.search(chunk, pos)
        if m is None:
            return
        tok, start = m.group(0), m.start()
        end, kind = -1, "display"
        if tok[0] == "\\" and tok[1] in "\\$`":
            pos = m.end()  # an escape: literal text
            continue
        if tok == "$$":
            i = closers.find("$$", start + 2)
            end = i + 2 if i > start + 2 else -1
        elif tok == "$":
            d = _INLINE_DOLLAR.match(chunk, start)
            if d is None:
                d = _INLINE_DOLLAR_SPACED.match(chunk, start)
                d = d if d is not None and _TEX_HINT.search(d.group(1)) else None
            end, kind = (d.end() if d else -1), "inline"
        elif tok == "\\[":
            i = closers.find("\\]", start + 2)
            # Markdown's escaped brackets around plain text ("\[1\]", "\[edit\]") are text
            end = i + 2 if i > start + 2 and _TEX_HINT.search(chunk, start + 2, i) else -1
        elif tok == "\\(":
            i = closers.find("\\)", start + 2)
            end, kind = (i + 2 if i > start + 2 else -1), "inline"
        elif tok.startswith("\\begin"):
            close = "\\end{" + m.group(1) + "}"
            i = closers.find(close, m.end())
            end = i + len(close) if i >= 0 else -1
        else:  # a run of backticks
            i = closers.find_ticks(len(tok), m.end())
            end, kind = (i + len(tok) if i > m.end() else -1), "code"
        if end < 0:
            pos = m.end()
            continue
        yield kind, start, end
        pos = end


def parse(text: str) -> Parsed:
    """Split ``text`` (Markdown) into prose, code, math, tables and references; see the module docstring."""
    text = text or ""
    blocks = _blocks(_HTML_COMMENT.sub("\n", text) if "<!--" in text else text)
    code_chars = sum(_nonspace(b) for b in blocks.code_bodies)
    code_tokens = sum(len(b.split()) for b in blocks.code_bodies)
    math_chars = math_spans = math_tokens = inline_math = 0
    # a masked table is not prose, but its code and formulas still say what the page is about
    # and its words still count toward the document's length
    table_words = 0
    for row in blocks.table_text:
        for kind, start, end in _spans(row):
            if kind == "code":
                code_chars += _nonspace(row[start:end].strip("`"))
            else:
                math_chars += _nonspace(row[start:end])
        table_words += len(row.split())
    prose_parts: list[str] = []
    lang_parts: list[str] = []
    for chunk in blocks.chunks:
        chunk = _EMAIL_GROUP.sub(" email ", chunk)
        pos = 0
        for kind, start, end in _spans(chunk):
            before = chunk[pos:start]
            prose_parts.append(before)
            lang_parts.append(before)
            pos = end
            body = chunk[start:end]
            if kind == "code":
                inner = body.strip("`")
                code_chars += _nonspace(inner)
                code_tokens += max(1, len(inner.split()))
                prose_parts.append(f" {CODE_WORD} ")
                lang_parts.append(" ")
                continue
            math_chars += _nonspace(body)
            math_spans += 1
            math_tokens += len(_MATH_TOKEN.findall(body))
            if kind == "inline":
                inline_math += 1
                prose_parts.append(f" {math_word(body)} ")
                lang_parts.append(" ")
            else:
                prose_parts.append("\n")
                lang_parts.append("\n")
        prose_parts.append(chunk[pos:])
        lang_parts.append(chunk[pos:])
    rest = _HEADING_MARK.sub("", "".join(prose_parts))
    lines = [ln.strip() for ln in rest.split("\n")]
    prose_lines = [ln for ln in lines if ln]
    return Parsed(
        text=text,
        prose=rest,
        prose_lines=prose_lines,
        prose_words=_WORDS.findall(rest) if _HAS_CJK.search(rest) else rest.split(),
        code_tokens=code_tokens,
        code_chars=code_chars,
        math_chars=math_chars,
        math_spans=math_spans,
        code_blocks=len(blocks.code_bodies),
        total_chars=_nonspace(text),
        lang_text=_HEADING_MARK.sub("", "".join(lang_parts)),
        math_tokens=math_tokens,
        inline_math=inline_math,
        table_lines=blocks.table_lines,
        table_words=table_words,
        reference_lines=blocks.reference_lines,
    )


def paragraphs(prose: str) -> list[str]:
    """Non-empty paragraphs (blank-line separated) of the prose."""
    return [p.strip() for p in re.split(r"\n\s*\n", prose) if p.strip()]
