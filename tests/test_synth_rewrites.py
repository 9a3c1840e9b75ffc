"""Stage 3 rewrites: selected pool documents (domains, a token budget) rewritten into reasoning
text, verified where the source has a reference, kept and labelled unverified otherwise."""

from __future__ import annotations

import json


from curate.config import default_config
from curate.pipelines.shards import list_shards, read_shard
from curate.synth.tasks import select_for_rewrite
from curate.schema import new_document
from reasoning_server import serve, stop, url
from mixhelp import commit_pool

THINK = "First I restate the source as a question."
REPLIES = {
    "POOL-A": {"content": "What is the sum of the first four positive odd integers?\nAnswer: \\boxed{16}", "reasoning_content": THINK},
    "POOL-B": {"content": "What is two plus two, exactly?\nAnswer: \\boxed{5}", "reasoning_content": THINK},
    "POOL-C": {"content": "Why is integration by parts useful?\nAnswer: it turns a product into simpler integrals.",
               "reasoning_content": THINK},
}


def _doc(uri, domain, text):
    return new_document(source="web", uri=uri, format="text", text=text, domain=domain)


def _pool(directory, docs):
    (directory / "docs").mkdir(parents=True)
    commit_pool(str(directory), docs)  # committed by the step runner, as a step output is
    return directory


def test_selection_takes_the_domains_up_to_the_token_budget():
    docs = [_doc(f"u{i}", dom, "word " * 400) for i, dom in enumerate(["math", "code", "general", "math", "math"])]
    every = select_for_rewrite(docs, ["math", "code"], None, seed=1)
    assert sorted(d["uri"] for d in every) == ["u0", "u1", "u3", "u4"]
    two = select_for_rewrite(docs, ["math"], 1000, seed=1)  # ~500 tokens each: two fit
    assert len(two) == 2 and all(d["domain"] == "math" for d in two)
    assert select_for_rewrite(list(reversed(docs)), ["math"], 1000, seed=1) == two  # input order does not matter


def test_stage3_rewrites_are_verified_or_labelled_unverified(tmp_path, monkeypatch):
    from curate.pipelines.steps import synth_step

    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    pool = _pool(tmp_path / "web", [
        _doc("w://a", "math", "POOL-A: The first four odd numbers add up to a square: $1+3+5+7 = \\boxed{16}$."),
        _doc("w://b", "math", "POOL-B: Two plus two is four, $2 + 2 = \\boxed{4}$."),
        _doc("w://c", "math", "POOL-C: Integration by parts is a technique worth knowing well."),
        _doc("w://d", "general", "POOL-D: The town library opens at nine."),
    ])
    srv = serve(REPLIES)
    try:
        data = default_config("stage3").model_dump(mode="json")
        data["synth"].update(k=1, rewrite_pool=True, rewrite_max_tokens=None, keep_unverified_rewrites=True)
        data["synth"]["backend"].update(kind="http", api="chat", url=url(srv), model="reasoner")
        data["decontam"]["packaged"] = []
        from curate.config import parse_config

        cfg = parse_config(data)
        final, m = synth_step(cfg, [], None, str(tmp_path / "cache"), [], log=lambda s: None, pools=[str(pool)])
    finally:
        stop(srv)
    docs = {d["uri"]: d for p in list_shards(f"{final}/docs") for d in read_shard(p)}
    rejects = {r["uri"]: r["reason"] for p in list_shards(f"{final}/rejects") for r in read_shard(p)}
    assert sorted(docs) == ["w://a", "w://c"] and rejects == {"w://b": "synth:wrong_answer"}  # w://d: not selected
    a, c = json.loads(docs["w://a"]["meta"]), json.loads(docs["w://c"]["meta"])
    assert a["verification"]["verified"] is True and docs["w://a"]["scores"]["synth_verified"] == 1.0
    assert c["verification"]["verified"] is False and docs["w://c"]["scores"]["synth_verified"] == 0.0
    assert c["reasoning"] == THINK and f"<think>\n{THINK}\n</think>" in docs["w://c"]["text"]
    for name, cnt in m["counts"].items():
        assert cnt["in"] == cnt["out"] + cnt["rejected"], name
