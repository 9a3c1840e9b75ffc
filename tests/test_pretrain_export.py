"""`curate pretrain export --to hf`: the exported folder loads in transformers (LlamaForCausalLM,
offline) and gives curate's logits; the MTP depths sit beside it under DeepSeek-V3's names."""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from curate.pretrain.train import main  # noqa: E402
from test_pretrain import one_thread, shards, tiny_args  # noqa: E402,F401 (fixtures)


@pytest.mark.parametrize("tied", [True, False])
def test_exported_model_loads_in_transformers_with_the_same_logits(shards, tmp_path, tied):  # noqa: F811
    from click.testing import CliRunner
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    from curate.cli import cli
    from curate.pretrain.checkpoint import read_state, resolve_checkpoint
    from curate.pretrain.model import GPT, GPTConfig

    ckpt = str(tmp_path / "ck")
    main(tiny_args(shards, 6, "--save", ckpt, "--rotary-base", "50000", "--mtp-num-layers", "2",
                   *([] if tied else ["--untie-embeddings-and-output-weights"])))
    out = tmp_path / "hf"
    res = CliRunner().invoke(cli, ["pretrain", "export", "--to", "hf", "--load", ckpt, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors", "mtp.safetensors"]

    state = read_state(resolve_checkpoint(ckpt))
    model = GPT(GPTConfig(**state["model_config"])).eval()
    model.load_state_dict(state["model"])
    hf = LlamaForCausalLM.from_pretrained(str(out), local_files_only=True, attn_implementation="eager").eval()
    conf = json.loads((out / "config.json").read_text())
    assert conf["rope_theta"] == 50000.0 and conf["num_nextn_predict_layers"] == 2 and conf["eos_token_id"] == 0
    assert conf["tie_word_embeddings"] is tied and hf.config.num_key_value_heads == 2

    tokens = torch.randint(0, 96, (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(tokens)
        theirs = hf(input_ids=tokens).logits
    assert ours.abs().max() > 0.1  # trained weights, not a degenerate comparison
    torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-5)

    # MTP depth k is layer num_layers + k, every tensor the depth's module holds, unchanged
    mtp = load_file(str(out / "mtp.safetensors"))
    for k in range(2):
        pre = f"model.layers.{2 + k}"
        assert torch.equal(mtp[f"{pre}.eh_proj.weight"], model.mtp[k].eh_proj.weight)
        assert torch.equal(mtp[f"{pre}.enorm.weight"], model.mtp[k].enorm.weight)
        assert torch.equal(mtp[f"{pre}.hnorm.weight"], model.mtp[k].hnorm.weight)
        assert torch.equal(mtp[f"{pre}.shared_head.norm.weight"], model.mtp[k].final_norm.weight)
        assert torch.equal(mtp[f"{pre}.mlp.down_proj.weight"], model.mtp[k].block.mlp.fc2.weight)
        assert torch.equal(mtp[f"{pre}.shared_head.head.weight"], model.head_weight)
    n_block = len(model.mtp[0].block.state_dict())
    assert len(mtp) == 2 * (n_block + 3 + 6)  # qkv -> q, k, v and fc1 -> gate, up add 3; enorm hnorm eh_proj norm head embed
