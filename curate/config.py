"""Stage configuration: one YAML file per stage, validated by pydantic.

Every field is documented where it is defined (here and in each package's ``config.py``);
``configs/stage{1,2,3}.yaml`` are the documented defaults. A validation error names the
file, the field path and what was expected.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from curate.budget import FailureBudget
from curate.configbase import Section
from curate.dedup.config import DedupConfig
from curate.errors import ConfigError
from curate.extractors.config import ExtractConfig
from curate.filters.config import FilterConfig
from curate.mixtures.config import MixConfig
from curate.synth.config import DecontamConfig, SynthConfig

STAGES = ("stage1", "stage2", "stage3")
InputFormat = Literal["auto", "warc", "html", "jsonl", "parquet", "pdf"]


class SourceConfig(Section):
    name: str = Field(description="Source name written to every Document's `source` (e.g. cc-2024-10).")
    paths: list[str] = Field(description="Files, directories or globs; any Beam filesystem (gs://, s3://, local).")
    format: InputFormat = Field("auto", description="Reader to use; auto picks by file extension.")


class ReadConfig(Section):
    max_record_bytes: int = Field(
        50_000_000, gt=0, description="Raw records larger than this are rejected as read:too_large."
    )
    max_decompressed_bytes: int = Field(
        4_000_000_000, gt=0, description="A compressed file that expands beyond this is cut off with read:gzip_bomb."
    )


class StageConfig(Section):
    stage: Literal["stage1", "stage2", "stage3"] = Field(description="Which MiMo stage this file describes.")
    seed: int = Field(1234, description="Seed for every random choice (sampling, permutations, synthetic sample).")
    sources: list[SourceConfig] = Field(
        default_factory=list, description="Inputs. Empty (and no --input): the embedded sample corpus."
    )
    num_shards: int = Field(8, ge=1, description="Minimum Parquet shards per step output (documents hashed by id).")
    shard_input_bytes: int = Field(
        128 * 1024 * 1024,
        gt=0,
        description="A step writes at least one output shard per this many bytes of input, so a shard "
        "(which is sorted in memory when written) stays small however large the corpus.",
    )
    cache_dir: str | None = Field(
        None,
        description="Where step outputs are kept for reuse across runs and stages; None: `_steps` next to the output dir.",
    )
    reuse_check: Literal["checksums", "sizes"] = Field(
        "checksums",
        description="How a cached step output is verified before reuse: `checksums` re-hashes every file the "
        "manifest lists (one read of the output), `sizes` only compares the listing and sizes (for huge "
        "remote outputs). A damaged output is rebuilt.",
    )
    failure_budget: FailureBudget = Field(
        default_factory=FailureBudget,
        description="When a step stops because its work keeps raising: `error:*` rejects of a step part "
        "over `max_error_share` (default 0.01, 1%) of its input and at least `min_errors` (default 10) "
        "end the run with exit 1, naming the top error and an example input (curate.budget). "
        "Ordinary rejects (read:, extract:, dedup:, filter:) never count.",
    )
    read: ReadConfig = Field(default_factory=ReadConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    synth: SynthConfig = Field(default_factory=SynthConfig)
    decontam: DecontamConfig = Field(default_factory=DecontamConfig)
    mix: MixConfig = Field(default_factory=MixConfig)

    @model_validator(mode="after")
    def _domains_exist(self):
        """A domain share names a label the domain classifier can produce: without a fastText
        domain model that is one of filters.domain.DOMAINS (a typo would be a silent unmet target)."""
        from curate.filters.domain import DOMAINS

        if self.filter.domain.model is None:
            unknown = sorted(set(self.mix.domain_shares) - set(DOMAINS))
            if unknown:
                raise ValueError(f"mix.domain_shares names {', '.join(map(repr, unknown))}, which no domain classifier "
                                 f"here can produce: the labels are {', '.join(DOMAINS)} (a fastText domain model, "
                                 "filter.domain.model, may add others)")
        return self


def _overlay(model: type[Section], base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: config sections (sub-models) merge key by key, every other
    value (numbers, lists, share maps) is replaced whole."""
    out = dict(base)
    for k, v in over.items():
        field = model.model_fields.get(k)
        sub = field.annotation if field is not None else None
        if isinstance(v, dict) and isinstance(base.get(k), dict) and isinstance(sub, type) and issubclass(sub, Section):
            out[k] = _overlay(sub, base[k], v)
        else:
            out[k] = v
    return out


def _format_errors(path: str, err: ValidationError) -> str:
    lines = [f"invalid config {path}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        got = e.get("input")
        got_s = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
        lines.append(f"  {loc}: {e['msg']}{got_s}")
    return "\n".join(lines)


def parse_config(data: object, path: str = "<config>") -> StageConfig:
    """Validate a parsed YAML mapping; raises ConfigError naming ``path`` and each bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return StageConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(path, err)) from None


def _bundled(stage: str) -> dict:
    ref = resources.files("curate.configs").joinpath(f"{stage}.yaml")
    return yaml.safe_load(ref.read_text(encoding="utf-8"))


def load_config(path: str | Path) -> StageConfig:
    """Read and validate a stage YAML file, laid over the bundled defaults of its stage: a key
    the file leaves out has the same value as with no config file at all (configs/<stage>.yaml)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config {p}: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML in {p}: {e}") from None
    if isinstance(data, dict) and data.get("stage") in STAGES:
        data = _overlay(StageConfig, _bundled(data["stage"]), data)
    return parse_config(data, str(p))


def default_config(stage: str) -> StageConfig:
    """The bundled, documented default for ``stage`` (configs/<stage>.yaml)."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    return parse_config(_bundled(stage), f"curate/configs/{stage}.yaml")
