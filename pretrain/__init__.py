"""Megatron-style pretraining with multi-token prediction on curate's shards."""
