"""Shard summaries of the mix: what the plan and the report need from the tokenized documents.

Each tokenized Parquet shard yields one ``ShardSummary``: per-cell statistics for the rate
solver (curate.mixtures.sampler), the documents it drops before sampling (below the quality
floor, empty), and bounded report rows kept by lowest order hash (so the rows kept do not
depend on which shard or worker saw a document). ``merge`` folds summaries in any order to
the same result; the mix step writes the merged ``report_parts`` as ``parts.json``.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any

from curate.mixtures import sampler as S

RESERVOIR = 5000  # documents kept (lowest hash) for the score distributions in the report
SNIPPET_CHARS = 600  # characters of a sample document's text kept for the report


def keep_smallest(buf: list, v, k: int) -> None:
    """Add ``v`` to ``buf``, which keeps (at least) the ``k`` smallest values seen, at most 2k."""
    buf.append(v)
    if len(buf) >= 2 * k:
        buf[:] = heapq.nsmallest(k, buf)


@dataclass
class ShardSummary:
    """Cell statistics, report rows and drops of one or more tokenized shards.

    ``stats``: (pool, source, domain) → sampler cell statistics; ``reservoir``: (hash, id,
    row JSON) for score distributions; ``samples``: source → (hash, id, row JSON) example
    documents; ``dropped``: (pool, source, reason) → documents.
    """

    samples_per_source: int
    stats: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    reservoir: list[tuple[int, str, str]] = field(default_factory=list)
    samples: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    dropped: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def drop(self, pool: str, source: str, reason: str) -> None:
        key = (pool, source, reason)
        self.dropped[key] = self.dropped.get(key, 0) + 1

    def add(self, pool: str, doc: dict[str, Any], quality: float | None, n_tokens: int, h: int) -> None:
        """Count one kept document of ``n_tokens`` tokens whose order hash is ``h``."""
        domain = S.domain_of(doc)
        key = (pool, doc["source"], domain)
        cell = self.stats.get(key)
        if cell is None:
            cell = self.stats[key] = S.new_cell_stats()
        S.add_doc_stats(cell, n_tokens, S.bucket_of(h))
        scores = doc.get("scores") or {}
        row = {"pool": pool, "source": doc["source"], "domain": domain, "tokens": n_tokens, "quality": quality,
               "scores": {k: float(v) for k, v in sorted(scores.items())}}
        keep_smallest(self.reservoir, (h, doc["id"], json.dumps(row, sort_keys=True)), RESERVOIR)
        row = {"id": doc["id"], "pool": pool, "source": doc["source"], "domain": domain, "uri": doc.get("uri"),
               "format": doc.get("format"), "tokens": n_tokens, "quality": quality,
               "text": (doc.get("text") or "")[:SNIPPET_CHARS]}
        keep_smallest(self.samples.setdefault(doc["source"], []), (h, doc["id"], json.dumps(row, sort_keys=True)),
                      self.samples_per_source)

    def trim(self) -> "ShardSummary":
        """Cut the report rows to their bounds (done once per shard, and after merging)."""
        self.reservoir = heapq.nsmallest(RESERVOIR, self.reservoir)
        self.samples = {s: heapq.nsmallest(self.samples_per_source, v) for s, v in self.samples.items()}
        return self

    def merge(self, other: "ShardSummary") -> "ShardSummary":
        """Fold ``other`` into this summary: statistics and drops summed, rows kept smallest-first."""
        for k, v in other.stats.items():
            if k in self.stats:
                S.merge_cell_stats(self.stats[k], v)
            else:
                self.stats[k] = {"docs": v["docs"], "tokens": v["tokens"], "hist": v["hist"].copy(),
                                 "lens": v["lens"].copy()}
        self.reservoir = heapq.nsmallest(RESERVOIR, self.reservoir + list(other.reservoir))
        for src, rows in other.samples.items():
            self.samples[src] = heapq.nsmallest(self.samples_per_source, self.samples.get(src, []) + list(rows))
        for k, n in other.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + n
        return self

    def docs_kept(self) -> int:
        return sum(int(c["docs"]) for c in self.stats.values())

    def report_parts(self) -> "ReportParts":
        return ReportParts(
            reservoir=[json.loads(r[2]) for r in self.reservoir],
            samples={src: [json.loads(r[2]) for r in rows] for src, rows in sorted(self.samples.items())},
            dropped=sorted([list(k), n] for k, n in self.dropped.items()),
        )


@dataclass
class ReportParts:
    """What the report takes from the mix's documents (written as the mix step's ``parts.json``).

    ``reservoir``: rows {pool, source, domain, tokens, quality, scores}; ``samples``: source →
    rows {id, pool, source, domain, uri, format, tokens, quality, text}; ``dropped``:
    [[pool, source, reason], documents].
    """

    reservoir: list[dict[str, Any]]
    samples: dict[str, list[dict[str, Any]]]
    dropped: list[list[Any]]

    def to_json(self) -> bytes:
        return json.dumps({"reservoir": self.reservoir, "samples": self.samples, "dropped": self.dropped},
                          sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "ReportParts":
        raw = json.loads(data)
        return cls(reservoir=raw["reservoir"], samples=raw["samples"], dropped=raw["dropped"])
