"""What the filter step counts about its own judgement, for the step manifest and the report.

Each document the filter sees may emit events (``Verdict.events`` in filters/apply.py):

* ``exempt:<profile>:<reason>`` — a kept document that the web rules would have dropped with
  ``reason``, saved by its profile (math, code, paper);
* ``judges:<a>`` — when the small-LM classifier ran with a threshold: whether it and the
  rules agreed (``agree_keep``, ``agree_drop``) or not (``rules_drop_lm_keep``,
  ``rules_keep_lm_drop``).

The pipeline counts them into ``stats.judges`` of the filter step's manifest; ``JudgeStats``
is the one reader of that dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

JUDGE_OUTCOMES = ("agree_keep", "agree_drop", "rules_drop_lm_keep", "rules_keep_lm_drop")


def exemption_event(profile: str, reason: str) -> str:
    return f"exempt:{profile}:{reason}"


def judges_event(rules_drop: bool, lm_drop: bool) -> str:
    if rules_drop == lm_drop:
        return "judges:agree_drop" if rules_drop else "judges:agree_keep"
    return "judges:rules_drop_lm_keep" if rules_drop else "judges:rules_keep_lm_drop"


@dataclass(frozen=True)
class JudgeStats:
    """Documents saved per (profile, web rule), and how the rules and the LM classifier agreed."""

    exemptions: dict[str, dict[str, int]] = field(default_factory=dict)
    judges: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, counts: dict[str, int] | None) -> "JudgeStats":
        """From the counted events (the filter step's ``stats.judges``); unknown events are an error."""
        ex: dict[str, dict[str, int]] = {}
        judges: dict[str, int] = {}
        for key, n in sorted((counts or {}).items()):
            kind, _, rest = key.partition(":")
            if kind == "exempt":
                profile, _, reason = rest.partition(":")
                ex.setdefault(profile, {})[reason] = int(n)
            elif kind == "judges" and rest in JUDGE_OUTCOMES:
                judges[rest] = int(n)
            else:
                raise ValueError(f"unknown filter judge event {key!r}")
        return cls(exemptions=ex, judges=judges)

    def to_json(self) -> dict:
        return {"exemptions": self.exemptions, "judges": self.judges}

    @property
    def saved(self) -> int:
        """Exemption events in all (a document saved from two web rules counts twice)."""
        return sum(n for rules in self.exemptions.values() for n in rules.values())
