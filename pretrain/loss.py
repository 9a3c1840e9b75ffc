"""Cross-entropy over the output head without full-vocabulary logits.

``chunked_cross_entropy(h, w, labels)`` computes ``-log softmax(h @ w.T)[label]`` per token a
chunk of tokens at a time: each chunk's logits (chunk x vocab, fp32) exist only inside the loop,
and the backward pass recomputes them from the saved hidden states and per-token log-sum-exp.
Peak memory is one chunk's logits instead of tokens x vocab x 4 bytes (32,768 tokens x 152k
vocab would be ~20 GB). Values equal full cross-entropy up to fp32 summation order.
"""

from __future__ import annotations

import torch

#: Default budget for one chunk's fp32 logits (the chunk's token count follows from the vocabulary).
CHUNK_BYTES = 256 * 2**20


def chunk_tokens(vocab: int, chunk: int = 0) -> int:
    """Tokens per chunk: ``chunk`` if > 0, else as many as fit CHUNK_BYTES of fp32 logits."""
    return chunk if chunk > 0 else max(1, CHUNK_BYTES // (4 * vocab))


class _ChunkedCE(torch.autograd.Function):
    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, h: torch.Tensor, w: torch.Tensor, labels: torch.Tensor, chunk: int) -> torch.Tensor:
        n = h.shape[0]
        losses = torch.empty(n, dtype=torch.float32, device=h.device)
        lse = torch.empty(n, dtype=torch.float32, device=h.device)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            logits = (h[s:e] @ w.t()).float()
            lse[s:e] = torch.logsumexp(logits, dim=-1)
            losses[s:e] = lse[s:e] - logits.gather(1, labels[s:e, None]).squeeze(1)
            del logits
        ctx.save_for_backward(h, w, labels, lse)
        ctx.chunk = chunk
        return losses

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad: torch.Tensor):
        h, w, labels, lse = ctx.saved_tensors
        chunk = ctx.chunk
        gh = torch.empty_like(h) if ctx.needs_input_grad[0] else None
        gw = torch.zeros(w.shape, dtype=torch.float32, device=w.device) if ctx.needs_input_grad[1] else None
        rows = torch.arange(chunk, device=h.device)
        for s in range(0, h.shape[0], chunk):
            e = min(h.shape[0], s + chunk)
            p = (h[s:e] @ w.t()).float()  # the chunk's logits, recomputed, turned into softmax in place
            p.sub_(lse[s:e, None]).exp_()
            p[rows[: e - s], labels[s:e]] -= 1.0
            p *= grad[s:e, None].float()
            if gh is not None:
                gh[s:e] = (p.to(w.dtype) @ w).to(h.dtype)
            if gw is not None:
                gw += (p.t().to(h.dtype) @ h[s:e]).float()
            del p
        return gh, (gw.to(w.dtype) if gw is not None else None), None, None


def chunked_cross_entropy(h: torch.Tensor, w: torch.Tensor, labels: torch.Tensor, chunk: int = 0) -> torch.Tensor:
    """Per-token cross-entropy (fp32, shape ``labels.shape``) of logits ``h @ w.T``, ``chunk`` tokens at a time.

    ``h``: (..., hidden), ``w``: (vocab, hidden), ``labels``: (...). ``chunk`` 0 picks the size
    from CHUNK_BYTES.
    """
    shape = labels.shape
    flat_h = h.reshape(-1, h.shape[-1])
    out = _ChunkedCE.apply(flat_h, w, labels.reshape(-1), chunk_tokens(w.shape[0], chunk))
    return out.view(shape)


@torch.no_grad()
def chunked_argmax(h: torch.Tensor, w: torch.Tensor, chunk: int = 0) -> torch.Tensor:
    """Greedy token ids ``argmax(h @ w.T)`` (shape ``h.shape[:-1]``), chunked like the loss."""
    flat = h.reshape(-1, h.shape[-1])
    c = chunk_tokens(w.shape[0], chunk)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=h.device)
    for s in range(0, flat.shape[0], c):
        out[s:s + c] = (flat[s:s + c] @ w.t()).argmax(dim=-1)
    return out.view(h.shape[:-1])
