"""OpenAI-compatible HTTP backend (vLLM, SGLang, llama.cpp's server, hosted APIs).

- ``api="completions"``: POST ``{url}/completions`` with up to ``batch_size`` prompts in one
  request (the API's list-of-prompts form; choice ``index`` = prompt_no * n + sample_no).
- ``api="chat"``: POST ``{url}/chat/completions``, one prompt per request as a user message.
Requests run ``concurrency`` at a time on a thread pool. Connection errors, timeouts and HTTP
408/409/429/5xx are retried ``retries`` times with exponential backoff and full jitter (a
``Retry-After`` header is honoured up to the cap); other 4xx fail at once. A server that
returns fewer than n choices is asked again for the rest. Only the standard library is used.

Reasoning models: a chat choice's ``reasoning_content`` (vLLM, SGLang, DeepSeek) or
``reasoning`` (newer vLLM, OpenRouter) is kept apart from ``content`` in the ``Completion``, and
``finish_reason`` is kept (``"length"``: cut off at the token limit). The token limit goes out
as ``token_param``: ``max_tokens`` (most servers), ``max_completion_tokens`` (OpenAI reasoning
models reject ``max_tokens``), or ``auto``: ``max_tokens`` until a server answers 400 naming
``max_tokens``, then ``max_completion_tokens`` for that request (retried at once, not counted
as a retry) and every later one.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from curate.synth.backends import Backend, BackendError, Completion

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class HTTPBackend(Backend):
    kind = "http"

    def __init__(self, url: str, model: str, api: str = "completions", api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, retries: int = 4, backoff_s: float = 1.0, backoff_max_s: float = 30.0,
                 timeout_s: float = 120.0, batch_size: int = 8, token_param: str = "auto", cache=None,
                 defaults: dict[str, Any] | None = None):
        super().__init__(cache, defaults)
        self.url = url.rstrip("/")
        self.model = model
        self.api = api
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        self.concurrency = concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.batch_size = batch_size if api == "completions" else 1
        if token_param not in ("auto", "max_tokens", "max_completion_tokens"):
            raise ValueError(f"token_param {token_param!r}: expected auto, max_tokens or max_completion_tokens")
        self.token_param = token_param
        self._limit_key = "max_completion_tokens" if token_param == "max_completion_tokens" else "max_tokens"
        self.requests_sent = 0
        self.retried = 0
        self._rng = random.Random()

    @property
    def model_name(self) -> str:
        return self.model

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "url": self.url, "api": self.api}

    def _generate(self, prompts: list[str], n: int, sampling: dict[str, Any]) -> list[list[Completion] | BackendError]:
        groups = [list(range(i, min(i + self.batch_size, len(prompts)))) for i in range(0, len(prompts), self.batch_size)]
        out: list[list[Completion] | BackendError] = [BackendError("not run")] * len(prompts)
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(groups))) as pool:
            futures = [(g, pool.submit(self._complete_group, [prompts[i] for i in g], n, sampling)) for g in groups]
            for g, fut in futures:
                try:
                    res = fut.result()
                except BackendError as e:
                    res = [e] * len(g)
                for i, r in zip(g, res):
                    out[i] = r
        return out

    def _complete_group(self, prompts: list[str], n: int, sampling: dict[str, Any]) -> list[list[Completion]]:
        got: list[list[Completion]] = [[] for _ in prompts]
        rounds = 0
        while any(len(g) < n for g in got):
            want = n - min(len(g) for g in got)
            idx = [i for i, g in enumerate(got) if len(g) < n]
            seed = sampling.get("seed")
            s = dict(sampling, seed=None if seed is None else seed + rounds)
            texts = self._post([prompts[i] for i in idx], want, s)
            for i, t in zip(idx, texts):
                got[i].extend(t[: n - len(got[i])])
            rounds += 1
            if rounds > n:
                raise BackendError(f"server returned too few choices after {rounds} requests")
        return got

    def _body(self, prompts: list[str], n: int, s: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "n": n, self._limit_key: s.get("max_new_tokens"),
                                "temperature": s.get("temperature"), "top_p": s.get("top_p")}
        if s.get("seed") is not None:
            body["seed"] = s["seed"]
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": prompts[0]}]
            return f"{self.url}/chat/completions", body
        body["prompt"] = prompts if len(prompts) > 1 else prompts[0]
        return f"{self.url}/completions", body

    def _post(self, prompts: list[str], n: int, s: dict[str, Any]) -> list[list[Completion]]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        switched = False
        attempt = 0
        while attempt <= self.retries:
            url, body = self._body(prompts, n, s)
            data = json.dumps(body).encode()
            if attempt:
                self.retried += 1
            self.requests_sent += 1
            retry_after = None
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    payload = json.loads(resp.read())
                return self._parse(payload, len(prompts), n)
            except urllib.error.HTTPError as e:
                detail = e.read()[:300].decode("utf-8", "replace") if e.fp else ""
                last = f"HTTP {e.code} from {url}: {detail}"
                if self._wants_completion_tokens(e.code, detail) and not switched:
                    switched = True
                    self._limit_key = "max_completion_tokens"
                    continue
                if e.code not in RETRY_STATUS:
                    raise BackendError(last) from None
                retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = f"{type(e).__name__} calling {url}: {e}"
            except (ValueError, KeyError, TypeError) as e:
                raise BackendError(f"malformed response from {url}: {e}") from None
            if attempt < self.retries:
                cap = min(self.backoff_max_s, self.backoff_s * (2 ** attempt))
                delay = self._rng.uniform(0, cap)
                if retry_after is not None:
                    delay = min(self.backoff_max_s, max(delay, retry_after))
                time.sleep(delay)
            attempt += 1
        raise BackendError(f"failed after {self.retries + 1} attempts: {last}")

    def _wants_completion_tokens(self, code: int, detail: str) -> bool:
        """A 400 naming ``max_tokens`` while ``auto`` still sends it: the server wants ``max_completion_tokens``."""
        return (code == 400 and self.token_param == "auto" and self._limit_key == "max_tokens"
                and "max_tokens" in detail)

    def _parse(self, payload: dict[str, Any], n_prompts: int, n: int) -> list[list[Completion]]:
        choices = payload["choices"]
        out: list[list[tuple[int, Completion]]] = [[] for _ in range(n_prompts)]
        for pos, ch in enumerate(choices):
            index = ch.get("index", pos)
            reasoning = None
            if self.api == "chat":
                msg = ch["message"]
                text = msg.get("content")
                reasoning = msg.get("reasoning_content") or msg.get("reasoning")
                if text is None and isinstance(reasoning, str):
                    text = ""  # cut off inside the reasoning: no answer yet
            else:
                text = ch["text"]
            if not isinstance(text, str):
                raise ValueError("choice without text")
            finish = ch.get("finish_reason")
            p, j = divmod(index, n)
            if 0 <= p < n_prompts:
                out[p].append((j, Completion(text, reasoning if isinstance(reasoning, str) else "",
                                             finish if isinstance(finish, str) else None)))
        return [[c for _, c in sorted(o, key=lambda t: t[0])] for o in out]


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
