"""Trafilatura's selected tree (its XML: p, head, list/item, quote, table/row/cell, code, hi, lb)
→ Markdown written as training text.

Trafilatura's own Markdown writer is a rendering for people: it backslash-escapes `_ * [ ]` in
prose (`SENSOR\\_SERVICE`), keeps emphasis markers and writes `<u>`/`<sup>` as raw HTML. Here
text is written as it reads: no escapes (a `|` inside a table cell is the one character that
would change the layout), emphasis only when asked for, headings as `#`, lists as `-`/`1.`,
quotes as `>`, tables as `|` rows. Math and code tokens (`markup.Protected`) pass through and
are put back by `markup.restore`; a list item or quote holding only a display formula becomes
its own paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from curate.extractors.furniture import NETWORK_BANNER

_WS = re.compile(r"[ \t\r\f\v\u00a0]+")
_NL_WS = re.compile(r"[ \t]*\n[ \t]*")
_CODE_TOKEN = re.compile(r"^\s*zqxc\d+s\b")
_VERBATIM = re.compile("\x01(\\d+)\x01")
_EMPHASIS = {"#b": "**", "#strong": "**", "#i": "*", "#em": "*"}


def _ticks(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * (longest + 1)


class MarkdownWriter:
    """Writes one selected tree; `display_only(text)` says whether a block's text is a single
    display-formula token (it then stands as its own paragraph, not as a list item or quote)."""

    def __init__(self, emphasis: bool = False, display_only: Callable[[str], bool] | None = None):
        self.emphasis = emphasis
        self.display_only = display_only or (lambda _text: False)
        self._verbatim: list[str] = []  # inline code, put back after whitespace is tidied

    # inline ---------------------------------------------------------------------------------
    def inline(self, el, in_cell: bool = False) -> str:
        parts: list[str] = [el.text or ""]
        for child in el:
            parts.append(self._inline_child(child, in_cell))
            parts.append(child.tail or "")
        return "".join(parts)

    def _inline_child(self, el, in_cell: bool) -> str:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag == "lb":
            return " " if in_cell else "\n"
        if tag == "code":
            text = "".join(el.itertext())
            if _CODE_TOKEN.match(text):
                return "\n\n" + text + "\n\n"
            if not text.strip():
                return text
            ticks = _ticks(text)
            pad = " " if text.startswith("`") or text.endswith("`") else ""
            self._verbatim.append(f"{ticks}{pad}{text}{pad}{ticks}")
            return f"\x01{len(self._verbatim) - 1}\x01"
        if tag == "graphic":
            return ""
        inner = self.inline(el, in_cell)
        if tag == "hi" and self.emphasis and inner.strip():
            mark = _EMPHASIS.get(el.get("rend") or "")
            if mark:
                lead, core, trail = _split_ws(inner)
                return f"{lead}{mark}{core}{mark}{trail}"
        return inner

    # blocks ---------------------------------------------------------------------------------
    def blocks(self, el) -> list[str]:
        """Markdown blocks of a container element (body, quote, item with block children, cell)."""
        out: list[str] = []
        loose = [el.text or ""]

        def flush():
            text = _clean("".join(loose))
            if text:
                out.append(text)
            loose.clear()

        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in ("p", "head", "list", "quote", "table", "div", "code", "item") and not (
                    tag == "code" and not _CODE_TOKEN.match("".join(child.itertext()))):
                flush()
                out.extend(self.block(child))
                loose.append(child.tail or "")
            else:
                loose.append(self._inline_child(child, False))
                loose.append(child.tail or "")
        flush()
        return out

    def block(self, el) -> list[str]:
        tag = el.tag
        if tag == "p":
            text = _clean(self.inline(el))
            return [text] if text else []
        if tag == "head":
            text = _clean(self.inline(el)).replace("\n", " ")
            if not text:
                return []
            m = re.fullmatch(r"h([1-6])", el.get("rend") or "")
            return [("#" * (int(m.group(1)) if m else 2)) + " " + text]
        if tag == "list":
            return self._list(el)
        if tag == "quote":
            text = "".join(el.itertext())
            if _CODE_TOKEN.match(text):
                return [text.strip("\n")]
            inner = self.blocks(el)
            if len(inner) == 1 and self.display_only(inner[0]):
                return inner
            return ["\n".join("> " + ln if ln else ">" for ln in "\n\n".join(inner).split("\n"))] if inner else []
        if tag == "table":
            return self._table(el)
        if tag == "code":
            return ["".join(el.itertext()).strip("\n")]
        return self.blocks(el)

    def _list(self, el, depth: int = 0) -> list[str]:
        ordered = (el.get("rend") or "") == "ol"
        lines: list[str] = []
        out: list[str] = []
        n = 0
        for item in el:
            if item.tag != "item":
                continue
            parts = self.blocks(item)
            if not parts:
                continue
            if len(parts) == 1 and self.display_only(parts[0]):
                if lines:
                    out.append("\n".join(lines))
                    lines = []
                out.append(parts[0])
                continue
            n += 1
            marker = f"{n}. " if ordered else "- "
            pad = " " * len(marker)
            first, *rest = parts
            lines.append("  " * depth + marker + first.replace("\n", "\n" + "  " * depth + pad))
            for p in rest:
                lines.append("  " * depth + pad + p.replace("\n", "\n" + "  " * depth + pad))
        if lines:
            out.append("\n".join(lines))
        return out

    def _table(self, el) -> list[str]:
        rows = []
        head_at = None
        for row in el.iter("row"):
            cells = [c for c in row if c.tag == "cell"]
            if not cells:
                continue
            texts = [_clean(" ".join(self.blocks(c))).replace("\n", " ").replace("|", "\\|") for c in cells]
            if head_at is None and any(c.get("role") == "head" for c in cells):
                head_at = len(rows)
            rows.append(texts)
        if not rows:
            return []
        width = max(len(r) for r in rows)
        lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
        at = head_at if head_at is not None else 0
        lines.insert(at + 1, "|" + "---|" * width)
        return ["\n".join(lines)]

    def write(self, body) -> str:
        self._verbatim = []
        text = "\n\n".join(b for b in _drop_empty_sections(self.blocks(body)) if b.strip()
                           and not NETWORK_BANNER.search(b))
        return _VERBATIM.sub(lambda m: self._verbatim[int(m.group(1))], text)


_HEADING = re.compile(r"^(#{1,6}) ")


def _drop_empty_sections(blocks: list[str]) -> list[str]:
    """A heading followed directly by a heading of the same or a higher level (or by the end)
    heads nothing once its contents were dropped (a "Contents" heading without its list)."""
    blocks = [b for b in blocks if b.strip()]
    out = []
    for i, b in enumerate(blocks):
        m = _HEADING.match(b)
        if m:
            nxt = _HEADING.match(blocks[i + 1]) if i + 1 < len(blocks) else None
            if i + 1 == len(blocks) or (nxt is not None and len(nxt.group(1)) <= len(m.group(1))):
                continue
        out.append(b)
    return out


def _split_ws(text: str) -> tuple[str, str, str]:
    core = text.strip()
    if not core:
        return text, "", ""
    start = text.index(core)
    return text[:start], core, text[start + len(core):]


def _clean(text: str) -> str:
    """Whitespace of running text: runs of spaces to one, spaces around line breaks dropped.
    Code tokens' contents are left alone (the text inside them is restored from the originals)."""
    return _NL_WS.sub("\n", _WS.sub(" ", text)).strip()
