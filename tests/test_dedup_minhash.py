"""Normalization, exact hashes, vectorized MinHash (equal to datasketch's) and LSH banding."""

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from curate.dedup.config import DedupConfig
from curate.dedup.lsh import band_keys, bucket_of, lsh_params, shared_keys
from curate.dedup.partition import split
from curate.dedup.minhash import MinHasher, shingles, units, words64_hash
from curate.dedup.normalize import exact_hash, normalize

rng = np.random.RandomState(3)
VOCAB = [f"tok{i}" for i in range(300)] + ["naïve", "ﬁsh", "Ωmega", "x^2", "中文"]
TEXTS = [" ".join(rng.choice(VOCAB, size=n)) for n in (1, 3, 4, 5, 6, 40, 400)] + ["Hello, World!", "   "]


def test_normalize_folds_form_case_punct_space():
    assert normalize("Héllo,\u00a0 WORLD!!\n\tﬁne") == "héllo world fine"
    assert normalize("x^2 + 1 = 0.") == "x^2 + 1 = 0"  # symbols kept, punctuation folded
    assert normalize(None) == "" and normalize(" ... ") == ""
    assert exact_hash("The  Cat sat ") == exact_hash("the cat sat")
    assert exact_hash("x = a - b") != exact_hash("x = a b")  # exact keeps punctuation
    assert exact_hash("the cat sat") != exact_hash("the cat sat down")
    assert len(exact_hash("a")) == 32 and exact_hash("!!") == ""


@pytest.mark.parametrize("shingle_hash", ["words64", "sha1"])
@pytest.mark.parametrize("char_ngrams", [False, True])
@pytest.mark.parametrize("num_perm,seed,ngram", [(128, 1, 5), (64, 7, 3)])
def test_signatures_equal_datasketch(shingle_hash, char_ngrams, num_perm, seed, ngram):
    mh = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram, char_ngrams=char_ngrams, shingle_hash=shingle_hash)
    sigs = mh.signatures(TEXTS)
    assert sigs.shape == (len(TEXTS), num_perm) and sigs.dtype == np.uint32
    for text, sig in zip(TEXTS, sigs):
        # datasketch's own per-token update loop, same seed/permutations/hash function.
        ref = MinHash(num_perm=num_perm, seed=seed, hashfunc=mh.hashfunc())
        for sh in shingles(units(normalize(text), char_ngrams), ngram):
            ref.update(sh)
        np.testing.assert_array_equal(sig, ref.hashvalues)


def test_sha1_mode_matches_plain_datasketch_defaults():
    """With shingle_hash=sha1 a default MinHash fed UTF-8 shingle bytes gives the same signature."""
    mh = MinHasher(shingle_hash="sha1")
    text = TEXTS[5]
    ref = MinHash()  # datasketch defaults: 128 perms, seed 1, sha1_hash32, affine32
    ref.update_batch([" ".join(s).encode() for s in shingles(normalize(text).split(), 5)])
    np.testing.assert_array_equal(mh.signatures([text])[0], ref.hashvalues)


def test_batching_does_not_change_signatures():
    mh = MinHasher(num_perm=32)
    mh._chunk_rows = 50  # force several chunks and a split huge document
    whole = mh.signatures(TEXTS)
    one_by_one = np.vstack([mh.signatures([t]) for t in TEXTS])
    np.testing.assert_array_equal(whole, one_by_one)
    assert (whole[-1] == np.uint32(0xFFFFFFFF)).all()  # empty text: datasketch's empty MinHash


def test_words64_is_order_sensitive_and_scalar_matches():
    assert words64_hash(("a", "b")) != words64_hash(("b", "a"))
    mh = MinHasher()
    hs = mh.shingle_hashes("a b c d e f")
    assert list(hs) == [words64_hash(("a", "b", "c", "d", "e")), words64_hash(("b", "c", "d", "e", "f"))]


def test_lsh_params_are_datasketchs_and_signatures_query_its_index():
    for t in (0.5, 0.8, 0.9):
        lsh = MinHashLSH(threshold=t, num_perm=128)
        assert lsh_params(t, 128) == (lsh.b, lsh.r)
    assert lsh_params(0.8, 128, 0.2, 0.8) == (lambda x: (x.b, x.r))(MinHashLSH(0.8, 128, weights=(0.2, 0.8)))
    assert DedupConfig().lsh() == (12, 10) and DedupConfig(fp_weight=0.5, fn_weight=0.5).lsh() == (9, 13)
    assert DedupConfig(bands=16, rows=8).lsh() == (16, 8)
    with pytest.raises(ValueError):
        DedupConfig(bands=16)
    with pytest.raises(ValueError):
        DedupConfig(bands=20, rows=8)

    mh = MinHasher()
    base = " ".join(rng.choice(VOCAB, size=300))
    near = base + " tok1 tok2"
    other = " ".join(rng.choice(VOCAB, size=300))
    sigs = mh.signatures([base, near, other])
    index = MinHashLSH(threshold=0.8, num_perm=128)
    index.insert("base", mh.reference_minhash(base))
    index.insert("other", mh.reference_minhash(other))
    assert index.query(mh.to_datasketch(sigs[1])) == ["base"]


def _star_edges(keys, nodes):
    """Star edges (smallest node, other) of the band keys shared by ≥ 2 nodes, as the step's key groups make them."""
    return {(g[0], o) for _, g in shared_keys(keys, np.array(nodes)) for o in g.tolist()[1:]}


def test_band_keys_and_shared_keys_per_bucket():
    sigs = rng.randint(0, 2**32, size=(6, 128), dtype=np.uint64).astype(np.uint32)
    sigs[3] = sigs[1]                 # identical: every band collides
    sigs[4, 13:26] = sigs[0, 13:26]   # band 1 only
    sigs[5, :12] = sigs[2, :12]       # 12 of 13 rows of band 0: no collision
    keys = band_keys(sigs, 9, 13)
    assert keys.shape == (6, 9) and keys.dtype == np.uint64
    assert (keys[1] == keys[3]).all() and keys[0, 1] == keys[4, 1] and (keys[0] == keys[4]).sum() == 1
    assert keys[2, 0] != keys[5, 0]
    nodes = ["n0", "n1", "n2", "n3", "n4", "n5"]
    flat = keys.reshape(-1)
    owner = np.repeat(np.array(nodes), keys.shape[1])
    for buckets in (1, 7):
        parts = list(split(bucket_of(flat, buckets)))
        assert len(parts) <= buckets and sum(len(seg) for _, seg in parts) == 6 * 9
        edges = set().union(*(_star_edges(flat[seg], owner[seg].tolist()) for _, seg in parts))
        assert edges == {("n0", "n4"), ("n1", "n3")}
    # A key shared by k documents gives k-1 star edges to the smallest node.
    k = np.array([5, 5, 5, 9], dtype=np.uint64)
    assert _star_edges(k, ["c", "a", "b", "d"]) == {("a", "b"), ("a", "c")}


def test_lsh_params_match_datasketch_over_a_grid_without_importing_scipy():
    import subprocess
    import sys

    from datasketch.lsh import _optimal_param

    for num_perm in (16, 100, 128):
        for t in (0.3, 0.62, 0.75, 0.8, 0.9, 0.95):
            for w in ((0.5, 0.5), (0.2, 0.8), (0.9, 0.1)):
                assert lsh_params(t, num_perm, *w) == _optimal_param(t, num_perm, *w), (t, num_perm, w)
    code = ("import sys; from curate.dedup.lsh import lsh_params; from curate.dedup.minhash import MinHasher; "
            "lsh_params(0.8, 128); MinHasher(); print('scipy' in sys.modules, 'datasketch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False False"


def test_permutations_are_datasketchs():
    from datasketch import MinHash

    from curate.dedup.minhash import affine32_permutations

    for num_perm, seed in ((128, 1), (64, 7), (256, 12345)):
        a, b = affine32_permutations(num_perm, seed)
        da, db = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        assert a.dtype == da.dtype and (a == da).all() and (b == db).all()
