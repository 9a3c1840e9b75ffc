"""Deduplication kernels: plain functions over plain values, one idea per module.

``normalize`` (texts compared), ``minhash`` (signatures), ``lsh`` (bands, shared keys),
``fingerprints`` (8-byte identities), ``partition`` (where records go), ``exact`` (exact
groups), ``candidates`` (key groups and their nodes), ``edges`` (star edges by estimated
Jaccard), ``components`` (survivor order, large-star/small-star, centers), ``decisions``
(keep/drop), ``cluster_sizes`` and ``stats`` (what the step reports). The Beam transforms
that run them are in ``curate.pipelines.dedup``.
"""
