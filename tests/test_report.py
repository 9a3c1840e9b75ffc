"""report.html renders its charts in headless Chromium; report.json and the terminal summary agree."""

import io
import json
import os
import re
import shutil
import subprocess

import pytest

from curate.config import default_config
from curate.dedup.stats import ClusterStats
from curate.pipelines.stages import run_mix

from mixhelp import pools as make_pools

STEPS = [
    {"step": "extract", "counts": {"read": {"in": 500, "out": 480, "rejected": 20, "rejects": {"read:too_large": 20}},
                                   "extract": {"in": 480, "out": 400, "rejected": 80,
                                               "rejects": {"extract:html:too_short": 60, "extract:pdf:empty": 20}}},
     "stats": {}, "wall_s": 1.0},
    {"step": "dedup", "counts": {"dedup": {"in": 400, "out": 330, "rejected": 70,
                                           "rejects": {"dedup:exact": 30, "dedup:minhash": 40}}},
     # the dedup step's own record (curate.dedup.stats), as its manifest holds it
     "stats": {"clusters": ClusterStats.from_histogram({1: 300, 2: 20, 3: 6, 5: 2}, []).to_json()}, "wall_s": 1.0},
]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rep")
    cfg = default_config("stage2")
    cfg.mix.total_tokens = 60_000
    cfg.mix.source_max_epochs = {"gh": 1.0}  # code cannot reach 30%: the report must say so
    out = str(tmp / "out")
    run_mix(cfg, make_pools(str(tmp)), out, [], STEPS, log=lambda m: None)
    return out


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def test_report_html_renders_charts(report_dir, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); cannot check report.html rendering")
    html_path = os.path.join(report_dir, "report.html")
    html = open(html_path, encoding="utf-8").read()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html.split("report-data")[0]
    assert "<script src" not in html and "<link" not in html
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=5000", "--dump-dom", "file://" + os.path.abspath(html_path)]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-charts-error" not in body, body
    n = int(re.search(r'data-charts-rendered="(\d+)"', body).group(1))
    assert n >= 9, body
    rendered = dict(re.findall(r'<div class="chart" id="([\w-]+)" data-rendered="(\d+)"', dom))
    for chart in ("chart-domain", "chart-source", "chart-tokens", "chart-epochs", "chart-steps", "chart-rejects",
                  "chart-lengths", "chart-quality", "chart-clusters"):
        assert int(rendered.get(chart, 0)) > 0, (chart, rendered)
    assert dom.count("<rect") >= 30
    assert "Not met: domain" in dom
    # sample documents were inserted as text
    assert dom.count("<pre>") >= 4


def test_report_json_numbers(report_dir):
    rep = json.load(open(os.path.join(report_dir, "report.json")))
    assert rep["dedup_clusters"] == {"1": 300, "2": 20, "3": 6, "5": 2}
    steps = {(r["step"], r["substep"]): r for r in rep["steps"]}
    assert steps[("dedup", "dedup")]["rejects"] == {"dedup:exact": 30, "dedup:minhash": 40}
    assert ("mix", "mix") in steps
    assert rep["shares"]["domain"]["groups"]["code"]["unmet"] is True
    assert sum(rep["summary"]["tokens_per_source"].values()) == rep["summary"]["total_tokens"]
    assert rep["quality_hist"]["scores"]["fasttext_quality"]["counts"]
    assert sum(sum(v) for v in rep["length_hist"]["by_domain"].values()) == sum(s["docs_available"] for s in rep["sources"])


def test_print_summary(report_dir):
    from rich.console import Console

    from curate.mixtures.report import print_summary

    buf = io.StringIO()
    print_summary(report_dir, Console(file=buf, width=140, color_system=None))
    text = buf.getvalue()
    for word in ("Sources", "Targets", "Steps", "cc", "synth-math", "not met", "--data-path", "dedup"):
        assert word in text, word


def test_report_shows_filter_exemptions_of_a_real_run(stage2_run):
    """The exemption table is built from what the filter step of `curate run stage2` wrote."""
    from curate.filters.judges import JudgeStats

    out, manifest = stage2_run
    rep = json.load(open(os.path.join(out, "report.json")))
    filt = [s for s in manifest["steps"] if s["step"] == "filter"]
    assert len(filt) == 1
    stats = JudgeStats.from_counts(filt[0]["stats"]["judges"])
    assert stats.saved > 0  # the sample has a PDF paper that the web rules would drop
    assert rep["filter_judges"] == stats.to_json()
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    for profile, rules in stats.exemptions.items():
        for rule, n in rules.items():
            assert f"<td class=l>{profile}</td><td class=l>{rule}</td><td>{n}</td>" in html


def test_report_dedup_chart_is_the_cluster_sizes_of_a_real_run(stage2_run):
    """Was: the chart plotted the stats dict's keys (candidate_edges, cc_rounds, …)."""
    out, manifest = stage2_run
    rep = json.load(open(os.path.join(out, "report.json")))
    dd = next(s for s in manifest["steps"] if s["step"] == "dedup")
    stats = ClusterStats.from_json(dd["stats"]["clusters"])
    assert stats.size_histogram and all(size >= 2 for size in stats.size_histogram)
    assert rep["dedup_clusters"] == {str(k): v for k, v in stats.size_histogram.items()}
    assert sum(rep["dedup_clusters"].values()) == stats.clusters


def test_report_says_where_absolute_prefixes_are_and_they_are_there(stage2_run):
    out, manifest = stage2_run
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    blend = json.load(open(os.path.join(out, "blend.json")))
    assert "blend.json also has absolute ones" not in html
    assert not any(d["prefix"].startswith("/") for d in blend["datasets"])
    assert manifest["mix"]["data_path_abs"].split()[1].startswith(os.path.abspath(out))
