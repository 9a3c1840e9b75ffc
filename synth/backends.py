"""LLM backends behind one interface: the base class every backend (``http_backend``,
``local_backend``) subclasses. ``curate.synth.backend_factory.make_backend`` builds one from
its config:

    backend = make_backend(cfg.backend, cache_dir)
    outs = backend.generate(["prompt 1", "prompt 2"], n=4, temperature=0.7)   # [[4 strs], [4 strs]]

``generate`` raises ``BackendError`` when any prompt fails after retries; ``generate_each``
returns, per prompt, either its n completions or the ``BackendError`` (so one bad request
does not sink a batch). Both go through the disk cache: a request seen before (same backend,
model, prompt, n and sampling) is answered from disk without calling the model.
"""

from __future__ import annotations

from typing import Any


class BackendError(Exception):
    """A request that failed for good (after retries), with the reason."""


SAMPLING_KEYS = ("max_new_tokens", "temperature", "top_p", "seed")


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

    def _sampling(self, sampling: dict[str, Any]) -> dict[str, Any]:
        unknown = set(sampling) - set(SAMPLING_KEYS)
        if unknown:
            raise TypeError(f"unknown sampling parameters {sorted(unknown)}; known: {', '.join(SAMPLING_KEYS)}")
        return {**self.defaults, **sampling}

    def request(self, prompt: str, n: int, sampling: dict[str, Any]) -> dict[str, Any]:
        return {**self.describe(), "prompt": prompt, "n": n, "sampling": sampling}

    def generate_each(self, prompts: list[str], n: int = 1, **sampling: Any) -> list[list[str] | BackendError]:
        s = self._sampling(sampling)
        out: list[list[str] | BackendError | None] = [None] * len(prompts)
        todo = []
        for i, p in enumerate(prompts):
            hit = self.cache.get(self.request(p, n, s)) if self.cache else None
            if hit is not None:
                out[i] = list(hit)
            else:
                todo.append(i)
        if todo:
            self.calls += len(todo)
            results = self._generate([prompts[i] for i in todo], n, s)
            for i, res in zip(todo, results):
                if not isinstance(res, BackendError) and self.cache is not None:
                    self.cache.put(self.request(prompts[i], n, s), res)
                out[i] = res
        return out  # type: ignore[return-value]

    def generate(self, prompts: list[str], n: int = 1, **sampling: Any) -> list[list[str]]:
        res = self.generate_each(prompts, n, **sampling)
        for r in res:
            if isinstance(r, BackendError):
                raise r
        return res  # type: ignore[return-value]

    def _generate(self, prompts: list[str], n: int, sampling: dict[str, Any]) -> list[list[str] | BackendError]:
        raise NotImplementedError

    def close(self) -> None:
        pass

