"""Batches of CPU-bound work in spawned child processes, answered in the order submitted.

Beam's in-process runner (curate's default on small machines) runs a step on one core. A
step whose per-document work is pure CPU (the filter's rules and models) hands its batches
to a ``BatchPool``: ``processes`` children started with ``spawn`` (forking a Beam worker
with live threads is unsafe), each building its state once (``init``, e.g. loading models),
at most two batches per child in flight, so the parent keeps reading and writing while they
work. With one process, or for the first ``inline_items`` items (small inputs should not pay
for starting children), the work runs in the calling process.

A batch whose function raises comes back with the exception as its answer, so the caller
decides (the filter retries it document by document); so does a batch whose child died (the
kernel's OOM killer, say): ``BrokenProcessPool``, and the next batch goes to fresh children. Not for untrusted work that may hang
or crash: extraction has its own pool with time and memory limits (extractors/isolation.py).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_STATE: Any = None  # a child's state: each child process serves exactly one pool


def _start_child(init: Callable[..., Any] | None, initargs: tuple) -> None:
    global _STATE
    _STATE = init(*initargs) if init is not None else None


def _in_child(fn: Callable[[Any, list], Any], batch: list) -> tuple[int, Any]:
    return os.getpid(), fn(_STATE, batch)


class BatchPool:
    """``fn(state, batch)`` over submitted batches in ``processes`` children; see the module doc."""

    def __init__(self, fn: Callable[[Any, list], Any], processes: int = 1,
                 init: Callable[..., Any] | None = None, initargs: tuple = (), inline_items: int = 0):
        self.fn, self.init, self.initargs = fn, init, initargs
        self.processes = max(1, processes)
        self.inline_items = inline_items if self.processes > 1 else float("inf")
        self._state: Any = None
        self._state_ready = False
        self._executor: ProcessPoolExecutor | None = None
        self._seen = 0
        self._queue: deque[tuple[Any, Future | None, Any]] = deque()
        self._pids: set[int] = set()

    def submit(self, tag: Any, batch: list) -> None:
        if self._seen < self.inline_items:
            self._queue.append((tag, None, self._inline(batch)))
        else:
            self._queue.append((tag, self._submit(batch), None))
        self._seen += len(batch)

    def _submit(self, batch: list) -> Future:
        """Hand ``batch`` to the children; after one of them died (the executor is then broken:
        the batches it held come back as ``BrokenProcessPool``), a fresh set takes it."""
        for _ in range(2):
            if self._executor is None:
                self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_start_child, initargs=(self.init, self.initargs))
            try:
                return self._executor.submit(_in_child, self.fn, batch)
            except BrokenProcessPool:
                self._executor.shutdown(wait=False)
                self._executor = None
        raise BrokenProcessPool("the child processes cannot be started again")

    def ready(self) -> list[tuple[Any, Any]]:
        """The answers at the head of the queue that are done, in order; waits while more than
        two batches per child are in flight."""
        out = []
        while self._queue:
            tag, fut, answer = self._queue[0]
            if fut is not None and not fut.done() and len(self._queue) <= 2 * self.processes:
                break
            self._queue.popleft()
            out.append((tag, answer if fut is None else self._result(fut)))
        return out

    def drain(self) -> Iterator[tuple[Any, Any]]:
        """Every answer still owed, in order."""
        while self._queue:
            tag, fut, answer = self._queue.popleft()
            yield tag, answer if fut is None else self._result(fut)

    def pids(self) -> set[int]:
        """The processes that answered a batch."""
        return set(self._pids)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _inline(self, batch: list) -> Any:
        if not self._state_ready:
            self._state = self.init(*self.initargs) if self.init is not None else None
            self._state_ready = True
        self._pids.add(os.getpid())
        try:
            return self.fn(self._state, batch)
        except Exception as e:  # noqa: BLE001 - handed to the caller as the batch's answer
            return e

    def _result(self, fut: Future) -> Any:
        try:
            pid, answer = fut.result()
        except Exception as e:  # noqa: BLE001 - handed to the caller as the batch's answer
            return e
        self._pids.add(pid)
        return answer
