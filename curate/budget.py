"""The failure budget: a step whose work fails systematically stops instead of "succeeding".

Every step turns an unexpected exception on one document into a reject whose reason starts
with ``error:`` (``error:extract:RuntimeError``, ``error:filter:ValueError``, ``error:read:…``)
so that one bad document never takes a run down. The other side of that: an extractor or a
classifier that raises on *every* document would turn the whole corpus into rejects and the
run would still end with exit 0. So once a step's counts are in (``run_step``), each counted
part of the step is checked: when its ``error:*`` rejects are at least
``FailureBudget.min_errors`` and more than ``FailureBudget.max_error_share`` of the
documents that part received, the step stops with ``StepFailed`` (exit 1, one line from the
CLI) naming the part, the most frequent error reason with its count and one rejected input
(its uri and message, read from the step's rejects Parquet). The step is not committed, so a
rerun after the fix runs it again.

Ordinary rejects (``read:*``, ``extract:*``, ``dedup:*``, ``filter:*``…: the data's fault,
decided on purpose) never count, however many there are.

The budget in force is ``StageConfig.failure_budget``, applied around a run with
``applied(cfg.failure_budget)``; without it, the documented defaults below.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import Field

from curate.configbase import Section
from curate.errors import InputError

ERROR_PREFIX = "error:"


class FailureBudget(Section):
    """How many ``error:*`` rejects a step may produce before it stops (see curate.budget)."""

    max_error_share: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="A step stops when the `error:*` rejects of one of its parts are more than this "
        "share of the documents that part received (default 1%: an exception on one document in a "
        "hundred is a bug to fix before trusting the output, not noise in the data). 1.0 turns "
        "the budget off.",
    )
    min_errors: int = Field(
        10,
        ge=1,
        description="...and at least this many (default 10), so a small run is not stopped by one or "
        "two unlucky documents (1 error in 10 documents is 10%, not a systematic failure); from "
        "1,000 documents on, the share decides.",
    )


class StepFailed(InputError):
    """A step whose ``error:*`` rejects went over the failure budget. An InputError, so the
    CLI reports it as one line and exits 1."""


def error_rejects(part_counts: dict[str, Any]) -> dict[str, int]:
    """The ``error:*`` reasons of one counted part and their counts."""
    return {r: n for r, n in (part_counts.get("rejects") or {}).items() if r.startswith(ERROR_PREFIX)}


def over_budget(part_counts: dict[str, Any], budget: FailureBudget) -> bool:
    errors = sum(error_rejects(part_counts).values())
    return errors >= budget.min_errors and errors > budget.max_error_share * part_counts.get("in", 0)


def check(step: str, counts: dict[str, dict[str, Any]], example: Callable[[str], dict[str, Any] | None],
          budget: FailureBudget | None = None) -> None:
    """Raise StepFailed when a counted part of ``step`` went over the failure budget.

    ``counts`` is the step's counts (part name → in, out, rejected, rejects by reason);
    ``example(reason)`` returns one rejected document with that reason ({uri, detail}) or None.
    """
    budget = budget or FailureBudget()
    for part, c in counts.items():
        if not over_budget(c, budget):
            continue
        errors = error_rejects(c)
        total = sum(errors.values())
        top, top_n = min(errors.items(), key=lambda kv: (-kv[1], kv[0]))
        try:
            ex = example(top)
        except Exception as e:  # noqa: BLE001 - the budget verdict matters more than the example
            ex = {"uri": f"(rejects unreadable: {type(e).__name__})", "detail": ""}
        example = "no example found"
        if ex is not None:
            detail = " ".join(str(ex.get("detail") or "").split())
            example = f"e.g. {ex.get('uri') or '(no uri)'}" + (f" ({detail[:200]})" if detail else "")
        others = f"; {len(errors) - 1} other error reason(s)" if len(errors) > 1 else ""
        share = total / c["in"] if c.get("in") else 1.0
        raise StepFailed(
            f"step {step} stopped: {total} of {c.get('in', 0)} documents ({share:.1%}) failed with an "
            f"error in {part}, over the failure budget ({budget.max_error_share:.1%} and at least "
            f"{budget.min_errors}); top reason {top} ×{top_n}, {example}{others}"
        )
