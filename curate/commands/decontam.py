"""`curate decontam`: drop documents of any pool that overlap a benchmark."""

from __future__ import annotations

import click

from curate.cli import BEAM_HELP


@click.command("decontam", epilog=BEAM_HELP)
@click.argument("pools", nargs=-1, required=True)
@click.option("--output", required=True, help="Output directory (docs/, rejects/, manifest.json).")
@click.option("--config", type=click.Path(dir_okay=False), help="Stage YAML whose decontam: section is used (default: stage3's).")
@click.option("--benchmark", "benchmarks", multiple=True, metavar="NAME=PATH",
              help="Also check against this benchmark file (repeatable), e.g. aime=aime.jsonl.")
def decontam(pools, output, config, benchmarks):
    """Remove documents of POOLS (step output directories: web, PDF, synthetic, problems) that
    share an n-gram with a benchmark (decontam.benchmarks files and decontam.packaged sets such
    as HumanEval). Rejects are decontam:<benchmark> with the item and the matching words; the
    manifest's stats.decontam counts hits per benchmark.

    \b
    curate decontam out/_steps/filter-… --output out/decontam --benchmark aime=aime.jsonl
    """
    from curate.cli import beam_args, log_line
    from curate.config import default_config, load_config, parse_config
    from curate.errors import ConfigError, InputError
    from curate.pipelines.steps import decontam_step
    from curate.pipelines.stages import default_cache_dir

    try:
        cfg = load_config(config) if config else default_config("stage3")
        if benchmarks:
            data = cfg.model_dump(mode="json")
            for item in benchmarks:
                name, sep, path = item.partition("=")
                if not sep or not name or not path:
                    raise click.BadParameter(f"expected NAME=PATH, got {item!r}")
                data["decontam"]["benchmarks"].setdefault(name, []).append(path)
            cfg = parse_config(data, config or "stage3 (with command-line options)")
        final, m = decontam_step(cfg, list(pools), None, output, cfg.cache_dir or default_cache_dir(output),
                                 beam_args(), log=log_line)
    except (ConfigError, InputError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    c = m["counts"]["decontam"]
    reasons = ", ".join(f"{r} {n}" for r, n in c["rejects"].items()) or "none"
    click.echo(f"decontam: in {c['in']} → out {c['out']}; rejected {c['rejected']} ({reasons})")
    click.echo(f"wrote {final}")


__all__ = ["decontam"]
