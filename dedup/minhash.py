"""MinHash signatures computed for a batch of documents at once with numpy.

Signatures use datasketch's default ``affine32`` scheme: each 32-bit shingle hash is pre-mixed
with the MurmurHash3 finalizer and permuted by ``a*h + b mod 2^32`` with ``(a, b)`` drawn by
datasketch itself for the given seed. So for the same seed, ``num_perm`` and shingle hash,
``MinHasher.signatures`` equals ``datasketch.MinHash(num_perm, seed, hashfunc=...)`` updated
with the same shingles (``reference_minhash`` builds exactly that), and a signature can be
turned into a ``datasketch.MinHash`` (``to_datasketch``) to query a user's own LSH index.

Shingle hashes (``shingle_hash``):

* ``"words64"`` (default, fast): each unit (word, or character with char n-grams) is hashed
  once with BLAKE2b-64 (cached per process); an n-gram's hash chains the unit hashes through
  the 64-bit MurmurHash3 finalizer, ``h = fmix64(h ^ u_j)``, vectorized over all n-grams of a
  document, and keeps the top 32 bits. ``words64_hash`` is the scalar definition.
* ``"sha1"``: datasketch's default ``sha1_hash32`` of the UTF-8 shingle text (units joined by
  a space for words, nothing for characters) — the hash a plain datasketch user gets; slower.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np

from curate.dedup.normalize import normalize

MAX32 = np.uint32(0xFFFFFFFF)
_M64 = (1 << 64) - 1
_CHAIN_SEED = 0x9E3779B97F4A7C15  # start value of the n-gram hash chain
_CACHE_LIMIT = 2_000_000  # unit-hash cache entries kept per process before it is cleared
SHINGLE_HASHES = ("words64", "sha1")


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finalizer over a uint32 array (the pre-mix of datasketch's affine32)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finalizer over a uint64 array (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def unit_hash(unit: str) -> int:
    """64-bit hash of one word (or character): BLAKE2b-64, little-endian."""
    return int.from_bytes(hashlib.blake2b(unit.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def words64_hash(shingle: Sequence[str]) -> int:
    """Scalar definition of the ``words64`` hash of one shingle (a tuple of units) → 32 bits."""
    h = _CHAIN_SEED
    for u in shingle:
        h = _fmix64_int(h ^ unit_hash(u))
    return h >> 32


def sha1_hash(shingle: Sequence[str], joiner: str = " ") -> int:
    """datasketch's ``sha1_hash32`` of the shingle's UTF-8 text."""
    return int.from_bytes(hashlib.sha1(joiner.join(shingle).encode("utf-8", "surrogatepass")).digest()[:4], "little")


def units(text: str, char_ngrams: bool = False) -> list[str]:
    """Shingling units of already normalized text: its words, or its characters."""
    return list(text) if char_ngrams else text.split()


def shingles(unit_list: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of ``unit_list``; a text shorter than n gives one shingle of all its units."""
    if not unit_list:
        return []
    if len(unit_list) < n:
        return [tuple(unit_list)]
    return [tuple(unit_list[i : i + n]) for i in range(len(unit_list) - n + 1)]


def affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint32 of datasketch's "affine32" scheme (``MinHash._init_permutations``: odd
    ``a``, any ``b``, from ``RandomState(seed)``), drawn here so that a run need not import
    datasketch (and scipy, which its package imports)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


class UnitHashes:
    """64-bit hashes of text units (``unit_hash``), cached per process (at most _CACHE_LIMIT
    entries, then cleared): words repeat across documents, so most are hashed once."""

    def __init__(self):
        self.cache: dict[str, int] = {}

    def __call__(self, us: list[str]) -> np.ndarray:
        cache = self.cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        for u in set(us).difference(cache):
            cache[u] = unit_hash(u)
        return np.fromiter(map(cache.__getitem__, us), dtype=np.uint64, count=len(us))


class MinHasher:
    """Vectorized MinHash for documents: normalize → shingle → hash → permute → min."""

    def __init__(self, num_perm: int = 128, seed: int = 1, ngram: int = 5, char_ngrams: bool = False,
                 shingle_hash: str = "words64"):
        if shingle_hash not in SHINGLE_HASHES:
            raise ValueError(f"shingle_hash must be one of {SHINGLE_HASHES}, got {shingle_hash!r}")
        self.num_perm, self.seed, self.ngram = num_perm, seed, ngram
        self.char_ngrams, self.shingle_hash = char_ngrams, shingle_hash
        a, b = affine32_permutations(num_perm, seed)
        self.a = np.ascontiguousarray(a, dtype=np.uint32)[:, None]  # (num_perm, 1)
        self.b = np.ascontiguousarray(b, dtype=np.uint32)[:, None]
        self._unit_hashes = UnitHashes()
        self._chunk_rows = max(1, (1 << 20) // num_perm)  # ≈4 MB of permuted values per chunk

    # -- shingle hashes ---------------------------------------------------------------
    def shingle_hashes(self, normalized: str) -> np.ndarray:
        """uint32 hashes of every shingle of one normalized text (with repeats; empty if no units)."""
        us = units(normalized, self.char_ngrams)
        if not us:
            return np.empty(0, dtype=np.uint32)
        if self.shingle_hash == "sha1":
            joiner = "" if self.char_ngrams else " "
            return np.fromiter((sha1_hash(s, joiner) for s in shingles(us, self.ngram)), dtype=np.uint32)
        w = self._unit_hashes(us)
        n = min(self.ngram, len(w))
        k = len(w) - n + 1
        h = np.full(k, _CHAIN_SEED, dtype=np.uint64)
        for j in range(n):
            h = fmix64(h ^ w[j : j + k])
        return (h >> np.uint64(32)).astype(np.uint32)

    # -- signatures ---------------------------------------------------------------------
    def signatures_from_hashes(self, hashes: list[np.ndarray]) -> np.ndarray:
        """(len(hashes), num_perm) uint32 signatures; a document with no shingles gets all 2^32-1."""
        out = np.full((len(hashes), self.num_perm), MAX32, dtype=np.uint32)
        nonempty = [i for i, h in enumerate(hashes) if len(h)]
        # Chunks of whole documents, each with at most ~_chunk_rows shingles (unless one doc is bigger).
        i = 0
        while i < len(nonempty):
            j, rows = i, 0
            while j < len(nonempty) and (j == i or rows + len(hashes[nonempty[j]]) <= self._chunk_rows):
                rows += len(hashes[nonempty[j]])
                j += 1
            docs = nonempty[i:j]
            hv = fmix32(np.concatenate([hashes[d] for d in docs]))[None, :]
            starts = np.cumsum([0] + [len(hashes[d]) for d in docs[:-1]])
            if rows > self._chunk_rows:  # a single huge document: reduce it in slices
                acc = np.full(self.num_perm, MAX32, dtype=np.uint32)
                for s in range(0, rows, self._chunk_rows):
                    part = self.a * hv[:, s : s + self._chunk_rows] + self.b
                    np.minimum(acc, part.min(axis=1), out=acc)
                out[docs[0]] = acc
            else:
                # (num_perm, rows) layout: the per-document min runs along contiguous memory.
                phv = self.a * hv + self.b
                out[docs] = np.minimum.reduceat(phv, starts, axis=1).T
            i = j
        return out

    def signatures(self, texts: Iterable[str], normalized: bool = False) -> np.ndarray:
        """Signatures of many texts at once: (N, num_perm) uint32."""
        hashes = [self.shingle_hashes(t if normalized else normalize(t)) for t in texts]
        return self.signatures_from_hashes(hashes)

    # -- datasketch interop ---------------------------------------------------------------
    def hashfunc(self):
        """The shingle hash as a datasketch ``hashfunc`` taking a shingle tuple."""
        if self.shingle_hash == "sha1":
            joiner = "" if self.char_ngrams else " "
            return _Sha1Shingle(joiner)
        return words64_hash

    def reference_minhash(self, text: str):
        """datasketch ``MinHash`` of ``text``'s shingles, built with datasketch's own update path."""
        from datasketch import MinHash

        m = MinHash(num_perm=self.num_perm, seed=self.seed, hashfunc=self.hashfunc())
        sh = shingles(units(normalize(text), self.char_ngrams), self.ngram)
        if sh:
            m.update_batch(sh)
        return m

    def to_datasketch(self, signature: np.ndarray):
        """A ``datasketch.MinHash`` holding ``signature`` (e.g. to insert into or query a MinHashLSH)."""
        from datasketch import MinHash

        return MinHash(seed=self.seed, hashvalues=signature, scheme="affine32",
                       permutations=(self.a[:, 0], self.b[:, 0]))


class _Sha1Shingle:
    """Picklable datasketch hashfunc: sha1_hash32 of the joined shingle text."""

    def __init__(self, joiner: str):
        self.joiner = joiner

    def __call__(self, shingle: Sequence[str]) -> int:
        return sha1_hash(shingle, self.joiner)
