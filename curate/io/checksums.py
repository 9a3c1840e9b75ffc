"""What a finished step wrote, and whether it is still there: sizes and checksums of its files.

A step's manifest lists every file of its output (``outputs``: name → size and SHA-256) and
one digest over that list (``output_digest``). Reuse checks the list against the directory
(files missing, extra, of another size, or — by default — with other bytes), and a later
step's key holds its inputs' ``output_digest``, so a rebuilt step with different output
invalidates everything after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from apache_beam.io.filesystems import FileSystems

from curate.io import files

Check = Literal["checksums", "sizes"]


def list_outputs(directory: str, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    """Every file under ``directory`` by its name relative to it (posix), with its size; the
    run lock (curate.io.lock), which a command holds inside its output, is not an output."""
    from curate.io.lock import LOCK_FILE

    exclude = (*exclude, LOCK_FILE)
    base = directory.rstrip("/") + "/"
    found = {}
    for r in FileSystems.match([base + "**"]):
        for m in r.metadata_list:
            rel = m.path[len(base):] if m.path.startswith(base) else m.path.rsplit("/", 1)[-1]
            if rel and rel not in exclude:
                found[rel] = m.size_in_bytes
    return dict(sorted(found.items()))


def describe(directory: str, exclude: tuple[str, ...] = ()) -> dict[str, dict[str, int | str]]:
    """{name: {size, sha256}} of every file under ``directory``."""
    return {rel: {"size": size, "sha256": files.content_hash(files.join(directory, rel))}
            for rel, size in list_outputs(directory, exclude).items()}


def digest(outputs: dict[str, dict[str, int | str]]) -> str:
    """One checksum over a step's whole output listing."""
    return hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()[:32]


def problems(directory: str, outputs: dict[str, dict[str, int | str]], check: Check = "checksums",
             exclude: tuple[str, ...] = ()) -> list[str]:
    """What differs between ``directory`` and its recorded ``outputs`` (empty when intact)."""
    present = list_outputs(directory, exclude)
    out = [f"{name} missing" for name in outputs if name not in present]
    out += [f"{name} not written by this step" for name in present if name not in outputs]
    for name, rec in outputs.items():
        if name not in present:
            continue
        if present[name] != rec["size"]:
            out.append(f"{name} is {present[name]} bytes, was {rec['size']}")
        elif check == "checksums" and files.content_hash(files.join(directory, name)) != rec["sha256"]:
            out.append(f"{name} has other bytes than were written")
    return out
