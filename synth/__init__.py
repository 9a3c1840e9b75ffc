"""Synthetic reasoning data: LLM backends, prompts, verifiers, decontamination, difficulty."""
