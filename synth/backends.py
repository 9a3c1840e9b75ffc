"""LLM backends behind one interface: the base class every backend (``http_backend``,
``local_backend``) subclasses. ``curate.synth.backend_factory.make_backend`` builds one from
its config:

    backend = make_backend(cfg.backend, cache_dir)
    outs = backend.generate(["prompt 1", "prompt 2"], n=4, temperature=0.7)   # [[4 Completions], [4 Completions]]

A sample is a ``Completion``: the answer (``message.content``), the chain of thought when the
server or model gives it apart (``reasoning_content``/``reasoning`` of vLLM/SGLang reasoning
parsers), and ``finish_reason`` (``"length"``: the sample hit the token limit and is cut off).

``generate`` raises ``BackendError`` when any prompt fails after retries; ``generate_each``
returns, per prompt, either its n completions or the ``BackendError`` (so one bad request
does not sink a batch). Both go through the disk cache: a request seen before (same backend,
model, prompt, n and sampling) is answered from disk without calling the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class BackendError(Exception):
    """A request that failed for good (after retries), with the reason."""


SAMPLING_KEYS = ("max_new_tokens", "temperature", "top_p", "seed")


@dataclass(frozen=True)
class Completion:
    """One sample: the answer text, the reasoning apart from it ('' when none), why it stopped."""

    text: str
    reasoning: str = ""
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> "Completion":
        """From a cache entry: this record's dict, or a bare string (entries of earlier versions)."""
        if isinstance(value, str):
            return cls(value)
        return cls(str(value["text"]), str(value.get("reasoning") or ""), value.get("finish_reason"))


class Backend:
    """Base: caching and the per-prompt/all-or-nothing split; subclasses implement ``_generate``."""

    kind = "base"

    def __init__(self, cache=None, defaults: dict[str, Any] | None = None):
        self.cache = cache
        self.defaults = dict(defaults or {})
        self.calls = 0  # prompts actually sent to the model (cache misses)

    @property
    def model_name(self) -> str:
        return ""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model_name}

    def sampling(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The sampling parameters a call with ``overrides`` uses: the backend's defaults updated."""
        overrides = overrides or {}
        unknown = set(overrides) - set(SAMPLING_KEYS)
        if unknown:
            raise TypeError(f"unknown sampling parameters {sorted(unknown)}; known: {', '.join(SAMPLING_KEYS)}")
        return {**self.defaults, **overrides}

    def request(self, prompt: str, n: int, sampling: dict[str, Any]) -> dict[str, Any]:
        return {**self.describe(), "prompt": prompt, "n": n, "sampling": sampling}

    def generate_each(self, prompts: list[str], n: int = 1, **sampling: Any) -> list[list[Completion] | BackendError]:
        s = self.sampling(sampling)
        out: list[list[Completion] | BackendError | None] = [None] * len(prompts)
        todo = []
        for i, p in enumerate(prompts):
            hit = self.cache.get(self.request(p, n, s)) if self.cache else None
            if hit is not None:
                out[i] = [Completion.from_json(c) for c in hit]
            else:
                todo.append(i)
        if todo:
            self.calls += len(todo)
            results = self._generate([prompts[i] for i in todo], n, s)
            for i, res in zip(todo, results):
                if not isinstance(res, BackendError) and self.cache is not None:
                    self.cache.put(self.request(prompts[i], n, s), [c.to_json() for c in res])
                out[i] = res
        return out  # type: ignore[return-value]

    def generate(self, prompts: list[str], n: int = 1, **sampling: Any) -> list[list[Completion]]:
        res = self.generate_each(prompts, n, **sampling)
        for r in res:
            if isinstance(r, BackendError):
                raise r
        return res  # type: ignore[return-value]

    def _generate(self, prompts: list[str], n: int, sampling: dict[str, Any]) -> list[list[Completion] | BackendError]:
        raise NotImplementedError

    def close(self) -> None:
        pass
