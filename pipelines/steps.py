"""The steps of the chain as step builders: what each reads, which transforms it applies.

Each ``*_step`` function computes the step's cache key from its inputs and config, and runs
(or reuses) it with ``run_step``. The stage graph (stages.py) and the single-step CLI
commands (``curate extract|dedup|filter``) both call these.
"""

from __future__ import annotations

from typing import Any, Callable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from curate.config import StageConfig
from curate.errors import InputError
from curate.io import files
from curate.io.inputs import InputFile, Skipped, plan_inputs
from curate.io.readers import detect_format
from curate.pipelines.extract import Extract
from curate.pipelines.read import ReadSources
from curate.pipelines.shards import ReadShards
from curate.pipelines.runner import Counted, StepGraph, run_step, step_dir, step_key

Log = Callable[[str], None]


def shard_count(cfg: StageConfig, input_bytes: int) -> int:
    """Output shards for a step reading ``input_bytes``: deterministic for the same input."""
    return max(cfg.num_shards, -(-input_bytes // cfg.shard_input_bytes))


def pool_bytes(dirs: list[str]) -> int:
    """Total size of the Parquet documents of step outputs."""
    from curate.pipelines.shards import list_shards

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
    key = step_key("extract", cfg.read.model_dump(), cfg.extract.model_dump(), fingerprints)
    work = [(f.source, f.path, f.fmt, f.name) for f in items]

    def build(p: beam.Pipeline) -> StepGraph:
        read = p | "Read" >> ReadSources(work, cfg.read.max_record_bytes, cfg.read.max_decompressed_bytes)
        ext = read["records"] | "Extract" >> Extract(cfg.extract)
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


def _pool_step(name: str, transform: beam.PTransform, section: Any, inputs: list[str], input_digests: list[str],
               cfg: StageConfig, out: str | None, cache_dir: str, beam_args: list[str], log: Log) -> tuple[str, dict]:
    """A step that reads Document pools (Parquet shards) and applies one transform."""
    key = step_key(name, section.model_dump(), input_digests)
    dirs = [files.join(d, "docs") for d in inputs]

    def build(p: beam.Pipeline) -> StepGraph:
        docs = p | "ReadPool" >> ReadShards(dirs)
        res = docs | name.capitalize() >> transform
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
    from curate.pipelines.dedup import Deduplicate

    key = step_key("dedup", cfg.dedup.model_dump(), input_digests)
    dirs = [files.join(d, "docs") for d in inputs]

    def build(p: beam.Pipeline) -> StepGraph:
        docs = p | "ReadPool" >> ReadShards(dirs)
        res = docs | "Dedup" >> Deduplicate(cfg.dedup, reread=ReadShards(dirs))
        return StepGraph(
            counted=[Counted("dedup", docs, res["docs"], res["rejects"])],
            docs=res["docs"],
            rejects=res["rejects"],
            stats=res["stats"],
        )

    nbytes = pool_bytes(dirs)
    return run_step("dedup", key, out or step_dir(cache_dir, "dedup", key), build, beam_args, shard_count(cfg, nbytes),
                    info={"inputs": inputs, "input_bytes": nbytes}, log=log, check=cfg.reuse_check,
                    failure_budget=cfg.failure_budget)


def filter_step(cfg: StageConfig, inputs: list[str], input_digests: list[str], out: str | None, cache_dir: str,
                beam_args: list[str], log: Log = print) -> tuple[str, dict]:
    """Rules, language id, quality classifiers and the domain label."""
    from curate.pipelines.filter import Filter

    return _pool_step("filter", Filter(cfg.filter), cfg.filter, inputs, input_digests, cfg, out, cache_dir, beam_args, log)


def pool_keys(dirs: list[str], check: str = "checksums") -> list[str]:
    """Output digests of completed step outputs, after checking their files against their
    manifests: a downstream key follows its inputs' bytes, and a damaged input is an error
    naming the file, not a silent loss."""
    from curate.io import checksums
    from curate.pipelines.runner import MANIFEST, load_manifest

    digests = []
    for d in dirs:
        m = load_manifest(d)
        if m is None:
            raise InputError(f"not a completed step output (no manifest.json): {d}")
        if "outputs" not in m:
            raise InputError(f"{d}: its manifest lists no output files (written by an older curate); rebuild it")
        damage = checksums.problems(d, m["outputs"], check, exclude=(MANIFEST,))
        if damage:
            raise InputError(f"step output {d} is damaged: " + "; ".join(damage[:5]) +
                             ("" if len(damage) <= 5 else f" (and {len(damage) - 5} more)"))
        digests.append(m["output_digest"])
    return digests
