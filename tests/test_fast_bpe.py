"""The tiktoken engine gives HF tokenizers' ids, and only where it is known to."""

import json
import os
import random
import sysconfig

import pytest

from curate.mixtures.fast_bpe import needs_hf, tiktoken_twin
from curate.mixtures.tokenizer import DocTokenizer, default_tokenizer_path, default_training_texts, load_tokenizer


def hf_ids(path, texts):
    return [e.ids for e in load_tokenizer(path).encode_batch_fast(texts, add_special_tokens=False)]


def our_ids(tok, texts):
    return [a[:-1].tolist() for a in tok.encode(texts)]


def assert_same(path, tok, texts):
    want, got = hf_ids(path, texts), our_ids(tok, texts)
    bad = [i for i in range(len(texts)) if want[i] != got[i]]
    assert not bad, f"{len(bad)} of {len(texts)} differ, first {texts[bad[0]]!r}: {want[bad[0]]} vs {got[bad[0]]}"


def contexts(cp: int) -> str:
    c = chr(cp)
    return f"a {c}b  {c}1 {c} x'{c}s  \n{c}{c}2{c}\t\t{c}"


def test_bundled_tokenizer_runs_on_tiktoken():
    tok = DocTokenizer().load()
    assert tok.engine == "tiktoken", tok.engine_note


def test_every_bmp_code_point_in_context_gives_hf_ids():
    cps = [c for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    texts = [contexts(c) for c in cps]
    tok = DocTokenizer().load()
    assert tok.engine == "tiktoken"
    assert_same(default_tokenizer_path(), tok, texts)


def test_mixed_text_stdlib_and_training_corpus_give_hf_ids():
    rng = random.Random(3)
    bits = [" ", "  ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u2009", "\u3000", "\x85", "\u200b", "\ufeff", "1",
            "23", "٣", "²", "Ⅻ", "a", "é", "'s", "'S", "'ll", "'d", "--", "$", "\\frac{1}{2}", "<|endoftext|>",
            "<|pad|>", "<|endof", "中文", "x", "def f(x):\n    return x", "∑_{i=1}^n", "Ω", "\U0001d465"]
    texts = ["".join(rng.choice(bits) for _ in range(rng.randint(0, 50))) for _ in range(20000)]
    texts += [t for _, t in zip(range(600), default_training_texts(seed=9, pages=600))]
    stdlib = sysconfig.get_paths()["stdlib"]
    for name in sorted(os.listdir(stdlib))[:200]:
        if name.endswith(".py"):
            with open(os.path.join(stdlib, name), encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
    tok = DocTokenizer().load()
    assert_same(default_tokenizer_path(), tok, texts)


def test_code_points_tiktoken_reads_differently_go_to_hf():
    tok = DocTokenizer().load()
    drift = [0x11DE0, 0x11DE9, 0x16FF4, 0x16FF6]  # digits newer than tiktoken's Unicode tables
    texts = [contexts(c) for c in drift]
    assert all(needs_hf(t) for t in texts)
    tiktoken_alone = tok._fast.encode_batch(texts)
    assert tiktoken_alone != hf_ids(default_tokenizer_path(), texts)  # why needs_hf exists
    batch = ["plain 12 text", *texts, "more \u00e9 text", "emoji \U0001f600 1"]
    assert_same(default_tokenizer_path(), tok, batch)
    assert not needs_hf("\uffff plain") and not needs_hf("")


def _train(tmp_path, name, pre_tokenizer):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer(pre_tokenizers)
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(default_training_texts(seed=5, pages=300), trainer=trainer)
    path = str(tmp_path / f"{name}.json")
    tok.save(path)
    return path


def test_plain_byte_level_tokenizer_runs_on_tiktoken(tmp_path):
    path = _train(tmp_path, "bl", lambda p: p.ByteLevel(add_prefix_space=False))
    tok = DocTokenizer(path).load()
    assert tok.engine == "tiktoken", tok.engine_note
    texts = [contexts(c) for c in range(0, 0x3000, 3)] + list(default_training_texts(seed=11, pages=200))
    assert_same(path, tok, texts)


@pytest.mark.parametrize("case", ["whitespace", "prefix_space", "merge_order", "normalizer", "lstrip", "not_byte_level",
                                  "unreachable", "duplicate_id"])
def test_other_tokenizers_stay_on_hf_with_a_reason(tmp_path, case):
    pre = {"whitespace": lambda p: p.Whitespace(),
           "prefix_space": lambda p: p.ByteLevel(add_prefix_space=True)}.get(case, lambda p: p.ByteLevel(add_prefix_space=False))
    path = _train(tmp_path, case, pre)
    spec = json.load(open(path, encoding="utf-8"))
    if case == "merge_order":
        m = spec["model"]["merges"]
        m[10], m[200] = m[200], m[10]
    elif case == "normalizer":
        spec["normalizer"] = {"type": "NFC"}
    elif case == "lstrip":
        spec["added_tokens"][0]["lstrip"] = True
    elif case == "not_byte_level":
        spec["model"]["vocab"]["\t"] = len(spec["model"]["vocab"])
    elif case == "duplicate_id":
        spec["model"]["vocab"]["zzqx"] = 300
    elif case == "unreachable":  # a token no merge makes: tiktoken would take a whole "zzqx" as it
        spec["model"]["vocab"]["zzqx"] = len(spec["model"]["vocab"])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    tok = DocTokenizer(path).load()
    assert tok.engine == "tokenizers"
    assert {"whitespace": "pre-tokenizer", "prefix_space": "pre-tokenizer", "merge_order": "out of id order",
            "normalizer": "normalizer", "lstrip": "strips", "not_byte_level": "not byte-level",
            "unreachable": "not what BPE makes", "duplicate_id": "not unique"}[case] in tok.engine_note
    texts = ["hello world  1 2", "x = f(y) <|endoftext|> z", " leading", "émigré 42", "zzqx zzqx"]
    assert_same(path, tok, texts)


def test_engine_tokenizers_forces_hf():
    tok = DocTokenizer(engine="tokenizers").load()
    assert tok.engine == "tokenizers" and tok._fast is None
    twin, why = tiktoken_twin(default_tokenizer_path(), tok.tokenizer)
    assert twin is not None and why == ""


def test_engine_survives_pickling():
    import pickle

    tok = pickle.loads(pickle.dumps(DocTokenizer(engine="tokenizers")))
    assert tok.load().engine == "tokenizers"


def test_an_added_token_whose_id_is_taken_gets_the_id_hf_gives_it(tmp_path):
    path = _train(tmp_path, "taken", lambda p: p.ByteLevel(add_prefix_space=False))
    spec = json.load(open(path, encoding="utf-8"))
    spec["added_tokens"].append({"id": 300, "content": "<|x|>", "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": False, "special": True})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    tok = DocTokenizer(path).load()
    assert tok.engine == "tiktoken"
    texts = ["a <|x|> b", "<|x|><|endoftext|>x", "no added token"]
    assert_same(path, tok, texts)
    assert 300 not in our_ids(tok, texts)[0]  # the file's id is another token's; HF moves it
