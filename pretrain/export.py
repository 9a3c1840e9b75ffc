"""`curate pretrain export --to hf`: a checkpoint as a Llama-compatible Hugging Face folder.

    OUT/config.json          LlamaConfig (+ num_nextn_predict_layers = MTP depth, rope_theta)
    OUT/model.safetensors    the main model under Llama's names (what LlamaForCausalLM loads)
    OUT/mtp.safetensors      the MTP depths under DeepSeek-V3's names, as vLLM's MTP loaders read
                             them: depth k (0-based) is ``model.layers.{num_layers + k}`` with
                             ``enorm``, ``hnorm``, ``eh_proj`` (input ``[enorm(e); hnorm(h)]``),
                             the decoder layer's own names, ``shared_head.norm`` (its final norm)
                             and copies of the shared ``embed_tokens`` / ``shared_head.head``

curate's layer is Llama's: RMSNorm, rotate-half RoPE on the first/second half of each head,
SwiGLU with ``fc1 = [gate; up]``, grouped-query heads repeated in order. So the mapping is
pure renaming and row splits (``qkv`` rows = [q heads | k groups | v groups]), and the
exported model's logits equal curate's (a test loads it with transformers, offline).
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from curate.pretrain.checkpoint import read_state, resolve_checkpoint
from curate.pretrain.model import GPTConfig

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _layer(sd: dict, src: str, dst: str, cfg: GPTConfig) -> dict:
    """One curate Block's weights (prefix ``src``) under Llama decoder-layer names (prefix ``dst``)."""
    nh, ng, hd, f = cfg.num_attention_heads, cfg.num_query_groups, cfg.head_dim, cfg.ffn_hidden_size
    q, k, v = sd[f"{src}.attn.qkv.weight"].split([nh * hd, ng * hd, ng * hd], dim=0)
    gate, up = sd[f"{src}.mlp.fc1.weight"].split([f, f], dim=0)
    return {
        f"{dst}.input_layernorm.weight": sd[f"{src}.norm1.weight"],
        f"{dst}.self_attn.q_proj.weight": q,
        f"{dst}.self_attn.k_proj.weight": k,
        f"{dst}.self_attn.v_proj.weight": v,
        f"{dst}.self_attn.o_proj.weight": sd[f"{src}.attn.proj.weight"],
        f"{dst}.post_attention_layernorm.weight": sd[f"{src}.norm2.weight"],
        f"{dst}.mlp.gate_proj.weight": gate,
        f"{dst}.mlp.up_proj.weight": up,
        f"{dst}.mlp.down_proj.weight": sd[f"{src}.mlp.fc2.weight"],
    }


def hf_tensors(sd: dict, cfg: GPTConfig) -> tuple[dict, dict]:
    """(main model tensors under Llama names, MTP tensors under DeepSeek-V3 names)."""
    head = sd["embedding.weight"] if cfg.tie_embeddings else sd["output.weight"]
    main = {"model.embed_tokens.weight": sd["embedding.weight"], "model.norm.weight": sd["final_norm.weight"]}
    for i in range(cfg.num_layers):
        main.update(_layer(sd, f"layers.{i}", f"model.layers.{i}", cfg))
    if not cfg.tie_embeddings:
        main["lm_head.weight"] = head
    mtp = {}
    for k in range(cfg.mtp_num_layers):
        src, dst = f"mtp.{k}", f"model.layers.{cfg.num_layers + k}"
        mtp.update(_layer(sd, f"{src}.block", dst, cfg))
        mtp.update({f"{dst}.enorm.weight": sd[f"{src}.enorm.weight"], f"{dst}.hnorm.weight": sd[f"{src}.hnorm.weight"],
                    f"{dst}.eh_proj.weight": sd[f"{src}.eh_proj.weight"],
                    f"{dst}.shared_head.norm.weight": sd[f"{src}.final_norm.weight"],
                    f"{dst}.shared_head.head.weight": head, f"{dst}.embed_tokens.weight": sd["embedding.weight"]})
    return main, mtp


def hf_config(cfg: GPTConfig, dtype: str, eod_id: int | None = None) -> dict:
    from transformers import LlamaConfig

    c = LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.ffn_hidden_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_query_groups, head_dim=cfg.head_dim, max_position_embeddings=cfg.max_seq_length,
        rope_theta=cfg.rotary_base, rms_norm_eps=cfg.norm_epsilon, tie_word_embeddings=cfg.tie_embeddings,
        attention_bias=False, mlp_bias=False, hidden_act="silu", initializer_range=cfg.init_method_std,
        bos_token_id=None, eos_token_id=eod_id, pad_token_id=None,
    ).to_dict()
    c.update(architectures=["LlamaForCausalLM"], torch_dtype=dtype, rope_theta=cfg.rotary_base,
             num_nextn_predict_layers=cfg.mtp_num_layers)
    return c


def export_hf(ckpt: str, out: str, dtype: str = "float32") -> dict:
    """Write ``out`` from checkpoint ``ckpt`` (a --save folder or an iter_NNNNNNN folder); returns a summary."""
    from safetensors.torch import save_file

    path = resolve_checkpoint(ckpt)
    state = read_state(path)
    cfg = GPTConfig(**state["model_config"])
    sd = {k: v for k, v in state["model"].items()}
    main, mtp = hf_tensors(sd, cfg)
    dt = DTYPES[dtype]
    os.makedirs(out, exist_ok=True)
    eod = state.get("eod_id")
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(hf_config(cfg, dtype, eod), f, indent=2, sort_keys=True)
    save_file({k: v.to(dt).clone() for k, v in main.items()}, os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    if mtp:
        save_file({k: v.to(dt).clone() for k, v in mtp.items()}, os.path.join(out, "mtp.safetensors"),
                  metadata={"format": "pt"})
    return {"checkpoint": path, "out": out, "iteration": int(state["iteration"]), "tensors": len(main),
            "mtp_tensors": len(mtp), "dtype": dtype}


def main(argv: list[str]) -> dict:
    p = argparse.ArgumentParser(prog="curate pretrain export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("--to", choices=["hf"], required=True, help="Target format: hf (Llama-compatible safetensors).")
    p.add_argument("--load", required=True, help="A --save folder (its latest checkpoint) or an iter_NNNNNNN folder.")
    p.add_argument("--out", required=True, help="Folder to write config.json, model.safetensors, mtp.safetensors in.")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="Stored dtype. Default: %(default)s.")
    a = p.parse_args(argv)
    try:
        summary = export_hf(a.load, a.out, a.dtype)
    except FileNotFoundError as e:
        raise SystemExit(f"--load: {e}") from None
    print(f"exported {summary['checkpoint']} (iteration {summary['iteration']}) to {a.out}: {summary['tensors']} "
          f"tensors in model.safetensors, {summary['mtp_tensors']} in mtp.safetensors ({a.dtype})")
    return summary
