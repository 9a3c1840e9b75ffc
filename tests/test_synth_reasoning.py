"""Backends fit for reasoning models: reasoning kept apart from the answer, truncation caught,
max_completion_tokens when the server wants it, long defaults, chat templates and sampling
(not beams) in the local backend."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from curate.pipelines.shards import list_shards, read_shard
from curate.synth import tasks
from curate.synth.backends import BackendError, Completion
from curate.synth.cache import DiskCache
from curate.synth.config import BackendConfig
from curate.synth.http_backend import HTTPBackend
from curate.synth.local_backend import LocalBackend
from curate.testing.tiny_model import make_tiny_model
from reasoning_server import serve, stop, url

SAMPLING = {"max_new_tokens": 64, "temperature": 0.6, "top_p": 0.95, "seed": 1}
THINK = "Let me add: 17 + 25. Seven plus five is twelve, carry one; 1 + 2 + 1 = 4. So 42."
REPLIES = {
    "PROB-R": {"content": "The answer is \\boxed{42}.", "reasoning_content": THINK},
    "PROB-V": {"content": "So \\boxed{42}.", "reasoning": "vLLM's newer field: 17 + 25 = 42."},
    # cut off: the half-written answer already shows the right number, yet it must not count
    "PROB-T": {"content": "The answer is \\boxed{42", "reasoning_content": THINK, "finish_reason": "length"},
    "PROB-E": {"content": None, "reasoning_content": "Hmm, let me think about 17 + 25 for a long", "finish_reason": "length"},
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def _backend(srv, tmp_path, **kw):
    opts = dict(api="chat", retries=1, backoff_s=0.01, backoff_max_s=0.02, timeout_s=10,
                cache=DiskCache(str(tmp_path / "cache")), defaults=SAMPLING)
    opts.update(kw)
    return HTTPBackend(url(srv), "reasoner", **opts)


def test_reasoning_is_kept_apart_from_the_answer_with_the_finish_reason(tmp_path):
    srv = serve(REPLIES)
    try:
        b = _backend(srv, tmp_path)
        r, v, t, e = b.generate(["PROB-R", "PROB-V", "PROB-T", "PROB-E"], n=1)
        cached = _backend(srv, tmp_path).generate(["PROB-R"], n=1)
    finally:
        stop(srv)
    assert r[0] == Completion("The answer is \\boxed{42}.", THINK, "stop")
    assert v[0].reasoning.startswith("vLLM's newer field") and v[0].text == "So \\boxed{42}."
    assert t[0].truncated and not r[0].truncated
    assert e[0] == Completion("", REPLIES["PROB-E"]["reasoning_content"], "length")
    assert cached == [r]  # the cache keeps the reasoning and the finish reason too


def test_max_completion_tokens_when_the_server_rejects_max_tokens(tmp_path):
    srv = serve(REPLIES, completion_tokens_only=True)
    try:
        fixed = _backend(srv, tmp_path, token_param="max_tokens")
        with pytest.raises(BackendError, match="HTTP 400.*max_tokens"):
            fixed.generate(["PROB-R"], n=1)
        srv.bodies.clear()
        auto = _backend(srv, tmp_path, cache=None)
        assert auto.generate(["PROB-R"], n=1)[0][0].text == "The answer is \\boxed{42}."
        assert auto.generate(["PROB-V"], n=1)[0][0].text == "So \\boxed{42}."
        explicit = _backend(srv, tmp_path, cache=None, token_param="max_completion_tokens")
        explicit.generate(["PROB-R"], n=1)
    finally:
        stop(srv)
    # auto: one rejected request, then max_completion_tokens on it and on every later one
    assert ["max_tokens" in b for b in srv.bodies] == [True, False, False, False]
    assert all(b["max_completion_tokens"] == 64 for b in srv.bodies[1:])
    assert auto.retried == 0


def test_long_token_budgets_by_default():
    assert BackendConfig().max_new_tokens >= 16384


def test_the_training_text_template_is_configurable():
    task = tasks.normalize_problem({"id": "p", "kind": "math", "question": "What is 17 + 25?", "answer": 42})
    both = tasks.document_text(task, "\\boxed{42}", THINK, "reasoning_answer")
    assert both == f"Question: What is 17 + 25?\n\nAnswer: <think>\n{THINK}\n</think>\n\n\\boxed{{42}}"
    assert tasks.document_text(task, "\\boxed{42}", THINK, "answer") == "Question: What is 17 + 25?\n\nAnswer: \\boxed{42}"


def test_curate_synth_keeps_reasoning_in_meta_and_rejects_truncated_samples(tmp_path):
    from curate.cli import cli

    probs = [{"id": "r", "uri": "p://r", "kind": "math", "question": "PROB-R: What is 17 + 25?", "answer": 42},
             {"id": "t", "uri": "p://t", "kind": "math", "question": "PROB-T: What is 17 + 25?", "answer": 42},
             {"id": "e", "uri": "p://e", "kind": "math", "question": "PROB-E: What is 17 + 25?", "answer": 42}]
    pfile = tmp_path / "problems.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p in probs))
    srv = serve(REPLIES)
    try:
        out = tmp_path / "synth"
        args = ["synth", str(pfile), "--output", str(out), "--backend", "http", "--api", "chat", "--url", url(srv),
                "--model", "reasoner", "-k", "2", "--cache-dir", str(tmp_path / "cache")]
        res = CliRunner().invoke(cli, args, obj={"beam_args": []}, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    finally:
        stop(srv)
    assert all(b["max_tokens"] == BackendConfig().max_new_tokens for b in srv.bodies)
    docs = [r for p in list_shards(str(out / "docs")) for r in read_shard(p)]
    rejects = [r for p in list_shards(str(out / "rejects")) for r in read_shard(p)]
    assert sorted(d["uri"] for d in docs) == ["p://r", "p://r"]
    meta = json.loads(docs[0]["meta"])
    assert meta["reasoning"] == THINK and meta["answer"] == "The answer is \\boxed{42}."
    assert f"<think>\n{THINK}\n</think>" in docs[0]["text"]
    assert sorted((r["uri"], r["reason"]) for r in rejects) == [("p://e", "synth:truncated")] * 2 + [
        ("p://t", "synth:truncated")] * 2


# ------------------------------------------------------------------ the local backend


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    from transformers import AutoTokenizer

    d = make_tiny_model(str(tmp_path_factory.mktemp("tiny") / "model"))
    tok = AutoTokenizer.from_pretrained(d)
    tok.chat_template = ("{% for m in messages %}<|user|>{{ m['content'] }}{% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    tok.save_pretrained(d)
    return d


def test_local_backend_samples_k_not_beams_even_at_temperature_zero():
    k4 = LocalBackend.generation_kwargs(4, {"max_new_tokens": 8, "temperature": 0.0, "top_p": 0.9})
    assert k4["do_sample"] is True and k4["num_beams"] == 1 and k4["temperature"] == 1.0 and k4["num_return_sequences"] == 4
    k1 = LocalBackend.generation_kwargs(1, {"max_new_tokens": 8, "temperature": 0.0})
    assert k1["do_sample"] is False and k1["num_beams"] == 1
    assert LocalBackend.generation_kwargs(2, {"temperature": 0.7})["temperature"] == 0.7


def test_local_backend_applies_the_chat_template_and_reports_truncation(chat_model):
    b = LocalBackend(chat_model, batch_size=2, defaults={"max_new_tokens": 3, "temperature": 0.0, "seed": 0})
    assert b.prompt_text("What is 2 + 2?") == "<|user|>What is 2 + 2?<|assistant|>"
    assert LocalBackend(chat_model, chat_template=False).prompt_text("x") == "x"
    out = b.generate(["What is 2 + 2?", "Say hi."], n=3)
    assert [len(o) for o in out] == [3, 3]
    assert all(c.finish_reason in ("stop", "length") for o in out for c in o)
    assert any(c.truncated for o in out for c in o)  # 3 new tokens of a random model rarely end in EOS
