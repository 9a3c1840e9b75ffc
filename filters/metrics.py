"""Held-out evaluation of a classifier: a seeded split, ROC AUC, accuracy and per-class counts.

``split`` holds back a share of the examples before training; ``binary_report`` measures scores
of the held-back part against their labels. AUC is the Mann–Whitney statistic (ties count half),
None when the held-back part has a single class.
"""

from __future__ import annotations

import random
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


def split(items: Sequence[T], holdout: float, seed: int = 0) -> tuple[list[T], list[T]]:
    """(train, held back): a seeded shuffle, the last ``holdout`` share held back (at least one item
    each side when there are two or more; none held back when ``holdout`` is 0)."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    items = list(items)
    random.Random(seed).shuffle(items)
    k = 0 if holdout == 0 or len(items) < 2 else min(len(items) - 1, max(1, round(len(items) * holdout)))
    return items[: len(items) - k], items[len(items) - k:]


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """ROC AUC of ``scores`` for the positive ``labels``; None without both classes."""
    pairs = sorted(zip(scores, labels))
    n_pos = sum(1 for _, y in pairs if y)
    n_neg = len(pairs) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):  # average ranks over ties
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg = (i + j + 1) / 2
        rank_sum += avg * sum(1 for _, y in pairs[i:j] if y)
        i = j
    return round((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg), 6)


def class_counts(labels: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for y in labels:
        out[str(y)] = out.get(str(y), 0) + 1
    return dict(sorted(out.items()))


def binary_report(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    """Held-out AUC, accuracy at ``threshold`` (score ≥ threshold predicts positive), and counts."""
    correct = sum(1 for y, s in zip(labels, scores) if (s >= threshold) == bool(y))
    return {"examples": len(labels), "per_class": class_counts("positive" if y else "negative" for y in labels),
            "auc": auc(labels, scores), "accuracy": round(correct / len(labels), 6) if labels else None}
