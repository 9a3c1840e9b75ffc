"""Configuration of the dedup step (the `dedup:` section of a stage YAML)."""

from typing import Literal

from pydantic import Field, model_validator

from curate.configbase import Section


class DedupConfig(Section):
    exact: bool = Field(True, description="Drop exact duplicates of normalized text (dedup:exact).")
    minhash: bool = Field(True, description="Drop near-duplicates found by MinHash LSH (dedup:minhash).")
    threshold: float = Field(0.8, gt=0, lt=1, description="Jaccard similarity above which two documents are near-duplicates.")
    num_perm: int = Field(128, ge=16, description="Number of MinHash permutations.")
    ngram: int = Field(5, ge=1, description="Shingle size in words (or characters with char_ngrams).")
    char_ngrams: bool = Field(False, description="Shingle by characters instead of words.")
    seed: int = Field(1, description="Seed of the MinHash permutations (same seed as datasketch gives the same signatures).")
    shingle_hash: Literal["words64", "sha1"] = Field(
        "words64",
        description="Shingle hash: words64 (BLAKE2b word hashes chained by fmix64, fast) or sha1 "
        "(datasketch's default sha1_hash32 of the shingle text, for indexes built with plain datasketch).",
    )
    bands: int | None = Field(
        None, ge=1, description="LSH bands; None: datasketch's optimal (bands, rows) for threshold and num_perm."
    )
    rows: int | None = Field(None, ge=1, description="LSH rows per band; set together with bands, or neither.")
    fp_weight: float = Field(
        0.2, ge=0, le=1,
        description="Weight of false positives in datasketch's optimal-parameter rule. Low by default because "
        "candidates are verified (verify); use 0.5/0.5 (datasketch's defaults) with verify off.",
    )
    fn_weight: float = Field(0.8, ge=0, le=1, description="Weight of false negatives in datasketch's optimal-parameter rule.")
    verify: bool = Field(
        True, description="Keep only candidate pairs whose estimated Jaccard (signature agreement) ≥ threshold."
    )
    buckets: int = Field(
        256, ge=1,
        description="Band-key buckets (parallelism of candidate search). One bucket holds ≈ docs·bands/buckets "
        "keys (~100 B each): raise it beyond ~100M documents.",
    )
    cc_rounds: int = Field(
        10, ge=1,
        description="Large-star/small-star rounds of connected components; the run fails, naming this field, "
        "if the clusters have not converged after them.",
    )
    batch_size: int = Field(1024, ge=1, description="Documents per signature batch (one Beam element per batch).")
    quality_key: str | None = Field(
        None, description="scores[...] key ranking cluster survivors (highest wins); None: longest text, then smallest id."
    )
    top_clusters: int = Field(20, ge=0, description="How many of the largest clusters the manifest lists.")

    @model_validator(mode="after")
    def _bands_rows(self):
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then datasketch's optimal values are used)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def lsh(self) -> tuple[int, int]:
        """(bands, rows) in use: the configured ones, else datasketch's optimal ones."""
        if self.bands is not None:
            return self.bands, self.rows
        from curate.dedup.lsh import lsh_params

        return lsh_params(self.threshold, self.num_perm, self.fp_weight, self.fn_weight)
