"""Run untrusted (model-written) Python against tests, judged outside the untrusted process.

Containment (bubblewrap; required — without a working ``bwrap`` code verification raises
:class:`SandboxUnavailable`, there is no weaker fallback that still says "verified"):

- every namespace unshared (user, mount, pid, net, ipc, uts, cgroup): no network but a downed
  loopback, no view of host processes, and ``--die-with-parent``/``--new-session`` so every
  process the program forks dies with the sandbox;
- a filesystem of read-only binds of only the Python prefix (its stdlib) and ``/usr/lib``
  (``/lib``, ``/lib64``) for shared libraries — not the project, not ``/etc``, not ``/root`` —
  plus a fresh ``/proc``, a minimal ``/dev`` and a size-capped tmpfs working directory
  (``/tmp``), the only writable place;
- uid/gid 65534 inside, and, when the caller is root, 65534 on the host too (the parent binds
  the Python prefix into a private mount namespace first, then drops to nobody and starts
  ``bwrap`` unprivileged), so ``RLIMIT_NPROC`` binds and nothing on the host is the sandbox's;
- rlimits set in the parent-side child before ``exec``: CPU seconds, address space, file
  size, open files, processes, no core dumps; an environment with nothing inherited.

Judgement: the sandbox only computes. Each test is an input with an expected output; the input
goes in, the output comes back as one JSON line, and the trusted parent compares it with the
expected value, which never enters the sandbox. A value that does not serialise to plain JSON
(an object with an always-true ``__eq__``, say) is a failure; forged lines, a patched harness or
prints that look like results cannot change an expected value they never see. The parent
enforces each test's time limit: when a test hangs or kills its process, the sandbox is torn down,
the test fails, and a fresh sandbox runs the remaining tests.

API::

    run_cases(code, tests, entry_point=None, limits=None) -> SandboxResult
        tests: CallTest(args, expected)            f(*args) == expected   (HumanEval / MBPP)
               IOTest(stdin, expected_stdout)      program stdout == expected (CodeContests;
                                                   lines compared with trailing blanks dropped)
               ExprTest(expr, op, expected)        eval(expr) <op> expected, op in ==, !=, <, <=,
                                                   >, >=, in, not in, is, is not, truthy, falsy,
                                                   close (abs difference <= tol)
    tests_from_asserts(lines) -> list[Test]        'assert add(1, 2) == 3' -> ExprTest('add(1, 2)',
                                                   '==', 3); a line that is not "<expr> <op>
                                                   <literal>" (or a comparison computed inside the
                                                   sandbox) becomes an untrusted ExecTest
    split_asserts(code) -> (code, tests)           top-level asserts of a program as tests
    run_tests(code, assert_lines, limits)          compatibility: tests_from_asserts + run_cases

``SandboxResult.passed`` (= ``verified``): there were tests, every one passed, and every one was
judged by the parent. An ``ExecTest`` (an assert run inside the sandbox, which the program can
forge) can pass on its own (``TestResult.passed``, ``trusted=False``) but then the run is
``status="untrusted"``, ``trusted=False`` and not ``passed``: existing callers that check
``passed`` never count it as verified.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Union

SANDBOX_UID = 65534
MAX_LINE = 16 << 20  # one response line from the sandbox
MAX_TOTAL = 64 << 20  # all bytes read from one sandbox


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces: code cannot be verified here."""


# -------------------------------------------------------------------------- tests


@dataclass
class CallTest:
    args: list
    expected: Any
    kwargs: dict | None = None
    op: str = "=="
    tol: float = 0.0

    def describe(self, entry_point: str | None = None) -> str:
        a = ", ".join([repr(x) for x in self.args] + [f"{k}={v!r}" for k, v in (self.kwargs or {}).items()])
        return f"{entry_point or 'f'}({a}) {self.op} {self.expected!r}"


@dataclass
class ExprTest:
    expr: str
    op: str = "=="
    expected: Any = None
    tol: float = 0.0
    source: str = ""

    def describe(self, entry_point: str | None = None) -> str:
        return self.source or f"{self.expr} {self.op} {self.expected!r}"


@dataclass
class IOTest:
    stdin: str
    expected_stdout: str

    def describe(self, entry_point: str | None = None) -> str:
        return f"stdin {self.stdin[:60]!r} -> {self.expected_stdout[:60]!r}"


@dataclass
class ExecTest:
    """A statement run inside the sandbox; it passes when it raises nothing. Untrusted."""

    source: str

    def describe(self, entry_point: str | None = None) -> str:
        return self.source


Test = Union[CallTest, ExprTest, IOTest, ExecTest]

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
        "is": operator.is_, "is not": operator.is_not}
_AST_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_SWAP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _judged_inside(node: ast.AST) -> bool:
    """True when evaluating ``node`` would itself compare or negate (a verdict made in the sandbox)."""
    return any(isinstance(n, (ast.Compare, ast.BoolOp, ast.Lambda)) or (isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not))
               for n in ast.walk(node))


def _assert_to_test(stmt: ast.Assert, source: str) -> Test:
    t = stmt.test
    if isinstance(t, ast.Compare) and len(t.ops) == 1:
        op = _AST_OPS[type(t.ops[0])]
        left, right = t.left, t.comparators[0]
        lok, lval = _literal(left)
        rok, rval = _literal(right)
        # abs(E - L) < tol  (HumanEval's float checks)
        if (op in ("<", "<=") and rok and isinstance(rval, (int, float)) and isinstance(left, ast.Call)
                and isinstance(left.func, ast.Name) and left.func.id == "abs" and len(left.args) == 1
                and isinstance(left.args[0], ast.BinOp) and isinstance(left.args[0].op, ast.Sub)):
            e, l_node = left.args[0].left, left.args[0].right
            ok, target = _literal(l_node)
            if not ok:
                ok, target = _literal(e)
                e = left.args[0].right
            if ok and isinstance(target, (int, float)) and not _judged_inside(e):
                return ExprTest(ast.unparse(e), "close", target, float(rval), source)
        if rok and not lok and not _judged_inside(left):
            if op not in ("is", "is not") or rval in (None, True, False):
                return ExprTest(ast.unparse(left), op, rval, 0.0, source)
        if lok and not rok and op in _SWAP and not _judged_inside(right):
            return ExprTest(ast.unparse(right), _SWAP[op], lval, 0.0, source)
        return ExecTest(source)
    if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) and not _judged_inside(t.operand):
        return ExprTest(ast.unparse(t.operand), "falsy", None, 0.0, source)
    if not _judged_inside(t) and not _literal(t)[0]:
        return ExprTest(ast.unparse(t), "truthy", None, 0.0, source)
    return ExecTest(source)


def tests_from_asserts(lines: list[str]) -> list[Test]:
    """Assert lines → tests the parent can judge (ExprTest), else untrusted ExecTests."""
    out: list[Test] = []
    for line in lines:
        try:
            mod = ast.parse(line)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            out.append(ExecTest(line))
            continue
        if len(mod.body) == 1 and isinstance(mod.body[0], ast.Assert):
            out.append(_assert_to_test(mod.body[0], line.strip()))
        else:
            out.append(ExecTest(line))
    return out


def split_asserts(code: str) -> tuple[str, list[Test]]:
    """A program's top-level asserts that the parent can judge, removed from it, as tests
    (they then run after the rest of the program). Other statements, asserts included, stay."""
    try:
        mod = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return code, []
    keep, tests = [], []
    for stmt in mod.body:
        if isinstance(stmt, ast.Assert):
            t = _assert_to_test(stmt, ast.unparse(stmt))
            if not isinstance(t, ExecTest):
                tests.append(t)
                continue
        keep.append(stmt)
    if not tests:
        return code, []
    return ast.unparse(ast.Module(body=keep, type_ignores=[])), tests


# -------------------------------------------------------------------------- values

# Shared by the harness (to encode) and the parent (to encode expected values the same way).
_PLAIN_SRC = r'''
def _plain(v, _depth=0):
    if _depth > 200:
        raise ValueError("value nested too deeply")
    if v is None or v is True or v is False:
        return v
    if isinstance(v, bool):
        return bool.__bool__(v)
    if isinstance(v, int):
        return int.__int__(v)
    if isinstance(v, float):
        return float.__float__(v)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x, _depth + 1) for x in (list.__iter__(v) if isinstance(v, list) else tuple.__iter__(v))]
    if isinstance(v, (set, frozenset)):
        return {"$set": [_plain(x, _depth + 1) for x in (set.__iter__(v) if isinstance(v, set) else frozenset.__iter__(v))]}
    if isinstance(v, dict):
        items = [(k, dict.__getitem__(v, k)) for k in dict.__iter__(v)]
        if all(type(k) is str for k, _ in items):
            return {"$dict" if k in ("$set", "$dict") else k: _plain(x, _depth + 1) for k, x in items} if not any(k in ("$set", "$dict") for k, _ in items) else {"$dict": [[k, _plain(x, _depth + 1)] for k, x in items]}
        return {"$dict": [[_plain(k, _depth + 1), _plain(x, _depth + 1)] for k, x in items]}
    raise TypeError("result of type %s is not a plain value (None, bool, int, float, str, list, tuple, dict, set)" % type(v).__name__)
'''
_ns: dict = {}
exec(_PLAIN_SRC, _ns)
_plain = _ns["_plain"]


def _canon(v: Any) -> Any:
    """A decoded JSON value in canonical form (sets and non-string-keyed dicts sorted), made of
    plain types only, so comparing two of them with == is trustworthy."""
    if isinstance(v, list):
        return [_canon(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"$set"} and isinstance(v["$set"], list):
            return ("$set", tuple(sorted((_canon(x) for x in v["$set"]), key=_sort_key)))
        if set(v) == {"$dict"} and isinstance(v["$dict"], list):
            pairs = [(_canon(p[0]), _canon(p[1])) for p in v["$dict"] if isinstance(p, list) and len(p) == 2]
            return ("$dict", tuple(sorted(pairs, key=lambda kv: _sort_key(kv[0]))))
        return {k: _canon(x) for k, x in v.items()}
    return v


def _sort_key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=repr)


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return ("$obj", tuple(sorted((k, _hashable(x)) for k, x in v.items())))
    return v


def _expected_plain(value: Any) -> Any:
    return _canon(json.loads(json.dumps(_plain(value))))


def _judge_value(test: CallTest | ExprTest, got: Any) -> str | None:
    """None when the sandbox's decoded value satisfies the test, else why not."""
    op = test.op
    if op in ("truthy", "falsy"):
        truth = bool(got[1]) if _is_tagged(got) else bool(got)
        if truth == (op == "truthy"):
            return None
        return f"got {got!r}, expected a {op} value"
    if op == "close":
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"got {got!r}, expected a number within {test.tol} of {test.expected!r}"
        return None if abs(got - test.expected) <= test.tol else f"got {got!r}, expected {test.expected!r} ± {test.tol}"
    exp = _expected_plain(test.expected)
    if op in ("in", "not in"):
        if isinstance(exp, str):
            ok = isinstance(got, str) and got in exp
        elif isinstance(exp, dict):
            ok = isinstance(got, str) and got in exp
        elif _is_tagged(exp):
            keys = [kv[0] for kv in exp[1]] if exp[0] == "$dict" else list(exp[1])
            ok = _hashable(got) in {_hashable(k) for k in keys}
        elif isinstance(exp, list):
            ok = _hashable(got) in {_hashable(x) for x in exp}
        else:
            ok = False
        ok = ok if op == "in" else not ok
        return None if ok else f"got {got!r}, expected it {op} {test.expected!r}"
    if op in ("is", "is not"):
        ok = (got is exp) if op == "is" else (got is not exp)
        return None if ok else f"got {got!r}, expected {op} {test.expected!r}"
    try:
        ok = bool(_OPS[op](got, exp))
    except TypeError:
        ok = False
    return None if ok else f"got {got!r}, expected {op} {test.expected!r}"


def _is_tagged(v: Any) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and v[0] in ("$set", "$dict")


def _norm_stdout(s: str) -> list[str]:
    lines = [ln.rstrip() for ln in s.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# -------------------------------------------------------------------------- harness

# Runs inside the sandbox. It owns nothing the parent trusts: it reads one request per line on
# a private copy of stdin and writes one JSON line per request on a private copy of stdout; the
# program's own stdin is /dev/null and its stdout goes to stderr.
_HARNESS = _PLAIN_SRC + r'''
import builtins, json, os, sys
_IN = os.fdopen(os.dup(0), "rb", buffering=0)
_OUT = os.dup(1)
_fd = os.open("/dev/null", os.O_RDONLY); os.dup2(_fd, 0); os.close(_fd)
os.dup2(2, 1)
sys.stdin = open(0, "r", closefd=False)
sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")
builtins.exit = builtins.quit = sys.exit
def _line():
    buf = b""
    while not buf.endswith(b"\n"):
        c = _IN.readline()
        if not c:
            os._exit(0)
        buf += c
    return json.loads(buf)
def _send(rec):
    try:
        data = (json.dumps(rec) + "\n").encode()
    except BaseException as e:
        data = (json.dumps({"token": rec.get("token"), "error": "unserialisable result: " + _err(e)}) + "\n").encode()
    while data:
        n = os.write(_OUT, data)
        data = data[n:]
def _err(e):
    return ("%s: %s" % (type(e).__name__, e))[:1000]
def _value(f):
    try:
        v = f()
    except BaseException as e:
        return {"error": _err(e)}
    try:
        return {"value": _plain(v)}
    except BaseException as e:
        return {"error": "unserialisable result: " + _err(e)}
def _stdio(code, data):
    with open("/tmp/.stdin", "w") as fh:
        fh.write(data)
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open("/tmp/.stdin", os.O_RDONLY); os.dup2(fd, 0); os.close(fd)
            fd = os.open("/tmp/.stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.dup2(fd, 1); os.close(fd)
            os.close(_OUT); _IN.close()
            sys.stdin = open(0, "r", closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            rc = 0
            try:
                exec(compile(code, "<solution>", "exec"), {"__name__": "__main__", "__builtins__": builtins})
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException as e:
                sys.stderr.write(_err(e) + "\n")
                rc = 1
            sys.stdout.flush()
        except BaseException:
            rc = 1
        os._exit(rc & 255)
    _, st = os.waitpid(pid, 0)
    with open("/tmp/.stdout", "rb") as fh:
        out = fh.read(@MAXOUT@)
    if os.WIFSIGNALED(st):
        return {"error": "killed by signal %d" % os.WTERMSIG(st), "stdout": out.decode("utf-8", "replace")}
    return {"stdout": out.decode("utf-8", "replace"), "exit": os.WEXITSTATUS(st)}
_init = _line()
_code, _ep = _init["code"], _init.get("entry_point")
_ns = {"__name__": "__main__", "__builtins__": builtins}
if _init.get("exec_code"):
    try:
        exec(compile(_code, "<solution>", "exec"), _ns)
    except BaseException as e:
        _send({"token": _init["token"], "code_error": _err(e)})
        os._exit(0)
_send({"token": _init["token"], "ready": True})
while True:
    _r = _line()
    _k = _r["kind"]
    if _k == "call":
        def _f(r=_r):
            fn = _ns.get(_ep)
            if fn is None:
                raise NameError("name %r is not defined" % _ep)
            return fn(*r["args"], **r["kwargs"])
        _res = _value(_f)
    elif _k == "expr":
        _res = _value(lambda r=_r: eval(compile(r["expr"], "<test>", "eval"), _ns))
    elif _k == "exec":
        _res = _value(lambda r=_r: exec(compile(r["source"], "<test>", "exec"), _ns) or True)
    else:
        _res = _stdio(_code, _r["stdin"])
    _res["token"] = _r["token"]
    sys.stdout.flush()
    _send(_res)
'''


# -------------------------------------------------------------------------- containment


@dataclass
class SandboxLimits:
    """Resource limits for one sandboxed run (see SandboxConfig for the documented defaults)."""

    cpu_s: int = 5  # per sandbox process, all its tests together (a fresh process after a kill)
    wall_s: float = 20.0  # all tests of one run_cases call, restarts included
    memory_mb: int = 1024
    fsize_mb: int = 16
    nproc: int = 32
    nofile: int = 64
    test_timeout_s: float = 5.0
    startup_s: float = 5.0  # extra allowance for starting the sandbox and running the program's top level
    tmpfs_mb: int = 64
    output_bytes: int = 4096


@dataclass
class TestResult:
    index: int
    test: str
    passed: bool
    error: str | None = None
    trusted: bool = True


@dataclass
class SandboxResult:
    """Outcome of one run: ``passed`` (= ``verified``) only when there were tests, every one
    passed, and every one was judged by the parent (no ExecTest)."""

    passed: bool
    status: str  # ok | failed | untrusted | timeout | crashed | error
    tests: list[TestResult] = field(default_factory=list)
    code_error: str | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    isolation: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    trusted: bool = True
    verified: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


ISOLATION = ["bwrap", "userns", "mountns", "pidns", "netns", "ipcns", "utsns", "cgroupns", "uid", "ro-binds",
             "tmpfs", "rlimits", "no-new-privs", "die-with-parent", "new-session"]


def _python() -> tuple[str, list[str]]:
    """The real interpreter (not a venv's link) and the directories it needs."""
    exe = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    dirs = [prefix]
    if not exe.startswith(prefix + os.sep):
        dirs.append(os.path.dirname(exe))
    return exe, dirs


def _lib_binds() -> list[str]:
    args: list[str] = []
    for d in ("/usr/lib", "/usr/lib64", "/usr/lib32"):
        if os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for d in ("/lib", "/lib64", "/lib32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    return args


def _staging() -> bool:
    return os.geteuid() == 0


def _bwrap_argv(lim: SandboxLimits) -> list[str]:
    exe = shutil.which("bwrap")
    if not exe:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: code cannot be verified "
                                 "(apt-get install bubblewrap; `make test` does this when root)")
    py, dirs = _python()
    argv = [exe, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--new-session", "--clearenv", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PATH", "/nonexistent", "--setenv", "PYTHONHASHSEED", "0",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "HOME", "/tmp",
            *_lib_binds()]
    for i, d in enumerate(dirs):
        # As root the parent has bound each directory at /tmp/.curate-py<i> in a private mount
        # namespace (the real path may sit under a directory nobody cannot enter).
        argv += ["--ro-bind", f"/tmp/.curate-py{i}" if _staging() else d, d]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(int(lim.tmpfs_mb) << 20), "--tmpfs", "/tmp",
             "--chdir", "/tmp", "--", py, "-I", "-B", "-c"]
    return argv


_libc = None


def _procs_of(uid: int) -> int:
    """Processes the host already runs as ``uid`` (RLIMIT_NPROC counts them too)."""
    n = 0
    try:
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    n += os.stat(f"/proc/{name}").st_uid == uid
                except OSError:
                    pass
    except OSError:
        pass
    return n


def _preexec(lim: SandboxLimits, dirs: list[str]):
    import resource

    staging = _staging()
    # RLIMIT_NPROC counts every process of the sandbox's host uid (nobody when staged, else the
    # caller's): allow ``nproc`` more than already run, so other processes do not starve it.
    nproc = int(lim.nproc) + _procs_of(SANDBOX_UID if staging else os.getuid())
    if staging:
        global _libc
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        libc = _libc

    def fn():
        if staging:
            def chk(rc, what):
                if rc != 0:
                    import ctypes

                    err = ctypes.get_errno()
                    raise OSError(err, f"{what}: {os.strerror(err)}")

            chk(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")  # a private mount namespace
            chk(libc.mount(b"none", b"/", None, 16384 | (1 << 18), None), "make / private")  # MS_REC|MS_PRIVATE
            chk(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 2 | 4 | 8, b"size=64k,mode=755"), "tmpfs")  # nosuid nodev noexec
            for i, d in enumerate(dirs):
                os.mkdir(f"/tmp/.curate-py{i}", 0o755)
                chk(libc.mount(d.encode(), f"/tmp/.curate-py{i}".encode(), None, 4096 | 16384, None), "bind")  # MS_BIND|MS_REC
        for res, val in ((resource.RLIMIT_CPU, int(lim.cpu_s)), (resource.RLIMIT_AS, int(lim.memory_mb) << 20),
                         (resource.RLIMIT_FSIZE, int(lim.fsize_mb) << 20), (resource.RLIMIT_NOFILE, int(lim.nofile)),
                         (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (val, val))
        if staging:
            os.setgroups([])
            os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
            os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)

    return fn


@lru_cache(maxsize=None)
def check_bwrap() -> str:
    """'' when a contained interpreter starts on this host, else why not (cached)."""
    lim = SandboxLimits()
    try:
        argv = _bwrap_argv(lim)
    except SandboxUnavailable as e:
        return str(e)
    try:
        r = subprocess.run(argv + ["print(6 * 7)"], capture_output=True, timeout=30, cwd="/", env={},
                           preexec_fn=_preexec(lim, _python()[1]), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        return f"bubblewrap could not start: {e}"
    if r.returncode != 0 or r.stdout.strip() != b"42":
        return f"bubblewrap could not start python (exit {r.returncode}): {r.stderr.decode('utf-8', 'replace')[-500:]}"
    return ""


def available() -> bool:
    return not check_bwrap()


class _Session:
    """One sandbox process, driven one request at a time."""

    def __init__(self, lim: SandboxLimits):
        self.lim = lim
        argv = _bwrap_argv(lim)
        # bwrap reports the host pid of the sandbox's pid 1 on --info-fd: close() kills that one
        # first, so bwrap reaps it and no orphan (or zombie) is left to the host's init.
        self.info_r, info_w = os.pipe()
        argv[1:1] = ["--info-fd", str(info_w)]
        argv.append(_HARNESS.replace("@MAXOUT@", str(MAX_LINE // 2)))
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         cwd="/", env={}, close_fds=True, start_new_session=True, pass_fds=(info_w,),
                                         preexec_fn=_preexec(lim, _python()[1]))
        except BaseException:
            os.close(self.info_r)
            raise
        finally:
            os.close(info_w)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(f.fileno(), False)
        self.buf = b""
        self.total = 0
        self.err = bytearray()

    def request(self, rec: dict, timeout: float) -> dict | str:
        """The response to ``rec`` (a dict), or why there is none: 'timeout' or 'died'."""
        token = secrets.token_hex(8)
        out = (json.dumps({**rec, "token": token}) + "\n").encode()
        deadline = time.monotonic() + timeout
        wfd, rfd, efd = self.proc.stdin.fileno(), self.proc.stdout.fileno(), self.proc.stderr.fileno()
        reading = [rfd, efd]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            try:
                r, w, _ = select.select(reading, [wfd] if out else [], [], left)
            except ValueError:
                return "died"
            if w:
                try:
                    n = os.write(wfd, out[: 1 << 16])
                    out = out[n:]
                except BlockingIOError:
                    pass
                except OSError:
                    return "died"
            if efd in r:
                data = self._read(efd)
                if data is None:
                    reading.remove(efd)
                else:
                    self.err += data
                    if len(self.err) > 2 * self.lim.output_bytes:
                        del self.err[: len(self.err) - self.lim.output_bytes]
            if rfd in r:
                data = self._read(rfd)
                if data is None:
                    return "died"
                self.buf += data
                self.total += len(data)
                if self.total > MAX_TOTAL:
                    return "died"
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    try:
                        resp = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(resp, dict) and resp.get("token") == token:
                        return resp
                if len(self.buf) > MAX_LINE:
                    return "died"

    @staticmethod
    def _read(fd: int) -> bytes | None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        return data or None

    def _child_pid(self) -> int | None:
        data = b""
        try:
            while select.select([self.info_r], [], [], 0.5 if not data else 0)[0]:
                chunk = os.read(self.info_r, 4096)
                if not chunk:
                    break
                data += chunk
                if b"}" in data:
                    break
            pid = json.loads(data.decode()).get("child-pid")
            return pid if isinstance(pid, int) and pid > 1 else None
        except (OSError, ValueError, AttributeError):
            return None

    def close(self) -> int | None:
        pid = self._child_pid() if self.proc.poll() is None else None
        os.close(self.info_r)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)  # the sandbox's pid 1: the kernel kills the rest of its pid namespace
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            self.proc.kill()  # bwrap; --die-with-parent takes every process in the sandbox with it
        except ProcessLookupError:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        return rc

    def stderr(self) -> str:
        return bytes(self.err[-self.lim.output_bytes:]).decode("utf-8", "replace")


def _request_for(test: Test) -> dict:
    if isinstance(test, CallTest):
        return {"kind": "call", "args": list(test.args), "kwargs": dict(test.kwargs or {})}
    if isinstance(test, ExprTest):
        return {"kind": "expr", "expr": test.expr}
    if isinstance(test, ExecTest):
        return {"kind": "exec", "source": test.source}
    return {"kind": "stdio", "stdin": test.stdin}


def _judge(test: Test, resp: dict) -> str | None:
    if isinstance(test, IOTest):
        if resp.get("error") is not None:
            return str(resp["error"])[:1000]
        if resp.get("exit") != 0:
            return f"exit status {resp.get('exit')!r}"
        got = resp.get("stdout")
        if not isinstance(got, str):
            return "no output"
        return None if _norm_stdout(got) == _norm_stdout(test.expected_stdout) else f"wrong output: {got[:200]!r}"
    if resp.get("error") is not None:
        return str(resp["error"])[:1000]
    if "value" not in resp:
        return "no value"
    if isinstance(test, ExecTest):
        return None if resp["value"] is True else "did not complete"
    return _judge_value(test, _canon(resp["value"]))


def run_cases(code: str, tests: list[Test], entry_point: str | None = None,
              limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` against ``tests`` in the sandbox; the parent judges every result.

    Raises SandboxUnavailable when bubblewrap cannot run here. Never raises for anything the
    program does: a crash, kill, timeout or unserialisable value fails that test with the reason.
    """
    why = check_bwrap()
    if why:
        raise SandboxUnavailable(why)
    lim = limits or SandboxLimits()
    t0 = time.monotonic()
    n = len(tests)
    errors: list[str | None] = [None] * n
    done = [False] * n
    code_error, status, rc, stderr = None, "ok", None, ""
    needs_code = any(not isinstance(t, IOTest) for t in tests)
    pending = list(range(n))
    restarts = 0
    while pending or (n == 0 and restarts == 0):
        left = lim.wall_s - (time.monotonic() - t0)
        if left <= 0:
            status = "timeout"
            for i in pending:
                errors[i], done[i] = f"not run: the run's wall limit of {lim.wall_s}s was spent", True
            break
        restarts += 1
        try:
            sess = _Session(lim)
        except (OSError, subprocess.SubprocessError) as e:
            status = "error"
            for i in pending:
                errors[i], done[i] = f"sandbox could not start: {e}", True
            break
        try:
            init = sess.request({"code": code, "entry_point": entry_point, "exec_code": needs_code},
                                min(left, lim.startup_s + lim.test_timeout_s))
            if isinstance(init, str) or "code_error" in init:
                if isinstance(init, str):
                    code_error = ("Timeout: the program's top level took too long" if init == "timeout"
                                  else "the sandbox process ended while running the program's top level (CPU or memory limit, or a crash)")
                    status = "timeout" if init == "timeout" else "crashed"
                else:
                    code_error = str(init["code_error"])[:1000]
                for i in pending:
                    errors[i], done[i] = code_error, True
                pending = []
                break
            for i in list(pending):
                left = lim.wall_s - (time.monotonic() - t0)
                if left <= 0:
                    break
                tl = min(lim.test_timeout_s, left)
                resp = sess.request(_request_for(tests[i]), tl)
                pending.remove(i)
                done[i] = True
                if isinstance(resp, str):
                    errors[i] = (f"Timeout: took longer than {tl:g}s" if resp == "timeout"
                                 else "the sandbox process was killed (CPU, memory or process limit, or a crash)")
                    break  # this sandbox is spent; a fresh one runs the rest
                errors[i] = _judge(tests[i], resp)
        finally:
            rc = sess.close()
            stderr = sess.stderr()
        if n == 0:
            break
    results = [TestResult(i, t.describe(entry_point), done[i] and errors[i] is None, errors[i] if done[i] else "not run",
                          not isinstance(t, ExecTest)) for i, t in enumerate(tests)]
    trusted = all(r.trusted for r in results)
    all_ran = code_error is None and n > 0 and all(r.passed for r in results)
    passed = all_ran and trusted
    if status == "ok" and any((r.error or "").startswith("Timeout") for r in results):
        status = "timeout"
    if status == "ok" and not passed:
        status = "untrusted" if all_ran else "failed"
    return SandboxResult(passed, status, results, code_error, rc, "", stderr, list(ISOLATION),
                         round(time.monotonic() - t0, 3), trusted, passed)


def run_tests(code: str, tests: list[str], limits: SandboxLimits | None = None) -> SandboxResult:
    """Compatibility: assert lines (``assert add(1, 2) == 3``) as tests; see tests_from_asserts.
    With no tests, the program's own top-level asserts are the tests (split_asserts)."""
    if tests:
        return run_cases(code, tests_from_asserts(tests), None, limits)
    code, found = split_asserts(code)
    return run_cases(code, found, None, limits)
