"""Chunked cross-entropy equals full cross-entropy (values and gradients) without full logits."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from curate.pretrain.loss import chunk_tokens, chunked_argmax, chunked_cross_entropy  # noqa: E402


@pytest.mark.parametrize("chunk", [3, 64, 0])
def test_chunked_ce_matches_full(chunk):
    g = torch.Generator().manual_seed(0)
    n, d, v = 100, 24, 5003
    h = torch.randn(n, d, generator=g, requires_grad=True)
    w = (torch.randn(v, d, generator=g) * 0.3).requires_grad_()
    labels = torch.randint(0, v, (n,), generator=g)
    weight = torch.rand(n, generator=g)  # a per-token upstream gradient (masked means do this)

    full = F.cross_entropy(h @ w.t(), labels, reduction="none")
    (full * weight).sum().backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None

    ch = chunked_cross_entropy(h, w, labels, chunk)
    (ch * weight).sum().backward()
    torch.testing.assert_close(ch, full.detach(), rtol=0, atol=1e-5)
    torch.testing.assert_close(h.grad, gh, rtol=0, atol=1e-5)
    torch.testing.assert_close(w.grad, gw, rtol=0, atol=1e-5)
    assert torch.equal(chunked_argmax(h.detach(), w.detach(), chunk), (h @ w.t()).argmax(-1))


def test_chunk_size_bounds_the_logits():
    assert chunk_tokens(152064) * 152064 * 4 <= 256 * 2**20  # one chunk's fp32 logits fit 256 MiB
    assert chunk_tokens(152064, 512) == 512 and chunk_tokens(10**12) == 1


def test_model_loss_equals_full_vocab_cross_entropy():
    from curate.pretrain.model import GPT, GPTConfig

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=300, hidden_size=32, num_layers=1, num_attention_heads=4, num_query_groups=2,
                    ffn_hidden_size=64, max_seq_length=16, mtp_num_layers=1, ce_chunk_tokens=5)
    model = GPT(cfg)
    tokens, labels = torch.randint(0, 300, (2, 16)), torch.randint(0, 300, (2, 16))
    mask = (torch.rand(2, 16) > 0.2).float()
    _, lm, _ = model(tokens, labels, mask)
    logits = model(tokens)
    ref = (F.cross_entropy(logits.view(-1, 300), labels.view(-1), reduction="none") * mask.view(-1)).sum() / mask.sum()
    assert abs(lm.item() - ref.item()) < 1e-5
