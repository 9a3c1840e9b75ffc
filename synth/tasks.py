"""Synthesis tasks over plain values: problem records → prompts → verified Documents.

Seed problem records (one JSON object per line):

    {"id": "math-001", "kind": "math", "question": "Compute 1/2 + 1/4.", "answer": "3/4"}
    {"id": "code-001", "kind": "code", "question": "Write add(a, b) ...", "entry_point": "add",
     "tests": ["assert add(1, 2) == 3"]}

``id`` is optional (default: a hash of file and line); ``problem`` is accepted for ``question``;
``answer`` may be a number; other fields are kept in the provenance. A math problem needs an
``answer`` and a code problem a non-empty list of ``tests`` (Python statements run after the
solution), else it is rejected as ``synth:unverifiable``.

Two tasks: ``solve`` (a seed problem → k step-by-step solutions, each verified against the
answer or the tests) and ``rewrite`` (a math/code web Document → a question with a worked
answer, verified as far as it can be without a reference: a readable boxed answer for math, a
Python block whose own asserts pass in the sandbox for code).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from curate.errors import Reject
from curate.schema import doc_id, new_document

KINDS = ("math", "code")
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def parse_problem_line(line: bytes | str, path: str, lineno: int) -> dict[str, Any]:
    """One JSONL line → a normalized problem; raises Reject(synth:bad_problem|synth:unverifiable)."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as e:
        raise Reject("synth:bad_problem", f"{path}:{lineno}: not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise Reject("synth:bad_problem", f"{path}:{lineno}: not a JSON object")
    return normalize_problem(obj, path, lineno)


def normalize_problem(obj: dict[str, Any], path: str = "", lineno: int = 0) -> dict[str, Any]:
    where = f"{path}:{lineno}" if path else str(obj.get("id", "?"))
    question = obj.get("question", obj.get("problem"))
    if not isinstance(question, str) or not question.strip():
        raise Reject("synth:bad_problem", f"{where}: no question string")
    kind = obj.get("kind") or ("code" if obj.get("tests") else "math")
    if kind not in KINDS:
        raise Reject("synth:bad_problem", f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    pid = str(obj.get("id") or doc_id("problem", path, lineno))
    uri = str(obj.get("uri") or (f"{path}#{lineno}" if path else pid))
    extra = {k: v for k, v in obj.items() if k not in ("id", "kind", "question", "problem", "answer", "tests", "entry_point", "uri")}
    prob = {"task": "solve", "id": pid, "kind": kind, "question": question.strip(), "uri": uri, "answer": None,
            "tests": [], "entry_point": None, "extra": extra}
    if kind == "math":
        ans = obj.get("answer")
        if isinstance(ans, bool) or not isinstance(ans, (str, int, float)) or not str(ans).strip():
            raise Reject("synth:unverifiable", f"{where}: math problem without an answer")
        prob["answer"] = str(ans).strip()
    else:
        tests = obj.get("tests")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t.strip() for t in tests):
            raise Reject("synth:unverifiable", f"{where}: code problem without a list of test statements")
        ep = obj.get("entry_point")
        if ep is not None and (not isinstance(ep, str) or not ep.isidentifier()):
            raise Reject("synth:bad_problem", f"{where}: entry_point {ep!r} is not an identifier")
        prob["tests"], prob["entry_point"] = list(tests), ep
    return prob


def rewrite_task(doc: dict[str, Any], domains: list[str], max_chars: int) -> dict[str, Any]:
    """A pool Document → a rewrite task; Reject(synth:not_rewritable) outside ``domains``."""
    domain = doc.get("domain")
    if domain not in domains or domain not in KINDS:
        raise Reject("synth:not_rewritable", f"domain {domain!r} not in {domains}")
    text = (doc.get("text") or "").strip()
    if not text:
        raise Reject("synth:not_rewritable", "empty text")
    return {"task": "rewrite", "id": doc["id"], "kind": domain, "question": "", "text": text[:max_chars],
            "uri": doc.get("uri") or "", "answer": None, "tests": [], "entry_point": None,
            "extra": {"source_doc": doc["id"], "source": doc.get("source")}}


def template_name(task: dict[str, Any]) -> str:
    return f"{task['task']}_{task['kind']}"


def render_prompt(task: dict[str, Any], templates: dict) -> str:
    t = templates[template_name(task)]
    if task["task"] == "rewrite":
        return t.render(text=task["text"])
    return t.render(question=task["question"], entry_point=task.get("entry_point") or "the required function")


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """The solution's code: the last fenced Python block (preferring one defining entry_point),
    else the whole text when it parses as Python; None when there is none."""
    blocks = [b for b in _CODE_BLOCK.findall(text) if b.strip()]
    if entry_point:
        defining = [b for b in blocks if re.search(rf"\bdef\s+{re.escape(entry_point)}\b|\b{re.escape(entry_point)}\s*=", b)]
        blocks = defining or blocks
    if blocks:
        return blocks[-1]
    try:
        if text.strip() and len(text) < 100_000:
            ast.parse(text)
            return text
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    return None


def split_rewrite(generation: str) -> tuple[str, str] | None:
    """A rewrite's (question, answer), from "<question> Answer: <answer>"; None when malformed."""
    m = re.search(r"^\s*(?:\*\*)?Answer(?:\*\*)?\s*:", generation, re.MULTILINE | re.IGNORECASE)
    if not m:
        return None
    q, a = generation[: m.start()].strip(), generation[m.end():].strip()
    if len(q.split()) < 4 or not a:
        return None
    return q, a


def verify(task: dict[str, Any], generation: str, limits) -> tuple[str, dict[str, Any]]:
    """('' or a reject reason, detail) for one generation; ``limits`` is a SandboxLimits."""
    from curate.synth import sandbox, verify_math

    if task["task"] == "solve" and task["kind"] == "math":
        status, reason, detail = verify_math.check_solution(generation, task["answer"])
        return reason, {"verifier": "math", **detail}
    if task["task"] == "solve":
        code = extract_code(generation, task.get("entry_point"))
        if code is None:
            return "synth:unverified", {"verifier": "code", "why": "no Python code found"}
        res = sandbox.run_tests(code, task["tests"], limits)
        detail = {"verifier": "code", "status": res.status, "code_error": res.code_error,
                  "tests": [{"test": t.test, "passed": t.passed, "error": t.error} for t in res.tests],
                  "isolation": res.isolation}
        return ("" if res.passed else "synth:tests_failed"), detail
    parts = split_rewrite(generation)
    if parts is None:
        return "synth:unverified", {"verifier": f"rewrite_{task['kind']}", "why": "no 'Question … Answer:' structure"}
    q, a = parts
    if task["kind"] == "math":
        ans = verify_math.extract_final_answer(a)
        if ans is None or not verify_math.parse_answer(ans):
            return "synth:unverified", {"verifier": "rewrite_math", "why": "no readable final answer", "extracted": ans}
        return "", {"verifier": "rewrite_math", "extracted": ans}
    code = extract_code(a)
    if code is None or "assert" not in code:
        return "synth:unverified", {"verifier": "rewrite_code", "why": "no Python block with asserts"}
    res = sandbox.run_tests(code, [], limits)
    detail = {"verifier": "rewrite_code", "status": res.status, "code_error": res.code_error, "isolation": res.isolation}
    return ("" if res.passed else "synth:tests_failed"), detail


def document_text(task: dict[str, Any], generation: str) -> str:
    if task["task"] == "rewrite":
        return "Question: " + generation.strip()
    return f"Question: {task['question']}\n\nAnswer: {generation.strip()}"


def make_document(task: dict[str, Any], sample: int, generation: str, provenance: dict[str, Any],
                  source_prefix: str, scores: dict[str, float]) -> dict[str, Any]:
    """A verified generation as a Document (format=synthetic, provenance in meta)."""
    source = f"{source_prefix}-{task['kind']}"
    return new_document(
        source=source, uri=task["uri"], format="synthetic", text=document_text(task, generation),
        offset=f"{task['task']}:{task['id']}:{sample}", extractor=f"synth:{task['task']}",
        domain=task["kind"], scores=scores, meta=provenance,
    )
