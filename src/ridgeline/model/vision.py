"""Vision towers and projectors of multimodal wrappers, as exact parameter terms.

Each function reads a wrapper's ``vision_config`` with the defaults of its transformers 5.24
config class and returns the terms of the module the wrapper builds (tests/test_params_exact.py
compares the total with the wrapper class built on the meta device). Legend: Hv vision width,
Iv vision MLP width, Lv vision layers, C image channels, P patch side in pixels, Ht the language
model's width, m the spatial merge factor (m x m patches become one token).

Term names: ``vision.encoder.*`` (the ViT) and ``vision.projector.*`` (what maps its features into
the language model's embedding space).
"""

from __future__ import annotations

from typing import Any

from ridgeline.errors import ConfigError
from ridgeline.model.spec import VisionSpec


def _int(vc: dict[str, Any], key: str, default: int, where: str) -> int:
    v = vc.get(key, default)
    if v is None:
        v = default
    if isinstance(v, list) and len(v) == 2 and v[0] == v[1]:
        v = v[0]  # square image/patch sizes given as [n, n]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > 10**7:
        raise ConfigError(f"{where}: field {key!r} must be a positive integer, got {v!r}; fix it")
    return v


def _bool(vc: dict[str, Any], key: str, default: bool, where: str) -> bool:
    v = vc.get(key, default)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: field {key!r} must be true or false, got {v!r}")
    return v


def _vit_layer(H: int, I: int, *, bias: bool, gated: bool, norm_bias: bool) -> dict[str, int]:
    """One pre-norm ViT block: q, k, v, o (H x H), an MLP, two norms."""
    b = 1 if bias else 0
    mats = 3 if gated else 2
    return {
        "vision.encoder.attn": 4 * H * H + 4 * H * b,
        "vision.encoder.mlp": mats * H * I + ((mats - 1) * I + H) * b,
        "vision.encoder.norms": 2 * H * (2 if norm_bias else 1),
    }


def _add(terms: dict[str, int], layer: dict[str, int], times: int) -> None:
    for k, v in layer.items():
        terms[k] = terms.get(k, 0) + v * times


def _siglip(cfg: dict, vc: dict, Ht: int, where: str) -> VisionSpec:
    """Gemma 3: SigLIP vision model (SiglipVisionConfig defaults) + Gemma3MultiModalProjector."""
    H, I = _int(vc, "hidden_size", 768, where), _int(vc, "intermediate_size", 3072, where)
    L, C = _int(vc, "num_hidden_layers", 12, where), _int(vc, "num_channels", 3, where)
    S, P = _int(vc, "image_size", 224, where), _int(vc, "patch_size", 16, where)
    terms = {"vision.encoder.patch_embed": C * P * P * H + H, "vision.encoder.positions": (S // P) ** 2 * H}
    _add(terms, _vit_layer(H, I, bias=True, gated=False, norm_bias=True), L)
    terms["vision.encoder.post_norm"] = 2 * H
    if _bool(vc, "vision_use_head", True, where):
        # multi-head attention pooling: probe, in_proj (3H x H + 3H), out_proj, LayerNorm, MLP
        terms["vision.encoder.head"] = H + 3 * H * H + 3 * H + H * H + H + 2 * H + 2 * H * I + I + H
    # mm_input_projection_weight (Hv x Ht) and mm_soft_emb_norm (Gemma RMSNorm, Hv)
    terms["vision.projector"] = H * Ht + H
    tokens = cfg.get("mm_tokens_per_image", 256)
    return VisionSpec("siglip_vision_model", H, L, P, tuple(terms.items()),
                      tokens if isinstance(tokens, int) else None, intermediate_size=I, image_size=S)


def _pixtral(cfg: dict, vc: dict, Ht: int, where: str) -> VisionSpec:
    """Mistral 3: Pixtral vision model (PixtralVisionConfig defaults) + Mistral3MultiModalProjector."""
    H, I = _int(vc, "hidden_size", 1024, where), _int(vc, "intermediate_size", 4096, where)
    L, C = _int(vc, "num_hidden_layers", 24, where), _int(vc, "num_channels", 3, where)
    P = _int(vc, "patch_size", 16, where)
    m = _int(cfg, "spatial_merge_size", 2, where)
    terms = {"vision.encoder.patch_embed": C * P * P * H, "vision.encoder.pre_norm": H}
    _add(terms, _vit_layer(H, I, bias=False, gated=True, norm_bias=False), L)
    b = 1 if _bool(cfg, "multimodal_projector_bias", False, where) else 0
    # RMSNorm (Hv), patch merger (m*m*Hv -> Hv), linear_1 (Hv -> Ht), linear_2 (Ht -> Ht)
    terms["vision.projector"] = H + m * m * H * H + H * Ht + Ht * Ht + 2 * Ht * b
    return VisionSpec("pixtral", H, L, P, tuple(terms.items()), intermediate_size=I)


def _llama4(cfg: dict, vc: dict, Ht: int, where: str) -> VisionSpec:
    """Llama 4: Llama4VisionModel (Llama4VisionConfig defaults) + Llama4MultiModalProjector."""
    H, I = _int(vc, "hidden_size", 768, where), _int(vc, "intermediate_size", 5632, where)
    L, C = _int(vc, "num_hidden_layers", 34, where), _int(vc, "num_channels", 3, where)
    S, P = _int(vc, "image_size", 448, where), _int(vc, "patch_size", 14, where)
    pin, pout = _int(vc, "projector_input_dim", 4096, where), _int(vc, "projector_output_dim", 4096, where)
    vout = _int(vc, "vision_output_dim", 7680, where)
    patches = (S // P) ** 2 + 1  # + the class token
    terms = {"vision.encoder.patch_embed": C * P * P * H, "vision.encoder.class_embedding": H,
             "vision.encoder.positions": patches * H, "vision.encoder.pre_post_norms": 4 * H}
    _add(terms, _vit_layer(H, I, bias=True, gated=False, norm_bias=True), L)
    # pixel-shuffle adapter MLP (no biases): fc1 Iv -> projector_input_dim, fc2 out -> out
    terms["vision.encoder.adapter"] = I * pin + pout * pout
    terms["vision.projector"] = vout * Ht  # linear_1, no bias
    ratio = vc.get("pixel_shuffle_ratio", 0.5)
    # pixel shuffle merges (1/ratio)^2 patches into one token: 576 patches -> 144 tokens per 336 px tile
    tokens = round((patches - 1) * ratio * ratio) if isinstance(ratio, (int, float)) and 0 < ratio <= 1 else None
    return VisionSpec("llama4_vision_model", H, L, P, tuple(terms.items()), tokens, intermediate_size=I,
                      image_size=S)


def _qwen2_5_vl(cfg: dict, vc: dict, Ht: int, where: str) -> VisionSpec:
    """Qwen2.5-VL: Qwen2_5_VisionTransformerPretrainedModel (Qwen2_5_VLVisionConfig defaults); its
    patch merger is the projector."""
    H, I = _int(vc, "hidden_size", 3584, where), _int(vc, "intermediate_size", 3420, where)
    L, C = _int(vc, "depth", 32, where), _int(vc, "in_channels", 3, where)
    P, Tp = _int(vc, "patch_size", 14, where), _int(vc, "temporal_patch_size", 2, where)
    m, out = _int(vc, "spatial_merge_size", 2, where), _int(vc, "out_hidden_size", 3584, where)
    terms = {"vision.encoder.patch_embed": C * Tp * P * P * H}
    # blocks: fused qkv and proj with biases, gated MLP with biases, two RMSNorms
    _add(terms, {"vision.encoder.attn": 4 * H * H + 4 * H, "vision.encoder.mlp": 3 * H * I + 2 * I + H,
                 "vision.encoder.norms": 2 * H}, L)
    Hm = H * m * m
    # merger: RMSNorm (Hv), Linear(Hm -> Hm), GELU, Linear(Hm -> out), with biases
    terms["vision.projector"] = H + Hm * Hm + Hm + Hm * out + out
    return VisionSpec("qwen2_5_vl", H, L, P, tuple(terms.items()), intermediate_size=I)


def _mllama(cfg: dict, vc: dict, Ht: int, where: str) -> VisionSpec:
    """Mllama (Llama 3.2 Vision): MllamaVisionModel (MllamaVisionConfig defaults), a tiled ViT with a
    local and a gated global encoder, and a linear projector (vision_output_dim -> Ht, with bias)."""
    H, I = _int(vc, "hidden_size", 1280, where), _int(vc, "intermediate_size", 5120, where)
    L, G = _int(vc, "num_hidden_layers", 32, where), _int(vc, "num_global_layers", 8, where)
    C, S, P = _int(vc, "num_channels", 3, where), _int(vc, "image_size", 448, where), _int(vc, "patch_size", 14, where)
    T = _int(vc, "max_num_tiles", 4, where)
    vout = _int(vc, "vision_output_dim", 7680, where)
    ratios = vc.get("supported_aspect_ratios")
    # MllamaVisionConfig: every (w, h) with w * h <= max_num_tiles; embeddings keep one extra row (id 0)
    n_ratios = len(ratios) if isinstance(ratios, list) else sum(1 for w in range(1, T + 1) for h in range(1, T + 1)
                                                                if w * h <= T)
    patches = (S // P) ** 2 + 1  # + the class token
    rows = n_ratios + 1
    terms = {"vision.encoder.patch_embed": C * P * P * H, "vision.encoder.class_embedding": H,
             # gated position embedding: gate, per-patch table, per-aspect-ratio tile table
             "vision.encoder.positions": 1 + patches * H + rows * T * patches * H,
             # pre- and post-tile position embeddings: a gate and a per-aspect-ratio table each
             "vision.encoder.tile_positions": 2 * (1 + rows * T * H),
             "vision.encoder.pre_post_norms": 4 * H}
    layer = {"vision.encoder.attn": 4 * H * H, "vision.encoder.mlp": 2 * H * I + I + H,
             "vision.encoder.norms": 4 * H}
    _add(terms, layer, L + G)
    terms["vision.encoder.global_gates"] = 2 * G
    terms["vision.projector"] = vout * Ht + Ht
    return VisionSpec("mllama_vision_model", H, L + G, P, tuple(terms.items()), T * patches, intermediate_size=I,
                      image_size=S)


_FAMILIES = {"mllama": _mllama, "gemma3": _siglip, "mistral3": _pixtral, "llama4": _llama4, "qwen2_5_vl": _qwen2_5_vl}


def vision_spec(wrapper_type: str, cfg: dict[str, Any], vision_config: dict[str, Any], text_hidden: int,
                where: str) -> VisionSpec:
    """The vision tower and projector of ``wrapper_type`` as exact parameter terms."""
    fn = _FAMILIES.get(wrapper_type)
    if fn is None:  # pragma: no cover - the adapter only calls this for known wrappers
        raise ConfigError(f"{where}: no vision tower known for {wrapper_type!r}")
    return fn(cfg, vision_config, text_hidden, where)
