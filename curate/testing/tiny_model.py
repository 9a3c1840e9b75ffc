"""A tiny random-init causal LM saved to disk, for smoke runs and tests without hub access.

The tokenizer is a byte-level BPE trained with ``tokenizers`` on the given texts; the model is
a GPT-2 configuration with small dimensions. Its output is noise: it exercises the real
loading, batching and generation code paths, not the quality of the data.
"""

from __future__ import annotations

import os

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast


def make_tiny_model(directory: str, texts: list[str] | None = None, vocab_size: int = 400, n_embd: int = 32,
                    n_layer: int = 2, n_head: int = 2, n_positions: int = 512, seed: int = 0) -> str:
    os.makedirs(directory, exist_ok=True)
    corpus = list(texts or []) + [
        "Solve the problem step by step. The final answer is \\boxed{3/4}.",
        "def add(a, b):\n    return a + b\n```python\nprint(1)\n```",
        "Question: what is 2 + 2? Answer: 4",
    ]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(directory)
    torch.manual_seed(seed)
    eos = fast.convert_tokens_to_ids("<|endoftext|>")
    cfg = GPT2Config(vocab_size=len(fast), n_embd=n_embd, n_layer=n_layer, n_head=n_head, n_positions=n_positions,
                     bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    GPT2LMHeadModel(cfg).save_pretrained(directory)
    return directory
