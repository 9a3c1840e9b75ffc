"""Rewrite verifiers check the answer, and `curate synth` end to end against a recorded server.

The server is a small OpenAI-compatible ``/v1/chat/completions`` endpoint on 127.0.0.1 that
answers each prompt with a recorded completion chosen by a marker in the prompt: some right,
some wrong, one hostile. The test asserts exactly which documents are kept and which are
rejected with which reason. Code cases run only where the sandbox works on this host.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from http.server import ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from curate.errors import Reject
from curate.io.doc_shards import list_shards, read_shard
from curate.schema import new_document
from curate.synth import tasks
from curate.synth.sandbox import SandboxLimits
from curate.synth.serve import CompletionHandler
from mixhelp import commit_pool

LIM = SandboxLimits(cpu_s=3, wall_s=10, test_timeout_s=2)
DOMAINS = ["math", "code"]

ADD_SOURCE = ("A helper that adds two numbers.\n```python\ndef add(a, b):\n    return a + b\n\n"
              "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n```\n")


@lru_cache(maxsize=1)
def sandbox_works() -> bool:
    try:
        return tasks.verify(tasks.normalize_problem({"id": "probe", "kind": "code", "question": "f", "entry_point": "f",
                                                     "tests": ["assert f() == 1"]}),
                            "```python\ndef f():\n    return 1\n```", LIM)[0] == ""
    except Exception:  # noqa: BLE001 - no working sandbox here: the code cases are left out
        return False


needs_sandbox = pytest.mark.skipif(not sandbox_works(), reason="the code sandbox does not work on this host")


def _doc(uri, domain, text, meta=None):
    return new_document(source="web", uri=uri, format="text", text=text, domain=domain, meta=meta)


# ------------------------------------------------------------------ the verifiers, one by one


def test_a_math_rewrite_keeps_the_source_answer_and_is_verified_only_when_it_equals_it():
    task = tasks.rewrite_task(_doc("u1", "math", "Two plus two is four: $2 + 2 = \\boxed{4}$."), DOMAINS, 1000)
    assert tasks.verify(task, "What is two plus two?\nAnswer: \\boxed{5}", LIM)[0] == "synth:wrong_answer"
    assert task["answer"] == "4"
    reason, detail = tasks.verify(task, "What is two plus two?\nAnswer: $2+2=\\boxed{4}$", LIM)
    assert reason == "" and detail["verifier"] == "rewrite_math" and detail["expected"] == "4"
    assert tasks.verify(task, "What is two plus two?\nAnswer: it is two squared.", LIM)[0] == "synth:unverified"
    assert tasks.verify(task, "rambling without structure", LIM)[0] == "synth:unverified"


def test_the_math_reference_comes_from_meta_or_an_answer_line():
    meta = {"problem": {"answer": "3/4"}}
    task = tasks.rewrite_task(_doc("u2", "math", "Adding a half and a quarter.", meta), DOMAINS, 1000)
    assert task["answer"] == "3/4"
    assert tasks.verify(task, "What is one half plus one quarter?\nAnswer: \\boxed{0.75}", LIM)[0] == ""
    line = tasks.rewrite_task(_doc("u3", "math", "Sum of the first ten odd numbers.\nAnswer: 100\n"), DOMAINS, 1000)
    assert line["answer"] == "100"


@pytest.mark.parametrize("text", ["Integration by parts is a useful technique.",
                                  "The answer is not obvious, is it?", "Let $x$ be large; then \\boxed{} holds."])
def test_a_math_source_without_a_reference_answer_is_unverifiable(text):
    with pytest.raises(Reject) as e:
        tasks.rewrite_task(_doc("u4", "math", text), DOMAINS, 1000)
    assert e.value.reason == "synth:unverifiable"


def test_a_rewrite_task_without_a_reference_is_never_verified():
    task = {"task": "rewrite", "id": "x", "kind": "math", "question": "", "text": "t", "uri": "u", "answer": None,
            "tests": [], "entry_point": None, "extra": {}}
    assert tasks.verify(task, "What is two plus two?\nAnswer: \\boxed{4}", LIM)[0] == "synth:unverifiable"
    code = {**task, "kind": "code"}
    assert tasks.verify(code, "Write f please, returning one.\nAnswer:\n```python\nassert True\n```", LIM)[0] == "synth:unverifiable"


def test_a_code_source_without_tests_is_unverifiable():
    with pytest.raises(Reject) as e:
        tasks.rewrite_task(_doc("u5", "code", "```python\ndef f(x):\n    return x\n```"), DOMAINS, 1000)
    assert e.value.reason == "synth:unverifiable"


def test_code_tests_come_from_the_source_text_or_meta():
    task = tasks.rewrite_task(_doc("u6", "code", ADD_SOURCE), DOMAINS, 1000)
    assert task["tests"] == ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
    meta = {"problem": {"tests": ["assert sq(3) == 9"], "entry_point": "sq"}}
    task = tasks.rewrite_task(_doc("u7", "code", "Squaring numbers in Python.", meta), DOMAINS, 1000)
    assert task["tests"] == ["assert sq(3) == 9"] and task["entry_point"] == "sq"


@needs_sandbox
def test_a_code_rewrite_is_verified_only_when_it_passes_the_source_tests():
    task = tasks.rewrite_task(_doc("u8", "code", ADD_SOURCE), DOMAINS, 1000)
    fake = "Write a program that prints one.\nAnswer:\n```python\nprint(1)  # assert\n```"
    assert tasks.verify(task, fake, LIM)[0] == "synth:tests_failed"
    own_asserts_only = "Write sq(x) returning x squared, please.\nAnswer:\n```python\ndef sq(x):\n    return x * x\nassert sq(3) == 9\n```"
    assert tasks.verify(task, own_asserts_only, LIM)[0] == "synth:tests_failed"
    good = "Write add(a, b) returning the sum of a and b.\nAnswer:\n```python\ndef add(a, b):\n    return a + b\n```"
    reason, detail = tasks.verify(task, good, LIM)
    assert reason == "" and detail["verifier"] == "rewrite_code"


# ------------------------------------------------------------------ `curate synth` end to end

# marker in the prompt → recorded completion
RIGHT_SUM = "We add 17 and 25 to get 42, so the answer is \\boxed{42}."
WRONG_SUM = "Six times seven is 42, so the answer is \\boxed{42}."
RW_MATH_RIGHT = "What is the sum of the first four positive odd integers?\nAnswer: 1 + 3 + 5 + 7 = \\boxed{16}."
RW_MATH_WRONG = "What is two plus two?\nAnswer: \\boxed{5}"
RW_MATH_RAMBLE = "I would rather talk about the weather today."
RIGHT_MUL = "Multiply.\n```python\ndef mul(a, b):\n    return a * b\n```"
RW_CODE_RIGHT = ("Write a function add(a, b) that returns the sum of a and b.\nAnswer:\n```python\n"
                 "def add(a, b):\n    return a + b\n\nassert add(2, 2) == 4\n```")
RW_CODE_FAKE = "Write a program that prints the number one.\nAnswer:\n```python\nprint(1)  # assert\n```"


def _hostile(marker: str) -> str:
    return ("Write a function sub(a, b) that returns a minus b.\nAnswer:\n```python\nimport os\n"
            "def sub(a, b):\n    return a - b\n"
            f"with open({marker!r}, 'w') as f:\n    f.write('escaped')\n"
            "os._exit(0)\n```")


class _Recorded(CompletionHandler):
    """curate's own completion server handler (its JSON replies), answering from recordings."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        prompt = body["messages"][0]["content"]
        srv = self.server
        hits = [text for marker, text in srv.answers.items() if marker in prompt]
        with srv.lock:
            srv.prompts.append(prompt)
        if self.path != "/v1/chat/completions" or len(hits) != 1:
            with srv.lock:
                srv.unmatched.append(prompt)
            self._send(400, {"error": {"message": "no recorded completion for this prompt"}})
            return
        n = int(body.get("n") or 1)
        self._send(200, {"id": "rec", "object": "chat.completion", "model": body.get("model"),
                         "choices": [{"index": i, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": hits[0]}} for i in range(n)]})

def _serve(answers):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    srv.answers, srv.prompts, srv.unmatched, srv.lock = answers, [], [], threading.Lock()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _pool(directory, docs):
    (directory / "docs").mkdir(parents=True)
    commit_pool(str(directory), docs)  # committed by the step runner, as a step output is
    return directory


def _rows(directory):
    return [r for p in list_shards(str(directory)) for r in read_shard(p)]


def test_curate_synth_keeps_exactly_the_verified_documents(tmp_path, monkeypatch):
    from curate.cli import cli

    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    code = sandbox_works()
    marker = tmp_path / "escaped.txt"
    problems = [
        ({"id": "m-right", "uri": "p://m-right", "kind": "math", "question": "PROB-A: What is 17 + 25?", "answer": 42},
         "PROB-A", RIGHT_SUM, None),
        ({"id": "m-wrong", "uri": "p://m-wrong", "kind": "math", "question": "PROB-B: What is 6 times 7 plus 1?", "answer": 43},
         "PROB-B", WRONG_SUM, "synth:wrong_answer"),
        ({"id": "m-none", "uri": "p://m-none", "kind": "math", "question": "PROB-C: What is it?"},
         "PROB-C", RIGHT_SUM, "synth:unverifiable"),
    ]
    pool_docs = [
        (_doc("w://rw-right", "math", "POOL-A: The first four odd numbers add up to a square: $1+3+5+7 = \\boxed{16}$."),
         "POOL-A", RW_MATH_RIGHT, None),
        (_doc("w://rw-wrong", "math", "POOL-B: Two plus two is four, $2 + 2 = \\boxed{4}$."),
         "POOL-B", RW_MATH_WRONG, "synth:wrong_answer"),
        (_doc("w://rw-ramble", "math", "POOL-C: Three times three is nine.\nAnswer: 9"),
         "POOL-C", RW_MATH_RAMBLE, "synth:unverified"),
        (_doc("w://rw-noref", "math", "POOL-D: Integration by parts is a technique worth knowing well."),
         "POOL-D", RW_MATH_RIGHT, "synth:unverifiable"),
        (_doc("w://rw-general", "general", "POOL-E: The town library opens at nine."),
         "POOL-E", RW_MATH_RIGHT, "synth:not_rewritable"),
    ]
    if code:
        problems.append(
            ({"id": "c-right", "uri": "p://c-right", "kind": "code", "question": "PROB-D: Write mul(a, b).",
              "entry_point": "mul", "tests": ["assert mul(2, 3) == 6"]}, "PROB-D", RIGHT_MUL, None))
        pool_docs += [
            (_doc("w://rw-code-right", "code", "POOL-F: " + ADD_SOURCE), "POOL-F", RW_CODE_RIGHT, None),
            (_doc("w://rw-code-fake", "code", "POOL-G: " + ADD_SOURCE), "POOL-G", RW_CODE_FAKE, "synth:tests_failed"),
            (_doc("w://rw-code-hostile", "code", "POOL-H: Subtraction.\n```python\ndef sub(a, b):\n    return a - b\n"
                  "assert sub(3, 1) == 2\n```"), "POOL-H", _hostile(str(marker)), "synth:tests_failed"),
        ]
    answers = {mk: text for _, mk, text, _ in problems + pool_docs}
    # a problem rejected before generation is named by its line in the problems file
    expected = {(rec["uri"] if why != "synth:unverifiable" else f"problems.jsonl#{i}"): why
                for i, (rec, _, _, why) in enumerate(problems, 1)}
    # a pool document outside synth.rewrite_domains is not an input of the step: it stays in its pool
    expected.update({d["uri"]: why for d, _, _, why in pool_docs if why != "synth:not_rewritable"})

    pfile = tmp_path / "problems.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p, _, _, _ in problems))
    pool = _pool(tmp_path / "pool", [d for d, _, _, _ in pool_docs])
    srv = _serve(answers)
    try:
        out = tmp_path / "synth"
        strict = tmp_path / "strict.yaml"  # stage 3 keeps unverifiable rewrites labelled; this run rejects them
        strict.write_text("stage: stage3\nsynth:\n  keep_unverified_rewrites: false\n")
        args = ["synth", str(pfile), "--pool", str(pool), "--config", str(strict), "--output", str(out),
                "--backend", "http", "--api", "chat",
                "--url", f"http://127.0.0.1:{srv.server_address[1]}/v1", "--model", "recorded", "-k", "2",
                "--cache-dir", str(tmp_path / "cache")]
        res = CliRunner().invoke(cli, args, obj={"beam_args": []}, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    finally:
        srv.shutdown()
        srv.server_close()

    assert srv.unmatched == []
    asked = {mk for mk in answers if any(mk in p for p in srv.prompts)}
    never_generated = {"synth:unverifiable", "synth:not_rewritable"}
    assert asked == {mk for _, mk, _, why in problems + pool_docs if why not in never_generated}

    docs, rejects = _rows(out / "docs"), _rows(out / "rejects")
    kept = sorted(d["uri"] for d in docs)
    assert kept == sorted(u for u, why in expected.items() for _ in range(2) if why is None)  # k=2, both samples
    got = {}
    for r in rejects:
        got.setdefault(r["uri"], set()).add(r["reason"])
    assert got == {u: {why} for u, why in expected.items() if why is not None}
    n_sample_rejects = sum(1 for r in rejects if r["reason"] in ("synth:wrong_answer", "synth:unverified", "synth:tests_failed"))
    assert n_sample_rejects == 2 * sum(1 for why in expected.values() if why in ("synth:wrong_answer", "synth:unverified", "synth:tests_failed"))

    for d in docs:
        meta = json.loads(d["meta"])
        assert d["format"] == "synthetic" and meta["verification"]
        if meta["task"] == "rewrite":
            assert meta["verification"]["verifier"] == f"rewrite_{meta['kind']}"
            assert meta["problem"].get("answer") or meta["problem"].get("tests")  # the source's reference is kept
    rw = next(d for d in docs if d["uri"] == "w://rw-right")
    assert json.loads(rw["meta"])["problem"]["answer"] == "16" and "\\boxed{16}" in rw["text"]
    assert not marker.exists()

    m = json.loads((out / "manifest.json").read_text())
    for name, c in m["counts"].items():
        assert c["in"] == c["out"] + c["rejected"], name
