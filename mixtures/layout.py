"""Where the mixture's Megatron datasets live, and the check that they hold what was planned.

Datasets are ``shards/<source>/<source>_<n>`` (``.bin`` + ``.idx``), numbered per source in
(group, sub-shard) order; ``<source>`` is made file-system safe by ``safe_name``. blend.json
lists them by these relative prefixes, so it is the same wherever the output lives.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from curate.io import files
from curate.io.folder import Folder

SHARDS = "shards"
HELD_OUT = "valid"  # the validation datasets (documents held out before sampling), beside shards/


def safe_name(source: str) -> str:
    """A file-system-safe directory/file name for a source."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._") or "source"
    return s[:100]


def final_names(written: list[dict[str, Any]], top: str = SHARDS) -> list[tuple[dict[str, Any], str]]:
    """(written dataset, final relative prefix under ``top``) for every non-empty dataset, in blend order."""
    out = []
    counter: dict[str, int] = {}
    for w in sorted(written, key=lambda w: (w["source"], w["group"], w["sub"])):
        if w["docs"] == 0:
            continue
        name = safe_name(w["source"])
        i = counter.get(name, 0)
        counter[name] = i + 1
        out.append((w, f"{top}/{name}/{name}_{i:05d}"))
    return out


def plan_mismatch(plan: dict[str, Any], datasets: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Sources whose written tokens differ from the plan's: source → (planned, written); {} when all agree."""
    planned: dict[str, int] = {}
    for c in plan["cells"]:
        planned[c["source"]] = planned.get(c["source"], 0) + c["planned"]
    written: dict[str, int] = {}
    for d in datasets:
        written[d["source"]] = written.get(d["source"], 0) + d["tokens"]
    return {s: (t, written.get(s, 0)) for s, t in planned.items() if t != written.get(s, 0)}


LEGACY_SCRATCH = (".mix.tmp-", ".mix-tmp-")  # in-output scratch folders of older curate versions


def publish_shards(src: Folder, out: Folder, prefixes: list[str], log: Callable[[str], None] = print,
                   top: str = SHARDS) -> None:
    """Make ``out/<top>`` hold exactly the datasets ``prefixes`` of the mix step output ``src``:
    staged beside it (hard links on one local disk, copies elsewhere) and committed at once."""
    if not out.remote:
        for entry in sorted(os.listdir(out.path)):
            if entry.startswith(LEGACY_SCRATCH):
                Folder(out.join(entry)).delete()
                log(f"[mix] removed {out.join(entry)}, left by an interrupted run")
    target = out.child(top)
    for gone in target.sweep_staging():
        log(f"[mix] removed {gone}, left by an interrupted run")
    staged = target.staging()
    for prefix in prefixes:
        rel = prefix.split("/")[1:]  # below <top>/
        if not staged.remote:
            os.makedirs(staged.join(*rel[:-1]), exist_ok=True)
        for ext in (".bin", ".idx"):
            files.copy_file(src.join(*prefix.split("/")) + ext, staged.join(*rel) + ext, link=True)
    target.commit(staged)
