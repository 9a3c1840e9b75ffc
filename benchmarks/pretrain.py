"""Throughput of `curate pretrain`: tokens/s and MFU for a ~1B-parameter GPT (GPU) or a small one (CPU).

    python benchmarks/pretrain.py                    # picks 1b on CUDA, small on CPU
    python benchmarks/pretrain.py --config 1b --runs mtp,compile,nomtp --iters 30

Writes synthetic Megatron shards (random token ids, log-normal document lengths, an EOD per
document) with the project's IndexedDatasetBuilder, then trains through the real entrypoint
(`curate.pretrain.train.main`, same flags as the CLI) and reads its JSONL log. The first log
window (CUDA warmup, compilation) is dropped; the rest are averaged. Peer runs in the same
invocation: `nomtp` (the same model without the MTP module, i.e. what MTP costs) and
`compile` (torch.compile). MFU = model FLOPs per token x tokens/s / peak dense bf16 FLOP/s,
counting matmuls only (attention scores included, causal half).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ensure_importable() -> None:
    """Make `curate.*` importable from a plain checkout (no `pip install -e .`), e.g. on a bare GPU box."""
    try:
        import curate.pretrain.train  # noqa: F401
        return
    except ModuleNotFoundError:
        pass
    sys.path.insert(0, ROOT)
    import curate

    if ROOT not in curate.__path__:
        curate.__path__.append(ROOT)  # top-level folders (pretrain/, mixtures/) become curate.<name>


CONFIGS = {
    # ~1.0B parameters with the 32,000-id vocabulary below
    "1b": dict(num_layers=20, hidden_size=2048, num_attention_heads=16, num_query_groups=4, ffn_hidden_size=5632,
               seq_length=4096, micro_batch_size=4, global_batch_size=16, vocab_size=32000, mtp_num_layers=1),
    "small": dict(num_layers=4, hidden_size=256, num_attention_heads=8, num_query_groups=2, ffn_hidden_size=704,
                  seq_length=512, micro_batch_size=4, global_batch_size=8, vocab_size=16384, mtp_num_layers=1),
}


def write_shards(folder: str, vocab: int, tokens_needed: int, seed: int = 0) -> str:
    from curate.mixtures.indexed import IndexedDatasetBuilder, best_dtype

    rng = np.random.default_rng(seed)
    prefixes = []
    for name, share in (("web", 0.6), ("math", 0.4)):
        prefix = os.path.join(folder, name)
        want = int(tokens_needed * share * 1.2) + 10_000
        lengths = np.clip(rng.lognormal(6.5, 1.0, size=max(8, want // 700 + 8)).astype(np.int64), 16, 32768)
        with IndexedDatasetBuilder(prefix, dtype=best_dtype(vocab)) as b:
            for n in lengths:
                doc = rng.integers(1, vocab, size=int(n), dtype=np.int64)
                doc[-1] = 0  # EOD
                b.add_document(doc)
        prefixes.append((share, prefix))
    # a blend file without the mix step's records: Megatron's data_path, prefixes relative to it
    blend = {"data_path": " ".join(f"{w} {os.path.basename(p)}" for w, p in prefixes)}
    path = os.path.join(folder, "blend.json")
    with open(path, "w") as f:
        json.dump(blend, f)
    return path


def run_one(label: str, cfg: dict, blend: str, iters: int, device: str, work: str, extra: list[str]) -> dict:
    from curate.pretrain.train import main

    log = os.path.join(work, f"{label}.jsonl")
    interval = max(1, iters // 6)
    argv = ["--data-path", blend, "--vocab-size", str(cfg["vocab_size"]), "--device", device,
            "--num-layers", str(cfg["num_layers"]), "--hidden-size", str(cfg["hidden_size"]),
            "--num-attention-heads", str(cfg["num_attention_heads"]), "--num-query-groups", str(cfg["num_query_groups"]),
            "--ffn-hidden-size", str(cfg["ffn_hidden_size"]), "--seq-length", str(cfg["seq_length"]),
            "--micro-batch-size", str(cfg["micro_batch_size"]), "--global-batch-size", str(cfg["global_batch_size"]),
            "--mtp-num-layers", str(cfg["mtp_num_layers"]), "--train-iters", str(iters), "--lr", "3e-4",
            "--lr-warmup-iters", "2", "--log-interval", str(interval), "--eval-iters", "0", "--split", "100,0,0",
            "--num-workers", "2", "--log-jsonl", log, *extra]
    if device == "cuda":
        argv.append("--bf16")
    t0 = time.perf_counter()
    main(argv)
    wall = time.perf_counter() - t0
    recs = [json.loads(x) for x in open(log)]
    conf = next(r for r in recs if r["event"] == "config")
    train = [r for r in recs if r["event"] == "train"][1:]  # drop the warmup window
    tok_s = float(np.mean([r["tokens_per_s"] for r in train]))
    tflops = float(np.mean([r["tflops_per_device"] for r in train]))
    mfus = [r["mfu"] for r in train if r["mfu"] is not None]
    out = {"label": label, "params": conf["params"]["total"], "flops_per_token": conf["flops_per_token"],
           "tokens_per_s": tok_s, "tflops_per_device": tflops, "mfu": float(np.mean(mfus)) if mfus else None,
           "ms_per_iter": float(np.mean([r["ms_per_iter"] for r in train])), "wall_s": wall,
           "final_lm_loss": train[-1]["lm_loss"], "mtp_loss": train[-1]["mtp_loss"]}
    if device == "cuda":
        import torch

        out["max_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.empty_cache()
    return out


def main() -> None:
    _ensure_importable()
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--runs", default=None, help="comma list of mtp, nomtp, compile (default: mtp,nomtp; +compile on CUDA)")
    ap.add_argument("--micro-batch-size", type=int, default=None)
    ap.add_argument("--work", default=None, help="folder for the synthetic shards (default: a temp dir)")
    a = ap.parse_args()
    cfg = dict(CONFIGS[a.config or ("1b" if a.device == "cuda" else "small")])
    if a.micro_batch_size:
        cfg["micro_batch_size"] = a.micro_batch_size
    iters = a.iters or (30 if a.device == "cuda" else 12)
    runs = (a.runs or ("mtp,nomtp,compile" if a.device == "cuda" else "mtp,nomtp")).split(",")

    dev_name = torch.cuda.get_device_name() if a.device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__} | device: {dev_name}")
    print("config: " + " ".join(f"{k}={v}" for k, v in cfg.items()) + f" iters={iters} bf16={a.device == 'cuda'}")
    work = a.work or tempfile.mkdtemp(prefix="curate-bench-pretrain-")
    os.makedirs(work, exist_ok=True)
    t0 = time.perf_counter()
    need = iters * cfg["global_batch_size"] * (cfg["seq_length"] + 1)
    blend = write_shards(work, cfg["vocab_size"], need)
    print(f"synthetic shards: {need:,} tokens needed, written in {time.perf_counter() - t0:.1f}s to {work}")

    results = []
    for r in runs:
        c = dict(cfg)
        extra = []
        if r == "nomtp":
            c["mtp_num_layers"] = 0
        elif r == "compile":
            extra.append("--compile")
        try:
            res = run_one(r, c, blend, iters, a.device, work, extra)
        except Exception as e:  # report and go on with the other runs
            print(f"run {r} failed: {type(e).__name__}: {e}")
            continue
        results.append(res)
        print("RESULT " + json.dumps(res))

    print()
    print(f"{'run':8s} {'params':>9s} {'tokens/s':>11s} {'TFLOP/s':>8s} {'MFU':>6s} {'ms/iter':>8s} {'mem GiB':>8s}")
    base = results[0]["tokens_per_s"] if results else None
    for res in results:
        mfu = f"{100 * res['mfu']:.1f}%" if res["mfu"] is not None else "n/a"
        mem = f"{res.get('max_mem_gib', float('nan')):.1f}"
        print(f"{res['label']:8s} {res['params'] / 1e9:8.3f}B {res['tokens_per_s']:11,.0f} {res['tflops_per_device']:8.1f} "
              f"{mfu:>6s} {res['ms_per_iter']:8.0f} {mem:>8s}   x{res['tokens_per_s'] / base:.2f} vs {results[0]['label']}")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
