"""`curate synth` and `curate problems`: verified synthetic reasoning data and curated problem sets."""

from __future__ import annotations

import click

from curate.cli import BEAM_HELP, beam_args, log_line

PROBLEMS_SCHEMA = (
    'Problems are JSONL, one object a line: {"id", "kind": "math", "question", "answer"} or '
    '{"id", "kind": "code", "question", "entry_point", "tests": ["assert f(1) == 2", ...]}; '
    'a test may also be {"stdin": "1 2\\n", "stdout": "3\\n"}.'
)


def _options(f):
    opts = [
        click.option("--output", required=True, help="Output directory (docs/, rejects/, manifest.json)."),
        click.option("--config", type=click.Path(dir_okay=False), help="Stage YAML whose synth: section is used (default: stage3's)."),
        click.option("--backend", type=click.Choice(["local", "http"]), help="LLM backend (synth.backend.kind)."),
        click.option("--model", help="local: model directory; http: model name (synth.backend.model)."),
        click.option("--url", help="http: base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1."),
        click.option("--api", type=click.Choice(["completions", "chat"]), help="http: endpoint to call."),
        click.option("-k", "--samples", "k", type=int, help="Solutions sampled per problem (synth.k)."),
        click.option("--max-new-tokens", type=int, help="Most tokens generated per sample."),
        click.option("--temperature", type=float, help="Sampling temperature."),
        click.option("--batch-size", type=int, help="Problems per backend call."),
        click.option("--cache-dir", help="Response cache (default: synth-cache in the step cache next to --output)."),
        click.option("--benchmark", "benchmarks", multiple=True, metavar="NAME=PATH",
                     help="Decontaminate against this benchmark file (repeatable), e.g. aime=aime.jsonl."),
        click.option("--prompt", "prompts", multiple=True, metavar="NAME=FILE",
                     help="Replace a prompt template (solve_math, solve_code, rewrite_math, rewrite_code)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _config(config, backend, model, url, api, k, max_new_tokens, temperature, batch_size, cache_dir, benchmarks, prompts):
    from curate.config import default_config, load_config, parse_config

    cfg = load_config(config) if config else default_config("stage3")
    data = cfg.model_dump(mode="json")
    s, b = data["synth"], data["synth"]["backend"]
    for key, val in (("kind", backend), ("model", model), ("url", url), ("api", api), ("max_new_tokens", max_new_tokens),
                     ("temperature", temperature), ("batch_size", batch_size), ("cache_dir", cache_dir)):
        if val is not None:
            b[key] = val
    if k is not None:
        s["k"] = k
    for spec, target in ((benchmarks, data["decontam"]["benchmarks"]), (prompts, s["prompts"])):
        for item in spec:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise click.BadParameter(f"expected NAME=PATH, got {item!r}")
            if target is s["prompts"]:
                target[name] = path
            else:
                target.setdefault(name, []).append(path)
    return parse_config(data, config or "curate/configs/stage3.yaml (with command-line options)")


def _problem_paths(cfg, problems: tuple[str, ...], output: str) -> list[str]:
    """PROBLEMS arguments, else the config's synth.problems, else the embedded sample's problems."""
    if problems:
        return list(problems)
    if cfg.synth.problems:
        return list(cfg.synth.problems)
    import json

    from curate.io import files
    from curate.pipelines.stages import default_cache_dir
    from curate.sample.generate import problems as sample_problems

    d = files.join(default_cache_dir(output), f"sample-problems-{cfg.seed}")
    path = files.join(d, "problems.jsonl")
    if not files.exists(path):
        files.makedirs(d)
        data = "".join(json.dumps(p, sort_keys=True) + "\n" for p in sample_problems(cfg.seed))
        files.write_atomic(path, data.encode())
        log_line(f"[sample] wrote the embedded sample's problems to {path}")
    return [path]


def _run(kind: str, problems, output, config, pools, **opts) -> None:
    from curate.errors import ConfigError, InputError
    from curate.pipelines.stages import default_cache_dir
    from curate.pipelines.steps import problems_step, synth_step

    try:
        cfg = _config(config, **opts)
        cache = cfg.cache_dir or default_cache_dir(output)
        paths = _problem_paths(cfg, problems, output) if (problems or not pools) else []
        if kind == "synth":
            final, m = synth_step(cfg, paths, output, cache, beam_args(), log=log_line, pools=list(pools))
        else:
            final, m = problems_step(cfg, paths, output, cache, beam_args(), log=log_line)
    except (ConfigError, InputError) as e:
        raise click.ClickException(str(e)) from None
    for name, c in m["counts"].items():
        reasons = ", ".join(f"{r} {n}" for r, n in c["rejects"].items()) or "none"
        click.echo(f"{name}: in {c['in']} → out {c['out']}; rejected {c['rejected']} ({reasons})")
    click.echo(f"wrote {final}")


@click.command("synth", epilog=BEAM_HELP)
@click.argument("problems", nargs=-1)
@_options
@click.option("--pool", "pools", multiple=True, help="A Document pool (step output dir) whose math/code documents are rewritten into question-and-answer form (repeatable).")
def synth(problems, output, config, pools, **opts):
    """Generate and verify synthetic reasoning data from seed PROBLEMS (JSONL files).

    Each problem gets k step-by-step solutions from the backend; math solutions are kept when
    their boxed final answer equals the reference symbolically, code solutions when they pass
    the problem's tests in the sandbox. Kept ones become Documents (format=synthetic,
    provenance in meta); the rest are rejects with reasons (synth:wrong_answer,
    synth:tests_failed, synth:unverified, synth:contaminated:<benchmark>, synth:backend_error).
    Without PROBLEMS or --pool: the config's synth.problems, else the embedded sample's.

    \b
    curate synth problems.jsonl --output out/synth --backend local --model ./my-model
    curate synth problems.jsonl --output out/synth --backend http --url http://127.0.0.1:8000/v1 --model qwen
    """
    _run("synth", problems, output, config, pools, **opts)


synth.help = (synth.help or "") + "\n\n" + PROBLEMS_SCHEMA


@click.command("problems", epilog=BEAM_HELP)
@click.argument("problems", nargs=-1)
@_options
def problems(problems, output, config, **opts):
    """Curate a verifiable problem set with difficulties from seed PROBLEMS (JSONL files).

    Near-duplicate problems (MinHash over the statement) are removed first (synth:near_duplicate).
    Each problem is attempted k times; its pass rate gives its difficulty (1 - pass rate, and a
    label: easy/medium/hard/unsolved), and each test its own pass rate. Problems without an
    answer or tests are dropped (synth:unverifiable), unsolved ones when
    synth.difficulty.drop_unsolved is set; ones above synth.difficulty.easy_pool_pass_rate are
    kept in the easy pool (easy_pool, resample_prob). Writes docs/ (problem Documents), rejects/,
    manifest.json, and problems.parquet + problems.jsonl for an RL trainer (verl/OpenRLHF
    columns: prompt, reward_model, test_pass_rates, easy_pool, …; see the README).
    """
    _run("problems", problems, output, config, (), **opts)


problems.help = (problems.help or "") + "\n\n" + PROBLEMS_SCHEMA

__all__ = ["synth", "problems"]
