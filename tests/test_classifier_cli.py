"""`curate classifier` on step directories, with held-out metrics, `apply` (scores without
filtering) and the opt-in end-to-end fine-tuning compared with the frozen head and fastText."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from curate.commands.classifier import classifier
from curate.filters.lm_quality import LMQualityModel
from curate.filters.metrics import auc, split
from curate.schema import new_document
from curate.testing.filter_pages import labelled_pages
from mixhelp import commit_pool


def _step_output(tmp_path, name, pages):
    """A real step output (curate decontam over a pool): docs/, rejects/, _counts.json, manifest.json."""
    from curate.cli import cli

    pool = tmp_path / f"{name}-pool"
    (pool / "docs").mkdir(parents=True)
    docs = [new_document(source="t", uri=f"{name}{i}", format="text", text=p["text"], offset=i) for i, p in enumerate(pages)]
    commit_pool(str(pool), docs)  # committed by the step runner, as a step output is
    cfg = tmp_path / "stage.yaml"
    cfg.write_text("stage: stage2\ndecontam:\n  packaged: []\n")
    out = tmp_path / name
    res = CliRunner().invoke(cli, ["decontam", str(pool), "--config", str(cfg), "--output", str(out)],
                             obj={"beam_args": []}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (out / "_counts.json").exists() and (out / "manifest.json").exists()
    return out, docs


@pytest.fixture(scope="module")
def pages():
    return labelled_pages(200, seed=5)


def _invoke(args):
    r = CliRunner().invoke(classifier, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.output.strip().splitlines()[-1])


def test_metrics():
    assert auc([True, False, True, False], [0.9, 0.1, 0.8, 0.8]) == 0.875
    assert auc([True, True], [0.1, 0.2]) is None
    fit, held = split(list(range(10)), 0.2, seed=1)
    assert len(held) == 2 and sorted(fit + held) == list(range(10)) and split(list(range(10)), 0.2, seed=1) == (fit, held)


def test_step_directories_train_with_held_out_metrics_and_apply_scores_without_filtering(pages, tmp_path):
    good, _ = _step_output(tmp_path, "good", [p for p in pages if p["label"]])
    bad, bad_docs = _step_output(tmp_path, "bad", [p for p in pages if not p["label"]])
    model = str(tmp_path / "q.bin")
    out = _invoke(["train", "--kind", "fasttext", "--positive", str(good), "--negative", str(bad), "--output", model,
                   "--holdout", "0.25"])
    held = out["heldout"]
    assert held["examples"] == round(len(pages) * 0.25) == sum(held["per_class"].values())
    assert sum(out["examples"].values()) + held["examples"] == len(pages)
    assert held["auc"] > 0.85 and 0.5 < held["accuracy"] <= 1.0

    scores = tmp_path / "scores.jsonl"
    res = _invoke(["apply", str(bad), "--model", model, "--output", str(scores)])
    rows = [json.loads(x) for x in scores.read_text().splitlines()]
    assert res["scored"] == len(rows) == len(bad_docs)  # every document, none filtered
    assert sorted(r["id"] for r in rows) == sorted(d["id"] for d in bad_docs)
    assert all(0.0 <= r["score"] <= 1.0 for r in rows) and res["mean_score"] < 0.5


def test_finetuning_is_compared_with_the_frozen_head_and_fasttext(pages, tmp_path):
    from test_filter_classifiers import _tiny_encoder

    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"text": p["text"][:400], "score": p["score"]}) + "\n" for p in pages[:80]))
    enc = _tiny_encoder(tmp_path / "enc", [p["text"] for p in labelled_pages(40, seed=9)])
    out_dir = str(tmp_path / "lm-ft")
    out = _invoke(["train", "--kind", "lm", "--labels", str(labels), "--encoder", enc, "--output", out_dir, "--finetune",
                   "--finetune-epochs", "2", "--finetune-lr", "1e-3", "--max-length", "48", "--device", "cpu",
                   "--batch-size", "16"])
    held = out["heldout"]
    assert set(held) == {"finetuned", "frozen_head", "fasttext"}
    for name, rep in held.items():
        assert rep["examples"] == 16 and rep["auc"] is not None and 0 <= rep["auc"] <= 1, name
    assert out["head"] == "finetuned" and len(out["epoch_mse"]) == 2
    m = LMQualityModel(out_dir, device="cpu")  # the fine-tuned model loads like a frozen-head one
    assert all(0 <= s <= 5 for s in m.score(["some text", "another text"]))
    assert os.path.exists(os.path.join(out_dir, "encoder", "config.json"))
