"""Per-document limits: a slow document becomes extract:timeout and the worker goes on."""

import pytest

from curate.errors import Reject
from curate.extractors.config import ExtractConfig
from curate.extractors.isolation import IsolatedExtractors
from curate.io.readers import raw_record


def _page(n_par):
    body = "".join(f"<p>Paragraph {i} talks about rivers, lighthouses and bakeries at some length.</p>" for i in range(n_par))
    return raw_record("t", f"https://x.example/{n_par}", 0, "html", f"<html><body><article>{body}</article></body></html>".encode())


def test_timeout_rejects_one_document_and_recovers():
    ex = IsolatedExtractors(ExtractConfig(timeout_s=0.05))
    try:
        doc = ex.extract(_page(20))  # first record: the child's start-up is allowed for
        assert "Paragraph 19" in doc["text"]
        with pytest.raises(Reject) as e:
            ex.extract(_page(60_000))  # several MB of markup: far beyond 50 ms
        assert e.value.reason == "extract:timeout"
        doc = ex.extract(_page(5))  # a fresh child takes the next record
        assert "Paragraph 4" in doc["text"]
    finally:
        ex.close()


def test_extractor_rejects_cross_the_process_boundary():
    ex = IsolatedExtractors(ExtractConfig())
    try:
        with pytest.raises(Reject) as e:
            ex.extract(raw_record("t", "u", 0, "html", b"<html><body></body></html>"))
        assert e.value.reason.startswith("extract:html:")
    finally:
        ex.close()


def _pool(**kw):
    from curate.extractors.isolation import ExtractorPool

    processes = kw.pop("processes", 2)
    return ExtractorPool(ExtractConfig(**kw), processes=processes)


def test_a_pool_spreads_pages_over_its_children_and_answers_each_once(monkeypatch):
    from curate.extractors import isolation

    monkeypatch.setattr(isolation, "RECORDS_PER_EXTRA_CHILD", 10)
    pool = _pool(processes=2)
    try:
        got = []
        for i in range(40):
            pool.submit(i, _page(5 + i))
            got += pool.ready(wait=pool.full())
        got += list(pool.drain())
        assert sorted(tag for tag, _ in got) == list(range(40))
        for tag, out in got:
            assert f"Paragraph {4 + tag}" in out["text"], (tag, out)
        assert pool.children_used() == 2
    finally:
        pool.close()


def test_a_small_input_starts_one_child_only():
    pool = _pool(processes=2)
    try:
        for i in range(12):
            pool.submit(i, _page(5))
        assert len(list(pool.drain())) == 12 and len(pool.child_pids()) == 1
    finally:
        pool.close()


def test_a_slow_page_in_a_pool_times_out_alone_and_the_pages_queued_behind_it_come_back():
    pool = _pool(processes=1, timeout_s=0.5)
    try:
        pool.submit("warm", _page(3))
        assert [t for t, _ in pool.drain()] == ["warm"]
        pool.submit("slow", _page(60_000))
        for i in range(6):
            pool.submit(i, _page(10 + i))
        got = dict(pool.drain())
        assert isinstance(got["slow"], Reject) and got["slow"].reason == "extract:timeout"
        assert sorted(k for k in got if k != "slow") == list(range(6))
        for i in range(6):
            assert f"Paragraph {9 + i}" in got[i]["text"]
    finally:
        pool.close()


def test_a_child_killed_mid_page_costs_that_page_only():
    import os
    import signal
    import time

    pool = _pool(processes=1)
    try:
        pool.submit("warm", _page(3))
        list(pool.drain())
        pool.submit("victim", _page(30_000))
        for i in range(5):
            pool.submit(i, _page(10 + i))
        time.sleep(0.3)  # the child is inside the large page now
        os.kill(pool.child_pids()[0], signal.SIGKILL)  # as the kernel's OOM killer would
        got = dict(pool.drain())
        assert isinstance(got["victim"], Reject) and got["victim"].reason == "extract:crashed"
        assert sorted(k for k in got if k != "victim") == list(range(5))
    finally:
        pool.close()
