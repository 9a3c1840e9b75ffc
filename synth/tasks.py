"""Synthesis tasks over plain values: problem records → prompts → verified Documents.

Seed problem records (one JSON object per line):

    {"id": "math-001", "kind": "math", "question": "Compute 1/2 + 1/4.", "answer": "3/4"}
    {"id": "code-001", "kind": "code", "question": "Write add(a, b) ...", "entry_point": "add",
     "tests": ["assert add(1, 2) == 3"]}
    {"id": "code-002", "kind": "code", "question": "Read a and b, print a + b.",
     "tests": [{"stdin": "1 2\n", "stdout": "3\n"}]}

``id`` is optional (default: a hash of file and line); ``problem`` is accepted for ``question``;
``answer`` may be a number; other fields are kept in the provenance. A math problem needs an
``answer`` and a code problem a non-empty list of ``tests``, else it is rejected as
``synth:unverifiable``. A test is an assert line (judged as a function call's value) or a
``{"stdin", "stdout"}`` pair (``input``/``output`` accepted; the program's standard output must
match, CodeContests style); every test is judged on its own, so each has a pass rate.

Two tasks: ``solve`` (a seed problem → k step-by-step solutions, each verified against the
answer or the tests) and ``rewrite`` (a math/code web Document → a question with a worked
answer). A rewrite keeps its source's reference and is verified against it exactly as a
solution is: a math rewrite's final answer must equal the source's answer, a code rewrite's
code must pass the source's tests in the sandbox. The reference comes from the Document's
meta (``problem.answer``/``answer``; ``problem.tests``/``tests`` with ``entry_point``) or its
text (the last ``\\boxed{}`` or "Answer:" line; the top-level ``assert`` statements of its
Python). A source without one is rejected as ``synth:unverifiable`` before any generation.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from typing import Any

from curate.errors import Reject
from curate.io import files
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
        tests = [_test(t) for t in tests] if isinstance(tests, list) else None
        if not tests or not all(tests):
            raise Reject("synth:unverifiable", f"{where}: code problem without a list of tests "
                                               "(assert lines or {\"stdin\", \"stdout\"} pairs)")
        ep = obj.get("entry_point")
        if ep is not None and (not isinstance(ep, str) or not ep.isidentifier()):
            raise Reject("synth:bad_problem", f"{where}: entry_point {ep!r} is not an identifier")
        prob["tests"], prob["entry_point"] = list(tests), ep
    return prob


def _test(t: Any) -> str | dict[str, str] | None:
    """One test as given → an assert line or a {"stdin", "stdout"} pair; None when it is neither."""
    if isinstance(t, str):
        return t if t.strip() else None
    if isinstance(t, dict):
        stdin, stdout = t.get("stdin", t.get("input")), t.get("stdout", t.get("output"))
        if isinstance(stdin, str) and isinstance(stdout, str):
            return {"stdin": stdin, "stdout": stdout}
    return None


def sandbox_tests(tests: list) -> list:
    """A task's tests as the sandbox's test records, one per test, in order."""
    from curate.synth import sandbox

    return [sandbox.tests_from_asserts([t])[0] if isinstance(t, str) else sandbox.IOTest(t["stdin"], t["stdout"])
            for t in tests]


def estimated_tokens(text: str) -> int:
    """Tokens of a text as the rewrite budget counts them: characters / 4, rounded up (no tokenizer pass)."""
    return (len(text) + 3) // 4


def choose_rewrites(items: list[tuple[str, str | None, int]], domains: list[str], max_tokens: int | None,
                    seed: int) -> set[str]:
    """Ids of the (id, domain, tokens) items to rewrite: those of ``domains``, in a seeded order,
    each taken while it fits the ``max_tokens`` budget (all of them when it is None)."""
    import hashlib

    cands = sorted((hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest(), i, t)
                   for i, d, t in items if d in domains)
    out, total = set(), 0
    for _, i, t in cands:
        if max_tokens is None or total + t <= max_tokens:
            out.add(i)
            total += t
    return out


def select_for_rewrite(docs: list[dict[str, Any]], domains: list[str], max_tokens: int | None, seed: int
                       ) -> list[dict[str, Any]]:
    """The Documents ``choose_rewrites`` takes, by id."""
    ids = choose_rewrites([(d["id"], d.get("domain"), estimated_tokens(d.get("text") or "")) for d in docs],
                          domains, max_tokens, seed)
    return sorted((d for d in docs if d["id"] in ids), key=lambda d: d["id"])


def rewrite_task(doc: dict[str, Any], domains: list[str], max_chars: int, keep_unverified: bool = False) -> dict[str, Any]:
    """A pool Document → a rewrite task carrying the source's reference answer (math) or tests
    (code); Reject(synth:not_rewritable) outside ``domains``, Reject(synth:unverifiable) when the
    source has no reference to verify a rewrite against (with ``keep_unverified``: a task marked
    ``unverified``, whose rewrites are kept and labelled so)."""
    from curate.synth import verify_math

    domain = doc.get("domain")
    if domain not in domains or domain not in KINDS:
        raise Reject("synth:not_rewritable", f"domain {domain!r} not in {domains}")
    text = (doc.get("text") or "").strip()
    if not text:
        raise Reject("synth:not_rewritable", "empty text")
    excerpt = text[:max_chars]
    meta = _meta(doc)
    ref = meta.get("problem") if isinstance(meta.get("problem"), dict) else meta
    task = {"task": "rewrite", "id": doc["id"], "kind": domain, "question": "", "text": excerpt,
            "uri": doc.get("uri") or "", "answer": None, "tests": [], "entry_point": None,
            "extra": {"source_doc": doc["id"], "source": doc.get("source")}}
    if domain == "math":
        ans = ref.get("answer")
        if isinstance(ans, bool) or not isinstance(ans, (str, int, float)) or not str(ans).strip():
            ans = verify_math.reference_answer(excerpt)
        if ans is None:
            if keep_unverified:
                return {**task, "unverified": True}
            raise Reject("synth:unverifiable", "math source without a reference answer (meta answer, \\boxed{} or 'Answer:' line)")
        task["answer"] = str(ans).strip()
        return task
    tests, ep = ref.get("tests"), ref.get("entry_point")
    tests = [_test(t) for t in tests] if isinstance(tests, list) else None
    if tests and all(tests):
        task["tests"] = tests
        task["entry_point"] = ep if isinstance(ep, str) and ep.isidentifier() else None
    else:
        task["tests"] = source_asserts(excerpt)
    if not task["tests"]:
        if keep_unverified:
            return {**task, "unverified": True}
        raise Reject("synth:unverifiable", "code source without tests (meta tests or assert statements)")
    return task


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return {}
    return meta if isinstance(meta, dict) else {}


def source_asserts(text: str) -> list[str]:
    """The top-level ``assert`` statements of a source's Python (its fenced blocks, else the whole
    text when it parses): the tests a rewrite of it must pass."""
    blocks = [b for b in _CODE_BLOCK.findall(text) if b.strip()] or [text]
    out: list[str] = []
    for block in blocks:
        try:
            tree = ast.parse(block)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        out += [ast.unparse(node) for node in tree.body if isinstance(node, ast.Assert)]
    return out


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
    """('' or a reject reason, detail) for one generation; ``limits`` is a SandboxLimits.

    A rewrite is checked as a solution of its source: its answer part against the source's
    reference answer (math) or tests (code); without a reference it is ``synth:unverifiable``."""
    if task["task"] == "rewrite":
        verifier = f"rewrite_{task['kind']}"
        has_ref = task.get("answer") if task["kind"] == "math" else task.get("tests")
        if not has_ref and not task.get("unverified"):
            return "synth:unverifiable", {"verifier": verifier, "why": "the source has no reference answer or tests"}
        parts = split_rewrite(generation)
        if parts is None:
            return "synth:unverified", {"verifier": verifier, "why": "no 'Question … Answer:' structure"}
        if not has_ref:
            return "", {"verifier": verifier, "verified": False, "why": "the source has no reference answer or tests"}
        reason, detail = _verify_solution(task, parts[1], limits)
        return reason, {**detail, "verifier": verifier, "verified": not reason}
    return _verify_solution(task, generation, limits)


def _verify_solution(task: dict[str, Any], generation: str, limits) -> tuple[str, dict[str, Any]]:
    from curate.synth import sandbox, verify_math

    if task["kind"] == "math":
        status, reason, detail = verify_math.check_solution(generation, task["answer"])
        return reason, {"verifier": "math", **detail}
    code = extract_code(generation, task.get("entry_point"))
    if code is None:
        return "synth:unverified", {"verifier": "code", "why": "no Python code found"}
    res = sandbox.run_cases(code, sandbox_tests(task["tests"]), None, limits)
    detail = {"verifier": "code", "status": res.status, "code_error": res.code_error,
              "tests": [{"test": t.test, "passed": t.passed, "error": t.error} for t in res.tests],
              "isolation": res.isolation}
    return ("" if res.passed else "synth:tests_failed"), detail


TEXT_TEMPLATES = ("reasoning_answer", "answer")


def document_text(task: dict[str, Any], generation: str, reasoning: str = "", template: str = "reasoning_answer") -> str:
    """The training text of a sample. With reasoning apart from the answer and template
    ``reasoning_answer``, the reasoning comes first in ``<think>…</think>``; ``answer`` drops it."""
    if template not in TEXT_TEMPLATES:
        raise ValueError(f"text template {template!r}: expected one of {', '.join(TEXT_TEMPLATES)}")
    body = generation.strip()
    if reasoning.strip() and template == "reasoning_answer":
        body = f"<think>\n{reasoning.strip()}\n</think>\n\n{body}"
    if task["task"] == "rewrite":
        return "Question: " + body
    return f"Question: {task['question']}\n\nAnswer: {body}"


def make_document(task: dict[str, Any], sample: int, generation: str, provenance: dict[str, Any],
                  source_prefix: str, scores: dict[str, float], reasoning: str = "",
                  template: str = "reasoning_answer") -> dict[str, Any]:
    """A verified generation as a Document (format=synthetic, provenance in meta)."""
    source = f"{source_prefix}-{task['kind']}"
    return new_document(
        source=source, uri=task["uri"], format="synthetic", text=document_text(task, generation, reasoning, template),
        offset=f"{task['task']}:{task['id']}:{sample}", extractor=f"synth:{task['task']}",
        domain=task["kind"], scores=scores, meta=provenance,
    )


# ---------------------------------------------------------------- inputs of the synth steps

MAX_LINE = 1 << 20  # bytes of one problem-file line; a longer line is a reject


def read_problem_lines(path: str):
    """Each non-empty line of a problems JSONL file as ``{"_path", "_line", "_raw"}``; ``_path``
    is the file's name, not where it lives, so problem ids are the same wherever it is."""
    name = posixpath.basename(path)
    with files.open_read(path, limit=4_000_000_000) as f:
        for n, line in files.iter_lines(f, MAX_LINE):
            if line is None:
                yield {"_path": name, "_line": n, "_raw": None, "_error": f"line over {MAX_LINE} bytes"}
            elif line.strip():
                yield {"_path": name, "_line": n, "_raw": line.decode("utf-8", "replace")}


def input_as_doc(rec: dict[str, Any]) -> dict[str, Any]:
    """A synth input (problem-file line, problem dict or Document) as a Document, for its reject."""
    if "_path" in rec:
        uri = f"{rec['_path']}#{rec['_line']}"
        return {"id": doc_id("problems", rec["_path"], rec["_line"]), "source": "problems", "uri": uri,
                "format": None, "text": rec.get("_raw") or "", "meta": "{}"}
    if "format" in rec and "text" in rec:
        return rec
    pid = str(rec.get("id") or doc_id("problems", "", json.dumps(rec, sort_keys=True, default=str)))
    return {"id": pid, "source": "problems", "uri": str(rec.get("uri") or pid), "format": None,
            "text": str(rec.get("question") or rec.get("problem") or ""),
            "meta": json.dumps(rec, sort_keys=True, default=str)}


def task_as_doc(task: dict[str, Any], source: str = "problems") -> dict[str, Any]:
    """A task as a Document (for a reject naming it)."""
    return {"id": task["id"] if task["task"] == "solve" else doc_id(source, task["uri"], task["id"]),
            "source": source, "uri": task["uri"], "format": None, "domain": task["kind"],
            "text": task.get("question") or task.get("text") or "",
            "meta": json.dumps({k: task.get(k) for k in ("task", "kind", "answer", "tests", "entry_point", "extra")},
                               sort_keys=True, default=str)}
