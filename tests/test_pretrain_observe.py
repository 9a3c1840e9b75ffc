"""Observability: per-source validation loss, MTP loss and acceptance per depth, TensorBoard and JSONL."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curate.pretrain.train import main  # noqa: E402
from test_pretrain import one_thread, shards, tiny_args  # noqa: E402,F401 (fixtures)


def test_acceptance_is_greedy_agreement_with_the_main_model():
    from curate.pretrain.model import GPT, GPTConfig

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=50, hidden_size=16, num_layers=1, num_attention_heads=2, num_query_groups=1,
                    ffn_hidden_size=32, max_seq_length=12, mtp_num_layers=2, ce_chunk_tokens=7)
    model = GPT(cfg).eval()
    tokens, labels = torch.randint(0, 50, (3, 12)), torch.randint(0, 50, (3, 12))
    mask = torch.ones(3, 12)
    mask[0, 4] = 0
    st = model.eval_stats(tokens, labels, mask)
    with torch.no_grad():
        main_greedy = model(tokens).argmax(-1)
        h = model.hidden(tokens)
        for k, hk in model.mtp_hidden(h, tokens):
            draft = model.head(hk).argmax(-1)[:, : 12 - k]  # position i drafts token i+k+1 ...
            target = main_greedy[:, k:]  # ... which the main model predicts at position i+k
            m = mask[:, k:]  # the loss mask of label i+k
            assert st["accept"][k - 1].item() == ((draft == target).float() * m).sum().item()
            assert st["accept_count"][k - 1].item() == m.sum().item()
    assert st["lm_count"].tolist() == [11.0, 12.0, 12.0]


def test_validation_per_source_mtp_acceptance_tensorboard(shards, tmp_path):  # noqa: F811
    log, tb = tmp_path / "log.jsonl", tmp_path / "tb"
    h = main(tiny_args(shards, 30, "--eval-iters", "2", "--eval-interval", "15", "--split", "90,10,0",
                       "--log-jsonl", str(log), "--tensorboard-dir", str(tb)))
    first, last = h["eval"]
    for ev in (first, last):
        assert set(ev["per_source_lm_loss"]) == {"math", "code"}
        src = list(ev["per_source_lm_loss"].values())
        assert min(src) <= ev["lm_loss"] <= max(src)  # the token-weighted mean of the two
        assert len(ev["mtp_loss"]) == len(ev["mtp_acceptance"]) == 2
        assert all(0.0 <= a <= 1.0 for a in ev["mtp_acceptance"])
    # on this predictable data the drafts agree with the main model far above chance (1/96)
    assert last["mtp_acceptance"][0] > 0.3
    assert last["lm_loss"] < first["lm_loss"]
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["iteration"] for r in recs if r["event"] == "eval"] == [15, 30]
    assert any(r["event"] == "memory" for r in recs)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"lm loss", "mtp_1 loss", "mtp_2 loss", "learning rate", "tokens per second", "validation/lm loss",
            "validation/mtp_1 acceptance rate", "validation/lm loss math", "validation/lm loss code"} <= tags
    assert [e.step for e in acc.Scalars("lm loss")] == [10, 20, 30]
    assert np.isclose(acc.Scalars("validation/mtp_1 acceptance rate")[-1].value, last["mtp_acceptance"][0])
