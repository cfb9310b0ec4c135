"""The one adapter from a Hugging Face ``config.json`` (a dict) to a :class:`ModelSpec`.

Defaults for absent optional keys follow the configuration classes of
``transformers`` 5.24 (the reference implementation), family by family, so that
a config means here what it means there. Required keys (sizes) must be present:
a config without ``hidden_size`` is an error, not a silent default.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ridgeline.errors import ConfigError
from ridgeline.formats import format_from_torch_dtype
from ridgeline.model.quant import apply_quantization
from ridgeline.model.spec import AttentionSpec, MLASpec, MLPSpec, MoESpec, ModelSpec

SUPPORTED_MODEL_TYPES: tuple[str, ...] = (
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
    "gemma", "gemma2", "gemma3_text", "phi3", "deepseek_v2", "deepseek_v3",
    "gpt2", "gpt_neox", "opt", "falcon", "gpt_oss",
)
#: Multimodal wrappers whose language model is read from ``text_config``.
WRAPPER_TYPES = {"gemma3": "gemma3_text"}

_ABSENT = object()
#: Upper bounds that no real model comes near; they keep accounting loops bounded.
_MAX = {"num_hidden_layers": 10_000, "n_layer": 10_000, "num_attention_heads": 100_000, "n_head": 100_000,
        "num_key_value_heads": 100_000, "num_local_experts": 1_000_000, "num_experts": 1_000_000,
        "n_routed_experts": 1_000_000}

# KV heads when the key is absent (transformers 5.24 config class defaults);
# a family not listed uses num_attention_heads.
_KV_DEFAULT = {"mistral": 8, "mixtral": 8, "qwen2": 32, "qwen2_moe": 16, "qwen3": 32, "qwen3_moe": 4,
               "gemma": 16, "gemma2": 4, "gemma3_text": 4, "deepseek_v3": 128, "gpt_oss": 8}
# head_dim when the key is absent; a family not listed uses hidden_size // num_attention_heads.
_HEAD_DIM_DEFAULT = {"qwen3": 128, "gemma": 256, "gemma2": 256, "gemma3_text": 256, "gpt_oss": 64}
_TIE_DEFAULT = {"gemma": True, "gemma2": True, "gemma3_text": True, "gpt2": True, "opt": True, "falcon": True}
# sliding_window when the key is absent
_SW_DEFAULT = {"mistral": 4096, "gemma2": 4096, "gemma3_text": 4096, "gpt_oss": 128,
               "qwen2": 4096, "qwen3": 4096, "qwen2_moe": 4096, "qwen3_moe": 4096}


class _Reader:
    """Typed access to a config dict; every failure names the field and the fix."""

    def __init__(self, cfg: dict[str, Any], where: str):
        self.cfg = cfg
        self.where = where

    def _fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.where}: field {key!r} {problem}; {fix}")

    def int(self, key: str, default: Any = _ABSENT, *, min_value: int = 1, alt: tuple[str, ...] = (),
            max_value: int = 10**9) -> Any:
        for k in (key, *alt):
            if k in self.cfg and self.cfg[k] is not None:
                v = self.cfg[k]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
                    raise self._fail(k, f"must be an integer, got {v!r}", f"set it to a whole number >= {min_value}")
                v = int(v)
                if v < min_value:
                    raise self._fail(k, f"must be >= {min_value}, got {v}", f"set it to a whole number >= {min_value}")
                limit = _MAX.get(k, max_value)
                if v > limit:
                    raise self._fail(k, f"is {v}, beyond any real model (limit {limit:,})", "check the value")
                return v
        if default is _ABSENT:
            raise self._fail(key, "is missing", f"add \"{key}\": <integer> to the config")
        return default

    def bool(self, key: str, default: bool) -> bool:
        v = self.cfg.get(key, default)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self._fail(key, f"must be true or false, got {v!r}", "use a JSON boolean")
        return v

    def str(self, key: str, default: str) -> str:
        v = self.cfg.get(key, default)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self._fail(key, f"must be a string, got {v!r}", "use a JSON string")
        return v

    def int_list(self, key: str) -> list[int]:
        v = self.cfg.get(key)
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise self._fail(key, f"must be a list of integers, got {v!r}", "use e.g. [0, 1]")
        return v

    def present(self, key: str) -> bool:
        return key in self.cfg


def spec_from_config(cfg: Any, name: str = "", source: str = "") -> ModelSpec:
    """Build a ModelSpec from a parsed ``config.json`` dict."""
    where = source or name or "config.json"
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a JSON object (a config.json), got {type(cfg).__name__}")
    model_type = cfg.get("model_type")
    if model_type is None:
        raise ConfigError(f"{where}: field 'model_type' is missing; add e.g. \"model_type\": \"llama\" "
                          f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    if not isinstance(model_type, str):
        raise ConfigError(f"{where}: field 'model_type' must be a string, got {model_type!r}")
    if model_type in WRAPPER_TYPES:
        text = cfg.get("text_config")
        if not isinstance(text, dict):
            problem = "is missing" if text is None else f"must be an object, got {type(text).__name__}"
            raise ConfigError(f"{where}: field 'text_config' {problem}; a {model_type} config keeps its "
                              "language model there as a JSON object")
        text = dict(text)
        text.setdefault("model_type", WRAPPER_TYPES[model_type])
        if "torch_dtype" not in text and "dtype" not in text:
            text["torch_dtype"] = cfg.get("torch_dtype") or cfg.get("dtype")
        spec = spec_from_config(text, name=name, source=f"{where} (text_config)")
        notes = spec.notes + ("language model only: the vision tower and projector are not counted",)
        if spec.quant_method or spec.quant_problem:
            return replace(spec, notes=notes)
        return apply_quantization(replace(spec, notes=notes), cfg)
    return _build(cfg, model_type, name, source, where)


def _build(cfg: dict, model_type: str, name: str, source: str, where: str) -> ModelSpec:
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(f"{where}: unsupported model_type {model_type!r}; supported: {', '.join(SUPPORTED_MODEL_TYPES)}")
    r = _Reader(cfg, where)
    builder = _BUILDERS.get(model_type, _build_llama_like)
    spec = builder(r, model_type, name or cfg.get("_name_or_path") or model_type, source)
    return apply_quantization(spec, cfg)


# --------------------------------------------------------------------------- helpers

def _dtype(r: _Reader) -> str | None:
    key = "torch_dtype" if r.cfg.get("torch_dtype") is not None else "dtype"
    v = r.cfg.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or format_from_torch_dtype(v) is None:
        raise ConfigError(f"{r.where}: field {key!r} is {str(v)[:40]!r}, not a float dtype; use float32, "
                          "bfloat16, float16 or float8_e4m3fn, or remove the field")
    return v


def _layer_types(r: _Reader, mt: str, num_layers: int) -> tuple[tuple[str, ...], int | None]:
    """Which layers slide, and the window, as transformers 5.24 decides it.

    Explicit ``layer_types`` win. Otherwise: Gemma 2 and gpt-oss alternate
    (even layers slide), Gemma 3 slides 5 of every 6 (``sliding_window_pattern``), Qwen2/Qwen3
    slide layers >= ``max_window_layers`` when ``use_sliding_window``; for every other family
    all layers slide whenever ``sliding_window`` is set (transformers' cache does this even
    for families whose attention ignores the key).
    """
    window: Any = r.cfg.get("sliding_window", _SW_DEFAULT.get(mt)) if "sliding_window" in r.cfg else _SW_DEFAULT.get(mt)
    if mt in ("qwen2", "qwen3", "qwen3_moe", "qwen2_moe"):
        if not r.bool("use_sliding_window", False):
            window = None
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            if mt == "qwen2_moe" and window == 0:
                window = None
            else:
                raise ConfigError(f"{r.where}: field 'sliding_window' must be a positive integer or null, got {window!r}")
    if mt == "gemma3_text" and window is not None and r.bool("use_bidirectional_attention", False):
        window = window // 2 + 1
    explicit = r.cfg.get("layer_types")
    if explicit is not None:
        if not isinstance(explicit, list) or len(explicit) != num_layers or not all(isinstance(t, str) for t in explicit):
            raise ConfigError(f"{r.where}: field 'layer_types' must list one string per layer ({num_layers}); "
                              "fix its length or remove it")
        kinds = []
        for t in explicit:
            if t in ("sliding_attention", "sliding"):
                kinds.append("sliding")
            elif t in ("full_attention", "full"):
                kinds.append("full")
            else:
                raise ConfigError(f"{r.where}: field 'layer_types' holds {t!r}; ridgeline supports "
                                  "'full_attention' and 'sliding_attention'")
        types = tuple(kinds)
    elif mt in ("gemma2", "gpt_oss"):
        types = tuple("sliding" if (i + 1) % 2 else "full" for i in range(num_layers))
    elif mt == "gemma3_text":
        pattern = r.int("sliding_window_pattern", 6)
        types = tuple("sliding" if (i + 1) % pattern else "full" for i in range(num_layers))
    elif mt in ("qwen2", "qwen3"):
        mwl = r.int("max_window_layers", 28, min_value=0)
        types = tuple("sliding" if window is not None and i >= mwl else "full" for i in range(num_layers))
    elif mt == "qwen2_moe":
        mwl = r.int("max_window_layers", 28, min_value=0)
        use = r.bool("use_sliding_window", False)
        types = tuple("sliding" if (i + 1) % 2 and i < mwl and use else "full" for i in range(num_layers))
    else:
        types = tuple("sliding" if window is not None else "full" for _ in range(num_layers))
    if "sliding" in types and window is None:
        raise ConfigError(f"{r.where}: 'layer_types' has sliding layers but 'sliding_window' is null; set the window")
    return types, (window if "sliding" in types else None)


def _check_top_k(r: _Reader, experts: int, top_k: int) -> None:
    if experts and top_k > experts:
        raise ConfigError(f"{r.where}: field 'num_experts_per_tok' ({top_k}) exceeds the number of experts "
                          f"({experts}); fix one of them")


def _attn_kind(n: int, k: int) -> str:
    return "mha" if k == n else ("mqa" if k == 1 else "gqa")


def _check_heads(r: _Reader, hidden: int, n: int, k: int) -> None:
    if k > n or n % k:
        raise ConfigError(f"{r.where}: num_attention_heads ({n}) must be a multiple of the KV heads ({k}); fix "
                          "'num_key_value_heads'")


# --------------------------------------------------------------------------- families

def _build_llama_like(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    """llama, mistral, mixtral, qwen2(_moe), qwen3(_moe), gemma(2,3), phi3, gpt_oss."""
    V = r.int("vocab_size")
    H = r.int("hidden_size")
    L = r.int("num_hidden_layers")
    N = r.int("num_attention_heads")
    K = r.int("num_key_value_heads", _KV_DEFAULT.get(mt, N)) if r.cfg.get("num_key_value_heads", 0) is not None else N
    D = r.int("head_dim", _HEAD_DIM_DEFAULT.get(mt, H // N))
    _check_heads(r, H, N, K)
    I = r.int("intermediate_size")
    notes: list[str] = []

    bias = r.bool("attention_bias", mt == "gpt_oss")
    qkv_bias = o_bias = False
    if mt in ("llama", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3_text", "gpt_oss"):
        qkv_bias = o_bias = bias
    elif mt == "qwen2":
        qkv_bias = True
    elif mt == "qwen2_moe":
        qkv_bias = r.bool("qkv_bias", True)
    mlp_bias = r.bool("mlp_bias", False) if mt == "llama" else False

    attention = AttentionSpec(
        kind=_attn_kind(N, K), num_heads=N, num_kv_heads=K, head_dim=D,
        q_bias=qkv_bias, k_bias=qkv_bias, v_bias=qkv_bias, o_bias=o_bias,
        qk_norm=mt in ("qwen3", "qwen3_moe", "gemma3_text"), sinks=mt == "gpt_oss",
    )
    act = r.str("hidden_activation", "") or r.str("hidden_act", "silu")
    mlp = MLPSpec(gated=True, intermediate_size=I, bias=mlp_bias, activation=act)

    moe = None
    if mt in ("mixtral", "gpt_oss"):
        E = r.int("num_local_experts", 8 if mt == "mixtral" else 128, alt=("num_experts",))
        k = r.int("num_experts_per_tok", 2 if mt == "mixtral" else 4, alt=("experts_per_token",))
        _check_top_k(r, E, k)
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=I, router_bias=mt == "gpt_oss",
                      expert_bias=mt == "gpt_oss", moe_layers=tuple(range(L)))
    elif mt in ("qwen2_moe", "qwen3_moe"):
        E = r.int("num_experts", 60 if mt == "qwen2_moe" else 128, min_value=0)
        k = r.int("num_experts_per_tok", 4 if mt == "qwen2_moe" else 8)
        Ie = r.int("moe_intermediate_size", 1408 if mt == "qwen2_moe" else 768)
        step = r.int("decoder_sparse_step", 1)
        dense_only = set(r.int_list("mlp_only_layers"))
        layers = tuple(i for i in range(L) if i not in dense_only and E > 0 and (i + 1) % step == 0)
        shared = r.int("shared_expert_intermediate_size", 5632, min_value=0) if mt == "qwen2_moe" else 0
        _check_top_k(r, E, k)
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=Ie, shared_intermediate_size=shared,
                      shared_expert_gate=mt == "qwen2_moe", moe_layers=layers)

    types, window = _layer_types(r, mt, L)
    norms_per_layer = 4 if mt in ("gemma2", "gemma3_text") else 2
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=attention, mlp=mlp,
        moe=moe, layer_types=types, sliding_window=window, norm="rmsnorm", norm_bias=False,
        norms_per_layer=norms_per_layer, final_norm=True,
        tie_word_embeddings=r.bool("tie_word_embeddings", _TIE_DEFAULT.get(mt, False)),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
        notes=tuple(notes),
    )


def _build_deepseek(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    V, H, L, N = r.int("vocab_size"), r.int("hidden_size"), r.int("num_hidden_layers"), r.int("num_attention_heads")
    K = r.int("num_key_value_heads", _KV_DEFAULT.get(mt, N))
    I = r.int("intermediate_size")
    q_lora = r.int("q_lora_rank", None) if r.cfg.get("q_lora_rank", 1536) is not None else None
    if "q_lora_rank" not in r.cfg:
        q_lora = 1536
    mla = MLASpec(
        q_lora_rank=q_lora, kv_lora_rank=r.int("kv_lora_rank", 512),
        qk_nope_head_dim=r.int("qk_nope_head_dim", 128), qk_rope_head_dim=r.int("qk_rope_head_dim", 64),
        v_head_dim=r.int("v_head_dim", 128),
    )
    bias = r.bool("attention_bias", False)
    attention = AttentionSpec(kind="mla", num_heads=N, num_kv_heads=K,
                              head_dim=mla.qk_nope_head_dim + mla.qk_rope_head_dim,
                              q_bias=bias and q_lora is not None, k_bias=bias, o_bias=bias, mla=mla)
    mlp = MLPSpec(gated=True, intermediate_size=I, bias=r.bool("mlp_bias", False) if mt == "deepseek_v2" else False,
                  activation=r.str("hidden_act", "silu"))
    E = r.int("n_routed_experts", 64 if mt == "deepseek_v2" else 256, min_value=0)
    k = r.int("num_experts_per_tok", None if mt == "deepseek_v2" else 8)
    if k is None:
        raise ConfigError(f"{r.where}: field 'num_experts_per_tok' is missing; add the number of experts per token")
    _check_top_k(r, E, k)
    first_dense = r.int("first_k_dense_replace", 0 if mt == "deepseek_v2" else 3, min_value=0)
    Ie = r.int("moe_intermediate_size", 1407 if mt == "deepseek_v2" else 2048)
    ns = r.int("n_shared_experts", 2 if mt == "deepseek_v2" else 1, min_value=0)
    moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=Ie, shared_intermediate_size=Ie * ns,
                  moe_layers=tuple(range(first_dense, L)))
    notes = []
    if r.int("num_nextn_predict_layers", 0, min_value=0):
        notes.append("multi-token-prediction (MTP) layers in the checkpoint are not built by transformers and not counted")
    types, window = _layer_types(r, mt, L)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=attention, mlp=mlp, moe=moe,
        layer_types=types, sliding_window=window, norm="rmsnorm", norm_bias=False, norms_per_layer=2, final_norm=True,
        tie_word_embeddings=r.bool("tie_word_embeddings", False),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
        notes=tuple(notes),
    )


def _build_gpt2(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    V = r.int("vocab_size", 50257)
    H = r.int("n_embd", alt=("hidden_size",))
    L = r.int("n_layer", alt=("num_hidden_layers",))
    N = r.int("n_head", alt=("num_attention_heads",))
    if H % N:
        raise ConfigError(f"{r.where}: n_embd ({H}) must be divisible by n_head ({N})")
    P = r.int("n_positions", 1024, alt=("max_position_embeddings",))
    I = r.int("n_inner", 4 * H)
    types, window = _layer_types(r, mt, L)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L,
        attention=AttentionSpec(kind="mha", num_heads=N, num_kv_heads=N, head_dim=H // N,
                                q_bias=True, k_bias=True, v_bias=True, o_bias=True),
        mlp=MLPSpec(gated=False, intermediate_size=I, bias=True, activation=r.str("activation_function", "gelu_new")),
        moe=None, layer_types=types, sliding_window=window, norm="layernorm", norm_bias=True, norms_per_layer=2,
        final_norm=True, tie_word_embeddings=r.bool("tie_word_embeddings", True), max_position_embeddings=P,
        learned_positions=P, dtype=_dtype(r), source=source,
    )


def _build_gpt_neox(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    V, H, L, N = r.int("vocab_size"), r.int("hidden_size"), r.int("num_hidden_layers"), r.int("num_attention_heads")
    if H % N:
        raise ConfigError(f"{r.where}: hidden_size ({H}) must be divisible by num_attention_heads ({N})")
    I = r.int("intermediate_size")
    bias = r.bool("attention_bias", True)
    types, window = _layer_types(r, mt, L)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L,
        attention=AttentionSpec(kind="mha", num_heads=N, num_kv_heads=N, head_dim=H // N,
                                q_bias=bias, k_bias=bias, v_bias=bias, o_bias=bias),
        mlp=MLPSpec(gated=False, intermediate_size=I, bias=True, activation=r.str("hidden_act", "gelu")),
        moe=None, layer_types=types, sliding_window=window, norm="layernorm", norm_bias=True, norms_per_layer=2,
        final_norm=True, tie_word_embeddings=r.bool("tie_word_embeddings", False),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
    )


def _build_opt(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    V, H, L, N = r.int("vocab_size"), r.int("hidden_size"), r.int("num_hidden_layers"), r.int("num_attention_heads")
    if H % N:
        raise ConfigError(f"{r.where}: hidden_size ({H}) must be divisible by num_attention_heads ({N})")
    I = r.int("ffn_dim")
    P = r.int("max_position_embeddings", 2048)
    bias = r.bool("enable_bias", True)
    pre_ln = r.bool("do_layer_norm_before", True)
    final = pre_ln and not r.bool("_remove_final_layer_norm", False)
    ln_affine = r.bool("layer_norm_elementwise_affine", True)
    embed_dim = r.int("word_embed_proj_dim", H)
    types, window = _layer_types(r, mt, L)
    notes = ("learned positions keep 2 extra rows (OPT's offset of 2)",)
    if not ln_affine:
        raise ConfigError(f"{r.where}: field 'layer_norm_elementwise_affine' false is not supported; remove it")
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L,
        attention=AttentionSpec(kind="mha", num_heads=N, num_kv_heads=N, head_dim=H // N,
                                q_bias=bias, k_bias=bias, v_bias=bias, o_bias=bias),
        mlp=MLPSpec(gated=False, intermediate_size=I, bias=bias, activation=r.str("activation_function", "relu")),
        moe=None, layer_types=types, sliding_window=window, norm="layernorm", norm_bias=True, norms_per_layer=2,
        final_norm=final, tie_word_embeddings=r.bool("tie_word_embeddings", True), max_position_embeddings=P,
        learned_positions=P + 2, embed_dim=embed_dim if embed_dim != H else None, dtype=_dtype(r), source=source,
        notes=notes,
    )


def _build_falcon(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    V = r.int("vocab_size", 65024)
    H = r.int("hidden_size", alt=("n_embed",))
    L = r.int("num_hidden_layers")
    N = r.int("num_attention_heads")
    if H % N:
        raise ConfigError(f"{r.where}: hidden_size ({H}) must be divisible by num_attention_heads ({N})")
    D = H // N
    new_arch = r.bool("new_decoder_architecture", False)
    mq = r.bool("multi_query", True)
    parallel = r.bool("parallel_attn", True)
    kv_cfg = r.int("num_kv_heads", N)
    if new_arch:
        K, rows, ref_k = kv_cfg, (N + 2 * kv_cfg) * D, N
        _check_heads(r, H, N, K)
    elif mq:
        K, rows, ref_k = 1, H + 2 * D, 1
    else:
        K, rows, ref_k = N, 3 * H, kv_cfg
    bias = r.bool("bias", False)
    n_ln = r.int("num_ln_in_parallel_attn", 2 if new_arch else None)
    norms = 2 if (not parallel or n_ln == 2) else 1
    types, window = _layer_types(r, mt, L)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L,
        attention=AttentionSpec(kind=_attn_kind(N, K), num_heads=N, num_kv_heads=K, head_dim=D, q_bias=bias,
                                k_bias=bias, v_bias=bias, o_bias=bias, fused_qkv_rows=rows,
                                reference_cache_kv_heads=ref_k if ref_k != K else None),
        mlp=MLPSpec(gated=False, intermediate_size=r.int("ffn_hidden_size", 4 * H), bias=bias,
                    activation=r.str("activation", "gelu")),
        moe=None, layer_types=types, sliding_window=window, norm="layernorm", norm_bias=True, norms_per_layer=norms,
        final_norm=True, tie_word_embeddings=r.bool("tie_word_embeddings", True),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
    )


_BUILDERS = {
    "deepseek_v2": _build_deepseek, "deepseek_v3": _build_deepseek, "gpt2": _build_gpt2,
    "gpt_neox": _build_gpt_neox, "opt": _build_opt, "falcon": _build_falcon,
}
