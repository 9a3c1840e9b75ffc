"""Run untrusted (model-written) Python against test cases in a contained subprocess.

Layers, each applied when the host allows it (``SandboxResult.isolation`` says which were on):

- ``netns``/``pidns``/``mountns``: the child starts under ``unshare --net --pid --fork
  --kill-child --mount`` (root, or an unprivileged user namespace with ``--map-root-user``): no
  network interface but a downed loopback, and every process it forks dies with it.
- ``tmpfs``: with a mount namespace and root, the working directory is a size-capped tmpfs.
- ``uid``: when root, the child drops to a fresh unprivileged uid (so ``RLIMIT_NPROC`` applies
  and files it does not own are closed to it); stdlib modules it may need are imported first,
  because the interpreter can live under a directory that other users cannot enter.
- ``rlimits``: CPU seconds, address space, file size, open files, process count, no core dumps.
- ``audit``: a ``sys.addaudithook`` hook (cannot be removed from Python) refuses sockets,
  subprocesses, fork/exec, ctypes, signals to other processes, links, and file access outside the
  working directory (reads of the interpreter's own library paths excepted). This is the no-network
  fallback where ``unshare`` is unavailable.
- always: a wall-clock timeout that kills the process group, an empty temporary working
  directory, an environment with nothing inherited (``PATH``/``LANG`` fixed), stdout/stderr to
  size-capped files, and per-test timeouts.

Per-test results travel on a private pipe, tagged with a per-run nonce and the harness's pid
(so a forked copy of the harness cannot report). Containment protects the host; a program that
deliberately digs the nonce out of the harness's frames could still forge its own result, so
this is not a proof system against an adversarial solver.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

# The in-child harness. It reads its payload from stdin, hardens itself, then runs the code and
# each test, writing one JSON line per test to the result pipe.
_HARNESS = r'''
import json, os, sys, resource, signal
_p = json.loads(sys.stdin.buffer.read().decode("utf-8"))
_fd0 = os.open("/dev/null", os.O_RDONLY); os.dup2(_fd0, 0); os.close(_fd0)
_RFD, _NONCE, _PID = _p["result_fd"], _p["nonce"], os.getpid()
def _emit(rec, _w=os.write, _gp=os.getpid, _dumps=json.dumps, _exit=os._exit):
    if _gp() != _PID:
        _exit(1)
    rec["nonce"] = _NONCE
    _w(_RFD, (_dumps(rec) + "\n").encode())
_iso = []
_cwd = os.getcwd()
if _p.get("tmpfs_mb") and os.geteuid() == 0:
    try:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
        _opts = "size=%dm,mode=0700,uid=%d,gid=%d" % (_p["tmpfs_mb"], _p["uid"] or 0, _p["uid"] or 0)
        if _libc.mount(b"tmpfs", _cwd.encode(), b"tmpfs", 0, _opts.encode()) == 0:
            _iso.append("tmpfs"); os.chdir(_cwd)
        del ctypes, _libc
        for _m in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
            del sys.modules[_m]
    except Exception:
        pass
for _m in _p["preload"]:
    try:
        __import__(_m)
    except Exception:
        pass
_L = _p["limits"]
def _rl(res, soft, hard=None):
    try:
        resource.setrlimit(res, (soft, soft if hard is None else hard))
        return True
    except (ValueError, OSError):
        return False
_ok = _rl(resource.RLIMIT_CPU, _L["cpu_s"], _L["cpu_s"] + 1)
_ok &= _rl(resource.RLIMIT_AS, _L["memory_mb"] << 20)
_ok &= _rl(resource.RLIMIT_FSIZE, _L["fsize_mb"] << 20)
_ok &= _rl(resource.RLIMIT_NOFILE, 64)
_ok &= _rl(resource.RLIMIT_CORE, 0)
_ok &= _rl(resource.RLIMIT_NPROC, _L["nproc"] if _p["uid"] else 0)
if _ok:
    _iso.append("rlimits")
if _p["uid"]:
    os.setgroups([]); os.setgid(_p["uid"]); os.setuid(_p["uid"])
    _iso.append("uid")
if _p["audit"]:
    _allow_read = tuple(sorted({os.path.realpath(x) for x in sys.path + [sys.prefix, sys.base_prefix, sys.exec_prefix] if x}))
    _home = os.path.realpath(_cwd)
    _realpath, _fspath, _isinst = os.path.realpath, os.fspath, isinstance
    _BLOCK = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
              "socket.gethostbyaddr", "socket.sendto", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
              "os.fork", "os.forkpty", "os.kill", "os.killpg", "subprocess.Popen", "pty.spawn",
              "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.cdata", "ctypes.addressof",
              "os.symlink", "os.link", "signal.pthread_kill", "os.setuid", "os.setgid", "sys.remote_exec"}
    _NOIMPORT = {"ctypes", "_ctypes", "_posixsubprocess", "socket", "_socket", "subprocess", "multiprocessing",
                 "_multiprocessing", "pty", "ssl", "_ssl", "asyncio", "selectors", "urllib.request", "http.client"}
    _PATHEV = {"os.listdir": 0, "os.scandir": 0, "os.remove": 1, "os.rename": 1, "os.rmdir": 1, "os.mkdir": 1,
               "os.chmod": 1, "os.chown": 1, "os.utime": 1, "os.truncate": 1, "os.chdir": 0, "shutil.rmtree": 1,
               "shutil.copyfile": 1, "shutil.move": 1, "os.chflags": 1, "os.mkfifo": 1, "os.mknod": 1}
    def _inside(path, write):
        if _isinst(path, int):
            return True
        try:
            rp = _realpath(_fspath(path).decode() if _isinst(_fspath(path), bytes) else _fspath(path))
        except Exception:
            return False
        if rp == _home or rp.startswith(_home + "/"):
            return True
        if write:
            return False
        if rp in ("/dev/null", "/dev/urandom", "/dev/random"):
            return True
        return any(rp == a or rp.startswith(a + "/") for a in _allow_read)
    def _hook(event, args):
        if event in _BLOCK:
            raise PermissionError("sandbox: %s is not allowed" % event)
        if event == "import":
            if args[0] in _NOIMPORT or args[0].split(".")[0] in _NOIMPORT:
                raise PermissionError("sandbox: import of %s is not allowed" % args[0])
        elif event == "open":
            path, mode, flags = args
            write = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                mode is None and flags is not None and (flags & 3 or flags & 0o100))
            if not _inside(path, write):
                raise PermissionError("sandbox: access to %r is not allowed" % (path,))
        elif event in _PATHEV and args:
            if not _inside(args[0] if args[0] is not None else ".", bool(_PATHEV[event])):
                raise PermissionError("sandbox: %s on %r is not allowed" % (event, args[0]))
    sys.addaudithook(_hook)
    _iso.append("audit")
class _TestTimeout(BaseException):
    pass
def _alarm(signum, frame):
    raise _TestTimeout()
signal.signal(signal.SIGALRM, _alarm)
_emit({"event": "start", "isolation": _iso})
_ns = {"__name__": "__main__", "__builtins__": __builtins__}
def _run(src, filename):
    signal.setitimer(signal.ITIMER_REAL, _L["test_timeout_s"])
    try:
        exec(compile(src, filename, "exec"), _ns)
        return None
    except _TestTimeout:
        return "Timeout: took longer than %ss" % _L["test_timeout_s"]
    except BaseException as e:
        return ("%s: %s" % (type(e).__name__, e))[:500]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
_err = _run(_p["code"], "<solution>")
if _err is not None:
    _emit({"event": "code", "error": _err})
for _i, _t in enumerate(_p["tests"]):
    _e = _err if _err is not None else _run(_t, "<test %d>" % _i)
    _emit({"event": "test", "index": _i, "passed": _e is None, "error": _e})
_emit({"event": "done"})
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
'''

# Modules imported before privileges drop (the interpreter may sit where an unprivileged uid
# cannot read); a solution may import any of these.
PRELOAD = (
    "math cmath re collections collections.abc itertools functools heapq bisect string fractions decimal "
    "statistics typing dataclasses random copy operator enum array datetime numbers textwrap unicodedata "
    "hashlib struct io contextlib abc types json base64 binascii"
).split()


@dataclass
class SandboxLimits:
    """Resource limits for one sandboxed run (see SandboxConfig for the documented defaults)."""

    cpu_s: int = 5
    wall_s: float = 20.0
    memory_mb: int = 1024
    fsize_mb: int = 16
    nproc: int = 32
    test_timeout_s: float = 5.0
    tmpfs_mb: int = 64
    audit: bool = True
    namespaces: bool = True
    drop_uid: bool = True
    output_bytes: int = 4096


@dataclass
class TestResult:
    index: int
    test: str
    passed: bool
    error: str | None = None


@dataclass
class SandboxResult:
    """Outcome of one run: ``passed`` only when every test ran and passed."""

    passed: bool
    status: str  # ok | failed | timeout | crashed | error
    tests: list[TestResult] = field(default_factory=list)
    code_error: str | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    isolation: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=None)
def unshare_prefix() -> tuple[str, ...]:
    """The ``unshare`` command line this host supports (empty when none works)."""
    exe = shutil.which("unshare")
    if not exe:
        return ()
    base = [exe, "--net", "--pid", "--fork", "--kill-child", "--mount"]
    candidates = [base] if os.geteuid() == 0 else []
    candidates.append(base[:1] + ["--map-root-user"] + base[1:])
    for cmd in candidates:
        try:
            r = subprocess.run(cmd + ["true"], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0:
            return tuple(cmd)
    return ()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass


def _tail(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_tests(code: str, tests: list[str], limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` then each statement in ``tests`` (e.g. ``assert f(1) == 2``) in the sandbox.

    Never raises for anything the program does; every test that did not report a pass
    (crash, kill, timeout, blocked operation) counts as failed with the reason.
    """
    lim = limits or SandboxLimits()
    t0 = time.monotonic()
    prefix = unshare_prefix() if lim.namespaces else ()
    uid = 0
    if lim.drop_uid and os.geteuid() == 0 and "--map-root-user" not in prefix:
        uid = random.randrange(200_000, 1_200_000)
    work = tempfile.mkdtemp(prefix="curate-sbx-")
    home = os.path.join(work, "cwd")
    os.mkdir(home, 0o700)
    if uid:
        os.chown(home, uid, uid)
    out_path, err_path = os.path.join(work, "stdout"), os.path.join(work, "stderr")
    nonce = secrets.token_hex(16)
    rfd, wfd = os.pipe()
    payload = {
        "code": code,
        "tests": list(tests),
        "nonce": nonce,
        "result_fd": wfd,
        "uid": uid,
        "audit": lim.audit,
        "preload": PRELOAD if uid else [],
        "tmpfs_mb": lim.tmpfs_mb if prefix and "--map-root-user" not in prefix else 0,
        "limits": {"cpu_s": int(lim.cpu_s), "memory_mb": int(lim.memory_mb), "fsize_mb": int(lim.fsize_mb),
                   "nproc": int(lim.nproc), "test_timeout_s": float(lim.test_timeout_s)},
    }
    cmd = [*prefix, sys.executable, "-I", "-c", _HARNESS]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    lines: list[dict] = []
    status, rc = "ok", None
    try:
        with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=fo, stderr=fe, cwd=home, env=env,
                                        pass_fds=(wfd,), start_new_session=True, close_fds=True)
            except OSError as e:
                os.close(wfd)
                return SandboxResult(False, "error", _all_failed(tests, f"sandbox could not start: {e}"),
                                     wall_s=time.monotonic() - t0)
            os.close(wfd)
            wfd = -1
            try:
                proc.stdin.write(json.dumps(payload).encode())
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            buf = _read_until(rfd, proc, t0 + lim.wall_s)
            if buf is None:
                status = "timeout"
                _kill_group(proc)
                buf = b""
            try:
                rc = proc.wait(timeout=max(0.5, t0 + lim.wall_s - time.monotonic()))
            except subprocess.TimeoutExpired:
                status = "timeout"
            _kill_group(proc)
            if rc is None:
                rc = proc.wait()
            buf += _drain(rfd)
    finally:
        if wfd >= 0:
            os.close(wfd)
        os.close(rfd)
    for raw in buf.splitlines():
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("nonce") == nonce:
            lines.append(rec)
    result = _assemble(tests, lines, status, rc, lim)
    result.stdout = _tail(out_path, lim.output_bytes)
    result.stderr = _tail(err_path, lim.output_bytes)
    result.wall_s = round(time.monotonic() - t0, 3)
    shutil.rmtree(work, ignore_errors=True)
    return result


def _read_until(fd: int, proc: subprocess.Popen, deadline: float) -> bytes | None:
    """Read the result pipe until the harness closes it; None when the wall deadline passed."""
    import select

    chunks, total = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            if proc.poll() is not None:
                chunks.append(_drain(fd))
                return b"".join(chunks)
            continue
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        total += len(data)
        if total > (8 << 20):  # a flood on the result pipe is not a result
            return b"".join(chunks)
        chunks.append(data)


def _drain(fd: int) -> bytes:
    import select

    out = b""
    while select.select([fd], [], [], 0)[0]:
        data = os.read(fd, 65536)
        if not data or len(out) > (8 << 20):
            break
        out += data
    return out


def _all_failed(tests: list[str], why: str) -> list[TestResult]:
    return [TestResult(i, t, False, why) for i, t in enumerate(tests)]


def _assemble(tests: list[str], lines: list[dict], status: str, rc: int | None, lim: SandboxLimits) -> SandboxResult:
    by_index: dict[int, dict] = {}
    code_error, isolation, done = None, [], False
    for rec in lines:
        ev = rec.get("event")
        if ev == "start":
            isolation = [str(x) for x in rec.get("isolation", [])]
        elif ev == "code":
            code_error = str(rec.get("error"))
        elif ev == "test" and isinstance(rec.get("index"), int) and rec["index"] not in by_index:
            by_index[rec["index"]] = rec
        elif ev == "done":
            done = True
    if status == "ok" and not done:
        status = "crashed"
    if rc not in (0, None) and status == "ok":
        status = "crashed"
    missing = {
        "timeout": f"killed after the wall timeout of {lim.wall_s}s",
        "crashed": f"sandbox process ended without reporting (exit status {rc}; CPU or memory limit, or a crash)",
    }.get(status, "no result reported")
    results = []
    for i, t in enumerate(tests):
        rec = by_index.get(i)
        if rec is None:
            results.append(TestResult(i, t, False, missing))
        else:
            results.append(TestResult(i, t, bool(rec.get("passed")), rec.get("error")))
    if "netns" not in isolation and unshare_prefix() and lim.namespaces and lines:
        isolation = ["netns", "pidns", "mountns", *isolation]
    passed = status == "ok" and code_error is None and all(r.passed for r in results)
    if status == "ok" and not passed:
        status = "failed"
    return SandboxResult(passed, status, results, code_error, rc, isolation=isolation)
