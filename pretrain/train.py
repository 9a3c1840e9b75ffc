"""The training loop: AdamW, warmup + cosine/WSD, clipping, bf16 autocast, DDP, exact resume.

``main(argv)`` parses Megatron-style flags (``pretrain/args.py``), trains and returns a small
history (per-iteration LM and MTP losses, evaluations, last throughput) so tests and scripts
can check what happened without parsing logs.

Checkpoints (Megatron's directory layout)::

    SAVE/latest_checkpointed_iteration.txt     written last: a checkpoint is complete once named here
    SAVE/iter_0000020/model_optim_rng.pt       model, optimizer, scheduler, iteration, consumed samples, args
    SAVE/iter_0000020/rng_rank_000.pt          python / numpy / torch / cuda RNG states of each rank

Everything non-tensor is stored as plain Python values so ``torch.load(weights_only=True)``
reads them. The data position is the number of consumed samples: the sample order is a
deterministic function of the data, the split, the sequence length and the seed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist

from curate.pretrain.args import parse_args
from curate.pretrain.data import BlendedDataset, DataSpec, PretrainingSampler, collate, data_fingerprint, parse_data_path
from curate.pretrain.model import GPT, GPTConfig, count_parameters, flops_per_token
from curate.pretrain.schedule import LRSchedule, Scheduler

TRACKER = "latest_checkpointed_iteration.txt"

#: Dense bf16 peak TFLOP/s per device, matched against torch.cuda.get_device_name().
PEAK_TFLOPS = [("H200", 989.5), ("H100 PCIe", 756.0), ("H100", 989.5), ("H800", 989.5), ("A100", 312.0),
               ("A800", 312.0), ("L40S", 362.0), ("A10G", 125.0), ("L4", 121.0)]


class Dist:
    """World size, rank and device; initializes torch.distributed under torchrun (WORLD_SIZE > 1)."""

    def __init__(self, device_flag: str | None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        want = device_flag or ("cuda" if torch.cuda.is_available() else "cpu")
        if want.startswith("cuda"):
            if not torch.cuda.is_available():
                raise SystemExit("--device cuda requested but CUDA is not available")
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        self.initialized_here = False
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
            self.initialized_here = True

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.clone()
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= self.world
        return t

    def close(self) -> None:
        if self.initialized_here and dist.is_initialized():
            dist.destroy_process_group()


def _peak_tflops(args, device: torch.device) -> float | None:
    if args.peak_tflops:
        return args.peak_tflops
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, v in PEAK_TFLOPS:
            if key in name:
                return v
    return None


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], torch.from_numpy(np.asarray(np_state[1]).astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
    }


def _set_rng_state(st: dict) -> None:
    v, internal, gauss = st["python"]
    random.setstate((v, tuple(internal), gauss))
    n = st["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(st["torch"])
    if st.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


def _plain(v):
    """Args as JSON-able plain values (weights_only checkpoints hold nothing else)."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return str(v)


def _atomic_torch_save(obj, path: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(save_dir: str, iteration: int, raw_model, optimizer, scheduler, consumed: int,
                    args, fingerprint: str, d: Dist) -> str:
    ckpt = os.path.join(save_dir, f"iter_{iteration:07d}")
    os.makedirs(ckpt, exist_ok=True)
    if d.is_main:
        _atomic_torch_save(
            {
                "model": raw_model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "iteration": int(iteration),
                "consumed_samples": int(consumed),
                "data_fingerprint": fingerprint,
                "model_config": _plain(raw_model.cfg.to_dict()),
                "args": _plain(vars(args)),
                "world_size": d.world,
            },
            os.path.join(ckpt, "model_optim_rng.pt"),
        )
    _atomic_torch_save(_rng_state(), os.path.join(ckpt, f"rng_rank_{d.rank:03d}.pt"))
    d.barrier()
    if d.is_main:
        tmp = os.path.join(save_dir, f"{TRACKER}.tmp-{os.getpid()}")
        with open(tmp, "w") as f:
            f.write(str(iteration))
        os.replace(tmp, os.path.join(save_dir, TRACKER))
    d.barrier()
    return ckpt


def find_checkpoint(load_dir: str) -> str | None:
    tracker = os.path.join(load_dir, TRACKER)
    if not os.path.exists(tracker):
        return None
    with open(tracker) as f:
        it = int(f.read().strip())
    path = os.path.join(load_dir, f"iter_{it:07d}")
    if not os.path.exists(os.path.join(path, "model_optim_rng.pt")):
        raise FileNotFoundError(f"{tracker} names iteration {it} but {path}/model_optim_rng.pt is missing")
    return path


class Logger:
    def __init__(self, d: Dist, jsonl: str | None):
        self.d = d
        self.jsonl = jsonl

    def __call__(self, msg: str, record: dict | None = None) -> None:
        if not self.d.is_main:
            return
        print(msg, flush=True)
        if self.jsonl and record is not None:
            with open(self.jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def build_model(args, vocab_size: int) -> GPT:
    cfg = GPTConfig(
        vocab_size=vocab_size,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_attention_heads=args.num_attention_heads,
        num_query_groups=args.num_query_groups,
        ffn_hidden_size=args.ffn_hidden_size,
        max_seq_length=args.seq_length,
        rotary_base=args.rotary_base,
        norm_epsilon=args.norm_epsilon,
        init_method_std=args.init_method_std,
        tie_embeddings=not args.untie_embeddings_and_output_weights,
        mtp_num_layers=args.mtp_num_layers,
        mtp_loss_scaling_factor=args.mtp_loss_scaling_factor,
        recompute=args.recompute_activations,
    )
    return GPT(cfg)


def _optimizer(model: GPT, args, device: torch.device) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kw = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=args.lr, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_eps, **kw)


def _vocab(args) -> tuple[int, int | None]:
    """Vocabulary size and end-of-document id (None when unknown) from --tokenizer or --vocab-size.

    When --data-path is a blend.json that records its tokenizer, a different vocabulary is an
    error (the shards' ids would mean other tokens) and a different tokenizer file a warning.
    """
    if args.vocab_size and not args.tokenizer:
        if args.eod_mask_loss:
            raise SystemExit("--eod-mask-loss needs --tokenizer (the end-of-document id)")
        return int(args.vocab_size), None
    from curate.errors import ConfigError
    from curate.mixtures.tokenizer import default_tokenizer_path, file_sha256, find_eod, load_tokenizer
    from curate.pretrain.data import blend_tokenizer_info

    try:
        tok = load_tokenizer(args.tokenizer)
    except ConfigError as e:
        raise SystemExit(f"--tokenizer: {e}") from None
    try:
        eod = find_eod(tok, args.eod_token)
    except ConfigError as e:
        if args.eod_mask_loss or args.eod_token:
            raise SystemExit(f"--tokenizer: {e}") from None
        eod = None
    vocab = int(tok.get_vocab_size(with_added_tokens=True))
    info = blend_tokenizer_info(args.data_path)
    if info is not None:
        path = args.tokenizer or default_tokenizer_path()
        if info.vocab_size not in (None, vocab):
            raise SystemExit(f"--tokenizer {path} has {vocab} ids but {args.data_path[0]} was tokenized with "
                             f"{info.vocab_size}: pass the tokenizer the shards were made with")
        if info.sha256 and info.sha256 != file_sha256(path):
            warnings.warn(f"--tokenizer {path} is not the file {args.data_path[0]} was tokenized with (sha256 differs)")
    return vocab, eod


def _loader(ds, consumed: int, args, d: Dist):
    from torch.utils.data import DataLoader

    sampler = PretrainingSampler(len(ds), consumed, args.micro_batch_size, d.rank, d.world)
    return DataLoader(ds, batch_sampler=sampler, num_workers=args.num_workers, collate_fn=collate,
                      pin_memory=d.device.type == "cuda", persistent_workers=False)


def _batch(batch: dict, device: torch.device, eod: int | None, eod_mask_loss: bool):
    tokens = batch["tokens"].to(device, non_blocking=True)
    inp, labels = tokens[:, :-1], tokens[:, 1:]
    mask = torch.ones(labels.shape, dtype=torch.float32, device=device)
    if eod_mask_loss and eod is not None:
        mask = mask * (inp != eod)
    return inp, labels, mask


def train(args) -> dict:
    d = Dist(args.device)
    log = Logger(d, args.log_jsonl)
    try:
        return _train(args, d, log)
    finally:
        d.close()


def _train(args, d: Dist, log: Logger) -> dict:
    device = d.device
    mb = args.micro_batch_size
    gb = args.global_batch_size or mb * d.world
    if gb % (mb * d.world):
        raise SystemExit(f"--global-batch-size {gb} is not a multiple of micro-batch-size {mb} x data-parallel size {d.world}")
    num_micro = gb // (mb * d.world)
    args.global_batch_size = gb
    use_bf16 = bool(args.bf16)
    if use_bf16 and device.type != "cuda":
        warnings.warn("--bf16 is for CUDA devices; training in fp32 on CPU")
        use_bf16 = False

    vocab, eod = _vocab(args)
    div = args.make_vocab_size_divisible_by
    padded_vocab = -(-vocab // div) * div
    try:
        weights, prefixes = parse_data_path(args.data_path)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"--data-path: {e}") from None
    spec = DataSpec(weights, prefixes, args.seq_length, list(args.split_weights), args.seed, vocab_size=vocab)
    fingerprint = data_fingerprint(spec)
    train_ds = BlendedDataset(spec, 0, args.train_iters * gb)
    valid_ds = None
    if args.eval_iters > 0 and args.split_weights[1] > 0:
        try:
            valid_ds = BlendedDataset(spec, 1, args.eval_iters * gb)
        except ValueError as e:
            log(f"no evaluation: {e}")

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed % (2**32))
    model = build_model(args, padded_vocab).to(device)
    optimizer = _optimizer(model, args, device)
    scheduler = Scheduler(optimizer, LRSchedule(
        lr=args.lr, min_lr=args.min_lr, warmup_iters=args.lr_warmup_iters, decay_iters=args.lr_decay_iters,
        style=args.lr_decay_style, wsd_decay_iters=args.lr_wsd_decay_iters, wsd_decay_style=args.lr_wsd_decay_style))

    iteration, consumed = 0, 0
    if args.load:
        path = find_checkpoint(args.load)
        if path is None:
            log(f"no checkpoint in {args.load} ({TRACKER} missing): starting from scratch")
        else:
            state = torch.load(os.path.join(path, "model_optim_rng.pt"), map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            if not args.no_load_optim:
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
                iteration, consumed = int(state["iteration"]), int(state["consumed_samples"])
                if state.get("data_fingerprint") != fingerprint:
                    log(f"warning: data settings differ from the checkpoint's ({state.get('data_fingerprint')} vs "
                        f"{fingerprint}); the data position {consumed} refers to a different sample order")
                rng_file = os.path.join(path, f"rng_rank_{d.rank:03d}.pt")
                if os.path.exists(rng_file):
                    _set_rng_state(torch.load(rng_file, map_location="cpu", weights_only=True))
            log(f"loaded {path}: iteration {iteration}, consumed samples {consumed}")
            del state

    raw_model = model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:
        model = torch.compile(model)

    counts = count_parameters(raw_model)
    fpt = flops_per_token(raw_model.cfg, args.seq_length)
    peak = _peak_tflops(args, device)
    log(
        f"model: {counts['total'] / 1e6:.1f}M parameters ({counts['main_non_embedding'] / 1e6:.1f}M non-embedding, "
        f"{counts['embedding'] / 1e6:.1f}M embedding, {counts['mtp'] / 1e6:.1f}M MTP) | layers {args.num_layers} "
        f"hidden {args.hidden_size} heads {args.num_attention_heads}/{args.num_query_groups} ffn {args.ffn_hidden_size} "
        f"vocab {vocab}->{padded_vocab} | seq {args.seq_length} micro {mb} global {gb} (accumulation {num_micro}, "
        f"data-parallel {d.world}) | {device}{' bf16' if use_bf16 else ''} | {fpt / 1e9:.2f} GFLOP/token",
        {"event": "config", "params": counts, "flops_per_token": fpt, "vocab": padded_vocab, "world": d.world},
    )
    for w, p in zip(train_ds.weights, train_ds.names):
        log(f"  data {w:.4f} {p}")

    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext
    history = {"iteration": [], "lm_loss": [], "mtp_loss": [], "grad_norm": [], "lr": [], "eval": [],
               "tokens_per_s": None, "mfu": None, "tflops_per_device": None}
    params = [p for p in raw_model.parameters()]

    def evaluate() -> None:
        if valid_ds is None:
            return
        model.eval()
        lm_sum = torch.zeros((), device=device)
        mtp_sum = torch.zeros(max(1, args.mtp_num_layers), device=device)
        n = 0
        with torch.no_grad():
            for batch in _loader(valid_ds, 0, args, d):
                inp, labels, mask = _batch(batch, device, eod, args.eod_mask_loss)
                with autocast():
                    _, lm, mtps = model(inp, labels, mask)
                lm_sum += lm.float()
                if mtps:
                    mtp_sum += torch.stack(mtps).float()
                n += 1
        model.train()
        vals = d.mean(torch.cat([lm_sum.view(1), mtp_sum]) / max(n, 1)).tolist()
        rec = {"event": "eval", "iteration": iteration, "lm_loss": vals[0],
               "mtp_loss": vals[1:1 + args.mtp_num_layers], "ppl": math.exp(min(vals[0], 50.0))}
        history["eval"].append(rec)
        mtp_txt = f" | mtp loss: {' '.join(f'{v:.4f}' for v in rec['mtp_loss'])}" if args.mtp_num_layers else ""
        log(f" validation at iteration {iteration} | lm loss: {vals[0]:.6f} | lm ppl: {rec['ppl']:.3f}{mtp_txt}", rec)

    model.train()
    loader = iter(_loader(train_ds, consumed, args, d))
    pending: list[torch.Tensor] = []  # per-iteration [lm, mtp_1..D, grad_norm] kept on device until logged
    pending_iters: list[int] = []
    pending_lr: list[float] = []
    window_t0, window_iters = time.perf_counter(), 0
    end_iter = args.train_iters
    if args.exit_interval:
        end_iter = min(end_iter, (iteration // args.exit_interval + 1) * args.exit_interval)
    saved_at = None
    while iteration < end_iter:
        lr = scheduler.lr
        lm_acc = torch.zeros((), device=device)
        mtp_acc = torch.zeros(max(1, args.mtp_num_layers), device=device)
        for m in range(num_micro):
            inp, labels, mask = _batch(next(loader), device, eod, args.eod_mask_loss)
            sync = contextlib.nullcontext()
            if d.world > 1 and m < num_micro - 1:
                sync = model.no_sync()
            with sync:
                with autocast():
                    total, lm, mtps = model(inp, labels, mask)
                (total / num_micro).backward()
            lm_acc += lm.detach().float() / num_micro
            if mtps:
                mtp_acc += torch.stack([x.detach().float() for x in mtps]) / num_micro
        if args.clip_grad > 0:
            gnorm = torch.nn.utils.clip_grad_norm_(params, args.clip_grad)
        else:
            gnorm = torch.nn.utils.clip_grad_norm_(params, float("inf"))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        iteration += 1
        consumed += gb
        window_iters += 1
        pending.append(torch.cat([lm_acc.view(1), mtp_acc, gnorm.detach().float().view(1).to(device)]))
        pending_iters.append(iteration)
        pending_lr.append(lr)

        if iteration % args.log_interval == 0 or iteration == end_iter:
            vals = d.mean(torch.stack(pending)).cpu()  # synchronizes the device
            elapsed = time.perf_counter() - window_t0
            for row, it_, lr_ in zip(vals.tolist(), pending_iters, pending_lr):
                history["iteration"].append(it_)
                history["lm_loss"].append(row[0])
                history["mtp_loss"].append(row[1:1 + args.mtp_num_layers])
                history["grad_norm"].append(row[-1])
                history["lr"].append(lr_)
            last = vals[-1].tolist()
            tok_s = window_iters * gb * args.seq_length / elapsed
            tflops = fpt * tok_s / d.world / 1e12
            mfu = tflops / peak if peak else None
            history.update(tokens_per_s=tok_s, tflops_per_device=tflops, mfu=mfu)
            mtp_vals = last[1:1 + args.mtp_num_layers]
            mtp_txt = (f" | mtp loss: {sum(mtp_vals) / len(mtp_vals):.4f} ({' '.join(f'{v:.4f}' for v in mtp_vals)})"
                       if mtp_vals else "")
            mfu_txt = f" | MFU: {100 * mfu:.1f}%" if mfu is not None else ""
            log(
                f" iteration {iteration:8d}/{args.train_iters:8d} | consumed samples: {consumed:12d} | "
                f"elapsed time per iteration (ms): {1000 * elapsed / window_iters:.1f} | learning rate: {lr:.6E} | "
                f"lm loss: {last[0]:.6E}{mtp_txt} | grad norm: {last[-1]:.3f} | tokens/s: {tok_s:,.0f} | "
                f"TFLOP/s/device: {tflops:.1f}{mfu_txt}",
                {"event": "train", "iteration": iteration, "consumed_samples": consumed, "lr": lr, "lm_loss": last[0],
                 "mtp_loss": mtp_vals, "grad_norm": last[-1], "tokens_per_s": tok_s, "tflops_per_device": tflops,
                 "mfu": mfu, "ms_per_iter": 1000 * elapsed / window_iters},
            )
            pending, pending_iters, pending_lr = [], [], []
            window_t0, window_iters = time.perf_counter(), 0

        if valid_ds is not None and iteration % args.eval_interval == 0:
            evaluate()
            window_t0 = time.perf_counter()
        if args.save and args.save_interval and iteration % args.save_interval == 0:
            save_checkpoint(args.save, iteration, raw_model, optimizer, scheduler, consumed, args, fingerprint, d)
            saved_at = iteration
            log(f"saved checkpoint at iteration {iteration} to {args.save}")
            window_t0 = time.perf_counter()

    if args.save and saved_at != iteration and iteration > 0:
        save_checkpoint(args.save, iteration, raw_model, optimizer, scheduler, consumed, args, fingerprint, d)
        log(f"saved checkpoint at iteration {iteration} to {args.save}")
    if iteration < args.train_iters:
        log(f"exiting at iteration {iteration} (--exit-interval {args.exit_interval})")
    history["final_iteration"] = iteration
    history["consumed_samples"] = consumed
    return history


def main(argv=None) -> dict:
    """Entry point of `curate pretrain` and `python -m curate.pretrain`."""
    return train(parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
