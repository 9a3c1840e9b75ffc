"""Token-budget sampling: per-cell statistics, the rate solver, and per-document copy decisions.

A *cell* is (pool, source, domain). The mix pipeline counts each cell's documents and tokens
(plus a histogram of its tokens over a per-document hash, see ``doc_hash``) and hands them to
``solve``, which finds how many tokens to take from every cell so that

* the total is the token budget,
* each targeted group (a pool, a source pattern, a domain) gets its target share, the groups
  no target names sharing the remainder in proportion to their size,
* no document is used more than its source's epoch cap,

using iterative proportional fitting with per-cell caps. Where a target cannot be met within
the caps the solver says so (``unmet``) and either gives the missing tokens to the other
groups (``redistribute``) or lowers the budget (``shrink``).

Per document, ``copies`` then decides deterministically from the seed: ``floor(rate)`` full
copies plus one more for the documents whose hash falls below the cell's threshold. The
threshold is chosen on the cell's token histogram, so the plan knows exactly how many tokens
each cell will yield before anything is written. Everything here is plain Python/numpy.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from typing import Any, Iterable

import numpy as np

from curate import schema

HASH_BUCKETS = 4096  # resolution of the partial-epoch threshold
LEN_BINS = 24  # token-length histogram: bin i holds lengths in [2^i, 2^(i+1))
OTHER = "(other)"


def doc_hash(seed: int, pool: str, doc_id: str, salt: str = "") -> int:
    """64-bit hash of a document under a seed: the sampling order, independent of input order."""
    h = hashlib.blake2b(f"{seed}\x00{salt}\x00{pool}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(h.digest(), "big")


def bucket_of(h: int) -> int:
    return h >> (64 - 12)  # HASH_BUCKETS == 2**12


domain_of = schema.domain_of


def quality_of(doc: dict[str, Any], names: Iterable[str]) -> float | None:
    scores = doc.get("scores") or {}
    if not isinstance(scores, dict):
        scores = dict(scores)
    for n in names:
        v = scores.get(n)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return float(v)
    return None


def len_bin(n: int) -> int:
    return min(max(int(n).bit_length() - 1, 0), LEN_BINS - 1)


def match_key(name: str, patterns: Iterable[str]) -> str | None:
    """The target key for ``name``: an exact key first, then the first shell pattern (sorted)."""
    pats = list(patterns)
    if name in pats:
        return name
    for p in sorted(pats):
        if fnmatch.fnmatchcase(name, p):
            return p
    return None


def epoch_cap(source: str, default: float, overrides: dict[str, float]) -> float:
    k = match_key(source, overrides)
    return float(overrides[k]) if k is not None else float(default)


# ---------------------------------------------------------------- cell statistics

def new_cell_stats() -> dict[str, Any]:
    return {"docs": 0, "tokens": 0, "hist": np.zeros(HASH_BUCKETS, np.int64), "lens": np.zeros(LEN_BINS, np.int64)}


def add_doc_stats(acc: dict[str, Any], n_tokens: int, bucket: int) -> None:
    acc["docs"] += 1
    acc["tokens"] += n_tokens
    acc["hist"][bucket] += n_tokens
    acc["lens"][len_bin(n_tokens)] += 1


def merge_cell_stats(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    a["docs"] += b["docs"]
    a["tokens"] += b["tokens"]
    a["hist"] = a["hist"] + b["hist"]
    a["lens"] = a["lens"] + b["lens"]
    return a


# ---------------------------------------------------------------- the solver

def _water_fill(weights: np.ndarray, caps: np.ndarray, target: float) -> np.ndarray:
    """x = min(λ·w, cap) with Σx = target (or x = cap where even that falls short)."""
    if target <= 0 or weights.sum() <= 0:
        return np.zeros_like(weights)
    if caps[weights > 0].sum() <= target:
        return np.where(weights > 0, caps, 0.0)
    ratio = np.where(weights > 0, caps / np.where(weights > 0, weights, 1.0), np.inf)
    order = np.argsort(ratio, kind="stable")
    capped_sum, free_w = 0.0, float(weights.sum())
    lam = target / free_w
    for i in order:
        if weights[i] <= 0:
            continue
        lam = (target - capped_sum) / free_w
        if lam * weights[i] <= caps[i]:
            break
        capped_sum += caps[i]
        free_w -= weights[i]
    return np.minimum(lam * weights, caps)


def _group_targets(shares: dict[str, float], capacity: dict[str, float], budget: float) -> tuple[dict[str, float], set[str]]:
    """Tokens per group after giving what a capped group cannot take to the others (by share)."""
    t = {g: s * budget for g, s in shares.items()}
    unmet: set[str] = set()
    while True:
        over = [g for g in t if g not in unmet and t[g] > capacity.get(g, 0.0) + 1e-9]
        if not over:
            return t, unmet
        excess = 0.0
        for g in over:
            excess += t[g] - capacity.get(g, 0.0)
            t[g] = capacity.get(g, 0.0)
            unmet.add(g)
        free = [g for g in t if g not in unmet]
        w = sum(shares[g] for g in free)
        if not free or w <= 0:
            return t, unmet
        for g in free:
            t[g] += excess * shares[g] / w


def solve(cells: list[dict[str, Any]], dims: list[tuple[str, dict[str, float]]], budget: int,
          on_shortfall: str = "redistribute", iterations: int = 500) -> dict[str, Any]:
    """Tokens to take per cell.

    ``cells``: dicts with ``tokens`` (available) and ``cap`` (available × epoch cap) and, per
    dimension name, the cell's group key (``OTHER`` for cells no target names).
    ``dims``: (dimension name, {group: target share}) for each dimension that has targets.
    Returns ``{"take": [tokens per cell], "budget": effective budget, "groups": {dim: {group:
    {target_share, capacity, unmet}}}}``.
    """
    n = len(cells)
    avail = np.array([c["tokens"] for c in cells], dtype=np.float64)
    caps = np.array([c["cap"] for c in cells], dtype=np.float64)
    total_cap = float(caps.sum())
    dim_info: dict[str, dict[str, Any]] = {}
    norm_dims = []
    for name, targets in dims:
        shares = dict(targets)
        rest = 1.0 - sum(shares.values())
        keys = [c[name] for c in cells]
        if rest > 1e-12:
            shares[OTHER] = rest
        capacity = {g: 0.0 for g in shares}
        for k, cap in zip(keys, caps):
            if k in capacity:
                capacity[k] += cap
            # a cell in OTHER when the targets sum to 1 gets nothing
        norm_dims.append((name, shares, capacity, keys))

    # effective budget: what every dimension can deliver
    b = float(min(budget, total_cap))
    if on_shortfall == "shrink":
        for _, shares, capacity, _ in norm_dims:
            for g, s in shares.items():
                if s > 0:
                    b = min(b, capacity[g] / s)
    targets_by_dim: dict[str, dict[str, float]] = {}
    for _ in range(10):
        sums = []
        for name, shares, capacity, _ in norm_dims:
            t, unmet = _group_targets(shares, capacity, b)
            targets_by_dim[name] = t
            dim_info[name] = {g: {"target_share": shares[g], "capacity": capacity[g], "unmet": g in unmet,
                                  "adjusted_share": t[g] / b if b > 0 else 0.0} for g in shares}
            sums.append(sum(t.values()))
        nb = min(sums) if sums else b
        if nb >= b - 1e-6:
            break
        b = nb

    # iterative proportional fitting with caps
    x = avail.copy()
    x = np.minimum(x, caps)
    if not norm_dims:
        x = _water_fill(avail, caps, b)
    members = {name: {g: np.array([i for i in range(n) if keys[i] == g], dtype=np.int64) for g in shares}
               for name, shares, _, keys in norm_dims}
    for _ in range(iterations):
        worst = 0.0
        for name, shares, capacity, keys in norm_dims:
            t = targets_by_dim[name]
            for g in shares:
                idx = members[name][g]
                if idx.size == 0:
                    continue
                cur = float(x[idx].sum())
                worst = max(worst, abs(cur - t[g]) / max(b, 1.0))
                w = x[idx] if cur > 0 else avail[idx]
                x[idx] = _water_fill(w, caps[idx], t[g])
            # cells in no target group of this dimension (targets sum to 1) take nothing
            for i in range(n):
                if keys[i] not in shares:
                    x[i] = 0.0
        if worst < 1e-9:
            break
    return {"take": x.tolist(), "budget": b, "groups": dim_info}


# ---------------------------------------------------------------- plan for the pipeline

def plan_cells(cells: list[dict[str, Any]], take: list[float]) -> None:
    """Turn tokens to take into (full epochs, hash-bucket threshold, exact planned tokens) per cell."""
    for c, want in zip(cells, take):
        a = c["tokens"]
        hist = np.asarray(c["hist"], dtype=np.int64)
        if a <= 0 or want <= 0:
            c.update(full=0, threshold=0, planned=0)
            continue
        rate = min(want / a, c["cap"] / a)
        full = int(math.floor(rate + 1e-12))
        part = (rate - full) * a
        cum = np.concatenate([[0], np.cumsum(hist)])
        b = int(np.argmin(np.abs(cum - part)))  # first bucket boundary nearest to the partial target
        c.update(full=full, threshold=b, planned=int(full * a + cum[b]))


def copies(cell: dict[str, Any], bucket: int) -> int:
    """How many times a document of ``cell`` whose hash bucket is ``bucket`` goes into the mixture."""
    return int(cell["full"]) + (1 if bucket < int(cell["threshold"]) else 0)


def build_plan(stats: dict[tuple[str, str, str], dict[str, Any]], cfg: Any, seed: int) -> dict[str, Any]:
    """The mixture plan from per-cell stats and a MixConfig (plain JSON-able dict, deterministic)."""
    cells = []
    for (pool, source, domain) in sorted(stats):
        s = stats[(pool, source, domain)]
        e = epoch_cap(source, cfg.max_epochs, cfg.source_max_epochs)
        cells.append({
            "pool": pool, "source": source, "domain": domain,
            "docs": int(s["docs"]), "tokens": int(s["tokens"]), "max_epochs": e,
            "cap": float(s["tokens"]) * e,
            "hist": np.asarray(s["hist"], np.int64), "lens": [int(v) for v in s["lens"]],
        })
    dims = []
    for dim, targets, keyf in (
        ("pool", cfg.pool_shares, lambda c: c["pool"] if c["pool"] in cfg.pool_shares else OTHER),
        ("source", cfg.source_shares, lambda c: match_key(c["source"], cfg.source_shares) or OTHER),
        ("domain", cfg.domain_shares, lambda c: c["domain"] if c["domain"] in cfg.domain_shares else OTHER),
    ):
        for c in cells:
            c["g_" + dim] = keyf(c)
        if targets:
            dims.append(("g_" + dim, dict(sorted(targets.items()))))
    sol = solve(cells, dims, cfg.total_tokens, cfg.on_shortfall)
    plan_cells(cells, sol["take"])
    total = sum(c["planned"] for c in cells)
    groups = {}
    for gdim, info in sol["groups"].items():
        out = {}
        for g, gi in info.items():
            got = sum(c["planned"] for c in cells if c[gdim] == g)
            share = got / total if total else 0.0
            out[g] = {
                "target_share": round(gi["target_share"], 6),
                "adjusted_share": round(float(gi["adjusted_share"]), 6),
                "realized_share": round(share, 6),
                "tokens": got,
                "capacity_tokens": int(gi["capacity"]),
                # short of capacity counts only where the share falls short too: a group a few
                # tokens short whose share the redistribution still meets is met
                "unmet": bool((gi["unmet"] and share < gi["target_share"] - 0.02)
                              or abs(share - gi["adjusted_share"]) > 0.02),
            }
        groups[gdim[2:]] = out
    unmet = []
    for dim, out in groups.items():
        for g, v in out.items():
            if v["unmet"]:
                why = ("the pool is too small even at the epoch cap" if v["capacity_tokens"] < v["target_share"] * cfg.total_tokens
                       else "targets in other dimensions and the epoch caps pull it off target")
                action = ("its missing tokens went to the other groups in proportion to their targets"
                          if cfg.on_shortfall == "redistribute" else "the total budget was lowered")
                unmet.append({"dimension": dim, "group": g, "target_share": v["target_share"],
                              "realized_share": v["realized_share"], "capacity_tokens": v["capacity_tokens"],
                              "reason": why, "action": action})
    if total < cfg.total_tokens * 0.98:
        unmet.append({"dimension": "total", "group": "budget", "target_share": 1.0,
                      "realized_share": round(total / cfg.total_tokens, 6),
                      "capacity_tokens": int(sum(c["cap"] for c in cells)),
                      "reason": f"only {total} of {cfg.total_tokens} budget tokens can be drawn within the epoch caps"
                                + (" and the shares" if cfg.on_shortfall == "shrink" else ""),
                      "action": "the mixture is smaller than the budget"})
    for c in cells:
        del c["cap"], c["hist"], c["g_pool"], c["g_source"], c["g_domain"]
        c["epochs"] = round(c["planned"] / c["tokens"], 6) if c["tokens"] else 0.0
    return {
        "seed": seed,
        "budget": int(cfg.total_tokens),
        "effective_budget": int(round(sol["budget"])),
        "planned_tokens": total,
        "on_shortfall": cfg.on_shortfall,
        "cells": cells,
        "groups": groups,
        "unmet": unmet,
    }


def cell_index(plan: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(c["pool"], c["source"], c["domain"]): c for c in plan["cells"]}
