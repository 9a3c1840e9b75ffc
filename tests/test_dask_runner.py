"""`curate run stage2` on a dask.distributed cluster (scheduler and two worker processes over
TCP on 127.0.0.1) through Beam's DaskRunner: the same bytes as the in-process DirectRunner."""

import multiprocessing as mp
import os
import signal
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from _kill import reset_outputs, shard_digests  # noqa: E402

from curate.config import default_config  # noqa: E402
from curate.errors import Reject  # noqa: E402
from curate.extractors.config import ExtractConfig  # noqa: E402
from curate.extractors.isolation import IsolatedExtractors  # noqa: E402
from curate.io.readers import raw_record  # noqa: E402
from curate.pipelines.stages import run_stage  # noqa: E402

DASK = "apache_beam.runners.dask.dask_runner.DaskRunner"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


def test_stage2_on_a_dask_cluster_gives_the_direct_runners_bytes(stage2_run, cluster, tmp_path):
    out, _ = stage2_run
    copy = tmp_path / "stage2-dask"
    reset_outputs(str(copy))
    lines = []
    run_stage(default_config("stage2"), str(copy), [f"--runner={DASK}", f"--dask_client_address={cluster.scheduler_address}"],
              log=lines.append)
    assert any("[extract] done" in ln for ln in lines), lines
    assert shard_digests(str(copy)) == shard_digests(str(out))
    for name in ("blend.json", "report.json"):
        assert (copy / name).read_bytes() == (out / name).read_bytes(), name


def test_a_worker_killed_during_dedup_changes_no_byte(stage2_run, cluster, tmp_path):
    """Seen in CI: a dedup spool reader found its file gone. Dask computes again what a lost
    worker held, so any task may run twice, after tasks that came after it in the graph. A
    worker SIGKILLed while dedup runs (the nanny starts another) changes no byte of the output;
    before the fix this run ended in FileNotFoundError or with other shards."""
    out, _ = stage2_run
    copy = tmp_path / "stage2-dask-kill"
    reset_outputs(str(copy))
    client = distributed.Client(cluster.scheduler_address)
    killed = []

    def log(line):
        if "[dedup] running" in line and not killed:
            def kill():
                time.sleep(1.0)
                pid = sorted(client.run(os.getpid).items())[0][1]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

            threading.Thread(target=kill, daemon=True).start()

    try:
        run_stage(default_config("stage2"), str(copy),
                  [f"--runner={DASK}", f"--dask_client_address={cluster.scheduler_address}"], log=log)
        assert killed
        assert shard_digests(str(copy)) == shard_digests(str(out))
        for name in ("blend.json", "report.json"):
            assert (copy / name).read_bytes() == (out / name).read_bytes(), name
    finally:
        client.wait_for_workers(2, timeout=120)
        client.close()


def _extract_in_daemon(q):
    ex = IsolatedExtractors(ExtractConfig())
    try:
        body = "".join(f"<p>Paragraph {i} about rivers and lighthouses at some length.</p>" for i in range(5))
        doc = ex.extract(raw_record("t", "https://x.example/", 0, "html", f"<html><body><article>{body}</article></body></html>".encode()))
        q.put(doc["text"])
    except Reject as r:
        q.put(f"reject {r.reason} {r.detail}")
    finally:
        ex.close()


def test_the_isolation_child_starts_inside_a_daemonic_worker():
    """A cluster's worker processes are daemonic, which multiprocessing forbids to have children."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_extract_in_daemon, args=(q,), daemon=True)
    p.start()
    text = q.get(timeout=120)
    p.join(30)
    assert "Paragraph 4" in text, text


def test_close_is_safe_when_no_child_was_started():
    ex = IsolatedExtractors(ExtractConfig())
    ex.close()
    ex.close()


def test_worker_defaults_fit_the_machine_and_say_so():
    from curate.cli import IN_PROCESS, worker_defaults

    args, line = worker_defaults([], 2)
    assert args == IN_PROCESS and "--direct_running_mode=in_memory" in args
    assert "in-process" in line and "2 core" in line
    args, line = worker_defaults(["--save_main_session"], 8)
    assert args == ["--save_main_session", *IN_PROCESS]
    assert "--direct_num_workers=8" in line
    mine = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert worker_defaults(mine, 2) == (mine, None)
    assert worker_defaults([f"--runner={DASK}", "--dask_client_address=tcp://h:1"], 2)[1] is None
