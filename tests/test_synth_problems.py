"""The RL problem set: stdin/stdout tests, near-duplicate problems, per-test pass rates, the easy
pool, and problems.parquet/problems.jsonl as an RL trainer reads them; end to end against a
server that answers like a reasoning model (some samples right, some wrong, some truncated)."""

from __future__ import annotations

import json
from functools import lru_cache

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.dedup.config import DedupConfig
from curate.pipelines.shards import list_shards, read_shard
from curate.synth import tasks
from curate.synth.difficulty import per_test_pass_rates
from curate.synth.near_dups import near_duplicates
from curate.synth.problem_export import SCHEMA
from curate.synth.sandbox import SandboxLimits
from reasoning_server import serve, stop, url

LIM = SandboxLimits(cpu_s=3, wall_s=10, test_timeout_s=2)


@lru_cache(maxsize=1)
def sandbox_works() -> bool:
    try:
        t = tasks.normalize_problem({"id": "p", "kind": "code", "question": "f", "tests": ["assert f() == 1"]})
        return tasks.verify(t, "```python\ndef f():\n    return 1\n```", LIM)[0] == ""
    except Exception:  # noqa: BLE001 - no working sandbox here
        return False


needs_sandbox = pytest.mark.skipif(not sandbox_works(), reason="the code sandbox does not work on this host")

SUM_IO = {"id": "io-sum", "kind": "code", "question": "PROB-IO: Read two integers from stdin and print their sum.",
          "tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 -5\n", "stdout": "0"}]}
IO_RIGHT = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
IO_HALF = "```python\ninput()\nprint(3)\n```"  # passes the first test only


def test_stdin_stdout_tests_are_accepted_and_judged_one_by_one():
    task = tasks.normalize_problem(SUM_IO)
    assert task["tests"] == SUM_IO["tests"]
    with pytest.raises(Exception) as e:
        tasks.normalize_problem({**SUM_IO, "tests": [{"stdin": "1"}]})
    assert getattr(e.value, "reason", "") == "synth:unverifiable"
    if not sandbox_works():
        pytest.skip("the code sandbox does not work on this host")
    assert tasks.verify(task, IO_RIGHT, LIM)[0] == ""
    reason, detail = tasks.verify(task, IO_HALF, LIM)
    assert reason == "synth:tests_failed" and [t["passed"] for t in detail["tests"]] == [True, False]


def test_per_test_pass_rates_over_the_samples():
    assert per_test_pass_rates([[True, False], [True, True], None, [False, False]], 2) == [0.5, 0.25]
    with pytest.raises(ValueError):
        per_test_pass_rates([], 2)


def test_near_duplicate_problems_are_found_with_the_dedup_kernels():
    base = ("Let x and y be positive real numbers such that x plus y equals ten and x times y equals twenty one. "
            "Find the value of x squared plus y squared.")
    items = [("p3", base), ("p1", base.upper().replace(".", " !")),  # same words, other case and punctuation
             ("p2", base.replace("twenty one", "twenty-one")),
             ("p4", "Write a function that reverses a linked list in place and returns its new head node.")]
    cfg = DedupConfig(ngram=3)
    assert near_duplicates(items, cfg) == {"p2": "p1", "p3": "p1"}
    assert near_duplicates(list(reversed(items)), cfg) == {"p2": "p1", "p3": "p1"}  # order does not matter


# ------------------------------------------------------------------ `curate problems` end to end

THINK = "I will reason carefully about this before answering."
RIGHT = {"content": "So the answer is \\boxed{42}.", "reasoning_content": THINK}
WRONG = {"content": "So the answer is \\boxed{41}.", "reasoning_content": THINK}
CUT = {"content": "So the answer is \\boxed{42", "reasoning_content": THINK, "finish_reason": "length"}
MUL_RIGHT = {"content": "```python\ndef mul(a, b):\n    return a * b\n```", "reasoning_content": THINK}
MUL_ZERO = {"content": "```python\ndef mul(a, b):\n    return 0\n```", "reasoning_content": THINK}
REPLIES = {
    "PROB-A": [RIGHT, WRONG, CUT, RIGHT],  # pass rate 0.5 (the cut sample counts as a failed attempt)
    "PROB-B": [RIGHT, RIGHT, RIGHT, RIGHT],  # pass rate 1: the easy pool
    "PROB-C": [WRONG, CUT, WRONG, WRONG],  # unsolved, kept as hardest
    "PROB-M": [MUL_RIGHT, MUL_ZERO, MUL_ZERO, MUL_RIGHT],  # mul(2, 0) == 0 passes for every sample
    "PROB-IO": [{"content": IO_RIGHT}, {"content": IO_HALF}, {"content": IO_HALF}, {"content": IO_HALF}],
}


def test_curate_problems_writes_the_rl_problem_set(tmp_path, monkeypatch):
    from curate.cli import cli

    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    code = sandbox_works()
    long_q = "PROB-A: A box holds some red balls and some blue balls; there are forty two balls in all. How many balls?"
    probs = [
        {"id": "a", "kind": "math", "question": long_q, "answer": 42},
        {"id": "a-copy", "kind": "math", "question": long_q.replace("How many balls?", "How many balls ?"), "answer": "42"},
        {"id": "b", "kind": "math", "question": "PROB-B: What is six times seven, written in decimal digits?", "answer": 42},
        {"id": "c", "kind": "math", "question": "PROB-C: What is the product of six and seven, minus zero?", "answer": 42},
    ]
    if code:
        probs += [{"id": "m", "kind": "code", "question": "PROB-M: Write mul(a, b) returning the product.",
                   "entry_point": "mul", "tests": ["assert mul(2, 3) == 6", "assert mul(2, 0) == 0"]}, SUM_IO]
    leaked = "PROB-L: Find the number of ordered pairs of positive integers m and n such that m times n is twenty"
    probs.append({"id": "leak", "kind": "math", "question": leaked, "answer": 3})
    pfile = tmp_path / "problems.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p in probs))
    bench = tmp_path / "aime.jsonl"
    bench.write_text(json.dumps({"problem": leaked.removeprefix("PROB-L: "), "answer": "3"}) + "\n")
    cfg = tmp_path / "stage3.yaml"
    cfg.write_text("stage: stage3\nsynth:\n  difficulty:\n    easy_resample_prob: 0.25\n"
                   f"decontam:\n  benchmarks: {{aime: [{json.dumps(str(bench))}]}}\n")
    srv = serve(REPLIES)
    try:
        out = tmp_path / "problems"
        args = ["problems", str(pfile), "--config", str(cfg), "--output", str(out), "--backend", "http", "--api", "chat",
                "--url", url(srv), "--model", "reasoner", "-k", "4", "--cache-dir", str(tmp_path / "cache")]
        res = CliRunner().invoke(cli, args, obj={"beam_args": []}, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    finally:
        stop(srv)
    # the near-duplicate copy of PROB-A never reached the model: one request (n=4) for the two
    assert sum("PROB-A" in b["messages"][0]["content"] for b in srv.bodies) == 1

    table = pq.read_table(out / "problems.parquet")
    assert table.schema.equals(SCHEMA, check_metadata=False)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert sorted(rows) == sorted(["a", "b", "c"] + (["io-sum", "m"] if code else []))  # a-copy: near duplicate
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["pass_rate"], a["passes"], a["attempts"], a["test_pass_rates"]) == (0.5, 2, 4, [0.5])
    assert (b["pass_rate"], b["easy_pool"], b["resample_prob"]) == (1.0, True, 0.25)
    assert (a["easy_pool"], a["resample_prob"]) == (False, 1.0)
    assert (c["pass_rate"], c["label"], c["difficulty"]) == (0.0, "unsolved", 1.0)
    assert a["reward_model"] == {"style": "rule", "ground_truth": "42"} and a["ability"] == "math"
    assert a["prompt"] == [{"role": "user", "content": probs[0]["question"]}]
    if code:
        m, io = rows["m"], rows["io-sum"]
        assert m["test_pass_rates"] == [0.5, 1.0] and m["pass_rate"] == 0.5
        assert io["test_pass_rates"] == [1.0, 0.25] and io["pass_rate"] == 0.25
        assert json.loads(io["reward_model"]["ground_truth"]) == {"tests": SUM_IO["tests"], "entry_point": None}
    jsonl = [json.loads(x) for x in (out / "problems.jsonl").read_text().splitlines()]
    assert [r["id"] for r in jsonl] == [r["id"] for r in table.to_pylist()]
    assert jsonl[0] == table.to_pylist()[0]

    rejects = [r for p in list_shards(str(out / "rejects")) for r in read_shard(p)]
    assert [(r["id"], r["reason"]) for r in rejects if r["reason"] == "synth:near_duplicate"] == [("a-copy", "synth:near_duplicate")]
    assert not any(r["reason"] == "synth:too_easy" for r in rejects)
    leaks = [r for r in rejects if r["reason"].startswith("synth:contaminated")]
    assert len(leaks) == 1 and leaks[0]["reason"] == "synth:contaminated:aime" and "PROB-L" in leaks[0]["text"]
    assert not any("PROB-L" in b["messages"][0]["content"] for b in srv.bodies)
    m = json.loads((out / "manifest.json").read_text())
    for name, cnt in m["counts"].items():
        assert cnt["in"] == cnt["out"] + cnt["rejected"], name

    # decontamination on the web pool (and the problem pool) with the same config: the planted item goes
    from curate.schema import new_document, to_table

    from mixhelp import commit_pool

    web = tmp_path / "web"
    commit_pool(str(web), [new_document(source="web", uri="w://forum", format="html", text="Forum post: " + leaked[8:] + "?"),
                           new_document(source="web", uri="w://ok", format="html", text="Gardening notes. " * 30)])
    dec = tmp_path / "decontam"
    res = CliRunner().invoke(cli, ["decontam", str(web), str(out), "--config", str(cfg), "--output", str(dec)],
                             obj={"beam_args": []}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    dropped = [(r["uri"], r["reason"]) for p in list_shards(str(dec / "rejects")) for r in read_shard(p)]
    assert dropped == [("w://forum", "decontam:aime")]
    assert sum(1 for p in list_shards(str(dec / "docs")) for _ in read_shard(p)) == 1 + len(rows)
