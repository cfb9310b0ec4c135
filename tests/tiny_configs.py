"""Small config.json dicts, one or more per supported model_type, exercising each option
the adapter reads (biases, MoE layouts, MLA with and without q_lora, sliding windows,
Falcon's three attention layouts, OPT's projections). Used by the exactness tests."""

BASE = {"vocab_size": 257, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256}


def _c(model_type, **kw):
    d = dict(BASE)
    d.update(kw)
    d["model_type"] = model_type
    return {k: v for k, v in d.items() if v is not None}


TINY = {
    "llama": _c("llama"),
    "llama-bias-tied": _c("llama", attention_bias=True, mlp_bias=True, tie_word_embeddings=True, num_key_value_heads=1),
    "llama-mha-no-kv-key": _c("llama", num_key_value_heads=None),
    "mistral-window": _c("mistral", sliding_window=8),
    "mistral-no-window": _c("mistral", sliding_window=None, head_dim=32),
    "mixtral": _c("mixtral", num_local_experts=4, num_experts_per_tok=2),
    "qwen2": _c("qwen2"),
    "qwen2-window": _c("qwen2", use_sliding_window=True, sliding_window=8, max_window_layers=2),
    "qwen2_moe": _c("qwen2_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                    shared_expert_intermediate_size=48, decoder_sparse_step=2, mlp_only_layers=[3]),
    "qwen3": _c("qwen3", head_dim=24),
    "qwen3_moe": _c("qwen3_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                    mlp_only_layers=[0], head_dim=16),
    "gemma": _c("gemma", head_dim=16),
    "gemma2": _c("gemma2", head_dim=16, sliding_window=8),
    "gemma3_text": _c("gemma3_text", head_dim=16, sliding_window=8, num_hidden_layers=7),
    "gemma3-wrapper": {"model_type": "gemma3",
                       "text_config": _c("gemma3_text", head_dim=16, sliding_window=8, num_hidden_layers=3)},
    "phi3": _c("phi3", sliding_window=9, pad_token_id=None),
    "deepseek_v2-lite": _c("deepseek_v2", n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                           n_shared_experts=2, first_k_dense_replace=1, kv_lora_rank=16, q_lora_rank=None,
                           qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, n_group=1, topk_group=1,
                           num_key_value_heads=4),
    "deepseek_v3": _c("deepseek_v3", n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                      n_shared_experts=1, first_k_dense_replace=1, kv_lora_rank=16, q_lora_rank=24,
                      qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, n_group=1, topk_group=1,
                      num_key_value_heads=4),
    "deepseek_v3-bias": _c("deepseek_v3", n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                           n_shared_experts=1, first_k_dense_replace=2, kv_lora_rank=16, q_lora_rank=24,
                           qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, n_group=1, topk_group=1,
                           attention_bias=True, num_key_value_heads=4),
    "gpt2": {"model_type": "gpt2", "vocab_size": 257, "n_embd": 64, "n_layer": 3, "n_head": 4, "n_positions": 128},
    "gpt2-ninner": {"model_type": "gpt2", "vocab_size": 257, "n_embd": 64, "n_layer": 2, "n_head": 4,
                    "n_positions": 64, "n_inner": 80, "tie_word_embeddings": False},
    "gpt_neox": {"model_type": "gpt_neox", "vocab_size": 257, "hidden_size": 64, "intermediate_size": 96,
                 "num_hidden_layers": 3, "num_attention_heads": 4, "rotary_pct": 0.25},
    "gpt_neox-nobias": {"model_type": "gpt_neox", "vocab_size": 257, "hidden_size": 64, "intermediate_size": 96,
                        "num_hidden_layers": 2, "num_attention_heads": 4, "attention_bias": False,
                        "tie_word_embeddings": True},
    "opt": {"model_type": "opt", "vocab_size": 257, "hidden_size": 64, "ffn_dim": 96, "num_hidden_layers": 3,
            "num_attention_heads": 4, "max_position_embeddings": 128, "word_embed_proj_dim": 64},
    "opt-350m-like": {"model_type": "opt", "vocab_size": 257, "hidden_size": 64, "ffn_dim": 96,
                      "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 128,
                      "word_embed_proj_dim": 32, "do_layer_norm_before": False},
    "falcon-7b-like": {"model_type": "falcon", "vocab_size": 257, "hidden_size": 64, "num_hidden_layers": 3,
                       "num_attention_heads": 4, "multi_query": True, "parallel_attn": True},
    "falcon-40b-like": {"model_type": "falcon", "vocab_size": 257, "hidden_size": 64, "num_hidden_layers": 3,
                        "num_attention_heads": 8, "num_kv_heads": 2, "new_decoder_architecture": True},
    "falcon-rw-like": {"model_type": "falcon", "vocab_size": 257, "hidden_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "multi_query": False, "parallel_attn": False, "bias": True},
    "gpt_oss": _c("gpt_oss", num_local_experts=4, num_experts_per_tok=2, head_dim=16, sliding_window=8),
}
