"""Batches in spawned child processes: every batch answered once, in order, on several cores."""

import os

import pytest

from curate.procpool import BatchPool


def _square_all(state, xs):
    s = 0
    for _ in range(200_000):  # long enough that the parent queues several batches per child
        s += 1
    return [x * x for x in xs]


def test_batches_come_back_in_order_from_every_child():
    pool = BatchPool(_square_all, processes=2)
    try:
        got = []
        for i in range(12):
            pool.submit(i, [i, i + 1])
            got += pool.ready()
        got += pool.drain()
        assert [t for t, _ in got] == list(range(12))
        assert [r for _, r in got] == [[i * i, (i + 1) ** 2] for i in range(12)]
        assert len(pool.pids()) == 2 and os.getpid() not in pool.pids()
    finally:
        pool.close()


def _boom(state, xs):
    raise ValueError(f"bad batch {xs}")


def test_an_exception_in_a_child_comes_back_with_its_batch():
    pool = BatchPool(_boom, processes=2)
    try:
        pool.submit("a", [1])
        (tag, out), = pool.drain()
        assert tag == "a" and isinstance(out, ValueError) and "bad batch [1]" in str(out)
    finally:
        pool.close()


def test_one_process_runs_inline():
    pool = BatchPool(_square_all, processes=1)
    pool.submit("x", [3])
    assert list(pool.drain()) == [("x", [9])] and pool.pids() == {os.getpid()}
    pool.close()


def _slow(state, xs):
    import time

    time.sleep(2)
    return xs


def test_a_child_that_dies_fails_its_batches_and_the_pool_goes_on():
    import multiprocessing
    import signal

    pool = BatchPool(_slow, processes=2)
    try:
        pool.submit("a", [1])
        pool.submit("b", [2])
        import time

        deadline = time.time() + 30
        while len(multiprocessing.active_children()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)  # as the kernel's OOM killer would
        got = dict(pool.drain())
        assert set(got) == {"a", "b"} and any(isinstance(v, Exception) for v in got.values())
        pool.submit("c", [3])  # a fresh set of children takes the next batch
        assert list(pool.drain()) == [("c", [3])]
    finally:
        pool.close()
