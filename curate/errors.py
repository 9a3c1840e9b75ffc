"""Errors shared by every step.

`Reject` is how library code says "this input is not kept, and here is why": the pipeline
turns it into a rejects/ record with ``reason`` (``extract:html:empty``, ``filter:gopher:word_count``,
``error:…``) so the count law ``in = out + Σ rejects`` holds and nothing is lost silently.
"""

from __future__ import annotations


class Reject(Exception):
    """A document (or raw record) that a step drops, with a machine-readable reason."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ConfigError(ValueError):
    """A configuration that does not validate; the message names the file and the field."""


class InputError(ValueError):
    """An input path that cannot be used at all (missing, unreadable); names the path."""


class LockedError(InputError):
    """An output or step cache that another curate run holds (see curate.io.lock)."""
