"""What the report reads from the step outputs themselves: per-source counts, reject examples,
duplicate clusters, languages and full texts, from the Parquet shards the steps wrote.

The step manifests hold totals per counted part; the per-source funnel, the examples and
the cluster members come from ``docs/`` and ``rejects/`` of each step output (the stage
manifest's ``steps[].dir``), reading only the columns needed. Everything is ordered by
shard order or by sorted keys, so the same step outputs give the same record.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.stats import ClusterStats
from curate.errors import InputError
from curate.io import files
from curate.mixtures.render import shorten

REJECT_EXAMPLES = 2  # rejected documents shown per top reason
TOP_REASONS = 8  # reasons with examples (largest first)
CLUSTERS_SHOWN = 3  # largest dedup clusters whose members are shown
MEMBERS_SHOWN = 4  # members per cluster, kept one first
SNIPPET = 1200  # characters of a rejected document or cluster member shown


def _shards(directory: str) -> list[str]:
    """The shards of a docs/ or rejects/ folder (none when the step wrote none: empty shards are not written)."""
    try:
        return [p for p, _ in files.expand([files.join(directory, "part-*.parquet")])]
    except InputError:
        return []


def read_columns(directory: str, columns: list[str]) -> Iterator[pa.Table]:
    """Each Parquet shard of ``directory`` (``docs/`` or ``rejects/``), with ``columns`` only, in shard order."""
    for path in _shards(directory):
        with files.open_raw(path) as f:
            yield pq.read_table(f, columns=columns)


def _counts(tables: Iterator[pa.Table], keys: list[str]) -> Counter:
    out: Counter = Counter()
    for t in tables:
        if not t.num_rows:
            continue
        for row in t.group_by(keys).aggregate([([], "count_all")]).to_pylist():
            out[tuple(row[k] or "" for k in keys)] += row["count_all"]
    return out


def funnel(steps: list[dict]) -> dict[str, list[dict[str, Any]]]:
    """Per source, per step: documents in, out, and rejects by reason, from the step's shards.

    A source appears once any step saw one of its documents, so a source that lost every
    document (all rejected at read or extract) is listed with zero out.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for s in steps:
        d = s.get("dir")
        if not d or not files.exists(files.join(d, "docs")) and not files.exists(files.join(d, "rejects")):
            continue
        kept = _counts(read_columns(files.join(d, "docs"), ["source"]), ["source"])
        rej = _counts(read_columns(files.join(d, "rejects"), ["source", "reason"]), ["source", "reason"])
        srcs = sorted({k[0] for k in kept} | {k[0] for k in rej})
        for src in srcs:
            reasons = {r: n for (sr, r), n in sorted(rej.items()) if sr == src}
            n_out = kept.get((src,), 0)
            out.setdefault(src, []).append({"step": s["step"], "in": n_out + sum(reasons.values()), "out": n_out,
                                            "rejects": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))})
    return dict(sorted(out.items()))


def languages(steps: list[dict]) -> dict[str, dict[str, int]]:
    """Documents per language id at the filter step: kept and rejected (any reason)."""
    kept: Counter = Counter()
    rejected: Counter = Counter()
    for s in steps:
        if s.get("step") != "filter" or not s.get("dir"):
            continue
        kept += _counts(read_columns(files.join(s["dir"], "docs"), ["lang"]), ["lang"])
        rejected += _counts(read_columns(files.join(s["dir"], "rejects"), ["lang"]), ["lang"])
    langs = sorted({k[0] for k in kept} | {k[0] for k in rejected}, key=lambda l: (-(kept[(l,)] + rejected[(l,)]), l))
    return {(l or "unknown"): {"kept": kept.get((l,), 0), "rejected": rejected.get((l,), 0)} for l in langs}


def _row(r: dict[str, Any], step: str) -> dict[str, Any]:
    text = r.get("text") or ""
    return {"id": r["id"], "source": r["source"], "uri": r.get("uri") or "", "step": step,
            "reason": r.get("reason") or "", "detail": r.get("detail") or "",
            "text": shorten(text, SNIPPET)[0], "chars": len(text)}


def reject_examples(steps: list[dict]) -> dict[str, list[dict[str, Any]]]:
    """For each of the most frequent reject reasons, the first rejected documents (shard order)
    with the rule's detail."""
    totals: Counter = Counter()
    dirs: dict[str, str] = {}
    for s in steps:
        for sub in (s.get("counts") or {}).values():
            for r, n in (sub.get("rejects") or {}).items():
                totals[r] += n
                if s.get("dir"):
                    dirs.setdefault(r, s["dir"])
    top = sorted(totals, key=lambda r: (-totals[r], r))[:TOP_REASONS]
    out: dict[str, list[dict[str, Any]]] = {}
    for reason in top:
        d = dirs.get(reason)
        if d is None:
            continue
        rows: list[dict[str, Any]] = []
        for t in read_columns(files.join(d, "rejects"), ["id", "source", "uri", "text", "reason", "detail", "step"]):
            hits = t.filter(pc.equal(t["reason"], reason))
            rows += [_row(r, r["step"]) for r in hits.slice(0, REJECT_EXAMPLES - len(rows)).to_pylist()]
            if len(rows) >= REJECT_EXAMPLES:
                break
        out[reason] = rows
    return out


def largest_clusters(steps: list[dict]) -> list[dict[str, Any]]:
    """The largest near-duplicate clusters of the dedup step with their members: the kept
    document (from docs/) first, then the removed ones (from rejects/), in shard order."""
    out = []
    for s in steps:
        if s.get("step") != "dedup" or not s.get("dir"):
            continue
        st = ClusterStats.from_json((s.get("stats") or {}).get("clusters"))
        want = [c["id"] for c in st.largest[:CLUSTERS_SHOWN]]
        if not want:
            continue
        members: dict[str, list[dict[str, Any]]] = {c: [] for c in want}
        cols = ["id", "source", "uri", "text", "dup_cluster"]
        for sub, extra in (("docs", []), ("rejects", ["reason", "detail", "step"])):
            for t in read_columns(files.join(s["dir"], sub), cols + extra):
                hits = t.filter(pc.is_in(t["dup_cluster"], value_set=pa.array(want, pa.string())))
                for r in hits.to_pylist():
                    members[r["dup_cluster"]].append({**_row(r, "dedup"), "kept": sub == "docs"})
        sizes = {c["id"]: c["size"] for c in st.largest}
        out += [{"id": c, "size": sizes[c], "members": members[c][:MEMBERS_SHOWN]} for c in want]
    return out


def full_texts(pool_dirs: dict[str, str], ids: set[str]) -> dict[str, str]:
    """The whole text of the documents ``ids`` from the pools' docs/ shards."""
    out: dict[str, str] = {}
    if not ids:
        return out
    value_set = pa.array(sorted(ids), pa.string())
    for d in sorted(pool_dirs.values()):
        for t in read_columns(files.join(d, "docs"), ["id", "text"]):
            for r in t.filter(pc.is_in(t["id"], value_set=value_set)).to_pylist():
                out[r["id"]] = r["text"] or ""
    return out
