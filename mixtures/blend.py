"""blend.json: the record the mix step writes next to its shards and the pretraining loader reads.

One typed record, :class:`Blend`, is the only definition of the file::

    format          "megatron-indexed-dataset/MMIDIDX-v1"
    tokenizer       {path (file name), sha256, vocab_size, eod_id, dtype (of the shards)}
    context_length  training context the shards are meant for (`curate pretrain`'s default --seq-length)
    rotary_base     RoPE base for that context, or null (`curate pretrain`'s default --rotary-base)
    seed            the sampling seed
    total_tokens    tokens in all shards (= sum of datasets[].tokens)
    datasets        [{source, prefix, docs, tokens, bytes, weight}], prefixes relative to the folder
    data_path       Megatron's ``--data-path``: "W1 PREFIX1 W2 PREFIX2 ..." from datasets
    valid_datasets  the validation split (documents held out before sampling, once each), same
                    records, weights = token shares among them; written only when non-empty

``Blend.build`` makes the record from the written shards (weights are token shares), ``write``
puts it in place atomically as ``json.dumps(indent=2, sort_keys=True)`` (the same bytes for the
same shards on any runner), and :func:`read_blend` validates a file, naming it in every error.

A blend file without ``format`` was not written by the mix step (hand-written, or made by
another tool): of it only ``data_path`` and, when present, ``tokenizer``, ``context_length`` and ``rotary_base`` are read — the keys a
training run needs, with the types the mix step writes them — as a :class:`DataPathBlend`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curate.mixtures.indexed import DTYPE_CODES

FORMAT = "megatron-indexed-dataset/MMIDIDX-v1"
FILENAME = "blend.json"
WEIGHT_DIGITS = 10  # dataset weights are token shares rounded to this many digits

_DTYPE_NAMES = sorted(np.dtype(t).name for t in DTYPE_CODES)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BlendTokenizer(_Record):
    """The tokenizer the shards were made with."""

    path: str = Field(description="File name of the tokenizer.json (no folder: outputs are location-independent).")
    sha256: str = Field(description="sha256 of the tokenizer file.")
    vocab_size: int = Field(gt=0, description="Ids in the vocabulary, added tokens included.")
    eod_id: int = Field(ge=0, description="End-of-document id that ends every document in the shards.")
    dtype: str = Field(description="numpy name of the shards' token dtype (Megatron's choice for vocab_size).")

    @model_validator(mode="after")
    def _known_dtype(self):
        if self.dtype not in _DTYPE_NAMES:
            raise ValueError(f"tokenizer.dtype {self.dtype!r} is not a Megatron dtype ({', '.join(_DTYPE_NAMES)})")
        return self


class BlendDataset(_Record):
    """One shard (a ``.bin``/``.idx`` pair)."""

    source: str
    prefix: str = Field(description="Shard prefix relative to the blend.json folder, '/'-separated.")
    docs: int = Field(ge=0)
    tokens: int = Field(ge=0)
    bytes: int = Field(ge=0)
    weight: float = Field(ge=0, description="Share of all tokens, rounded to 10 digits.")

    @model_validator(mode="after")
    def _relative(self):
        if not self.prefix or self.prefix.startswith("/") or os.path.isabs(self.prefix):
            raise ValueError(f"dataset prefix {self.prefix!r} must be relative to the blend.json folder")
        return self


def render_data_path(datasets: list[BlendDataset]) -> str:
    """Megatron's ``W1 PREFIX1 W2 PREFIX2 ...`` for ``datasets``."""
    return " ".join(f"{d.weight} {d.prefix}" for d in datasets)


def _weighted(datasets: list[dict]) -> list[BlendDataset]:
    total = sum(int(d["tokens"]) for d in datasets)
    return [BlendDataset(**{**d, "weight": round(d["tokens"] / total, WEIGHT_DIGITS) if total else 0.0})
            for d in datasets]


class Blend(_Record):
    """blend.json as the mix step writes it."""

    format: Literal["megatron-indexed-dataset/MMIDIDX-v1"] = FORMAT
    tokenizer: BlendTokenizer
    context_length: int = Field(gt=0)
    rotary_base: Optional[float] = Field(None, gt=0, description="RoPE base the stage trains with; None: the trainer's default.")
    seed: int
    total_tokens: int = Field(ge=0)
    datasets: list[BlendDataset]
    data_path: str
    valid_datasets: list[BlendDataset] = Field(default_factory=list, description="The held-out validation split's shards.")

    @model_validator(mode="after")
    def _consistent(self):
        total = sum(d.tokens for d in self.datasets)
        if self.total_tokens != total:
            raise ValueError(f"total_tokens {self.total_tokens} is not the sum of datasets[].tokens ({total})")
        if self.data_path != render_data_path(self.datasets):
            raise ValueError("data_path does not list datasets[] (weight, prefix) in order")
        return self

    @classmethod
    def build(cls, tokenizer: BlendTokenizer | dict, context_length: int, seed: int,
              datasets: list[dict], rotary_base: float | None = None,
              valid_datasets: list[dict] | None = None) -> "Blend":
        """The record for shards ``datasets`` ({source, prefix, docs, tokens, bytes}) and the held-out
        ``valid_datasets``; weights are token shares (of the training and the validation shards)."""
        ds, valid = _weighted(datasets), _weighted(valid_datasets or [])
        tok = tokenizer if isinstance(tokenizer, BlendTokenizer) else BlendTokenizer(**tokenizer)
        return cls(tokenizer=tok, context_length=context_length, rotary_base=rotary_base, seed=seed,
                   total_tokens=sum(d.tokens for d in ds), datasets=ds, data_path=render_data_path(ds),
                   valid_datasets=valid)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values; ``rotary_base`` None and an empty ``valid_datasets`` are left out
        (the bytes of blends written before them)."""
        skip = {k for k, empty in (("rotary_base", self.rotary_base is None), ("valid_datasets", not self.valid_datasets))
                if empty}
        return self.model_dump(mode="json", exclude=skip or None)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True).encode()

    def write(self, folder: str) -> str:
        """Write ``folder``/blend.json atomically (local or remote); returns its path."""
        from curate.io import files

        path = files.join(folder, FILENAME)
        files.write_atomic(path, self.to_bytes())
        return path

    def data_path_items(self) -> list[str]:
        return self.data_path.split()


class DataPathTokenizer(BaseModel):
    """The ``tokenizer`` of a blend file not written by the mix step: the same keys, each optional."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    path: Optional[str] = None
    sha256: Optional[str] = None
    vocab_size: Optional[int] = Field(None, gt=0)
    eod_id: Optional[int] = Field(None, ge=0)
    dtype: Optional[str] = None


class DataPathBlend(BaseModel):
    """A blend file without ``format``: its ``data_path`` (string, or list of words), ``tokenizer``,
    ``context_length`` and ``rotary_base``."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    data_path: Union[str, list[str]]
    tokenizer: Optional[DataPathTokenizer] = None
    context_length: Optional[int] = Field(None, gt=0)
    rotary_base: Optional[float] = Field(None, gt=0)

    def data_path_items(self) -> list[str]:
        return self.data_path.split() if isinstance(self.data_path, str) else list(self.data_path)


def _errors(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_blend(raw: Any, name: str = FILENAME) -> Blend | DataPathBlend:
    """Validate a loaded blend file; ``name`` is used in errors."""
    if not isinstance(raw, dict):
        raise ValueError(f"invalid blend file {name}: expected a JSON object, got {type(raw).__name__}")
    try:
        if "format" in raw:
            return Blend.model_validate(raw)
        if "data_path" not in raw:
            raise ValueError(f"invalid blend file {name}: no 'data_path' (Megatron's 'W1 PREFIX1 W2 PREFIX2 ...')")
        return DataPathBlend.model_validate(raw)
    except ValidationError as e:
        raise ValueError(f"invalid blend file {name}: {_errors(e)}") from None


def read_blend(path: str) -> Blend | DataPathBlend:
    """Read and validate the blend file at ``path`` (local); errors name the file."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read blend file {path}: {e}") from None
    return parse_blend(raw, path)
