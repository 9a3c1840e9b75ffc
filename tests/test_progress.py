"""Live progress: workers' records summed by the driver, lines with rate and ETA, and a real
`curate run stage2` under the README's multi-processing flags (progress lines, no Beam INFO)."""

import json
import os
import re
import subprocess
import sys

from curate import progress


def test_reporters_are_summed_per_part(tmp_path):
    d = str(tmp_path / "_progress")
    a, b = progress.Reporter(d, "read"), progress.Reporter(d, "read")
    c = progress.Reporter(d, "extract")
    for _ in range(3):
        a.add(1, 10)
    b.add(2, 5)
    c.add(4)
    for r in (a, b, c):
        r.flush()
    got = progress.read_progress(d)
    assert (got["read"].docs, got["read"].bytes) == (5, 35)
    assert (got["extract"].docs, got["extract"].bytes) == (4, 0)
    assert progress.read_progress(str(tmp_path / "none")) == {}


def test_a_line_has_rate_share_and_eta():
    t = {"dedup": progress.Tally(docs=250)}
    line = progress.describe("dedup", t, 10.0, 1000, None)
    assert line == "[dedup] 250 documents of 1,000 (25%), 25.0 docs/s, ETA 30s"
    line = progress.describe("extract", {"extract": progress.Tally(5, 0), "read": progress.Tally(10, 2_000_000)},
                             4.0, None, 8_000_000)
    assert line.startswith("[extract] 10 documents, 2.5 docs/s, 2.0 MB of records read (inputs: 8.0 MB on disk), ETA 12s")
    assert line.endswith("; extract 5")


def test_planned_documents_come_from_the_input_steps_manifests(stage2_run):
    out, manifest = stage2_run
    ext, dd = manifest["steps"][0], manifest["steps"][1]
    assert progress.planned({"inputs": [ext["dir"]], "input_bytes": 1}) == (ext["counts"]["extract"]["out"], None)
    assert progress.planned({"inputs": [dd["dir"]]})[0] == dd["counts"]["dedup"]["out"]
    assert progress.planned(ext["info"]) == (None, ext["info"]["input_bytes"])


def test_run_with_multi_processing_workers_shows_progress_and_no_beam_info(sample_dir, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    for name in sorted(os.listdir(sample_dir / "web"))[:12]:
        (web / name).write_bytes((sample_dir / "web" / name).read_bytes())
    env = {**os.environ, "CURATE_PROGRESS_SECONDS": "0.25"}  # steps here last about a second
    out = tmp_path / "out" / "stage2"
    # the README's flags
    r = subprocess.run([sys.executable, "-m", "curate", "run", "stage2", "--input", str(web), "--output", str(out), "--",
                        "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert not [l for l in lines if l.startswith(("INFO", "DEBUG", "WARNING:")) or "apitools" in l], r.stderr
    assert "Pipeline_options" not in r.stderr and r.stdout == ""
    manifest = json.load(open(out / "manifest.json"))
    counts = {s["step"]: s["counts"] for s in manifest["steps"]}
    for step in ("extract", "dedup", "filter"):
        shown = [re.search(rf"\[{step}\] ([\d,]+) documents", l) for l in lines]
        shown = [int(m[1].replace(",", "")) for m in shown if m]
        assert shown, (step, r.stderr)  # progress lines appeared while the step ran
        first_in = max(c["in"] for c in counts[step].values())
        assert all(0 < n <= first_in for n in shown) and shown == sorted(shown), (step, shown, first_in)
    # a pool step knows its total from its input step's manifest
    total = counts["extract"]["extract"]["out"]
    assert any(f"of {total:,} (" in l for l in lines if l.split(" ", 1)[-1].startswith("[dedup]")), r.stderr
    assert lines[-1].endswith("report.html")
    # the progress records never reach a step's output or manifest
    for s in manifest["steps"]:
        assert not any(k.startswith("_progress") for k in s.get("outputs", {})) and not os.path.exists(
            os.path.join(s["dir"], "_progress"))
