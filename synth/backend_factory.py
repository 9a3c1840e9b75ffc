"""The backend a ``BackendConfig`` describes. Apart from the base (``backends``) because it
knows every concrete backend, and each of those imports the base."""

from __future__ import annotations

import os

from curate.errors import ConfigError, InputError
from curate.io import files
from curate.synth.backends import Backend
from curate.synth.cache import DiskCache
from curate.synth.http_backend import HTTPBackend
from curate.synth.local_backend import LocalBackend


def make_backend(cfg, cache_dir: str | None = None) -> Backend:
    """The backend a ``BackendConfig`` describes, with its disk cache (when a dir is given)."""
    cache = DiskCache(cache_dir) if cache_dir else None
    defaults = {"max_new_tokens": cfg.max_new_tokens, "temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed}
    if cfg.kind == "http":
        return HTTPBackend(cfg.url, cfg.model or "default", api=cfg.api, api_key_env=cfg.api_key_env,
                           concurrency=cfg.concurrency, retries=cfg.retries, backoff_s=cfg.backoff_s,
                           backoff_max_s=cfg.backoff_max_s, timeout_s=cfg.timeout_s, batch_size=cfg.batch_size,
                           token_param=cfg.token_param, cache=cache, defaults=defaults)
    if cfg.kind == "local":
        if not cfg.model:
            raise ConfigError("synth.backend.model: the local backend needs a model directory")
        return LocalBackend(cfg.model, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size,
                            chat_template=cfg.chat_template, cache=cache, defaults=defaults)
    raise ValueError(f"unknown backend kind {cfg.kind!r}")


def check_backend(s) -> None:
    """Fail before the pipeline starts on a backend that cannot work (clear message, no Beam trace)."""
    b = s.backend
    if b.kind == "local":
        if not b.model:
            raise ConfigError("synth.backend.model: the local backend needs a model directory "
                              "(or set synth.backend.kind: http with synth.backend.url)")
        if not files.is_remote(b.model) and not os.path.isdir(b.model):
            raise InputError(f"synth.backend.model: model directory not found: {b.model}")
