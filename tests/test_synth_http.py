"""The OpenAI-compatible HTTP backend against a real local server serving a tiny random model."""

import threading

import pytest

from curate.synth.backends import BackendError
from curate.synth.cache import DiskCache
from curate.synth.http_backend import HTTPBackend
from curate.synth.serve import CompletionHandler, make_server, serve_in_thread
from curate.testing.tiny_model import make_tiny_model

SAMPLING = {"max_new_tokens": 8, "temperature": 0.8, "top_p": 0.95, "seed": 3}


class FlakyHandler(CompletionHandler):
    """Answers 500 to the next ``server.fail_next`` completion requests, 400 when asked to."""

    def do_POST(self):
        with self.server.fail_lock:
            fail = self.server.fail_next > 0
            if fail:
                self.server.fail_next -= 1
        if fail:
            self.server.failed += 1
            self.read_body()
            self._send(500, {"error": {"message": "injected failure"}})
            return
        if self.server.reject_all:
            self.read_body()
            self._send(400, {"error": {"message": "bad request"}})
            return
        super().do_POST()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = make_tiny_model(str(tmp_path_factory.mktemp("tiny") / "model"))
    srv = make_server(model, "127.0.0.1", 0, handler=FlakyHandler, batch_size=4)
    srv.fail_lock, srv.fail_next, srv.failed, srv.reject_all = threading.Lock(), 0, 0, False
    serve_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


def _backend(srv, cache_dir, **kw):
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    opts = dict(concurrency=2, retries=3, backoff_s=0.01, backoff_max_s=0.05, timeout_s=60, batch_size=2,
                cache=DiskCache(str(cache_dir)), defaults=SAMPLING)
    opts.update(kw)
    return HTTPBackend(url, srv.model_id, **opts)


def test_batching_retry_and_cache(server, tmp_path):
    prompts = [f"Problem {i}: what is {i} + {i}?\nSolution:" for i in range(5)]
    server.log.clear()
    server.fail_next = 1
    b = _backend(server, tmp_path / "cache")
    out = b.generate(prompts, n=2)
    assert len(out) == 5 and all(len(o) == 2 and all(isinstance(t.text, str) for t in o) for o in out)
    # 5 prompts in batches of 2 → 3 served requests, each with a list (or single) prompt and n=2;
    # one more request was answered 500 and retried.
    assert server.failed == 1 and b.retried == 1 and b.requests_sent == 4
    assert len(server.log) == 3
    sizes = sorted(len(r["body"]["prompt"]) if isinstance(r["body"]["prompt"], list) else 1 for r in server.log)
    assert sizes == [1, 2, 2]
    assert all(r["body"]["n"] == 2 and r["body"]["max_tokens"] == 8 for r in server.log)
    served = sorted(p for r in server.log for p in (r["body"]["prompt"] if isinstance(r["body"]["prompt"], list) else [r["body"]["prompt"]]))
    assert served == sorted(prompts)

    # A rerun (new client, same cache) is answered from disk: no request reaches the server.
    server.log.clear()
    again = _backend(server, tmp_path / "cache")
    assert again.generate(prompts, n=2) == out
    assert server.log == [] and again.requests_sent == 0 and again.cache.hits == 5

    # A changed sampling parameter is a different request.
    third = _backend(server, tmp_path / "cache")
    third.generate(prompts[:1], n=2, temperature=0.5)
    assert len(server.log) == 1 and third.cache.misses == 1


def test_persistent_failure_is_a_backend_error_and_not_cached(server, tmp_path):
    server.log.clear()
    server.fail_next = 10
    b = _backend(server, tmp_path / "cache", retries=2, batch_size=1)
    res = b.generate_each(["only prompt"], n=1)
    assert isinstance(res[0], BackendError) and "500" in str(res[0])
    assert b.requests_sent == 3
    server.fail_next = 0
    assert b.cache.get(b.request("only prompt", 1, b.sampling())) is None
    ok = _backend(server, tmp_path / "cache", batch_size=1).generate(["only prompt"], n=1)
    assert len(ok[0]) == 1 and len(server.log) == 1


def test_client_errors_are_not_retried(server, tmp_path):
    server.reject_all = True
    try:
        b = _backend(server, tmp_path / "cache", retries=3)
        with pytest.raises(BackendError, match="HTTP 400"):
            b.generate(["p"], n=1)
        assert b.requests_sent == 1
    finally:
        server.reject_all = False


def test_chat_endpoint(server, tmp_path):
    server.log.clear()
    b = _backend(server, tmp_path / "cache", api="chat")
    out = b.generate(["Say something.", "Say more."], n=2)
    assert [len(o) for o in out] == [2, 2]
    assert len(server.log) == 2 and all(r["route"] == "/v1/chat/completions" for r in server.log)
    assert server.log[0]["body"]["messages"][0]["role"] == "user"


def test_unreachable_server_fails_after_retries(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    b = HTTPBackend(f"http://127.0.0.1:{port}/v1", "m", retries=2, backoff_s=0.01, backoff_max_s=0.02, timeout_s=2,
                    cache=DiskCache(str(tmp_path / "c")), defaults=SAMPLING)
    res = b.generate_each(["x"], n=1)
    assert isinstance(res[0], BackendError) and b.requests_sent == 3
