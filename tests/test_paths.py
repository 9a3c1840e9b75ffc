"""No path taken from an input record is used as an output path: hostile `source`, `uri` and
`id` values end up inside the output directory, under sanitized names."""

import os

from curate.config import default_config
from curate.pipelines.mix import run_mix, safe_name
from mixhelp import make_pool

HOSTILE = ["../../escape", "/etc/cron.d/evil", "..", "a/../../b", "nul\x00byte", "~root/.ssh"]


def test_safe_name_is_a_single_harmless_component():
    for s in HOSTILE + ["", "."]:
        name = safe_name(s)
        assert name and "/" not in name and "\x00" not in name and not name.startswith(".")
        assert name not in (".", "..")


def test_mix_writes_only_inside_its_output(tmp_path):
    pool = make_pool(str(tmp_path / "pool"), [(s, "general", 20, "html") for s in HOSTILE] + [("cc", "math", 20, "html")])
    out = tmp_path / "box" / "out"
    before = set(_all_files(tmp_path))
    run_mix(default_config("stage2"), {"web": pool}, str(out), [], [], log=lambda m: None)
    created = set(_all_files(tmp_path)) - before
    assert created and all(p.startswith(str(out) + os.sep) for p in created), sorted(created)[:5]
    assert not (tmp_path / "escape").exists() and not os.path.exists("/etc/cron.d/evil")


def _all_files(root):
    for d, _, names in os.walk(root):
        for n in names:
            yield os.path.join(d, n)
