"""Stage-aware pretraining: context from blend.json, stage 2 -> stage 3 transition at 32,768
tokens with a new RoPE base, and a bit-exact resume after SIGKILL inside stage 3.

The blends are written by the mix step's own record (``Blend.build(...).write``) over shards
written with the project's IndexedDatasetBuilder; the model is tiny (one layer, one head) so a
32k sequence trains in ~2.5 s on one CPU thread (causal attention over 32,768 positions is the
floor); the SIGKILLed stage-3 run works in a subprocess while the uninterrupted one runs here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curate.mixtures.blend import Blend  # noqa: E402
from curate.mixtures.indexed import IndexedDataset  # noqa: E402
from curate.pretrain.train import main  # noqa: E402
from test_pretrain import EOD, write_source, write_tokenizer  # noqa: E402

SEQ3, BASE3 = 32768, 640000.0


def write_stage(folder, tok_path: str, seq: int, rotary_base, n_docs: int, max_len: int, seed: int) -> str:
    from curate.mixtures.tokenizer import file_sha256

    os.makedirs(folder / "shards", exist_ok=True)
    datasets = []
    for i, (name, (lo, hi)) in enumerate({"math": (2, 40), "code": (50, 90)}.items()):
        prefix = folder / "shards" / name
        write_source(str(prefix), lo, hi, n_docs=n_docs, seed=seed + i, max_len=max_len)
        ds = IndexedDataset(str(prefix))
        tokens = int(np.asarray(ds.sequence_lengths).sum())
        datasets.append({"source": name, "prefix": f"shards/{name}", "docs": len(ds), "tokens": tokens,
                         "bytes": os.path.getsize(str(prefix) + ".bin")})
    tok = {"path": "tokenizer.json", "sha256": file_sha256(tok_path), "vocab_size": 96, "eod_id": EOD, "dtype": "uint16"}
    return Blend.build(tok, context_length=seq, seed=1, datasets=datasets, rotary_base=rotary_base).write(str(folder))


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    d = tmp_path_factory.mktemp("stages")
    tok = write_tokenizer(str(d / "tokenizer.json"))
    s2 = write_stage(d / "stage2", tok, 32, None, n_docs=300, max_len=120, seed=0)
    s3 = write_stage(d / "stage3", tok, SEQ3, BASE3, n_docs=120, max_len=2000, seed=10)  # ~120k tokens per source
    return {"s2": s2, "s3": s3, "tok": tok, "dir": d}


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def model_args(stages, blend, iters, *extra):
    return ["--data-path", blend, "--tokenizer", stages["tok"], "--micro-batch-size", "1",
            "--num-layers", "1", "--hidden-size", "16", "--num-attention-heads", "1",
            "--ffn-hidden-size", "32", "--train-iters", str(iters), "--seed", "3",
            "--num-workers", "0", "--log-interval", "1", "--eval-iters", "0", "--split", "100,0,0",
            "--device", "cpu", *extra]


def stage2_args(stages, ckpt):
    return model_args(stages, stages["s2"], 12, "--global-batch-size", "8", "--lr", "3e-2", "--min-lr", "1e-3",
                      "--lr-warmup-iters", "2", "--save", ckpt)


def stage3_args(stages, ckpt2, *extra):
    return model_args(stages, stages["s3"], 15, "--global-batch-size", "1", "--lr", "3e-3",
                      "--lr-decay-style", "constant", "--stage-transition", ckpt2, *extra)


def test_seq_length_and_rope_base_come_from_the_blend(stages, tmp_path):
    with pytest.raises(SystemExit, match="--seq-length 4096 differs from the blend's context_length 32768"):
        main(model_args(stages, stages["s3"], 1, "--seq-length", "4096"))
    with pytest.raises(SystemExit, match="--rotary-base 10000 differs from the blend's rotary_base 640000"):
        main(model_args(stages, stages["s3"], 1, "--rotary-base", "10000"))
    log = tmp_path / "log.jsonl"
    h = main(model_args(stages, stages["s2"], 1, "--log-jsonl", str(log), "--seq-length", "16",
                        "--override-stage-context"))
    conf = [json.loads(x) for x in log.read_text().splitlines()][0]
    assert conf["event"] == "config" and conf["seq_length"] == 16 and conf["rotary_base"] == 10000.0
    assert h["final_iteration"] == 1


def test_stage2_to_stage3_transition_and_resume_after_kill(stages, tmp_path):
    ckpt2 = str(tmp_path / "ckpt2")
    s2 = main(stage2_args(stages, ckpt2))
    assert s2["final_iteration"] == 12

    # stage 3 in a subprocess, SIGKILLed once its checkpoint at iteration 14 is written ...
    ckpt3 = tmp_path / "ckpt3"
    klog = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "curate.pretrain",
           *stage3_args(stages, ckpt2, "--save", str(ckpt3), "--save-interval", "2", "--log-jsonl", str(klog))]
    proc = subprocess.Popen(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    tracker = ckpt3 / "latest_checkpointed_iteration.txt"

    def kill_after_14():
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if tracker.exists() and tracker.read_text() == "14":
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_14)
    killer.start()
    # ... while the uninterrupted stage 3 (iterations 13..15 at 32k on the new blend) runs here
    log = tmp_path / "s3.jsonl"
    full = main(stage3_args(stages, ckpt2, "--log-jsonl", str(log)))
    killer.join()
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert tracker.read_text() == "14"

    recs = [json.loads(x) for x in log.read_text().splitlines()]
    trans = [r for r in recs if r["event"] == "stage_transition"]
    assert len(trans) == 1 and trans[0]["iteration"] == 12 and trans[0]["previous_consumed_samples"] == 96
    assert trans[0]["seq_length"] == SEQ3 and trans[0]["rotary_base"] == BASE3
    assert full["start"] == "transition" and full["stage_start_iteration"] == 12
    assert full["iteration"] == [13, 14, 15]
    assert full["consumed_samples"] == 3  # the data position restarted on the stage-3 blend
    assert full["lr"] == [3e-3] * 3  # this run's (constant) schedule, not stage 2's cosine
    # the weights came from stage 2: the first stage-3 loss is well below chance (log 128 = 4.85)
    assert full["lm_loss"][0] < np.log(128) - 0.5 and s2["lm_loss"][0] > np.log(128) - 0.1

    killed = [json.loads(x) for x in klog.read_text().splitlines()]
    assert [r["lm_loss"] for r in killed if r["event"] == "train"][:2] == full["lm_loss"][:2]
    state = torch.load(ckpt3 / "iter_0000014" / "model_optim_rng.pt", weights_only=True)
    # Adam's step count went on from stage 2's 12: the optimizer state was carried over
    assert {int(v["step"]) for v in state["optimizer"]["state"].values()} == {14}
    assert state["model_config"]["rotary_base"] == BASE3 and state["model_config"]["max_seq_length"] == SEQ3
    assert state["stage_start_iteration"] == 12 and state["consumed_samples"] == 2

    # rerunning the killed command with --load resumes inside stage 3, bit for bit
    resumed = main(stage3_args(stages, ckpt2, "--save", str(ckpt3), "--load", str(ckpt3)))
    assert resumed["start"] == "resume" and resumed["stage_start_iteration"] == 12
    assert resumed["iteration"] == [15]
    assert resumed["lm_loss"] == full["lm_loss"][2:]
    assert resumed["grad_norm"] == full["grad_norm"][2:]


def test_stage_transition_needs_more_iterations(stages, tmp_path):
    ckpt = str(tmp_path / "c")
    main(model_args(stages, stages["s2"], 2, "--global-batch-size", "8", "--save", ckpt))
    assert len(os.listdir(ckpt)) == 2  # iter_0000002 and the tracker
    with pytest.raises(SystemExit, match="must be larger"):
        main(model_args(stages, stages["s2"], 2, "--global-batch-size", "8", "--stage-transition", ckpt))
    with pytest.raises(SystemExit, match="holds no checkpoint"):
        main(model_args(stages, stages["s2"], 4, "--stage-transition", str(tmp_path / "nothing")))


def test_epoch_caps_of_a_mix_written_blend(stages, tmp_path):
    """A mix-written blend's shards already hold every allowed repetition: a second pass stops the run."""
    over = ["--global-batch-size", "8", "--seq-length", "8192", "--override-stage-context"]
    with pytest.raises(SystemExit, match=r"more often than allowed \(1 pass\(es\) per shard.*math: 1\.\d+ passes"):
        main(model_args(stages, stages["s2"], 1, *over))
    log = tmp_path / "log.jsonl"
    h = main(model_args(stages, stages["s2"], 1, *over, "--on-epoch-cap", "warn", "--log-jsonl", str(log)))
    assert h["final_iteration"] == 1
    warned = [json.loads(x) for x in log.read_text().splitlines() if "epoch_cap_exceeded" in x]
    assert len(warned) == 1 and warned[0]["cap"] == 1.0 and all(v > 1 for v in warned[0]["shards"].values())
    # a higher cap by flag lets it through without a word
    h = main(model_args(stages, stages["s2"], 1, *over, "--max-shard-epochs", "4"))
    assert h["final_iteration"] == 1
