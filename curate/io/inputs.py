"""What a run reads: sources named from input arguments, expanded into input files with stable names.

A document's identity must not depend on where its files live: two checkouts, two output
directories or a relative and an absolute spelling of the same folder give the same ids.
So each input file gets a *name* that is its path relative to the input argument that found
it, prefixed with that argument's own last component (``pages/a/b.html`` for the argument
``/data/pages`` or ``pages/``; ``crawl.warc.gz`` for a file argument; the part of a glob
before its first wildcard is the base). Readers use the name as the ``uri`` of documents
that have no URL of their own, and ``doc_id`` hashes source, uri and record offset.

``source_name`` is the one rule that names a source from an input argument; ``sources_from_args``
applies it to command-line inputs (a second source of the same name gets ``-2``), and
``plan_inputs`` expands sources into ``InputFile``s, reading a file that two arguments reach
only once.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any

from curate.errors import InputError
from curate.io import files

_GLOB = "*?["


@dataclass(frozen=True, order=True)
class InputFile:
    """One file to read: its source, where it is, its stable name (the uri base) and reader."""

    source: str
    name: str
    path: str
    fmt: str
    size: int


def source_name(arg: str) -> str:
    """The source name of an input argument: its last path component without data suffixes."""
    base = _base_of(arg).rstrip("/")
    name = posixpath.basename(base) or "input"
    for suffix in (".gz", ".zst", ".bz2", ".warc", ".jsonl", ".parquet", ".html", ".pdf"):
        name = name.removesuffix(suffix)
    return name or "input"


def sources_from_args(args: list[str]) -> list[dict[str, Any]]:
    """One source per input argument, named by ``source_name``, unique in argument order."""
    seen: dict[str, int] = {}
    out = []
    for arg in args:
        name = source_name(arg)
        seen[name] = seen.get(name, 0) + 1
        out.append({"name": name if seen[name] == 1 else f"{name}-{seen[name]}", "paths": [arg], "format": "auto"})
    return out


def _base_of(pattern: str) -> str:
    """The directory a pattern's matches are named relative to (with the pattern's own last part)."""
    cut = min((pattern.index(c) for c in _GLOB if c in pattern), default=None)
    if cut is not None:
        return pattern[:cut].rsplit("/", 1)[0] if "/" in pattern[:cut] else "."
    return pattern


def _name(pattern: str, path: str, is_dir: bool) -> str:
    base = _base_of(pattern).rstrip("/")
    if not is_dir and base == pattern.rstrip("/"):
        return posixpath.basename(path)  # a file argument: its own name
    if base in (".", "..", ""):
        label = ""  # the current directory's own name is not part of the input
    else:
        label = posixpath.basename(_real(base).rstrip("/"))
    rel = path[len(base):].lstrip("/") if files.is_remote(path) else posixpath.relpath(path, base)
    return posixpath.join(label, rel) if label else rel


def _real(path: str) -> str:
    return path if files.is_remote(path) else os.path.realpath(path)


def plan_inputs(sources: list[dict[str, Any]] | list[Any],
                readable: Any = None) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """Expand ``sources`` into input files, sorted; also (path, why) of files left out.

    ``readable(path) -> bool`` says whether a file with ``format: auto`` has a reader (files
    without one are left out and listed). A file reached twice is read once, under the
    first source that reached it. Raises InputError when two different files of one source
    would get the same name.
    """
    out: list[InputFile] = []
    skipped: list[tuple[str, str]] = []
    owner: dict[str, str] = {}
    names: dict[tuple[str, str], str] = {}
    for src in sources:
        s = src if isinstance(src, dict) else src.model_dump()
        fmt = s.get("format", "auto")
        for pattern in s["paths"]:
            is_dir = not any(c in pattern for c in _GLOB) and files.is_dir(pattern)
            for path, size in files.expand([pattern]):
                real = _real(path)
                if real in owner:
                    skipped.append((path, f"already read as part of source {owner[real]}"))
                    continue
                if fmt == "auto" and readable is not None and not readable(path):
                    skipped.append((path, "no reader for this file type"))
                    continue
                name = _name(pattern, path, is_dir)
                clash = names.get((s["name"], name))
                if clash is not None and clash != real:
                    raise InputError(f"source {s['name']}: {clash} and {path} would both be named {name}; "
                                     "give them different sources or parent folders")
                owner[real] = s["name"]
                names[(s["name"], name)] = real
                out.append(InputFile(source=s["name"], name=name, path=path, fmt=fmt, size=size))
    return sorted(out), skipped
