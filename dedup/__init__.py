"""Deduplication: exact hashes, MinHash signatures, LSH bands, connected components."""
