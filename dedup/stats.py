"""What the dedup step reports about its clusters: one typed record, written by the step's
manifest (``stats.clusters``) and read by the report, so neither guesses the other's keys."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClusterStats:
    """Near- and exact-duplicate clusters of one dedup run.

    ``size_histogram`` maps a cluster size (documents in the cluster, kept one included) to the
    number of clusters of that size; ``largest`` lists the biggest clusters as {id, size}.
    """

    clusters: int = 0
    docs_in_clusters: int = 0
    removed: int = 0
    size_histogram: dict[int, int] = field(default_factory=dict)
    largest: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    candidate_edges: int = 0
    verified_edges: Any = None
    cc_rounds: int = 0
    cc_converged: bool = True

    @classmethod
    def from_histogram(cls, hist: dict[int, int], largest: list[dict[str, Any]]) -> "ClusterStats":
        return cls(clusters=sum(hist.values()), docs_in_clusters=sum(s * n for s, n in hist.items()),
                   removed=sum((s - 1) * n for s, n in hist.items()),
                   size_histogram=dict(sorted(hist.items())), largest=largest)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["size_histogram"] = [{"size": s, "clusters": n} for s, n in sorted(self.size_histogram.items())]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> "ClusterStats":
        """The record as the dedup step's manifest holds it (``stats.clusters``)."""
        if not d:
            return cls()
        d = dict(d)
        d["size_histogram"] = {int(r["size"]): int(r["clusters"]) for r in d.get("size_histogram") or []}
        return cls(**d)
