"""Local transformers backend: a causal LM from a model directory, batched, GPU when present.

Prompts are left-padded into batches of ``batch_size``; each call samples n continuations per
prompt (``num_return_sequences``). A prompt goes through the tokenizer's chat template as one
user message (with the generation prompt) when the tokenizer has one and ``chat_template`` is
on, as an instruction-tuned or reasoning model expects. Temperature 0 with n = 1 is greedy; with
n > 1 it samples at temperature 1.0 (the model's own distribution), never beam search: a pass
rate over k samples must be over independent samples, not k beams. A sample that ends without
the end-of-sequence token has ``finish_reason`` ``"length"``. The torch seed is set from the sampling seed before each
batch, so the same batch gives the same text. Prompts longer than the model's context less
``max_new_tokens`` keep their end (where the instruction asks for the answer).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from curate.errors import InputError
from curate.synth.backends import Backend, BackendError, Completion


class LocalBackend(Backend):
    kind = "local"

    def __init__(self, model_dir: str, device: str = "auto", dtype: str = "auto", batch_size: int = 8,
                 chat_template: bool = True, cache=None, defaults: dict[str, Any] | None = None):
        super().__init__(cache, defaults)
        if not os.path.isdir(model_dir):
            raise InputError(f"local backend: model directory not found: {model_dir}")
        self.model_dir = model_dir
        self.device_arg, self.dtype_arg = device, dtype
        self.batch_size = batch_size
        self.chat_template = chat_template
        self.model = self.tokenizer = None
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Load tokenizer and weights (on first use, so a run served from the cache loads nothing)."""
        with self._load_lock:
            if self.model is None:
                self._load()

    def _load(self) -> None:
        # torch/transformers: heavy and an optional extra, imported only when a model is loaded
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device_arg == "auto" else self.device_arg
        if self.dtype_arg == "auto":
            tdtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            tdtype = getattr(torch, self.dtype_arg)
        tok = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        tok.padding_side = "left"
        tok.truncation_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True, dtype=tdtype)
        model.to(self.device).eval()
        self.max_positions = int(getattr(model.config, "max_position_embeddings", 0)
                                 or getattr(model.config, "n_positions", 0) or 2048)
        self.tokenizer, self.model = tok, model

    @property
    def model_name(self) -> str:
        return os.path.basename(os.path.normpath(self.model_dir))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model_name, "model_dir": os.path.abspath(self.model_dir),
                "chat_template": self.chat_template}

    def prompt_text(self, prompt: str) -> str:
        """The text the model is given for ``prompt``: through the chat template when there is one."""
        self.load()
        if self.chat_template and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                      add_generation_prompt=True)
        return prompt

    @staticmethod
    def generation_kwargs(n: int, s: dict[str, Any]) -> dict[str, Any]:
        """``model.generate`` options for n samples under sampling ``s`` (see the module doc)."""
        max_new = int(s.get("max_new_tokens") or 256)
        temp = float(s.get("temperature") or 0.0)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "num_return_sequences": n, "num_beams": 1}
        if temp > 0 or n > 1:
            kwargs.update(do_sample=True, temperature=temp if temp > 0 else 1.0, top_p=float(s.get("top_p") or 1.0))
        else:
            kwargs.update(do_sample=False)
        return kwargs

    def _generate(self, prompts: list[str], n: int, sampling: dict[str, Any]) -> list[list[Completion] | BackendError]:
        self.load()
        out: list[list[Completion] | BackendError] = []
        for i in range(0, len(prompts), self.batch_size):
            chunk = prompts[i: i + self.batch_size]
            try:
                out.extend(self._batch(chunk, n, sampling))
            except Exception as e:  # noqa: BLE001 - e.g. CUDA OOM: the batch fails, the run goes on
                out.extend([BackendError(f"{type(e).__name__}: {e}")] * len(chunk))
        return out

    def _batch(self, prompts: list[str], n: int, s: dict[str, Any]) -> list[list[Completion]]:
        import torch  # loaded by _load already; imported here, not at module level (see _load)

        kwargs = self.generation_kwargs(n, s)
        kwargs["pad_token_id"] = self.tokenizer.pad_token_id
        room = max(1, self.max_positions - kwargs["max_new_tokens"])
        texts_in = [self.prompt_text(p) for p in prompts]
        enc = self.tokenizer(texts_in, return_tensors="pt", padding=True, truncation=True, max_length=room,
                             add_special_tokens=not (self.chat_template and getattr(self.tokenizer, "chat_template", None)))
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        with self._lock, torch.inference_mode():
            if s.get("seed") is not None:
                torch.manual_seed(int(s["seed"]))
            gen = self.model.generate(**enc, **kwargs)
        new = gen[:, enc["input_ids"].shape[1]:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        eos = self.tokenizer.eos_token_id
        stopped = [eos is not None and bool((row == eos).any()) for row in new]
        done = [Completion(t, "", "stop" if st else "length") for t, st in zip(texts, stopped)]
        return [done[p * n: (p + 1) * n] for p in range(len(prompts))]
