"""Running one step as a Beam pipeline whose output is committed atomically with its manifest.

A step (extract, dedup, filter, synth) reads its inputs, applies its PTransforms and writes
``docs/`` and ``rejects/`` as deterministic Parquet shards plus ``manifest.json``. The output
directory is named by the step's cache key (its inputs' full content or upstream output
digests, its config section and curate's own source code), built in a staging folder and
committed when complete (curate.io.folder); the manifest, written last, lists every output
file with its size and checksum. A later run that computes the same key reuses the output
only after checking those files (curate.io.checksums), and rebuilds a damaged one.

Counting: each counted part of a step (``Counted``) reports documents in, out and rejected
by reason as ordinary Beam data (not metrics, which not every runner reports), and the step
fails loudly if the count law ``in = out + Σ rejects`` does not hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import apache_beam as beam
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils.windowed_value import WindowedValue
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import curate
from curate import budget, interrupts, progress
from curate.errors import ConfigError, InputError
from curate.io import checksums, files
from curate.io.doc_shards import list_shards, unfinished
from curate.io.folder import Folder
from curate.pipelines import dofn_specs, scratch
from curate.pipelines.progress import CountPart
from curate.schema import REJECT_SCHEMA
from curate.pipelines.shards import WriteShards, as_list

MANIFEST = "manifest.json"
BEAM_DASK_NAMES = ("DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner")


class CountLawError(RuntimeError):
    """A step's documents in did not equal documents out plus rejects."""


@dataclass
class Counted:
    """One counted part of a step: its input, kept and rejected PCollections.

    Each may be a list of PCollections (counted separately and summed), which spares a
    Flatten of documents: the DirectRunner holds every Flatten's data in memory.
    """

    name: str
    inputs: Any
    outputs: Any
    rejects: Any


@dataclass
class StepGraph:
    """What a step builder returns: the counted parts, final docs and rejects, optional stats.

    ``stats`` maps a name to a PCollection holding one JSON-able value (a CombineGlobally's
    result, say); they are gathered into the manifest (e.g. dedup's cluster-size histogram).
    Keep them small.
    """

    counted: list[Counted]
    docs: Any
    rejects: Any
    stats: dict[str, Any] = field(default_factory=dict)


_PACKAGES = ("curate", "curate.io", "curate.sample", "curate.commands", "curate.extractors", "curate.dedup",
             "curate.filters", "curate.synth", "curate.mixtures", "curate.pipelines", "curate.pretrain", "curate.configs")
_CODE_SUFFIXES = (".py", ".yaml", ".txt", ".json")
_code_digest: str | None = None


def code_digest() -> str:
    """SHA-256 over curate's own source (every module, bundled config, prompt and asset), by
    package-relative name, so a changed line of code means new step keys, while two
    checkouts of the same code agree."""
    global _code_digest
    if _code_digest is None:
        h = hashlib.sha256()
        for pkg in _PACKAGES:
            spec = importlib.util.find_spec(pkg)
            for root in sorted(spec.submodule_search_locations or []) if spec else []:
                names = sorted(n for n in os.listdir(root) if n.endswith(_CODE_SUFFIXES))
                for n in names:
                    with open(os.path.join(root, n), "rb") as f:
                        data = f.read()
                    h.update(f"{pkg}/{n}\0{len(data)}\0".encode())
                    h.update(data)
                for sub in ("assets", "prompts"):
                    d = os.path.join(root, sub)
                    for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                        with open(os.path.join(d, n), "rb") as f:
                            data = f.read()
                        h.update(f"{pkg}/{sub}/{n}\0{len(data)}\0".encode())
                        h.update(data)
        _code_digest = h.hexdigest()
    return _code_digest


def step_key(name: str, *parts: Any) -> str:
    """Cache key of a step: its name, curate's code (``code_digest``) and any JSON-able inputs and config."""
    blob = json.dumps([name, curate.__version__, code_digest(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def step_dir(cache_dir: str, name: str, key: str) -> str:
    return FileSystems.join(cache_dir, f"{name}-{key}")


def load_manifest(directory: str) -> dict[str, Any] | None:
    """The committed manifest of a step output (``StepManifest``'s JSON), or None when the step
    has not completed there; a manifest that is not a ``StepManifest`` (damaged, or written by
    an older curate) is an InputError naming the file."""
    path = FileSystems.join(directory, MANIFEST)
    if not FileSystems.exists(path):
        return None
    try:
        return StepManifest.model_validate_json(files.read_bytes(path)).to_json()
    except ValidationError as e:
        first = e.errors()[0]
        raise InputError(f"{path}: not a manifest this curate can read ({'.'.join(map(str, first['loc']))}: "
                         f"{first['msg']}); rebuild that step") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e})") from None


def stage_steps(directory: str) -> list[str] | None:
    """The step directories a stage output's manifest lists, or None when ``directory`` is
    not a stage output (its manifest.json, if any, is a step's)."""
    path = FileSystems.join(directory, MANIFEST)
    if not FileSystems.exists(path):
        return None
    try:
        raw = json.loads(files.read_bytes(path))
    except (ValueError, OSError):
        return None
    if isinstance(raw, dict) and "steps" in raw and "step" not in raw:
        return [s["dir"] for s in raw["steps"] if isinstance(s, dict) and s.get("dir")]
    return None


def _count_events(counted: Counted, progress_dir: str | None = None) -> list:
    """Per-bundle counts of one counted part, made where each PCollection is made.

    Each input, output and reject PCollection is counted by one ParDo that emits its sums
    once per bundle (curate.pipelines.progress.CountPart), so only a handful of sums per
    bundle leave the fused stage and no document is flattened or shuffled.
    """
    n = counted.name
    return [part | f"Count{kind}{n}{i}" >> CountPart(n, kind, progress_dir if kind == "in" else None)
            for kind, pcs in (("in", counted.inputs), ("out", counted.outputs), ("reject", counted.rejects))
            for i, part in enumerate(as_list(pcs))]


def _gather_counts(rows: list[tuple[tuple[str, str, str], int]], order: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {n: {"in": 0, "out": 0, "rejected": 0, "rejects": {}} for n in order}
    for (name, kind, reason), c in rows:
        entry = out[name]
        if kind == "reject":
            entry["rejects"][reason] = entry["rejects"].get(reason, 0) + c
            entry["rejected"] += c
        else:
            entry[kind] += c
    for entry in out.values():
        entry["rejects"] = dict(sorted(entry["rejects"].items()))
    return out


def check_count_law(counts: dict[str, Any], where: str) -> None:
    for name, c in counts.items():
        if c["in"] != c["out"] + c["rejected"]:
            raise CountLawError(
                f"{where}: count law broken in {name}: in={c['in']} out={c['out']} rejected={c['rejected']}"
            )


class Gather(beam.PTransform):
    """Every element of a PCollection → one list of them (in no set order), by one
    GroupByKey; unlike ``ToList``, nothing at all when the input is empty (no default to inject)."""

    def expand(self, pcoll):
        return pcoll | "Key" >> beam.Map(lambda v: (None, v)) | "Group" >> beam.GroupByKey() | "Values" >> beam.MapTuple(
            lambda _, vs: list(vs))


def first_reject(rejects_dir: str, reason: str) -> dict[str, Any] | None:
    """The first rejected document with ``reason`` in a step's rejects Parquet ({uri, reason, detail})."""
    for path in list_shards(rejects_dir):
        with FileSystems.open(path) as f:
            table = pq.read_table(f, columns=["uri", "reason", "detail"])
        hits = table.filter(pc.equal(table["reason"], reason))
        if hits.num_rows:
            return hits.slice(0, 1).to_pylist()[0]
    return None


def _write_json(path: str, value: Any) -> None:
    files.write_atomic(path, json.dumps(value, indent=2, sort_keys=True).encode())


class PartCounts(BaseModel):
    """Documents in, out and rejected (by reason) of one counted part of a step: the count law
    ``in = out + rejected`` and ``rejected = Σ rejects`` hold (``check_count_law``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    in_: int = Field(alias="in", ge=0)
    out: int = Field(ge=0)
    rejected: int = Field(ge=0)
    rejects: dict[str, int] = {}

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class StepManifest(BaseModel):
    """``manifest.json`` of a committed step output, written last (the completion marker).

    ``outputs``: every other file, by relative posix name, with size and checksum
    (curate.io.checksums); ``output_digest``: one hash over them (downstream keys use it);
    ``counts``: per counted part; ``stats``: the step's small JSON summaries (e.g. dedup's
    ``clusters``, curate.dedup.stats.ClusterStats); ``info``: what the step read.
    ``reused`` is not stored: the runner sets it on the copy it returns.
    """

    model_config = ConfigDict(extra="forbid")
    step: str
    key: str
    outputs: dict[str, Any]
    output_digest: str
    curate_version: str
    counts: dict[str, PartCounts]
    stats: dict[str, Any] = {}
    wall_s: float
    finished_at: str
    info: dict[str, Any] = {}

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


@dataclass
class Produced:
    """What a step's body reports about the files it wrote into its staging folder."""

    counts: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def reusable(name: str, key: str, final: str, check: checksums.Check, log: Callable[[str], None]) -> dict[str, Any] | None:
    """The manifest of a completed output of this step at ``final`` with this key whose listed
    files check out; None (with a line saying why, when there was one) otherwise."""
    try:
        manifest = load_manifest(final)
    except InputError as e:
        log(f"[{name}] cached output {final} is damaged ({e}): rebuilding it")
        return None
    if manifest is None or manifest["key"] != key:
        return None
    damage = checksums.problems(final, manifest["outputs"], check, exclude=(MANIFEST,))
    if not damage:
        log(f"[{name}] reusing {final} (completed {manifest.get('finished_at', '?')}, {check} verified)")
        return manifest
    more = f" and {len(damage) - 1} more" if len(damage) > 1 else ""
    log(f"[{name}] cached output {final} is damaged ({damage[0]}{more}): rebuilding it")
    return None


def run_committed(
    name: str,
    key: str,
    final: str,
    produce: Callable[[Folder], Produced],
    info: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    check: checksums.Check = "checksums",
) -> tuple[str, dict[str, Any]]:
    """The one commit protocol of every step: reuse a verified output with this key, else
    build it in a staging folder with ``produce``, write the manifest (listing every file with
    its size and checksum) last, and commit the folder as ``final``; returns (final, manifest).
    """
    manifest = reusable(name, key, final, check, log)
    if manifest is not None:
        manifest["reused"] = True
        return final, manifest
    target = Folder(final)
    target.sweep_staging()  # left by killed runs; the run lock keeps live ones safe
    staged = target.staging()
    log(f"[{name}] running → {final}")
    t0 = time.time()
    try:
        made = produce(staged)
        interrupts.check()
    except BaseException:
        staged.delete()
        raise
    wall = time.time() - t0
    outputs = checksums.describe(staged.path, exclude=(MANIFEST,))
    manifest = StepManifest(
        step=name, key=key, outputs=outputs, output_digest=checksums.digest(outputs),
        curate_version=curate.__version__, counts=made.counts, stats=made.stats, wall_s=round(wall, 3),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), info=info or {},
    ).to_json()
    _write_json(staged.join(MANIFEST), manifest)
    target.commit(staged)
    log(f"[{name}] done in {wall:.1f}s: " + ", ".join(f"{n} {c['in']}→{c['out']}" for n, c in made.counts.items()))
    manifest["reused"] = False
    return final, manifest


class _Options(PipelineOptions):
    """PipelineOptions whose view for each options class is made once. Beam asks the
    pipeline's options for a view on every transform it applies, and each new view builds
    an argparse parser of that class's flags and parses them again: ~1 ms per transform.
    Views share one option store (``_all_options``), so a kept view reads what any other sets.
    """

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]


TYPE_CHECK_FLAG = "--pipeline_type_check"
"""curate's own flag (Beam has only --no_pipeline_type_check): keep Beam's type inference on."""


def type_check_args(beam_args: list[str]) -> list[str]:
    """``beam_args`` with Beam's construction-time type inference off unless TYPE_CHECK_FLAG is
    among them. That inference reads the bytecode of every Map and DoFn as a graph is built
    (~5% of a small stage's CPU) and only guides coders and type errors of graphs the tests fix."""
    if TYPE_CHECK_FLAG in beam_args:
        return [a for a in beam_args if a != TYPE_CHECK_FLAG]
    return ["--no_pipeline_type_check", *beam_args]


@contextlib.contextmanager
def pipeline(beam_args: list[str]):
    """A Beam pipeline, run when the block ends (like ``with beam.Pipeline(...)``). Beam
    arguments naming Beam's DaskRunner get curate.pipelines.dask_runner's (tagged outputs
    kept apart, every sink run, its client closed). The ``scratch`` folders its transforms
    made are removed when the run is over, failed or not."""
    dofn_specs.install()
    options = _Options(type_check_args(beam_args))
    if options.view_as(StandardOptions).no_wait_until_finish:
        raise ConfigError("--no_wait_until_finish: curate reads each step's output as soon as its pipeline ends, "
                          "and removes the pipeline's scratch folders then; leave the flag out")
    runner = None
    if options.view_as(StandardOptions).runner in BEAM_DASK_NAMES:
        from curate.pipelines.dask_runner import DaskRunner

        runner = DaskRunner()
    p = beam.Pipeline(runner=runner, options=options)
    try:
        with p:
            yield p
    finally:
        scratch.remove_all(p)  # after the run: a runner may run any task again until it is over
    interrupts.check()  # one that landed in a DoFn's teardown, which Beam logs and drops


def run_step(
    name: str,
    key: str,
    final: str,
    build: Callable[[beam.Pipeline], StepGraph],
    beam_args: list[str],
    num_shards: int,
    info: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    check: checksums.Check = "checksums",
    failure_budget: Any = None,
    finish: Callable[[Folder], None] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Run (or reuse) a Document step (``run_committed``): the graph ``build`` makes writes
    ``docs/`` and ``rejects/`` as Parquet shards, its counts (the count law is checked) and stats.

    ``final`` is normally ``step_dir(cache_dir, name, key)``. ``failure_budget``
    (curate.budget.FailureBudget; None: its defaults) stops a step whose ``error:*`` rejects
    are too many, before it is committed. ``finish(staged)`` may add files made from the
    written shards (e.g. the problem set's exports) before the manifest lists them.
    """

    def produce(staged: Folder) -> Produced:
        with progress.watch(name, staged.join(progress.DIRNAME), info, log), pipeline(beam_args) as p:
            graph = build(p)
            tuple(as_list(graph.docs)) | "WriteDocs" >> WriteShards(staged.join("docs"), num_shards)
            tuple(as_list(graph.rejects)) | "WriteRejects" >> WriteShards(staged.join("rejects"), num_shards,
                                                                           REJECT_SCHEMA)
            _write_counts(graph.counted, staged.join("_counts.json"), staged.join(progress.DIRNAME))
            for sname, spc in graph.stats.items():
                spc | f"WriteStat{sname}" >> beam.Map(lambda v, path=staged.join(f"_stats_{sname}.json"): _write_json(path, v))
        for sub in ("docs/_spool", "rejects/_spool", progress.DIRNAME):
            scratch.remove(staged.join(*sub.split("/")))  # an object store's "folder" is its files
        left = [p for sub in ("docs", "rejects") for p in unfinished(staged.join(sub))]
        if left:  # merges that died mid-write and were run again
            FileSystems.delete(left)
        if not staged.exists("_counts.json"):
            _write_json(staged.join("_counts.json"), _gather_counts([], [c.name for c in graph.counted]))
        counts = json.loads(staged.read_bytes("_counts.json"))
        check_count_law(counts, f"step {name}")
        budget.check(name, counts, lambda reason: first_reject(staged.join("rejects"), reason), failure_budget)
        stats = {s: json.loads(staged.read_bytes(f"_stats_{s}.json")) if staged.exists(f"_stats_{s}.json") else None
                 for s in graph.stats}
        if finish is not None:
            finish(staged)
        return Produced(counts, stats)

    return run_committed(name, key, final, produce, info, log, check)


def _write_counts(counted: list[Counted], path: str, progress_dir: str | None = None) -> None:
    """Sum every counted part's events into ``path`` (``_gather_counts``'s shape); nothing is
    written when no part saw a document (``produce`` then writes the zero counts)."""
    events = [pc for c in counted for pc in _count_events(c, progress_dir)]
    order = [c.name for c in counted]
    (
        events
        | "AllEvents" >> beam.Flatten()
        | "GatherEvents" >> beam.GroupByKey()
        | "WriteCounts" >> beam.Map(lambda kv: _write_json(path, _gather_counts(list(kv[1]), order)))
    )


def processes_per_worker(beam_args: list[str], cores: int) -> int:
    """Child processes per Beam worker for a step whose ``processes`` is unset (extract, filter):
    the cores one worker may use. All of them on the in-process runner, cores ÷ workers with the
    DirectRunner's multi_processing/threading, one on other runners (a worker per core already)."""
    opts = PipelineOptions(beam_args)
    runner = opts.view_as(StandardOptions).runner or "DirectRunner"
    if not runner.endswith(("DirectRunner", "FnApiRunner")):
        return 1
    direct = opts.view_as(DirectOptions)
    if direct.direct_running_mode in ("multi_processing", "multi_threading"):
        return max(1, cores // max(1, direct.direct_num_workers or cores))
    return max(1, cores)


def local_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def with_processes(section, beam_args: list[str], default: int | None = None):
    """A step's config section with ``processes`` set: the configured number, else ``default``,
    else ``processes_per_worker`` for these Beam arguments and this machine's cores."""
    n = section.processes or default or processes_per_worker(beam_args, local_cores())
    return section.model_copy(update={"processes": n})


def windowed(out, ts, win):
    """An output of a DoFn that answers an element later than its ``process`` call (a child
    pool): the value, or a TaggedOutput's value, in the element's own timestamp and window."""
    if isinstance(out, beam.pvalue.TaggedOutput):
        return beam.pvalue.TaggedOutput(out.tag, WindowedValue(out.value, ts, (win,)))
    return WindowedValue(out, ts, (win,))
