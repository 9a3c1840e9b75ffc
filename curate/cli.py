"""The `curate` command line.

    curate run stage2                              # embedded sample in, shards + report out
    curate run stage2 --config my.yaml -- --runner=DataflowRunner --project=...
    curate extract pages/ crawl.warc.gz --output out/extracted
    curate report out/stage2
    curate show out/_steps/filter-<key> --rejects --reason filter:gopher

Everything after a bare ``--`` is handed to Beam's PipelineOptions unchanged (type inference
off unless ``--pipeline_type_check``: pipelines.runner.type_check_args).
"""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import os
import re
import sys
import time
import traceback

import click

from curate import __version__, interrupts
from curate.interrupts import Terminated
from curate.errors import ConfigError, InputError
from curate.io.lock import RunLock
from curate.quiet import StderrFilter

BEAM_HELP = (
    "Everything after a bare `--` goes to Apache Beam's PipelineOptions unchanged, e.g. "
    "`-- --direct_running_mode=multi_processing --direct_num_workers=2` or "
    "`-- --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp`. "
    "Beam's construction-time type inference is off unless `--pipeline_type_check` is given."
)


# What the steps have logged so far, for the one line an interrupt or an OS error ends with.
_progress: dict = {"running": None, "kept": [], "quiet": False}
_STEP_LINE = re.compile(r"\[([\w-]+)\] (running|sampling|done in|reusing)")


def log_line(msg: str) -> None:
    """A timed line on stderr (warnings only with -q); every command logs through it."""
    m = _STEP_LINE.match(msg)
    if m and m[2] in ("running", "sampling"):
        _progress["running"] = m[1]
    elif m:
        _progress["running"] = None
        if m[1] not in _progress["kept"]:
            _progress["kept"].append(m[1])
    if not _progress["quiet"] or "WARNING" in msg:
        click.echo(f"{time.strftime('%H:%M:%S')} {msg}", err=True)


def _cause(e: BaseException | None) -> BaseException | None:
    """The KeyboardInterrupt or OSError that stopped a command, if it was one.

    An interrupt counts anywhere in the exception chain. An OSError counts as ``e`` itself or
    behind Beam's re-raise of a DoFn's exception (a RuntimeError, or the same type without the
    file name, whose message ends in "[while running '<transform>']"; the original is its
    context), not behind other errors: one raised while handling an OSError is not that OSError.
    """
    chain: list[BaseException] = []
    while e is not None and not any(e is c for c in chain):
        chain.append(e)
        e = e.__cause__ or e.__context__
    interrupts = [c for c in chain if isinstance(c, KeyboardInterrupt)]
    n = 1
    while n < len(chain) and "[while running '" in str(chain[n - 1]):
        n += 1
    oserrors = [c for c in chain[:n] if isinstance(c, OSError) and c.errno != errno.EPIPE]
    named = [c for c in oserrors if c.filename]
    return (interrupts or named or oserrors or [None])[0]


def _last_line(e: BaseException) -> tuple[str, int]:
    """The line and exit status that end a command stopped by ``e`` (a result of _cause)."""
    where = f" during step {_progress['running']}" if _progress["running"] else ""
    if _progress["kept"]:
        kept = f"; finished steps kept: {', '.join(_progress['kept'])} (rerun the same command to resume from them)"
    else:  # a command that runs no steps (sample, pretrain…) says nothing about them
        kept = "; no step had finished, so nothing is kept" if where else ""
    if isinstance(e, KeyboardInterrupt):
        what, code = ("terminated", 143) if isinstance(e, Terminated) else ("interrupted", 130)
        return f"curate: {what}{where}{kept}", code
    path = e.filename
    if path is None:
        m = re.search(r"'([^']*/[^']*)'|(\S*/\S+)", str(e))
        path = m and (m[1] or m[2])
    name = errno.errorcode.get(e.errno or 0)
    reason = f"{e.strerror} ({name})" if name and e.strerror else str(e)
    return f"curate: {reason}{f': {path}' if path and path not in reason else ''}{where}{kept}", 1


# What each remote scheme needs beyond the base install: (module to find, pip extra).
_REMOTE = {"gs": ("google.cloud.storage", "gcp"), "s3": ("boto3", "aws")}


def remote_problem(path: str) -> str | None:
    """One line saying which extra a ``gs://`` or ``s3://`` path needs when it is not installed, else None."""
    import importlib.util

    scheme = path.split("://", 1)[0].lower() if "://" in path else ""
    if scheme not in _REMOTE:
        return None
    module, extra = _REMOTE[scheme]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"{path}: {scheme}:// paths need Beam's {extra.upper()} support, which is not installed: pip install \"curate[{extra}]\""


def _check_remote(*paths: str | None) -> None:
    for p in paths:
        problem = remote_problem(p) if p else None
        if problem:
            raise click.ClickException(problem)


def _remote_error(e: BaseException | None) -> str | None:
    """The one line for Beam's "Unable to get filesystem" error (a gs:// or s3:// path without its extra)."""
    seen = []
    while e is not None and not any(e is c for c in seen):
        seen.append(e)
        m = re.search(r"Unable to get filesystem from specified path.*Path specified: (\S+)", str(e), re.S)
        if m:
            return remote_problem(m[1]) or f"no filesystem for {m[1]}"
        e = e.__cause__ or e.__context__
    return None


_BEAM_ERROR_LOGGERS = ("apache_beam.runners.common",
                       "apache_beam.runners.portability.fn_api_runner.worker_handlers")  # a teardown's error


class _QuietBeam(logging.Filter):
    """Drops Beam's logged copy of an exception that the one line reports anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _cause(record.exc_info[1]) is not None)


_RUNNER_FLAGS = ("--runner", "--direct_running_mode", "--direct_num_workers")
IN_PROCESS = ["--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner", "--direct_running_mode=in_memory"]


def worker_defaults(beam_args: list[str], cores: int) -> tuple[list[str], str | None]:
    """The Beam arguments to run with, and the line that says how the run will be executed
    (None when the user chose the runner or its workers). With no such choice the run is
    in-process, on Beam's FnApiRunner (the engine the DirectRunner hands batch pipelines to,
    without its extra graph passes: ~1 CPU-s less per stage, same bytes): on ≤ 2 cores
    extra worker processes cannot help (measured: dedup 1.36× slower and 2.5× the memory
    with two workers on two cores); with more cores the line names the flags that use them."""
    if any(a.split("=", 1)[0] in _RUNNER_FLAGS for a in beam_args):
        return list(beam_args), None
    args = [*beam_args, *IN_PROCESS]
    if cores <= 2:
        return args, (f"[beam] in-process (FnApiRunner): {cores} core(s), where worker processes would only "
                      "add memory and serialisation")
    return args, (f"[beam] in-process (FnApiRunner); to use the {cores} cores, add "
                  f"`-- --direct_running_mode=multi_processing --direct_num_workers={cores}`")


def beam_args() -> list[str]:
    """The Beam options given after a bare `--`, with the worker defaults (``worker_defaults``)
    and their log line once per run: every command that runs a pipeline takes them from here."""
    ctx = click.get_current_context()
    obj = ctx.find_root().obj or {}
    args, line = worker_defaults(obj.get("beam_args", []), os.cpu_count() or 1)
    if line and not obj.get("_runner_said"):
        log_line(line)
        obj["_runner_said"] = True
    return args


def _load(config: str | None, stage: str):
    from curate.config import default_config, load_config

    return load_config(config) if config else default_config(stage)


class _Group(click.Group):
    """Config and input errors become click errors. An interrupt, SIGTERM or OSError ends the
    command with one line naming the step it stopped in and the steps kept (--verbose adds the
    traceback): a run's own trace is noise to someone who pressed Ctrl-C or filled a disk."""

    def invoke(self, ctx):
        _progress.update(running=None, kept=[], quiet=ctx.params.get("quiet", False))
        verbose = ctx.params.get("verbose", False)
        quiet = _QuietBeam()
        if not verbose:
            for name in _BEAM_ERROR_LOGGERS:
                logging.getLogger(name).addFilter(quiet)
        try:
            return super().invoke(ctx)
        except (ConfigError, InputError) as e:
            raise click.ClickException(str(e)) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (KeyboardInterrupt, Exception) as e:
            remote = _remote_error(e)
            if remote:
                raise click.ClickException(remote) from None
            cause = _cause(e)
            if cause is None:
                raise
            line, code = _last_line(cause)
            if verbose:
                traceback.print_exception(e)
            click.echo(line, err=True)
            raise click.exceptions.Exit(code) from None
        finally:
            for name in _BEAM_ERROR_LOGGERS:
                logging.getLogger(name).removeFilter(quiet)


def _holding_output(command):
    """Runs ``command`` holding the lock on its --output directory (see curate.io.lock)."""

    @functools.wraps(command)
    def locked(*args, output: str, **kwargs):
        _check_remote(output, *kwargs.get("inputs", ()))
        with RunLock(output, log_line):
            return command(*args, output=output, **kwargs)

    return locked


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="curate")
@click.option("-v", "--verbose", is_flag=True,
              help="Show Beam's and the libraries' log lines (INFO and up); after an interrupt or an OS error "
                   "(disk full, permission denied), print the traceback too.")
@click.option("-q", "--quiet", is_flag=True, help="Show only warnings and errors, not each step's progress lines.")
def cli(verbose: bool, quiet: bool) -> None:
    """curate: pretraining data for reasoning models, from raw pages to Megatron shards.

    The chain: read (WARC, HTML, JSONL, Parquet, PDF) → extract (math and code kept) →
    dedup (exact + MinHash, global) → filter (rules, language, quality, domain) →
    synth (stage 3) → mix (token budgets → shards, blend.json, report).
    Every step is an Apache Beam pipeline (DirectRunner by default).
    """


@cli.command()
@click.argument("stage", type=click.Choice(["stage1", "stage2", "stage3"]))
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Stage YAML (default: the bundled configs/<stage>.yaml).")
@click.option("--input", "inputs", multiple=True, help="Input file, directory or glob (repeatable). Default: the config's sources, else the embedded sample.")
@click.option("--output", default=None, help="Output directory (default ./out/<stage>).")
def run(stage: str, config: str | None, inputs: tuple[str, ...], output: str | None) -> None:
    """Run the whole chain for STAGE and write shards, blend.json, report and manifest.

    With no options it runs on the embedded sample corpus and writes to ./out/<stage>.
    Step outputs are cached next to the output (in _steps/) and reused by later runs
    and stages with the same inputs and config.
    """
    from curate.pipelines.stages import default_cache_dir, run_stage

    cfg = _load(config, stage)
    if cfg.stage != stage:
        raise click.ClickException(f"{config} describes {cfg.stage}, not {stage}")
    output = output or os.path.join("out", stage)
    _check_remote(*inputs, output, cfg.cache_dir, *(p for src in cfg.sources for p in src.paths))
    # The step cache first, then the output, always in this order (two runs never hold one each).
    with RunLock(cfg.cache_dir or default_cache_dir(output), log_line), RunLock(output, log_line):
        run_stage(cfg, output, beam_args(), list(inputs) or None, log=log_line)


run.help = inspect.cleandoc(run.help or "") + "\n\n" + BEAM_HELP


def _step_kind(path: str) -> str:
    """``step`` (a completed step output), ``stage`` (a stage output) or ``raw`` (anything else: input files)."""
    from curate.pipelines.runner import load_manifest, stage_steps

    if stage_steps(path) is not None:
        return "stage"
    return "raw" if load_manifest(path) is None else "step"


def _stage_error(path: str) -> click.ClickException:
    from curate.pipelines.runner import stage_steps

    steps = stage_steps(path) or []
    return click.ClickException(f"{path} is a stage output, not a step output; give one of its steps: {', '.join(steps)}")


def _pools(name: str, cfg, inputs: list[str], output: str, options: list[str]) -> list[str]:
    """The step outputs a pool step reads: INPUTS that are step outputs as they are, the others
    (JSONL, Parquet, WARC, HTML, PDF files or folders) extracted first exactly as `curate extract`
    would, into the step cache beside OUTPUT (``_steps/``, reused by later runs)."""
    from curate.io.inputs import sources_from_args
    from curate.pipelines import steps
    from curate.pipelines.stages import default_cache_dir

    kinds = {p: _step_kind(p) for p in inputs}
    for p, k in kinds.items():
        if k == "stage":
            raise _stage_error(p)
    pools = [p for p in inputs if kinds[p] == "step"]
    raw = [p for p in inputs if kinds[p] == "raw"]
    if raw:
        cache = default_cache_dir(output)
        log_line(f"[{name}] {len(raw)} input(s) are not step outputs: extracting them first, as `curate extract` would")
        with RunLock(cache, log_line):
            items, skipped = steps.plan_sources(sources_from_args(raw))
            ext_dir, _ = steps.extract_step(cfg, items, None, cache, options, log=log_line, skipped=skipped)
        pools.append(ext_dir)
    return pools


def _step_command(name: str, doc: str):
    @click.argument("inputs", nargs=-1, required=True)
    @click.option("--output", required=True, help="Output directory (docs/, rejects/, manifest.json).")
    @click.option("--config", type=click.Path(dir_okay=False), help="Stage YAML whose section configures this step (default: stage2's).")
    @_holding_output
    def command(inputs: tuple[str, ...], output: str, config: str | None) -> None:
        from curate.pipelines import steps

        cfg = _load(config, "stage2")
        options = beam_args()
        if name == "extract":
            from curate.io.inputs import sources_from_args

            items, skipped = steps.plan_sources(sources_from_args(list(inputs)))
            steps.extract_step(cfg, items, output, output, options, log=log_line, skipped=skipped)
        else:
            dirs = _pools(name, cfg, list(inputs), output, options)
            fn = {"dedup": steps.dedup_step, "filter": steps.filter_step}[name]
            fn(cfg, dirs, steps.pool_keys(dirs), output, output, options, log=log_line)

    command.__doc__ = doc + "\n\n" + BEAM_HELP
    return cli.command(name)(command)


_step_command("extract", "Read and extract INPUTS (WARC, HTML folders, JSONL, Parquet, PDFs) into Documents.")
_step_command("dedup", "Remove exact and near-duplicates across INPUTS: step output dirs, or raw files and folders "
                       "(WARC, HTML, JSONL, Parquet, PDF), which are extracted first as `curate extract` would.")
_step_command("filter", "Apply rules, language id, quality classifiers and domain labels to INPUTS: step output dirs, "
                        "or raw files and folders, which are extracted first as `curate extract` would.")


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", required=True, help="Output directory (shards/, blend.json, report.html, report.json).")
@click.option("--config", type=click.Path(dir_okay=False), help="Stage YAML whose mix: section is used (default: stage2's).")
@_holding_output
def mix(inputs: tuple[str, ...], output: str, config: str | None) -> None:
    """Sample the pools in INPUTS (step output dirs) to token budgets and write Megatron shards."""
    from curate.pipelines.stages import run_mix

    cfg = _load(config, "stage2")
    for p in inputs:
        kind = _step_kind(p)
        if kind == "stage":
            raise _stage_error(p)
        if kind == "raw":
            raise click.ClickException(
                f"{p} is not a step output: the mix samples filtered pools. Run `curate run stage2 --input {p}` for "
                f"the whole chain, or first `curate filter {p} --output POOL` (it extracts raw inputs) and then "
                "`curate mix POOL --output ...`")
    pools = {os.path.basename(p.rstrip("/")) or f"pool{i}": p for i, p in enumerate(inputs)}
    run_mix(cfg, pools, output, beam_args(), [], log=log_line)


mix.help = inspect.cleandoc(mix.help or "") + "\n\n" + BEAM_HELP


def _absolute_data_path(directory: str) -> str:
    """Megatron's ``--data-path`` of DIRECTORY's blend.json with each prefix made absolute
    (blend.json's are relative to its folder); the same string as the stage manifest's
    ``mix.data_path_abs``."""
    import json

    from curate.io import files
    from curate.mixtures.blend import FILENAME, parse_blend

    path = files.join(directory, FILENAME)
    if not files.exists(path):
        raise click.ClickException(f"no {FILENAME} in {directory}: run `curate run` or `curate mix` first")
    try:
        blend = parse_blend(json.loads(files.read_bytes(path)), path)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    base = (directory if files.is_remote(directory) else os.path.abspath(directory)).rstrip("/")
    items = blend.data_path_items()
    pairs = zip(items[0::2], items[1::2])
    return " ".join(f"{w} {p if p.startswith('/') or files.is_remote(p) else f'{base}/{p}'}" for w, p in pairs)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print report.json's summary as JSON (for scripts): nothing else goes to stdout.")
@click.option("--absolute", is_flag=True,
              help="Give Megatron's --data-path with absolute shard prefixes (blend.json's are relative to DIRECTORY).")
def report(directory: str, as_json: bool, absolute: bool) -> None:
    """Print a summary of the mixture in DIRECTORY (a stage output with report.json).

    The last line is Megatron's --data-path, on one line whatever the terminal width.
    """
    import json

    from curate.io import files

    if not files.exists(files.join(directory, "report.json")):
        raise click.ClickException(f"no report.json in {directory}: run `curate run` or `curate mix` first")
    data_path = _absolute_data_path(directory) if absolute else None
    if as_json:
        try:
            summary = json.loads(files.read_bytes(files.join(directory, "report.json")))["summary"]
        except (ValueError, KeyError, TypeError) as e:
            raise click.ClickException(f"{files.join(directory, 'report.json')} has no readable summary: {e}") from None
        if data_path:
            summary["data_path"] = data_path
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    from curate.mixtures.report import print_summary

    print_summary(directory, data_path=data_path)


SHOW_TEXT_CHARS = 800  # characters of each document's text that `curate show` prints


def _show_record(rec: dict, rejects: bool) -> str:
    def val(v):
        return "-" if v is None or v == "" else str(v)

    lang = val(rec.get("lang")) + (f" ({rec['lang_score']:.2f})" if rec.get("lang_score") is not None else "")
    lines = [f"id {rec['id']}",
             f"source {val(rec.get('source'))} · uri {val(rec.get('uri'))} · lang {lang} · domain {val(rec.get('domain'))}"]
    scores = rec.get("scores") or {}
    lines.append("scores " + (", ".join(f"{k} {v:.4g}" for k, v in sorted(scores.items())) or "-"))
    if rejects:
        lines.append(f"reason {val(rec.get('reason'))} · step {val(rec.get('step'))}")
        lines.append(f"detail {val(rec.get('detail'))}")
    text = rec.get("text") or ""
    lines.append("-" * 40)
    lines.append(text[:SHOW_TEXT_CHARS])
    if len(text) > SHOW_TEXT_CHARS:
        lines.append(f"… {len(text) - SHOW_TEXT_CHARS:,} more characters")
    return "\n".join(lines) + "\n"


@cli.command()
@click.argument("path", type=click.Path(file_okay=False))
@click.option("-n", "limit", type=click.IntRange(min=0), default=5, show_default=True,
              help="Show at most this many (0: all).")
@click.option("--rejects", is_flag=True, help="Show the rejected documents (PATH/rejects/) instead of the kept ones.")
@click.option("--reason", default=None, help="Only rejects whose reason starts with this (e.g. filter:lang, dedup:); implies --rejects.")
@click.option("--source", default=None, help="Only documents of this source.")
def show(path: str, limit: int, rejects: bool, reason: str | None, source: str | None) -> None:
    """Print documents of a step output PATH (extract, dedup or filter: PATH/docs/*.parquet), or its
    rejects with --rejects: id, source, uri, lang, domain, scores, reason and detail for rejects,
    and the first 800 characters of the text, in shard order."""
    from curate.io import files
    from curate.io.doc_shards import ShardError, list_shards, read_shard
    from curate.pipelines.runner import load_manifest, stage_steps

    rejects = rejects or reason is not None
    steps = stage_steps(path) if files.is_dir(path) else None
    manifest = load_manifest(path) if files.is_dir(path) and steps is None else None
    if manifest is None or not files.is_dir(files.join(path, "docs")):
        if steps:
            raise click.ClickException(f"{path} is a stage output, not a step output; its steps: {', '.join(steps)}")
        raise click.ClickException(f"{path} is not a step output (no manifest.json and docs/ in it): "
                                   "give a step folder, e.g. one of _steps/*")
    kind = "rejects" if rejects else "docs"
    folder = files.join(path, kind)
    shown, more = 0, False
    try:
        for shard in list_shards(folder):
            for rec in read_shard(shard):
                if source is not None and rec.get("source") != source:
                    continue
                if reason is not None and not (rec.get("reason") or "").startswith(reason):
                    continue
                if limit and shown == limit:
                    more = True
                    break
                click.echo(_show_record(rec, rejects))
                shown += 1
            if more:
                break
    except ShardError as e:
        raise click.ClickException(str(e)) from None
    what = "rejects" if rejects else "documents"
    filters = "".join(f" with {k} {v}" for k, v in (("source", source), ("reason starting", reason)) if v is not None)
    if not shown:
        click.echo(f"no {what} in {folder}{filters}")
    elif more:
        click.echo(f"{shown} {what} shown; more match (-n 0 shows all)")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--seed", default=1234, show_default=True, help="Seed; the same seed writes the same files.")
@click.option("--pages", type=int, default=None, help="Write a scale corpus of this many pages as WARC.gz instead.")
def sample(directory: str, seed: int, pages: int | None) -> None:
    """Write the embedded sample corpus (HTML, WARC, PDFs, problems) to DIRECTORY."""
    from curate.sample.generate import write_sample

    written = write_sample(directory, seed, pages)
    for kind, paths in written.items():
        click.echo(f"{kind}: {len(paths)} file(s) in {os.path.commonpath(paths) if paths else directory}")


def _register_optional() -> None:
    """Commands that live with their area (classifier, synth, problems, decontam, pretrain)."""
    import importlib

    for module, names in (
        ("curate.commands.classifier", ["classifier"]),
        ("curate.commands.synth", ["synth", "problems"]),
        ("curate.commands.decontam", ["decontam"]),
        ("curate.commands.pretrain", ["pretrain"]),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue
            raise
        for n in names:
            if hasattr(mod, n):
                cli.add_command(getattr(mod, n), n)


_register_optional()


def main(argv: list[str] | None = None) -> None:
    """Entry point: splits Beam's arguments off at the first bare `--`; SIGTERM unwinds like
    Ctrl-C, and either stays seen (curate.interrupts) where Beam would drop it."""
    interrupts.install()
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_args: list[str] = []
    command = next((a for a in argv if not a.startswith("-")), None)  # after options such as -v
    # Quiet by default: Beam's INFO lines, option dumps and import-time warnings (apitools) only
    # with -v. Set before Beam is imported, which is when it logs the first of them.
    before = argv[:argv.index(command)] if command in argv else argv
    verbose = bool({"-v", "--verbose"} & set(before))
    quiet = bool({"-q", "--quiet"} & set(before))
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if "--" in argv and command != "pretrain":
        i = argv.index("--")
        argv, beam_args = argv[:i], argv[i + 1:]
    from curate import progress

    tty = sys.stderr.isatty()
    # Beam's worker processes log to the stderr they inherit: filtered unless -v (curate.quiet)
    filt = None if verbose or command == "pretrain" else StderrFilter().start()
    progress.configure("off" if quiet else "tty" if tty else "log", filt.original if filt and tty else None)
    try:
        cli.main(args=argv, prog_name="curate", obj={"beam_args": beam_args})
    finally:
        if filt is not None:
            filt.stop()


if __name__ == "__main__":
    main()
