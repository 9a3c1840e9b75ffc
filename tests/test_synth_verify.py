"""Math answer equivalence, answer extraction, solution checks, decontamination, difficulty, prompts."""

import json

import pytest

from curate.errors import ConfigError, Reject
from curate.synth import tasks
from curate.synth.difficulty import in_easy_pool, keep_problem, rate
from curate.synth.prompts import load_templates
from curate.synth.sandbox import SandboxLimits
from curate.synth.verify_math import answers_equivalent, check_solution, extract_final_answer

EQUIVALENT = [
    ("3/4", "\\frac{3}{4}"), ("3/4", "0.75"), ("\\dfrac{6}{8}", "3/4"), ("-1/2", "\\frac{-1}{2}"),
    ("2\\sqrt{2}", "\\sqrt{8}"), ("2\\sqrt{2}", "sqrt(8)"), ("4\\sqrt{2}", "\\sqrt{32}"),
    ("[1,2)", "[1, 2)"), ("(0,1]", "x \\in (0, 1]"), ("(-\\infty, 3]", "(-inf, 3]"),
    ("7", "x = 7"), ("\\pi/2", "pi/2"), ("1275", "1,275"), ("\\{1,2\\}", "\\{2,1\\}"),
    ("(x+1)^2", "x^2+2x+1"), ("(x+1)^2", "(x+1)**2"),
]
DIFFERENT = [
    ("3/4", "4/3"), ("1/2", "1/3"), ("2\\sqrt{2}", "2\\sqrt{3}"), ("2\\sqrt{2}", "2"), ("2\\sqrt{2}", "2.8284"),
    ("[1,2)", "(1,2)"), ("[1,2)", "[1,2]"), ("(0,1]", "[0,1]"), ("7", "-7"), ("\\pi/2", "\\pi"),
    ("1275", "1276"), ("x^2", "x^3"),
]


@pytest.mark.parametrize("gold,pred", EQUIVALENT)
def test_equivalent_answers(gold, pred):
    assert answers_equivalent(gold, pred)
    assert answers_equivalent(pred, gold)


@pytest.mark.parametrize("gold,pred", DIFFERENT)
def test_different_answers(gold, pred):
    assert not answers_equivalent(gold, pred)


def test_final_answer_extraction():
    assert extract_final_answer("first \\boxed{1} then \\boxed{\\frac{3}{\\sqrt{4}}}.") == "\\frac{3}{\\sqrt{4}}"
    assert extract_final_answer("work...\nThe final answer is $3/4$.") == "3/4"
    assert extract_final_answer("Answer: 12") == "12"
    assert extract_final_answer("no conclusion here") is None


def test_check_solution_reasons():
    assert check_solution("1/2 + 1/4 = 3/4, so \\boxed{\\frac{3}{4}}", "3/4")[0] == "verified"
    assert check_solution("so \\boxed{4/3}", "3/4")[1] == "synth:wrong_answer"
    assert check_solution("I am not sure.", "3/4")[1] == "synth:unverified"


def test_problem_records_are_validated():
    good = tasks.parse_problem_line(json.dumps({"id": "m1", "kind": "math", "question": "1+1?", "answer": 2}), "p.jsonl", 1)
    assert good["answer"] == "2" and good["task"] == "solve"
    code = tasks.parse_problem_line(json.dumps({"kind": "code", "question": "q", "entry_point": "f", "tests": ["assert f()"]}), "p.jsonl", 2)
    assert code["id"] and code["uri"] == "p.jsonl#2"
    for line, reason in [("{not json", "synth:bad_problem"), ("[1]", "synth:bad_problem"),
                         (json.dumps({"kind": "math", "question": ""}), "synth:bad_problem"),
                         (json.dumps({"kind": "poetry", "question": "q"}), "synth:bad_problem"),
                         (json.dumps({"kind": "math", "question": "q"}), "synth:unverifiable"),
                         (json.dumps({"kind": "code", "question": "q", "tests": []}), "synth:unverifiable"),
                         (json.dumps({"kind": "code", "question": "q", "tests": ["x"], "entry_point": "a b"}), "synth:bad_problem")]:
        with pytest.raises(Reject) as e:
            tasks.parse_problem_line(line, "p.jsonl", 3)
        assert e.value.reason == reason, line


def test_generation_verification_for_each_task():
    lim = SandboxLimits(cpu_s=3, wall_s=8, test_timeout_s=2)
    math = tasks.normalize_problem({"id": "m", "kind": "math", "question": "Compute 1/2 + 1/4.", "answer": "3/4"})
    assert tasks.verify(math, "Add: \\boxed{0.75}", lim)[0] == ""
    assert tasks.verify(math, "\\boxed{1}", lim)[0] == "synth:wrong_answer"
    code = tasks.normalize_problem({"id": "c", "kind": "code", "question": "add", "entry_point": "add",
                                    "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]})
    good = "Add them.\n```python\ndef add(a, b):\n    return a + b\n```\n"
    reason, detail = tasks.verify(code, good, lim)
    assert reason == "" and all(t["passed"] for t in detail["tests"])
    reason, detail = tasks.verify(code, "```python\ndef add(a, b):\n    return a - b\n```", lim)
    assert reason == "synth:tests_failed" and [t["passed"] for t in detail["tests"]] == [False, True]
    assert tasks.verify(code, "I cannot write code.", lim)[0] == "synth:unverified"
    doc = {"id": "d1", "domain": "math", "text": "Integration by parts ... so the area is \\boxed{2}.", "uri": "u", "source": "web"}
    rw = tasks.rewrite_task(doc, ["math", "code"], 1000)
    assert tasks.verify(rw, " What is the integral of x from 0 to 2?\nAnswer: it is \\boxed{2}.", lim)[0] == ""
    assert tasks.verify(rw, " What is the integral of x from 0 to 2?\nAnswer: it is \\boxed{3}.", lim)[0] == "synth:wrong_answer"
    assert tasks.verify(rw, " rambling without structure", lim)[0] == "synth:unverified"
    rwc = tasks.rewrite_task({**doc, "domain": "code", "text": "```python\ndef sq(x):\n    return x * x\nassert sq(2) == 4\n```"},
                             ["math", "code"], 1000)
    ok = " Write sq(x) returning x squared, please.\nAnswer:\n```python\ndef sq(x):\n    return x * x\nassert sq(3) == 9\n```"
    assert tasks.verify(rwc, ok, lim)[0] == ""
    assert tasks.verify(rwc, ok.replace("== 9", "== 10"), lim)[0] == "synth:tests_failed"
    with pytest.raises(Reject):
        tasks.rewrite_task({**doc, "domain": "general"}, ["math", "code"], 1000)


def test_verified_generation_becomes_a_synthetic_document():
    task = tasks.normalize_problem({"id": "m", "kind": "math", "question": "Compute 1/2 + 1/4.", "answer": "3/4"})
    doc = tasks.make_document(task, 0, "\\boxed{3/4}", {"backend": {"backend": "local"}}, "synth", {"synth_pass_rate": 1.0})
    assert doc["format"] == "synthetic" and doc["source"] == "synth-math" and doc["domain"] == "math"
    assert "Compute 1/2 + 1/4." in doc["text"] and json.loads(doc["meta"])["backend"]["backend"] == "local"
    other = tasks.make_document(task, 1, "\\boxed{3/4}", {}, "synth", {})
    assert other["id"] != doc["id"]


def test_difficulty_from_pass_rate():
    assert rate(4, 4).label == "easy" and rate(4, 4).score == 0.0
    assert rate(2, 4).label == "medium" and rate(2, 4).pass_rate == 0.5
    assert rate(1, 8).label == "hard"
    assert rate(0, 4).label == "unsolved" and rate(0, 4).score == 1.0
    assert keep_problem(rate(4, 4), False) == "" and in_easy_pool(rate(4, 4), 0.95)  # kept, in the easy pool
    assert not in_easy_pool(rate(3, 4), 0.95)
    assert keep_problem(rate(0, 4), True) == "synth:unsolved"
    assert keep_problem(rate(0, 4), False) == ""
    with pytest.raises(ValueError):
        rate(5, 4)


def test_prompt_templates_can_be_replaced(tmp_path):
    t = load_templates()
    assert {"question"} <= t["solve_math"].fields and "\\boxed{}" in t["solve_math"].text
    mine = tmp_path / "mine.txt"
    mine.write_text("Q: {{question}} -- use $\\frac{a}{b}$ {literal braces}\nA:")
    t = load_templates({"solve_math": str(mine)})
    out = t["solve_math"].render(question="1+1?")
    assert out == "Q: 1+1? -- use $\\frac{a}{b}$ {literal braces}\nA:" and t["solve_math"].origin == str(mine)
    with pytest.raises(ConfigError):
        load_templates({"nope": str(mine)})
    with pytest.raises(ConfigError):
        load_templates({"solve_math": str(tmp_path / "missing.txt")})
