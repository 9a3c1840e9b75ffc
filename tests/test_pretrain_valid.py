"""Validation without leakage: the mix step holds documents out by id before sampling and
upsampling, writes them once each to valid/ shards listed in blend.json, and `curate pretrain`
validates on those — no validation document is in the training shards."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curate.mixtures.blend import read_blend  # noqa: E402
from curate.mixtures.indexed import IndexedDataset  # noqa: E402


def _docs(folder, datasets) -> list[tuple]:
    out = []
    for d in datasets:
        ds = IndexedDataset(os.path.join(folder, d.prefix))
        out += [tuple(np.asarray(ds[i]).tolist()) for i in range(len(ds))]
    return out


@pytest.fixture(scope="module")
def mixed_with_held_out(tmp_path_factory):
    from curate.config import default_config
    from curate.pipelines.stages import run_mix
    from mixhelp import pools as make_pools

    tmp = tmp_path_factory.mktemp("held")
    cfg = default_config("stage2")
    cfg.mix.total_tokens = 150_000  # more than the pools hold once: sources are upsampled
    cfg.mix.valid_fraction = 0.1
    out = str(tmp / "out")
    manifest = run_mix(cfg, make_pools(str(tmp / "pools")), out, [], [], log=lambda m: None)
    return out, manifest


def test_validation_split_shares_no_document_with_training(mixed_with_held_out):
    out, manifest = mixed_with_held_out
    blend = read_blend(os.path.join(out, "blend.json"))
    assert blend.valid_datasets and all(d.prefix.startswith("valid/") for d in blend.valid_datasets)
    train, valid = _docs(out, blend.datasets), _docs(out, blend.valid_datasets)
    assert len(set(train)) < len(train)  # training shards hold upsampled copies ...
    assert len(set(valid)) == len(valid)  # ... validation documents are there once each ...
    assert not set(valid) & set(train)  # ... and none of them is in training
    assert sum(d.docs for d in blend.valid_datasets) == len(valid)
    assert 0.05 * (len(set(train)) + len(valid)) < len(valid) < 0.2 * (len(set(train)) + len(valid))
    # counted: in = out + rejects, the held-out documents under their own reason
    counts = manifest["counts"]["mix"]
    assert counts["rejects"]["held_out:validation"] == len(valid)
    assert counts["in"] == counts["out"] + counts["rejected"]


def test_pretrain_validates_on_the_held_out_shards(mixed_with_held_out, capsys):
    from curate.pretrain.data import held_out_data_path, parse_data_path
    from curate.pretrain.train import main

    out, _ = mixed_with_held_out
    path = os.path.join(out, "blend.json")
    blend = read_blend(path)
    _, vp = held_out_data_path([path])
    assert vp == [os.path.join(out, d.prefix) for d in blend.valid_datasets]
    assert not set(vp) & set(parse_data_path([path])[1])
    h = main(["--data-path", path, "--seq-length", "32", "--override-stage-context", "--micro-batch-size", "2",
              "--num-layers", "1", "--hidden-size", "16", "--num-attention-heads", "2", "--ffn-hidden-size", "32",
              "--mtp-num-layers", "1", "--train-iters", "2", "--eval-interval", "2", "--eval-iters", "1",
              "--num-workers", "0", "--device", "cpu", "--log-interval", "1"])
    assert "the blend's held-out split" in capsys.readouterr().out
    ev = h["eval"][0]
    assert set(ev["per_source_lm_loss"]) <= {d.source for d in blend.valid_datasets}
    assert np.isfinite(ev["lm_loss"]) and len(ev["mtp_acceptance"]) == 1
