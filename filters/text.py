"""Split a Document's Markdown into prose, math and code, so rules judge only the prose.

Documents carry Markdown in which inline math is ``$…$`` (or ``\\(…\\)``), display math is
``$$…$$`` (or ``\\[…\\]``) and code sits in fenced blocks (```` ``` ```` or ``~~~``) or inline
backticks. Web-text rules (Gopher, C4, FineWeb) were tuned on prose: ``{``, ``#``, short
lines without punctuation and the absence of stop words are signs of junk in prose but
normal in LaTeX and code. ``parse`` therefore returns the prose with every inline formula
replaced by one placeholder word and display math and code removed, plus the counts the
rules and the domain classifier need (code/math characters, spans, code tokens).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MATH_WORD = "m"  # prefix of the one alphabetic word that stands for an inline formula

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]{0,3}\1[ \t]*$|\Z)", re.S | re.M)
_DISPLAY = re.compile(r"\$\$(?:[^$]|\$(?!\$))+?\$\$|\\\[.+?\\\]", re.S)
# Pandoc's rule for inline $…$: no space after the opening $, none before the closing $, and
# the closing $ not followed by a digit ("costs $5 and $10" is not math).
_INLINE = re.compile(r"(?<![\\$])\$(?=[^\s$])(?:\\\$|[^$\n])+?(?<=[^\s\\])\$(?!\d)|\\\((?:.|\n)+?\\\)")
_INLINE_CODE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)


@dataclass
class Parsed:
    """A document seen by the rules: prose (math → placeholder, code removed) and counts."""

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
        """Words of the whole document: prose words (a formula is one) plus code tokens."""
        return len(self.prose_words) + self.code_tokens


def math_word(formula: str) -> str:
    """The placeholder word of a formula: letters only, the same for the same formula, so a
    page that repeats one formula still repeats a word while distinct formulas stay distinct."""
    h = hashlib.blake2b(formula.encode("utf-8", "surrogatepass"), digest_size=5).digest()
    return MATH_WORD + "".join(chr(97 + b % 26) for b in h)


def _nonspace(s: str) -> int:
    return len(s) - sum(s.count(c) for c in " \t\n\r")


def parse(text: str) -> Parsed:
    """Split ``text`` (Markdown) into prose, code and math; see the module docstring."""
    text = text or ""
    code_chars = math_chars = code_tokens = math_spans = code_blocks = 0

    def fence(m: re.Match) -> str:
        nonlocal code_chars, code_tokens, code_blocks
        body = m.group(0).split("\n", 1)[1] if "\n" in m.group(0) else ""
        body = re.sub(r"\n[ \t]{0,3}(`{3,}|~{3,})[ \t]*$", "", body)
        code_chars += _nonspace(body)
        code_tokens += len(body.split())
        code_blocks += 1
        return "\n"

    def display(m: re.Match) -> str:
        nonlocal math_chars, math_spans
        math_chars += _nonspace(m.group(0))
        math_spans += 1
        return "\n"

    def inline(m: re.Match) -> str:
        nonlocal math_chars, math_spans
        math_chars += _nonspace(m.group(0))
        math_spans += 1
        return f" {math_word(m.group(0))} "

    def inline_code(m: re.Match) -> str:
        nonlocal code_chars, code_tokens
        code_chars += _nonspace(m.group(2))
        code_tokens += max(1, len(m.group(2).split()))
        return " code "

    rest = _FENCE.sub(fence, text)
    rest = _DISPLAY.sub(display, rest)
    rest = _INLINE.sub(inline, rest)
    rest = _INLINE_CODE.sub(inline_code, rest)
    rest = _HEADING.sub("", rest)
    lines = [ln.strip() for ln in rest.split("\n")]
    prose_lines = [ln for ln in lines if ln]
    return Parsed(
        text=text,
        prose=rest,
        prose_lines=prose_lines,
        prose_words=rest.split(),
        code_tokens=code_tokens,
        code_chars=code_chars,
        math_chars=math_chars,
        math_spans=math_spans,
        code_blocks=code_blocks,
        total_chars=_nonspace(text),
    )


def paragraphs(prose: str) -> list[str]:
    """Non-empty paragraphs (blank-line separated) of the prose."""
    return [p.strip() for p in re.split(r"\n\s*\n", prose) if p.strip()]
