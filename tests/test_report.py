"""report.json / report.html / the terminal summary, built from a real `curate run stage2`.

The run reads the embedded sample plus one source whose every page is too short to keep, so
the report must show a source that lost every document. Every expected number is read back
from what the steps wrote (manifests, Parquet shards), never from a hand-written fixture.
"""

import io
from html import escape as html_escape
import json
import os
import re

import pyarrow.parquet as pq
import pytest

from curate.config import default_config
from curate.dedup.stats import ClusterStats
from curate.pipelines.stages import run_stage


def _shards(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".parquet")) if os.path.isdir(d) else []


def _rows(step_dir, sub, columns):
    return [r for p in _shards(os.path.join(step_dir, sub)) for r in pq.read_table(p, columns=columns).to_pylist()]


@pytest.fixture(scope="module")
def run(sample_dir, tmp_path_factory):
    """`curate run stage2 --input web --input crawl.warc.gz --input pdf --input doomed`: (out, manifest, report)."""
    tmp = tmp_path_factory.mktemp("report")
    doomed = tmp / "doomed"
    doomed.mkdir()
    for i in range(3):  # a page with a few words only: extract rejects it (extract:html:too_short)
        (doomed / f"stub-{i}.html").write_text(f"<html><body><p>Stub page {i}.</p></body></html>")
    inputs = [str(sample_dir / "web"), str(sample_dir / "crawl.warc.gz"), str(sample_dir / "pdf"), str(doomed)]
    out = tmp / "out" / "stage2"
    manifest = run_stage(default_config("stage2"), str(out), [], inputs=inputs, log=lambda m: None)
    report = json.load(open(out / "report.json"))
    return str(out), manifest, report


def _step(manifest, name):
    return next(s for s in manifest["steps"] if s["step"] == name)


def test_every_source_has_a_funnel_including_one_that_lost_everything(run):
    out, manifest, rep = run
    funnel = {f["source"]: f for f in rep["funnel"]}
    assert set(funnel) == {s["name"] for s in manifest["sources"]} == {"web", "crawl", "pdf", "doomed"}
    doomed = funnel["doomed"]
    assert doomed["lost_all"] is True
    assert [s["stage"] for s in doomed["stages"]] == ["read", "extract", "mixed"]
    assert [s["docs"] for s in doomed["stages"]] == [3, 0, 0]
    assert doomed["top_rejects"] == [{"reason": "extract:html:too_short", "docs": 3}]
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert "doomed <span class=lost>(lost every document)</span>" in html
    # per-source numbers add up to each step's own counts (manifest) and to the mix
    for name, first in (("extract", "read"), ("dedup", "dedup"), ("filter", "filter")):
        counts = _step(manifest, name)["counts"]
        outs = sum(next(s["docs"] for s in f["stages"] if s["stage"] == name) for f in funnel.values() if
                   any(s["stage"] == name for s in f["stages"]))
        assert outs == counts[name]["out"], name
    assert sum(f["stages"][0]["docs"] for f in funnel.values()) == _step(manifest, "extract")["counts"]["read"]["in"]
    assert sum(f["tokens"] for f in funnel.values()) == rep["summary"]["total_tokens"]
    mixed = {f["source"]: f["stages"][-1]["docs"] for f in funnel.values()}
    assert mixed == {**{s["source"]: s["docs_available"] for s in rep["sources"]}, "doomed": 0}


def test_token_matrix_languages_and_timings(run):
    out, manifest, rep = run
    m = rep["token_matrix"]
    by_src = {s: sum(row) for s, row in zip(m["sources"], m["tokens"])}
    assert by_src["doomed"] == 0
    assert {k: v for k, v in by_src.items() if v} == {k: v for k, v in rep["summary"]["tokens_per_source"].items() if v}
    for j, dom in enumerate(m["domains"]):
        assert sum(row[j] for row in m["tokens"]) == round(rep["shares"]["domain"]["realized"][dom] * rep["summary"]["total_tokens"])
    filt = _step(manifest, "filter")
    langs = rep["languages"]
    assert sum(v["kept"] for v in langs.values()) == filt["counts"]["filter"]["out"]
    assert sum(v["rejected"] for v in langs.values()) == filt["counts"]["filter"]["rejected"]
    assert {"en", "fr", "de", "es"} <= set(langs)  # the sample plants foreign pages
    # timings are in report.html (from the step manifests), not in the clock-free report.json
    assert "timings" not in rep
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))
    assert [t["step"] for t in data["timings"]] == [s["step"] for s in manifest["steps"]]
    assert [t["wall_s"] for t in data["timings"]] == [s["wall_s"] for s in manifest["steps"]]


def test_reject_examples_are_rejected_documents_with_the_rules_detail(run):
    out, manifest, rep = run
    ex = rep["reject_examples"]
    totals = {}
    for s in manifest["steps"]:
        for c in s["counts"].values():
            for r, n in c["rejects"].items():
                totals[r] = totals.get(r, 0) + n
    assert set(ex) == set(sorted(totals, key=lambda r: (-totals[r], r))[:8])
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    for reason, docs in ex.items():
        assert len(docs) == min(2, totals[reason]), reason
        step = next(s for s in manifest["steps"] if reason in json.dumps(s["counts"]))
        written = {r["id"]: r for r in _rows(step["dir"], "rejects", ["id", "reason", "detail"])}
        for d in docs:
            assert written[d["id"]]["reason"] == reason and written[d["id"]]["detail"] == d["detail"]
            assert d["detail"]
            assert f"<b>detail:</b> {html_escape(d['detail'])}" in html
    assert any(r.startswith("filter:") for r in ex) and any(r.startswith("dedup:") for r in ex)


def test_largest_dedup_clusters_with_their_members(run):
    out, manifest, rep = run
    dd = _step(manifest, "dedup")
    stats = ClusterStats.from_json(dd["stats"]["clusters"])
    clusters = rep["dup_clusters_largest"]
    assert [c["id"] for c in clusters] == [c["id"] for c in stats.largest[:3]]
    kept = {r["id"]: r["dup_cluster"] for r in _rows(dd["dir"], "docs", ["id", "dup_cluster"])}
    removed = {r["id"]: r["dup_cluster"] for r in _rows(dd["dir"], "rejects", ["id", "dup_cluster"])}
    for c in clusters:
        members = c["members"]
        assert len(members) == min(c["size"], 4) >= 2
        assert members[0]["kept"] and not any(m["kept"] for m in members[1:])
        assert kept[members[0]["id"]] == c["id"]
        assert all(removed[m["id"]] == c["id"] for m in members[1:])
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert html.count("<span class=badge>kept</span>") == len(clusters)


def test_examples_per_source_and_domain_render_math_and_code(run):
    out, manifest, rep = run
    filt = _step(manifest, "filter")
    pairs = {(r["source"], r["domain"]) for r in _rows(filt["dir"], "docs", ["source", "domain"])}
    ex = rep["examples"]
    assert {(s, d) for s, doms in ex.items() for d in doms} == pairs
    texts = {r["id"]: r["text"] for r in _rows(filt["dir"], "docs", ["id", "text"])}
    for doms in ex.values():
        for docs in doms.values():
            assert 1 <= len(docs) <= default_config("stage2").mix.report_samples
            for d in docs:
                assert texts[d["id"]].startswith(d["text"].removesuffix("```").rstrip())
                assert d["cut"] == (len(texts[d["id"]]) > len(d["text"]))
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert html.count('<span class="math"') >= 5  # math examples carry formulas for KaTeX
    assert '<pre class="hl"><span class="lang">python</span>' in html  # code highlighted by Pygments
    assert "$$" not in re.sub(r"<pre class=raw>.*?</pre>", "", html.split('id="report-data"')[0], flags=re.S)


def test_report_is_offline_and_the_same_bytes_when_the_steps_are_reused(run):
    out, manifest, rep = run
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert "<script src" not in html and "<link" not in html and "url(http" not in html
    assert "font-src data:" in html and "katex" in html
    again = os.path.join(os.path.dirname(out), "stage2-again")
    inputs = [s["paths"][0] for s in manifest["sources"]]
    m2 = run_stage(default_config("stage2"), again, [], inputs=inputs, log=lambda m: None)
    assert all(s["reused"] for s in m2["steps"])
    for name in ("report.html", "report.json"):
        assert open(os.path.join(again, name), "rb").read() == open(os.path.join(out, name), "rb").read(), name


def test_report_dedup_chart_is_the_cluster_sizes_of_a_real_run(run):
    """Was: the chart plotted the stats dict's keys (candidate_edges, cc_rounds, …)."""
    out, manifest, rep = run
    stats = ClusterStats.from_json(_step(manifest, "dedup")["stats"]["clusters"])
    assert stats.size_histogram and all(size >= 2 for size in stats.size_histogram)
    assert rep["dedup_clusters"] == {str(k): v for k, v in stats.size_histogram.items()}
    assert sum(rep["dedup_clusters"].values()) == stats.clusters


def test_report_shows_filter_exemptions_of_a_real_run(run):
    """The exemption table is built from what the filter step of `curate run stage2` wrote."""
    from curate.filters.judges import JudgeStats

    out, manifest, rep = run
    stats = JudgeStats.from_counts(_step(manifest, "filter")["stats"]["judges"])
    assert stats.saved > 0  # the sample has a PDF paper that the web rules would drop
    assert rep["filter_judges"] == stats.to_json()
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    for profile, rules in stats.exemptions.items():
        for rule, n in rules.items():
            assert f"<tr><td class=l>{profile}</td><td class=l>{rule}</td><td>{n}</td></tr>" in html


def test_report_says_where_absolute_prefixes_are_and_they_are_there(run):
    out, manifest, rep = run
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    blend = json.load(open(os.path.join(out, "blend.json")))
    assert "blend.json also has absolute ones" not in html
    assert not any(d["prefix"].startswith("/") for d in blend["datasets"])
    assert manifest["mix"]["data_path_abs"].split()[1].startswith(os.path.abspath(out))


def test_print_summary(run):
    from rich.console import Console

    from curate.mixtures.report import print_summary

    out, manifest, rep = run
    buf = io.StringIO()
    print_summary(out, Console(file=buf, width=140, color_system=None))
    text = buf.getvalue()
    for word in ("Sources", "Targets", "Steps", "web", "pdf", "--data-path", "dedup", "dedup:exact"):
        assert word in text, word


def _expected_bars(rep, manifest):
    """Bars each chart must draw: one per positive value of the data it plots."""
    pos = lambda vals: sum(1 for v in vals if v is not None and v > 0)  # noqa: E731
    bars = {}
    for dim in ("domain", "source"):
        s = rep["shares"][dim]
        bars[f"chart-{dim}"] = pos(s["realized"].values()) + pos(s["target"].values())
    bars["chart-tokens"] = pos(s["tokens"] for s in rep["sources"]) + pos(s["tokens_available"] for s in rep["sources"])
    bars["chart-epochs"] = pos(s["epochs"] for s in rep["sources"]) + pos(s["max_epochs"] for s in rep["sources"])
    bars["chart-funnel"] = pos(st["docs"] for f in rep["funnel"] for st in f["stages"])
    bars["chart-steps"] = pos(r[k] for r in rep["steps"] for k in ("in", "out", "rejected"))
    reasons = {}
    for r in rep["steps"]:
        for k, n in r["rejects"].items():
            reasons[k] = reasons.get(k, 0) + n
    bars["chart-rejects"] = pos(reasons.values())
    bars["chart-langs"] = pos(v[k] for v in rep["languages"].values() for k in ("kept", "rejected"))
    bars["chart-lengths"] = pos(n for v in rep["length_hist"]["by_domain"].values() for n in v)
    bars["chart-quality"] = pos(n for h in rep["quality_hist"]["scores"].values() for n in h["counts"])
    bars["chart-clusters"] = pos(rep["dedup_clusters"].values())
    walls = [(s["wall_s"], max(c["in"] for c in s["counts"].values())) for s in manifest["steps"]]
    bars["chart-timing"] = pos(n / w for w, n in walls if w > 0)
    return bars


def test_report_renders_in_a_browser(run):
    """Headless Chromium (Playwright) at 1280 and 400 px: no console error, formulas typeset by
    KaTeX, each chart with the bars the run's data implies, no horizontal page scroll."""
    from curate.testing.browser import chromium, render

    if chromium() is None:
        pytest.skip("Playwright or chromium is not installed (pip install playwright; apt-get install chromium)")
    out, manifest, rep = run
    path = os.path.join(out, "report.html")
    formulas = open(path, encoding="utf-8").read().count('<span class="math"')
    expected = _expected_bars(rep, manifest)
    assert all(n > 0 for n in expected.values()), expected
    for r in render(path):
        assert r.console == [] and r.charts_error is None, (r.width, r.console, r.charts_error)
        assert r.charts_rendered == len(expected)
        assert r.math_rendered == formulas > 0 and r.katex_elements == formulas and r.math_errors == 0
        assert {k: r.bars.get(k) for k in expected} == expected, r.width
        assert r.scroll_width <= r.width, (r.width, r.scroll_width)


def test_megatron_default_split_needs_enough_documents():
    """megatron-core cuts each dataset at round(cumulative share × documents): with --split 969,30,1
    a dataset of under 500 documents has an empty test split, one of under 17 an empty valid split."""
    from curate.mixtures.report import empty_splits

    assert empty_splits(10) == ["valid", "test"]
    assert empty_splits(100) == ["test"]
    assert empty_splits(500) == ["test"] and empty_splits(501) == []  # round(499.5) is 500: banker's rounding, as Python's
    assert empty_splits(3, (100, 0, 0)) == []


def test_warnings_of_the_embedded_sample_run(run):
    """The sample's shards hold tens of documents: Megatron's default split would hang on them."""
    out, manifest, rep = run
    warnings = rep["summary"]["warnings"]
    small = [w for w in warnings if "--split" in w]
    assert len(small) == 1 and "needs 501 documents" in small[0] and "--split 100,0,0" in small[0]
    for d in json.load(open(os.path.join(out, "blend.json")))["datasets"]:
        assert d["prefix"] in small[0]
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert "<h2 id=warnings>Warnings</h2>" in html


def test_budget_warnings(tmp_path):
    """Under 10% of the pool, and more than the epoch caps allow: both said, from a real mix."""
    from curate.pipelines.stages import run_mix

    from mixhelp import pools as make_pools

    pools = make_pools(str(tmp_path))
    cfg = default_config("stage2")
    cfg.mix.total_tokens = 2_000
    run_mix(cfg, pools, str(tmp_path / "small"), [], [], log=lambda m: None)
    rep = json.load(open(tmp_path / "small" / "report.json"))
    assert any("of the pools'" in w and "under 10%" in w for w in rep["summary"]["warnings"])
    cfg.mix.total_tokens = 50_000_000
    cfg.mix.max_epochs = 1.0
    run_mix(cfg, pools, str(tmp_path / "big"), [], [], log=lambda m: None)
    rep = json.load(open(tmp_path / "big" / "report.json"))
    assert any("epoch caps" in w for w in rep["summary"]["warnings"])
    assert not any("under 10%" in w for w in rep["summary"]["warnings"])


def test_the_tokenizer_is_beside_blend_json_and_megatron_flags_name_it(run):
    import hashlib

    from click.testing import CliRunner

    from curate.cli import cli

    out, manifest, rep = run
    blend = json.load(open(os.path.join(out, "blend.json")))
    tok = os.path.join(out, blend["tokenizer"]["path"])
    assert hashlib.sha256(open(tok, "rb").read()).hexdigest() == blend["tokenizer"]["sha256"]
    r = CliRunner().invoke(cli, ["report", out, "--absolute"])
    lines = r.stdout.splitlines()
    assert lines[-1].startswith("Megatron: --data-path ")
    assert lines[-2] == (f"Megatron flags: --tokenizer-type HuggingFaceTokenizer --tokenizer-model {tok} "
                         f"--seq-length {rep['context_length']}")


def test_report_shows_decontamination_hits_per_benchmark_of_a_real_run(run):
    """The decontam step's DecontamStats (texts checked, items and hits per benchmark) reach the report."""
    from curate.synth.decontam import DecontamStats

    out, manifest, rep = run
    stats = DecontamStats.from_json(_step(manifest, "decontam")["stats"]["decontam"])
    assert stats.checked == _step(manifest, "decontam")["counts"]["decontam"]["in"] > 0
    assert stats.items  # the packaged benchmarks (HumanEval) are checked by default
    assert rep["decontam"] == stats.to_json()
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    for bench, n in stats.items.items():
        assert f"<tr><td class=l>{bench}</td><td>{n:,}</td><td>{stats.hits.get(bench, 0):,}</td></tr>" in html
