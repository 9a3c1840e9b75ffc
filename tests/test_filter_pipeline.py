"""`curate filter` on a Document pool: kept docs carry lang/domain/scores, rejects name rule and score."""

import json

import pyarrow.parquet as pq
import yaml
from click.testing import CliRunner

from curate.cli import cli
from curate.filters.apply import DocumentFilter
from curate.filters.config import FilterConfig
from curate.filters.fasttext_quality import train_quality
from curate.schema import from_table, new_document
from curate.testing.filter_pages import good_page, labelled_pages
from mixhelp import commit_pool

FRENCH = ("La bibliothèque municipale a ouvert une nouvelle salle de lecture pour les enfants du quartier. "
          "Les habitants se réjouissent de pouvoir emprunter des livres le dimanche matin, et les bénévoles "
          "organisent des ateliers d'écriture chaque semaine pendant les vacances scolaires. ") * 3


def _pool(tmp_path, texts):
    pool = tmp_path / "pool"
    (pool / "docs").mkdir(parents=True)
    docs = [new_document(source="t", uri=f"u{i}", format="text", text=t, offset=i) for i, t in enumerate(texts)]
    commit_pool(str(pool), docs)  # committed by the step runner, as a step output is
    return pool, docs


def _read(out, sub):
    rows = []
    for f in sorted((out / sub).glob("*.parquet")):
        rows += from_table(pq.read_table(f))
    return rows


def _texts():
    import random

    rng = random.Random(7)
    goods = [good_page(rng)[1] for _ in range(12)]
    # word salad passes rules (only the classifiers catch it): left out of the rule test
    bads = [p["text"] for p in labelled_pages(24, seed=2) if not p["label"] and p["kind"] != "salad"]
    return goods, bads


def test_curate_filter_default_config(tmp_path):
    goods, bads = _texts()
    pool, docs = _pool(tmp_path, goods + bads + [FRENCH, "", "short text."])
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["filter", str(pool), "--output", str(out)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    c = manifest["steps"][0]["counts"]["filter"] if "steps" in manifest else manifest["counts"]["filter"]
    kept, rejects = _read(out, "docs"), _read(out, "rejects")
    assert c["in"] == len(docs) == len(kept) + len(rejects)
    assert {d["text"] for d in kept} <= set(goods)
    assert len(kept) >= 0.8 * len(goods)
    for d in kept:
        assert d["lang"] == "en" and d["lang_score"] > 0.5
        assert d["domain"] in ("math", "code", "general")
        assert {"math_density", "code_density"} <= set(d["scores"])
    reasons = {r["text"]: (r["reason"], r["detail"]) for r in rejects}
    assert reasons[FRENCH][0] == "filter:lang" and "lang=fr" in reasons[FRENCH][1]
    assert reasons[""][0] == "filter:empty"
    assert reasons["short text."] == ("filter:gopher:word_count", "words=2 < 50")
    assert all(r["reason"].startswith("filter:") and r["detail"] for r in rejects)
    assert manifest_stats(manifest)["domains"]


def manifest_stats(manifest):
    return manifest["steps"][0]["stats"] if "steps" in manifest else manifest["stats"]


def test_curate_filter_with_fasttext_model_from_config(tmp_path):
    pages = labelled_pages(200, seed=11)
    model = str(tmp_path / "q.bin")
    train_quality([p["text"] for p in pages if p["label"]], [p["text"] for p in pages if not p["label"]], model)
    goods, bads = _texts()
    pool, docs = _pool(tmp_path, goods + bads)
    cfg = {"stage": "stage2", "filter": {"languages": [], "min_words": 0, "gopher": {"enabled": False},
                                         "gopher_repetition": {"enabled": False}, "c4": {"enabled": False},
                                         "fineweb": {"enabled": False}, "fasttext": {"model": model, "min_score": 0.5}}}
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["filter", str(pool), "--output", str(out), "--config", str(cfg_path)])
    assert r.exit_code == 0, r.output
    kept, rejects = _read(out, "docs"), _read(out, "rejects")
    assert len(kept) + len(rejects) == len(docs)
    assert all(d["scores"]["fasttext_quality"] >= 0.5 for d in kept)
    assert rejects and all(r["reason"] == "filter:fasttext_quality" for r in rejects)
    assert sum(d["text"] in goods for d in kept) >= 0.8 * len(goods)


def test_score_mode_keeps_everything():
    goods, bads = _texts()
    f = DocumentFilter(FilterConfig(mode="score"))
    docs = [new_document(source="t", uri=f"u{i}", format="text", text=t, offset=i) for i, t in enumerate(goods + bads)]
    res = f.apply(docs)
    assert all(kind == "doc" for kind, _ in res)
    assert all(v["domain"] and v["lang"] for _, v in res)


def test_code_only_document_passes_language_filter():
    code = "```python\n" + "\n".join(f"def f{i}(x):\n    return x * {i} + {i * i}" for i in range(30)) + "\n```"
    f = DocumentFilter(FilterConfig())
    d = f.check(new_document(source="t", uri="c", format="text", text=code))
    assert d["domain"] == "code" and d["lang"] == "und"


def test_filter_step_counts_exemptions_in_its_manifest(tmp_path):
    from test_filter_profiles import _forum, _tutorial

    from curate.filters.judges import JudgeStats

    goods, _ = _texts()
    pool, docs = _pool(tmp_path, goods[:4] + [_forum(), _tutorial()])
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["filter", str(pool), "--output", str(out)])
    assert r.exit_code == 0, r.output
    kept = _read(out, "docs")
    assert len(kept) == len(docs)
    stats = JudgeStats.from_counts(manifest_stats(json.loads((out / "manifest.json").read_text()))["judges"])
    assert stats.exemptions["math"]["filter:gopher_rep:dup_5gram"] == 1
    assert stats.exemptions["code"]["filter:fineweb:char_dup"] == 1
    assert stats.judges == {}  # no LM classifier ran


def test_filter_processes_change_neither_the_key_nor_the_bytes(stage2_run, tmp_path, monkeypatch):
    """Batches judged in two spawned children give the step the in-process run wrote."""
    from curate.config import default_config
    from curate.pipelines import filter as filter_pipeline
    from curate.pipelines import steps

    out, manifest = stage2_run
    by_name = {s["step"]: s for s in manifest["steps"]}
    ref = by_name["filter"]
    monkeypatch.setattr(filter_pipeline, "INLINE_DOCS", 0)  # the sample is small: use the children at once
    cfg = default_config("stage2")
    cfg.filter.processes = 2
    _, m = steps.filter_step(cfg, [by_name["dedup"]["dir"]], [by_name["dedup"]["output_digest"]],
                             str(tmp_path / "f2"), str(tmp_path), [], log=lambda m: None)
    assert m["key"] == ref["key"] and m["output_digest"] == ref["output_digest"]
