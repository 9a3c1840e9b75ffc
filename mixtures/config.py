"""Configuration of the mix step (the `mix:` section of a stage YAML)."""

from typing import Literal

from pydantic import Field, field_validator, model_validator

from curate.configbase import Count, Section

TokenizerEngine = Literal["auto", "tokenizers"]
"""What computes the mix's token ids: ``auto`` tiktoken where it gives HF's ids, ``tokenizers`` always HF."""


def _check_shares(v: dict[str, float]) -> dict[str, float]:
    for k, s in v.items():
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"share of {k!r} must be within [0, 1], got {s}")
    total = sum(v.values())
    if total > 1.0 + 1e-9:
        raise ValueError(f"shares sum to {total:.4f} > 1")
    return v


class MixConfig(Section):
    total_tokens: Count = Field(1_000_000, gt=0, description="Token budget of the whole mixture (end-of-document tokens included); `1e9` is accepted.")
    domain_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Target share of tokens per domain (math, code, general, …); sums to ≤ 1. "
        "Documents without a domain count as `general`; domains not listed share the remainder.",
    )
    source_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Target share of tokens per source; keys are source names or shell patterns (`synth-*`). "
        "Sums to ≤ 1; sources not matched share the remainder.",
    )
    pool_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Target share of tokens per pool (`web`, `synthetic`, or the step directories given to "
        "`curate mix`); sums to ≤ 1; pools not listed share the remainder.",
    )
    max_epochs: float = Field(4.0, gt=0, description="Per-source upsampling cap: a document is used at most this many times (fractions allowed).")
    source_max_epochs: dict[str, float] = Field(
        default_factory=dict, description="Per-source overrides of max_epochs; keys are source names or shell patterns."
    )
    on_shortfall: Literal["redistribute", "shrink"] = Field(
        "redistribute",
        description="When a target cannot be met within the epoch caps: `redistribute` gives the missing tokens "
        "to the other groups in proportion to their targets (the total budget holds); `shrink` lowers the "
        "total budget so that every other share stays on target.",
    )
    min_quality: float | None = Field(None, description="Drop pool documents whose quality score is below this; None keeps all.")
    quality_scores: list[str] = Field(
        default_factory=lambda: ["lm_quality", "fasttext_quality"],
        description="Score names that give a document's quality, first present wins; a document with none of "
        "them is not filtered by min_quality.",
    )
    context_length: int = Field(8192, gt=0, description="Training context length the shards are meant for (written to blend.json).")
    rotary_base: float | None = Field(
        None, gt=0, description="RoPE base the stage trains with (written to blend.json, `curate pretrain`'s default "
        "--rotary-base); None leaves it to the trainer (10,000).")
    valid_fraction: float = Field(
        0.0, ge=0.0, lt=1.0,
        description="Share of documents held out as the validation split, chosen per document by a hash of the "
        "seed and its id before any sampling or upsampling, written once each to valid/ shards (blend.json "
        "valid_datasets) and counted as dropped `held_out:validation`; 0 holds out none.")
    tokenizer: str | None = Field(
        None,
        description="Path of a HF tokenizers `tokenizer.json`; None uses the project's bundled byte-level BPE "
        "tokenizer (mixtures/assets/tokenizer.json, 16,384 ids).",
    )
    tokenizer_engine: TokenizerEngine = Field(
        "auto",
        description="What computes the token ids (always HF tokenizers' ids for `tokenizer`): `auto` uses "
        "tiktoken where the tokenizer is a byte-level BPE whose ids tiktoken reproduces (checked when it loads; "
        "curate.mixtures.fast_bpe), ~2x faster, and HF tokenizers otherwise; `tokenizers` always uses HF "
        "tokenizers. Not part of the mix step's key: the shards are the same bytes either way.",
    )
    eod_token: str | None = Field(
        None,
        description="End-of-document token appended to every document; None picks the first of <|endoftext|>, "
        "</s>, <|end_of_text|>, <eos>, [SEP] that the tokenizer has.",
    )
    seed: int | None = Field(None, description="Sampling seed; None uses the stage's `seed`.")
    shard_max_bytes: Count = Field(1 << 30, gt=0, description="Maximum size of one .bin shard before a new one starts.")
    batch_docs: int = Field(512, gt=0, description="Documents per tokenizer batch (encode_batch) in the tokenize step.")
    report_samples: int = Field(3, ge=0, description="Example documents shown per source and domain in report.html.")

    _v_domain = field_validator("domain_shares")(classmethod(lambda cls, v: _check_shares(v)))
    _v_source = field_validator("source_shares")(classmethod(lambda cls, v: _check_shares(v)))
    _v_pool = field_validator("pool_shares")(classmethod(lambda cls, v: _check_shares(v)))

    @model_validator(mode="after")
    def _check_epochs(self):
        for k, e in self.source_max_epochs.items():
            if e <= 0:
                raise ValueError(f"source_max_epochs[{k!r}] must be > 0, got {e}")
        return self
