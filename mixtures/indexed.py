"""Megatron indexed datasets (``.bin`` + ``.idx``, the MMIDIDX format): a builder and a reader.

The layout is byte-compatible with Megatron-LM's ``megatron.core.datasets.indexed_dataset``:

``.bin``  the token ids of every sequence, back to back, in the dataset dtype (little-endian).

``.idx``  little-endian::

    9 bytes   b"MMIDIDX\\x00\\x00"        magic
    u64       1                          version
    u8        dtype code                 (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64,
                                          6 float64, 7 float32, 8 uint16)
    u64       S                          sequence count
    u64       D                          document count (= documents + 1)
    int32[S]                             tokens per sequence
    int64[S]                             byte offset of each sequence in .bin
    int64[D]                             document indices: 0, then the sequence index that
                                         ends each document (cumulative)

Here a document is one sequence (what Megatron's ``preprocess_data.py`` writes without
sentence splitting), so ``document_indices == [0, 1, …, S]``. Local paths only: the reader
memory-maps, and the mix pipeline stages remote outputs through a local directory.
"""

from __future__ import annotations

import os
import struct
import uuid
from array import array
from typing import Iterable

import numpy as np

INDEX_HEADER = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1

#: numpy dtype → Megatron's dtype code (megatron.core.datasets.indexed_dataset.DType).
DTYPE_CODES: dict[type, int] = {
    np.uint8: 1,
    np.int8: 2,
    np.int16: 3,
    np.int32: 4,
    np.int64: 5,
    np.float64: 6,
    np.float32: 7,
    np.uint16: 8,
}
CODE_DTYPES: dict[int, type] = {v: k for k, v in DTYPE_CODES.items()}

_INT32_MAX = np.iinfo(np.int32).max
WRITE_BUFFER = 1 << 20  # bytes buffered before a write to .bin


def idx_path(prefix: str) -> str:
    return prefix + ".idx"


def bin_path(prefix: str) -> str:
    return prefix + ".bin"


def best_dtype(vocab_size: int) -> type:
    """The token dtype for a vocabulary, as Megatron's ``DType.optimal_dtype``: uint16 below 65,500 ids, else int32.

    The one place this is decided: the mix step's shards (``DocTokenizer.dtype``) and the
    benchmarks' synthetic shards use it, and blend.json records its name (``tokenizer.dtype``).
    """
    return np.uint16 if vocab_size < 65500 else np.int32


def _dtype_type(dtype) -> type:
    t = np.dtype(dtype).type
    if t not in DTYPE_CODES:
        raise ValueError(f"unsupported indexed-dataset dtype {np.dtype(dtype)}; one of {[np.dtype(d).name for d in DTYPE_CODES]}")
    return t


def _fsync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


class IndexedDatasetBuilder:
    """Writes one indexed dataset at ``prefix`` (``prefix.bin`` / ``prefix.idx``).

    Tokens go to a temporary ``.bin`` as documents are added; ``finalize()`` writes the index
    to a temporary name and renames both into place (``.bin`` first, then ``.idx``), so a
    dataset whose ``.idx`` exists is complete. ``abort()`` (or leaving a ``with`` block on an
    exception) removes the temporaries.
    """

    def __init__(self, prefix: str, dtype=np.uint16):
        self.prefix = prefix
        self.dtype = _dtype_type(dtype)
        self._np_dtype = np.dtype(self.dtype).newbyteorder("<")
        self._itemsize = self._np_dtype.itemsize
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            self._range: tuple[int, int] | None = (int(info.min), int(info.max))
        else:
            self._range = None
        parent = os.path.dirname(os.path.abspath(prefix))
        os.makedirs(parent, exist_ok=True)
        tag = uuid.uuid4().hex[:12]
        self._tmp_bin = f"{bin_path(prefix)}.tmp-{tag}"
        self._tmp_idx = f"{idx_path(prefix)}.tmp-{tag}"
        self._bin = open(self._tmp_bin, "wb", buffering=WRITE_BUFFER)
        self._lengths = array("q")
        self._nbytes = 0
        self._done = False

    # -- writing -------------------------------------------------------------------------
    def add_document(self, tokens) -> None:
        """Append one document (a 1-D array of token ids) as one sequence."""
        self.add_documents([tokens])

    def add_documents(self, docs: Iterable) -> None:
        """Append each document (1-D token arrays) as one sequence, with one write for them all.

        Every document is checked before anything is written, so a bad one adds nothing.
        """
        if self._done:
            raise RuntimeError(f"indexed dataset {self.prefix} is already finalized")
        arrs = [self._checked(d) for d in docs]
        if not arrs:
            return
        self._bin.write(arrs[0].data if len(arrs) == 1 else np.concatenate(arrs).data)
        sizes = [a.size for a in arrs]
        self._lengths.extend(sizes)
        self._nbytes += sum(sizes) * self._itemsize

    def _checked(self, tokens) -> np.ndarray:
        """``tokens`` as a contiguous 1-D array of the dataset dtype; ValueError if it does not fit."""
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            raise ValueError(f"a document must be a 1-D token array, got shape {arr.shape}")
        if arr.size > _INT32_MAX:
            raise ValueError(f"document of {arr.size} tokens exceeds the int32 length field")
        if arr.size and self._range is not None and arr.dtype != self._np_dtype:
            lo, hi = int(arr.min()), int(arr.max())
            if lo < self._range[0] or hi > self._range[1]:
                raise ValueError(
                    f"token ids [{lo}, {hi}] do not fit {np.dtype(self.dtype).name} in {self.prefix}"
                )
        return np.ascontiguousarray(arr.astype(self._np_dtype, copy=False))

    @property
    def nbytes(self) -> int:
        """Bytes written to ``.bin`` so far (for size-capped sharding)."""
        return self._nbytes

    @property
    def itemsize(self) -> int:
        """Bytes per token in ``.bin``."""
        return self._itemsize

    @property
    def num_documents(self) -> int:
        return len(self._lengths)

    @property
    def num_tokens(self) -> int:
        return self._nbytes // self._itemsize

    def index_bytes(self) -> bytes:
        """The ``.idx`` content for the documents added so far."""
        n = len(self._lengths)
        lengths = np.frombuffer(self._lengths, dtype=np.int64) if n else np.zeros(0, np.int64)
        pointers = np.zeros(n, dtype="<i8")
        if n > 1:
            np.cumsum(lengths[:-1] * self._itemsize, out=pointers[1:])
        doc_idx = np.arange(n + 1, dtype="<i8")
        return b"".join(
            [
                INDEX_HEADER,
                struct.pack("<Q", INDEX_VERSION),
                struct.pack("<B", DTYPE_CODES[self.dtype]),
                struct.pack("<Q", n),
                struct.pack("<Q", n + 1),
                lengths.astype("<i4").tobytes(),
                pointers.tobytes(),
                doc_idx.tobytes(),
            ]
        )

    def finalize(self) -> tuple[str, str]:
        """Write the index and move ``.bin`` and ``.idx`` into place; returns their paths."""
        if self._done:
            raise RuntimeError(f"indexed dataset {self.prefix} is already finalized")
        try:
            _fsync(self._bin)
            self._bin.close()
            with open(self._tmp_idx, "wb") as f:
                f.write(self.index_bytes())
                _fsync(f)
            os.replace(self._tmp_bin, bin_path(self.prefix))
            os.replace(self._tmp_idx, idx_path(self.prefix))
        except BaseException:
            self.abort()
            raise
        self._done = True
        return bin_path(self.prefix), idx_path(self.prefix)

    def abort(self) -> None:
        """Drop the temporaries without touching an existing dataset at ``prefix``."""
        self._done = True
        try:
            self._bin.close()
        except Exception:
            pass
        for p in (self._tmp_bin, self._tmp_idx):
            try:
                os.remove(p)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "IndexedDatasetBuilder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._done:
            self.finalize()


class IndexedDataset:
    """Reads an indexed dataset through numpy memory maps; ``ds[i]`` is sequence ``i``'s tokens."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        ipath, bpath = idx_path(prefix), bin_path(prefix)
        for p in (ipath, bpath):
            if not os.path.exists(p):
                raise FileNotFoundError(f"indexed dataset file missing: {p}")
        with open(ipath, "rb") as f:
            head = f.read(34)
        if len(head) < 34 or head[:9] != INDEX_HEADER:
            raise ValueError(f"not a Megatron MMIDIDX index (bad header): {ipath}")
        (version,) = struct.unpack("<Q", head[9:17])
        if version != INDEX_VERSION:
            raise ValueError(f"unsupported MMIDIDX version {version}: {ipath}")
        code = head[17]
        if code not in CODE_DTYPES:
            raise ValueError(f"unknown dtype code {code}: {ipath}")
        self.dtype: type = CODE_DTYPES[code]
        self._np_dtype = np.dtype(self.dtype).newbyteorder("<")
        seq_count, doc_count = struct.unpack("<QQ", head[18:34])
        need = 34 + seq_count * (4 + 8) + doc_count * 8
        isize = os.path.getsize(ipath)
        if isize < need:
            raise ValueError(f"truncated index: {ipath} has {isize} bytes, needs {need}")
        self._idx = np.memmap(ipath, mode="r", dtype=np.uint8)
        off = 34
        self.sequence_lengths = np.frombuffer(self._idx, dtype="<i4", count=seq_count, offset=off)
        off += 4 * seq_count
        self.sequence_pointers = np.frombuffer(self._idx, dtype="<i8", count=seq_count, offset=off)
        off += 8 * seq_count
        self.document_indices = np.frombuffer(self._idx, dtype="<i8", count=doc_count, offset=off)
        bsize = os.path.getsize(bpath)
        self.num_tokens = int(self.sequence_lengths.sum(dtype=np.int64))
        if bsize != self.num_tokens * self._np_dtype.itemsize:
            raise ValueError(
                f"{bpath} has {bsize} bytes but the index describes {self.num_tokens} tokens "
                f"of {self._np_dtype.itemsize} bytes"
            )
        if bsize:
            self._bin = np.memmap(bpath, mode="r", dtype=self._np_dtype)
        else:  # numpy cannot memory-map an empty file
            self._bin = np.zeros(0, dtype=self._np_dtype)

    def __len__(self) -> int:
        return int(self.sequence_lengths.shape[0])

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"IndexedDataset indices are integers, got {type(i).__name__}")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"sequence {i} out of range for {n} sequences")
        start = int(self.sequence_pointers[i]) // self._np_dtype.itemsize
        return np.asarray(self._bin[start : start + int(self.sequence_lengths[i])])

    def get(self, i: int, offset: int = 0, length: int | None = None) -> np.ndarray:
        """Tokens ``offset:offset+length`` of sequence ``i`` (as Megatron's ``get``)."""
        seq = self[i]
        end = len(seq) if length is None else offset + length
        return seq[offset:end]

    @property
    def num_documents(self) -> int:
        return max(int(self.document_indices.shape[0]) - 1, 0)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        """Drop the memory maps (they unmap once no returned array still refers to them)."""
        self._bin = self._idx = None
        self.sequence_lengths = self.sequence_pointers = self.document_indices = None

    def __enter__(self) -> "IndexedDataset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
