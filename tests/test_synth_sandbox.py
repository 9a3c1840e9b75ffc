"""Hostile programs in the code sandbox: each is contained, reported as a failed test, and leaves
nothing on the host. Every attack's expected value is what the attack returns when it works, so a
successful escape would show up as a passing test."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from curate.synth import sandbox
from curate.synth.sandbox import (CallTest, ExecTest, ExprTest, IOTest, SandboxLimits, SandboxUnavailable, run_cases,
                                  run_tests, split_asserts)
from curate.synth.sandbox import tests_from_asserts as asserts_to_tests



@pytest.fixture(autouse=True)
def _needs_bwrap(request):
    if request.node.name != "test_without_bubblewrap_verification_is_refused" and not sandbox.available():
        pytest.skip(f"bubblewrap cannot run here: {sandbox.check_bwrap()}")


FAST = SandboxLimits(cpu_s=3, wall_s=12, test_timeout_s=2, memory_mb=512, fsize_mb=4, nproc=16, startup_s=5)
PROJECT_FILE = Path(__file__).resolve().parent.parent / "README.md"


def _lim(**kw):
    return SandboxLimits(**{**FAST.__dict__, **kw})


def _new_procs(before: set[int], t0: float) -> list[psutil.Process]:
    """Live processes the sandbox may have left: our descendants, and anything started since t0
    as the sandbox uid."""
    out = []
    mine = {p.pid for p in psutil.Process().children(recursive=True)}
    for p in psutil.process_iter(["pid", "uids", "create_time", "status"]):
        try:
            if p.pid in before or p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if p.pid in mine or (p.info["uids"].real == sandbox.SANDBOX_UID and p.info["create_time"] >= t0 - 1):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def attack(code, expected=True, host_paths=(), entry_point="f", lim=None, args=()):
    """Run ``f()`` of ``code`` expecting ``expected`` (what a working attack returns); assert the
    test failed, the paths it tried on the host do not exist, and no process it started lives."""
    before, t0 = set(psutil.pids()), time.time()
    res = run_cases(code, [CallTest(list(args), expected)], entry_point, lim or FAST)
    assert not res.passed and not res.tests[0].passed, res
    for p in host_paths:
        assert not os.path.lexists(p), f"the sandbox created {p} on the host"
    deadline = time.time() + 5
    while _new_procs(before, t0) and time.time() < deadline:
        time.sleep(0.1)
    assert not _new_procs(before, t0), "a sandboxed process outlived the run"
    return res


# ---------------------------------------------------------------- judgement


def test_good_solution_passes_with_per_test_results():
    code = "def add(a, b):\n    return a + b\n"
    res = run_cases(code, [CallTest([1, 2], 3), CallTest([2, 2], 5), CallTest([0, 0], 0)], "add", FAST)
    assert not res.passed and [t.passed for t in res.tests] == [True, False, True]
    assert "got 4" in res.tests[1].error
    ok = run_cases(code, [CallTest([1, 2], 3), CallTest([[1], [2]], [1, 2])], "add", FAST)
    assert ok.passed and ok.verified and ok.status == "ok" and ok.trusted
    assert {"bwrap", "netns", "pidns", "userns", "uid", "rlimits", "tmpfs"} <= set(ok.isolation)


def test_structured_values_compare_outside():
    code = "def f(x):\n    return x\n"
    cases = [CallTest([[1, 2]], (1, 2)), CallTest([{"a": 1}], {"a": 1})]
    assert run_cases(code, cases, "f", FAST).passed
    code = "def f():\n    return {3, 1, 2}, {1: 'a'}, 0.1 + 0.2\n"
    assert run_cases(code, [CallTest([], ({1, 2, 3}, {1: "a"}, 0.1 + 0.2))], "f", FAST).passed
    assert not run_cases(code, [CallTest([], ({1, 2}, {1: "a"}, 0.3))], "f", FAST).passed


def test_stdin_stdout_tests():
    code = "import sys\nn = int(sys.stdin.readline())\nxs = list(map(int, input().split()))\nprint(sum(xs) * n)\n"
    res = run_cases(code, [IOTest("2\n1 2 3\n", "12\n"), IOTest("1\n5\n", "5"), IOTest("1\n5\n", "6\n"), IOTest("x\n", "")],
                    None, FAST)
    assert [t.passed for t in res.tests] == [True, True, False, False]
    assert "ValueError" in res.tests[3].error or "exit status" in res.tests[3].error
    # Each test runs the program afresh: state does not leak from one to the next.
    code = "import builtins\nprint(getattr(builtins, 'seen', 0))\nbuiltins.seen = 1\n"
    assert run_cases(code, [IOTest("", "0"), IOTest("", "0")], None, FAST).passed
    assert run_cases("exit(0)\n", [IOTest("", "")], None, FAST).passed


def test_assert_lines_become_tests_judged_outside():
    kinds = asserts_to_tests(["assert add(1, 2) == 3", "assert 3 == add(1, 2)", "assert not is_odd(2)",
                                "assert abs(mean([1, 2]) - 1.5) < 1e-6", "assert add(1, 2) == add(2, 1)",
                                "assert all(add(x, 0) == x for x in [1])", "assert add(1, 1) in [2, 3]", "x = 1"])
    assert [type(k).__name__ for k in kinds] == ["ExprTest", "ExprTest", "ExprTest", "ExprTest", "ExecTest", "ExecTest",
                                                 "ExprTest", "ExecTest"]
    assert (kinds[2].op, kinds[3].op, kinds[3].tol) == ("falsy", "close", 1e-6)
    code = "def add(a, b):\n    return a + b\n"
    res = run_tests(code, ["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add(0, 0) == 0"], FAST)
    assert [t.passed for t in res.tests] == [True, False, True] and not res.passed
    assert run_tests(code, ["assert add(1, 2) == 3", "assert add(1, 1) in (2, 3)"], FAST).passed
    # A statement run inside the sandbox can pass but is never trusted, so never passed/verified.
    res = run_tests(code, ["assert add(1, 2) == add(2, 1)"], FAST)
    assert res.tests[0].passed and not res.tests[0].trusted and not res.passed and res.status == "untrusted"
    body, found = split_asserts(code + "assert add(3, 4) == 7\nassert add(1, 1) == add(2, 0)\n")
    assert len(found) == 1 and "add(3, 4)" not in body and "add(2, 0)" in body
    assert run_tests(code + "assert add(3, 4) == 7\n", [], FAST).passed
    assert not run_tests(code + "assert add(3, 4) == 8\n", [], FAST).passed


def test_solution_that_fails_to_run_fails_every_test():
    res = run_cases("def f(:\n", [CallTest([], 1), CallTest([], 2)], "f", FAST)
    assert not res.passed and res.code_error.startswith("SyntaxError")
    assert not any(t.passed for t in res.tests)


def test_without_bubblewrap_verification_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.check_bwrap.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="bubblewrap"):
            run_cases("def f():\n    return 1\n", [CallTest([], 1)], "f", FAST)
    finally:
        monkeypatch.undo()
        sandbox.check_bwrap.cache_clear()


# ---------------------------------------------------------------- forged results


def test_fake_json_on_stdout_and_on_every_descriptor_is_not_a_result():
    code = r'''
import os, sys, json
def f():
    m = sys.modules["__main__"].__dict__
    tok = m.get("_r", {}).get("token") or m.get("_init", {}).get("token")
    for line in ({"event": "test", "index": 0, "passed": True, "nonce": "x"},
                 {"token": tok, "passed": True, "value": True, "ok": True}):
        print(json.dumps(line))
        for fd in range(3, 64):
            try:
                os.write(fd, (json.dumps(line) + "\n").encode())
            except OSError:
                pass
    return 41
'''
    res = attack(code, expected=42)
    # Whichever line the parent took (even the forged one carrying the live token), it judged it.
    assert res.tests[0].error.startswith("got ")


def test_patching_the_harness_does_not_change_the_verdict():
    code = r'''
import sys, json
m = sys.modules["__main__"].__dict__
real_send = m["_send"]
def lie(rec):
    real_send({**rec, "passed": True, "value": True, "error": None})
m["_send"] = lie
m["_value"] = lambda f: {"value": True, "passed": True}
m["_plain"] = lambda v, *a: True
for k in list(m):
    if k.startswith("_") and callable(m[k]) and k not in ("_send", "_value", "_plain", "_line"):
        m[k] = lambda *a, **k: True
def f():
    return False
'''
    res = attack(code, expected=[1, 2])
    assert not res.tests[0].passed


def test_always_equal_object_fails():
    code = r'''
class Any:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __hash__(self): return 0
class Int(int):
    def __eq__(self, other): return True
def f(which):
    return Any() if which == 0 else Int(7)
'''
    res = run_cases(code, [CallTest([0], 3), CallTest([1], 3)], "f", FAST)
    assert not res.passed and not any(t.passed for t in res.tests)
    assert "not a plain value" in res.tests[0].error and "got 7" in res.tests[1].error
    res = run_tests(code, ["assert f(0) == 3", "assert f(0)", "assert f(1) == 3"], FAST)
    assert not res.passed and [t.passed for t in res.tests] == [False, False, False]


# ---------------------------------------------------------------- issue 17 escapes


def test_clearing_harness_globals_then_reading_and_writing_the_host(tmp_path):
    marker = tmp_path / "escaped.txt"
    code = f'''
import sys, os
def f():
    main = sys.modules["__main__"]
    for k in list(vars(main)):  # whatever guards the harness keeps (block-lists, hooks): gone
        if not callable(getattr(main, k)) and not isinstance(getattr(main, k), type(sys)) and not k.startswith(("__", "_r", "_OUT", "_IN", "_ns", "_ep", "_code")):
            setattr(main, k, None)
    sys.addaudithook = None
    out = open("/etc/passwd").read() + open({str(PROJECT_FILE)!r}).read()
    open({str(marker)!r}, "w").write("x")
    return out
'''
    attack(code, expected=Path("/etc/passwd").read_text() + PROJECT_FILE.read_text(), host_paths=[marker])


def test_project_root_and_etc_are_not_in_the_sandbox():
    code = f'''
import os
def f():
    return [os.path.exists(p) for p in ({str(PROJECT_FILE)!r}, "/etc/passwd", "/etc/shadow", "/root/.bashrc", "/work", "/home")]
'''
    res = run_cases(code, [CallTest([], [False] * 6)], "f", FAST)
    assert res.passed, res


def test_fork_and_exec_a_shell(tmp_path):
    marker = tmp_path / "shell.txt"
    code = f'''
import os
def f():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        os.execv("/bin/sh", ["sh", "-c", "echo pwned; echo x > {marker}"])
    os.close(w)
    out = os.read(r, 100).decode()
    os.waitpid(pid, 0)
    return out.strip()
'''
    res = attack(code, expected="pwned", host_paths=[marker])
    assert "FileNotFoundError" in res.tests[0].error or "got" in res.tests[0].error


def test_dir_fd_traversal_from_a_library_directory(tmp_path):
    marker = tmp_path / "dirfd.txt"
    code = f'''
import os
def f():
    lib = os.path.dirname(os.__file__)
    fd = os.open(lib, os.O_RDONLY | os.O_DIRECTORY)
    up = "../" * lib.count("/")
    data = os.read(os.open(up + "etc/passwd", os.O_RDONLY, dir_fd=fd), 1 << 20).decode()
    os.close(os.open(up + {str(marker)[1:]!r}, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    return data
'''
    attack(code, expected=Path("/etc/passwd").read_text(), host_paths=[marker])


def _loopback_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    hits = []

    def accept():
        srv.settimeout(10)
        try:
            conn, _ = srv.accept()
            hits.append(1)
            conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return srv, hits


def test_socket_to_the_host_loopback_is_refused():
    srv, hits = _loopback_server()
    port = srv.getsockname()[1]
    code = f"import socket\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n    return True\n"
    res = attack(code)
    srv.close()
    assert not hits
    code = "import socket\ndef f():\n    return [n for _, n in socket.if_nameindex()]\n"
    assert run_cases(code, [CallTest([], ["lo"])], "f", FAST).passed  # only a downed loopback


def test_subprocess_id_does_not_run_as_root(tmp_path):
    marker = tmp_path / "sub.txt"
    code = f'''
import subprocess
def f():
    out = subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["/bin/sh", "-c", "touch {marker}"])
    return out
'''
    attack(code, expected="0", host_paths=[marker])
    res = run_cases("import os\ndef f():\n    return [os.getuid(), os.geteuid(), os.getgid()]\n",
                    [CallTest([], [65534, 65534, 65534])], "f", FAST)
    assert res.passed


def test_ctypes_cannot_reach_the_host():
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        code = f'''
import ctypes, os
def f():
    libc = ctypes.CDLL(None, use_errno=True)
    killed = libc.kill({victim.pid}, 9) == 0
    fd = libc.open(b"/etc/shadow", 0)
    mounted = libc.mount(b"/", b"/tmp", None, 4096, None) == 0 and os.path.exists("/tmp/etc/shadow")
    return killed or fd >= 0 or mounted
'''
        attack(code)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_killing_other_processes():
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        code = f'''
import os, signal
def f():
    hit = os.path.exists("/proc/{victim.pid}")
    for target in ({victim.pid}, {os.getpid()}):
        try:
            os.kill(target, signal.SIGKILL)
            hit = True
        except OSError:
            pass
    try:
        os.kill(-1, signal.SIGKILL)  # every process it can signal: only its own sandbox's
    except OSError:
        pass
    return hit
'''
        attack(code, expected=True)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


# ---------------------------------------------------------------- resource bombs


def test_fork_bomb_is_contained():
    code = "import os\ndef f():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    res = attack(code, lim=_lim(nproc=12, test_timeout_s=3, wall_s=10))
    assert "Timeout" in res.tests[0].error or "killed" in res.tests[0].error


def test_ten_gigabyte_allocation_fails_with_memory_error():
    res = attack("def f():\n    return len(bytearray(10 * 1024**3)) > 0\n")
    assert "MemoryError" in res.tests[0].error


def test_disk_bomb_is_cut_off():
    code = "def f():\n    with open('big', 'wb') as fh:\n        for _ in range(1000):\n            fh.write(b'x' * (1 << 20))\n    return True\n"
    res = attack(code)
    assert "File too large" in res.tests[0].error or "No space" in res.tests[0].error or "killed" in res.tests[0].error
    res = attack(code, lim=_lim(fsize_mb=512, tmpfs_mb=8))  # the tmpfs size caps it too
    assert "No space" in res.tests[0].error


def test_infinite_loop_times_out_and_later_tests_still_run():
    code = "import signal\ndef f(x):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while x:\n        pass\n    return 1\n"
    res = run_cases(code, [CallTest([1], 1), CallTest([0], 1), CallTest([0], 1)], "f", _lim(test_timeout_s=1))
    assert [t.passed for t in res.tests] == [False, True, True]
    assert "Timeout" in res.tests[0].error and res.status == "timeout" and not res.passed


def test_cpu_burn_in_c_code_is_killed_and_the_rest_run():
    code = "def f(n):\n    return sum(range(n))\n"
    res = run_cases(code, [CallTest([10**12], 0), CallTest([4], 6)], "f", _lim(cpu_s=1, test_timeout_s=5))
    assert [t.passed for t in res.tests] == [False, True]


def test_run_wall_limit_bounds_many_hanging_tests():
    code = "def f():\n    while True:\n        pass\n"
    t0 = time.monotonic()
    res = run_cases(code, [CallTest([], 1)] * 10, "f", _lim(test_timeout_s=1, wall_s=3))
    assert time.monotonic() - t0 < 8 and not res.passed
    assert any("wall limit" in (t.error or "") for t in res.tests)


def test_parent_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("CURATE_SANDBOX_SECRET", "hunter2")
    code = ("import os\ndef f():\n    found = os.environ.get('CURATE_SANDBOX_SECRET', '')\n"
            "    for p in os.listdir('/proc'):\n        try:\n            found += open('/proc/%s/environ' % p).read()\n"
            "        except (OSError, ValueError):\n            pass\n    return 'hunter2' in found\n")
    attack(code)


def test_output_flood_is_not_a_result():
    code = "import os\ndef f():\n    os.write(1, b'{' * (40 << 20))\n    return 1\n"
    res = run_cases(code, [CallTest([], 1)], "f", FAST)
    assert res.tests[0].passed  # the flood went to the program's stderr, not to the result channel
    code = "import sys, os\ndef f():\n    fd = sys.modules['__main__']._OUT\n    os.write(fd, b'{' * (40 << 20))\n    return 1\n"
    res = attack(code, expected=1)
    assert not res.tests[0].passed
