"""Stage mixtures: token-budget sampling, tokenization, Megatron .bin/.idx shards, the report."""
