"""Live progress of a running step: documents (and bytes of raw records) done, rate and ETA.

Workers count, the driver shows. Beam's metrics are not reported by every runner while a
pipeline runs (the multi-process DirectRunner reports none until the end), so the workers of
a step write their own small progress records instead: each counting instance (one per
worker DoFn instance) keeps cumulative totals and rewrites one file
``<staging>/_progress/<part>.<instance>.json`` at most every ``flush_s`` seconds and at the
end of every bundle. The driver polls that folder, sums the files per part, and shows
(``Watch``): on a terminal a live rich progress line per step, otherwise (logs, CI, pipes) a
plain line every ``interval_s`` seconds through the step's log function. The folder is
deleted before the step's output is listed, so it never reaches the manifest.

The total a rate is measured against comes from the data: a pool step's input documents are
the documents its input steps wrote (their manifests' counts), so its ETA is exact; the read
part of an extract step knows the input bytes the reader planned, and reports the bytes of the
raw records it has read (decompressed, so the share is a lower bound for compressed input).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from curate.io import files

DIRNAME = "_progress"
FLUSH_S = 1.0  # a worker rewrites its progress file at most this often (plus at each bundle's end)
REMOTE_FLUSH_S = 15.0  # … when the staging folder is remote (gs://, s3://)
INTERVAL_S = float(os.environ.get("CURATE_PROGRESS_SECONDS", "10"))  # plain-line period when not on a terminal

# How the driver shows progress: "log" (plain lines through the step's log function), "tty"
# (rich, live on stderr), or "off". The CLI sets it (`configure`); library callers get "log".
_mode: dict[str, Any] = {"mode": "log", "stream": None}


def configure(mode: str, stream=None) -> None:
    """How progress is shown from now on; ``stream``: where live (tty) progress goes (default stderr)."""
    if mode not in ("log", "tty", "off"):
        raise ValueError(f"progress mode must be log, tty or off, got {mode!r}")
    _mode.update(mode=mode, stream=stream)


@dataclass
class Tally:
    """Documents and bytes counted so far by one part of a step (all workers together)."""

    docs: int = 0
    bytes: int = 0


class Reporter:
    """Worker side: cumulative totals of one counting instance, written to its own file."""

    def __init__(self, directory: str, part: str):
        self.path = files.join(directory, f"{part}.{uuid.uuid4().hex}.json")
        self.part = part
        self.tally = Tally()
        self.flush_s = REMOTE_FLUSH_S if files.is_remote(directory) else FLUSH_S
        self._last = 0.0
        self._dirty = False
        if not files.is_remote(directory):
            os.makedirs(directory, exist_ok=True)

    def add(self, docs: int = 1, nbytes: int = 0) -> None:
        self.tally.docs += docs
        self.tally.bytes += nbytes
        self._dirty = True
        if time.monotonic() - self._last >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        if not self._dirty:
            return
        try:
            files.write_atomic(self.path, json.dumps({"part": self.part, "docs": self.tally.docs,
                                                      "bytes": self.tally.bytes}).encode())
        except OSError:
            return  # progress is best effort: a full disk must fail the step's real writes, not this
        self._last = time.monotonic()
        self._dirty = False


def read_progress(directory: str) -> dict[str, Tally]:
    """Per part, the sum of every instance's latest totals in ``directory``."""
    out: dict[str, Tally] = {}
    try:
        paths = [p for p, _ in files.expand([files.join(directory, "*.json")])]
    except Exception:  # noqa: BLE001 - no folder yet, or a listing race with a rename
        return out
    for p in paths:
        try:
            rec = json.loads(files.read_bytes(p))
        except (OSError, ValueError):
            continue
        t = out.setdefault(rec["part"], Tally())
        t.docs += int(rec.get("docs", 0))
        t.bytes += int(rec.get("bytes", 0))
    return out


def planned(info: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """(documents, bytes) a step will read, from what it was given: a pool step's documents are
    the documents its input steps wrote (their manifests); bytes are the reader's planned input
    bytes. None where the data does not say."""
    info = info or {}
    docs = None
    if info.get("inputs"):
        total = 0
        for d in info["inputs"]:
            try:
                m = json.loads(files.read_bytes(files.join(d, "manifest.json")))
            except (OSError, ValueError):
                return None, None
            if not m.get("counts"):
                return None, None
            total += _final_out(m)
        docs = total
    return docs, (info.get("input_bytes") if not info.get("inputs") else None)


def _final_out(manifest: dict) -> int:
    """Documents a step wrote to docs/: the out of its last part (the one whose out no other part reads)."""
    counts = manifest["counts"]
    ins = {c["in"] for c in counts.values()}
    outs = [c["out"] for c in counts.values() if c["out"] not in ins]
    return outs[0] if len(outs) == 1 else min(c["out"] for c in counts.values())


def _rate(n: float) -> str:
    return f"{n:,.0f}" if n >= 100 else f"{n:,.1f}"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _eta(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def describe(step: str, tallies: dict[str, Tally], elapsed: float, total_docs: int | None,
             total_bytes: int | None) -> str:
    """One progress line: the step's first part (what it reads) carries the rate and ETA."""
    if not tallies:
        return f"[{step}] starting ({_eta(elapsed)})"
    first = max(tallies.values(), key=lambda t: (t.docs, t.bytes))
    docs_rate = first.docs / elapsed if elapsed > 0 else 0.0
    line = f"[{step}] {first.docs:,} documents"
    done_share = None
    if total_docs:
        done_share = min(first.docs / total_docs, 1.0)
        line += f" of {total_docs:,} ({done_share:.0%})"
    line += f", {_rate(docs_rate)} docs/s"
    if first.bytes:
        line += f", {_size(first.bytes)} of records read"
        if total_bytes:
            line += f" (inputs: {_size(total_bytes)} on disk)"
            if done_share is None and first.bytes < total_bytes:  # compressed inputs expand: no ETA then
                done_share = first.bytes / total_bytes
    if done_share and 0 < done_share < 1 and elapsed * (1 - done_share) / done_share >= 1:
        line += f", ETA {_eta(elapsed * (1 - done_share) / done_share)}"
    for part, t in tallies.items():
        if t is not first:
            line += f"; {part} {t.docs:,}"
    return line


class Watch:
    """Driver side: polls a step's progress folder in a thread and shows it (see the module doc)."""

    def __init__(self, step: str, directory: str, info: dict[str, Any] | None, log: Callable[[str], None],
                 interval_s: float | None = None, mode: str | None = None):
        self.step, self.directory, self.log = step, directory, log
        self.total_docs, self.total_bytes = planned(info)
        self.interval_s = INTERVAL_S if interval_s is None else interval_s
        self.mode = mode or _mode["mode"]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()

    def _lines(self) -> Iterator[str]:
        while not self._stop.wait(self.interval_s):
            yield describe(self.step, read_progress(self.directory), time.monotonic() - self._t0,
                           self.total_docs, self.total_bytes)

    def _run_log(self) -> None:
        for line in self._lines():
            self.log(line)

    def _run_tty(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        console = Console(file=_mode["stream"] or sys.stderr, force_terminal=True)
        with Live("", console=console, refresh_per_second=4, transient=True) as live:
            while not self._stop.wait(0.5):
                live.update(Text(describe(self.step, read_progress(self.directory), time.monotonic() - self._t0,
                                          self.total_docs, self.total_bytes)))

    def __enter__(self) -> "Watch":
        if self.mode != "off":
            target = self._run_tty if self.mode == "tty" else self._run_log
            self._thread = threading.Thread(target=target, name=f"progress-{self.step}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextmanager
def watch(step: str, directory: str, info: dict[str, Any] | None, log: Callable[[str], None]) -> Iterator[Watch]:
    """Show the progress of ``step`` (whose workers write to ``directory``) while the block runs."""
    with Watch(step, directory, info, log) as w:
        yield w
