"""Peak memory and CPU time of a command and everything it starts, summed over its process tree."""

from __future__ import annotations

import subprocess
import threading
import time


class TreeRSS:
    """Samples the summed RSS of a process and all its descendants; keeps the peak (bytes)."""

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.timeline: list[tuple[float, int]] = []  # (time.time(), bytes)
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, start time) → user+system seconds last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        try:
            procs = [self.proc] + self.proc.children(recursive=True)
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
                t = p.cpu_times()
                self._cpu[(p.pid, p.create_time())] = t.user + t.system
            except psutil.Error:  # exited between listing and reading
                pass
        return total

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every process seen in the tree, as last sampled (a process's last
        interval and processes shorter than one interval are missed: an under-estimate)."""
        return sum(self._cpu.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self._sample()
            self.peak = max(self.peak, rss)
            self.timeline.append((time.time(), rss))
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], log_path: str, env: dict | None = None, cwd: str | None = None,
                 interval: float = 0.2) -> tuple[int, float, TreeRSS]:
    """Run ``cmd`` (output to ``log_path``); returns (exit code, wall seconds, the RSS sampler)."""
    with open(log_path, "wb") as log:
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        with TreeRSS(p.pid, interval) as mem:
            rc = p.wait()
        return rc, time.time() - t0, mem


def tail(path: str, chars: int = 4000) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")[-chars:]
