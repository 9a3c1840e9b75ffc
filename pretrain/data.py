"""Blended, packed GPT datasets over Megatron ``.bin/.idx`` shards.

``GPTDataset``  one shard (one prefix), restricted to a document range (the split). Documents
                are shuffled per epoch, laid end to end (each already ends with the EOD token
                written by the mix step) and cut into samples of ``seq_length + 1`` tokens that
                start every ``seq_length`` tokens (as Megatron: inputs = [:-1], labels = [1:]).
                The index is per shard plus one epoch's order computed on the fly (not epochs
                x documents); a sample finds its documents by binary search in its epoch's
                cumulative ends and is assembled from whole-document slices, so nothing loops
                per token and 32,768-token sequences cost no more bookkeeping than 512-token ones.
``BlendedDataset``  draws sample i from source ``dataset_index[i]``. The index is built at once
                with numpy: source j's k-th draw is due at time (k + 1/2) / w_j and draws are
                taken in order of due time, so every prefix of n draws holds w_j x n (+- m/2 + 1
                for m sources) draws of source j. Deterministic for a seed.
``PretrainingSampler``  Megatron's batch sampler: micro-batches of consecutive sample ids,
                starting at ``consumed_samples`` (the data position kept in checkpoints), each
                data-parallel rank taking its own slice of every global micro-step.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass

import numpy as np

from curate.mixtures.blend import BlendTokenizer, DataPathTokenizer, read_blend
from curate.mixtures.indexed import IndexedDataset, bin_path, idx_path


# --------------------------------------------------------------------------------------------
# --data-path
# --------------------------------------------------------------------------------------------
def blend_file(items: list[str] | str) -> str | None:
    """The blend file ``--data-path`` names (one ``.json`` or existing file that is no shard prefix), if any."""
    if isinstance(items, str):
        items = items.split()
    if len(items) == 1 and (items[0].endswith(".json") or os.path.isfile(items[0])) and not os.path.exists(idx_path(items[0])):
        return items[0]
    return None


def load_blend_json(path: str) -> list[tuple[float, str]]:
    """(weight, prefix) pairs of a blend file's ``data_path``; relative prefixes are resolved against its folder."""
    blend = read_blend(path)
    try:
        pairs = parse_megatron_list(blend.data_path_items())
    except ValueError as e:
        raise ValueError(f"invalid blend file {path}: data_path: {e}") from None
    base = os.path.dirname(os.path.abspath(path))
    return [(w, p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))) for w, p in pairs]


def blend_tokenizer_info(items: list[str] | str) -> BlendTokenizer | DataPathTokenizer | None:
    """The ``tokenizer`` record of a blend file (vocab_size, eod_id, sha256, ...), if ``items`` names one."""
    path = blend_file(items)
    if path is None:
        return None
    try:
        tok = read_blend(path).tokenizer
    except ValueError:
        return None  # parse_data_path reports the file
    return tok


def dataset_sources(items: list[str] | str, prefixes: list[str]) -> dict[str, str]:
    """Source name of each resolved prefix: the blend's ``datasets[].source`` (mix-written), else the file name."""
    names = {p: os.path.basename(p) for p in prefixes}
    path = blend_file(items)
    if path is None:
        return names
    try:
        blend = read_blend(path)
    except ValueError:
        return names
    base = os.path.dirname(os.path.abspath(path))
    for ds in [*getattr(blend, "datasets", []), *getattr(blend, "valid_datasets", [])]:
        names[os.path.normpath(os.path.join(base, ds.prefix))] = ds.source
    return names


def held_out_data_path(items: list[str] | str) -> tuple[list[float], list[str]] | None:
    """Normalized weights and absolute prefixes of the blend's held-out validation shards, or None."""
    path = blend_file(items)
    if path is None:
        return None
    try:
        valid = [d for d in getattr(read_blend(path), "valid_datasets", []) if d.weight > 0]
    except ValueError:
        return None
    if not valid:
        return None
    base = os.path.dirname(os.path.abspath(path))
    prefixes = [os.path.normpath(os.path.join(base, d.prefix)) for d in valid]
    for p in prefixes:
        for f in (idx_path(p), bin_path(p)):
            if not os.path.exists(f):
                raise FileNotFoundError(f"validation dataset file missing: {f} (from {path} valid_datasets)")
    total = sum(d.weight for d in valid)
    return [d.weight / total for d in valid], prefixes


def parse_megatron_list(items: list[str]) -> list[tuple[float, str]]:
    """Megatron's ``W1 P1 W2 P2 ...`` (or ``P1 P2 ...`` with equal weights) as (weight, prefix) pairs."""
    if not items:
        raise ValueError("--data-path is empty")

    def is_num(s: str) -> bool:
        try:
            float(s)
            return True
        except ValueError:
            return False

    if len(items) % 2 == 0 and all(is_num(items[i]) for i in range(0, len(items), 2)):
        return [(float(items[i]), items[i + 1]) for i in range(0, len(items), 2)]
    if any(is_num(s) for s in items):
        raise ValueError(f"--data-path {' '.join(items)!r}: expected 'W1 PREFIX1 W2 PREFIX2 ...' or only prefixes")
    return [(1.0, p) for p in items]


def parse_data_path(items: list[str] | str) -> tuple[list[float], list[str]]:
    """Normalized weights and prefixes from a blend.json path or a Megatron ``W P ...`` list."""
    if isinstance(items, str):
        items = items.split()
    path = blend_file(items)
    if path is not None:
        pairs = load_blend_json(path)
    else:
        pairs = parse_megatron_list(list(items))
    pairs = [(w, p) for w, p in pairs if w > 0]
    if not pairs:
        raise ValueError("--data-path has no dataset with a positive weight")
    if any(w < 0 for w, _ in pairs):
        raise ValueError("--data-path weights must be >= 0")
    for _, p in pairs:
        for f in (idx_path(p), bin_path(p)):
            if not os.path.exists(f):
                raise FileNotFoundError(f"dataset file missing: {f} (from --data-path)")
    total = sum(w for w, _ in pairs)
    return [w / total for w, _ in pairs], [p for _, p in pairs]


def split_ranges(num_docs: int, split: list[float]) -> list[tuple[int, int]]:
    """Contiguous document ranges for train/valid/test, as Megatron's ``--split``."""
    s = np.asarray(split, dtype=np.float64)
    s = s / s.sum()
    bounds = np.concatenate([[0.0], np.cumsum(s)]) * num_docs
    b = np.round(bounds).astype(np.int64)
    b[-1] = num_docs
    return [(int(b[i]), int(b[i + 1])) for i in range(len(s))]


# --------------------------------------------------------------------------------------------
# one shard
# --------------------------------------------------------------------------------------------
def _index_dtype(n: int):
    return np.int32 if n < 2**31 else np.int64


class GPTDataset:
    """Packed samples of ``seq_length + 1`` tokens from documents ``doc_range`` of one shard.

    The index is per shard and per epoch, never per epoch x document: the shard's non-empty
    document ids and lengths (int32 where they fit), and for an epoch the shuffled order and
    its cumulative ends, computed when a sample first touches that epoch (seeded by the epoch,
    so every rank and worker derives the same order) and cached for the last two epochs. A
    stream position p lies in epoch p // tokens_per_epoch at offset p % tokens_per_epoch.
    Sample start positions are shuffled within each epoch (int32 when the count fits), epochs
    in order, so reading samples in order builds each epoch's order once.
    """

    def __init__(self, prefix: str, doc_range: tuple[int, int], seq_length: int, num_samples: int,
                 seed: int, key: tuple[int, ...] = (), vocab_size: int | None = None):
        self.prefix = prefix
        self.seq_length = int(seq_length)
        self.vocab_size = vocab_size
        self._ds: IndexedDataset | None = None
        ds = self.indexed
        lengths = np.asarray(ds.sequence_lengths[doc_range[0]:doc_range[1]])
        keep = np.flatnonzero(lengths > 0)
        self.docs = (keep + doc_range[0]).astype(_index_dtype(doc_range[1]))  # shard sequence ids
        self.lengths = lengths[keep].astype(np.int32 if lengths.size == 0 or lengths.max() < 2**31 else np.int64)
        tokens_per_epoch = int(self.lengths.sum(dtype=np.int64))
        if tokens_per_epoch < 2:
            raise ValueError(f"{prefix}: documents {doc_range[0]}..{doc_range[1]} hold {tokens_per_epoch} tokens; too few to train on")
        s = self.seq_length
        # epochs so that the concatenation yields num_samples samples of s + 1 tokens
        self.num_epochs = max(1, -(-(num_samples * s + 1) // tokens_per_epoch))
        self.tokens_per_epoch = tokens_per_epoch
        self.epochs_needed = (num_samples * s + 1) / tokens_per_epoch if num_samples else 0.0
        self._seed = [int(seed) & 0xFFFFFFFF, *key]
        available = (self.num_epochs * tokens_per_epoch - 1) // s
        self.num_samples = int(num_samples)
        # shuffled within each epoch's samples, epochs in order: consecutive samples share an
        # epoch, so the lazily built epoch orders are built once each, not once per sample
        order = np.arange(available, dtype=_index_dtype(available))
        rng = np.random.default_rng([*self._seed, 0x6770])
        starts = -(-np.arange(self.num_epochs + 1, dtype=np.int64) * tokens_per_epoch // s)  # first sample of epoch e
        for e in range(self.num_epochs):
            rng.shuffle(order[min(starts[e], available):min(starts[e + 1], available)])
        self.shuffle = order[: self.num_samples]
        self._epochs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def indexed(self) -> IndexedDataset:
        if self._ds is None:
            self._ds = IndexedDataset(self.prefix)
        return self._ds

    def __getstate__(self):  # DataLoader workers reopen the memory maps and rebuild epoch orders
        st = dict(self.__dict__)
        st["_ds"] = None
        st["_epochs"] = {}
        return st

    def __len__(self) -> int:
        return self.num_samples

    def epoch_order(self, e: int) -> tuple[np.ndarray, np.ndarray]:
        """(document ids in reading order, exclusive cumulative token ends) of epoch ``e``."""
        got = self._epochs.get(e)
        if got is None:
            perm = np.random.default_rng([*self._seed, 0x6771, e]).permutation(len(self.docs))
            ends = np.cumsum(self.lengths[perm], dtype=np.int64).astype(_index_dtype(self.tokens_per_epoch), copy=False)
            got = (self.docs[perm], ends)
            if len(self._epochs) >= 2:
                self._epochs.pop(next(iter(self._epochs)))
            self._epochs[e] = got
        return got

    def sample_span(self, i: int) -> tuple[int, int]:
        """Stream token range [start, stop) of packed sample ``i`` (before shuffling)."""
        start = int(self.shuffle[i]) * self.seq_length
        return start, start + self.seq_length + 1

    def __getitem__(self, i: int) -> np.ndarray:
        start, stop = self.sample_span(i)
        ds, t = self.indexed, self.tokens_per_epoch
        parts = []
        pos = start
        while pos < stop:  # at most a few epochs (one unless an epoch is shorter than a sample)
            e, off = divmod(pos, t)
            order, ends = self.epoch_order(e)
            end_off = min(t, off + (stop - pos))
            j0 = int(np.searchsorted(ends, off, side="right"))
            j1 = int(np.searchsorted(ends, end_off - 1, side="right"))
            for j in range(j0, j1 + 1):  # one slice per document, never per token
                doc_start = int(ends[j - 1]) if j else 0
                lo = max(off, doc_start) - doc_start
                hi = min(end_off, int(ends[j])) - doc_start
                parts.append(ds.get(int(order[j]), lo, hi - lo))
            pos += end_off - off
        out = np.concatenate(parts).astype(np.int64, copy=False)
        if out.shape[0] != self.seq_length + 1:
            raise RuntimeError(f"{self.prefix}: sample {i} has {out.shape[0]} tokens, expected {self.seq_length + 1}")
        if self.vocab_size is not None and out.size and (int(out.max()) >= self.vocab_size or int(out.min()) < 0):
            raise ValueError(
                f"{self.prefix}: token id {int(out.max())} is outside the vocabulary of {self.vocab_size}; "
                "was the shard written with a different tokenizer?"
            )
        return out

    def index_bytes(self) -> int:
        """Bytes this dataset's index holds now (documents, lengths, sample order, cached epochs)."""
        return int(self.docs.nbytes + self.lengths.nbytes + self.shuffle.nbytes
                   + sum(a.nbytes + b.nbytes for a, b in self._epochs.values()))


# --------------------------------------------------------------------------------------------
# blend
# --------------------------------------------------------------------------------------------
def blending_indices(weights: list[float], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(dataset_index, dataset_sample_index) of ``size`` draws, proportional at every prefix."""
    w = np.asarray(weights, dtype=np.float64)
    if (w <= 0).any():
        raise ValueError("blend weights must be > 0")
    w = w / w.sum()
    times, owner = [], []
    for j, wj in enumerate(w):
        n = int(np.ceil(wj * size)) + 2
        times.append((np.arange(n, dtype=np.float64) + 0.5) / wj)
        owner.append(np.full(n, j, dtype=np.int16 if len(w) < 32000 else np.int32))
    t = np.concatenate(times)
    o = np.concatenate(owner)
    order = np.argsort(t, kind="stable")[:size]  # ties go to the lower dataset index
    dataset_index = o[order]
    # k-th draw of source j: rank of this draw among j's draws
    dataset_sample_index = np.empty(size, dtype=np.int64)
    for j in range(len(w)):
        sel = dataset_index == j
        dataset_sample_index[sel] = np.arange(int(sel.sum()), dtype=np.int64)
    return dataset_index, dataset_sample_index


@dataclass
class DataSpec:
    weights: list[float]
    prefixes: list[str]
    seq_length: int
    split: list[float]
    seed: int
    vocab_size: int | None = None


class BlendedDataset:
    """``size`` samples from several GPTDatasets in proportion to their weights."""

    def __init__(self, spec: DataSpec, split_index: int, size: int):
        self.size = int(size)
        self.names, weights, self.datasets = [], [], []
        ranges = []
        for j, (w, p) in enumerate(zip(spec.weights, spec.prefixes)):
            n_docs = len(IndexedDataset(p))
            r = split_ranges(n_docs, spec.split)[split_index]
            if r[1] > r[0]:
                ranges.append((j, w, p, r))
        if not ranges:
            raise ValueError(f"no dataset has documents in split {split_index} (--split {spec.split})")
        self.dataset_index, self.dataset_sample_index = blending_indices([w for _, w, _, _ in ranges], self.size)
        counts = np.bincount(self.dataset_index, minlength=len(ranges))
        for (j, w, p, r), c in zip(ranges, counts):
            self.names.append(p)
            weights.append(w)
            self.datasets.append(
                GPTDataset(p, r, spec.seq_length, int(c), spec.seed, key=(j, split_index), vocab_size=spec.vocab_size)
            )
        total = sum(weights)
        self.weights = [w / total for w in weights]

    def __len__(self) -> int:
        return self.size

    def shard_epochs(self) -> list[float]:
        """Passes over each shard's documents (in this split) that the samples need."""
        return [ds.epochs_needed for ds in self.datasets]

    def __getitem__(self, i: int) -> dict:
        j = int(self.dataset_index[i])
        return {"tokens": self.datasets[j][int(self.dataset_sample_index[i])], "source": j}


class PretrainingSampler:
    """Yields this rank's micro-batches of sample ids from ``consumed_samples`` on (Megatron order)."""

    def __init__(self, total_samples: int, consumed_samples: int, micro_batch_size: int,
                 dp_rank: int = 0, dp_size: int = 1):
        if not 0 <= dp_rank < dp_size:
            raise ValueError(f"rank {dp_rank} outside data-parallel size {dp_size}")
        self.total = int(total_samples)
        self.consumed = int(consumed_samples)
        self.mb = int(micro_batch_size)
        self.rank, self.size = int(dp_rank), int(dp_size)

    def __len__(self) -> int:
        return max(0, (self.total - self.consumed) // (self.mb * self.size))

    def __iter__(self):
        step = self.mb * self.size
        g = self.consumed
        while g + step <= self.total:
            lo = g + self.rank * self.mb
            yield list(range(lo, lo + self.mb))
            g += step


def collate(batch: list[dict]) -> dict:
    import torch

    tokens = torch.from_numpy(np.stack([b["tokens"] for b in batch]))
    return {"tokens": tokens, "source": torch.tensor([b["source"] for b in batch], dtype=torch.long)}


def data_fingerprint(spec: DataSpec) -> str:
    """A short hash of what fixes the sample order (stored in checkpoints, checked on resume)."""
    key = json.dumps([[round(w, 12) for w in spec.weights], [os.path.basename(p) for p in spec.prefixes],
                      spec.seq_length, spec.split, spec.seed])
    return f"{zlib.crc32(key.encode()):08x}"
