"""Base class for every configuration model: unknown keys are errors, defaults are documented."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _whole_number(v: Any) -> Any:
    """``1e6``, ``"1e6"`` or ``2.5e5`` as an int when it is a whole number (YAML reads ``1e6`` as a
    string: its 1.1 grammar wants ``1.0e6``); anything else is left for pydantic to judge."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            v = float(v.replace("_", ""))
        except ValueError:
            return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


Count = Annotated[int, BeforeValidator(_whole_number)]
"""An integer amount (tokens, bytes) that may be written as ``1e6`` or ``1_000_000``."""


class Section(BaseModel):
    """A config section. Unknown keys are rejected so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
