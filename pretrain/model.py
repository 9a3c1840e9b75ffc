"""Decoder-only GPT with RoPE, RMSNorm, SwiGLU, grouped-query attention and multi-token prediction.

Multi-token prediction (MTP) follows DeepSeek-V3 and MiMo-7B: module k (1..D) takes the
hidden state of depth k-1 at position i and the embedding of token i+k, normalizes both
(RMSNorm), projects their concatenation back to the model width, runs one transformer layer
and predicts token i+k+1 with the *shared* output head. The embedding and the output head
are those of the main model, so MTP adds only a projection, two norms, one layer and a final
norm per depth. Training loss = LM loss + lambda/D x sum_k MTP loss_k; the MTP losses are
returned separately so they can be logged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


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
    """One multi-token-prediction depth: [hnorm(h); enorm(emb(t_{i+k}))] -> proj -> layer -> norm."""

    def __init__(self, cfg: GPTConfig, rotary: Rotary):
        super().__init__()
        self.hnorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.enorm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)
        self.eh_proj = nn.Linear(2 * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.block = Block(cfg, rotary)
        self.final_norm = nn.RMSNorm(cfg.hidden_size, eps=cfg.norm_epsilon)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (hidden state for the next depth, normalized state for the output head)."""
        x = self.eh_proj(torch.cat([self.hnorm(h), self.enorm(emb)], dim=-1))
        x = self.block(x)
        return x, self.final_norm(x)


def _masked_ce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
    m = mask.reshape(-1).to(loss.dtype)
    return (loss * m).sum() / m.sum().clamp_min(1.0)


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

    def head(self, x: torch.Tensor) -> torch.Tensor:
        w = self.embedding.weight if self.output is None else self.output.weight
        return F.linear(x, w)

    def _run(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.recompute and self.training and torch.is_grad_enabled():
            return checkpoint(block, x, use_reentrant=False)
        return block(x)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None, loss_mask: torch.Tensor | None = None):
        """tokens, labels, loss_mask: (batch, seq). Without labels returns the LM logits.

        With labels returns ``(total_loss, lm_loss, [mtp_loss_1, ..., mtp_loss_D])``; MTP depth
        k is trained on label ``labels[i + k]`` at position i, the last k positions masked.
        """
        h = self.embedding(tokens)
        for layer in self.layers:
            h = self._run(layer, h)
        logits = self.head(self.final_norm(h))
        if labels is None:
            return logits
        if loss_mask is None:
            loss_mask = torch.ones_like(labels, dtype=torch.float32)
        lm_loss = _masked_ce(logits, labels, loss_mask)
        del logits
        mtp_losses = []
        seq = tokens.shape[1]
        pos = torch.arange(seq, device=tokens.device)
        for k, module in enumerate(self.mtp, start=1):
            emb = self.embedding(_roll_left(tokens, k))
            if self.cfg.recompute and self.training and torch.is_grad_enabled():
                h, normed = checkpoint(module, h, emb, use_reentrant=False)
            else:
                h, normed = module(h, emb)
            mask_k = _roll_left(loss_mask, k) * (pos < seq - k).to(loss_mask.dtype)
            mtp_losses.append(_masked_ce(self.head(normed), _roll_left(labels, k), mask_k))
        total = lm_loss
        if mtp_losses:
            total = total + (self.cfg.mtp_loss_scaling_factor / len(mtp_losses)) * torch.stack(mtp_losses).sum()
        return total, lm_loss, mtp_losses


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
