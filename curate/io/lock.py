"""One curate run at a time per directory: ``RunLock``.

Two runs writing one output (or one step cache) either repeat each other's work or delete
each other's in-progress step directories. ``RunLock(path)`` creates ``<path>/.curate.lock``
atomically (``O_CREAT | O_EXCL``) holding ``{"pid", "host", "started"}`` and deletes it on exit,
also when the run fails. A second run finds the file and refuses, naming the holder.

A lock whose holder is dead (same host, pid no longer running: a run killed with SIGKILL or
a crashed machine) is stale and is taken over with one log line. A lock held on another host
cannot be checked and is refused, as is one whose pid now belongs to an unrelated process;
the message says which file to delete if that run is gone.
Remote paths (``gs://…``, anything with ``://``) are not locked: object stores have no atomic
create-if-absent here, so runs on remote outputs must be kept apart by whoever starts them.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from typing import Callable

from curate.errors import LockedError

LOCK_FILE = ".curate.lock"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a process of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


class RunLock:
    """``with RunLock(directory, log):`` holds ``directory/.curate.lock`` for the block."""

    def __init__(self, path: str, log: Callable[[str], None] = _stderr):
        self.path = path
        self.file = os.path.join(path, LOCK_FILE)
        self.log = log
        self._mine: str | None = None  # the lock file's text while this object holds it
        self._made_dir = False

    def __enter__(self) -> RunLock:
        if "://" in self.path:
            return self
        if not os.path.isdir(self.path):
            os.makedirs(self.path, exist_ok=True)
            self._made_dir = True
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        while True:
            try:
                fd = os.open(self.file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as f:
                f.write(text)
            self._mine = text
            return self

    def __exit__(self, *exc) -> None:
        """Delete the lock if it is still ours (a step may have replaced the directory)."""
        if self._mine is None:
            return
        try:
            with open(self.file) as f:
                if f.read() == self._mine:
                    os.unlink(self.file)
        except FileNotFoundError:
            pass
        self._mine = None
        if self._made_dir:
            try:
                os.rmdir(self.path)  # a directory made only for the lock, left empty by a failed run
            except OSError:
                pass

    def _take_over_if_stale(self) -> None:
        """Remove a dead holder's lock (and log it); raise LockedError for a live or foreign one."""
        holder = self._holder()
        if holder is None:
            return  # gone meanwhile: try to create it again
        pid, host, started = holder.get("pid"), holder.get("host"), holder.get("started", "?")
        who = f"pid {pid} on {host}, started {started}"
        if host != socket.gethostname():
            raise LockedError(f"{self.path} is in use by a curate run on another host ({who}); its "
                              f"liveness cannot be checked from here: delete {self.file} if that run is gone")
        if not isinstance(pid, int) or pid <= 0 or _alive(pid):
            raise LockedError(f"{self.path} is in use by another curate run ({who}); wait for it to "
                              f"finish, or delete {self.file} if no curate run is using it")
        # Two runs taking over the same stale lock at the same instant could both succeed; the
        # window is the time between reading the file and unlinking it.
        self.log(f"[lock] taking over the stale lock {self.file} from pid {pid} (started {started}; no longer running)")
        try:
            os.unlink(self.file)
        except FileNotFoundError:
            pass

    def _holder(self) -> dict | None:
        """The lock's JSON; None if the file vanished. A file still being written gets a moment."""
        for _ in range(20):
            try:
                with open(self.file) as f:
                    return json.loads(f.read())
            except FileNotFoundError:
                return None
            except ValueError:
                time.sleep(0.05)  # created but not yet written by its holder
        raise LockedError(f"{self.file} is not a readable curate lock: delete it if no curate run is using {self.path}")
