"""Extraction in a child process, so one document can cost at most a time and memory limit.

Trafilatura can run for minutes on some pages, and a hostile page can exhaust memory or
crash a native parser. ``ExtractorPool`` keeps long-lived child processes (one per core a
worker may use) that build the extractors once and answer the records sent to them in chunks,
one answer per record. The child is a fresh interpreter
started with ``subprocess`` (forking a Beam worker with live threads is unsafe), not a
``multiprocessing`` child: a worker of a cluster engine (a Dask worker, say) is itself a
daemonic process, which ``multiprocessing`` forbids to have children. A record that takes longer than the limit kills the
child and becomes ``extract:timeout``; a child that dies becomes ``extract:crashed``; a
child over its memory cap becomes ``extract:out_of_memory``. The records queued behind it go
to a fresh child.

The memory cap is an address-space limit (``RLIMIT_AS``: an allocation over it raises
``MemoryError``) unless a GPU OCR engine may load in the child: CUDA reserves far more address
space than it uses and fails to initialise under any practical ``RLIMIT_AS``, so then a
watchdog thread checks the child's resident memory instead and ends it with ``OOM_EXIT``.

Ctrl-C reaches every process of the terminal's process group; the children ignore SIGINT so
that only the parent reacts (and stops them), instead of each printing a traceback. A child
also exits as soon as its parent dies, even in the middle of a record.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from typing import Any

from curate.errors import Reject
from curate.extractors.config import ExtractConfig

STARTUP_GRACE_S = 60.0  # extra time for a new child's first record: imports and model loading
OOM_EXIT = 86  # exit status of a child the resident-memory watchdog ended
WATCH_INTERVAL_S = 0.2  # how often the watchdog reads the child's resident memory
RECORDS_PER_EXTRA_CHILD = 500  # a pool starts its k-th child after k × this many records: small runs start one


def gpu_engine_configured(cfg: ExtractConfig) -> bool:
    """Whether the child may load a model onto a GPU (Nougat on a device other than cpu)."""
    pdf = cfg.pdf
    return bool(pdf.ocr_routing and pdf.nougat_checkpoint and pdf.nougat_device != "cpu")


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _watch_resident(limit: int) -> None:
    """A daemon thread that ends this process (``OOM_EXIT``) once its resident memory passes ``limit``."""

    def watch() -> None:
        while True:
            if _resident_bytes() > limit:
                os._exit(OOM_EXIT)
            time.sleep(WATCH_INTERVAL_S)

    threading.Thread(target=watch, daemon=True, name="curate-rss-watchdog").start()


def apply_memory_cap(cfg: ExtractConfig) -> str | None:
    """Cap this process's memory at ``cfg.max_memory_mb``: ``"address_space"`` (RLIMIT_AS) or
    ``"resident"`` (the watchdog, when a GPU engine is configured); None when uncapped."""
    import resource

    if not cfg.max_memory_mb:
        return None
    limit = cfg.max_memory_mb * 1024 * 1024
    if gpu_engine_configured(cfg):
        _watch_resident(limit)
        return "resident"
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return "address_space"


def _exit_with_parent(lifeline: int) -> None:
    """A daemon thread that ends this child when the parent process dies: only the parent holds
    the write end of the ``lifeline`` pipe, so reading it returns when the parent is gone."""
    threading.Thread(target=lambda: (os.read(lifeline, 1), os._exit(0)), daemon=True).start()


def _main() -> None:
    """The child's entry (``python -c``): argv holds its connection's and lifeline's descriptors;
    the first message is the ExtractConfig."""
    conn_fd, lifeline = int(sys.argv[1]), int(sys.argv[2])
    _exit_with_parent(lifeline)
    conn = Connection(conn_fd)
    _child(conn, conn.recv())


def _child(conn, cfg: ExtractConfig) -> None:
    """Answer each record of each chunk the parent sends, in order, one message per record."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from curate.extractors.dispatch import Extractors

    apply_memory_cap(cfg)
    extractors = Extractors(cfg)
    try:
        while True:
            try:
                chunk = conn.recv()
            except EOFError:
                return
            if chunk is None:
                return
            for rec in chunk:
                conn.send(_answer(rec, extractors, cfg))
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent stopped listening (interrupted) while this child worked on a record


def _answer(rec: dict, extractors, cfg: ExtractConfig) -> tuple:
    from curate.extractors.dispatch import extract_record

    try:
        return ("ok", extract_record(rec, extractors))
    except Reject as r:
        return ("reject", r.reason, r.detail)
    except MemoryError:
        return ("reject", "extract:out_of_memory", f"over {cfg.max_memory_mb} MB")
    except RecursionError as e:
        return ("reject", "extract:too_deep", str(e)[:200])
    except Exception as e:  # noqa: BLE001 - reported to the parent as a reject
        return ("reject", f"error:extract:{type(e).__name__}", str(e)[:500])


class _Child:
    """One extraction child process and the records sent to it that it has not answered yet,
    oldest first. It answers in order, so the oldest began when the previous answer came."""

    def __init__(self, cfg: ExtractConfig):
        self.cfg = cfg
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.lifeline: int | None = None
        self.inflight: deque[tuple[Any, dict]] = deque()
        self.head_since = 0.0
        self.answered = 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        life_r, life_w = os.pipe()  # not inheritable: only this child gets the read end
        cmd = [sys.executable, "-c", "from curate.extractors.isolation import _main; _main()",
               str(theirs.fileno()), str(life_r)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        # The child inherits this thread's signal mask: with SIGINT blocked, a Ctrl-C while it
        # starts up stays pending until _child ignores it.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(), life_r), env=env)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            theirs.close()
            os.close(life_r)
            self.lifeline = life_w
            self.conn = Connection(ours.detach())
        self.conn.send(self.cfg)
        self.fresh = True

    def send(self, items: list[tuple[Any, dict]]) -> None:
        if not self.inflight:
            self.head_since = time.monotonic()
        self.inflight.extend(items)
        self.conn.send([rec for _, rec in items])

    def deadline(self) -> float:
        """When the oldest record in flight is over its time (a new child may import first)."""
        return self.head_since + self.cfg.timeout_s + (STARTUP_GRACE_S if self.fresh else 0)

    def answer(self) -> tuple[Any, tuple]:
        """The oldest record's tag and the child's answer (raises EOFError if the child died)."""
        msg = self.conn.recv()
        tag, _ = self.inflight.popleft()
        self.head_since, self.fresh = time.monotonic(), False
        self.answered += 1
        return tag, msg

    def exit_code(self) -> int | None:
        try:
            return self.proc.wait(5) if self.proc is not None else None
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> list[tuple[Any, dict]]:
        """Stop the process (if one was started), close its connection; returns the records it
        still held, oldest first. Safe to call twice."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
        if self.conn is not None:
            self.conn.close()
        if self.lifeline is not None:
            os.close(self.lifeline)
        self.proc = self.conn = self.lifeline = None
        held, self.inflight = list(self.inflight), deque()
        return held

    def stop(self) -> None:
        """Ask the child to exit after its current record, then make sure it has."""
        if self.conn is not None:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.kill()


class ExtractorPool:
    """Runs ``extract_record`` in ``processes`` child processes with a wall-time limit per record.

    Records go to the children in chunks of up to ``chunk`` (one message each way per chunk,
    not per record), at most two chunks ahead, so a child never waits for the parent. Every
    submitted record comes back exactly once from ``ready``/``drain`` with its tag: a Document
    dict, or a ``Reject`` (the extractor's reason, ``extract:timeout``, ``extract:crashed``,
    ``extract:out_of_memory``). A child that times out or dies costs its oldest record only;
    the records queued behind it go to a fresh child.
    """

    def __init__(self, cfg: ExtractConfig, processes: int = 1, chunk: int = 8):
        self.cfg = cfg
        self.chunk = max(1, chunk)
        self.children = [_Child(cfg) for _ in range(max(1, processes))]
        self.pending: deque[tuple[Any, dict]] = deque()
        self.done: list[tuple[Any, Any]] = []
        self.submitted = 0

    def submit(self, tag: Any, rec: dict) -> None:
        self.pending.append((tag, rec))
        self.submitted += 1
        self._dispatch(flush=False)

    def full(self) -> bool:
        """Whether the caller should wait for answers before submitting more."""
        return len(self.pending) >= self.chunk * len(self.children)

    def ready(self, wait: bool = False) -> list[tuple[Any, Any]]:
        """The (tag, Document or Reject) answered so far; ``wait``: block until there is one
        (or nothing is left in flight)."""
        self._collect(wait and not self.done)
        out, self.done = self.done, []
        return out

    def drain(self) -> Iterator[tuple[Any, Any]]:
        """Every record still pending or in flight, as it is answered."""
        while self.pending or any(c.inflight for c in self.children) or self.done:
            self._dispatch(flush=True)
            yield from self.ready(wait=True)

    def children_used(self) -> int:
        """How many children have answered a record (every one should on a large input)."""
        return sum(1 for c in self.children if c.answered)

    def child_pids(self) -> list[int]:
        return [c.proc.pid for c in self.children if c.proc is not None]

    def _dispatch(self, flush: bool) -> None:
        """Send chunks of pending records: a full chunk to a child with room for it, or any
        records at all to an idle child (or to every child when flushing)."""
        open_ = self.children[:1 + self.submitted // RECORDS_PER_EXTRA_CHILD]
        for child in sorted(open_, key=lambda c: len(c.inflight)):
            if not self.pending:
                return
            room = 2 * self.chunk - len(child.inflight)
            if room <= 0 or (len(self.pending) < self.chunk and child.inflight and not flush):
                continue
            if not child.alive():
                self._fail(child, self._died(child) if child.inflight else None)
                if not threading.main_thread().is_alive():
                    # The process is exiting (after Ctrl-C, say) while a Beam worker thread still
                    # runs: a child started now would be cut off half-started, with a traceback.
                    while self.pending:
                        self.done.append((self.pending.popleft()[0], Reject(
                            "extract:crashed", "not restarted: the process is exiting")))
                    return
                child.start()
            items = [self.pending.popleft() for _ in range(min(room, self.chunk, len(self.pending)))]
            try:
                child.send(items)
            except (BrokenPipeError, ConnectionResetError, OSError):
                self._fail(child, self._died(child))

    def _collect(self, wait: bool) -> None:
        busy = [c for c in self.children if c.inflight]
        if not busy:
            return
        timeout = max(0.0, min(c.deadline() for c in busy) - time.monotonic()) if wait else 0.0
        readable = set(wait_for([c.conn for c in busy], timeout))
        for child in busy:
            if child.conn in readable:
                try:
                    while child.inflight and child.conn.poll():
                        tag, msg = child.answer()
                        self.done.append((tag, msg[1] if msg[0] == "ok" else Reject(msg[1], msg[2])))
                        if msg[0] == "reject" and msg[1] == "extract:out_of_memory":
                            self._fail(child, None)  # a process that hit its cap is not trusted again
                except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
                    self._fail(child, self._died(child))
            elif child.inflight and time.monotonic() > child.deadline():
                self._fail(child, Reject("extract:timeout", f"over {self.cfg.timeout_s:g} s"))
        self._dispatch(flush=False)

    def _died(self, child: _Child) -> Reject:
        code = child.exit_code()  # the watchdog's OOM_EXIT, or how the child died
        if code == OOM_EXIT:
            return Reject("extract:out_of_memory", f"resident memory over {self.cfg.max_memory_mb} MB")
        return Reject("extract:crashed", f"extractor process died (exit code {code})")

    def _fail(self, child: _Child, why: Reject | None) -> None:
        """Stop ``child``: its oldest record gets ``why`` (when given), the rest go back to the
        front of the queue for the next child."""
        held = child.kill()
        if held and why is not None:
            self.done.append((held[0][0], why))
            held = held[1:]
        self.pending.extendleft(reversed(held))

    def close(self) -> None:
        for child in self.children:
            child.stop()


class IsolatedExtractors(ExtractorPool):
    """One child, one record at a time: ``extract`` returns the Document or raises its Reject."""

    def __init__(self, cfg: ExtractConfig):
        super().__init__(cfg, processes=1)

    def extract(self, rec: dict[str, Any]) -> dict[str, Any]:
        self.submit(None, rec)
        (_, out), = list(self.drain())
        if isinstance(out, Reject):
            raise out
        return out
