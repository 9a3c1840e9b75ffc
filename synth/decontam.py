"""Decontamination: n-gram overlap (13-grams by default) against benchmark problem sets.

Text is lower-cased and split into word tokens (``\\w+``). A benchmark item contributes every
n-gram of its tokens; an item shorter than n tokens (many MATH-500 problems are) contributes its
whole token sequence, matched as a contiguous run, provided it has at least ``min_tokens``
tokens so that "compute x" does not match everything. A text is contaminated by a benchmark
when it shares at least one such gram; the reject reason names that benchmark.

Benchmark files: JSONL (fields problem/question/prompt/text/content/input, any present),
or any other text file, split into items at blank lines. Paths go through Beam FileSystems.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+", re.UNICODE)
TEXT_FIELDS = ("problem", "question", "prompt", "text", "content", "input")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _h(toks: list[str] | tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(toks).encode(), digest_size=8).digest(), "little")


def read_benchmark_items(path: str) -> list[str]:
    """Problem texts of one benchmark file (JSONL records or blank-line separated text)."""
    from curate.io import files

    raw = files.read_bytes(path).decode("utf-8", "replace")
    if path.lower().endswith((".jsonl", ".ndjson", ".json")):
        items = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ValueError(f"benchmark file {path}: line {n} is not JSON: {e}") from None
            if isinstance(obj, str):
                items.append(obj)
            elif isinstance(obj, dict):
                items.extend(str(obj[k]) for k in TEXT_FIELDS if isinstance(obj.get(k), str))
        return items
    return [p for p in re.split(r"\n\s*\n", raw) if p.strip()]


@dataclass
class NgramIndex:
    """Hashed n-grams of benchmark items, per benchmark name."""

    n: int = 13
    min_tokens: int = 8
    grams: dict[int, str] = field(default_factory=dict)  # gram hash -> benchmark
    short: dict[int, dict[int, str]] = field(default_factory=dict)  # length -> {hash: benchmark}
    items: dict[str, int] = field(default_factory=dict)

    def add(self, benchmark: str, text: str) -> None:
        toks = tokens(text)
        self.items[benchmark] = self.items.get(benchmark, 0) + 1
        if len(toks) >= self.n:
            for i in range(len(toks) - self.n + 1):
                self.grams.setdefault(_h(toks[i: i + self.n]), benchmark)
        elif len(toks) >= self.min_tokens:
            self.short.setdefault(len(toks), {}).setdefault(_h(toks), benchmark)

    def match(self, text: str) -> str | None:
        """The first benchmark sharing a gram with ``text``, or None."""
        toks = tokens(text)
        if self.grams and len(toks) >= self.n:
            for i in range(len(toks) - self.n + 1):
                hit = self.grams.get(_h(toks[i: i + self.n]))
                if hit:
                    return hit
        for length, table in self.short.items():
            for i in range(len(toks) - length + 1):
                hit = table.get(_h(toks[i: i + length]))
                if hit:
                    return hit
        return None

    def __bool__(self) -> bool:
        return bool(self.grams or self.short)


def build_index(benchmarks: dict[str, list[str]], n: int = 13, min_tokens: int = 8) -> NgramIndex:
    """Index every file of every named benchmark; errors name the file."""
    idx = NgramIndex(n=n, min_tokens=min_tokens)
    for name, paths in sorted(benchmarks.items()):
        for path in [paths] if isinstance(paths, str) else paths:
            for item in read_benchmark_items(path):
                idx.add(name, item)
    return idx
