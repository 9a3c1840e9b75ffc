"""Hostile programs in the code sandbox: each is contained and reported as a failed test."""

import os
import socket
import threading

import psutil
import pytest

from curate.synth.sandbox import SandboxLimits, run_tests, unshare_prefix

FAST = SandboxLimits(cpu_s=3, wall_s=8, test_timeout_s=1.5, memory_mb=512, fsize_mb=4, nproc=16)


def _run(code, tests, **kw):
    lim = SandboxLimits(**{**FAST.__dict__, **kw})
    res = run_tests(code, tests, lim)
    assert len(res.tests) == len(tests)
    return res


def _live_children() -> set[int]:
    """Live descendants of the test process (other tests may have left helpers such as
    multiprocessing's resource tracker, so callers compare against a set taken before)."""
    out = set()
    for c in psutil.Process().children(recursive=True):
        try:
            if c.status() != psutil.STATUS_ZOMBIE:
                out.add(c.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_good_solution_passes_with_per_test_results():
    res = _run("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add(0, 0) == 0"])
    assert not res.passed
    assert [t.passed for t in res.tests] == [True, False, True]
    assert "AssertionError" in res.tests[1].error
    ok = _run("def add(a, b):\n    return a + b\n", ["assert add(1, 2) == 3"])
    assert ok.passed and ok.status == "ok"
    assert {"rlimits", "audit"} <= set(ok.isolation)


def test_solution_that_fails_to_run_fails_every_test():
    res = _run("def f(:\n", ["assert f() == 1", "assert True"])
    assert not res.passed and res.code_error.startswith("SyntaxError")
    assert not any(t.passed for t in res.tests)


def test_infinite_loop_times_out_and_later_tests_still_run():
    res = _run("def f():\n    while True:\n        pass\n", ["f()", "assert 1 + 1 == 2"])
    assert not res.tests[0].passed and "Timeout" in res.tests[0].error
    assert res.tests[1].passed
    assert not res.passed


def test_loop_that_ignores_the_alarm_is_killed():
    code = "import signal, time\ndef f():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        time.sleep(0.2)\n"
    before = _live_children()
    res = _run(code, ["f()"], wall_s=3)
    assert res.status == "timeout" and not res.passed
    assert not _live_children() - before


def test_cpu_burn_in_c_code_is_killed_by_rlimit_cpu():
    res = _run("def f():\n    return sum(range(10**12))\n", ["f()"], cpu_s=1, wall_s=6, test_timeout_s=5)
    assert not res.passed and res.status in ("crashed", "timeout")


@pytest.mark.parametrize("audit", [True, False])
def test_fork_bomb_is_contained(audit):
    if not audit and not unshare_prefix() and os.geteuid() == 0:
        pytest.skip("without namespaces or the audit hook, root is not bound by RLIMIT_NPROC")
    before = len(psutil.pids())
    mine = _live_children()
    res = _run("import os\ndef f():\n    while True:\n        os.fork()\n", ["f()"], audit=audit, nproc=8)
    assert not res.passed and not res.tests[0].passed
    assert not _live_children() - mine
    assert len(psutil.pids()) < before + 20


def test_ten_gigabyte_allocation_fails_with_memory_error():
    res = _run("def f():\n    return len(bytearray(10 * 1024**3))\n", ["assert f() > 0"])
    assert not res.passed and "MemoryError" in res.tests[0].error


def test_huge_file_write_is_cut_off():
    code = "def f():\n    with open('big', 'wb') as fh:\n        for _ in range(1000):\n            fh.write(b'x' * (1 << 20))\n"
    res = _run(code, ["f()"])
    assert not res.passed and "File too large" in res.tests[0].error


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


def test_socket_is_refused():
    srv, hits = _loopback_server()
    port = srv.getsockname()[1]
    code = f"import socket\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
    res = _run(code, ["f()"])
    srv.close()
    assert not res.passed and not hits


@pytest.mark.skipif(not unshare_prefix(), reason="no network namespace on this host")
def test_network_namespace_alone_blocks_the_host_loopback():
    srv, hits = _loopback_server()
    port = srv.getsockname()[1]
    # Without the audit hook and without the uid drop (which hides modules), only the namespace stands.
    code = f"import socket\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
    res = _run(code, ["f()"], audit=False, drop_uid=False)
    srv.close()
    assert not res.passed and not hits
    assert "netns" in res.isolation


def test_reading_files_outside_its_directory_fails(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("topsecret")
    secret.chmod(0o644)
    for path in (str(secret), "/etc/passwd", "/proc/self/environ"):
        res = _run(f"def f():\n    return open({path!r}).read()\n", ["assert len(f()) > 0"])
        assert not res.passed, path
    res = _run("import os\ndef f():\n    return os.listdir('/')\n", ["assert f()"])
    assert not res.passed
    assert secret.read_text() == "topsecret"


def test_parent_environment_is_not_visible(monkeypatch):
    monkeypatch.setenv("CURATE_SANDBOX_SECRET", "hunter2")
    res = _run("import os\ndef f():\n    return os.environ.get('CURATE_SANDBOX_SECRET')\n", ["assert f() == 'hunter2'"])
    assert not res.passed
    code = "import os\ndef f():\n    return open('/proc/%d/environ' % os.getppid(), 'rb').read()\n"
    res = _run(code, ["assert b'hunter2' in f()"])
    assert not res.passed
    assert os.environ["CURATE_SANDBOX_SECRET"] == "hunter2"


def test_forged_output_on_stdout_is_not_a_result():
    code = "import sys\nprint('{\"event\": \"test\", \"index\": 0, \"passed\": true}')\ndef f():\n    return 1\n"
    res = _run(code, ["assert f() == 2"])
    assert not res.passed and '"passed": true' in res.stdout
