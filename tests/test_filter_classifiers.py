"""fastText and small-LM quality classifiers: train from files, save, reload, score in a DirectRunner pipeline."""

import json
import os

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that
from click.testing import CliRunner

from curate.commands.classifier import classifier
from curate.filters.annotate import annotate, parse_score
from curate.filters.config import FilterConfig
from curate.filters.fasttext_quality import FastTextClassifier
from curate.filters.lm_quality import LMQualityModel
from curate.pipelines.filter import Filter
from curate.schema import new_document
from curate.testing.filter_pages import labelled_pages
from curate.testing.tiny_model import make_tiny_model


def auc(labels, scores):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    pages = labelled_pages(240, seed=3)
    train, test = pages[:160], pages[160:]
    for name, rows in (("pos.jsonl", [p for p in train if p["label"]]), ("neg.jsonl", [p for p in train if not p["label"]]),
                       ("labels.jsonl", train)):
        with open(root / name, "w") as fh:
            for r in rows:
                fh.write(json.dumps({"text": r["text"], "score": r["score"]}) + "\n")
    return root, test


def _tiny_encoder(path, texts):
    """A tiny random-init BERT encoder with a WordPiece tokenizer trained on ``texts``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(path)
    return str(path)


def _docs(pages):
    return [new_document(source="t", uri=f"u{i}", format="text", text=p["text"], offset=i) for i, p in enumerate(pages)]


def _run_filter(cfg, docs, check_docs, check_rejects):
    with beam.Pipeline(runner="DirectRunner") as p:
        res = p | beam.Create(docs) | Filter(cfg)
        assert_that(res["docs"], check_docs, label="docs")
        assert_that(res["rejects"], check_rejects, label="rejects")


def test_fasttext_train_reload_score(data):
    root, test = data
    model = str(root / "q.bin")
    r = CliRunner().invoke(classifier, ["train", "--kind", "fasttext", "--positive", str(root / "pos.jsonl"),
                                        "--negative", str(root / "neg.jsonl"), "--output", model])
    assert r.exit_code == 0, r.output
    clf = FastTextClassifier(model)  # reload from disk
    scores = clf.quality([p["text"] for p in test])
    assert auc([p["label"] for p in test], scores) > 0.9
    assert all(0.0 <= s <= 1.0 for s in scores)

    cfg = FilterConfig(languages=[], min_words=0, gopher={"enabled": False}, gopher_repetition={"enabled": False},
                       c4={"enabled": False}, fineweb={"enabled": False}, fasttext={"model": model, "min_score": 0.5})
    docs = _docs(test)
    labels = {d["id"]: p["label"] for d, p in zip(docs, test)}

    def check_docs(out):
        assert out and all("fasttext_quality" in d["scores"] and d["scores"]["fasttext_quality"] >= 0.5 for d in out)
        assert all(d["domain"] in ("math", "code", "general") for d in out)
        assert sum(labels[d["id"]] for d in out) / len(out) > 0.85  # kept docs are mostly the good ones

    def check_rejects(out):
        assert out and all(r["reason"] == "filter:fasttext_quality" and r["detail"].startswith("fasttext_quality=") for r in out)
        assert len(out) + 0 <= len(docs)

    _run_filter(cfg, docs, check_docs, check_rejects)


def test_lm_train_reload_score(data, tmp_path):
    root, test = data
    enc = _tiny_encoder(tmp_path / "enc", [p["text"] for p in labelled_pages(60, seed=9)])
    out = str(tmp_path / "lm")
    r = CliRunner().invoke(classifier, ["train", "--kind", "lm", "--labels", str(root / "labels.jsonl"), "--encoder", enc,
                                        "--output", out, "--max-length", "128", "--device", "cpu", "--l2", "1e-4"])
    assert r.exit_code == 0, r.output
    assert os.path.exists(os.path.join(out, "encoder", "config.json"))  # self-contained
    m = LMQualityModel(out, device="cpu")
    scores = m.score([p["text"] for p in test])
    assert all(0.0 <= s <= 5.0 for s in scores)
    # a random-init encoder carries little more than lexical signal; the > 0.9 AUC target is
    # measured with all-MiniLM-L6-v2 in benchmarks/filters.py
    assert auc([p["label"] for p in test], scores) > 0.75

    cfg = FilterConfig(languages=[], min_words=0, gopher={"enabled": False}, gopher_repetition={"enabled": False},
                       c4={"enabled": False}, fineweb={"enabled": False},
                       prefilter={"wall_max_dup_line_frac": None, "wall_max_top_2gram_frac": None},
                       lm={"model": out, "min_score": 2.5, "device": "cpu", "batch_size": 8}, batch_size=16)
    docs = _docs(test)

    def check_docs(kept):
        assert kept and all(d["scores"]["lm_quality"] >= 2.5 for d in kept)

    def check_rejects(rej):
        assert rej and all(r["reason"] == "filter:lm_quality" and "lm_quality=" in r["detail"] for r in rej)

    _run_filter(cfg, docs, check_docs, check_rejects)
    _lm_is_the_judge(out, test)


def _lm_is_the_judge(model_dir, test):
    """With a model and a threshold the LM decides; rules only prefilter, and disagreements are counted."""
    from curate.filters.apply import DocumentFilter

    cfg = FilterConfig(lm={"model": model_dir, "min_score": 2.5, "device": "cpu", "batch_size": 8})
    assert cfg.lm_judges and not FilterConfig(lm={"model": model_dir}).lm_judges
    brace = "\n\nvar config = {debug: true, retries: 3};"  # fails the web rules (C4 '{'), not the prefilter
    texts = [p["text"] + brace for p in test if p["label"]][:10] + ["\n".join(["Buy cheap watches online today, the best price in town!"] * 20)]
    verdicts = DocumentFilter(cfg).judge(_docs([{"text": t} for t in texts]))
    wall = verdicts[-1]
    assert wall.reject[0].startswith("filter:spam_wall:") and "lm_quality" not in wall.doc["scores"]
    for v in verdicts[:-1]:
        if v.doc["domain"] != "general":
            continue
        assert v.rules_reject == "filter:c4:curly_bracket"
        lm_drop = v.doc["scores"]["lm_quality"] < 2.5
        assert (v.reject is not None) == lm_drop and v.lm_reject == lm_drop
        assert v.events == ["judges:agree_drop" if lm_drop else "judges:rules_drop_lm_keep"]
    assert sum(v.doc["domain"] == "general" for v in verdicts[:-1]) >= 5


def test_fasttext_multiclass_domain_model(tmp_path):
    rows = [p for p in labelled_pages(400, seed=5) if p["label"]]
    with open(tmp_path / "dom.jsonl", "w") as fh:
        for p in rows:
            fh.write(json.dumps({"text": p["text"], "label": {"prose": "general"}.get(p["kind"], p["kind"])}) + "\n")
    model = str(tmp_path / "dom.bin")
    r = CliRunner().invoke(classifier, ["train", "--kind", "fasttext", "--labels", str(tmp_path / "dom.jsonl"), "--output", model,
                                        "--epoch", "50"])
    assert r.exit_code == 0, r.output
    from curate.filters.apply import DocumentFilter

    f = DocumentFilter(FilterConfig(languages=[], mode="score", domain={"model": model, "min_prob": 0.0}))
    test = [p for p in labelled_pages(60, seed=6) if p["label"]]
    got = [v["domain"] for _, v in f.apply(_docs(test))]
    want = [{"prose": "general"}.get(p["kind"], p["kind"]) for p in test]
    assert sum(g == w for g, w in zip(got, want)) / len(want) > 0.9


def test_train_errors_name_the_problem(tmp_path):
    r = CliRunner().invoke(classifier, ["train", "--kind", "fasttext", "--positive", str(tmp_path / "nope.jsonl"),
                                        "--negative", str(tmp_path / "nope2.jsonl"), "--output", str(tmp_path / "m.bin")])
    assert r.exit_code != 0 and "nope.jsonl" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\nnot json\n')
    r = CliRunner().invoke(classifier, ["train", "--kind", "lm", "--labels", str(bad), "--output", str(tmp_path / "lm")])
    assert r.exit_code != 0 and "bad.jsonl:2" in r.output


def test_annotate_with_a_generate_callable():
    seen = []

    def generate(prompts):
        seen.extend(prompts)
        return [("Clear worked example.\nScore: 4" if "$$" in p or "```" in p else "Spam.\nScore: 0") for p in prompts]

    pages = labelled_pages(20, seed=1)
    out = list(annotate([{"id": str(i), "text": p["text"]} for i, p in enumerate(pages)], generate, batch_size=6))
    assert len(out) == 20 and len(seen) == 20
    assert all(o["score"] in (0.0, 4.0) for o in out)
    assert "additive 5-point" in seen[0]


@pytest.mark.parametrize("reply,score", [("Score: 3", 3.0), ("…so the total is **Score: 5/5**", 5.0),
                                         ("score=2\nmore text Score: 1", 1.0), ("no verdict", None), ("Score: 9", None)])
def test_parse_score(reply, score):
    assert parse_score(reply) == score


def test_annotate_cli_with_local_backend(tmp_path):
    model = make_tiny_model(str(tmp_path / "llm"))
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": p["text"]}) + "\n" for i, p in enumerate(labelled_pages(3))))
    out = tmp_path / "labels.jsonl"
    r = CliRunner().invoke(classifier, ["annotate", str(src), "--output", str(out), "--backend", "local", "--model", model,
                                        "--max-new-tokens", "4", "--batch-size", "3"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output[r.output.rindex("{"):])
    assert summary["annotated"] + summary["no_score_in_reply"] == 3  # a random-init LLM rarely says "Score: N"
    assert out.exists()
