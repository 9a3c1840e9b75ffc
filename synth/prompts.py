"""Prompt templates: plain text files with ``{{field}}`` placeholders.

The bundled templates live in ``synth/prompts/*.txt``; ``SynthConfig.prompts`` maps a template
name to a user's own file to replace it. ``{{…}}`` is used rather than ``str.format`` braces
so LaTeX and code in a template need no escaping. Every placeholder must be filled.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

NAMES = ("solve_math", "solve_code", "rewrite_math", "rewrite_code")
_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    origin: str  # bundled:<name> or the file path

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    @property
    def fields(self) -> set[str]:
        return set(_FIELD.findall(self.text))

    def render(self, **values: str) -> str:
        missing = self.fields - set(values)
        if missing:
            raise KeyError(f"prompt {self.name} ({self.origin}) needs {sorted(missing)}")
        return _FIELD.sub(lambda m: str(values[m.group(1)]), self.text)


def bundled(name: str) -> Template:
    if name not in NAMES:
        raise KeyError(f"unknown prompt template {name!r}; expected one of {', '.join(NAMES)}")
    text = resources.files("curate.synth").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")
    return Template(name, text, f"bundled:{name}")


def load_templates(overrides: dict[str, str] | None = None) -> dict[str, Template]:
    """All templates, with user files replacing bundled ones; errors name the file."""
    from curate.errors import ConfigError
    from curate.io import files

    out = {n: bundled(n) for n in NAMES}
    for name, path in (overrides or {}).items():
        if name not in NAMES:
            raise ConfigError(f"synth.prompts: unknown template {name!r}; expected one of {', '.join(NAMES)}")
        try:
            text = files.read_bytes(path).decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"synth.prompts.{name}: cannot read {path}: {e}") from None
        out[name] = Template(name, text, path)
    return out
