"""Decoder-only GPT with RoPE, RMSNorm, SwiGLU, grouped-query attention and multi-token prediction.

Multi-token prediction (MTP) follows DeepSeek-V3 and MiMo-7B in Megatron-LM's layout: module
k (1..D) takes the embedding of token i+k and the output of depth k-1 at position i (depth 0 =
the main model's hidden state *after* its final norm), normalizes both (RMSNorm ``enorm``,
``hnorm``), projects their concatenation ``[e; h]`` back to the model width (``eh_proj``), runs
one transformer layer and a final norm, and predicts token i+k+1 with the *shared* output head;
that normalized output is also the input of depth k+1. The embedding and the output head are
those of the main model, so MTP adds only a projection, three norms and one layer per depth.
Training loss = LM loss + lambda/D x sum_k MTP loss_k; the MTP losses are returned separately
so they can be logged. Cross-entropy goes through ``pretrain/loss.py``: full-vocabulary fp32
logits are never materialised.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from curate.pretrain.loss import chunked_argmax, chunked_cross_entropy


@dataclass
class GPTConfig:
    vocab_size: int
    hidden_size: int = 768
    num_layers: int = 12
    num_attention_heads: int = 12
    num_query_groups: int = 12
    ffn_hidden_size: int = 2048
    max_seq_length: int = 4096
    rotary_base: float = 10000.0
    norm_epsilon: float = 1e-5
    init_method_std: float = 0.02
    tie_embeddings: bool = True
    mtp_num_layers: int = 0
    mtp_loss_scaling_factor: float = 0.1
    recompute: bool = False
    ce_chunk_tokens: int = 0  # tokens per cross-entropy chunk; 0: as many as fit 256 MiB of fp32 logits

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_dict(self) -> dict:
        return asdict(self)


class Rotary(nn.Module):
    """Rotary position embedding (rotate-half form), cos/sin tables cached for the max length."""

    def __init__(self, head_dim: int, max_len: int, base: float):
        super().__init__()
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        t = torch.arange(max_len, dtype=torch.float64)
        freqs = torch.outer(t, inv)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, heads, seq, head_dim)."""
        s = x.shape[-2]
        cos = self.cos[:s].to(x.dtype)
        sin = self.sin[:s].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig, rotary: Rotary):
        super().__init__()
        self.nh, self.ng, self.hd = cfg.num_attention_heads, cfg.num_query_groups, cfg.head_dim
        self.qkv = nn.Linear(cfg.hidden_size, (self.nh + 2 * self.ng) * self.hd, bias=False)
        self.proj = nn.Linear(self.nh * self.hd, cfg.hidden_size, bias=False)
        self.proj.is_output_projection = True
        self.rotary = rotary

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        qkv = self.qkv(x)
        q, k, v = qkv.split([self.nh * self.hd, self.ng * self.hd, self.ng * self.hd], dim=-1)
        q = q.view(b, s, self.nh, self.hd).transpose(1, 2)
        k = k.view(b, s, self.ng, self.hd).transpose(1, 2)
        v = v.view(b, s, self.ng, self.hd).transpose(1, 2)
        q, k = self.rotary(q), self.rotary(k)
        if self.ng != self.nh:
            rep = self.nh // self.ng
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, s, self.nh * self.hd))


class SwiGLU(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, 2 * cfg.ffn_hidden_size, bias=False)
        self.fc2 = nn.Linear(cfg.ffn_hidden_size, cfg.hidden_size, bias=False)
        self.fc2.is_output_projection = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm transformer layer: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: GPTConfig, rotary: Rotary):
        super().__init__()
        self.norm1 = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.attn = Attention(cfg, rotary)
        self.norm2 = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MTPModule(nn.Module):
    """One multi-token-prediction depth: [enorm(emb(t_{i+k})); hnorm(h)] -> eh_proj -> layer -> final_norm."""

    def __init__(self, cfg: GPTConfig, rotary: Rotary):
        super().__init__()
        self.hnorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.enorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.eh_proj = nn.Linear(2 * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.block = Block(cfg, rotary)
        self.final_norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """The normalized output: input of the output head and of the next depth (as Megatron)."""
        x = self.eh_proj(torch.cat([self.enorm(emb), self.hnorm(h)], dim=-1))
        return self.final_norm(self.block(x))


def _masked_mean(per_token: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(per_token.dtype)
    return (per_token * m).sum() / m.sum().clamp_min(1.0)


def _roll_left(t: torch.Tensor, k: int) -> torch.Tensor:
    """Shift a (batch, seq) tensor k positions to the left along seq; the tail wraps (and is masked)."""
    return torch.roll(t, shifts=-k, dims=1)


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        rotary = Rotary(cfg.head_dim, cfg.max_seq_length, cfg.rotary_base)
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Block(cfg, rotary) for _ in range(cfg.num_layers)])
        self.final_norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.output = None if cfg.tie_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.mtp = nn.ModuleList([MTPModule(cfg, rotary) for _ in range(cfg.mtp_num_layers)])
        self.rotary = rotary
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = self.cfg.init_method_std
        out_std = std / math.sqrt(2.0 * (self.cfg.num_layers + self.cfg.mtp_num_layers))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, out_std if getattr(m, "is_output_projection", False) else std)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, 0.0, std)
            elif isinstance(m, nn.RMSNorm):
                nn.init.ones_(m.weight)

    @property
    def head_weight(self) -> torch.Tensor:
        return self.embedding.weight if self.output is None else self.output.weight

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.head_weight)

    def _run(self, block: nn.Module, *xs: torch.Tensor) -> torch.Tensor:
        if self.cfg.recompute and self.training and torch.is_grad_enabled():
            return checkpoint(block, *xs, use_reentrant=False)
        return block(*xs)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """The main model's final-norm hidden states (batch, seq, hidden): what the output head reads."""
        h = self.embedding(tokens)
        for layer in self.layers:
            h = self._run(layer, h)
        return self.final_norm(h)

    def mtp_hidden(self, h: torch.Tensor, tokens: torch.Tensor):
        """Yield (k, normalized output of MTP depth k) for k = 1..D, from the main hidden states ``h``."""
        for k, module in enumerate(self.mtp, start=1):
            h = self._run(module, h, self.embedding(_roll_left(tokens, k)))
            yield k, h

    def _mtp_mask(self, loss_mask: torch.Tensor, k: int) -> torch.Tensor:
        seq = loss_mask.shape[1]
        pos = torch.arange(seq, device=loss_mask.device)
        return _roll_left(loss_mask, k) * (pos < seq - k).to(loss_mask.dtype)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None, loss_mask: torch.Tensor | None = None):
        """tokens, labels, loss_mask: (batch, seq). Without labels returns the LM logits.

        With labels returns ``(total_loss, lm_loss, [mtp_loss_1, ..., mtp_loss_D])``; MTP depth
        k is trained on label ``labels[i + k]`` at position i, the last k positions masked.
        """
        h = self.hidden(tokens)
        if labels is None:
            return self.head(h)
        if loss_mask is None:
            loss_mask = torch.ones_like(labels, dtype=torch.float32)
        w, chunk = self.head_weight, self.cfg.ce_chunk_tokens
        lm_loss = _masked_mean(chunked_cross_entropy(h, w, labels, chunk), loss_mask)
        mtp_losses = []
        for k, hk in self.mtp_hidden(h, tokens):
            per_tok = chunked_cross_entropy(hk, w, _roll_left(labels, k), chunk)
            mtp_losses.append(_masked_mean(per_tok, self._mtp_mask(loss_mask, k)))
        total = lm_loss
        if mtp_losses:
            total = total + (self.cfg.mtp_loss_scaling_factor / len(mtp_losses)) * torch.stack(mtp_losses).sum()
        return total, lm_loss, mtp_losses

    @torch.no_grad()
    def eval_stats(self, tokens: torch.Tensor, labels: torch.Tensor, loss_mask: torch.Tensor) -> dict:
        """Per-sample LM loss sums and token counts, and per MTP depth its loss sum, token count and
        acceptance counts: how often depth k's greedy token at position i equals the main model's
        greedy token at position i+k (both predict token i+k+1), i.e. a speculative draft accepted."""
        w, chunk = self.head_weight, self.cfg.ce_chunk_tokens
        h = self.hidden(tokens)
        m = loss_mask.float()
        lm_tok = chunked_cross_entropy(h, w, labels, chunk)
        out = {"lm_sum": (lm_tok * m).sum(1), "lm_count": m.sum(1), "mtp_sum": [], "mtp_count": [],
               "accept": [], "accept_count": []}
        if len(self.mtp):
            main_greedy = chunked_argmax(h, w, chunk)
        for k, hk in self.mtp_hidden(h, tokens):
            mk = self._mtp_mask(m, k)
            out["mtp_sum"].append((chunked_cross_entropy(hk, w, _roll_left(labels, k), chunk) * mk).sum())
            out["mtp_count"].append(mk.sum())
            same = (chunked_argmax(hk, w, chunk) == _roll_left(main_greedy, k)).float()
            out["accept"].append((same * mk).sum())
            out["accept_count"].append(mk.sum())
        return out


def count_parameters(model: GPT) -> dict:
    """Parameter counts: total, embedding, and MTP modules (tied heads counted once)."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.embedding.weight.numel() + (model.output.weight.numel() if model.output is not None else 0)
    mtp = sum(p.numel() for p in model.mtp.parameters())
    return {"total": total, "embedding": emb, "mtp": mtp, "main_non_embedding": total - emb - mtp}


def flops_per_token(cfg: GPTConfig, seq_length: int) -> float:
    """Training FLOPs per token (forward + backward = 3 x forward), matmuls only.

    Per transformer layer: 2 x (QKV + attention output + SwiGLU) weights, plus causal
    attention scores and values (2 x 2 x s x d, halved for the causal mask). Each MTP depth
    adds one layer, its 2d->d projection and one more pass through the output head.
    """
    d, f, hd = cfg.hidden_size, cfg.ffn_hidden_size, cfg.head_dim
    qkv = d * (cfg.num_attention_heads + 2 * cfg.num_query_groups) * hd
    layer_w = qkv + cfg.num_attention_heads * hd * d + 3 * d * f
    attn = 2 * seq_length * cfg.num_attention_heads * hd  # QK^T + AV: 4 x s x d flops, halved (causal)
    layers = cfg.num_layers + cfg.mtp_num_layers
    fwd = 2 * layers * layer_w + layers * attn + 2 * (1 + cfg.mtp_num_layers) * d * cfg.vocab_size
    fwd += 2 * cfg.mtp_num_layers * 2 * d * d
    return 3.0 * fwd
