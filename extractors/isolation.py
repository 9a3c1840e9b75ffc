"""Extraction in a child process, so one document can cost at most a time and memory limit.

Trafilatura can run for minutes on some pages, and a hostile page can exhaust memory or
crash a native parser. ``IsolatedExtractors`` keeps one long-lived child process that builds
the extractors once and answers one record at a time. The child is a fresh interpreter
started with ``subprocess`` (forking a Beam worker with live threads is unsafe), not a
``multiprocessing`` child: a worker of a cluster engine (a Dask worker, say) is itself a
daemonic process, which ``multiprocessing`` forbids to have children. A record that takes longer than the limit kills the
child and becomes ``extract:timeout``; a child that dies becomes ``extract:crashed``; a
child over its memory cap becomes ``extract:out_of_memory``. The next record starts a fresh
child.

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
from multiprocessing.connection import Connection
from typing import Any

from curate.errors import Reject
from curate.extractors.config import ExtractConfig

STARTUP_GRACE_S = 60.0  # extra time for a new child's first record: imports and model loading
OOM_EXIT = 86  # exit status of a child the resident-memory watchdog ended
WATCH_INTERVAL_S = 0.2  # how often the watchdog reads the child's resident memory


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
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from curate.extractors.dispatch import Extractors, extract_record

    apply_memory_cap(cfg)
    extractors = Extractors(cfg)
    try:
        while True:
            try:
                rec = conn.recv()
            except EOFError:
                return
            if rec is None:
                return
            try:
                conn.send(("ok", extract_record(rec, extractors)))
            except Reject as r:
                conn.send(("reject", r.reason, r.detail))
            except MemoryError:
                conn.send(("reject", "extract:out_of_memory", f"over {cfg.max_memory_mb} MB"))
            except RecursionError as e:
                conn.send(("reject", "extract:too_deep", str(e)[:200]))
            except Exception as e:  # noqa: BLE001 - reported to the parent as a reject
                conn.send(("reject", f"error:extract:{type(e).__name__}", str(e)[:500]))
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent stopped listening (interrupted) while this child worked on a record


class IsolatedExtractors:
    """Runs ``extract_record`` in a child process with a wall-time limit per record."""

    def __init__(self, cfg: ExtractConfig):
        self.cfg = cfg
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lifeline: int | None = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        life_r, life_w = os.pipe()  # not inheritable: only this child gets the read end
        cmd = [sys.executable, "-c", "from curate.extractors.isolation import _main; _main()",
               str(theirs.fileno()), str(life_r)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        # The child inherits this thread's signal mask: with SIGINT blocked, a Ctrl-C while it
        # starts up stays pending until _child ignores it.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(), life_r), env=env)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            theirs.close()
            os.close(life_r)
            self._lifeline = life_w
            self._conn = Connection(ours.detach())
        self._conn.send(self.cfg)
        self._started = False

    def _kill(self) -> None:
        """Stop the child (if one was started) and close its connection; safe to call twice."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
        if self._conn is not None:
            self._conn.close()
        if self._lifeline is not None:
            os.close(self._lifeline)
        self._proc = self._conn = self._lifeline = None

    def extract(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The Document for ``rec``; raises Reject (timeout, crash or the extractor's reason)."""
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            if not threading.main_thread().is_alive():
                # The process is exiting (after Ctrl-C, say) while a Beam worker thread still
                # runs: a child started now would be cut off half-started, with a traceback.
                raise Reject("extract:crashed", "not restarted: the process is exiting")
            self._start()
        try:
            self._conn.send(rec)
            ready = self._conn.poll(self.cfg.timeout_s + (STARTUP_GRACE_S if self._fresh() else 0))
            if not ready:
                self._kill()
                raise Reject("extract:timeout", f"over {self.cfg.timeout_s:g} s")
            msg = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = None
            if self._proc is not None:
                try:
                    code = self._proc.wait(5)  # the watchdog's OOM_EXIT, or how the child died
                except subprocess.TimeoutExpired:
                    pass
            self._kill()
            if code == OOM_EXIT:
                raise Reject("extract:out_of_memory", f"resident memory over {self.cfg.max_memory_mb} MB") from None
            raise Reject("extract:crashed", f"extractor process died (exit code {code})") from None
        self._started = True
        if msg[0] == "ok":
            return msg[1]
        if msg[1] == "extract:out_of_memory":
            self._kill()  # a process that hit its memory cap is not trusted with the next record
        raise Reject(msg[1], msg[2])

    def _fresh(self) -> bool:
        """A new child also has to import and build its extractors: allow for that once."""
        return not getattr(self, "_started", False)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self._kill()
