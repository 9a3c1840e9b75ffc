"""A mixture stage's training context: sequence length and RoPE base from its blend.json.

The mix step records the context each stage is meant for (``context_length``, and
``rotary_base`` when the stage sets one: MiMo's stage 3 trains at 32,768 tokens with a larger
base). ``resolve_context`` makes those the defaults of ``--seq-length`` / ``--rotary-base`` and
refuses a flag that contradicts the blend unless ``--override-stage-context`` is given, so a
32k stage is never trained at 4k without a word.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.mixtures.blend import read_blend
from curate.pretrain.data import blend_file

DEFAULT_SEQ_LENGTH = 4096  # without a blend.json that records context_length (Megatron's usual)
DEFAULT_ROTARY_BASE = 10000.0  # without a blend.json that records rotary_base


@dataclass(frozen=True)
class StageContext:
    seq_length: int
    rotary_base: float
    notes: tuple[str, ...] = ()  # where each value came from / what was overridden, for the log


def blend_context(data_path: list[str] | str) -> tuple[int | None, float | None]:
    """(context_length, rotary_base) recorded in the blend.json ``data_path`` names, None where absent."""
    path = blend_file(data_path)
    if path is None:
        return None, None
    try:
        blend = read_blend(path)
    except ValueError:
        return None, None  # parse_data_path reports the file
    return getattr(blend, "context_length", None), getattr(blend, "rotary_base", None)


def resolve_context(seq_length: int | None, rotary_base: float | None, data_path, override: bool) -> StageContext:
    """The run's seq length and RoPE base: flags, else the blend's, else the defaults.

    Raises ValueError when a flag differs from the blend's value and ``override`` is False.
    """
    b_seq, b_base = blend_context(data_path)
    notes = []
    out = {}
    for name, flag, value, blend_value, default in (
        ("--seq-length", "context_length", seq_length, b_seq, DEFAULT_SEQ_LENGTH),
        ("--rotary-base", "rotary_base", rotary_base, b_base, DEFAULT_ROTARY_BASE),
    ):
        if value is None:
            out[name] = blend_value if blend_value is not None else default
            notes.append(f"{name} {out[name]:g} from " + ("the blend's " + flag if blend_value is not None else "the default"))
        elif blend_value is not None and float(value) != float(blend_value):
            if not override:
                raise ValueError(
                    f"{name} {value:g} differs from the blend's {flag} {blend_value:g} "
                    f"({blend_file(data_path)}); drop the flag, or pass --override-stage-context to train this stage so")
            out[name] = value
            notes.append(f"{name} {value:g} overrides the blend's {flag} {blend_value:g} (--override-stage-context)")
        else:
            out[name] = value
    return StageContext(int(out["--seq-length"]), float(out["--rotary-base"]), tuple(notes))
