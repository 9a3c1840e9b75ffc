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
    base = (arg if _literal(arg) else _base_of(arg)).rstrip("/")
    name = posixpath.basename(base) or "input"
    for suffix in (".gz", ".zst", ".bz2", ".warc", ".jsonl", ".parquet", ".html", ".pdf"):
        name = name.removesuffix(suffix)
    return _display(name) or "input"


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
    base = (pattern if _literal(pattern) else _base_of(pattern)).rstrip("/")
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


@dataclass(frozen=True, order=True)
class Skipped:
    """An input file that is not read, and why (listed in the extract step's manifest and the report)."""

    name: str
    reason: str


def _display(name: str) -> str:
    """A name safe to write anywhere: undecodable bytes of a file name shown as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace") if not files.is_remote(name) else name


def _dangling(pattern: str) -> list[str]:
    """Symbolic links under a local directory whose target is gone (Beam's listing drops them)."""
    if files.is_remote(pattern) or not os.path.isdir(pattern):
        return []
    out = []
    for root, dirs, names in os.walk(pattern):
        dirs.sort()
        for n in sorted(names):
            full = os.path.join(root, n)
            if os.path.islink(full) and not os.path.exists(full):
                out.append(full)
    return out


def _literal(pattern: str) -> bool:
    """A path that exists as written is a path, even with glob characters in its name (``a[1].html``)."""
    return not files.is_remote(pattern) and os.path.lexists(pattern)


def plan_inputs(sources: list[dict[str, Any]] | list[Any],
                readable: Any = None) -> tuple[list[InputFile], list[Skipped]]:
    """Expand ``sources`` into input files, sorted, and the files left out, each with a reason.

    Every file under an input leaves a trace: it is read (an empty one becomes a ``read:empty``
    reject), or skipped as hidden, a dangling link, already read under an earlier source, or
    of a type no reader takes (``readable(path) -> bool`` decides for ``format: auto``). An explicitly named file
    of an unknown type, or inputs with nothing readable, are an InputError before any work.
    Two different files of one source with the same name are an InputError too.
    """
    out: list[InputFile] = []
    skipped: list[Skipped] = []
    owner: dict[str, str] = {}
    names: dict[tuple[str, str], str] = {}
    for src in sources:
        s = src if isinstance(src, dict) else src.model_dump()
        fmt = s.get("format", "auto")
        for pattern in s["paths"]:
            literal = _literal(pattern)
            is_dir = (literal or not any(c in pattern for c in _GLOB)) and files.is_dir(pattern)
            if literal and not is_dir and os.path.islink(pattern) and not os.path.exists(pattern):
                raise InputError(f"input {pattern} is a symbolic link to a file that does not exist")
            if literal and not is_dir and fmt == "auto" and readable is not None and not readable(pattern):
                raise InputError(f"input {_display(pattern)}: no reader for this file type "
                                 "(supported: .warc[.gz], .html[.gz], .jsonl[.gz|.zst], .json.gz, .parquet, .pdf; "
                                 "or set the source's format)")
            for path in _dangling(pattern):
                skipped.append(Skipped(_display(_name(pattern, path, is_dir)), "dangling symbolic link"))
            for path, size, hidden in files.expand_all(pattern, literal=literal):
                name = _display(_name(pattern, path, is_dir))
                real = _real(path)
                why = None
                if hidden:
                    why = "hidden file (name starts with '.' or '_')"
                elif real in owner:
                    why = f"already read as part of source {owner[real]}"
                elif fmt == "auto" and readable is not None and not readable(path):
                    why = "no reader for this file type"
                if why:
                    skipped.append(Skipped(name, why))
                    continue
                clash = names.get((s["name"], name))
                if clash is not None and clash != real:
                    raise InputError(f"source {s['name']}: {clash} and {path} would both be named {name}; "
                                     "give them different sources or parent folders")
                owner[real] = s["name"]
                names[(s["name"], name)] = real
                out.append(InputFile(source=s["name"], name=name, path=path, fmt=fmt, size=size))
    if not out:
        shown = "; ".join(f"{k.name} ({k.reason})" for k in skipped[:5]) or "nothing found"
        raise InputError("no readable input files in " + ", ".join(
            str(p) for src in sources for p in (src if isinstance(src, dict) else src.model_dump())["paths"])
            + f": {shown}")
    return sorted(out), sorted(skipped)
