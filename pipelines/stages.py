"""The stage graph: extract → dedup → filter → decontam (→ synth) → mix, each step reused when cached.

    sources ─ read ─ extract ─ dedup ─ filter ─ decontam ─┐
    problems ─ synth (stage 3, decontaminated inline) ────┴─ mix → shards/*.bin|.idx, blend.json, report

``run_stage`` writes ``<output>/manifest.json`` with every step's counts (the count law
holds for each), wall time, the step output it used and whether it was reused.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from curate.config import StageConfig
from curate.io import files
from curate.io.folder import Folder
from curate.io.inputs import sources_from_args
from curate.mixtures.blend import FILENAME, read_blend
from curate.mixtures.layout import HELD_OUT, publish_shards
from curate.mixtures.report import build_report, write_report_files
from curate.mixtures.summary import ReportParts
from curate.mixtures.tokenizer import default_tokenizer_path
from curate.pipelines.steps import (Log, decontam_step, dedup_step, extract_step, filter_step, mix_step, plan_sources,
                                    pool_keys, synth_step)


def default_cache_dir(output: str) -> str:
    return Folder(output).parent.join("_steps")


def resolve_sources(cfg: StageConfig, inputs: list[str] | None, output: str, log: Log = print) -> list[dict]:
    """Sources from --input paths, else from the config, else the embedded sample (written once)."""
    if inputs:
        return sources_from_args(inputs)
    if cfg.sources:
        return [s.model_dump() for s in cfg.sources]
    from curate.sample.generate import sample_sources, write_sample

    sample_dir = files.join(default_cache_dir(output), f"sample-{cfg.seed}")
    if not files.exists(files.join(sample_dir, "problems.jsonl")):
        log(f"[sample] writing the embedded sample corpus to {sample_dir}")
        write_sample(sample_dir, cfg.seed)
    return sample_sources(sample_dir)


def sample_problems(cfg: StageConfig, output: str) -> list[str]:
    """Seed problem files for synthesis: the config's, else the embedded sample's."""
    if cfg.synth.problems:
        return list(cfg.synth.problems)
    return [files.join(default_cache_dir(output), f"sample-{cfg.seed}", "problems.jsonl")]


def synth_backend_configured(cfg: StageConfig) -> bool:
    """Whether stage 3's generator has something to run: a local model directory or an HTTP server."""
    backend = cfg.synth.backend
    return backend.kind == "http" or bool(backend.model)


def _entry(directory: str, manifest: dict[str, Any]) -> dict[str, Any]:
    return {"step": manifest["step"], "dir": directory, **{k: manifest[k] for k in ("key", "output_digest", "counts", "stats", "wall_s", "reused", "info")}}


def run_mix(cfg: StageConfig, pools: dict[str, str], output: str, beam_args: list[str], steps: list[dict[str, Any]],
            log: Log = print, cache_dir: str | None = None) -> dict[str, Any]:
    """The mix step (cached like every step) published into ``output``: ``shards/``, the
    report, then ``blend.json`` (the completion marker). Returns the stage manifest's ``mix``
    entry: the report summary, the step's directory, key and whether it was reused.

    ``steps`` are the stage's earlier step entries (for the report, and for the pools'
    output digests; a pool no entry names is checked against its manifest).
    """
    cache = cache_dir or cfg.cache_dir or default_cache_dir(output)
    known = {s["dir"]: s["output_digest"] for s in steps if "output_digest" in s}
    digests = {name: known.get(d) or pool_keys([d], cfg.reuse_check)[0] for name, d in pools.items()}
    mix_dir, m = mix_step(cfg, pools, digests, cache, beam_args, log)
    src = Folder(mix_dir)
    blend = read_blend(src.join(FILENAME))
    out = Folder(output).makedirs()
    publish_shards(src, out, [d.prefix for d in blend.datasets], log)
    if blend.valid_datasets:
        publish_shards(src, out, [d.prefix for d in blend.valid_datasets], log, top=HELD_OUT)
    parts = ReportParts.from_json(src.read_bytes("parts.json"))
    plan = json.loads(src.read_bytes("plan.json"))
    datasets = blend.to_dict()["datasets"]  # with their weights (token shares)
    report = build_report(cfg, plan, datasets, parts.dropped, parts.reservoir, parts.samples, steps, pools,
                          blend.to_dict())
    write_report_files(output, report)
    # Megatron's --tokenizer-model: the tokenizer the shards were made with (its sha256 is in blend.json)
    out.write_atomic(blend.tokenizer.path, files.read_bytes(cfg.mix.tokenizer or default_tokenizer_path()))
    out.write_atomic(FILENAME, src.read_bytes(FILENAME))
    # absolute prefixes differ by output location, so they stay out of blend.json (which is
    # byte-identical for the same input and seed) and go to the stage manifest instead
    out_abs = out.path if out.remote else os.path.abspath(output)
    data_path_abs = " ".join(f"{d['weight']} {out_abs.rstrip('/')}/{d['prefix']}" for d in datasets)
    summary = report["summary"]
    log(f"[mix] {blend.total_tokens} tokens in {len(datasets)} shard(s) from "
        f"{len(summary['tokens_per_source'])} source(s); {len(plan['unmet'])} target(s) not met → {output}")
    for u in plan["unmet"]:
        log(f"[mix]   {u['dimension']} {u['group']}: target {u['target_share']:.1%}, realized "
            f"{u['realized_share']:.1%} ({u['reason']}; {u['action']})")
    for w in summary["warnings"]:
        log(f"[mix] WARNING: {w}")
    return {**summary, "wall_s": m["wall_s"], "output": output, "data_path_abs": data_path_abs,
            "dir": mix_dir, "key": m["key"], "reused": m["reused"], "counts": m["counts"]}


def run_stage(cfg: StageConfig, output: str, beam_args: list[str] | None = None, inputs: list[str] | None = None,
              log: Log = print) -> dict[str, Any]:
    """Run every step of ``cfg.stage`` and the mix; returns the stage manifest (also written)."""
    beam_args = list(beam_args or [])
    t0 = time.time()
    cache = cfg.cache_dir or default_cache_dir(output)
    files.makedirs(cache)
    sources = resolve_sources(cfg, inputs, output, log)
    items, skipped = plan_sources(sources)
    steps: list[dict[str, Any]] = []

    ext_dir, m = extract_step(cfg, items, None, cache, beam_args, log, skipped=skipped)
    steps.append(_entry(ext_dir, m))
    dd_dir, m = dedup_step(cfg, [ext_dir], [steps[-1]["output_digest"]], None, cache, beam_args, log)
    steps.append(_entry(dd_dir, m))
    flt_dir, m = filter_step(cfg, [dd_dir], [steps[-1]["output_digest"]], None, cache, beam_args, log)
    steps.append(_entry(flt_dir, m))
    dc_dir, m = decontam_step(cfg, [flt_dir], [steps[-1]["output_digest"]], None, cache, beam_args, log)
    steps.append(_entry(dc_dir, m))
    pools = {"web": dc_dir}

    skipped: dict[str, str] = {}
    if cfg.synth.enabled and not synth_backend_configured(cfg):
        skipped["synth"] = ("no generator configured (synth.backend.model for the local backend, or "
                            "synth.backend.kind: http with a url): no synthetic data was generated")
        log(f"[synth] WARNING: skipped, {skipped['synth']}; the mix reports the synthetic share as unmet")
    elif cfg.synth.enabled:
        syn_dir, m = synth_step(cfg, sample_problems(cfg, output), None, cache, beam_args, log,
                                pools=[pools["web"]] if cfg.synth.rewrite_pool else None)
        steps.append(_entry(syn_dir, m))
        pools["synthetic"] = syn_dir

    mix = run_mix(cfg, pools, output, beam_args, steps, log, cache)
    manifest = {
        "stage": cfg.stage,
        "seed": cfg.seed,
        "sources": sources,
        "cache_dir": cache,
        "steps": steps,
        "skipped": skipped,
        "mix": mix,
        "config": cfg.model_dump(mode="json"),
        "wall_s": round(time.time() - t0, 3),
    }
    files.makedirs(output)
    files.write_atomic(files.join(output, "manifest.json"), json.dumps(manifest, indent=2, sort_keys=True).encode())
    log(f"[{cfg.stage}] done in {manifest['wall_s']:.1f}s → {files.join(output, 'report.html')}")
    return manifest
