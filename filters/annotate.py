"""LLM annotation of documents with a 0–5 educational/reasoning value, to train the LM classifier.

The prompt follows the additive 5-point scheme FineWeb-Edu used, adapted to what a reasoning
model needs (worked math, explained code, step-by-step arguments). Any LLM works through a
plain callable ``generate(prompts: list[str]) -> list[str]`` (one completion per prompt), so
the synthesis backends (curate.synth: local transformers or an OpenAI-compatible server) or
anything else can be plugged in.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Iterator

Generate = Callable[[list[str]], list[str]]

PROMPT = """Below is an extract from a web page. Evaluate whether it has high educational value for teaching \
mathematics, programming or careful reasoning, using this additive 5-point system. Points add up:

- Add 1 point if the extract gives some basic information relevant to a technical or educational topic, even if \
it includes ads, navigation or other noise.
- Add another point if it addresses elements of the topic but does not align closely with educational standards, \
mixing useful content with off-topic or superficial material.
- Add a third point if it is appropriate for learning and introduces key concepts (definitions, formulas, code) \
coherently, even if incomplete.
- Award a fourth point if it is highly relevant and beneficial for learning: clear explanations, worked examples or \
code with explanation, little irrelevant content.
- Award a fifth point if it is outstanding: step-by-step reasoning or derivations, correct and well explained, \
with no noise.

The extract:
<<<
{text}
>>>

Briefly justify your total score in at most 80 words, then end with the line "Score: <points>" (0 to 5)."""

_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*([0-5](?:\.\d+)?)\s*(?:/\s*5)?", re.I)


def make_prompt(text: str, max_chars: int = 6000) -> str:
    return PROMPT.format(text=text[:max_chars])


def parse_score(completion: str) -> float | None:
    """The last ``Score: N`` (0–5) in a completion, or None when it has none."""
    found = _SCORE.findall(completion or "")
    if not found:
        return None
    v = float(found[-1])
    return v if 0 <= v <= 5 else None


def annotate(records: Iterable[dict[str, Any]], generate: Generate, batch_size: int = 16,
             max_chars: int = 6000) -> Iterator[dict[str, Any]]:
    """Yield ``{id, text, score, completion}`` per record; ``score`` is None when the reply had no score."""
    batch: list[dict[str, Any]] = []

    def flush():
        outs = generate([make_prompt(r["text"], max_chars) for r in batch])
        if len(outs) != len(batch):
            raise ValueError(f"generate returned {len(outs)} completions for {len(batch)} prompts")
        for r, o in zip(batch, outs):
            yield {"id": r.get("id"), "text": r["text"], "score": parse_score(o), "completion": o}

    for rec in records:
        if not (rec.get("text") or "").strip():
            continue
        batch.append(rec)
        if len(batch) >= batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def synth_generator(backend, **sampling: Any) -> Generate:
    """Adapt a curate.synth backend (``backend.generate(prompts, n=1, **sampling) -> [[Completion]]``) to
    ``Generate``: the judge's answer (its reasoning, if any, is not part of the verdict)."""

    def generate(prompts: list[str]) -> list[str]:
        return [outs[0].text if outs else "" for outs in backend.generate(prompts, n=1, **sampling)]

    return generate
