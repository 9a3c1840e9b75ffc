"""Quiet by default, worker processes included: a filter on the process's stderr file descriptor.

Beam's multi-process DirectRunner starts its SDK workers as child processes that inherit
stderr and log to it themselves (``INFO:…`` lines, the option dump, ``apitools not found``)
before any option of ours can reach them. Without ``-v`` the CLI points file descriptor 2 at a
pipe; a thread copies every line to the real stderr except Beam's worker log lines at INFO or
DEBUG and the known start-up warnings. Errors, tracebacks and curate's own lines pass.
``original`` is a text stream on the real stderr, for live (terminal) progress that must not
go through the line filter.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading

NOISE = re.compile(
    rb"^(?:INFO|DEBUG):"
    rb"|^WARNING:root:apitools not found"
    rb"|^WARNING:__main__:No semi_persistent_directory found"
    rb"|^WARNING:apache_beam\.options\.pipeline_options:Discarding unparseable args"
)


class StderrFilter:
    """Installed with ``start()``, removed with ``stop()`` (flushes what is left)."""

    def __init__(self):
        self._saved: int | None = None
        self._thread: threading.Thread | None = None
        self.original: io.TextIOWrapper | None = None

    def start(self) -> "StderrFilter":
        sys.stderr.flush()
        self._saved = os.dup(2)
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
        self.original = io.TextIOWrapper(os.fdopen(os.dup(self._saved), "wb", buffering=0), write_through=True,
                                         encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace")
        self._thread = threading.Thread(target=self._copy, args=(r, self._saved), name="stderr-filter", daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _copy(r: int, out: int) -> None:
        with os.fdopen(r, "rb", buffering=0) as src:
            buf = b""
            while True:
                chunk = src.read(65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
                if kept:
                    os.write(out, kept)
            if buf and not NOISE.match(buf):
                os.write(out, buf)

    def stop(self) -> None:
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes this process's write end of the pipe
        if self._thread is not None:
            self._thread.join(timeout=2)  # a worker still alive keeps the pipe open: do not wait for it
        os.close(self._saved)
        self._saved = None
