"""Pretraining parts: blended loader proportions, packing (32,768 tokens), sampler sharding,
LR schedules and the multi-token-prediction targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curate.mixtures.indexed import IndexedDataset, IndexedDatasetBuilder
from curate.pretrain.data import (
    BlendedDataset,
    DataSpec,
    GPTDataset,
    PretrainingSampler,
    blending_indices,
    split_ranges,
)
from curate.pretrain.schedule import LRSchedule

EOD = 0


def _source(prefix, lo, hi, n_docs, seed, max_len=300):
    rng = np.random.default_rng(seed)
    docs = []
    with IndexedDatasetBuilder(str(prefix), dtype=np.uint16) as b:
        for _ in range(n_docs):
            doc = np.concatenate([rng.integers(lo, hi, size=int(rng.integers(1, max_len))), [EOD]])
            b.add_document(doc)
            docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def three_sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("blend")
    ranges = [(1, 1000), (1000, 2000), (2000, 3000)]
    prefixes = []
    for i, (lo, hi) in enumerate(ranges):
        _source(d / f"s{i}", lo, hi, n_docs=60 + 40 * i, seed=i)
        prefixes.append(str(d / f"s{i}"))
    return prefixes, ranges


def test_blended_loader_draws_in_proportion(three_sources):
    """Stated tolerance: after any n draws, source j has w_j*n ± (m/2 + 1) draws (m sources)."""
    prefixes, ranges = three_sources
    weights = [0.6, 0.3, 0.1]
    n = 3000
    spec = DataSpec(weights, prefixes, seq_length=64, split=[1.0, 0.0, 0.0], seed=3, vocab_size=3000)
    ds = BlendedDataset(spec, 0, n)
    # what the loader actually returns: identify the source of every sample by its token ids
    seen = np.zeros((n, 3), dtype=np.int64)
    for i in range(n):
        item = ds[i]
        toks = item["tokens"][item["tokens"] != EOD]
        src = [j for j, (lo, hi) in enumerate(ranges) if ((toks >= lo) & (toks < hi)).all()]
        assert src == [item["source"]]  # every token of a sample comes from the source it was drawn from
        seen[i, src[0]] = 1
    counts = np.cumsum(seen, axis=0)
    expected = np.outer(np.arange(1, n + 1), weights)
    assert np.abs(counts - expected).max() <= 3 / 2 + 1
    assert np.allclose(counts[-1] / n, weights, atol=0.002)
    # samples of one source are distinct positions of its packed stream
    for j in range(3):
        idx = ds.dataset_sample_index[ds.dataset_index == j]
        assert sorted(idx.tolist()) == list(range(len(idx)))


def test_blending_is_deterministic_and_weights_matter():
    a = blending_indices([0.5, 0.25, 0.25], 1000)
    b = blending_indices([0.5, 0.25, 0.25], 1000)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = blending_indices([0.9, 0.05, 0.05], 1000)[0]
    assert np.bincount(c, minlength=3)[0] == 900


def test_packing_seq_32768(tmp_path):
    """Packed 32,768-token samples equal slices of the documents laid end to end in shuffled order."""
    docs = _source(tmp_path / "long", 1, 60000, n_docs=120, seed=9, max_len=6000)
    total = sum(len(d) for d in docs)
    seq = 32768
    ds = GPTDataset(str(tmp_path / "long"), (0, len(docs)), seq, num_samples=20, seed=5, key=(0,), vocab_size=60000)
    assert ds.num_epochs >= 2  # the request exceeds one pass, so epochs are repeated
    orders = [ds.epoch_order(e)[0] for e in range(ds.num_epochs)]
    stream = np.concatenate([docs[j] for o in orders for j in o]).astype(np.int64)
    assert len(stream) == ds.num_epochs * total
    for i in range(len(ds)):
        start, stop = ds.sample_span(i)
        s = ds[i]
        assert s.shape == (seq + 1,) and s.dtype == np.int64
        assert np.array_equal(s, stream[start:stop])
    # each epoch visits every document once
    assert all(sorted(o.tolist()) == list(range(len(docs))) for o in orders)
    assert not np.array_equal(orders[0], orders[1])
    # the index is per shard and per cached epoch (at most two), int32 where it fits
    assert ds.docs.dtype == np.int32 and ds.shuffle.dtype == np.int32 and len(ds._epochs) <= 2
    assert ds.index_bytes() <= 4 * (2 * len(docs)) + 4 * len(ds) + 2 * 12 * len(docs)


def test_split_ranges_cover_documents():
    r = split_ranges(1000, [969, 30, 1])
    assert r == [(0, 969), (969, 999), (999, 1000)]
    assert split_ranges(10, [1, 0, 0]) == [(0, 10), (10, 10), (10, 10)]


def test_train_and_valid_splits_do_not_share_documents(three_sources):
    prefixes, _ = three_sources
    spec = DataSpec([1.0], prefixes[:1], seq_length=16, split=[0.8, 0.2, 0.0], seed=1)
    tr = BlendedDataset(spec, 0, 50).datasets[0]
    va = BlendedDataset(spec, 1, 10).datasets[0]
    n = len(IndexedDataset(prefixes[0]))
    assert set(tr.docs.tolist()) <= set(range(0, round(0.8 * n)))
    assert set(va.docs.tolist()) <= set(range(round(0.8 * n), n))


def test_sampler_shards_global_batches_across_ranks():
    total, mb, world = 100, 3, 4
    per_rank = [list(PretrainingSampler(total, 12, mb, r, world)) for r in range(world)]
    assert all(len(p) == len(per_rank[0]) for p in per_rank)
    flat = sorted(i for p in per_rank for b in p for i in b)
    assert len(flat) == len(set(flat))  # no sample on two ranks
    assert flat == list(range(12, 12 + len(flat)))  # resumes exactly at consumed_samples, no gaps
    # step k of every rank together is one contiguous chunk of mb * world samples
    assert sorted(per_rank[0][0] + per_rank[1][0] + per_rank[2][0] + per_rank[3][0]) == list(range(12, 24))


def test_lr_schedules():
    cos = LRSchedule(lr=1.0, min_lr=0.1, warmup_iters=10, decay_iters=110, style="cosine")
    assert cos.lr_at(0) == pytest.approx(0.1) and cos.lr_at(9) == pytest.approx(1.0)
    assert cos.lr_at(60) == pytest.approx(0.55)
    assert cos.lr_at(110) == pytest.approx(0.1) and cos.lr_at(500) == pytest.approx(0.1)
    lrs = [cos.lr_at(i) for i in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    wsd = LRSchedule(lr=1.0, min_lr=0.0, warmup_iters=10, decay_iters=100, style="wsd", wsd_decay_iters=20)
    assert all(wsd.lr_at(i) == 1.0 for i in range(10, 80))
    assert wsd.lr_at(90) == pytest.approx(0.5) and wsd.lr_at(100) == 0.0
    ws2 = LRSchedule(lr=1.0, min_lr=0.0, warmup_iters=0, decay_iters=100, style="wsd", wsd_decay_iters=20,
                     wsd_decay_style="cosine")
    assert ws2.lr_at(90) == pytest.approx(0.5) and ws2.lr_at(85) > 0.5


def test_mtp_targets_and_masking():
    torch = pytest.importorskip("torch")
    from curate.pretrain.model import GPT, GPTConfig, flops_per_token

    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=100, hidden_size=32, num_layers=2, num_attention_heads=4, num_query_groups=2,
                    ffn_hidden_size=64, max_seq_length=16, mtp_num_layers=2, mtp_loss_scaling_factor=0.5)
    model = GPT(cfg)
    tokens = torch.randint(1, 100, (2, 16))
    labels = torch.randint(1, 100, (2, 16))
    total, lm, mtps = model(tokens, labels)
    assert len(mtps) == 2
    assert torch.allclose(total, lm + 0.5 / 2 * (mtps[0] + mtps[1]))
    # MTP depth k predicts labels[i + k] at position i: the first k labels are never its targets,
    # so changing label 0 moves the LM loss but neither MTP loss (the wrapped tail is masked)
    l2 = labels.clone()
    l2[:, 0] = (l2[:, 0] + 7) % 64
    _, lm2, mtps2 = model(tokens, l2)
    assert not torch.allclose(lm, lm2)
    assert torch.equal(mtps[0], mtps2[0]) and torch.equal(mtps[1], mtps2[1])
    # changing label 1 moves depth 1 (target of position 0) but not depth 2
    l3 = labels.clone()
    l3[:, 1] = (l3[:, 1] + 7) % 64
    _, _, mtps3 = model(tokens, l3)
    assert not torch.equal(mtps[0], mtps3[0]) and torch.equal(mtps[1], mtps3[1])
    # the output head is shared: MTP adds no vocabulary-sized matrix
    assert all(cfg.vocab_size not in p.shape for p in model.mtp.parameters())
    # causality: the LM logits of position 3 do not depend on later tokens
    t2 = tokens.clone()
    t2[:, 5:] = 1
    with torch.no_grad():
        assert torch.allclose(model(tokens)[:, :4], model(t2)[:, :4], atol=1e-6)
    assert flops_per_token(cfg, 16) > 6 * sum(p.numel() for p in model.layers.parameters())
    assert math.isfinite(total.item())
