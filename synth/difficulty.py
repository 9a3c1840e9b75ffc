"""Difficulty from pass rate: the share of k sampled solutions that verify.

MiMo annotated its RL problems with difficulty from how often a model solved them and dropped
ones that were too easy. Here ``difficulty = 1 - pass_rate`` over the samples that produced an
answer (backend failures are not counted as attempts), with a label from two thresholds.
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


def keep_problem(d: Difficulty, max_pass_rate: float, drop_unsolved: bool) -> str:
    """'' to keep a rated problem, else the reject reason (synth:too_easy / synth:unsolved)."""
    if d.pass_rate > max_pass_rate:
        return "synth:too_easy"
    if drop_unsolved and d.passes == 0:
        return "synth:unsolved"
    return ""
