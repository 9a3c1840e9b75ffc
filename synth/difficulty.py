"""Difficulty from pass rate: the share of k sampled solutions that verify.

MiMo annotated its RL problems with difficulty from how often a model solved them, kept the
ones it always solved in an easy pool re-sampled with a small probability, and shaped the code
reward by test difficulty. Here ``difficulty = 1 - pass_rate`` over the samples that produced an
answer (backend failures are not counted as attempts; a truncated sample is a failed attempt),
with a label from two thresholds, and each test has its own pass rate over the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Difficulty:
    attempts: int
    passes: int
    pass_rate: float
    score: float
    label: str  # easy | medium | hard | unsolved

    def to_json(self) -> dict:
        return {"attempts": self.attempts, "passes": self.passes, "pass_rate": self.pass_rate,
                "difficulty": self.score, "label": self.label}


def rate(passes: int, attempts: int, easy_at: float = 0.8, hard_at: float = 0.2) -> Difficulty:
    """Difficulty of a problem solved ``passes`` times out of ``attempts`` samples."""
    if attempts <= 0:
        raise ValueError("difficulty needs at least one attempt")
    if not 0 <= passes <= attempts:
        raise ValueError(f"passes={passes} outside 0..{attempts}")
    pr = passes / attempts
    if passes == 0:
        label = "unsolved"
    elif pr >= easy_at:
        label = "easy"
    elif pr <= hard_at:
        label = "hard"
    else:
        label = "medium"
    return Difficulty(attempts, passes, round(pr, 6), round(1.0 - pr, 6), label)


def keep_problem(d: Difficulty, drop_unsolved: bool) -> str:
    """'' to keep a rated problem, else the reject reason (synth:unsolved when those are dropped).
    A too-easy problem is kept: it goes to the easy pool (``in_easy_pool``)."""
    if drop_unsolved and d.passes == 0:
        return "synth:unsolved"
    return ""


def in_easy_pool(d: Difficulty, easy_pool_pass_rate: float) -> bool:
    """Solved so often that RL re-samples it only with the easy pool's probability."""
    return d.pass_rate > easy_pool_pass_rate


def per_test_pass_rates(results: list[list[bool] | None], n_tests: int) -> list[float]:
    """Pass rate of each of a problem's ``n_tests`` tests over its attempts; an attempt's entry is
    its per-test outcomes, or None when no test ran (no code, truncated): all failed."""
    if not results:
        raise ValueError("per-test pass rates need at least one attempt")
    passed = [0] * n_tests
    for r in results:
        if r is not None:
            if len(r) != n_tests:
                raise ValueError(f"an attempt has {len(r)} test outcomes, the problem {n_tests} tests")
            for i, ok in enumerate(r):
                passed[i] += bool(ok)
    return [round(p / len(results), 6) for p in passed]


def test_pass_rates(task, attempts) -> list[float]:
    """Per test, the share of attempts passing it (math: one test, the answer)."""
    if task["kind"] == "math":
        return per_test_pass_rates([[not o["reason"]] for o in attempts], 1)
    n = len(task["tests"])
    results = []
    for o in attempts:
        ts = o["detail"].get("tests")
        results.append([bool(t["passed"]) for t in ts] if isinstance(ts, list) and len(ts) == n else None)
    return per_test_pass_rates(results, n)
