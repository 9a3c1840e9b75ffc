"""FSDP2 (fully_shard) over two gloo ranks follows the single-process run, with activation
checkpointing on, and holds half the parameter/optimizer bytes per rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curate.pretrain.train import main  # noqa: E402
from test_pretrain import one_thread, shards, tiny_args  # noqa: E402,F401 (fixtures)


def test_fsdp2_two_ranks_match_single_process(shards, tmp_path):  # noqa: F811
    args = tiny_args(shards, 20, "--micro-batch-size", "2", "--log-interval", "5", "--mtp-num-layers", "1",
                     "--eval-iters", "1", "--eval-interval", "20")
    log = tmp_path / "fsdp.jsonl"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "curate.pretrain", *args, "--use-torch-fsdp2", "--recompute-activations",
           "--log-jsonl", str(log), "--save", str(tmp_path / "ck")]
    res = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "FSDP2 2" in res.stdout
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    single = main(args)
    train = [r for r in recs if r["event"] == "train"]
    assert [r["iteration"] for r in train] == [5, 10, 15, 20]
    fsdp_loss = [r["lm_loss"] for r in train]
    np.testing.assert_allclose(fsdp_loss, [single["lm_loss"][i - 1] for i in (5, 10, 15, 20)], rtol=0, atol=1e-5)
    np.testing.assert_allclose([r["mtp_loss"] for r in train], [single["mtp_loss"][i - 1] for i in (5, 10, 15, 20)],
                               rtol=0, atol=1e-5)
    assert single["lm_loss"][-1] < single["lm_loss"][0] - 1.0  # it trained: the equality is not trivial
    ev = next(r for r in recs if r["event"] == "eval")  # validation runs through the sharded model too
    assert abs(ev["lm_loss"] - single["eval"][0]["lm_loss"]) < 1e-5
    assert abs(ev["mtp_acceptance"][0] - single["eval"][0]["mtp_acceptance"][0]) < 1e-6
    # each rank holds about half the parameters, gradients and Adam state
    mem = next(r for r in recs if r["event"] == "memory")
    one = single["memory"]
    for k in ("params_bytes", "grads_bytes", "optimizer_bytes"):
        assert 0.45 * one[k] <= mem[k] <= 0.55 * one[k], (k, mem[k], one[k])
    # the gathered checkpoint is a plain full state dict: a single process resumes from it
    state = torch.load(tmp_path / "ck" / "iter_0000020" / "model_optim_rng.pt", weights_only=True)
    assert state["world_size"] == 2
    assert all(not hasattr(v, "to_local") for v in state["model"].values())
    more = main(tiny_args(shards, 22, "--micro-batch-size", "2", "--mtp-num-layers", "1",
                          "--load", str(tmp_path / "ck"), "--lr-decay-iters", "20"))
    assert more["iteration"] == [21, 22] and np.isfinite(more["lm_loss"]).all()
