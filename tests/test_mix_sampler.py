"""The token-budget solver, per-document copy decisions and the tokenizer wrapper."""

import os

import numpy as np
import pytest

from curate.errors import ConfigError
from curate.mixtures import sampler as S
from curate.mixtures.config import MixConfig
from curate.mixtures.tokenizer import DocTokenizer, find_eod, load_tokenizer, train_bpe


def _stats(spec, seed=0):
    """spec: {(pool, source, domain): (n_docs, tokens_per_doc)} → cell stats with real hashes."""
    out = {}
    for (pool, source, domain), (n, t) in spec.items():
        acc = S.new_cell_stats()
        for i in range(n):
            S.add_doc_stats(acc, t, S.bucket_of(S.doc_hash(seed, pool, f"{source}-{domain}-{i}")))
        out[(pool, source, domain)] = acc
    return out


SPEC = {
    ("web", "cc", "general"): (600, 1000),
    ("web", "cc", "math"): (100, 1000),
    ("web", "gh", "code"): (50, 1000),
    ("web", "arxiv", "math"): (40, 2000),
    ("synthetic", "synth-math", "math"): (60, 500),
}


def test_plan_meets_feasible_targets():
    cfg = MixConfig(total_tokens=500_000, domain_shares={"math": 0.4, "code": 0.3, "general": 0.3},
                    pool_shares={"synthetic": 0.1})
    plan = S.build_plan(_stats(SPEC), cfg, 1)
    assert plan["unmet"] == []
    for dim, targets in (("domain", cfg.domain_shares), ("pool", cfg.pool_shares)):
        for g, t in targets.items():
            assert abs(plan["groups"][dim][g]["realized_share"] - t) <= 0.01, (dim, g)
    assert abs(plan["planned_tokens"] - 500_000) <= 2_000
    for c in plan["cells"]:
        assert c["planned"] <= c["tokens"] * c["max_epochs"] + 1e-6


def test_plan_reports_shortfall_and_redistributes():
    cfg = MixConfig(total_tokens=1_000_000, domain_shares={"math": 0.4, "code": 0.3, "general": 0.3}, max_epochs=2)
    plan = S.build_plan(_stats(SPEC), cfg, 1)
    unmet = {(u["dimension"], u["group"]): u for u in plan["unmet"]}
    assert ("domain", "code") in unmet and "too small" in unmet[("domain", "code")]["reason"]
    code = plan["groups"]["domain"]["code"]
    assert code["tokens"] == 100_000  # 50 docs × 1000 tokens × 2 epochs
    # the missing code tokens went to math (until its own cap: 210k tokens × 2) and then general
    g, m = plan["groups"]["domain"]["general"], plan["groups"]["domain"]["math"]
    assert m["adjusted_share"] == pytest.approx(0.42) and m["tokens"] <= 420_000
    assert g["adjusted_share"] == pytest.approx(0.48)
    assert abs(plan["planned_tokens"] - 1_000_000) <= 2_000


def test_shrink_keeps_shares():
    cfg = MixConfig(total_tokens=1_000_000, domain_shares={"math": 0.4, "code": 0.3, "general": 0.3}, max_epochs=2,
                    on_shortfall="shrink")
    plan = S.build_plan(_stats(SPEC), cfg, 1)
    assert plan["effective_budget"] == int(100_000 / 0.3)
    for g, t in cfg.domain_shares.items():
        assert abs(plan["groups"]["domain"][g]["realized_share"] - t) <= 0.01
    assert [u["dimension"] for u in plan["unmet"]] == ["total"]


def test_source_patterns_and_epoch_overrides():
    cfg = MixConfig(total_tokens=200_000, source_shares={"synth-*": 0.1, "gh": 0.2},
                    source_max_epochs={"gh": 0.5})
    plan = S.build_plan(_stats(SPEC), cfg, 1)
    groups = plan["groups"]["source"]
    assert set(groups) == {"synth-*", "gh", S.OTHER}
    assert abs(groups["synth-*"]["realized_share"] - 0.1) <= 0.01
    assert groups["gh"]["tokens"] <= 25_000 and groups["gh"]["unmet"]


def test_copies_match_plan_exactly_and_depend_on_seed():
    cfg = MixConfig(total_tokens=300_000, domain_shares={"math": 0.5})
    for seed in (1, 2):
        stats = _stats(SPEC, seed)
        plan = S.build_plan(stats, cfg, seed)
        cells = S.cell_index(plan)
        for (pool, source, domain), (n, t) in SPEC.items():
            c = cells[(pool, source, domain)]
            got = sum(S.copies(c, S.bucket_of(S.doc_hash(seed, pool, f"{source}-{domain}-{i}"))) * t for i in range(n))
            assert got == c["planned"]
    a = S.build_plan(_stats(SPEC, 1), cfg, 1)
    b = S.build_plan(_stats(SPEC, 1), cfg, 1)
    assert a == b


def test_config_rejects_bad_shares():
    with pytest.raises(ValueError):
        MixConfig(domain_shares={"math": 0.8, "code": 0.4})
    with pytest.raises(ValueError):
        MixConfig(source_shares={"x": -0.1})


def test_tokenizer_appends_eod_and_batches():
    tok = DocTokenizer()
    texts = ["Let $x^2 = 4$, so x = 2.", "def f(x):\n    return x + 1\n", "plain prose here"]
    arrs = tok.encode(texts)
    assert tok.dtype is np.uint16 and tok.vocab_size == 16384
    for t, a in zip(texts, arrs):
        assert a[-1] == tok.eod == 0 and a.dtype == np.uint16
        assert tok.tokenizer.decode(a[:-1].tolist()) == t
        assert np.array_equal(a, tok.encode_one(t))


def _texts(n):
    import random

    from curate.sample import generate as g

    rng = random.Random(5)
    return ["\n\n".join((g.article_body, g.math_body, g.code_body)[i % 3](rng)) for i in range(n)]


def test_encode_batches_gives_encode_of_each_batch_in_order_with_its_tag():
    tok = DocTokenizer()
    texts = _texts(30)
    batches = [("a", texts[:3]), ("b", []), ("c", texts[3:25]), ("d", texts[25:26]), ("e", tuple(texts[26:]))]
    got = list(tok.encode_batches(iter(batches)))
    assert [tag for tag, _ in got] == ["a", "b", "c", "d", "e"]
    for (_, arrs), (_, batch) in zip(got, batches):
        want = tok.encode(list(batch))
        assert len(arrs) == len(batch) and all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(arrs, want))
    assert list(tok.encode_batches([])) == []


def test_encode_batches_reads_one_batch_ahead_and_stops_cleanly():
    import threading

    tok = DocTokenizer()
    texts = _texts(12)
    pulled = []

    def source():
        for i in range(6):
            pulled.append(i)
            yield i, texts[2 * i:2 * i + 2]

    gen = tok.encode_batches(source())
    for k, (tag, arrs) in enumerate(gen):
        assert tag == k and len(pulled) <= k + 2 and len(arrs) == 2
        if k == 2:
            break
    gen.close()
    assert len(pulled) == 4
    assert not [t for t in threading.enumerate() if t.name.startswith("curate-tokenize")]

    def failing():
        yield 0, texts[:2]
        raise OSError("bad shard")

    with pytest.raises(OSError, match="bad shard"):
        list(tok.encode_batches(failing()))
    with pytest.raises(TypeError):
        list(tok.encode_batches([(0, [None])]))


def test_custom_tokenizer_json(tmp_path):
    path = str(tmp_path / "tok.json")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    t.train_from_iterator(["hello world again and again"] * 20,
                          trainers.BpeTrainer(vocab_size=60, special_tokens=["<unk>", "</s>"], show_progress=False))
    t.save(path)
    tok = DocTokenizer(path)
    assert tok.eod == t.token_to_id("</s>")
    assert tok.encode(["hello world"])[0][-1] == tok.eod
    with pytest.raises(ConfigError, match="end-of-document"):
        find_eod(load_tokenizer(path), "<|nope|>")
    with pytest.raises(ConfigError, match="not found"):
        load_tokenizer(str(tmp_path / "missing.json"))
    # the project's trainer produces a working byte-level BPE
    out = train_bpe(["some text with $x+1$ and code()"] * 50, str(tmp_path / "bpe.json"), vocab_size=300)
    assert DocTokenizer(out).encode(["some text"])[0][-1] == 0


def test_a_group_a_few_tokens_short_whose_share_is_met_is_not_reported_unmet():
    """Was: report.html said 'Not met: domain code: target 30.0%, realized 30.3%' (capacity 4 tokens short)."""
    cfg = MixConfig(total_tokens=1_000_000, domain_shares={"math": 0.4, "code": 0.3, "general": 0.3}, max_epochs=2)
    stats = _stats(SPEC)
    code_cap = sum(v["tokens"] for k, v in stats.items() if k[2] == "code") * 2
    cfg.total_tokens = int(code_cap / 0.3) + 10  # the code target is a handful of tokens over its capacity
    plan = S.build_plan(stats, cfg, 1)
    code = plan["groups"]["domain"]["code"]
    assert code["tokens"] < code["target_share"] * cfg.total_tokens  # short in tokens, by a few
    assert abs(code["realized_share"] - 0.3) <= 0.02
    assert not code["unmet"] and ("domain", "code") not in {(u["dimension"], u["group"]) for u in plan["unmet"]}


def test_a_tokenizer_in_a_folder_named_with_a_non_utf8_byte_loads(tmp_path):
    """HF's Tokenizer.from_file takes only paths that encode as UTF-8 (seen: 'surrogates not
    allowed' for a folder named with a Latin-1 byte); the file is read by curate instead."""
    import shutil

    from curate.mixtures.tokenizer import default_tokenizer_path

    odd = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9")
    os.makedirs(odd)
    path = os.fsdecode(os.path.join(odd, b"tokenizer.json"))
    shutil.copy(default_tokenizer_path(), path)
    assert DocTokenizer(path).encode(["x = 1"])[0].tolist() == DocTokenizer().encode(["x = 1"])[0].tolist()
