"""MathML → LaTeX, for pages whose `<math>` carries neither `alttext` nor a TeX annotation.

Walks presentation MathML (mi, mo, mfrac, msubsup, mtable, …) and writes the LaTeX a person
would type; unknown elements pass their children through so nothing is silently dropped.
Works on lxml elements from the HTML parser (tags may carry a namespace or an `m:` prefix).
"""

from __future__ import annotations

import re

SYMBOLS = {
    # Greek
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\epsilon", "ϵ": r"\epsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ϑ": r"\vartheta", "ι": r"\iota", "κ": r"\kappa",
    "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi", "ϖ": r"\varpi", "ρ": r"\rho",
    "ϱ": r"\varrho", "σ": r"\sigma", "ς": r"\varsigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\phi",
    "ϕ": r"\phi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta",
    "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma", "Υ": r"\Upsilon",
    "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega",
    # relations and operators
    "≠": r"\neq", "≤": r"\leq", "≥": r"\geq", "≪": r"\ll", "≫": r"\gg", "±": r"\pm", "∓": r"\mp",
    "×": r"\times", "÷": r"\div", "·": r"\cdot", "⋅": r"\cdot", "∗": "*", "−": "-", "∞": r"\infty",
    "∈": r"\in", "∉": r"\notin", "∋": r"\ni", "⊂": r"\subset", "⊆": r"\subseteq", "⊃": r"\supset",
    "⊇": r"\supseteq", "∪": r"\cup", "∩": r"\cap", "∅": r"\emptyset", "∀": r"\forall", "∃": r"\exists",
    "¬": r"\neg", "∧": r"\wedge", "∨": r"\vee", "→": r"\to", "←": r"\leftarrow", "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow", "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow", "↦": r"\mapsto", "∑": r"\sum",
    "∏": r"\prod", "∐": r"\coprod", "∫": r"\int", "∬": r"\iint", "∭": r"\iiint", "∮": r"\oint",
    "∂": r"\partial", "∇": r"\nabla", "√": r"\surd", "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim",
    "≃": r"\simeq", "≅": r"\cong", "∝": r"\propto", "⟨": r"\langle", "⟩": r"\rangle", "〈": r"\langle",
    "〉": r"\rangle", "‖": r"\|", "∥": r"\parallel", "⊥": r"\perp", "…": r"\ldots", "⋯": r"\cdots",
    "⋮": r"\vdots", "⋱": r"\ddots", "′": "'", "″": "''", "∘": r"\circ", "⊕": r"\oplus", "⊗": r"\otimes",
    "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}",
    "ℏ": r"\hbar", "ℓ": r"\ell", "∣": "|", "°": r"^\circ", "⌊": r"\lfloor", "⌋": r"\rfloor",
    "⌈": r"\lceil", "⌉": r"\rceil", "∖": r"\setminus", "⊢": r"\vdash", "⊨": r"\models", "†": r"\dagger",
    "ℵ": r"\aleph", "∠": r"\angle", "△": r"\triangle", "□": r"\square", "⟶": r"\longrightarrow",
    "⟹": r"\Longrightarrow", "↑": r"\uparrow", "↓": r"\downarrow", "≺": r"\prec", "≻": r"\succ",
    "%": r"\%", "#": r"\#", "&": r"\&", "{": r"\{", "}": r"\}", "$": r"\$", "_": r"\_",
    "\u2061": "", "\u2062": "", "\u2063": ",", "\u2064": "+", "\u00a0": " ", "\u200b": "",
}
FUNCTIONS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "coth", "log", "ln", "lg", "exp", "lim", "liminf", "limsup", "max", "min", "sup", "inf", "det",
    "dim", "ker", "deg", "gcd", "arg", "Pr", "hom",
}
BIG_OPERATORS = {r"\sum", r"\prod", r"\coprod", r"\int", r"\iint", r"\iiint", r"\oint", r"\lim", r"\max",
                 r"\min", r"\sup", r"\inf", r"\bigcup", r"\bigcap", r"\limsup", r"\liminf", r"\det", r"\gcd"}
ACCENTS = {
    "^": r"\hat", "ˆ": r"\hat", "\u0302": r"\hat", "~": r"\tilde", "˜": r"\tilde", "\u0303": r"\tilde",
    "¯": r"\bar", "\u0304": r"\bar", "‾": r"\overline", "―": r"\overline", "→": r"\vec", "⃗": r"\vec",
    "˙": r"\dot", "\u0307": r"\dot", "¨": r"\ddot", "\u0308": r"\ddot", "⏞": r"\overbrace", "︷": r"\overbrace",
    "ˇ": r"\check", "˘": r"\breve", "←": r"\overleftarrow", "↔": r"\overleftrightarrow",
}
UNDER_ACCENTS = {"_": r"\underline", "\u0332": r"\underline", "‾": r"\underline", "¯": r"\underline",
                 "⏟": r"\underbrace", "︸": r"\underbrace"}
VARIANTS = {"double-struck": r"\mathbb", "bold": r"\mathbf", "fraktur": r"\mathfrak", "script": r"\mathcal",
            "bold-italic": r"\boldsymbol", "sans-serif": r"\mathsf", "monospace": r"\mathtt", "normal": r"\mathrm"}
_CMD_END = re.compile(r"\\[A-Za-z]+$")
_WS = re.compile(r"\s+")


def local_name(el) -> str:
    """Tag name without namespace or prefix, lower-case; '' for comments and PIs."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].split(":")[-1].lower()


def _join(parts) -> str:
    out = ""
    for p in parts:
        if not p:
            continue
        if out and _CMD_END.search(out) and (p[0].isalnum()):
            out += " "
        out += p
    return out


def _sym(text: str) -> str:
    return _join(SYMBOLS.get(ch, ch) for ch in text)


def _text(el) -> str:
    return _WS.sub(" ", "".join(el.itertext())).strip()


def _group(s: str) -> str:
    return s if len(s) == 1 or (s.startswith("\\") and _CMD_END.fullmatch(s)) else "{" + s + "}"


def _children(el):
    return [c for c in el if local_name(c) and local_name(c) not in ("annotation", "annotation-xml", "none")]


def _args(el, n):
    kids = _children(el)
    kids += [None] * (n - len(kids))
    return [convert(k) if k is not None else "" for k in kids[:n]]


def tex_annotation(math_el) -> str | None:
    """The TeX carried by a `<semantics>` annotation, if any."""
    for el in math_el.iter():
        if local_name(el) == "annotation" and "tex" in (el.get("encoding") or "").lower():
            text = (el.text or "").strip()
            if text:
                return text
    return None


def convert(el) -> str:
    """LaTeX for one MathML element (recursive)."""
    name = local_name(el)
    if name in ("mi", "mn", "mo", "mtext", "ms"):
        text = _text(el)
        if name == "mi":
            if text in FUNCTIONS:
                return "\\" + text
            variant = VARIANTS.get(el.get("mathvariant", ""))
            if len(text) > 1 and all(ch.isalpha() and ch.isascii() for ch in text):
                return r"\mathrm{" + text + "}" if variant is None else variant + "{" + text + "}"
            body = _sym(text)
            return variant + "{" + body + "}" if variant and variant != r"\mathrm" else body
        if name == "mo":
            if text in FUNCTIONS:
                return "\\" + text
            return _sym(text)
        if name == "mn":
            return _sym(text)
        if not text.strip():
            return r"\ "
        return r"\text{" + text + "}"
    if name == "mspace":
        return " "
    if name in ("msup", "msub"):
        base, script = _args(el, 2)
        return _group(base) + ("^" if name == "msup" else "_") + "{" + script + "}"
    if name == "msubsup":
        base, sub, sup = _args(el, 3)
        return _group(base) + "_{" + sub + "}^{" + sup + "}"
    if name == "mfrac":
        num, den = _args(el, 2)
        if el.get("linethickness") in ("0", "0px", "0em"):
            return r"\binom{" + num + "}{" + den + "}"
        return r"\frac{" + num + "}{" + den + "}"
    if name == "msqrt":
        return r"\sqrt{" + _join(convert(c) for c in _children(el)) + "}"
    if name == "mroot":
        base, index = _args(el, 2)
        return r"\sqrt[" + index + "]{" + base + "}"
    if name in ("mover", "munder", "munderover"):
        kids = _children(el)
        base = convert(kids[0]) if kids else ""
        if name == "munderover":
            under, over = _args(el, 3)[1:]
            return _group(base) + "_{" + under + "}^{" + over + "}"
        script_el = kids[1] if len(kids) > 1 else None
        script_text = _text(script_el) if script_el is not None else ""
        script = convert(script_el) if script_el is not None else ""
        if name == "mover":
            if script_text in ACCENTS:
                return ACCENTS[script_text] + "{" + base + "}"
            if base in BIG_OPERATORS:
                return base + "^{" + script + "}"
            return r"\overset{" + script + "}{" + base + "}"
        if script_text in UNDER_ACCENTS:
            return UNDER_ACCENTS[script_text] + "{" + base + "}"
        if base in BIG_OPERATORS or base.startswith(r"\lim"):
            return base + "_{" + script + "}"
        return r"\underset{" + script + "}{" + base + "}"
    if name == "mtable":
        rows = []
        for row in _children(el):
            cells = [convert(c) for c in _children(row)] if local_name(row) in ("mtr", "mlabeledtr") else [convert(row)]
            if local_name(row) == "mlabeledtr" and cells:
                cells = cells[1:]
            rows.append(" & ".join(cells))
        return r"\begin{matrix}" + r" \\ ".join(rows) + r"\end{matrix}"
    if name == "mfenced":
        open_, close = el.get("open", "("), el.get("close", ")")
        seps = (el.get("separators", ",") or "").split() or [""]
        inner = [convert(c) for c in _children(el)]
        body = ""
        for i, part in enumerate(inner):
            body += part
            if i < len(inner) - 1:
                body += seps[min(i, len(seps) - 1)] if "".join(seps) else ""
        return r"\left" + (_sym(open_) or ".") + " " + body + r" \right" + (_sym(close) or ".")
    if name == "menclose":
        inner = _join(convert(c) for c in _children(el))
        notation = el.get("notation", "longdiv")
        if "box" in notation or "roundedbox" in notation:
            return r"\boxed{" + inner + "}"
        if "strike" in notation:
            return r"\cancel{" + inner + "}"
        return inner
    if name == "mmultiscripts":
        kids = _children(el)
        out, pre, post, is_pre = convert(kids[0]) if kids else "", [], [], False
        for k in kids[1:]:
            if local_name(k) == "mprescripts":
                is_pre = True
                continue
            (pre if is_pre else post).append(convert(k))
        for i in range(0, len(post) - 1, 2):
            out = _group(out) + "_{" + post[i] + "}^{" + post[i + 1] + "}"
        if pre:
            out = "{}_{" + pre[0] + "}^{" + (pre[1] if len(pre) > 1 else "") + "}" + out
        return out
    if name in ("mphantom",):
        return ""
    if name == "maction":
        kids = _children(el)
        return convert(kids[0]) if kids else ""
    if name == "semantics":
        kids = _children(el)
        return convert(kids[0]) if kids else ""
    if name in ("annotation", "annotation-xml"):
        return ""
    # math, mrow, mstyle, mpadded, merror, and anything unknown: children in order
    variant = VARIANTS.get(el.get("mathvariant", "")) if name == "mstyle" else None
    body = _join(convert(c) for c in _children(el))
    if not _children(el) and (el.text or "").strip():
        body = _sym(_text(el))
    return variant + "{" + body + "}" if variant and variant != r"\mathrm" else body


def mathml_to_latex(math_el) -> str:
    """LaTeX for a `<math>` element: its `alttext`, else a TeX annotation, else a conversion."""
    alt = (math_el.get("alttext") or "").strip()
    if alt:
        return alt
    ann = tex_annotation(math_el)
    if ann:
        return ann
    return re.sub(r" {2,}", " ", convert(math_el)).strip()
