"""No path taken from an input record is used as an output path: hostile `source`, `uri` and
`id` values end up inside the output directory, under sanitized names."""

import os

from curate.config import default_config
from curate.mixtures.layout import safe_name
from curate.pipelines.stages import run_mix
from mixhelp import make_pool

HOSTILE = ["../../escape", "/etc/cron.d/evil", "..", "a/../../b", "nul\x00byte", "~root/.ssh"]


def test_safe_name_is_a_single_harmless_component():
    for s in HOSTILE + ["", "."]:
        name = safe_name(s)
        assert name and "/" not in name and "\x00" not in name and not name.startswith(".")
        assert name not in (".", "..")


def test_mix_writes_only_inside_its_output_and_step_cache(tmp_path):
    pool = make_pool(str(tmp_path / "pool"), [(s, "general", 20, "html") for s in HOSTILE] + [("cc", "math", 20, "html")])
    out = tmp_path / "box" / "out"
    before = set(_all_files(tmp_path))
    run_mix(default_config("stage2"), {"web": pool}, str(out), [], [], log=lambda m: None)
    created = set(_all_files(tmp_path)) - before
    cache = tmp_path / "box" / "_steps"  # the mix step's own output, committed like every step's
    assert any(p.startswith(str(out) + os.sep) for p in created)
    assert all(p.startswith((str(out) + os.sep, str(cache) + os.sep)) for p in created), sorted(created)[:5]
    assert not (tmp_path / "escape").exists() and not os.path.exists("/etc/cron.d/evil")


def _all_files(root):
    for d, _, names in os.walk(root):
        for n in names:
            yield os.path.join(d, n)
