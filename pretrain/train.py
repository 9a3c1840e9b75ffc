"""The training loop: AdamW, warmup + cosine/WSD, clipping, bf16, DDP or FSDP2, exact resume, stage transitions.

``main(argv)`` parses Megatron-style flags (``pretrain/args.py``), trains and returns a small
history (per-iteration LM and MTP losses, evaluations, last throughput) so tests and scripts
can check what happened without parsing logs. Checkpoints: ``pretrain/checkpoint.py``.

A run starts in one of three ways: fresh; a resume (``--load`` holds a checkpoint: model,
optimizer, scheduler, data position and RNG come back, so the losses continue bit for bit);
or a stage transition (``--stage-transition CKPT``: weights and optimizer state come from the
previous stage, the iteration count continues, the data position restarts at 0 on the new
blend, and the LR schedule is this run's, evaluated from the continued iteration). The data
position is the number of samples consumed in the current stage; the sample order is a
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
from dataclasses import asdict

import numpy as np
import torch
import torch.distributed as dist

from curate.pretrain import checkpoint as ckpt_io
from curate.pretrain.args import parse_args
from curate.pretrain.checkpoint import TRACKER, find_checkpoint, save_checkpoint  # noqa: F401 (public names)
from curate.pretrain.data import (BlendedDataset, DataSpec, PretrainingSampler, collate, data_fingerprint,
                                  dataset_sources, held_out_data_path, parse_data_path)
from curate.pretrain.model import GPT, GPTConfig, count_parameters, flops_per_token
from curate.pretrain.schedule import LRSchedule, Scheduler
from curate.pretrain.stage import resolve_context

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

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.clone()
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        return self.sum(t) / self.world if self.world > 1 else t

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


class Logger:
    """Rank 0's log: stdout lines, JSONL records (--log-jsonl) and TensorBoard scalars (--tensorboard-dir)."""

    def __init__(self, d: Dist, jsonl: str | None, tensorboard_dir: str | None = None):
        self.d = d
        self.jsonl = jsonl
        self.tb = None
        if tensorboard_dir and d.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise SystemExit(f"--tensorboard-dir needs tensorboard (pip install 'curate[train]'): {e}") from None
            self.tb = SummaryWriter(tensorboard_dir)

    def __call__(self, msg: str, record: dict | None = None) -> None:
        if not self.d.is_main:
            return
        print(msg, flush=True)
        if self.jsonl and record is not None:
            with open(self.jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def scalars(self, step: int, values: dict) -> None:
        """TensorBoard scalars ``{tag: value}`` at ``step`` (None values skipped)."""
        if self.tb is None:
            return
        for tag, v in values.items():
            if v is not None:
                self.tb.add_scalar(tag, float(v), step)
        self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


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
        ce_chunk_tokens=args.cross_entropy_chunk_size,
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


def _shard(model: GPT, d: Dist, bf16: bool) -> None:
    """FSDP2: one unit per transformer layer and MTP depth, the rest (embedding, norms) in the root.

    With bf16 on CUDA, compute runs on bf16 copies of the parameters while the sharded fp32
    parameters are the optimizer's master weights and gradients are reduced in fp32.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method

    mesh = init_device_mesh(d.device.type, (d.world,))
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
    for unit in [*model.layers, *model.mtp]:
        fully_shard(unit, mesh=mesh, mp_policy=mp)
    fully_shard(model, mesh=mesh, mp_policy=mp)
    register_fsdp_forward_method(model, "eval_stats")


def _grad_norm(params, clip: float) -> torch.Tensor:
    n = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
    return n.full_tensor() if hasattr(n, "full_tensor") else n  # FSDP2: a DTensor


def _local_bytes(t: torch.Tensor) -> int:
    t = t.to_local() if hasattr(t, "to_local") else t  # FSDP2 DTensor: this rank's shard
    return t.numel() * t.element_size()


class SavedActivations:
    """Bytes the autograd graph keeps for backward (distinct storages), counted while active."""

    def __init__(self):
        self.bytes = 0
        self._seen: set = set()

    def _pack(self, t: torch.Tensor):
        if isinstance(t, torch.nn.Parameter):  # weights are counted as parameters
            return t
        try:
            key = (t.untyped_storage().data_ptr(), t.device)
            if key not in self._seen:
                self._seen.add(key)
                self.bytes += t.untyped_storage().nbytes()
        except (RuntimeError, NotImplementedError):  # tensor subclasses without a plain storage
            self.bytes += t.numel() * t.element_size()
        return t

    def __call__(self):
        return torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)


def memory_record(model, optimizer, activations: int, device: torch.device) -> dict:
    """This rank's bytes of parameters, gradients and optimizer state (shards under FSDP2), and of
    the activations one micro-batch saves for backward; on CUDA also the allocator's peak."""
    params = sum(_local_bytes(p) for p in model.parameters())
    grads = sum(_local_bytes(p.grad) for p in model.parameters() if p.grad is not None)
    opt = sum(_local_bytes(v) for st in optimizer.state.values() for v in st.values() if torch.is_tensor(v))
    rec = {"event": "memory", "params_bytes": params, "grads_bytes": grads, "optimizer_bytes": opt,
           "activations_bytes": activations, "total_bytes": params + grads + opt + activations}
    if device.type == "cuda":
        rec["cuda_max_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
    return rec


def _start_state(args, log) -> tuple[str, str | None, dict | None]:
    """("fresh" | "resume" | "transition", checkpoint folder, its state)."""
    if args.load:
        path = find_checkpoint(args.load)
        if path is not None:
            if args.stage_transition:
                log(f"--load {args.load} holds {path}: resuming inside the stage (--stage-transition ignored)")
            return "resume", path, ckpt_io.read_state(path)
        log(f"no checkpoint in {args.load} ({TRACKER} missing): " + ("starting the stage transition" if args.stage_transition else "starting from scratch"))
    if args.stage_transition:
        try:
            path = ckpt_io.resolve_checkpoint(args.stage_transition)
        except FileNotFoundError as e:
            raise SystemExit(f"--stage-transition: {e}") from None
        return "transition", path, ckpt_io.read_state(path)
    return "fresh", None, None


def train(args) -> dict:
    d = Dist(args.device)
    log = Logger(d, args.log_jsonl, args.tensorboard_dir)
    try:
        return _train(args, d, log)
    finally:
        log.close()
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
    fsdp = bool(args.use_torch_fsdp2) and d.world > 1
    if args.use_torch_fsdp2 and not fsdp:
        log("--use-torch-fsdp2 with one process: nothing to shard, training unsharded")

    try:
        ctx = resolve_context(args.seq_length, args.rotary_base, args.data_path, args.override_stage_context)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    args.seq_length, args.rotary_base = ctx.seq_length, ctx.rotary_base
    for note in ctx.notes:
        log(note)

    vocab, eod = _vocab(args)
    div = args.make_vocab_size_divisible_by
    padded_vocab = -(-vocab // div) * div
    try:
        weights, prefixes = parse_data_path(args.data_path)
        held = held_out_data_path(args.data_path)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"--data-path: {e}") from None
    split = list(args.split_weights)
    if held is not None:  # the mix step's held-out split: training reads every document of its shards
        split = [1.0, 0.0, 0.0]
        log(f"validation: the blend's held-out split ({len(held[1])} dataset(s), documents never in training); "
            f"--split is not applied")
    spec = DataSpec(weights, prefixes, args.seq_length, split, args.seed, vocab_size=vocab)
    fingerprint = data_fingerprint(spec)

    mode, ckpt_path, state = _start_state(args, log)
    iteration, consumed, stage_start = 0, 0, 0
    if mode == "resume" and not args.no_load_optim:
        iteration, consumed = int(state["iteration"]), int(state["consumed_samples"])
        stage_start = int(state.get("stage_start_iteration", 0))
        if state.get("data_fingerprint") != fingerprint:
            log(f"warning: data settings differ from the checkpoint's ({state.get('data_fingerprint')} vs "
                f"{fingerprint}); the data position {consumed} refers to a different sample order")
    elif mode == "transition":
        iteration = stage_start = int(state["iteration"])
        if iteration >= args.train_iters:
            raise SystemExit(f"--stage-transition {ckpt_path} is at iteration {iteration}; --train-iters "
                             f"{args.train_iters} must be larger (it counts iterations over all stages)")
    stage_samples = (args.train_iters - stage_start) * gb
    sources = dataset_sources(args.data_path, prefixes)
    train_ds = BlendedDataset(spec, 0, stage_samples)
    valid_ds = None
    if args.eval_iters > 0 and held is not None:
        vspec = DataSpec(held[0], held[1], args.seq_length, [1.0, 0.0, 0.0], args.seed, vocab_size=vocab)
        valid_ds = BlendedDataset(vspec, 0, args.eval_iters * gb)
    elif args.eval_iters > 0 and args.split_weights[1] > 0:
        try:
            valid_ds = BlendedDataset(spec, 1, args.eval_iters * gb)
        except ValueError as e:
            log(f"no evaluation: {e}")

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed % (2**32))
    model = build_model(args, padded_vocab).to(device)
    if fsdp:
        _shard(model, d, use_bf16)
    optimizer = _optimizer(model, args, device)
    schedule = LRSchedule(
        lr=args.lr, min_lr=args.min_lr, warmup_iters=args.lr_warmup_iters, decay_iters=args.lr_decay_iters,
        style=args.lr_decay_style, wsd_decay_iters=args.lr_wsd_decay_iters, wsd_decay_style=args.lr_wsd_decay_style)
    scheduler = Scheduler(optimizer, schedule)

    if state is not None:
        ckpt_io.load_model(model, state, ckpt_path)
        if mode == "resume" and not args.no_load_optim:
            ckpt_io.load_optimizer(model, optimizer, state)
            scheduler.load_state_dict(state["scheduler"])
            ckpt_io.load_rng(ckpt_path, d.rank)
            log(f"loaded {ckpt_path}: iteration {iteration}, consumed samples {consumed} (stage started at iteration {stage_start})")
        elif mode == "transition":
            ckpt_io.load_optimizer(model, optimizer, state)
            for g in optimizer.param_groups:  # this run's optimizer settings, the checkpoint's moments
                g.update(betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_eps)
                if g["weight_decay"] > 0:
                    g["weight_decay"] = args.weight_decay
            scheduler.set_iteration(iteration)
            rec = {"event": "stage_transition", "from": ckpt_path, "iteration": iteration,
                   "previous_stage_start": int(state.get("stage_start_iteration", 0)),
                   "previous_consumed_samples": int(state["consumed_samples"]),
                   "previous_data_fingerprint": state.get("data_fingerprint"), "data_fingerprint": fingerprint,
                   "seq_length": args.seq_length, "rotary_base": args.rotary_base, "lr": scheduler.lr,
                   "schedule": asdict(schedule)}
            log(f"stage transition from {ckpt_path}: weights and optimizer state loaded at iteration {iteration} "
                f"(previous stage consumed {rec['previous_consumed_samples']} samples); data position reset to 0 on "
                f"{' '.join(args.data_path)} (seq {args.seq_length}, RoPE base {args.rotary_base:g}); LR schedule "
                f"as configured ({schedule.style}) continues at iteration {iteration}: lr {scheduler.lr:.6E}", rec)
        else:
            log(f"loaded weights of {ckpt_path} (--no-load-optim): fresh optimizer, schedule and data position")
    del state

    raw_model = model
    if d.world > 1 and not fsdp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:
        model = torch.compile(model)

    counts = count_parameters(raw_model)
    fpt = flops_per_token(raw_model.cfg, args.seq_length)
    peak = _peak_tflops(args, device)
    par = f"FSDP2 {d.world}" if fsdp else f"data-parallel {d.world}"
    log(
        f"model: {counts['total'] / 1e6:.1f}M parameters ({counts['main_non_embedding'] / 1e6:.1f}M non-embedding, "
        f"{counts['embedding'] / 1e6:.1f}M embedding, {counts['mtp'] / 1e6:.1f}M MTP) | layers {args.num_layers} "
        f"hidden {args.hidden_size} heads {args.num_attention_heads}/{args.num_query_groups} ffn {args.ffn_hidden_size} "
        f"vocab {vocab}->{padded_vocab} | seq {args.seq_length} RoPE base {args.rotary_base:g} micro {mb} global {gb} "
        f"(accumulation {num_micro}, data-parallel {d.world}) | {par} | {device}{' bf16' if use_bf16 else ''} | "
        f"{fpt / 1e9:.2f} GFLOP/token",
        {"event": "config", "params": counts, "flops_per_token": fpt, "vocab": padded_vocab, "world": d.world,
         "fsdp": fsdp, "seq_length": args.seq_length, "rotary_base": args.rotary_base},
    )
    for w, p in zip(train_ds.weights, train_ds.names):
        log(f"  data {w:.4f} {p}")
    _check_epochs(train_ds, args, log)

    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 and not fsdp else contextlib.nullcontext
    history = {"iteration": [], "lm_loss": [], "mtp_loss": [], "grad_norm": [], "lr": [], "eval": [],
               "tokens_per_s": None, "mfu": None, "tflops_per_device": None, "stage_start_iteration": stage_start,
               "start": mode}
    params = [p for p in raw_model.parameters()]
    depth = args.mtp_num_layers

    def evaluate() -> None:
        if valid_ds is None:
            return
        raw_model.eval()
        n_src = len(valid_ds.datasets)
        src_sum = torch.zeros(n_src, device=device, dtype=torch.float64)
        src_cnt = torch.zeros(n_src, device=device, dtype=torch.float64)
        mtp = torch.zeros(4, max(1, depth), device=device, dtype=torch.float64)  # sum, count, accepted, total
        with torch.no_grad():
            for batch in _loader(valid_ds, 0, args, d):
                inp, labels, mask = _batch(batch, device, eod, args.eod_mask_loss)
                src = batch["source"].to(device)
                with autocast():
                    st = raw_model.eval_stats(inp, labels, mask)
                src_sum.index_add_(0, src, st["lm_sum"].double())
                src_cnt.index_add_(0, src, st["lm_count"].double())
                for k in range(depth):
                    mtp[:, k] += torch.stack([st["mtp_sum"][k], st["mtp_count"][k], st["accept"][k],
                                              st["accept_count"][k]]).double()
        raw_model.train()
        src_sum, src_cnt, mtp = d.sum(src_sum), d.sum(src_cnt), d.sum(mtp)
        lm = (src_sum.sum() / src_cnt.sum().clamp_min(1)).item()
        per_source = {}
        for j, name in enumerate(valid_ds.names):
            if src_cnt[j] > 0:
                per_source[sources.get(name, os.path.basename(name))] = (src_sum[j] / src_cnt[j]).item()
        mtp_loss = (mtp[0, :depth] / mtp[1, :depth].clamp_min(1)).tolist()
        accept = (mtp[2, :depth] / mtp[3, :depth].clamp_min(1)).tolist()
        rec = {"event": "eval", "iteration": iteration, "lm_loss": lm, "mtp_loss": mtp_loss, "mtp_acceptance": accept,
               "per_source_lm_loss": per_source, "ppl": math.exp(min(lm, 50.0))}
        history["eval"].append(rec)
        mtp_txt = (f" | mtp loss: {' '.join(f'{v:.4f}' for v in mtp_loss)} | mtp acceptance: "
                   f"{' '.join(f'{100 * a:.1f}%' for a in accept)}" if depth else "")
        src_txt = " | " + " ".join(f"{k}: {v:.4f}" for k, v in per_source.items()) if len(per_source) > 1 else ""
        log(f" validation at iteration {iteration} | lm loss: {lm:.6f} | lm ppl: {rec['ppl']:.3f}{mtp_txt}{src_txt}", rec)
        log.scalars(iteration, {"validation/lm loss": lm, **{f"validation/mtp_{k + 1} loss": v for k, v in enumerate(mtp_loss)},
                                **{f"validation/mtp_{k + 1} acceptance rate": a for k, a in enumerate(accept)},
                                **{f"validation/lm loss {s}": v for s, v in per_source.items()}})

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
    first_iteration = iteration + 1

    def save() -> None:
        extra = {"data_fingerprint": fingerprint, "model_config": ckpt_io.plain(raw_model.cfg.to_dict()), "eod_id": eod,
                 "args": ckpt_io.plain(vars(args))}
        save_checkpoint(args.save, iteration, raw_model, optimizer, scheduler, consumed, stage_start, extra, d)
        log(f"saved checkpoint at iteration {iteration} to {args.save}")

    while iteration < end_iter:
        lr = scheduler.lr
        lm_acc = torch.zeros((), device=device)
        mtp_acc = torch.zeros(max(1, depth), device=device)
        for m in range(num_micro):
            inp, labels, mask = _batch(next(loader), device, eod, args.eod_mask_loss)
            last = m == num_micro - 1
            sync = contextlib.nullcontext()
            if fsdp:
                raw_model.set_requires_gradient_sync(last)
            elif d.world > 1 and not last:
                sync = model.no_sync()
            counter = SavedActivations() if iteration + 1 == first_iteration and m == 0 else None
            with sync:
                with autocast(), (counter() if counter else contextlib.nullcontext()):
                    total, lm, mtps = model(inp, labels, mask)
                (total / num_micro).backward()
            if counter is not None:
                activations = counter.bytes
            lm_acc += lm.detach().float() / num_micro
            if mtps:
                mtp_acc += torch.stack([x.detach().float() for x in mtps]) / num_micro
        gnorm = _grad_norm(params, args.clip_grad)
        optimizer.step()
        if iteration + 1 == first_iteration:
            mem = memory_record(raw_model, optimizer, activations, device)
            mem_all = d.sum(torch.tensor([mem["total_bytes"]], dtype=torch.float64, device=device)).item()
            mem.update(rank=d.rank, ranks_total_bytes=mem_all)
            history["memory"] = mem
            log(f" memory per rank: params {mem['params_bytes'] / 2**20:.1f} MiB, grads {mem['grads_bytes'] / 2**20:.1f} MiB, "
                f"optimizer {mem['optimizer_bytes'] / 2**20:.1f} MiB, activations of one micro-batch "
                f"{activations / 2**20:.1f} MiB", mem)
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
                history["mtp_loss"].append(row[1:1 + depth])
                history["grad_norm"].append(row[-1])
                history["lr"].append(lr_)
            last = vals[-1].tolist()
            tok_s = window_iters * gb * args.seq_length / elapsed
            tflops = fpt * tok_s / d.world / 1e12
            mfu = tflops / peak if peak else None
            history.update(tokens_per_s=tok_s, tflops_per_device=tflops, mfu=mfu)
            mtp_vals = last[1:1 + depth]
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
                 "mfu": mfu, "ms_per_iter": 1000 * elapsed / window_iters, "stage_start_iteration": stage_start},
            )
            log.scalars(iteration, {"lm loss": last[0], "learning rate": lr, "grad norm": last[-1],
                                    "tokens per second": tok_s, "TFLOP/s per device": tflops, "MFU": mfu,
                                    **{f"mtp_{k + 1} loss": v for k, v in enumerate(mtp_vals)}})
            pending, pending_iters, pending_lr = [], [], []
            window_t0, window_iters = time.perf_counter(), 0

        if valid_ds is not None and iteration % args.eval_interval == 0:
            evaluate()
            window_t0 = time.perf_counter()
        if args.save and args.save_interval and iteration % args.save_interval == 0:
            save()
            saved_at = iteration
            window_t0 = time.perf_counter()

    if args.save and saved_at != iteration and iteration > stage_start:
        save()
    if iteration < args.train_iters:
        log(f"exiting at iteration {iteration} (--exit-interval {args.exit_interval})")
    history["final_iteration"] = iteration
    history["consumed_samples"] = consumed
    return history


def _check_epochs(ds: BlendedDataset, args, log) -> None:
    """Stop (or warn, --on-epoch-cap warn) when a shard would be read more often than allowed."""
    cap = args.max_shard_epochs
    if cap is None:
        cap = 1.0 if _mix_written(args.data_path) else None
    if cap is None:
        return
    over = [(p, e) for p, e in zip(ds.names, ds.shard_epochs()) if e > cap + 1e-9]
    if not over:
        return
    what = "; ".join(f"{p}: {e:.2f} passes" for p, e in over)
    msg = (f"training would read shards more often than allowed ({cap:g} pass(es) per shard; a mix-written "
           f"blend.json already holds every repetition its epoch caps allow): {what}. Train fewer iterations, "
           f"mix a larger budget, or pass --max-shard-epochs / --on-epoch-cap warn")
    if args.on_epoch_cap == "error":
        raise SystemExit(msg)
    log(f"warning: {msg}", {"event": "epoch_cap_exceeded", "shards": {p: e for p, e in over}, "cap": cap})


def _mix_written(data_path) -> bool:
    from curate.mixtures.blend import Blend, read_blend
    from curate.pretrain.data import blend_file

    path = blend_file(data_path)
    if path is None:
        return False
    try:
        return isinstance(read_blend(path), Blend)
    except ValueError:
        return False


def main(argv=None) -> dict:
    """Entry point of `curate pretrain` and `python -m curate.pretrain` (`... export --to hf` exports)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        from curate.pretrain.export import main as export_main

        return export_main(argv[1:])
    return train(parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
