"""Megatron indexed datasets: our builder/reader against megatron-core's own implementation."""

import os
import warnings

import numpy as np
import pytest

from curate.mixtures.indexed import (
    INDEX_HEADER,
    IndexedDataset,
    IndexedDatasetBuilder,
    best_dtype,
    bin_path,
    idx_path,
)


def _docs(seed, n=50, vocab=50000, maxlen=300):
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, vocab, size=int(rng.integers(1, maxlen))) for _ in range(n)]
    docs[3] = np.zeros(0, dtype=np.int64)  # an empty sequence is legal in the format
    return docs


def _build(prefix, docs, dtype):
    b = IndexedDatasetBuilder(str(prefix), dtype=dtype)
    for d in docs:
        b.add_document(d)
    b.finalize()


def _megatron():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("megatron.core.datasets.indexed_dataset")


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_round_trip(tmp_path, dtype):
    docs = _docs(1)
    _build(tmp_path / "ds", docs, dtype)
    ds = IndexedDataset(str(tmp_path / "ds"))
    assert len(ds) == len(docs) and ds.num_documents == len(docs)
    assert ds.dtype is dtype
    for i, d in enumerate(docs):
        assert np.array_equal(ds[i], d)
    assert np.array_equal(ds[-1], docs[-1])
    assert list(ds.document_indices) == list(range(len(docs) + 1))
    assert ds.num_tokens == sum(len(d) for d in docs)
    assert np.array_equal(ds.get(0, 2, 5), docs[0][2:7])
    with pytest.raises(IndexError):
        ds[len(docs)]
    # no temporaries left behind
    assert sorted(os.listdir(tmp_path)) == ["ds.bin", "ds.idx"]


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_megatron_reads_our_files(tmp_path, dtype):
    mid = _megatron()
    docs = _docs(2)
    _build(tmp_path / "ours", docs, dtype)
    ds = mid.IndexedDataset(str(tmp_path / "ours"))
    assert len(ds) == len(docs)
    assert ds.index.dtype is dtype
    assert list(ds.document_indices) == list(range(len(docs) + 1))
    assert list(ds.sequence_lengths) == [len(d) for d in docs]
    for i, d in enumerate(docs):
        assert np.array_equal(ds[i], d), i


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_byte_identical_to_megatron_builder(tmp_path, dtype):
    mid = _megatron()
    import torch

    docs = _docs(3)
    _build(tmp_path / "ours", docs, dtype)
    theirs = str(tmp_path / "theirs")
    b = mid.IndexedDatasetBuilder(theirs + ".bin", dtype=dtype)
    for d in docs:
        b.add_document(torch.tensor(d, dtype=torch.int64), [len(d)])
    b.finalize(theirs + ".idx")
    for ext in (".bin", ".idx"):
        assert (tmp_path / ("ours" + ext)).read_bytes() == (tmp_path / ("theirs" + ext)).read_bytes(), ext
    # and we read what Megatron wrote
    ds = IndexedDataset(theirs)
    for i, d in enumerate(docs):
        assert np.array_equal(ds[i], d)


def test_header_layout(tmp_path):
    _build(tmp_path / "h", [np.array([5, 6, 7]), np.array([8])], np.uint16)
    raw = (tmp_path / "h.idx").read_bytes()
    assert raw[:9] == INDEX_HEADER
    assert int.from_bytes(raw[9:17], "little") == 1
    assert raw[17] == 8  # uint16
    assert int.from_bytes(raw[18:26], "little") == 2
    assert int.from_bytes(raw[26:34], "little") == 3
    assert np.frombuffer(raw, "<i4", 2, 34).tolist() == [3, 1]
    assert np.frombuffer(raw, "<i8", 2, 42).tolist() == [0, 6]
    assert np.frombuffer(raw, "<i8", 3, 58).tolist() == [0, 1, 2]
    assert len(raw) == 58 + 24
    assert (tmp_path / "h.bin").read_bytes() == np.array([5, 6, 7, 8], "<u2").tobytes()


def test_abort_and_exception_leave_existing_dataset(tmp_path):
    prefix = str(tmp_path / "ds")
    _build(prefix, [np.array([1, 2, 3])], np.uint16)
    before = (open(bin_path(prefix), "rb").read(), open(idx_path(prefix), "rb").read())
    with pytest.raises(RuntimeError):
        with IndexedDatasetBuilder(prefix, dtype=np.uint16) as b:
            b.add_document(np.array([9, 9]))
            raise RuntimeError("killed")
    after = (open(bin_path(prefix), "rb").read(), open(idx_path(prefix), "rb").read())
    assert before == after
    assert sorted(os.listdir(tmp_path)) == ["ds.bin", "ds.idx"]


def test_rejects_tokens_outside_dtype(tmp_path):
    b = IndexedDatasetBuilder(str(tmp_path / "x"), dtype=np.uint16)
    with pytest.raises(ValueError, match="do not fit"):
        b.add_document(np.array([1, 70000]))
    with pytest.raises(ValueError, match="1-D"):
        b.add_document(np.zeros((2, 2), dtype=np.int64))
    b.abort()
    assert os.listdir(tmp_path) == []


def test_reader_errors_name_the_file(tmp_path):
    prefix = str(tmp_path / "bad")
    _build(prefix, [np.array([1, 2, 3])], np.uint16)
    raw = bytearray(open(idx_path(prefix), "rb").read())
    open(bin_path(prefix), "ab").write(b"\0\0")
    with pytest.raises(ValueError, match="bad.bin"):
        IndexedDataset(prefix)
    _build(prefix, [np.array([1, 2, 3])], np.uint16)
    raw[0:3] = b"XXX"
    open(idx_path(prefix), "wb").write(bytes(raw))
    with pytest.raises(ValueError, match="bad header"):
        IndexedDataset(prefix)
    with pytest.raises(FileNotFoundError):
        IndexedDataset(str(tmp_path / "missing"))


def test_best_dtype():
    assert best_dtype(32000) is np.uint16
    assert best_dtype(151_643) is np.int32


def _real_token_docs(n=40):
    """Token arrays the mix step would write: generated prose/math/code through the shipped tokenizer."""
    import random

    from curate.mixtures.tokenizer import DocTokenizer
    from curate.sample import generate as g

    rng = random.Random(3)
    texts = ["\n\n".join(g.article_body(rng) if i % 3 == 0 else g.math_body(rng) if i % 3 == 1 else g.code_body(rng))
             for i in range(n)]
    tok = DocTokenizer()
    return tok.encode(texts), tok.dtype


def test_add_documents_writes_the_bytes_of_adding_one_by_one(tmp_path):
    docs, dtype = _real_token_docs()
    _build(tmp_path / "one", docs, dtype)
    b = IndexedDatasetBuilder(str(tmp_path / "many"), dtype=dtype)
    b.add_documents(docs[:1])
    b.add_documents([])
    b.add_documents(docs[1:17])
    b.add_documents(iter(docs[17:]))
    assert b.num_documents == len(docs) and b.num_tokens == sum(len(d) for d in docs)
    b.finalize()
    for path in (bin_path, idx_path):
        assert open(path(str(tmp_path / "many")), "rb").read() == open(path(str(tmp_path / "one")), "rb").read()
    ds = IndexedDataset(str(tmp_path / "many"))
    assert all(np.array_equal(ds[i], d) for i, d in enumerate(docs))


def test_add_documents_checks_every_document_before_writing_any(tmp_path):
    docs, dtype = _real_token_docs(4)
    b = IndexedDatasetBuilder(str(tmp_path / "x"), dtype=dtype)
    with pytest.raises(ValueError, match="do not fit"):
        b.add_documents([docs[0], np.array([1, 70000]), docs[1]])
    assert (b.num_documents, b.nbytes) == (0, 0)
    b.add_documents(docs[2:])
    b.finalize()
    ds = IndexedDataset(str(tmp_path / "x"))
    assert len(ds) == 2 and np.array_equal(ds[0], docs[2]) and np.array_equal(ds[1], docs[3])
