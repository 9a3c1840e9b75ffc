"""The steps of the chain as step builders: what each reads, which transforms it applies.

Each ``*_step`` function computes the step's cache key from its inputs and config, and runs
(or reuses) it with ``run_step``. The stage graph (stages.py) and the single-step CLI
commands (``curate extract|dedup|filter``) both call these.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from curate.config import StageConfig
from curate.errors import InputError
from curate.io import checksums, files
from curate.io.folder import Folder
from curate.io.inputs import InputFile, Skipped, plan_inputs
from curate.io.readers import detect_format
from curate.mixtures.blend import Blend, BlendTokenizer
from curate.mixtures.layout import HELD_OUT, SHARDS, final_names, plan_mismatch
from curate.mixtures.summary import ShardSummary
from curate.mixtures.tokenizer import DocTokenizer, file_sha256
from curate.pipelines.decontam import Decontaminate
from curate.pipelines.extract import Extract
from curate.pipelines.mix import Mix, make_plan
from curate.pipelines.read import ReadSources
from curate.pipelines.runner import (MANIFEST, Counted, Gather, Produced, StepGraph, load_manifest, pipeline,
                                     run_committed, run_step, step_dir, step_key, with_processes)
from curate.io.doc_shards import list_shards, read_shard
from curate.pipelines.shards import ReadShards
from curate.pipelines.synth import ProblemSet, SelectRewrites, Synthesize
from curate.synth import problem_export
from curate.synth.backend_factory import check_backend
from curate.synth.decontam import benchmark_fingerprints
from curate.synth.prompts import load_templates
from curate.synth.tasks import read_problem_lines

Log = Callable[[str], None]


def shard_count(cfg: StageConfig, input_bytes: int) -> int:
    """Output shards for a step reading ``input_bytes``: deterministic for the same input."""
    return max(cfg.num_shards, -(-input_bytes // cfg.shard_input_bytes))


def pool_bytes(dirs: list[str]) -> int:
    """Total size of the Parquet documents of step outputs."""
    paths = [p for d in dirs for p in list_shards(d)]
    return sum(m.size_in_bytes for r in FileSystems.match(paths) for m in r.metadata_list) if paths else 0


def plan_sources(sources: list[dict[str, Any]] | list[Any]) -> tuple[list[InputFile], list[Skipped]]:
    """Expand configured sources into input files (curate.io.inputs), sorted, and the files
    left out with their reasons; a file two sources reach is read once."""
    return plan_inputs(sources, readable=lambda path: detect_format(path) is not None)


def source_items(sources: list[dict[str, Any]] | list[Any]) -> list[InputFile]:
    """The input files of ``plan_sources``."""
    return plan_sources(sources)[0]


def extract_step(cfg: StageConfig, items: list[InputFile], out: str | None,
                 cache_dir: str, beam_args: list[str], log: Log = print,
                 skipped: list[Skipped] | None = None) -> tuple[str, dict]:
    """read → extract over raw input files; output: Documents with Markdown text.

    The key holds each file's source, stable name, reader and full-content hash, never its
    path: the same files anywhere give the same key and the same documents.
    """
    fingerprints = [(f.source, f.name, f.fmt, files.content_hash(f.path)) for f in items]
    key = step_key("extract", cfg.read.model_dump(), cfg.extract.model_dump(exclude={"processes"}), fingerprints)
    work = [(f.source, f.path, f.fmt, f.name) for f in items]
    extract_cfg = with_processes(cfg.extract, beam_args)

    def build(p: beam.Pipeline) -> StepGraph:
        read = p | "Read" >> ReadSources(work, cfg.read.max_record_bytes, cfg.read.max_decompressed_bytes)
        ext = read["records"] | "Extract" >> Extract(extract_cfg)
        rejects = [read["rejects"], *ext["rejects"]]
        return StepGraph(
            counted=[
                Counted("read", read["seen"], read["records"], read["rejects"]),
                Counted("extract", read["records"], ext["docs"], ext["rejects"]),
            ],
            docs=ext["docs"],
            rejects=rejects,
            stats=ext["stats"],
        )

    skipped = sorted(skipped or [])
    info = {"files": len(items), "input_bytes": sum(f.size for f in items),
            "read": sorted(f"{f.source}:{f.name}" for f in items),
            "skipped": [{"name": k.name, "reason": k.reason} for k in skipped]}
    if skipped:
        why: dict[str, int] = {}
        for k in skipped:
            why[k.reason] = why.get(k.reason, 0) + 1
        log(f"[extract] {len(skipped)} input file(s) not read: " + ", ".join(f"{n} {r}" for r, n in sorted(why.items()))
            + " (listed in the step manifest's info.skipped)")
    return run_step("extract", key, out or step_dir(cache_dir, "extract", key), build, beam_args,
                    shard_count(cfg, info["input_bytes"]), info=info, log=log, check=cfg.reuse_check,
                    failure_budget=cfg.failure_budget)


def _pool_step(name: str, settings: Any, make: Callable[[list[str]], beam.PTransform], inputs: list[str],
               input_digests: list[str], cfg: StageConfig, out: str | None, cache_dir: str, beam_args: list[str],
               log: Log) -> tuple[str, dict]:
    """A step that reads Document pools (Parquet shards) and applies one transform,
    ``make(docs dirs)`` (given the dirs so it may read the pools again). ``settings``: what
    besides the inputs the output depends on (JSON-able), for the key."""
    key = step_key(name, settings, input_digests)
    dirs = [files.join(d, "docs") for d in inputs]

    def build(p: beam.Pipeline) -> StepGraph:
        docs = p | "ReadPool" >> ReadShards(dirs)
        res = docs | name.capitalize() >> make(dirs)
        return StepGraph(
            counted=[Counted(name, docs, res["docs"], res["rejects"])],
            docs=res["docs"],
            rejects=res["rejects"],
            stats=res.get("stats", {}),
        )

    nbytes = pool_bytes(dirs)
    return run_step(name, key, out or step_dir(cache_dir, name, key), build, beam_args, shard_count(cfg, nbytes),
                    info={"inputs": inputs, "input_bytes": nbytes}, log=log, check=cfg.reuse_check,
                    failure_budget=cfg.failure_budget)


def dedup_step(cfg: StageConfig, inputs: list[str], input_digests: list[str], out: str | None, cache_dir: str,
               beam_args: list[str], log: Log = print) -> tuple[str, dict]:
    """Exact, then MinHash near-duplicate removal, global over all inputs.

    The pools are read twice: once for the slim records dedup decides on, once to apply the
    decisions (so no document is held across a shuffle).
    """
    from curate.pipelines.dedup import Deduplicate  # here: datasketch and scipy load only for dedup

    return _pool_step("dedup", cfg.dedup.model_dump(), lambda dirs: Deduplicate(cfg.dedup, reread=ReadShards(dirs)), inputs,
                      input_digests, cfg, out, cache_dir, beam_args, log)


def filter_step(cfg: StageConfig, inputs: list[str], input_digests: list[str], out: str | None, cache_dir: str,
                beam_args: list[str], log: Log = print) -> tuple[str, dict]:
    """Rules, language id, quality classifiers and the domain label."""
    from curate.pipelines.filter import Filter  # here: the filter's model libraries load only for it

    gpu_lm = bool(cfg.filter.lm.model) and cfg.filter.lm.device != "cpu"  # one copy of the model per GPU
    run_cfg = with_processes(cfg.filter, beam_args, default=1 if gpu_lm else None)
    return _pool_step("filter", cfg.filter.model_dump(exclude={"processes"}), lambda dirs: Filter(run_cfg), inputs,
                      input_digests, cfg, out, cache_dir, beam_args, log)


def decontam_step(cfg: StageConfig, inputs: list[str], input_digests: list[str] | None, out: str | None,
                  cache_dir: str, beam_args: list[str], log: Log = print) -> tuple[str, dict]:
    """Documents of any pool whose text shares no n-gram with a benchmark of ``cfg.decontam``;
    the key holds the benchmark files' contents."""
    digests = input_digests if input_digests is not None else pool_keys(inputs, cfg.reuse_check)
    return _pool_step("decontam", benchmark_fingerprints(cfg.decontam), lambda dirs: Decontaminate(cfg.decontam),
                      inputs, digests, cfg, out, cache_dir, beam_args, log)


def _synth_like(name: str, transform_cls, cfg: StageConfig, problem_paths: list[str], pools: list[str],
                out: str | None, cache_dir: str, beam_args: list[str], log: Log,
                finish: Callable[[Folder], None] | None = None) -> tuple[str, dict]:
    """The synth and problems steps: problem files (and pools to rewrite) through ``transform_cls``.

    The key holds the problem files' contents (not where they live), the synth config, the
    prompt templates, the benchmarks and the pools' output digests.
    """
    s = cfg.synth
    check_backend(s)
    paths = [p for p, _ in files.expand(problem_paths)] if problem_paths else []
    fingerprints = sorted(files.content_hash(p) for p in paths)
    templates = {n: t.sha for n, t in load_templates(s.prompts).items()}
    key = step_key(name, s.model_dump(), fingerprints, pool_keys(pools, cfg.reuse_check) if pools else [], templates,
                   benchmark_fingerprints(cfg.decontam))
    synth_cache = s.backend.cache_dir or files.join(cache_dir, "synth-cache")
    transform = transform_cls(s, synth_cache, decontam=cfg.decontam)

    def build(p: beam.Pipeline) -> StepGraph:
        parts = []
        if paths:
            parts.append(p | "ProblemFiles" >> beam.Create(paths) | "SpreadFiles" >> beam.Reshuffle()
                         | "ReadLines" >> beam.FlatMap(read_problem_lines))
        if pools:
            docs = p | "ReadPool" >> ReadShards([files.join(d, "docs") for d in pools])
            parts.append(docs | "SelectRewrites" >> SelectRewrites(s, cfg.seed))
        inputs = parts[0] if len(parts) == 1 else tuple(parts) | "AllInputs" >> beam.Flatten()
        res = inputs | name.capitalize() >> transform
        return StepGraph(counted=[Counted(n, i, o, r) for n, i, o, r in transform.parts],
                         docs=res["docs"], rejects=res["rejects"], stats=res.get("stats", {}))

    info = {"problem_files": paths, "pools": pools, "backend": s.backend.kind, "model": s.backend.model, "k": s.k,
            "cache": synth_cache}
    return run_step(name, key, out or step_dir(cache_dir, name, key), build, beam_args, cfg.num_shards, info=info,
                    log=log, check=cfg.reuse_check, failure_budget=cfg.failure_budget, finish=finish)


def synth_step(cfg: StageConfig, problem_paths: list[str], out: str | None, cache_dir: str, beam_args: list[str],
               log: Log = print, pools: list[str] | None = None) -> tuple[str, dict]:
    """Seed problems (and optionally Document pools to rewrite) → verified synthetic Documents."""
    if not problem_paths and not pools:
        raise InputError("synth: no problem files and no pools to rewrite")
    return _synth_like("synth", Synthesize, cfg, problem_paths, pools or [], out, cache_dir, beam_args, log)


def problems_step(cfg: StageConfig, problem_paths: list[str], out: str | None, cache_dir: str, beam_args: list[str],
                  log: Log = print) -> tuple[str, dict]:
    """Seed problems → the curated problem set with difficulties; the step output also holds
    ``problems.parquet`` and ``problems.jsonl`` (the RL trainer's rows, schema in
    ``curate.synth.problem_export``), written before the manifest lists them."""
    def exports(staged: Folder) -> None:
        recs = [{"uri": r["uri"], "meta": json.loads(r["meta"])}
                for path in list_shards(staged.join("docs")) for r in read_shard(path)]
        rows = problem_export.problem_rows(recs)
        staged.write_atomic("problems.parquet", problem_export.parquet_bytes(rows))
        staged.write_atomic("problems.jsonl", problem_export.jsonl_bytes(rows))

    return _synth_like("problems", ProblemSet, cfg, problem_paths, [], out, cache_dir, beam_args, log, finish=exports)


def mix_step(cfg: StageConfig, pools: dict[str, str], pool_digests: dict[str, str], cache_dir: str,
             beam_args: list[str], log: Log = print) -> tuple[str, dict]:
    """pools → token-budget sample → Megatron datasets, blend.json, plan.json and the report's
    parts.json (curate.mixtures.summary.ReportParts), committed like every step.

    ``pools`` maps a pool name (web, synthetic, …) to a step output; the key holds their
    output digests, the mix config, the seed and the tokenizer's bytes.
    """
    mix = cfg.mix
    seed = mix.seed if mix.seed is not None else cfg.seed
    tok = DocTokenizer(mix.tokenizer, mix.eod_token, mix.tokenizer_engine).load()
    tok_sha = file_sha256(tok.path)
    key = step_key("mix", mix.model_dump(mode="json", exclude={"tokenizer_engine"}), seed,
                   sorted(pool_digests.items()), tok_sha)
    log(f"[mix] token ids by {tok.engine}" + (f" ({tok.engine_note})" if tok.engine_note else ""))
    shards = [(name, path) for name in sorted(pools) for path in list_shards(files.join(pools[name], "docs"))]
    samples = max(mix.report_samples, 1)
    dtype = np.dtype(tok.dtype)

    def produce(staged: Folder) -> Produced:
        work = {k: staged.join("_work", k) for k in ("spool", "assign", "groups", "held_out")}
        for d in work.values():
            files.makedirs(d)
        with pipeline(beam_args) as p:
            res = (p | "PoolShards" >> beam.Create([(n, path, i) for i, (n, path) in enumerate(shards)])
                   | "Mix" >> Mix(tok, mix, seed, work, samples))
            res["summary"] | "WriteParts" >> beam.Map(
                lambda s: staged.write_atomic("parts.json", s.report_parts().to_json()))
            res["summary"] | "WriteCounts" >> beam.Map(lambda s: staged.write_atomic("_counts.json", json.dumps(
                [s.docs_kept(), sorted([list(k), n] for k, n in s.dropped.items())]).encode()))
            res["plan"] | "WritePlan" >> beam.Map(lambda plan: staged.write_atomic("plan.json", _plan_json(plan)))
            for name, pc in (("written", res["written"]), ("held_out", res["held_out"])):  # absent when empty
                pc | f"Gather_{name}" >> Gather() | f"Write_{name}" >> beam.Map(
                    lambda w, path=f"_{name}.json": staged.write_atomic(path, json.dumps(w).encode()))
        if not staged.exists("plan.json"):  # no document at all: plan the empty pool
            staged.write_atomic("plan.json", _plan_json(make_plan(ShardSummary(samples), mix, seed, dtype.itemsize)))
            staged.write_atomic("parts.json", ShardSummary(samples).report_parts().to_json())
        plan = json.loads(staged.read_bytes("plan.json"))
        written = json.loads(staged.read_bytes("_written.json")) if staged.exists("_written.json") else []
        held = json.loads(staged.read_bytes("_held_out.json")) if staged.exists("_held_out.json") else []

        def place(ws: list[dict], top: str, tmp_root: str) -> list[dict]:
            out = []
            for w, rel in final_names(ws, top):
                for ext in (".bin", ".idx"):
                    files.makedirs(staged.join(*rel.split("/")[:-1]))
                    FileSystems.rename([files.join(tmp_root, *w["tmp_prefix"].split("/")) + ext],
                                       [staged.join(*rel.split("/")) + ext])
                out.append({"source": w["source"], "prefix": rel, "docs": w["docs"], "tokens": w["tokens"],
                            "bytes": w["bytes"]})
            return out

        datasets = place(written, SHARDS, work["groups"])
        valid_datasets = place(held, HELD_OUT, work["held_out"])
        mismatch = plan_mismatch(plan, datasets)
        if mismatch:
            raise RuntimeError(f"mix: written tokens differ from the plan (planned, written): {mismatch}")
        Blend.build(BlendTokenizer(path=os.path.basename(tok.path), sha256=tok_sha, vocab_size=tok.vocab_size,
                                   eod_id=tok.eod, dtype=dtype.name),
                    context_length=mix.context_length, seed=seed, datasets=datasets, rotary_base=mix.rotary_base,
                    valid_datasets=valid_datasets).write(staged.path)
        kept, dropped = json.loads(staged.read_bytes("_counts.json")) if staged.exists("_counts.json") else (0, [])
        Folder(staged.join("_work")).delete()
        for name in ("_counts.json", "_written.json", "_held_out.json"):
            FileSystems.delete([staged.join(name)]) if staged.exists(name) else None
        rejects: dict[str, int] = {}
        for (_, _, reason), n in dropped:
            rejects[reason] = rejects.get(reason, 0) + n
        counts = {"mix": {"in": kept + sum(rejects.values()), "out": kept, "rejected": sum(rejects.values()),
                          "rejects": dict(sorted(rejects.items()))}}
        return Produced(counts, {"datasets": len(datasets), "tokens": sum(d["tokens"] for d in datasets)})

    info = {"pools": dict(sorted(pools.items())), "tokenizer": os.path.basename(tok.path)}
    log(f"[mix] sampling {', '.join(f'{k}={v}' for k, v in sorted(pools.items()))}")
    return run_committed("mix", key, step_dir(cache_dir, "mix", key), produce, info, log, cfg.reuse_check)


def _plan_json(plan: dict) -> bytes:
    def plain(v):
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return float(v)
        raise TypeError(type(v).__name__)

    return json.dumps(plan, sort_keys=True, default=plain).encode()


def pool_keys(dirs: list[str], check: str = "checksums") -> list[str]:
    """Output digests of completed step outputs, after checking their files against their
    manifests: a downstream key follows its inputs' bytes, and a damaged input is an error
    naming the file, not a silent loss."""
    digests = []
    for d in dirs:
        m = load_manifest(d)
        if m is None:
            raise InputError(f"not a completed step output (no manifest.json): {d}")
        damage = checksums.problems(d, m["outputs"], check, exclude=(MANIFEST,))
        if damage:
            raise InputError(f"step output {d} is damaged: " + "; ".join(damage[:5]) +
                             ("" if len(damage) <= 5 else f" (and {len(damage) - 5} more)"))
        digests.append(m["output_digest"])
    return digests
