"""Code blocks in HTML: their verbatim text (line-number gutters dropped) and their language.

Handles `<pre>`, `<pre><code class="language-x">`, Pygments `highlighttable`, GitHub-style
blob tables (`td.blob-num` + `td.blob-code`), SyntaxHighlighter tables (`td.gutter` +
`div.line`), one-column tables (a `<td>` per line) inside a code-box container, and
multi-line `<code>` blocks outside `<pre>`, and any table whose structure is a line-number
gutter beside a code column (`gutter_table`: source browsers, blame views).
"""

from __future__ import annotations

import re

_LANG_CLASS = re.compile(
    r"(?:^|\s)(?:language-|lang-|highlight-source-|highlight-|brush:\s*|sourceCode\s+)([A-Za-z0-9+#_.-]+)", re.I
)
_NOT_LANG = {"none", "nohighlight", "plain", "plaintext", "text", "highlight", "hljs", "default", "notranslate",
             "code", "source", "js-file-line", "copy", "linenums", "line-numbers", "prettyprint", "wrap"}
_LINENO = re.compile(
    r"(?:^|\s)(?:linenos?|lineno|linenodiv|line-numbers?-rows|line-numbers?-gutter|gutter|hljs-ln-numbers|"
    r"react-syntax-highlighter-line-number|ln-num|blob-num|linenumber|line-number|code-line-number|"
    r"gl-line-number|diff-line-num)(?:\s|$)",
    re.I,
)
_BR = {"br"}


def language_of(*els) -> str | None:
    """Language named by a class (`language-x`, `lang-x`, `highlight-source-x`, `brush: x`) or data-lang."""
    for el in els:
        if el is None:
            continue
        for attr in ("data-lang", "data-language", "lang"):
            v = (el.get(attr) or "").strip().lower()
            if v and v not in _NOT_LANG and re.fullmatch(r"[a-z0-9+#_.-]{1,20}", v):
                return v
        cls = el.get("class") or ""
        for m in _LANG_CLASS.finditer(cls):
            v = m.group(1).lower().strip("-_.")
            if v and v not in _NOT_LANG and len(v) <= 20:
                return v
    return None


def is_line_number(el) -> bool:
    """True for gutter elements that hold line numbers rather than code."""
    cls = el.get("class")
    if cls and _LINENO.search(cls):
        return True
    return el.get("data-line-number") is not None and len(el) == 0 and (el.text or "").strip().isdigit() | (
        not (el.text or "").strip()
    )


def code_text(el) -> str:
    """Verbatim text of a code element: `<br>` as newlines, gutters and scripts skipped, nbsp as space."""
    parts: list[str] = []

    def walk(node):
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in ("script", "style", "button") or (tag and node is not el and is_line_number(node)):
            if node.tail:
                parts.append(node.tail)
            return
        if tag in _BR:
            parts.append("\n")
        elif node.text and tag:
            parts.append(node.text)
        for child in node:
            walk(child)
        if tag and tag in ("div", "p", "li") and node is not el and parts and not parts[-1].endswith("\n"):
            parts.append("\n")
        if node is not el and node.tail:
            parts.append(node.tail)

    walk(el)
    text = "".join(parts).replace("\u00a0", " ").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


_CODE_CELL = re.compile(r"(?:^|\s|-)(?:code|blob-code|blob-code-inner|source|lineContents|line-content|code-line)(?:\s|$)")
_HIGHLIGHTER = re.compile(r"syntaxhighlighter|highlight|wp_syntax|code-?block|codeblock|sourcecode", re.I)


def _cls_chain(el, depth: int = 3) -> str:
    out = []
    for _ in range(depth):
        if el is None:
            break
        out.append(el.get("class") or "")
        el = el.getparent()
    return " ".join(out)


def table_code(table) -> tuple[str, str | None] | None:
    """Code held in a highlighted table (line-number column, one row per line, or one `<pre>`
    cell), or None when the table is an ordinary table."""
    tds = list(table.iter("td"))
    if not tds or len(list(table.iter("table"))) > 1:
        return None
    gutters = [td for td in tds if is_line_number(td)]
    code_cells = [td for td in tds if td not in gutters and _CODE_CELL.search(td.get("class") or "")]
    pres = [p for p in table.iter("pre") if not any(g in p.iterancestors() for g in gutters)
            and not is_line_number(p) and not any(is_line_number(a) for a in p.iterancestors())]
    highlighted = bool(_HIGHLIGHTER.search(_cls_chain(table)))
    if len(pres) == 1 and len(tds) - len(gutters) <= 1:
        pre = pres[0]
        return code_text(pre), language_of(pre, pre.find("code"), table, table.getparent())
    if not code_cells and highlighted and not gutters and _one_column(table):
        # forum code boxes (`div.codeBlock > table`, one `<td>` per line, no line numbers)
        return "\n".join(code_text(td) for td in tds), language_of(table, table.getparent())
    if not code_cells or not (gutters or highlighted):
        return gutter_table(table)
    if len(code_cells) == 1:
        cell = code_cells[0]
        lines = [ln for ln in cell.iter() if re.search(r"(?:^|\s)line(?:\s|$)", ln.get("class") or "")]
        text = "\n".join(code_text(ln) for ln in lines) if lines else code_text(cell)
        lang = language_of(cell, table, table.getparent(), table.getparent().getparent()
                           if table.getparent() is not None else None)
    else:  # one row per line (GitHub, Gitiles)
        text = "\n".join(code_text(td) for td in code_cells)
        lang = language_of(table, table.getparent())
    return text, lang


_CODE_CHARS = re.compile(r"[(){}\[\];=<>#/\\\"'|&*+:-]|^\s{2,}\S")
_CODE_HINT = re.compile(r"code|source|blob|highlight|diff|blame|listing|lines|file|src", re.I)


def gutter_table(table) -> tuple[str, str | None] | None:
    """Code laid out as a table, recognised by its structure rather than its class names: a
    gutter column of line numbers (digits, counting up, or empty; or cells with
    `data-line-number`) directly left of the last column, which holds code. Columns before
    the gutter (a blame view's author, commit, date) are dropped. None for any other table."""
    rows = [[c for c in r if isinstance(c.tag, str) and c.tag in ("td", "th")] for r in table.iter("tr")]
    rows = [r for r in rows if r]
    if len(rows) < 2 or any(c.tag == "th" for r in rows for c in r):
        return None
    width = len(rows[0])
    if width < 2 or any(len(r) != width for r in rows):
        return None
    gutter = [r[-2] for r in rows]
    numbers = []
    for cell in gutter:
        label = (cell.get("data-line-number") or "".join(cell.itertext())).strip()
        if label and not label.isdigit():
            return None
        if label:
            numbers.append(int(label))
    if len(numbers) < max(2, len(rows) // 2) or any(b <= a for a, b in zip(numbers, numbers[1:])):
        return None
    lines = [code_text(r[-1]) for r in rows]
    hinted = bool(_CODE_HINT.search(_cls_chain(table) + " " + " ".join(r[-1].get("class") or "" for r in rows[:3])))
    codey = sum(1 for ln in lines if _CODE_CHARS.search(ln))
    if not hinted and codey < 0.3 * len(lines):
        return None
    return "\n".join(lines), language_of(table, table.getparent())


def _one_column(table) -> bool:
    """True when every row of `table` has exactly one cell (and there are two rows at least)."""
    rows = list(table.iter("tr"))
    return len(rows) >= 2 and all(sum(1 for c in r if c.tag in ("td", "th")) == 1 for r in rows)


def div_code(div) -> str | None:
    """Code laid out as one `<div>` per line inside a code-block container (no `<pre>`)."""
    if div.find(".//pre") is not None or not _HIGHLIGHTER.search(div.get("class") or ""):
        return None
    if div.find(".//code") is None:
        return None
    text = code_text(div)
    return text if "\n" in text else None
