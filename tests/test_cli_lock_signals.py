"""One run per output, and runs that end cleanly (issue 15).

Two `curate run` on one output used to do the work twice or delete each other's step
directories; Ctrl-C printed hundreds of lines and a disk-full error a long traceback naming no
path. Now: a lock file refuses the second run (naming the holder), a stale one is taken over,
and an interrupt, SIGTERM or OSError ends with one line that says what is kept.
"""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from curate.cli import cli
from curate.errors import InputError
from curate.io.lock import LOCK_FILE, RunLock

STARTED = "2031-02-03T04:05:06+00:00"
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d \[")


def _write_lock(directory, pid, host=None):
    directory.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": host or socket.gethostname(), "started": STARTED}
    (directory / LOCK_FILE).write_text(json.dumps(holder))


@pytest.fixture
def live_pid():
    """The pid of a running process that stands in for another curate run."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield p.pid
    p.kill()
    p.wait()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# --- RunLock ---------------------------------------------------------------------------------


def test_lock_file_names_this_run_and_goes_on_exit_even_on_error(tmp_path):
    d = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with RunLock(str(d)):
            holder = json.loads((d / LOCK_FILE).read_text())
            assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
            assert holder["started"].endswith("+00:00")
            raise RuntimeError("boom")
    assert not (d / LOCK_FILE).exists()


def test_live_holder_is_refused_with_path_pid_host_and_start(tmp_path, live_pid):
    _write_lock(tmp_path, live_pid)
    with pytest.raises(InputError) as e:
        with RunLock(str(tmp_path)):
            pass
    msg = str(e.value)
    assert str(tmp_path) in msg and str(live_pid) in msg and socket.gethostname() in msg and STARTED in msg
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == live_pid  # left alone


def test_holder_on_another_host_is_refused(tmp_path):
    _write_lock(tmp_path, 1, host="elsewhere.example")
    with pytest.raises(InputError, match="elsewhere.example"):
        with RunLock(str(tmp_path)):
            pass


def test_stale_lock_is_taken_over_with_one_log_line(tmp_path):
    dead = _dead_pid()
    _write_lock(tmp_path, dead)
    lines = []
    with RunLock(str(tmp_path), log=lines.append):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert len(lines) == 1 and "stale" in lines[0] and str(dead) in lines[0] and STARTED in lines[0]
    assert not (tmp_path / LOCK_FILE).exists()


def test_remote_paths_are_not_locked():
    lines = []
    with RunLock("gs://bucket/out", log=lines.append):
        pass
    assert lines == []


# --- the commands hold the lock ----------------------------------------------------------------


def test_second_run_on_a_locked_output_refuses_naming_the_holder(tmp_path, live_pid):
    out = tmp_path / "stage2"
    _write_lock(out, live_pid)
    r = CliRunner().invoke(cli, ["run", "stage2", "--output", str(out)])
    assert r.exit_code == 1, r.output
    assert str(out) in r.output and str(live_pid) in r.output and STARTED in r.output
    assert "Traceback" not in r.output
    assert not list((tmp_path / "_steps").glob("extract-*"))  # nothing was run
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == live_pid


def test_run_refuses_a_locked_step_cache(tmp_path, live_pid):
    _write_lock(tmp_path / "_steps", live_pid)
    r = CliRunner().invoke(cli, ["run", "stage2", "--output", str(tmp_path / "stage2")])
    assert r.exit_code == 1 and "_steps" in r.output and str(live_pid) in r.output, r.output
    assert not (tmp_path / "stage2" / LOCK_FILE).exists()


@pytest.mark.parametrize("command", ["extract", "dedup", "filter", "mix"])
def test_step_commands_refuse_a_locked_output(tmp_path, live_pid, command):
    out = tmp_path / "o"
    _write_lock(out, live_pid)
    r = CliRunner().invoke(cli, [command, str(tmp_path / "in"), "--output", str(out)])
    assert r.exit_code == 1 and str(live_pid) in r.output and str(out) in r.output, r.output


def test_stale_lock_is_taken_over_and_the_run_completes(tmp_path):
    dead = _dead_pid()
    out = tmp_path / "stage2"
    _write_lock(tmp_path / "_steps", dead)
    _write_lock(out, dead)
    r = CliRunner().invoke(cli, ["run", "stage2", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.count("stale lock") == 2 and str(dead) in r.output
    assert (out / "manifest.json").exists()
    assert not (out / LOCK_FILE).exists() and not (tmp_path / "_steps" / LOCK_FILE).exists()


def test_a_step_command_run_twice_on_one_output_reuses_it(tmp_path, sample_dir):
    out = tmp_path / "ex"
    for _ in range(2):
        r = CliRunner().invoke(cli, ["extract", str(sample_dir / "web"), "--output", str(out)])
        assert r.exit_code == 0, r.output
    assert "reusing" in r.output and "damaged" not in r.output, r.output
    assert not (out / LOCK_FILE).exists()


# --- interrupts and fatal errors end in one line ---------------------------------------------


def _start(tmp_path, *args):
    """`curate ARGS` in its own process group (as a terminal's Ctrl-C sees it); stderr to a file."""
    err = open(tmp_path / "stderr.txt", "w")

    def child_setup():
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background pytest may have SIGINT ignored

    p = subprocess.Popen([sys.executable, "-m", "curate", *args], stdout=subprocess.DEVNULL, stderr=err,
                         preexec_fn=child_setup)
    err.close()
    return p


def _stderr(tmp_path) -> str:
    return (tmp_path / "stderr.txt").read_text()


def _wait_for(tmp_path, p, text, timeout=180):
    t0 = time.time()
    while text not in _stderr(tmp_path):
        assert p.poll() is None, f"exited before {text!r}:\n{_stderr(tmp_path)[-3000:]}"
        assert time.time() - t0 < timeout, f"no {text!r} after {timeout}s"
        time.sleep(0.02)


def _group_alive(pgid) -> list[str]:
    """Processes (not zombies) still in process group ``pgid``."""
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(pid)
    return alive


def _wait_group_gone(pgid, timeout=15):
    t0 = time.time()
    while _group_alive(pgid) and time.time() - t0 < timeout:
        time.sleep(0.1)
    return _group_alive(pgid)


def _summary(err: str) -> list[str]:
    """stderr without the timestamped progress lines and Beam's import-time warning."""
    return [ln for ln in err.splitlines() if ln.strip() and not LOG_LINE.match(ln) and "apitools" not in ln]


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="process groups are read from /proc")


@needs_proc
def test_ctrl_c_during_extract_is_one_line_and_stops_the_children(tmp_path):
    out = tmp_path / "stage2"
    p = _start(tmp_path, "run", "stage2", "--output", str(out))
    _wait_for(tmp_path, p, "[extract] running")
    time.sleep(1.0)  # the extraction children are up and working
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(60) == 130, _stderr(tmp_path)[-3000:]
    err = _stderr(tmp_path)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    lines = _summary(err)
    assert len(lines) == 1 and "interrupted" in lines[0], err[-3000:]
    if "[extract] done" in err:
        assert "extract" in lines[0]
    assert not _wait_group_gone(p.pid), "processes left after Ctrl-C"
    assert not (out / LOCK_FILE).exists() and not (tmp_path / "_steps" / LOCK_FILE).exists()


@needs_proc
def test_ctrl_c_names_the_finished_steps_that_are_kept(tmp_path):
    p = _start(tmp_path, "run", "stage2", "--output", str(tmp_path / "stage2"))
    _wait_for(tmp_path, p, "[dedup] running")
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(60) == 130, _stderr(tmp_path)[-3000:]
    lines = _summary(_stderr(tmp_path))
    assert len(lines) == 1 and "Traceback" not in _stderr(tmp_path), _stderr(tmp_path)[-3000:]
    assert "kept: extract" in lines[0] and "during step dedup" in lines[0] and "rerun" in lines[0]
    assert not _wait_group_gone(p.pid)


@needs_proc
def test_sigterm_exits_143_and_the_rerun_resumes(tmp_path):
    out = tmp_path / "stage2"
    p = _start(tmp_path, "run", "stage2", "--output", str(out))
    _wait_for(tmp_path, p, "[filter] running")
    p.send_signal(signal.SIGTERM)  # `kill PID`: the parent alone
    assert p.wait(60) == 143, _stderr(tmp_path)[-3000:]
    err = _stderr(tmp_path)
    lines = _summary(err)
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert "extract, dedup" in lines[0] and "terminated" in lines[0]
    assert not _wait_group_gone(p.pid)
    again = subprocess.run([sys.executable, "-m", "curate", "run", "stage2", "--output", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[extract] reusing" in again.stderr and "[dedup] reusing" in again.stderr


@needs_proc
def test_extraction_children_die_with_a_killed_parent(tmp_path):
    p = _start(tmp_path, "run", "stage2", "--output", str(tmp_path / "stage2"))
    _wait_for(tmp_path, p, "[extract] running")
    time.sleep(1.0)
    p.kill()
    p.wait(30)
    assert not _wait_group_gone(p.pid), "extraction children outlived their parent"


# A `curate` whose writes under a dedup step directory fail as on a full disk.
_DISK_FULL = """
import builtins, errno, io, os, runpy, sys
real_open = builtins.open
def full_open(file, mode="r", *a, **k):
    if any(c in mode for c in "wax") and "/_steps/dedup-" in str(file):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
    return real_open(file, mode, *a, **k)
builtins.open = io.open = full_open
if __name__ == "__main__":  # not again in spawned children
    sys.argv = ["curate", *sys.argv[1:]]
    runpy.run_module("curate", run_name="__main__")
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_disk_full_is_one_line_naming_path_and_step(tmp_path, verbose):
    flags = ["--verbose"] if verbose else []
    r = subprocess.run([sys.executable, "-c", _DISK_FULL, *flags, "run", "stage2", "--output", str(tmp_path / "stage2")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-3000:]
    lines = _summary(r.stderr)
    if verbose:
        assert "Traceback" in r.stderr and "No space left on device" in lines[-1]
        return
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert len(lines) == 1, r.stderr[-3000:]
    line = lines[0]
    assert "No space left on device" in line and f"{tmp_path}/_steps/dedup-" in line
    assert "during step dedup" in line
    assert "kept: extract" in line
    assert not (tmp_path / "stage2" / LOCK_FILE).exists()


def test_beam_wrapped_os_error_is_unwrapped_but_other_errors_keep_their_traceback(tmp_path, monkeypatch):
    import curate.pipelines.stages as stages

    def wrapped(*a, log, **k):
        log("[dedup] running → somewhere")
        try:
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), "/data/x.parquet")
        except OSError:  # what Beam raises for a DoFn's OSError
            raise RuntimeError("OSError: [Errno 13] Permission denied [while running 'Write']")

    monkeypatch.setattr(stages, "run_stage", wrapped)
    r = CliRunner().invoke(cli, ["run", "stage2", "--output", str(tmp_path / "o")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "curate: Permission denied (EACCES): /data/x.parquet during step dedup" in r.output, r.output

    def bug(*a, log, **k):
        try:
            raise FileNotFoundError(errno.ENOENT, "No such file", "/x")
        except OSError:
            raise ValueError("a bug while handling it")

    monkeypatch.setattr(stages, "run_stage", bug)
    r = CliRunner().invoke(cli, ["run", "stage2", "--output", str(tmp_path / "o")])
    assert isinstance(r.exception, ValueError)  # not reported as the FileNotFoundError


def test_output_under_a_file_is_one_line_naming_it(tmp_path, sample_dir):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = CliRunner().invoke(cli, ["extract", str(sample_dir / "web"), "--output", str(blocker / "out")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert str(blocker) in r.output and "Not a directory" in r.output, r.output


def test_an_interrupt_inside_a_dofn_teardown_is_not_lost():
    """Seen: Ctrl-C landed in the extraction DoFn's teardown; Beam logged the error and went
    on, and the whole stage ran to the end with exit 0. The interrupt stays seen and the
    pipeline's end raises it again."""
    import apache_beam as beam

    from curate import interrupts
    from curate.cli import IN_PROCESS
    from curate.pipelines.runner import pipeline

    class InterruptedTeardown(beam.DoFn):
        def process(self, x):
            yield x

        def teardown(self):
            signal.raise_signal(signal.SIGINT)

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job ignores it)
        interrupts.install()
        with pytest.raises(KeyboardInterrupt):
            with pipeline(IN_PROCESS) as p:
                p | beam.Create([1, 2]) | beam.ParDo(InterruptedTeardown())
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        interrupts.clear()
