"""Math answers: pull the final answer out of a solution and compare it symbolically.

Comparison goes through math-verify (LaTeX → sympy, then equivalence with numeric fallback),
so ``3/4`` = ``\\frac{3}{4}`` = ``0.75``, ``2\\sqrt{2}`` = ``\\sqrt{8}``, ``[1, 2)`` ≠ ``(1, 2)``.
Answers are wrapped in ``$…$`` before parsing so a bare ``2\\sqrt{2}`` is read as a whole
expression rather than its first number. math-verify's timeouts use SIGALRM, which works only
on the main thread; elsewhere (Beam worker threads) answers are length-capped instead.
"""

from __future__ import annotations

import re
import threading

MAX_ANSWER_CHARS = 300

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_LINE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)
_PLAIN_FIXES = [
    (re.compile(r"\*\*"), "^"),
    (re.compile(r"(?<![\\a-zA-Z])pi(?![a-zA-Z])"), r"\\pi"),
    (re.compile(r"(?<![\\a-zA-Z])infinity|(?<![\\a-zA-Z])inf(?![a-zA-Z])"), r"\\infty"),
]


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{…}`` (braces balanced), or None."""
    matches = list(_BOXED.finditer(text))
    for m in reversed(matches):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[m.end(): i - 1].strip()
    return None


def extract_final_answer(text: str) -> str | None:
    """The solution's final answer: last ``\\boxed{}``, else the last "answer is/Answer:" line."""
    boxed = last_boxed(text)
    if boxed:
        return boxed
    found = _ANSWER_LINE.findall(text)
    if not found:
        return None
    ans = found[-1].strip()
    ans = re.sub(r"^\$+|\$+$", "", ans.rstrip(". ")).strip()
    ans = re.sub(r"^\\\(|\\\)$", "", ans).strip()
    return ans or None


_REFERENCE_LINE = re.compile(r"^[ \t]*(?:\*\*)?(?:final answer|answer)(?:\*\*)?[ \t]*[:=][ \t]*(.+?)[ \t]*$",
                             re.IGNORECASE | re.MULTILINE)


def reference_answer(text: str) -> str | None:
    """A source text's own final answer, to hold a rewrite of it to: the last non-empty
    ``\\boxed{}``, else the last line that starts with "Answer:" (or "Final answer:"), and only
    when math-verify can read it; None otherwise. Looser phrasings ("the answer is …") are not
    taken from free text: a wrong reference would verify wrong rewrites."""
    ans = last_boxed(text)
    if not ans:
        found = _REFERENCE_LINE.findall(text)
        ans = found[-1] if found else None
        if ans:
            ans = re.sub(r"^\$+|\$+$", "", ans.rstrip(". ")).strip()
            ans = re.sub(r"^\\\(|\\\)$", "", ans).strip()
    if not ans or len(ans) > MAX_ANSWER_CHARS or not parse_answer(ans):
        return None
    return ans


def _timeouts() -> dict:
    main = threading.current_thread() is threading.main_thread()
    return {"parse": 5 if main else None, "verify": 5 if main else None}


def parse_answer(answer: str) -> list:
    """math-verify's parse of a bare answer string (LaTeX or plain); [] when it cannot be read."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    s = answer.strip()
    if not s or len(s) > MAX_ANSWER_CHARS:
        return []
    s = re.sub(r"^\$+|\$+$", "", s).strip()
    if "\\" not in s:
        for pat, rep in _PLAIN_FIXES:
            s = pat.sub(rep, s)
    t = _timeouts()["parse"]
    try:
        parsed = parse(f"${s}$", [LatexExtractionConfig(boxed_match_priority=0)], parsing_timeout=t)
        if not parsed:
            parsed = parse(s, [ExprExtractionConfig()], parsing_timeout=t)
    except Exception:  # noqa: BLE001 - math-verify raises a variety of parser errors
        return []
    return parsed


def answers_equivalent(gold: str, pred: str) -> bool:
    """True when ``pred`` is mathematically the same answer as ``gold``."""
    if gold.strip() == pred.strip():
        return True
    from math_verify import verify

    g, p = parse_answer(gold), parse_answer(pred)
    if not g or not p:
        return False
    try:
        return bool(verify(g, p, timeout_seconds=_timeouts()["verify"]))
    except Exception:  # noqa: BLE001
        return False


def check_solution(solution: str, gold: str) -> tuple[str, str, dict]:
    """Verdict on a solution against the reference answer: (status, reason, detail).

    status is ``verified`` or ``rejected``; reason is ``""``, ``synth:unverified`` (no final
    answer found or readable) or ``synth:wrong_answer``.
    """
    ans = extract_final_answer(solution)
    if ans is None:
        return "rejected", "synth:unverified", {"expected": gold, "extracted": None, "why": "no final answer found"}
    if not parse_answer(ans):
        return "rejected", "synth:unverified", {"expected": gold, "extracted": ans[:200], "why": "final answer unreadable"}
    if answers_equivalent(gold, ans):
        return "verified", "", {"expected": gold, "extracted": ans}
    return "rejected", "synth:wrong_answer", {"expected": gold, "extracted": ans[:200]}
