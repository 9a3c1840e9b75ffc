"""Pretraining entrypoint: a tiny GPT with multi-token prediction on shards made here.

The `shards` fixture writes two Megatron indexed datasets (through the project's builder)
of learnable token data, a blend.json with relative prefixes and a tiny word-level
tokenizer.json, so the tests run in seconds on CPU.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curate.mixtures.indexed import IndexedDatasetBuilder  # noqa: E402
from curate.pretrain.train import main  # noqa: E402

EOD = 0
VOCAB = 96  # padded to 128 by --make-vocab-size-divisible-by
SOURCES = {"math": (2, 40), "code": (50, 90)}  # token id ranges of each source


def write_tokenizer(path: str, vocab: int = VOCAB) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = {"<|endoftext|>": EOD, "<unk>": 1}
    words.update({f"w{i}": i for i in range(2, vocab)})
    tok = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(path)
    return path


def write_source(prefix: str, lo: int, hi: int, n_docs: int, seed: int, max_len: int = 120) -> None:
    """Documents that repeat a short ascending run of ids (next token is predictable), then EOD."""
    rng = np.random.default_rng(seed)
    with IndexedDatasetBuilder(prefix, dtype=np.uint16) as b:
        for _ in range(n_docs):
            period = int(rng.integers(3, 7))
            start = int(rng.integers(lo, hi - period))
            n = int(rng.integers(10, max_len))
            run = np.arange(start, start + period)
            b.add_document(np.concatenate([np.resize(run, n), [EOD]]))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matmuls on a shared machine run far faster on one thread (no OpenMP spinning)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    stage = os.environ.get("CURATE_TEST_STAGE_DIR")  # e.g. out/stage2 from `curate run stage2`
    if stage:
        return {"blend": os.path.join(stage, "blend.json"), "tokenizer": None, "dir": None}
    d = tmp_path_factory.mktemp("pretrain-shards")
    os.makedirs(d / "shards")
    for i, (name, (lo, hi)) in enumerate(SOURCES.items()):
        write_source(str(d / "shards" / name), lo, hi, n_docs=400, seed=i)
    blend = {"weights": [0.7, 0.3], "prefixes": ["shards/math", "shards/code"],
             "data_path": "0.7 shards/math 0.3 shards/code"}
    (d / "blend.json").write_text(json.dumps(blend))
    return {"blend": str(d / "blend.json"), "tokenizer": write_tokenizer(str(d / "tokenizer.json")), "dir": d}


def tiny_args(shards, iters, *extra):
    """Flags of a tiny run; shards["tokenizer"] None means the bundled tokenizer (stage shards)."""
    tok = ["--tokenizer", shards["tokenizer"]] if shards.get("tokenizer") else []
    return [
        "--data-path", shards["blend"], *tok,
        "--seq-length", "32", "--micro-batch-size", "4", "--global-batch-size", "8",
        "--num-layers", "2", "--hidden-size", "32", "--num-attention-heads", "4", "--num-query-groups", "2",
        "--ffn-hidden-size", "64", "--mtp-num-layers", "2", "--mtp-loss-scaling-factor", "0.3",
        "--train-iters", str(iters), "--lr", "1e-2", "--min-lr", "1e-3", "--lr-warmup-iters", "5",
        "--weight-decay", "0.01", "--clip-grad", "1.0", "--seed", "7", "--num-workers", "0",
        "--log-interval", "10", "--eval-interval", "1000", "--eval-iters", "0", "--device", "cpu",
        *extra,
    ]


def test_loss_and_mtp_loss_fall(shards, tmp_path):
    log = tmp_path / "log.jsonl"
    h = main(tiny_args(shards, 50, "--eval-iters", "2", "--eval-interval", "25", "--log-jsonl", str(log)))
    lm = np.array(h["lm_loss"])
    mtp = np.array(h["mtp_loss"])
    assert lm.shape == (50,) and mtp.shape == (50, 2)  # both MTP depths logged every iteration
    assert np.isfinite(lm).all() and np.isfinite(mtp).all()
    from curate.mixtures.tokenizer import load_tokenizer

    vocab = load_tokenizer(shards.get("tokenizer")).get_vocab_size()
    assert lm[:3].mean() > np.log(vocab) - 1.0  # starts near chance
    assert lm[-5:].mean() < lm[:5].mean() - 1.0  # falls by more than a nat in 50 iterations
    for k in range(2):  # and so does each MTP depth's loss
        assert mtp[-5:, k].mean() < mtp[:5, k].mean() - 1.0
    assert len(h["eval"]) == 2 and h["eval"][1]["lm_loss"] < h["eval"][0]["lm_loss"]
    assert h["tokens_per_s"] > 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    train_recs = [r for r in records if r["event"] == "train"]
    assert [r["iteration"] for r in train_recs] == [10, 20, 30, 40, 50]
    assert all(len(r["mtp_loss"]) == 2 and r["tokens_per_s"] > 0 for r in train_recs)


def test_loss_and_mtp_loss_fall_on_stage2_shards(stage2_run, tmp_path):
    """The issue's case: shards made by `curate run stage2` from the embedded sample, bundled tokenizer."""
    out, _ = stage2_run
    stage = {"blend": str(out / "blend.json"), "tokenizer": None}
    h = main(tiny_args(stage, 50, "--override-stage-context"))  # the blend says 8,192; a tiny run trains at 32
    lm, mtp = np.array(h["lm_loss"]), np.array(h["mtp_loss"])
    assert lm.shape == (50,) and mtp.shape == (50, 2) and np.isfinite(lm).all() and np.isfinite(mtp).all()
    assert lm[-5:].mean() < lm[:5].mean() - 1.0
    for k in range(2):
        assert mtp[-5:, k].mean() < mtp[:5, k].mean() - 1.0


def test_resume_equals_uninterrupted(shards, tmp_path):
    full = main(tiny_args(shards, 40, "--lr-decay-style", "wsd", "--lr-wsd-decay-iters", "10"))
    ckpt = str(tmp_path / "ckpt")
    first = main(tiny_args(shards, 40, "--lr-decay-style", "wsd", "--lr-wsd-decay-iters", "10",
                           "--save", ckpt, "--save-interval", "100", "--exit-interval", "20"))
    assert first["final_iteration"] == 20
    assert (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").read_text() == "20"
    state = torch.load(tmp_path / "ckpt" / "iter_0000020" / "model_optim_rng.pt", weights_only=True)
    assert state["iteration"] == 20 and state["consumed_samples"] == 160
    torch.load(tmp_path / "ckpt" / "iter_0000020" / "rng_rank_000.pt", weights_only=True)
    # the resumed half reads its data through a worker process
    second = main(tiny_args(shards, 40, "--lr-decay-style", "wsd", "--lr-wsd-decay-iters", "10",
                            "--load", ckpt, "--save", ckpt, "--num-workers", "1"))
    assert second["iteration"] == list(range(21, 41))
    assert first["lm_loss"] + second["lm_loss"] == full["lm_loss"]
    assert first["mtp_loss"] + second["mtp_loss"] == full["mtp_loss"]
    assert first["grad_norm"] + second["grad_norm"] == full["grad_norm"]
    assert first["lr"] + second["lr"] == full["lr"]
    assert (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").read_text() == "40"


def test_resume_refuses_changed_schedule(shards, tmp_path):
    ckpt = str(tmp_path / "ckpt")
    main(tiny_args(shards, 8, "--save", ckpt, "--exit-interval", "4"))
    with pytest.raises(ValueError, match="schedule differs"):
        main(tiny_args(shards, 8, "--load", ckpt, "--lr", "5e-3"))


def test_data_path_forms_agree(shards):
    from curate.pretrain.data import parse_data_path

    d = shards["dir"]
    if d is None:
        pytest.skip("needs the generated shards")
    w1, p1 = parse_data_path([shards["blend"]])
    w2, p2 = parse_data_path(["7", str(d / "shards/math"), "3", str(d / "shards/code")])
    assert p1 == p2 and np.allclose(w1, [0.7, 0.3]) and np.allclose(w2, w1)
    assert all(os.path.isabs(p) for p in p1)
    w3, _ = parse_data_path([str(d / "shards/math")])
    assert w3 == [1.0]
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        parse_data_path(["1", str(d / "nope")])
    with pytest.raises(ValueError):
        parse_data_path(["0.5", str(d / "shards/math"), str(d / "shards/code")])
    # the mix step's blend.json: a Megatron data_path string plus per-dataset records
    mix_blend = d / "mix" / "blend.json"
    os.makedirs(mix_blend.parent, exist_ok=True)
    mix_blend.write_text(json.dumps({
        "data_path": "0.25 ../shards/math 0.75 ../shards/code",
        "datasets": [{"prefix": "../shards/math", "weight": 0.25}, {"prefix": "../shards/code", "weight": 0.75}],
        "tokenizer": {"vocab_size": 50000, "eod_id": 0},
    }))
    w4, p4 = parse_data_path([str(mix_blend)])
    assert p4 == p1 and np.allclose(w4, [0.25, 0.75])
    with pytest.raises(SystemExit, match="was tokenized with 50000"):
        main(tiny_args({"blend": str(mix_blend), "tokenizer": shards["tokenizer"]}, 8))


def test_bad_token_ids_name_the_shard(shards, tmp_path):
    tok = write_tokenizer(str(tmp_path / "small.json"), vocab=20)  # shards hold ids up to 89
    # a blend.json that records its tokenizer is refused up front; bare shards fail on the first bad id
    with pytest.raises((ValueError, SystemExit), match="outside the vocabulary|was tokenized with"):
        main(tiny_args(shards, 8, "--tokenizer", tok))


def test_cli_help_documents_every_flag():
    from click.testing import CliRunner

    from curate.cli import cli

    res = CliRunner().invoke(cli, ["pretrain", "--help"])
    assert res.exit_code == 0, res.output
    for flag in ["--data-path", "--split", "--seq-length", "--micro-batch-size", "--global-batch-size",
                 "--train-iters", "--lr", "--min-lr", "--lr-warmup-iters", "--lr-decay-style", "--weight-decay",
                 "--clip-grad", "--num-layers", "--hidden-size", "--num-attention-heads", "--num-query-groups",
                 "--ffn-hidden-size", "--bf16", "--save", "--load", "--save-interval", "--eval-interval",
                 "--eval-iters", "--seed", "--mtp-num-layers", "--mtp-loss-scaling-factor", "--tokenizer"]:
        assert flag in res.output, flag
    assert "cosine" in res.output and "wsd" in res.output


def test_torchrun_ddp_matches_single_process(shards, tmp_path):
    """Two gloo ranks (torchrun) with the same global batch follow the single-process run."""
    import subprocess
    import sys

    args = tiny_args(shards, 6, "--micro-batch-size", "2", "--log-interval", "1", "--mtp-num-layers", "1")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ddp_log = tmp_path / "ddp.jsonl"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "curate.pretrain", *args, "--log-jsonl", str(ddp_log), "--save", str(tmp_path / "ck")]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "data-parallel 2" in res.stdout and "accumulation 2" in res.stdout
    ddp = [json.loads(x) for x in ddp_log.read_text().splitlines()]
    ddp = [r for r in ddp if r["event"] == "train"]
    single = main(args)
    assert [r["iteration"] for r in ddp] == single["iteration"] == list(range(1, 7))
    np.testing.assert_allclose([r["lm_loss"] for r in ddp], single["lm_loss"], rtol=1e-5)
    np.testing.assert_allclose([r["mtp_loss"] for r in ddp], single["mtp_loss"], rtol=1e-5)
    assert sorted(os.listdir(tmp_path / "ck" / "iter_0000006")) == ["model_optim_rng.pt", "rng_rank_000.pt", "rng_rank_001.pt"]
