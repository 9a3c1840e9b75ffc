"""Read training texts and labels for the classifiers from local files.

Accepted inputs (a path, directory or glob each):
  * ``.jsonl`` / ``.jsonl.gz`` / ``.json``: one JSON object per line with a ``text`` field
    (and ``score`` or ``label`` for labelled data);
  * ``.parquet``: Document pools (a step output's ``docs/*.parquet``) or any table with ``text``;
  * ``.txt``: one document per line (fastText's own convention);
  * a directory: every such file below it; a step output directory (it has a ``manifest.json``)
    gives its ``docs/`` shards only, not its rejects or its manifest, counts and stats files.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
from typing import Any, Iterator

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet", ".txt")


def expand(paths: list[str] | str) -> list[str]:
    """Files named by ``paths`` (files, directories, globs), sorted; raises naming a path that matches nothing."""
    out: list[str] = []
    for p in [paths] if isinstance(paths, str) else paths:
        if os.path.isdir(p):
            root = os.path.join(p, "docs") if os.path.exists(os.path.join(p, "manifest.json")) else p
            found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                     if f.endswith(SUFFIXES) and not f.startswith(("_", "."))]
        else:
            found = [f for f in glob.glob(p) if os.path.isfile(f)]
        if not found:
            raise FileNotFoundError(f"no training data at {p} (expected {', '.join(SUFFIXES)} files)")
        out.extend(sorted(found))
    return out


def iter_records(paths: list[str] | str) -> Iterator[dict[str, Any]]:
    """Records (dicts with at least ``text``) from every file of ``paths``."""
    for path in expand(paths):
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            cols = [c for c in ("id", "text", "score", "label", "domain") if c in table.column_names]
            if "text" not in cols:
                raise ValueError(f"{path}: no `text` column")
            yield from table.select(cols).to_pylist()
        elif path.endswith(".txt"):
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.strip():
                        yield {"text": line.rstrip("\n")}
        else:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}:{n}: not JSON: {e}") from None
                    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                        raise ValueError(f"{path}:{n}: expected an object with a string `text`")
                    yield rec


def read_texts(paths: list[str] | str) -> list[str]:
    return [r["text"] for r in iter_records(paths) if r.get("text")]
