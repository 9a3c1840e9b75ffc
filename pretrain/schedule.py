"""Learning-rate schedules: linear warmup, then cosine / linear / constant decay or WSD.

The learning rate is a pure function of the iteration, so the scheduler's whole state is
the iteration count plus the settings (plain values, checked again on resume).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class LRSchedule:
    lr: float
    min_lr: float = 0.0
    warmup_iters: int = 0
    decay_iters: int = 1
    style: str = "cosine"  # cosine | linear | constant | wsd
    wsd_decay_iters: int = 0
    wsd_decay_style: str = "linear"  # linear | cosine | exponential | minus_sqrt

    def __post_init__(self):
        if self.style not in ("cosine", "linear", "constant", "wsd"):
            raise ValueError(f"unknown lr decay style {self.style!r}")
        if self.wsd_decay_style not in ("linear", "cosine", "exponential", "minus_sqrt"):
            raise ValueError(f"unknown WSD decay style {self.wsd_decay_style!r}")
        if self.warmup_iters > self.decay_iters and self.style != "constant":
            raise ValueError(f"warmup ({self.warmup_iters}) is longer than the decay horizon ({self.decay_iters})")

    def lr_at(self, it: int) -> float:
        """Learning rate for the optimizer step that ends iteration ``it + 1`` (``it`` counts from 0)."""
        if self.warmup_iters > 0 and it < self.warmup_iters:
            return self.lr * (it + 1) / self.warmup_iters
        if self.style == "constant":
            return self.lr
        if it >= self.decay_iters:
            return self.min_lr
        delta = self.lr - self.min_lr
        if self.style == "wsd":
            anneal_start = self.decay_iters - self.wsd_decay_iters
            if it < anneal_start:
                return self.lr
            r = (it - anneal_start) / max(1, self.wsd_decay_iters)
            if self.wsd_decay_style == "linear":
                coeff = 1.0 - r
            elif self.wsd_decay_style == "cosine":
                coeff = 0.5 * (math.cos(math.pi * r) + 1.0)
            elif self.wsd_decay_style == "exponential":
                coeff = 2.0 * math.pow(0.5, r) - 1.0
            else:  # minus_sqrt
                coeff = 1.0 - math.sqrt(r)
            return self.min_lr + coeff * delta
        r = (it - self.warmup_iters) / max(1, self.decay_iters - self.warmup_iters)
        if self.style == "linear":
            coeff = 1.0 - r
        else:
            coeff = 0.5 * (math.cos(math.pi * r) + 1.0)
        return self.min_lr + coeff * delta


class Scheduler:
    """Sets the optimizer's learning rate each step; ``state_dict`` holds plain values only."""

    def __init__(self, optimizer, schedule: LRSchedule):
        self.optimizer = optimizer
        self.schedule = schedule
        self.num_steps = 0
        self._apply()

    def _apply(self) -> None:
        lr = self.schedule.lr_at(self.num_steps)
        for g in self.optimizer.param_groups:
            g["lr"] = lr

    @property
    def lr(self) -> float:
        return self.schedule.lr_at(self.num_steps)

    def step(self) -> None:
        self.num_steps += 1
        self._apply()

    def set_iteration(self, it: int) -> None:
        """Continue the schedule at iteration ``it`` (a stage transition keeps the global count)."""
        self.num_steps = int(it)
        self._apply()

    def state_dict(self) -> dict:
        return {"num_steps": int(self.num_steps), "schedule": asdict(self.schedule)}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        saved = state.get("schedule", {})
        if strict and saved and saved != asdict(self.schedule):
            diff = {k: (saved.get(k), v) for k, v in asdict(self.schedule).items() if saved.get(k) != v}
            raise ValueError(f"learning-rate schedule differs from the checkpoint's (saved, now): {diff}")
        self.num_steps = int(state["num_steps"])
        self._apply()
