"""The one adapter from a Hugging Face ``config.json`` (a dict) to a :class:`ModelSpec`.

Defaults for absent optional keys follow the configuration classes of
``transformers`` 5.24 (the reference implementation), family by family, so that
a config means here what it means there. Required keys (sizes) must be present:
a config without ``hidden_size`` is an error, not a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ridgeline.errors import ConfigError
from ridgeline.formats import format_from_torch_dtype
from ridgeline.model.quant import apply_quantization
from ridgeline.model.spec import (
    AttentionSpec,
    CrossAttentionSpec,
    IndexerSpec,
    LinearAttentionSpec,
    MambaSpec,
    MLASpec,
    MLPSpec,
    ModelSpec,
    MoESpec,
)

SUPPORTED_MODEL_TYPES: tuple[str, ...] = (
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
    "gemma", "gemma2", "gemma3_text", "phi3", "deepseek_v2", "deepseek_v3",
    "gpt2", "gpt_neox", "opt", "falcon", "gpt_oss",
    # issue 10: more families, hybrids and multimodal wrappers
    "gemma3", "mistral3", "llama4", "qwen2_5_vl", "olmo2", "olmo3", "granite", "granitemoe", "cohere2",
    "glm4_moe", "smollm3", "exaone4", "phimoe", "ernie4_5", "deepseek_v32", "qwen3_next", "nemotron_h",
    "jamba", "falcon_h1", "mllama", "ministral3",
)


@dataclass(frozen=True)
class _Wrapper:
    """A multimodal wrapper: where its language model lives and who decides the lm_head tie."""

    text_type: str
    """model_type of the language model when ``text_config`` does not name one."""
    tie_from: str
    """"wrapper": the wrapper's ``tie_word_embeddings`` decides (transformers 5.24 ties at the top
    level); "text": the language model's own config decides (Llama 4 wraps a causal LM);
    "either": tied when either says so (Qwen2.5-VL forwards a text-level tie to the top);
    "never": never tied (Mllama's embedding has 8 more rows than its lm_head)."""
    tie_default: bool
    flat_text: bool = False
    """The language model's keys sit at the top level when ``text_config`` is absent (Qwen2.5-VL)."""


#: Multimodal wrappers: the language model is read from ``text_config``, the vision tower and the
#: projector from ``vision_config`` (ridgeline.model.vision). Defaults: transformers 5.24 config classes.
WRAPPERS = {
    "gemma3": _Wrapper("gemma3_text", "wrapper", True),
    "mistral3": _Wrapper("mistral", "wrapper", True),
    "llama4": _Wrapper("llama4_text", "text", False),
    "qwen2_5_vl": _Wrapper("qwen2_5_vl_text", "either", False, flat_text=True),
    "mllama": _Wrapper("mllama_text_model", "never", False),
}
WRAPPER_TYPES = {k: w.text_type for k, w in WRAPPERS.items()}
#: What a wrapper's config class builds when ``vision_config`` is absent, where it differs from the
#: vision config class's own defaults (Mistral3Config.sub_configs_defaults, transformers 5.24).
_ABSENT_VISION_CONFIG = {"mistral3": {"hidden_size": 1024, "intermediate_size": 4096, "patch_size": 14,
                                      "image_size": 1540, "num_hidden_layers": 24, "num_attention_heads": 16}}
#: Language-model types reachable only through a wrapper.
_TEXT_ONLY_TYPES = ("gemma3_text", "llama4_text", "qwen2_5_vl_text", "mllama_text_model")
#: ``architectures`` classes whose config carries another ``model_type`` that transformers does not
#: know (e.g. Kimi K2's "kimi_k2"): the class named decides, as for the reference build.
_ARCH_TYPES = {"DeepseekV3ForCausalLM": "deepseek_v3", "DeepseekV2ForCausalLM": "deepseek_v2",
               "LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3",
               "MistralForCausalLM": "mistral"}

_ABSENT = object()
#: Upper bounds that no real model comes near; they keep accounting loops bounded.
_MAX = {"num_hidden_layers": 10_000, "n_layer": 10_000, "num_attention_heads": 100_000, "n_head": 100_000,
        "num_key_value_heads": 100_000, "num_local_experts": 1_000_000, "num_experts": 1_000_000,
        "n_routed_experts": 1_000_000}

# KV heads when the key is absent (transformers 5.24 config class defaults);
# a family not listed uses num_attention_heads.
_KV_DEFAULT = {"mistral": 8, "mixtral": 8, "qwen2": 32, "qwen2_moe": 16, "qwen3": 32, "qwen3_moe": 4,
               "gemma": 16, "gemma2": 4, "gemma3_text": 4, "deepseek_v3": 128, "gpt_oss": 8,
               "llama4_text": 8, "qwen2_5_vl_text": 8, "phimoe": 8, "glm4_moe": 8, "smollm3": 4, "ernie4_5": 2,
               "deepseek_v32": 128, "qwen3_next": 2, "mllama_text_model": 8, "ministral3": 8, "nemotron_h": 8, "jamba": 8, "falcon_h1": 8}
# head_dim when the key is absent; a family not listed uses hidden_size // num_attention_heads.
_HEAD_DIM_DEFAULT = {"qwen3": 128, "gemma": 256, "gemma2": 256, "gemma3_text": 256, "gpt_oss": 64,
                     "llama4_text": 128, "ernie4_5": 128, "qwen3_next": 256, "nemotron_h": 128,
                     "ministral3": 128}
_TIE_DEFAULT = {"gemma": True, "gemma2": True, "gemma3_text": True, "gpt2": True, "opt": True, "falcon": True,
                "cohere2": True, "smollm3": True, "ernie4_5": True}
# num_attention_heads when the key is absent (Gemma 3 4B's multimodal config leaves it to the default)
_HEADS_DEFAULT = {"gemma3_text": 8}
# vocab_size when the key is absent (Gemma 3's multimodal configs leave it to the default)
_VOCAB_DEFAULT = {"gemma3_text": 262_208, "llama4_text": 202_048, "qwen2_5_vl_text": 152_064}
# sliding_window when the key is absent
_SW_DEFAULT = {"mistral": 4096, "gemma2": 4096, "gemma3_text": 4096, "gpt_oss": 128,
               "qwen2": 4096, "qwen3": 4096, "qwen2_moe": 4096, "qwen3_moe": 4096, "qwen2_5_vl_text": 4096,
               "cohere2": 4096, "olmo3": 4096, "exaone4": 4096}


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
    if model_type in WRAPPERS:
        return _build_wrapper(cfg, model_type, name, source, where)
    if model_type not in SUPPORTED_MODEL_TYPES and model_type not in _TEXT_ONLY_TYPES:
        arch = cfg.get("architectures")
        if isinstance(arch, list) and arch and arch[0] in _ARCH_TYPES:
            spec = _build(cfg, _ARCH_TYPES[arch[0]], name, source, where)
            return replace(spec, notes=spec.notes + (f"model_type {model_type!r} read as {spec.model_type!r}, "
                                                     f"the type of the class it names ({arch[0]})",))
    return _build(cfg, model_type, name, source, where)


def _build_wrapper(cfg: dict, model_type: str, name: str, source: str, where: str) -> ModelSpec:
    """A multimodal wrapper: its language model plus the vision tower and projector, all counted."""
    from ridgeline.model.vision import vision_spec

    w = WRAPPERS[model_type]
    text = cfg.get("text_config")
    if text is None and w.flat_text:
        text = {k: v for k, v in cfg.items() if k not in ("vision_config", "architectures", "model_type",
                                                           "quantization_config", "tie_word_embeddings")}
    if not isinstance(text, dict):
        problem = "is missing" if text is None else f"must be an object, got {type(text).__name__}"
        raise ConfigError(f"{where}: field 'text_config' {problem}; a {model_type} config keeps its "
                          "language model there as a JSON object")
    text = dict(text)
    if w.flat_text or text.get("model_type") in (None, model_type):
        text["model_type"] = w.text_type
    if "torch_dtype" not in text and "dtype" not in text:
        text["torch_dtype"] = cfg.get("torch_dtype") or cfg.get("dtype")
    wrapper_tie = cfg.get("tie_word_embeddings")
    text_tie = text.get("tie_word_embeddings")
    if w.tie_from == "wrapper":
        tie = w.tie_default if wrapper_tie is None else wrapper_tie
    elif w.tie_from == "either":
        tie = bool(wrapper_tie) or bool(text_tie)
    elif w.tie_from == "never":
        tie = False
    else:
        tie = None
    if tie is not None:
        text["tie_word_embeddings"] = tie
    spec = _build(text, text["model_type"], name or cfg.get("_name_or_path") or model_type,
                  source, f"{where} (text_config)")
    vcfg = cfg.get("vision_config")
    notes = list(spec.notes)
    if vcfg is None:
        vcfg = dict(_ABSENT_VISION_CONFIG.get(model_type, {}))
        notes.append("vision_config is absent: counted as transformers 5.24 builds it, with its default vision "
                     "tower, which need not be the published checkpoint's")
    if not isinstance(vcfg, dict):
        raise ConfigError(f"{where}: field 'vision_config' must be a JSON object; fix it or remove it")
    vision = vision_spec(model_type, cfg, vcfg, spec.hidden_size, f"{where} (vision_config)")
    if w.tie_from == "wrapper" and wrapper_tie is None and text_tie is False:
        notes.append("transformers 5.24 ties lm_head to the embeddings here: the wrapper's tie_word_embeddings "
                     "(absent, default true) overrides the text_config's false")
    out = replace(spec, vision=vision, wrapper_model_type=model_type, notes=tuple(notes))
    if "cross_attention" in spec.layer_types:
        out = replace(out, cross_attention=CrossAttentionSpec(image_tokens=vision.tokens_per_image or 0))
    if out.quant_method or out.quant_problem:
        return out
    return apply_quantization(out, cfg)


def _build(cfg: dict, model_type: str, name: str, source: str, where: str) -> ModelSpec:
    if model_type not in SUPPORTED_MODEL_TYPES and model_type not in _TEXT_ONLY_TYPES:
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
    if mt in ("qwen2", "qwen3", "qwen3_moe", "qwen2_moe", "qwen2_5_vl_text", "smollm3"):
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
            kind = _EXPLICIT_LAYER_TYPES.get(t)
            if kind is None:
                raise ConfigError(f"{r.where}: field 'layer_types' holds {t!r}; ridgeline supports "
                                  f"{', '.join(repr(k) for k in _EXPLICIT_LAYER_TYPES)}")
            kinds.append(kind)
        types = tuple(kinds)
    elif mt in ("gemma2", "gpt_oss"):
        types = tuple("sliding" if (i + 1) % 2 else "full" for i in range(num_layers))
    elif mt in ("gemma3_text", "cohere2", "olmo3", "exaone4"):
        dflt = {"gemma3_text": 6, "olmo3": 4}.get(mt, 4)
        pattern = r.int("sliding_window_pattern", dflt) if mt != "olmo3" else 4
        if mt == "exaone4" and window is None:
            raise ConfigError(f"{r.where}: field 'layer_types' is missing and 'sliding_window' is null; "
                              "list the layer types (transformers 5.24 cannot build this config either)")
        types = tuple("sliding" if (i + 1) % pattern else "full" for i in range(num_layers))
    elif mt in ("qwen2", "qwen3", "qwen2_5_vl_text"):
        mwl = r.int("max_window_layers", 28 if mt != "qwen2_5_vl_text" else 80, min_value=0)
        types = tuple("sliding" if window is not None and i >= mwl else "full" for i in range(num_layers))
    elif mt == "qwen2_moe":
        mwl = r.int("max_window_layers", 28, min_value=0)
        use = r.bool("use_sliding_window", False)
        types = tuple("sliding" if (i + 1) % 2 and i < mwl and use else "full" for i in range(num_layers))
    elif mt in ("llama4_text", "smollm3"):
        no_rope = r.int_list("no_rope_layers")
        interval = r.int("no_rope_layer_interval", 4)
        if not no_rope or (mt == "smollm3" and r.cfg.get("no_rope_layers") is None):
            no_rope = [int((i + 1) % interval != 0) for i in range(num_layers)]
        if len(no_rope) != num_layers:
            raise ConfigError(f"{r.where}: field 'no_rope_layers' must list one entry per layer ({num_layers})")
        if mt == "llama4_text":
            chunked = r.cfg.get("attention_chunk_size") is not None
            types = tuple("chunked" if nr and chunked else "full" for nr in no_rope)
            window = None
        else:
            types = tuple("sliding" if window is not None and not nr else "full" for nr in no_rope)
    elif mt == "qwen3_next":
        interval = r.int("full_attention_interval", 4)
        types = tuple("linear_attention" if (i + 1) % interval else "full" for i in range(num_layers))
    else:
        types = tuple("sliding" if window is not None else "full" for _ in range(num_layers))
    if "sliding" in types and window is None:
        raise ConfigError(f"{r.where}: 'layer_types' has sliding layers but 'sliding_window' is null; set the window")
    return types, (window if "sliding" in types else None)


#: ``layer_types`` values of config.json -> ridgeline's layer types (ridgeline.model.spec.LAYER_TYPES).
_EXPLICIT_LAYER_TYPES = {"full_attention": "full", "full": "full", "sliding_attention": "sliding", "sliding": "sliding",
                         "chunked_attention": "chunked", "linear_attention": "linear_attention"}


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

_ALL_BIAS_TYPES = ("llama", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3_text", "gpt_oss", "granite",
                   "granitemoe", "olmo2", "olmo3", "smollm3", "cohere2", "phimoe", "llama4_text", "qwen3_next")
_PER_HEAD_QK_NORM_TYPES = ("qwen3", "qwen3_moe", "gemma3_text", "exaone4", "qwen3_next")
_MLP_BIAS_TYPES = ("llama", "granite", "smollm3")


def _build_llama_like(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    """llama, mistral, mixtral, qwen2(_moe), qwen3(_moe), gemma(2,3), phi3, gpt_oss, and the llama-shaped
    families of issue 10 (llama4_text, qwen2_5_vl_text, olmo2/3, granite(moe), cohere2, smollm3, exaone4,
    phimoe, ernie4_5, glm4_moe, qwen3_next, ministral3, mllama_text_model)."""
    V = r.int("vocab_size", _VOCAB_DEFAULT.get(mt, _ABSENT))
    H = r.int("hidden_size")
    L = r.int("num_hidden_layers")
    N = r.int("num_attention_heads", _HEADS_DEFAULT.get(mt, _ABSENT))
    K = r.int("num_key_value_heads", _KV_DEFAULT.get(mt, N)) if r.cfg.get("num_key_value_heads", 0) is not None else N
    D = r.int("head_dim", _HEAD_DIM_DEFAULT.get(mt, H // N)) if mt != "cohere2" else H // N
    _check_heads(r, H, N, K)
    I = r.int("intermediate_size")
    notes: list[str] = []

    bias = r.bool("attention_bias", mt == "gpt_oss")
    qkv_bias = o_bias = False
    if mt in _ALL_BIAS_TYPES:
        qkv_bias = o_bias = bias
    elif mt in ("qwen2", "qwen2_5_vl_text"):
        qkv_bias = True
    elif mt == "qwen2_moe":
        qkv_bias = r.bool("qkv_bias", True)
    elif mt == "glm4_moe":
        qkv_bias = bias
    elif mt == "ernie4_5":
        qkv_bias = o_bias = r.bool("use_bias", False)
    mlp_bias = r.bool("mlp_bias", False) if mt in _MLP_BIAS_TYPES else False
    if mt == "ernie4_5":
        mlp_bias = qkv_bias

    qk_norm = mt in _PER_HEAD_QK_NORM_TYPES or mt in ("olmo2", "olmo3") or (
        mt == "glm4_moe" and r.bool("use_qk_norm", False))
    attention = AttentionSpec(
        kind=_attn_kind(N, K), num_heads=N, num_kv_heads=K, head_dim=D,
        q_bias=qkv_bias, k_bias=qkv_bias, v_bias=qkv_bias, o_bias=o_bias,
        qk_norm=qk_norm, qk_norm_per_head=mt not in ("olmo2", "olmo3"), sinks=mt == "gpt_oss",
        output_gate=mt == "qwen3_next",
    )
    act = r.str("hidden_activation", "") or r.str("hidden_act", "silu")
    dense_I = r.int("intermediate_size_mlp", 16384) if mt == "llama4_text" else I
    mlp = MLPSpec(gated=True, intermediate_size=dense_I, bias=mlp_bias, activation=act)

    moe = None
    if mt in ("mixtral", "gpt_oss", "granitemoe", "phimoe"):
        E = r.int("num_local_experts", {"mixtral": 8, "gpt_oss": 128, "granitemoe": 8, "phimoe": 16}[mt],
                  alt=("num_experts",))
        k = r.int("num_experts_per_tok", 4 if mt == "gpt_oss" else 2, alt=("experts_per_token",))
        _check_top_k(r, E, k)
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=I, router_bias=mt == "gpt_oss",
                      expert_bias=mt == "gpt_oss", moe_layers=tuple(range(L)))
    elif mt in ("qwen2_moe", "qwen3_moe", "qwen3_next"):
        dflt = {"qwen2_moe": (60, 4, 1408), "qwen3_moe": (128, 8, 768), "qwen3_next": (512, 10, 512)}[mt]
        E = r.int("num_experts", dflt[0], min_value=0)
        k = r.int("num_experts_per_tok", dflt[1])
        Ie = r.int("moe_intermediate_size", dflt[2])
        step = r.int("decoder_sparse_step", 1)
        dense_only = set(r.int_list("mlp_only_layers"))
        layers = tuple(i for i in range(L) if i not in dense_only and E > 0 and (i + 1) % step == 0)
        shared = 0
        if mt != "qwen3_moe":
            shared = r.int("shared_expert_intermediate_size", 5632 if mt == "qwen2_moe" else 512, min_value=0)
        _check_top_k(r, E, k)
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=Ie, shared_intermediate_size=shared,
                      shared_expert_gate=mt != "qwen3_moe", moe_layers=layers)
    elif mt == "llama4_text":
        E = r.int("num_local_experts", 16)
        k = r.int("num_experts_per_tok", 1)
        step = r.int("interleave_moe_layer_step", 1)
        explicit = r.int_list("moe_layers")
        layers = tuple(explicit) if r.cfg.get("moe_layers") is not None else tuple(range(step - 1, L, step))
        _check_top_k(r, E, k)
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=I, shared_intermediate_size=I,
                      moe_layers=layers)
    elif mt == "glm4_moe":
        E = r.int("n_routed_experts", 128, min_value=0)
        k = r.int("num_experts_per_tok", 8)
        Ie = r.int("moe_intermediate_size", 1408)
        ns = r.int("n_shared_experts", 1, min_value=0)
        first_dense = r.int("first_k_dense_replace", 1, min_value=0)
        _check_top_k(r, E, k)
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=Ie, shared_intermediate_size=Ie * ns,
                      moe_layers=tuple(range(first_dense, L)))
        if r.int("num_nextn_predict_layers", 1, min_value=0):
            notes.append("multi-token-prediction (MTP) layers in the checkpoint are not built by transformers "
                         "and not counted")

    types, window = _layer_types(r, mt, L)
    embedding_rows = None
    if mt == "mllama_text_model":
        xl = set(r.int_list("cross_attention_layers"))
        if any(i >= L for i in xl):
            raise ConfigError(f"{r.where}: field 'cross_attention_layers' names a layer >= num_hidden_layers ({L})")
        types = tuple("cross_attention" if i in xl else t for i, t in enumerate(types))
        embedding_rows = V + 8  # MllamaTextModel: nn.Embedding(vocab_size + 8, hidden) for image tokens
    chunk = None
    if "chunked" in types:
        chunk = r.int("attention_chunk_size")
    linear = None
    if "linear_attention" in types:
        linear = LinearAttentionSpec(
            num_key_heads=r.int("linear_num_key_heads", 16), num_value_heads=r.int("linear_num_value_heads", 32),
            key_head_dim=r.int("linear_key_head_dim", 128), value_head_dim=r.int("linear_value_head_dim", 128),
            conv_kernel=r.int("linear_conv_kernel_dim", 4))
    norms_per_layer = {"gemma2": 4, "gemma3_text": 4, "cohere2": 1}.get(mt, 2)
    norm = "layernorm" if mt in ("cohere2", "phimoe") else "rmsnorm"
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=attention, mlp=mlp,
        moe=moe, layer_types=types, sliding_window=window, norm=norm, norm_bias=mt == "phimoe",
        norms_per_layer=norms_per_layer, final_norm=True,
        tie_word_embeddings=r.bool("tie_word_embeddings", _TIE_DEFAULT.get(mt, False)),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
        notes=tuple(notes), attention_chunk_size=chunk, linear_attention=linear,
        lm_head_bias=mt == "phimoe" and r.bool("lm_head_bias", False), embedding_rows=embedding_rows,
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
    indexer = None
    if mt == "deepseek_v32":
        # DeepSeek Sparse Attention's lightning indexer (DeepSeek-V3.2-Exp report): its own keys are cached
        indexer = IndexerSpec(num_heads=r.int("index_n_heads", 64), head_dim=r.int("index_head_dim", 128),
                              top_k=r.int("index_topk", 2048))
        types, window = ("full",) * L, None
    else:
        types, window = _layer_types(r, mt, L)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=attention, mlp=mlp, moe=moe,
        layer_types=types, sliding_window=window, norm="rmsnorm", norm_bias=False, norms_per_layer=2, final_norm=True,
        tie_word_embeddings=r.bool("tie_word_embeddings", False),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
        notes=tuple(notes), indexer=indexer,
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


def _hybrid_attention(r: _Reader, mt: str, H: int) -> AttentionSpec:
    N = r.int("num_attention_heads")
    K = r.int("num_key_value_heads", _KV_DEFAULT.get(mt, N)) if r.cfg.get("num_key_value_heads", 0) is not None else N
    D = r.int("head_dim", _HEAD_DIM_DEFAULT.get(mt, H // N))
    _check_heads(r, H, N, K)
    bias = r.bool("attention_bias", False)
    return AttentionSpec(kind=_attn_kind(N, K), num_heads=N, num_kv_heads=K, head_dim=D, q_bias=bias, k_bias=bias,
                         v_bias=bias, o_bias=bias)


def _ssm_dtype(r: _Reader, key: str) -> str | None:
    v = r.cfg.get(key)
    return v if isinstance(v, str) else None


#: Nemotron-H ``hybrid_override_pattern`` characters -> (token mixer, feed-forward)
_NEMOTRON_PATTERN = {"M": ("mamba", None), "*": ("full", None), "-": ("none", "mlp"), "E": ("none", "moe")}
_NEMOTRON_BLOCKS = {"mamba": ("mamba", None), "linear_attention": ("mamba", None), "attention": ("full", None),
                    "full_attention": ("full", None), "mlp": ("none", "mlp"), "moe": ("none", "moe")}


def _build_nemotron_h(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    """Nemotron-H: each layer is ONE block: Mamba 2, attention, an MLP or a MoE (arXiv 2504.03624)."""
    V, H = r.int("vocab_size", 131072), r.int("hidden_size")
    blocks = r.cfg.get("layers_block_type") or r.cfg.get("layer_types")
    pattern = r.cfg.get("hybrid_override_pattern")
    if isinstance(blocks, list) and blocks and all(isinstance(b, str) and b in _NEMOTRON_BLOCKS for b in blocks):
        kinds = [_NEMOTRON_BLOCKS[b] for b in blocks]
    elif isinstance(pattern, str) and pattern and all(c in _NEMOTRON_PATTERN for c in pattern):
        kinds = [_NEMOTRON_PATTERN[c] for c in pattern]
    else:
        raise ConfigError(f"{r.where}: field 'hybrid_override_pattern' must be a string of M, *, - and E "
                          "(or 'layers_block_type' a list of block names); fix it")
    if r.cfg.get("moe_latent_size") is not None:
        raise ConfigError(f"{r.where}: field 'moe_latent_size' (latent MoE) is not supported; remove it or use "
                          "a config without it")
    L = len(kinds)
    types = tuple(k[0] for k in kinds)
    moe_layers = tuple(i for i, k in enumerate(kinds) if k[1] == "moe")
    mlp_layers = tuple(i for i, k in enumerate(kinds) if k[1] == "mlp")
    # NemotronHAttention builds q/k/v/o without biases whatever attention_bias says
    attention = replace(_hybrid_attention(r, mt, H), q_bias=False, k_bias=False, v_bias=False, o_bias=False)
    mlp = MLPSpec(gated=False, intermediate_size=r.int("intermediate_size", 21504), bias=r.bool("mlp_bias", False),
                  activation=r.str("mlp_hidden_act", "relu2"))
    moe = None
    if moe_layers:
        E = r.int("n_routed_experts", 8)
        k = r.int("num_experts_per_tok", 2)
        _check_top_k(r, E, k)
        ns = r.int("n_shared_experts", 1, min_value=0)
        shared = r.int("moe_shared_expert_intermediate_size", 7688) * ns
        moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=r.int("moe_intermediate_size", 7688),
                      shared_intermediate_size=shared, gated=False, moe_layers=moe_layers)
    nh = r.int("mamba_num_heads", 128)
    hd = r.int("mamba_head_dim", 64)
    mamba = MambaSpec(version=2, d_inner=nh * hd, d_state=r.int("ssm_state_size", 128),
                      d_conv=r.int("conv_kernel", 4, alt=("mamba_d_conv",)), num_heads=nh, head_dim=hd,
                      n_groups=r.int("n_groups", 8, alt=("mamba_n_groups",)),
                      conv_bias=r.bool("use_conv_bias", True) if "mamba_conv_bias" not in r.cfg
                      else r.bool("mamba_conv_bias", True),
                      in_proj_bias=r.bool("use_bias", False), out_proj_bias=r.bool("use_bias", False),
                      gated_norm=True,
                      ssm_state_dtype=_ssm_dtype(r, "mamba_ssm_cache_dtype") or "float32")
    notes = []
    if r.int("num_nextn_predict_layers", 0, min_value=0):
        notes.append("multi-token-prediction (MTP) layers in the checkpoint are not built by transformers and not counted")
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=attention, mlp=mlp, moe=moe,
        layer_types=types, sliding_window=None, norm="rmsnorm", norm_bias=False, norms_per_layer=1, final_norm=True,
        tie_word_embeddings=r.bool("tie_word_embeddings", False),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source,
        notes=tuple(notes), mamba=mamba, dense_mlp_layers=mlp_layers,
    )


def _build_jamba(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    """Jamba: Mamba 1 layers with an attention layer every ``attn_layer_period``, MoE every
    ``expert_layer_period`` (arXiv 2403.19887)."""
    V, H, L = r.int("vocab_size", 65536), r.int("hidden_size"), r.int("num_hidden_layers")
    ap, ao = r.int("attn_layer_period", 8), r.int("attn_layer_offset", 4, min_value=0)
    ep, eo = r.int("expert_layer_period", 2), r.int("expert_layer_offset", 1, min_value=0)
    types = tuple("full" if i % ap == ao else "mamba" for i in range(L))
    E = r.int("num_experts", 16)
    k = r.int("num_experts_per_tok", 2)
    _check_top_k(r, E, k)
    I = r.int("intermediate_size")
    moe_layers = tuple(i for i in range(L) if i % ep == eo) if E > 1 else ()
    moe = MoESpec(num_experts=E, top_k=k, expert_intermediate_size=I, moe_layers=moe_layers) if moe_layers else None
    dt_rank: Any = r.cfg.get("mamba_dt_rank", "auto")
    if dt_rank == "auto" or dt_rank is None:
        dt_rank = -(-H // 16)  # ceil(H / 16), JambaConfig
    else:
        dt_rank = r.int("mamba_dt_rank")
    mamba = MambaSpec(version=1, d_inner=r.int("mamba_expand", 2) * H, d_state=r.int("mamba_d_state", 16),
                      d_conv=r.int("mamba_d_conv", 4), dt_rank=dt_rank, conv_bias=r.bool("mamba_conv_bias", True),
                      in_proj_bias=r.bool("mamba_proj_bias", False), out_proj_bias=r.bool("mamba_proj_bias", False),
                      gated_norm=False, inner_layernorms=True)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=_hybrid_attention(r, mt, H),
        mlp=MLPSpec(gated=True, intermediate_size=I, activation=r.str("hidden_act", "silu")), moe=moe,
        layer_types=types, sliding_window=None, norm="rmsnorm", norm_bias=False, norms_per_layer=2, final_norm=True,
        tie_word_embeddings=r.bool("tie_word_embeddings", False),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source, mamba=mamba,
    )


def _build_falcon_h1(r: _Reader, mt: str, name: str, source: str) -> ModelSpec:
    """Falcon-H1: every layer runs attention and a Mamba 2 mixer side by side (arXiv 2507.22448)."""
    V, H, L = r.int("vocab_size", 128000), r.int("hidden_size"), r.int("num_hidden_layers")
    nh = r.int("mamba_n_heads", 128)
    d_ssm = r.int("mamba_d_ssm", None)
    d_inner = d_ssm if d_ssm is not None else r.int("mamba_expand", 2) * H
    head: Any = r.cfg.get("mamba_d_head", "auto")
    hd = d_inner // nh if head in ("auto", None) else r.int("mamba_d_head")
    mamba = MambaSpec(version=2, d_inner=nh * hd, d_state=r.int("mamba_d_state", 256), d_conv=r.int("mamba_d_conv", 4),
                      num_heads=nh, head_dim=hd, n_groups=r.int("mamba_n_groups", 1),
                      conv_bias=r.bool("mamba_conv_bias", True), in_proj_bias=r.bool("mamba_proj_bias", False),
                      out_proj_bias=r.bool("projectors_bias", False), gated_norm=r.bool("mamba_rms_norm", False))
    bias = r.bool("attention_bias", False)
    attention = replace(_hybrid_attention(r, mt, H), q_bias=bias, k_bias=bias, v_bias=bias, o_bias=bias)
    return ModelSpec(
        name=name, model_type=mt, vocab_size=V, hidden_size=H, num_layers=L, attention=attention,
        mlp=MLPSpec(gated=True, intermediate_size=r.int("intermediate_size"), bias=r.bool("mlp_bias", False),
                    activation=r.str("hidden_act", "silu")),
        moe=None, layer_types=("hybrid",) * L, sliding_window=None, norm="rmsnorm", norm_bias=False,
        norms_per_layer=2, final_norm=True, tie_word_embeddings=r.bool("tie_word_embeddings", False),
        max_position_embeddings=r.int("max_position_embeddings", None), dtype=_dtype(r), source=source, mamba=mamba,
    )


_BUILDERS = {
    "deepseek_v2": _build_deepseek, "deepseek_v3": _build_deepseek, "gpt2": _build_gpt2,
    "gpt_neox": _build_gpt_neox, "opt": _build_opt, "falcon": _build_falcon,
    "deepseek_v32": _build_deepseek, "nemotron_h": _build_nemotron_h, "jamba": _build_jamba,
    "falcon_h1": _build_falcon_h1,
}
