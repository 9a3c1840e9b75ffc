"""blend.json: one record (curate.mixtures.blend) written by the mix step, read by pretraining."""

import json
import os

import numpy as np
import pytest

from curate.mixtures.blend import FORMAT, Blend, BlendTokenizer, DataPathBlend, read_blend
from curate.mixtures.indexed import IndexedDatasetBuilder, best_dtype
from curate.mixtures.tokenizer import DocTokenizer
from curate.pretrain.data import blend_tokenizer_info, parse_data_path

TOK = {"path": "tokenizer.json", "sha256": "ab" * 32, "vocab_size": 16384, "eod_id": 0, "dtype": "uint16"}
SHARDS = [
    {"source": "cc", "prefix": "shards/cc/cc_00000", "docs": 7, "tokens": 1000, "bytes": 2000},
    {"source": "cc", "prefix": "shards/cc/cc_00001", "docs": 3, "tokens": 333, "bytes": 666},
    {"source": "synth-math", "prefix": "shards/synth-math/synth-math_00000", "docs": 5, "tokens": 2001, "bytes": 4002},
]


def _previous_bytes(tok: dict, context_length: int, seed: int, datasets: list[dict]) -> bytes:
    """blend.json as pipelines/mix.py built it before the record existed (a dict literal)."""
    datasets = [dict(d) for d in datasets]
    total = sum(d["tokens"] for d in datasets)
    for d in datasets:
        d["weight"] = round(d["tokens"] / total, 10) if total else 0.0
    blend = {
        "format": "megatron-indexed-dataset/MMIDIDX-v1",
        "tokenizer": dict(tok),
        "context_length": context_length,
        "seed": seed,
        "total_tokens": total,
        "datasets": datasets,
        "data_path": " ".join(f"{d['weight']} {d['prefix']}" for d in datasets),
    }
    return json.dumps(blend, indent=2, sort_keys=True).encode()


@pytest.mark.parametrize("datasets", [SHARDS, SHARDS[:1], [], [{**SHARDS[0], "tokens": 1}, {**SHARDS[1], "tokens": 2}]])
def test_same_bytes_as_before(datasets, tmp_path):
    blend = Blend.build(TOK, context_length=8192, seed=1234, datasets=datasets)
    want = _previous_bytes(TOK, 8192, 1234, datasets)
    assert blend.to_bytes() == want
    path = blend.write(str(tmp_path))
    assert path == os.path.join(str(tmp_path), "blend.json")
    assert open(path, "rb").read() == want
    assert os.listdir(tmp_path) == ["blend.json"]  # no temporary left
    again = read_blend(path)
    assert again == blend and again.to_bytes() == want


def test_mix_output_reads_back_byte_for_byte(tmp_path):
    from curate.config import default_config
    from curate.pipelines.stages import run_mix

    from mixhelp import pools as make_pools

    cfg = default_config("stage2")
    cfg.mix.total_tokens = 20_000
    out = str(tmp_path / "out")
    run_mix(cfg, make_pools(str(tmp_path / "pools")), out, [], [], log=lambda m: None)
    path = os.path.join(out, "blend.json")
    raw = open(path, "rb").read()
    blend = read_blend(path)
    assert isinstance(blend, Blend) and blend.to_bytes() == raw
    assert blend.format == FORMAT and blend.datasets
    # every key the file has is a field of the record, and back
    assert set(json.loads(raw)) | {"rotary_base", "valid_datasets"} == set(Blend.model_fields)  # those two only when set
    assert set(json.loads(raw)["tokenizer"]) == set(BlendTokenizer.model_fields)
    tok = DocTokenizer().load()
    assert blend.tokenizer.dtype == np.dtype(best_dtype(tok.vocab_size)).name == np.dtype(tok.dtype).name
    # the pretraining loader takes the same file: prefixes resolved against its folder
    weights, prefixes = parse_data_path([path])
    assert prefixes == [os.path.join(out, d.prefix) for d in blend.datasets if d.weight > 0]
    assert np.isclose(sum(weights), 1.0)
    assert blend_tokenizer_info([path]) == blend.tokenizer


def _write(tmp_path, obj, name="blend.json"):
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(p)


def _good():
    return json.loads(Blend.build(TOK, context_length=4096, seed=1, datasets=SHARDS).to_bytes())


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(total_tokens=1), "total_tokens"),
    (lambda b: b.update(data_path="1.0 shards/x"), "data_path"),
    (lambda b: b.update(extra_key=1), "extra_key"),
    (lambda b: b.pop("seed"), "seed"),
    (lambda b: b.update(format="other"), "format"),
    (lambda b: b["tokenizer"].update(vocab_size="16384"), "tokenizer.vocab_size"),
    (lambda b: b["tokenizer"].update(dtype="uint17"), "uint17"),
    (lambda b: b["datasets"][0].update(tokens=-1), "datasets.0.tokens"),
    (lambda b: b["datasets"][1].pop("source"), "datasets.1.source"),
])
def test_invalid_mix_blend_names_file_and_field(tmp_path, change, message):
    b = _good()
    change(b)
    path = _write(tmp_path, b)
    with pytest.raises(ValueError, match="invalid blend file") as e:
        read_blend(path)
    assert path in str(e.value) and message in str(e.value)


def test_absolute_prefix_refused(tmp_path):
    with pytest.raises(ValueError, match="relative"):
        Blend.build(TOK, 1, 1, [{**SHARDS[0], "prefix": "/abs/cc"}])


def test_unreadable_blend_names_file(tmp_path):
    for content in ("{not json", "[1, 2]"):
        path = _write(tmp_path, content)
        with pytest.raises(ValueError, match="blend file") as e:
            read_blend(path)
        assert path in str(e.value)
    with pytest.raises(ValueError, match="cannot read blend file .*nope.json"):
        read_blend(str(tmp_path / "nope.json"))


def test_data_path_only_blend(tmp_path):
    """A blend file without 'format' (not the mix step's): data_path and tokenizer are read."""
    path = _write(tmp_path, {"data_path": "0.5 a 0.5 b", "tokenizer": {"vocab_size": 50000}})
    b = read_blend(path)
    assert isinstance(b, DataPathBlend) and b.data_path_items() == ["0.5", "a", "0.5", "b"]
    assert b.tokenizer.vocab_size == 50000 and b.tokenizer.sha256 is None
    # keys the mix step never writes are not read: 'prefixes'/'weights' alone is no blend
    path = _write(tmp_path, {"prefixes": ["a", "b"], "weights": [1, 1]}, "old.json")
    with pytest.raises(ValueError, match=r"old\.json: no 'data_path'"):
        read_blend(path)
    path = _write(tmp_path, {"data_path": 5}, "bad.json")
    with pytest.raises(ValueError, match=r"bad\.json.*data_path"):
        read_blend(path)


def test_loader_errors_name_the_blend_file(tmp_path):
    path = _write(tmp_path, {"data_path": "0.5 a b"})
    with pytest.raises(ValueError, match=r"invalid blend file .*blend\.json: data_path"):
        parse_data_path([path])
    b = _good()
    b["total_tokens"] += 1
    path = _write(tmp_path, b, "mixed.json")
    with pytest.raises(ValueError, match=r"mixed\.json.*total_tokens"):
        parse_data_path([path])
    assert blend_tokenizer_info([path]) is None  # the loader reports it, not the vocabulary check


def test_megatron_dtype_choice(tmp_path):
    assert best_dtype(65499) is np.uint16 and best_dtype(65500) is np.int32
    # the shards' dtype follows it, and a uint16 shard refuses ids that need int32
    with pytest.raises(ValueError, match="do not fit uint16"):
        with IndexedDatasetBuilder(str(tmp_path / "s"), dtype=best_dtype(32000)) as b:
            b.add_document(np.array([70000], np.int64))
