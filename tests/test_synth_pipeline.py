"""`curate synth` / `curate problems` end to end with the local backend and a tiny random model."""

import json
import pickle

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that
from click.testing import CliRunner

from curate.cli import cli
from curate.io.doc_shards import list_shards, read_shard
from curate.sample.generate import problems as sample_problems
from curate.synth.config import DecontamConfig, SynthConfig
from curate.testing.tiny_model import make_tiny_model

AIME = "Find the number of ordered pairs of positive integers such that their product equals twenty and both are odd"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(str(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("problems")
    lines = [json.dumps(p, sort_keys=True) for p in sample_problems(1234)]
    lines += [
        "{this is not json",
        json.dumps({"id": "no-answer", "kind": "math", "question": "What is it?"}),
        json.dumps({"id": "leak", "kind": "math", "question": AIME + "?", "answer": "0"}),
        "",
    ]
    path = d / "problems.jsonl"
    path.write_text("\n".join(lines) + "\n")
    bench = d / "aime.jsonl"
    bench.write_text(json.dumps({"problem": AIME}) + "\n")
    return path, bench, len(sample_problems(1234)) + 3


def _rows(directory):
    return [r for p in list_shards(directory) for r in read_shard(p)]


def _invoke(args):
    res = CliRunner().invoke(cli, args, obj={"beam_args": []}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def _common(tiny, bench):
    return ["--backend", "local", "--model", tiny, "-k", "2", "--max-new-tokens", "8", "--batch-size", "4",
            "--benchmark", f"aime={bench}"]


def test_help_texts():
    for cmd in ("synth", "problems"):
        out = CliRunner().invoke(cli, [cmd, "--help"]).output
        assert "--output" in out and "--backend" in out and '"kind": "code"' in out


def test_synth_writes_verified_or_rejected_records_and_the_count_law_holds(tiny, problems_file, tmp_path):
    path, bench, n_lines = problems_file
    out = tmp_path / "synth"
    res = _invoke(["synth", str(path), "--output", str(out), *_common(tiny, bench)])
    assert "problems: in" in res.output
    m = json.loads((out / "manifest.json").read_text())
    counts = m["counts"]
    for name, c in counts.items():
        assert c["in"] == c["out"] + c["rejected"], name
    assert counts["problems"]["in"] == n_lines
    assert counts["problems"]["rejects"] == {"synth:bad_problem": 1, "synth:contaminated:aime": 1, "synth:unverifiable": 1}
    n_tasks = counts["problems"]["out"]
    assert counts["generate"]["in"] == 2 * n_tasks == counts["verify"]["in"] + counts["generate"]["rejected"]
    docs, rejects = _rows(str(out / "docs")), _rows(str(out / "rejects"))
    assert len(docs) == counts["verify"]["out"]
    assert len(rejects) == sum(c["rejected"] for c in counts.values())
    verify_reasons = {"synth:unverified", "synth:wrong_answer", "synth:tests_failed", "synth:truncated"}
    sample_rejects = [r for r in rejects if r["reason"] in verify_reasons]
    assert len(sample_rejects) == counts["verify"]["rejected"]
    for r in sample_rejects:
        meta = json.loads(r["meta"])
        assert meta["backend"]["backend"] == "local" and meta["k"] == 2 and r["format"] == "synthetic"
        assert meta["difficulty"]["attempts"] == 2 and meta["prompt"]["name"].startswith("solve_")
    for d in docs:
        assert d["format"] == "synthetic" and json.loads(d["meta"])["verification"]
    assert m["stats"]["synth"]["tasks"] == n_tasks

    # Same inputs and config: the step output is reused, nothing runs again.
    res = _invoke(["synth", str(path), "--output", str(out), *_common(tiny, bench)])
    assert json.loads((out / "manifest.json").read_text())["finished_at"] == m["finished_at"]


def test_problems_writes_a_rated_problem_set(tiny, problems_file, tmp_path):
    path, bench, n_lines = problems_file
    out = tmp_path / "problems"
    _invoke(["problems", str(path), "--output", str(out), *_common(tiny, bench)])
    m = json.loads((out / "manifest.json").read_text())
    for name, c in m["counts"].items():
        assert c["in"] == c["out"] + c["rejected"], name
    rate = m["counts"]["rate"]
    assert rate["in"] == m["counts"]["near_dups"]["out"]  # the sample repeats some problems: each is sampled once
    lines = [json.loads(x) for x in (out / "problems.jsonl").read_text().splitlines()]
    assert len(lines) == rate["out"]
    for p in lines:
        assert p["ability"] in ("math", "code") and p["attempts"] == 2 and p["k"] == 2
        assert p["answer"] if p["ability"] == "math" else json.loads(p["tests"])
        assert p["label"] in ("easy", "medium", "hard", "unsolved")


def test_rewrite_of_pool_documents(tiny, tmp_path):
    from curate.pipelines.synth import Synthesize
    from curate.schema import new_document

    cfg = SynthConfig(k=2, backend={"kind": "local", "model": tiny, "max_new_tokens": 8, "batch_size": 2})
    refs = {"math": " So $1 + 1 = \\boxed{2}$.", "code": "\n```python\ndef f(x):\n    return x\nassert f(1) == 1\n```", "general": ""}
    docs = [new_document(source="web", uri=f"u{i}", format="text", text=f"Some {dom} text number {i}." + refs[dom], domain=dom)
            for i, dom in enumerate(["math", "code", "general"])]
    transform = Synthesize(cfg, str(tmp_path / "cache"))
    with beam.Pipeline() as p:
        res = p | beam.Create(docs) | transform
        counts = {}
        for name, ins, outs, rej in transform.parts:
            for tag, pc in (("in", ins), ("out", outs), ("rej", rej)):
                counts[(name, tag)] = pc | f"{name}{tag}" >> beam.combiners.Count.Globally()
        all_counts = [pc | f"Key{k[0]}{k[1]}" >> beam.Map(lambda n, k=k: (k, n)) for k, pc in counts.items()]

        def law(rows):
            c = dict(rows)
            for name in ("problems", "generate", "verify"):
                assert c[(name, "in")] == c[(name, "out")] + c[(name, "rej")], (name, c)
            assert c[("problems", "in")] == 3 and c[("problems", "out")] == 2 and c[("generate", "in")] == 4

        assert_that(all_counts | beam.Flatten(), law)
        reasons = res["rejects"] | "AllRejects" >> beam.Flatten() | beam.Map(lambda r: r["reason"])

        def has_not_rewritable(rs):
            assert "synth:not_rewritable" in rs and len(rs) >= 1

        assert_that(reasons, has_not_rewritable, label="reasons")


def test_dofns_pickle(tiny):
    from curate.pipelines import synth as ps
    from curate.synth.prompts import load_templates

    cfg = SynthConfig(backend={"kind": "local", "model": tiny})
    for fn in (ps._PrepareFn(cfg, DecontamConfig()), ps._GenerateFn(cfg, load_templates(), "/tmp/x"), ps._VerifyFn(cfg, DecontamConfig()), ps._FinalizeFn(cfg)):
        pickle.loads(pickle.dumps(fn))


def test_missing_model_directory_is_a_clear_error(problems_file, tmp_path):
    path, bench, _ = problems_file
    res = CliRunner().invoke(cli, ["synth", str(path), "--output", str(tmp_path / "o"), "--backend", "local",
                                   "--model", str(tmp_path / "nope")], obj={"beam_args": []})
    assert res.exit_code != 0
    assert "nope" in (res.output + str(res.exception))
