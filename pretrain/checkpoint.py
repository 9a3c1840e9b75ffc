"""Checkpoints in Megatron's directory layout, the same file for one process, DDP and FSDP2.

    SAVE/latest_checkpointed_iteration.txt     written last: a checkpoint is complete once named here
    SAVE/iter_0000020/model_optim_rng.pt       model, optimizer, scheduler, iteration, data position, stage, args
    SAVE/iter_0000020/rng_rank_000.pt          python / numpy / torch / cuda RNG states of each rank

The model and optimizer go through ``torch.distributed.checkpoint.state_dict`` as *full*
(unsharded) state dicts keyed by parameter name: an FSDP2 run gathers its shards into the
same file a single process writes, and any world size (or a later stage) can load it.
Everything non-tensor is a plain Python value, so ``torch.load(weights_only=True)`` reads it.

``consumed_samples`` is the data position *within the current stage*; ``stage_start_iteration``
is the iteration the stage began at (0 for the first), so a resume inside a later stage
rebuilds the same sample index.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

TRACKER = "latest_checkpointed_iteration.txt"
STATE_FILE = "model_optim_rng.pt"


def _options(**kw):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kw)


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], torch.from_numpy(np.asarray(np_state[1]).astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
    }


def set_rng_state(st: dict) -> None:
    v, internal, gauss = st["python"]
    random.setstate((v, tuple(internal), gauss))
    n = st["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(st["torch"])
    if st.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


def plain(v):
    """Args as JSON-able plain values (weights_only checkpoints hold nothing else)."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return str(v)


def _atomic_torch_save(obj, path: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(save_dir: str, iteration: int, model, optimizer, scheduler, consumed: int,
                    stage_start: int, extra: dict, d) -> str:
    """Write iteration ``iteration``; every rank must call it (FSDP gathers shards collectively)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    ckpt = os.path.join(save_dir, f"iter_{iteration:07d}")
    os.makedirs(ckpt, exist_ok=True)
    msd = get_model_state_dict(model, options=_options(cpu_offload=True))
    osd = get_optimizer_state_dict(model, optimizer, options=_options(cpu_offload=True))
    if d.is_main:
        _atomic_torch_save(
            {"model": msd, "optimizer": osd, "scheduler": scheduler.state_dict(), "iteration": int(iteration),
             "consumed_samples": int(consumed), "stage_start_iteration": int(stage_start), "world_size": d.world,
             **extra},
            os.path.join(ckpt, STATE_FILE),
        )
    _atomic_torch_save(rng_state(), os.path.join(ckpt, f"rng_rank_{d.rank:03d}.pt"))
    d.barrier()
    if d.is_main:
        tmp = os.path.join(save_dir, f"{TRACKER}.tmp-{os.getpid()}")
        with open(tmp, "w") as f:
            f.write(str(iteration))
        os.replace(tmp, os.path.join(save_dir, TRACKER))
    d.barrier()
    return ckpt


def find_checkpoint(load_dir: str) -> str | None:
    """The latest complete checkpoint folder of ``load_dir``, or None when it has none."""
    tracker = os.path.join(load_dir, TRACKER)
    if not os.path.exists(tracker):
        return None
    with open(tracker) as f:
        it = int(f.read().strip())
    path = os.path.join(load_dir, f"iter_{it:07d}")
    if not os.path.exists(os.path.join(path, STATE_FILE)):
        raise FileNotFoundError(f"{tracker} names iteration {it} but {path}/{STATE_FILE} is missing")
    return path


def resolve_checkpoint(path: str) -> str:
    """A ``--save`` folder (its latest checkpoint) or an ``iter_NNNNNNN`` folder; errors name the path."""
    if os.path.exists(os.path.join(path, STATE_FILE)):
        return path
    found = find_checkpoint(path)
    if found is None:
        raise FileNotFoundError(f"{path} holds no checkpoint (neither {STATE_FILE} nor {TRACKER})")
    return found


def read_state(path: str) -> dict:
    return torch.load(os.path.join(path, STATE_FILE), map_location="cpu", weights_only=True)


def load_model(model, state: dict, path: str) -> None:
    """Full state dict ``state['model']`` into ``model`` (plain, DDP's inner or FSDP2-sharded)."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    try:
        set_model_state_dict(model, state["model"], options=_options(strict=True))
    except (RuntimeError, ValueError, KeyError) as e:
        raise SystemExit(f"{path}: the checkpoint's weights do not fit this model "
                         f"(--num-layers, --hidden-size, ... must match the run that wrote it): {e}") from None


def load_optimizer(model, optimizer, state: dict) -> None:
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    osd = state["optimizer"]
    if any(isinstance(k, int) for k in osd.get("state", {})):  # written by optimizer.state_dict() (before FSDP2)
        optimizer.load_state_dict(osd)
    else:
        set_optimizer_state_dict(model, optimizer, osd, options=_options())


def load_rng(path: str, rank: int) -> None:
    f = os.path.join(path, f"rng_rank_{rank:03d}.pt")
    if os.path.exists(f):
        set_rng_state(torch.load(f, map_location="cpu", weights_only=True))
