"""Megatron-LM style command-line flags of the pretraining entrypoint.

Flag names, meanings and defaults follow Megatron-LM where a flag exists there, so a launch
script moves between the two with few edits. Flags Megatron lacks (``--device``,
``--peak-tflops``, ``--log-jsonl``) are marked "(curate)" in the help.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Train a decoder-only transformer (RoPE, RMSNorm, SwiGLU, grouped-query attention) with
multi-token prediction (MTP, as in DeepSeek-V3 / MiMo) on Megatron .bin/.idx shards.

Single process:   curate pretrain --data-path out/stage2/blend.json --train-iters 1000 ...
Several GPUs:     torchrun --nproc-per-node 8 -m curate.pretrain --data-path ... --bf16 ...

The global batch is split into micro-batches; gradient accumulation steps =
global-batch-size / (micro-batch-size x data-parallel size). Checkpoints hold the model,
optimizer, LR scheduler, data position and RNG states, so `--load` resumes exactly.

Next stage:       curate pretrain --data-path out/stage3/blend.json --stage-transition ckpt2/ --save ckpt3/ --load ckpt3/ ...
Export:           curate pretrain export --to hf --load ckpt3/ --out hf/   (Llama config + safetensors, MTP beside)
"""


def _positive(kind):
    def conv(s: str):
        v = kind(s)
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {s}")
        return v

    conv.__name__ = kind.__name__
    return conv


def _nonneg(kind):
    def conv(s: str):
        v = kind(s)
        if v < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {s}")
        return v

    conv.__name__ = kind.__name__
    return conv


def build_parser(prog: str = "curate pretrain") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )

    g = p.add_argument_group("data")
    g.add_argument(
        "--data-path", nargs="+", required=True, metavar="PATH",
        help="Either a blend.json written by `curate mix`/`curate run` (prefixes relative to its folder "
        "are resolved), or Megatron's list `W1 PREFIX1 W2 PREFIX2 ...` (or a single PREFIX). A prefix "
        "names PREFIX.bin + PREFIX.idx. Weights are normalized; sources are drawn in proportion to them.",
    )
    g.add_argument(
        "--split", default="969,30,1",
        help="Train,validation,test proportions, applied to the documents of every dataset "
        "(contiguous document ranges, as Megatron). Default: %(default)s.",
    )
    g.add_argument("--seq-length", type=_positive(int), default=None, help="Tokens per training sequence; documents are packed across sequence boundaries. Default: the context_length of a blend.json --data-path, else 4096; a value that differs from the blend's is an error unless --override-stage-context.")
    g.add_argument("--tokenizer", default=None, help="Path of a HF tokenizers tokenizer.json; gives the vocabulary size and the end-of-document id. Default: the project's bundled tokenizer (mixtures/assets/tokenizer.json).")
    g.add_argument("--vocab-size", type=_positive(int), default=None, help="Vocabulary size without a tokenizer file (as Megatron's NullTokenizer): for synthetic shards. Ignored when --tokenizer is given.")
    g.add_argument("--eod-token", default=None, help="(curate) Name of the end-of-document token; default: the first of <|endoftext|>, </s>, <|end_of_text|>, <eos>, [SEP] in the tokenizer.")
    g.add_argument("--eod-mask-loss", action="store_true", help="Do not train on predicting the token after an end-of-document token (its target is the next, unrelated document).")
    g.add_argument("--make-vocab-size-divisible-by", type=_positive(int), default=128, help="Pad the embedding table to a multiple of this. Default: %(default)s.")
    g.add_argument("--max-shard-epochs", type=_positive(float), default=None, help="(curate) Most passes the loader may make over one shard. Default: 1 for a blend.json written by the mix step (its shards already hold every repetition the mixture's epoch caps allow), unlimited otherwise.")
    g.add_argument("--on-epoch-cap", choices=["error", "warn"], default="error", help="(curate) What exceeding --max-shard-epochs does: stop before training (error) or log a warning and go on. Default: %(default)s.")
    g.add_argument("--override-stage-context", action="store_true", help="(curate) Allow --seq-length / --rotary-base to differ from the blend.json's context_length / rotary_base (logged).")
    g.add_argument("--num-workers", type=_nonneg(int), default=2, help="DataLoader worker processes. Default: %(default)s.")

    g = p.add_argument_group("model")
    g.add_argument("--num-layers", type=_positive(int), default=12, help="Transformer layers of the main model. Default: %(default)s.")
    g.add_argument("--hidden-size", type=_positive(int), default=768, help="Model width. Default: %(default)s.")
    g.add_argument("--num-attention-heads", type=_positive(int), default=12, help="Query heads. Default: %(default)s.")
    g.add_argument("--num-query-groups", type=_positive(int), default=None, help="Key/value heads for grouped-query attention; must divide --num-attention-heads. Default: = heads (multi-head attention).")
    g.add_argument("--ffn-hidden-size", type=_positive(int), default=None, help="SwiGLU inner width. Default: 8/3 x hidden, rounded up to a multiple of 64.")
    g.add_argument("--rotary-base", type=_positive(float), default=None, help="RoPE base (theta). Default: the rotary_base of a blend.json --data-path, else 10000; a value that differs from the blend's is an error unless --override-stage-context.")
    g.add_argument("--norm-epsilon", type=_positive(float), default=1e-5, help="RMSNorm epsilon. Default: %(default)s.")
    g.add_argument("--init-method-std", type=_positive(float), default=0.02, help="Std of the normal weight init; output projections use std/sqrt(2 x layers). Default: %(default)s.")
    g.add_argument("--untie-embeddings-and-output-weights", action="store_true", help="Separate output head instead of reusing the input embedding matrix.")
    g.add_argument("--mtp-num-layers", type=_nonneg(int), default=0, help="Multi-token prediction depth D: module k (1..D) predicts the token k+1 positions ahead, sharing the embedding and output head with the main model. 0 disables MTP. Default: %(default)s.")
    g.add_argument("--mtp-loss-scaling-factor", type=_nonneg(float), default=0.1, help="Weight lambda of the MTP loss: total = LM loss + lambda/D x sum of the D MTP losses. Default: %(default)s.")
    g.add_argument("--recompute-activations", action="store_true", help="Recompute each transformer layer in the backward pass (activation checkpointing) to save memory.")
    g.add_argument("--cross-entropy-chunk-size", type=_nonneg(int), default=0, help="(curate) Tokens per chunk of the output-head cross-entropy (full-vocabulary logits are never materialised); 0: as many as fit 256 MiB of fp32 logits. Default: %(default)s.")

    g = p.add_argument_group("training")
    g.add_argument("--micro-batch-size", type=_positive(int), default=1, help="Sequences per forward/backward on one device. Default: %(default)s.")
    g.add_argument("--global-batch-size", type=_positive(int), default=None, help="Sequences per optimizer step over all devices; must be a multiple of micro-batch-size x data-parallel size. Default: micro-batch-size x data-parallel size.")
    g.add_argument("--train-iters", type=_positive(int), required=True, help="Optimizer steps to train for (also sizes the sample index).")
    g.add_argument("--exit-interval", type=_positive(int), default=None, help="Stop (and save, if --save) once the iteration is a multiple of this; the schedule still targets --train-iters.")
    g.add_argument("--seed", type=int, default=1234, help="Seed of initialization, data shuffling and the sample index. Default: %(default)s.")
    g.add_argument("--bf16", action="store_true", help="bf16 autocast for the forward pass (fp32 master weights and optimizer states). On CUDA only; ignored with a warning on CPU.")
    g.add_argument("--device", default=None, help="(curate) cuda or cpu. Default: cuda when available.")
    g.add_argument("--compile", action="store_true", help="(curate) torch.compile the model.")
    g.add_argument("--use-torch-fsdp2", action="store_true", help="Shard parameters, gradients and optimizer state over the data-parallel ranks with PyTorch FSDP2 (fully_shard), one unit per transformer layer. With --bf16 on CUDA: bf16 compute parameters, fp32 master weights and gradient reduction.")

    g = p.add_argument_group("optimizer and learning rate")
    g.add_argument("--lr", type=_positive(float), default=3e-4, help="Peak learning rate. Default: %(default)s.")
    g.add_argument("--min-lr", type=_nonneg(float), default=0.0, help="Learning rate at the end of the decay. Default: %(default)s.")
    g.add_argument("--lr-warmup-iters", type=_nonneg(int), default=0, help="Linear warmup from 0 to --lr over this many iterations. Default: %(default)s.")
    g.add_argument("--lr-decay-iters", type=_positive(int), default=None, help="Iteration at which the decay reaches --min-lr. Default: --train-iters.")
    g.add_argument("--lr-decay-style", choices=["cosine", "wsd", "linear", "constant"], default="cosine", help="cosine: cosine from --lr to --min-lr after warmup; wsd: warmup-stable-decay, constant --lr then a final decay over --lr-wsd-decay-iters. Default: %(default)s.")
    g.add_argument("--lr-wsd-decay-style", choices=["linear", "cosine", "exponential", "minus_sqrt"], default="linear", help="Shape of the WSD decay phase. Default: %(default)s.")
    g.add_argument("--lr-wsd-decay-iters", type=_positive(int), default=None, help="Length of the WSD decay phase. Default: 10%% of --lr-decay-iters.")
    g.add_argument("--weight-decay", type=_nonneg(float), default=0.01, help="AdamW decoupled weight decay (not applied to norm weights). Default: %(default)s.")
    g.add_argument("--adam-beta1", type=float, default=0.9, help="Default: %(default)s.")
    g.add_argument("--adam-beta2", type=float, default=0.95, help="Default: %(default)s.")
    g.add_argument("--adam-eps", type=_positive(float), default=1e-8, help="Default: %(default)s.")
    g.add_argument("--clip-grad", type=_nonneg(float), default=1.0, help="Clip the global gradient norm to this; 0 disables. Default: %(default)s.")

    g = p.add_argument_group("checkpointing")
    g.add_argument("--save", default=None, help="Directory to save checkpoints in (iter_NNNNNNN/ + latest_checkpointed_iteration.txt).")
    g.add_argument("--save-interval", type=_positive(int), default=None, help="Save every this many iterations (and at the end / on exit).")
    g.add_argument("--load", default=None, help="Directory to resume from (its latest checkpoint); model, optimizer, scheduler, data position and RNG are restored.")
    g.add_argument("--no-load-optim", action="store_true", help="Load only the model weights (and start a fresh run from them).")
    g.add_argument("--stage-transition", default=None, metavar="CKPT", help="(curate) Start a new mixture stage from CKPT (a --save directory or one of its iter_NNNNNNN folders): weights and optimizer state are loaded, the iteration count continues, the data position restarts at 0 on this run's --data-path, and the LR schedule is the one given by this run's flags (as Megatron's --override-opt-param-scheduler), evaluated from the continued iteration. Ignored (logged) when --load holds a checkpoint: that is a resume inside the new stage.")

    g = p.add_argument_group("logging and evaluation")
    g.add_argument("--log-interval", type=_positive(int), default=10, help="Print loss, MTP loss, tokens/s and MFU every this many iterations. Default: %(default)s.")
    g.add_argument("--eval-interval", type=_positive(int), default=1000, help="Evaluate on the validation split every this many iterations. Default: %(default)s.")
    g.add_argument("--eval-iters", type=_nonneg(int), default=100, help="Global batches per evaluation (the same validation samples every time); 0 disables. Default: %(default)s.")
    g.add_argument("--peak-tflops", type=_positive(float), default=None, help="(curate) Peak dense bf16 TFLOP/s of one device for the MFU estimate. Default: known for A100/H100/H200, else MFU is not shown.")
    g.add_argument("--log-jsonl", default=None, help="(curate) Also append one JSON record per logged iteration/evaluation to this file.")
    g.add_argument("--tensorboard-dir", default=None, help="Write TensorBoard scalars (losses, MTP loss and acceptance per depth, per-source validation loss, LR, grad norm, tokens/s, MFU) here.")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and cross-check the flags (errors name the flag, as argparse does)."""
    p = build_parser()
    args = p.parse_args(argv)
    if args.num_query_groups is None:
        args.num_query_groups = args.num_attention_heads
    if args.hidden_size % args.num_attention_heads:
        p.error(f"--hidden-size {args.hidden_size} is not divisible by --num-attention-heads {args.num_attention_heads}")
    if (args.hidden_size // args.num_attention_heads) % 2:
        p.error("head dimension (hidden-size / num-attention-heads) must be even for RoPE")
    if args.num_attention_heads % args.num_query_groups:
        p.error(f"--num-query-groups {args.num_query_groups} must divide --num-attention-heads {args.num_attention_heads}")
    if args.ffn_hidden_size is None:
        args.ffn_hidden_size = ((8 * args.hidden_size // 3) + 63) // 64 * 64
    if args.lr_decay_iters is None:
        args.lr_decay_iters = args.train_iters
    if args.lr_decay_style != "constant" and args.lr_warmup_iters > args.lr_decay_iters:
        p.error(f"--lr-warmup-iters {args.lr_warmup_iters} exceeds the decay horizon {args.lr_decay_iters} (--lr-decay-iters, default --train-iters)")
    if args.min_lr > args.lr:
        p.error(f"--min-lr {args.min_lr} exceeds --lr {args.lr}")
    try:
        split = [float(x) for x in args.split.replace("/", ",").split(",")]
    except ValueError:
        p.error(f"--split {args.split!r}: expected numbers like 969,30,1")
    split = (split + [0.0, 0.0, 0.0])[:3]
    if any(s < 0 for s in split) or sum(split) <= 0 or split[0] <= 0:
        p.error(f"--split {args.split!r}: proportions must be >= 0 with a positive training share")
    args.split_weights = [s / sum(split) for s in split]
    if args.lr_wsd_decay_iters is None:
        args.lr_wsd_decay_iters = max(1, args.lr_decay_iters // 10)
    if args.lr_decay_style == "wsd" and args.lr_wsd_decay_iters > args.lr_decay_iters - args.lr_warmup_iters:
        p.error(f"--lr-wsd-decay-iters {args.lr_wsd_decay_iters} overlaps the warmup (decay horizon {args.lr_decay_iters}, warmup {args.lr_warmup_iters})")
    return args
