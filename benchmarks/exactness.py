"""Exactness report: ridgeline vs the reference implementation (transformers on the meta device)
for every preset; writes docs/exactness.md. Needs the test extra (torch, transformers)."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch
import transformers

from ridgeline.model.hf import SUPPORTED_MODEL_TYPES, spec_from_config
from ridgeline.model.kv import REFERENCE_RECURRENT_STATE_BYTES, KVLayout, kv_cache_elements, state_bytes_per_sequence
from ridgeline.model.load import preset_config, presets
from ridgeline.model.params import count_params
from ridgeline.validate.reference import kv_bytes, meta_cache, meta_param_count, state_bytes

EXPLAIN = {
    "llama-2": "published safetensors total includes rotary inv_freq buffers (64 per layer)",
    "gemma-2": "paper counts a 256,128-row vocabulary; config has 256,000",
    "deepseek-v3": "transformers builds no MTP module (the checkpoint's layer 61)",
    "deepseek-r1": "transformers builds no MTP module (the checkpoint's layer 61)",
    "deepseek-v3.2": "no MTP module built; the indexer's keys are cached with the latent",
    "qwen3-next": "no MTP module built",
    "llama-4": "source copy lacks vision_config: default vision tower counted (see below)",
    "kimi-k2": "model_type kimi_k2 read as its class, DeepseekV3ForCausalLM",
}
B, T = 2, 33

NOTES = """
## Model types

| model_type | class transformers builds | what ridgeline models beyond a llama-shaped decoder |
|---|---|---|
| llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, phi3, gpt2, gpt_neox, opt, falcon | `*ForCausalLM` | biases, tied heads, windows, learned positions, Falcon's fused QKV |
| mixtral, qwen2_moe, qwen3_moe, gpt_oss, granitemoe, phimoe | `*ForCausalLM` | routed experts (fused 3-D tensors), shared experts and gates, expert biases |
| deepseek_v2, deepseek_v3 | `DeepseekV*ForCausalLM` | MLA (latent cache), dense-first MoE |
| deepseek_v32 | `DeepseekV32ForCausalLM` | MLA plus the DSA lightning indexer (its own projections and a cached key per token) |
| glm4_moe | `Glm4MoeForCausalLM` | GQA with q/k/v biases, optional per-head q/k norms, dense-first MoE with a shared expert |
| olmo2, olmo3 | `Olmo2/3ForCausalLM` | q/k norms over all heads (N*D and K*D weights), post-norms; OLMo 3 slides 3 of 4 layers |
| granite, smollm3, ernie4_5, exaone4, cohere2 | `*ForCausalLM` | Granite/SmolLM3 biases; ERNIE 4.5 `use_bias`; EXAONE 4 per-head q/k norms and 3:1 windows; Cohere 2 one LayerNorm per layer (no bias), 3:1 windows, tied head |
| qwen3_next | `Qwen3NextForCausalLM` | gated delta-net layers (3 of 4) with a fixed state, gated attention (q_proj twice as wide), MoE with a gated shared expert |
| nemotron_h | `NemotronHForCausalLM` | one block per layer: Mamba 2, attention, ReLU^2 MLP or MoE (`hybrid_override_pattern`) |
| jamba | `JambaForCausalLM` | Mamba 1 layers with attention every `attn_layer_period`, MoE every `expert_layer_period` |
| falcon_h1 | `FalconH1ForCausalLM` | attention and Mamba 2 side by side in every layer |
| gemma3 | `Gemma3ForConditionalGeneration` | SigLIP tower (+ optional pooling head) and the Gemma 3 projector |
| mistral3 | `Mistral3ForConditionalGeneration` | Pixtral tower, patch merger and a two-layer projector |
| llama4 | `Llama4ForConditionalGeneration` | chunked-local attention (3 of 4 layers), interleaved MoE with a shared expert; its vision tower, pixel-shuffle adapter and projector |
| qwen2_5_vl | `Qwen2_5_VLForConditionalGeneration` | the windowed ViT (fused qkv, gated MLP with biases) and its patch merger as the projector |
| mllama | `MllamaForConditionalGeneration` | cross-attention layers (image tokens' K/V), the tiled local+global ViT, 8 extra embedding rows |

A config whose `model_type` transformers does not know but whose `architectures` names a class it
does (Kimi K2: `kimi_k2` -> `DeepseekV3ForCausalLM`) is read as that class's type, as the reference
builds it. Any other type is refused with one line that lists the supported ones (e.g. qwen3_vl,
qwen3_5, gemma3n, gemma4, ministral3 (Devstral Small 2, Ministral 3), minimax, deepseek_v4,
glm_moe_dsa), and so is Nemotron's latent MoE (`moe_latent_size`, Nemotron 3 Super).

## Where transformers' reading differs from the published checkpoint

- **Multi-token-prediction layers are not built**, so they are not counted: DeepSeek-V3/R1/V3.1/V3.2
  (`num_nextn_predict_layers`), GLM-4.5 (glm4_moe), Qwen3-Next, Nemotron-H with MTP. The checkpoints
  store them (DeepSeek-V3: a 14B module); a serving engine that uses them for speculative decoding loads them too.
- **Multimodal lm_head tie.** transformers 5.24 ties the lm_head of `Gemma3ForConditionalGeneration` and
  `Mistral3ForConditionalGeneration` to the embeddings by the *wrapper's* `tie_word_embeddings`, which
  defaults to true: a Mistral 3 config that says `false` only inside `text_config` is built tied (ridgeline
  counts what transformers builds and adds a note). Llama 4 follows its `text_config`; Qwen2.5-VL ties when
  either level says so; Mllama never ties (its embedding has 8 more rows than its lm_head).
- **Absent `vision_config`**: transformers builds the config class's default tower. The Llama 4 presets
  come from a copy that keeps only `text_config`, so their vision tower (455,178,240 parameters with the
  projector) is the default, not the checkpoint's 1,408-wide tower; the language model is exact.
- **Rotary buffers, vocabulary padding** (Llama 2, Gemma 2) as in the table above.

## Hybrid layers in the ledger

- KV per token counts only self-attention layers (`full`, `sliding`, `chunked`, and the attention half of
  Falcon-H1's `hybrid` layers). Chunked-local layers keep the current chunk: C - 1 tokens in
  transformers (it reuses its sliding-window cache layer), up to C in engines.
- Linear-attention (gated delta-net) and Mamba layers keep a fixed state per sequence:
  `ridgeline.model.kv.state_elements_per_sequence` (conv windows: channels x kernel width; recurrent
  state: Mamba 1 d_inner x S, Mamba 2 heads x head_dim x S, delta-net value heads x key dim x value dim).
  transformers 5.24 keeps conv windows in the model dtype with the full kernel width and the recurrent
  state in fp32 whatever the model dtype (`REFERENCE_RECURRENT_STATE_BYTES`); the `engine` convention
  (default) keeps kernel - 1 window columns, as vLLM's `MambaStateShapeCalculator` does, and the
  recurrent state in the dtype the caller passes (vLLM: the model dtype unless `mamba_ssm_cache_dtype`).
- Cross-attention layers (Mllama) cache the image tokens' keys and values (max_num_tiles x (patches + 1)
  per image), not the text's: `cross_attention_kv_elements_per_sequence`; a text-only prompt caches none.
- The reference forward of `Llama4ForConditionalGeneration` fails in 5.24 for a text-only prompt
  ('MoeCausalLMOutputWithPast' has no 'image_outputs'); the checks run its language model, which owns
  the same layers and cache.
"""


def main() -> None:
    rows, t0 = [], time.time()
    for p in presets():
        cfg = preset_config(p)
        spec = spec_from_config(cfg, p.name)
        pc = count_params(spec)
        ref = meta_param_count(cfg)
        cache = meta_cache(cfg, B, T, "bfloat16")
        kv_mine = kv_cache_elements(spec, B, T, KVLayout("transformers")) * 2
        st_mine = B * state_bytes_per_sequence(spec, 2, REFERENCE_RECURRENT_STATE_BYTES,
                                               layout=KVLayout("transformers"))
        pub = (p.published_params or {}).get("total")
        note = next((v for k, v in EXPLAIN.items() if p.name.lower().startswith(k)), "")
        rows.append((p.name, spec.wrapper_model_type or spec.model_type, pc.total, ref, pc.active, pc.vision,
                     kv_mine, kv_bytes(cache), st_mine, state_bytes(cache), pub, note))
    lines = [
        "# Exactness: ridgeline vs transformers",
        "",
        f"Generated by `python benchmarks/exactness.py` with transformers {transformers.__version__}, "
        f"torch {torch.__version__}, Python {platform.python_version()} on {platform.machine()} "
        f"({time.time() - t0:.0f} s).",
        "",
        "Reference parameter count: the transformers class named in the config's `architectures` (a "
        "multimodal wrapper's whole `...ForConditionalGeneration`: language model, vision tower and "
        "projector) built from the preset's config.json on the `meta` device, "
        "`sum(p.numel() for p in model.parameters())`. Reference cache: the tensors transformers holds after "
        f"a meta-device forward pass of the full-size model in bf16, batch {B} x {T} tokens "
        "(`sum(numel * element_size)`): per-token KV (keys, values and DeepSeek-V3.2's indexer keys) and the "
        "fixed per-sequence state of linear-attention and Mamba layers (conv windows in bf16, recurrent states "
        "in fp32), compared with ridgeline's `transformers` cache convention.",
        "",
        "| preset | model_type | ridgeline params | transformers params | equal | active | vision + projector | "
        "KV bytes (ridgeline) | KV bytes (transformers) | state bytes (ridgeline) | state bytes (transformers) "
        "| equal | published | note |",
        "|---|---|---:|---:|:-:|---:|---:|---:|---:|---:|---:|:-:|---:|---|",
    ]
    for n, mt, mine, ref, act, vis, kvm, kvr, stm, stb, pub, note in rows:
        pubs = f"{pub:,.0f}" if pub else "-"
        ok_c = "yes" if kvm == kvr and stm == stb else "**NO**"
        lines.append(f"| {n} | {mt} | {mine:,} | {ref:,} | {'yes' if mine == ref else '**NO**'} | {act:,} | "
                     f"{vis:,} | {kvm:,} | {kvr:,} | {stm:,.0f} | {stb:,} | {ok_c} | {pubs} | {note} |")
    ok = sum(r[2] == r[3] for r in rows), sum(r[6] == r[7] and r[8] == r[9] for r in rows)
    lines += ["", f"Parameters equal for {ok[0]} of {len(rows)} presets; cache bytes (KV and state) equal for "
              f"{ok[1]} of {len(rows)}.",
              f"Every supported model_type ({len(SUPPORTED_MODEL_TYPES)}: {', '.join(SUPPORTED_MODEL_TYPES)}) is "
              "also checked with tiny random-weight models (parameter counts on meta; a real CPU prefill and decode "
              "step for the cache) in `tests/test_params_exact.py` and `tests/test_kv_exact.py`.",
              "", NOTES.strip()]
    out = Path(__file__).resolve().parent.parent / "docs" / "exactness.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: params {ok[0]}/{len(rows)}, cache {ok[1]}/{len(rows)}")


if __name__ == "__main__":
    transformers.utils.logging.set_verbosity_error()
    main()
