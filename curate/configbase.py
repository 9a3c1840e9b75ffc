"""Base class for every configuration model: unknown keys are errors, defaults are documented."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Unknown keys are rejected so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
