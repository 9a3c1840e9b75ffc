"""`curate pretrain` measured against peer runs in the same invocation.

    python benchmarks/pretrain.py                    # throughput: picks 1b on CUDA, small on CPU
    python benchmarks/pretrain.py --config 1b --runs mtp,compile,nomtp --iters 30 [--seq-length 32768]
    python benchmarks/pretrain.py ce [--tokens 2048] [--vocab 152064] [--repeats 3]
    python benchmarks/pretrain.py fsdp [--iters 20]  # 2 gloo (CPU) / NCCL (GPU) ranks vs one process
    python benchmarks/pretrain.py index [--docs 2000000] [--epochs 4]

``ce``: peak memory of one forward+backward of the output-head cross-entropy, chunked
(``pretrain/loss.py``) against full fp32 logits + ``F.cross_entropy``, each in a fresh process
(CPU: peak RSS above the inputs, via /proc clear_refs + VmHWM; CUDA: max_memory_allocated),
median and min-max over repeats, and the largest loss difference.
``fsdp``: the same run (same seed, data, global batch) as one process, one process with
activation checkpointing, and FSDP2 over 2 ranks with and without it: memory per rank
(parameters, gradients, Adam state — this rank's shards — and the activations one micro-batch
saves for backward, from the trainer's ``memory`` record) and the largest loss difference from
the single process over all iterations.

``index``: the loader's index for one shard of ``--docs`` documents read ``--epochs`` times
(build time, bytes held, time per sample), against the previous index rebuilt here as the peer
(int64 document order and cumulative ends for every epoch at once).

Throughput (default):

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
    argv = _argv(cfg, blend, iters, device, log, extra, interval)
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


def _ce_child(variant: str, tokens: int, vocab: int, hidden: int, device: str) -> dict:
    """One forward+backward of the head's cross-entropy; peak bytes above the inputs."""
    import torch
    import torch.nn.functional as F

    from curate.pretrain.loss import chunked_cross_entropy

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    g = torch.Generator().manual_seed(0)
    h = torch.randn(tokens, hidden, generator=g).to(device).requires_grad_()
    w = (torch.randn(vocab, hidden, generator=g) * 0.05).to(device).requires_grad_()
    labels = torch.randint(0, vocab, (tokens,), generator=g).to(device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        base = _vm("VmRSS")
    t0 = time.perf_counter()
    if variant == "full":
        loss = F.cross_entropy((h @ w.t()).float(), labels)
    else:
        loss = chunked_cross_entropy(h, w, labels).mean()
    loss.backward()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _vm("VmHWM") - base
    return {"variant": variant, "peak_bytes": peak, "loss": loss.item(), "seconds": time.perf_counter() - t0}


def _vm(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def bench_ce(a, device: str) -> None:
    import subprocess

    print(f"cross-entropy of {a.tokens:,} tokens x vocab {a.vocab:,} (hidden {a.hidden}) on {device}; full fp32 logits "
          f"would be {a.tokens * a.vocab * 4 / 2**30:.2f} GiB (at 32,768 tokens: {32768 * a.vocab * 4 / 2**30:.1f} GiB)")
    res = {"full": [], "chunked": []}
    for _ in range(a.repeats):
        for v in ("chunked", "full"):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "_ce_child", v, str(a.tokens), str(a.vocab),
                                  str(a.hidden), device], capture_output=True, text=True, check=True)
            res[v].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for v, rows in res.items():
        peaks = sorted(r["peak_bytes"] / 2**20 for r in rows)
        secs = sorted(r["seconds"] for r in rows)
        print(f"  {v:8s} peak {np.median(peaks):9.1f} MiB (min-max {peaks[0]:.1f}-{peaks[-1]:.1f}) | "
              f"{np.median(secs):.2f} s (min-max {secs[0]:.2f}-{secs[-1]:.2f})")
    full, ch = np.median([r["peak_bytes"] for r in res["full"]]), np.median([r["peak_bytes"] for r in res["chunked"]])
    diff = max(abs(x["loss"] - y["loss"]) for x, y in zip(res["full"], res["chunked"]))
    print(f"RESULT ce peak memory chunked/full = {ch / full:.3f} (x{full / max(ch, 1):.1f} less); max |loss diff| {diff:.2e}")


def bench_index(a) -> None:
    from curate.mixtures.indexed import IndexedDatasetBuilder
    from curate.pretrain.data import GPTDataset

    work = a.work or tempfile.mkdtemp(prefix="curate-bench-index-")
    os.makedirs(work, exist_ok=True)
    prefix = os.path.join(work, "docs")
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 12, size=a.docs)  # short documents: the index, not the tokens, is measured
    t0 = time.perf_counter()
    with IndexedDatasetBuilder(prefix, dtype=np.uint16) as b:
        b.add_documents(np.ones(int(n), dtype=np.uint16) for n in lengths)
    print(f"shard: {a.docs:,} documents, {int(lengths.sum()):,} tokens, written in {time.perf_counter() - t0:.1f}s")
    seq = 512
    samples = int(a.epochs * lengths.sum() // seq) - 1
    rows = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        ds = GPTDataset(prefix, (0, a.docs), seq, samples, seed=r, key=(0,))
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        mid = samples // 2
        idx = [*range(100), *range(mid, mid + 100)]  # in order, as the training loader reads them
        for i in idx:
            ds[int(i)]
        per_sample = (time.perf_counter() - t0) / len(idx)
        t0 = time.perf_counter()
        peer = _previous_index(ds.lengths, ds.num_epochs, r)
        peer_build = time.perf_counter() - t0
        rows.append((build, ds.index_bytes(), per_sample, peer_build, peer + ds.shuffle.astype(np.int64).nbytes))
    med = np.median(np.array(rows), axis=0)
    print(f"  curate: build {med[0]:.2f}s, index {med[1] / 2**20:.1f} MiB, {1e3 * med[2]:.2f} ms/sample "
          f"({ds.num_epochs} epochs, {samples:,} samples of {seq})")
    print(f"  peer (all epochs at once, int64): build {med[3]:.2f}s, index {med[4] / 2**20:.1f} MiB")
    print(f"RESULT index bytes curate/peer = {med[1] / med[4]:.3f}; build time curate/peer = {med[0] / med[3]:.3f}")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


def _previous_index(lengths: np.ndarray, epochs: int, seed: int) -> int:
    """Bytes of the index the loader used to build: int64 order and cumulative ends over all epochs."""
    rng = np.random.default_rng([seed, 0x6770])
    order = np.concatenate([rng.permutation(len(lengths)) for _ in range(epochs)])
    ends = np.cumsum(lengths.astype(np.int64)[order])
    docs = np.arange(len(lengths), dtype=np.int64)[order]
    return int(order.nbytes + ends.nbytes + docs.nbytes)


FSDP_CONFIG = dict(num_layers=4, hidden_size=128, num_attention_heads=4, num_query_groups=2, ffn_hidden_size=384,
                   seq_length=256, micro_batch_size=2, global_batch_size=8, vocab_size=8192, mtp_num_layers=1)


def bench_fsdp(a, device: str) -> None:
    import subprocess

    cfg = dict(FSDP_CONFIG)
    iters = a.iters or 20
    work = a.work or tempfile.mkdtemp(prefix="curate-bench-fsdp-")
    os.makedirs(work, exist_ok=True)
    blend = write_shards(work, cfg["vocab_size"], iters * cfg["global_batch_size"] * (cfg["seq_length"] + 1))
    print(f"config: " + " ".join(f"{k}={v}" for k, v in cfg.items()) + f" iters={iters} device={device}")
    runs = {}
    for label, world, extra in (("single", 1, []), ("single+ckpt", 1, ["--recompute-activations"]),
                                ("fsdp2x2", 2, ["--use-torch-fsdp2"]),
                                ("fsdp2x2+ckpt", 2, ["--use-torch-fsdp2", "--recompute-activations"])):
        log = os.path.join(work, f"{label}.jsonl")
        if os.path.exists(log):
            os.remove(log)
        argv = _argv(cfg, blend, iters, device, log, extra, interval=1)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(world),
               "-m", "curate.pretrain", *argv] if world > 1 else [sys.executable, "-m", "curate.pretrain", *argv]
        env = dict(os.environ, OMP_NUM_THREADS="1")  # one thread per rank: the same arithmetic in every run
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            print(f"run {label} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
            continue
        recs = [json.loads(x) for x in open(log)]
        runs[label] = {"mem": next(r for r in recs if r["event"] == "memory"), "wall_s": time.perf_counter() - t0,
                       "loss": [r["lm_loss"] for r in recs if r["event"] == "train"],
                       "mtp": [r["mtp_loss"] for r in recs if r["event"] == "train"]}
    ref = runs.get("single")
    print(f"{'run':13s} {'params':>9s} {'grads':>9s} {'adam':>9s} {'activ.':>9s} {'total/rank':>11s} {'vs single':>9s} "
          f"{'max|dloss|':>11s} {'wall s':>7s}   (MiB per rank)")
    for label, r in runs.items():
        m = r["mem"]
        diff = (max(max(abs(x - y) for x, y in zip(r["loss"], ref["loss"])),
                    max(abs(x - y) for u, v in zip(r["mtp"], ref["mtp"]) for x, y in zip(u, v))) if ref else float("nan"))
        ratio = m["total_bytes"] / ref["mem"]["total_bytes"] if ref else float("nan")
        print(f"{label:13s} " + " ".join(f"{m[k] / 2**20:9.2f}" for k in ("params_bytes", "grads_bytes",
                                                                            "optimizer_bytes", "activations_bytes"))
              + f" {m['total_bytes'] / 2**20:11.2f} {ratio:9.2f} {diff:11.2e} {r['wall_s']:7.1f}")
    if ref and "fsdp2x2" in runs:
        d = max(abs(x - y) for x, y in zip(runs["fsdp2x2"]["loss"], ref["loss"]))
        print(f"RESULT fsdp2 2 ranks vs 1 process: {len(ref['loss'])} iterations, max |lm loss diff| {d:.2e} "
              f"({'within' if d <= 1e-5 else 'OUTSIDE'} 1e-5)")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


def _argv(cfg: dict, blend: str, iters: int, device: str, log: str, extra: list[str], interval: int) -> list[str]:
    argv = ["--data-path", blend, "--vocab-size", str(cfg["vocab_size"]), "--device", device,
            "--num-layers", str(cfg["num_layers"]), "--hidden-size", str(cfg["hidden_size"]),
            "--num-attention-heads", str(cfg["num_attention_heads"]), "--num-query-groups", str(cfg["num_query_groups"]),
            "--ffn-hidden-size", str(cfg["ffn_hidden_size"]), "--seq-length", str(cfg["seq_length"]),
            "--micro-batch-size", str(cfg["micro_batch_size"]), "--global-batch-size", str(cfg["global_batch_size"]),
            "--mtp-num-layers", str(cfg["mtp_num_layers"]), "--train-iters", str(iters), "--lr", "3e-4",
            "--lr-warmup-iters", "2", "--log-interval", str(interval), "--eval-iters", "0", "--split", "100,0,0",
            "--num-workers", "1", "--log-jsonl", log, *extra]
    if device == "cuda":
        argv.append("--bf16")
    return argv


def main() -> None:
    _ensure_importable()
    if len(sys.argv) > 1 and sys.argv[1] == "_ce_child":
        v, n, vocab, hidden, device = sys.argv[2:7]
        print(json.dumps(_ce_child(v, int(n), int(vocab), int(hidden), device)))
        return
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", choices=["throughput", "ce", "fsdp", "index"], default="throughput")
    ap.add_argument("--docs", type=int, default=2_000_000, help="index: documents in the shard")
    ap.add_argument("--epochs", type=float, default=4.0, help="index: passes the samples need")
    ap.add_argument("--tokens", type=int, default=2048, help="ce: tokens per forward")
    ap.add_argument("--vocab", type=int, default=152064, help="ce: vocabulary (Qwen2/MiMo: 151,680 padded to 152,064)")
    ap.add_argument("--hidden", type=int, default=64, help="ce: hidden size (memory is dominated by the logits)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seq-length", type=int, default=None, help="throughput: override the config's sequence length")
    ap.add_argument("--config", choices=sorted(CONFIGS), default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--runs", default=None, help="comma list of mtp, nomtp, compile (default: mtp,nomtp; +compile on CUDA)")
    ap.add_argument("--micro-batch-size", type=int, default=None)
    ap.add_argument("--work", default=None, help="folder for the synthetic shards (default: a temp dir)")
    a = ap.parse_args()
    if a.what == "ce":
        return bench_ce(a, a.device)
    if a.what == "fsdp":
        return bench_fsdp(a, a.device)
    if a.what == "index":
        return bench_index(a)
    cfg = dict(CONFIGS[a.config or ("1b" if a.device == "cuda" else "small")])
    if a.seq_length:
        cfg["seq_length"] = a.seq_length
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
