"""Read a config.json's ``quantization_config`` into a weight format and the kept roles.

One function, :func:`read_quantization`, understands the methods that ship public
checkpoints, from the fields their writers put in ``config.json``:

==================  ==========================================================  =====================
quant_method        fields read                                                  weight format
==================  ==========================================================  =====================
compressed-tensors  ``config_groups.*.weights``: ``num_bits``, ``type``,          int8 / int4-sym-g128 /
                    ``strategy`` (tensor, channel, group, tensor_group, block),  int4-g128 / fp8 /
                    ``group_size``, ``block_structure``, ``symmetric``;           fp8-ch / fp8-b128 /
                    ``format``; ``ignore``; ``kv_cache_scheme``                  nvfp4 / mxfp4
fbgemm_fp8          ``modules_to_not_convert``                                   fp8-ch
fp8                 ``weight_block_size``, ``modules_to_not_convert``            fp8 / fp8-bNxM
gptq                ``bits``, ``group_size`` (-1: per channel), ``desc_act``,    gptq-gN / intB-gN /
                    ``sym``, ``lm_head``                                         intB-gch
awq                 ``bits`` / ``w_bit``, ``group_size`` / ``q_group_size``,     awq-gN / intB-gN
                    ``zero_point``, ``modules_to_not_convert``
bitsandbytes        ``load_in_4bit`` / ``load_in_8bit``, ``bnb_4bit_quant_type``  nf4 / nf4-nodq /
                    (nf4, fp4), ``bnb_4bit_use_double_quant``,                   bnb-fp4 / int8
                    ``llm_int8_skip_modules``
mxfp4               ``modules_to_not_convert`` (only MoE experts are MXFP4)      mxfp4
modelopt            ``quant_algo`` (FP8, NVFP4), ``exclude_modules`` / ``ignore``  fp8 / nvfp4
==================  ==========================================================  =====================

Anything else (an unknown method, a missing or mistyped field, groups that mix formats)
is a :class:`QuantScheme` with ``problem`` set: ``Precision.build`` turns it into one line
asking for ``--weights``, never a bf16 guess. A problem is not raised here, so that
``ridgeline model`` still shows the architecture and ``fit --weights ...`` still works.

Sources (field names and defaults): transformers 5.24 ``utils/quantization_config.py``
(GPTQConfig, AwqConfig, BitsAndBytesConfig, FbgemmFp8Config, FineGrainedFP8Config,
Mxfp4Config, CompressedTensorsConfig); neuralmagic/compressed-tensors
``quantization/quant_scheme.py`` and ``quant_args.py`` (strategy, type, group_size).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Roles the transformers quantizers (AWQ, GPTQ, bitsandbytes, FP8, fbgemm) keep unquantized
#: unless told otherwise: they replace ``nn.Linear`` layers only, and ``get_keys_to_not_convert``
#: keeps the output embedding (lm_head). Routers are tiny and kept by every engine's MoE path.
DEFAULT_KEPT = ("bias", "embedding", "lm_head", "norm", "other", "router")
#: compressed-tensors quantizes every ``Linear`` its targets name, lm_head included, unless
#: ``ignore`` lists it: only non-Linear roles are kept by default.
_CT_KEPT = ("bias", "embedding", "norm", "other", "router")

#: Module-name patterns -> the tensor role (see ridgeline.model.params.ROLES) they leave
#: unquantized, tried in order on a normalised name (lower case, regex escapes and anchors
#: dropped, ``.*`` as ``*``): ``shared_expert`` before ``experts``, the router's ``gate``
#: (a whole path component) never matching ``gate_proj``.
_UNCONVERTED_ROLES: tuple[tuple[str, str], ...] = (
    (r"lm_head|embed_out|^output$", "lm_head"),
    (r"embed|(^|\.)wte|(^|\.)wpe", "embedding"),
    (r"norm|(^|\.)ln", "norm"),
    (r"(^|\.)(router|gate|shared_expert_gate)(\.|\*|$)", "router"),
    (r"shared_expert", "linear"),
    (r"experts", "expert"),
    (r"attn|attention|_proj|qkv|query_key_value|indexer|mlp|dense|(^|\.)c?_?fc|c_proj", "linear"),
)
#: Names that are not part of the language model ridgeline counts (vision towers, projectors).
_NOT_COUNTED = re.compile(r"vision|visual|image|audio|multi_modal|mm_projector|projector|patch")
#: A whole decoder layer named by its index (``model.layers.0.``, ``re:model\.layers\.[0-2]\..*``).
_WHOLE_LAYER = re.compile(r"layers\.(\d+|\[[^\]]*\]|\([^)]*\))\.?\*?$")


def _normalise(name: str) -> str:
    t = name.removeprefix("re:").strip().lower()
    t = re.sub(r"\\(.)", r"\1", t).replace(".*", "*").replace("^", "").replace("$", "")
    return t


@dataclass(frozen=True)
class QuantScheme:
    """What a checkpoint's ``quantization_config`` says about how its weights are stored."""

    method: str
    """``quant_method`` as written (``"gptq"``, ``"compressed-tensors"``)."""
    weights: str | None
    """ridgeline format of the quantized weights (``"int4-sym-g128"``); None when ``problem``."""
    kept_roles: tuple[str, ...] | None
    """Every tensor role the checkpoint stores unquantized (sorted); None when ``problem``."""
    notes: tuple[str, ...] = ()
    """What the config says that the format alone does not (g_idx bytes, KV scheme, layers kept)."""
    problem: str | None = None
    """Why the weight format cannot be read (one line naming the field); None when it can."""


def _fail(method: str, why: str) -> QuantScheme:
    return QuantScheme(method, None, None, problem=f"quantization_config: {why}; pass --weights with the "
                                                   "checkpoint's weight format (e.g. --weights int4-g128)")


def _show(v: Any, n: int = 40) -> str:
    """A bounded repr of a config value for a message: never raises (a huge integer, a deeply nested list)."""
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 64:
        return f"an integer of {v.bit_length()} bits"
    try:
        return repr(v)[:n]
    except (ValueError, RecursionError):
        return f"a {type(v).__name__}"


def _key(name: str) -> str:
    """A config-group name as a message shows it: one line, bounded."""
    return name[:40].encode("unicode_escape").decode("ascii")


def _int(q: dict, *keys: str, default: int) -> int | tuple[str, Any]:
    """The first of ``keys`` present in ``q``, or ``default``; ``(key, value)`` when it is not an integer."""
    for k in keys:
        if q.get(k) is not None:
            v = q[k]
            return (k, v) if isinstance(v, bool) or not isinstance(v, int) else v
    return default


def _names(v: Any) -> list[str] | None:
    if v is None:
        return []
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    return None


def roles_of_names(names: list[str]) -> tuple[set[str], list[str], list[str]]:
    """Roles named by module names / ``re:`` patterns, the whole layers named, and names not understood."""
    roles: set[str] = set()
    layers: list[str] = []
    unknown: list[str] = []
    for raw in names:
        text = _normalise(raw)
        if not text or _NOT_COUNTED.search(text):
            continue
        if _WHOLE_LAYER.search(text):
            layers.append(raw)
            continue
        for pattern, role in _UNCONVERTED_ROLES:
            if re.search(pattern, text):
                roles.add(role)
                break
        else:
            unknown.append(raw)
    return roles, layers, unknown


def _kept(method: str, base: tuple[str, ...], skip: Any, field: str) -> tuple[tuple[str, ...], list[str]] | QuantScheme:
    names = _names(skip)
    if names is None:
        return _fail(method, f"field {field!r} must be a list of module names, got {type(skip).__name__}")
    roles, layers, unknown = roles_of_names(names)
    notes = []
    if layers:
        notes.append(f"quantization_config.{field} keeps {len(layers)} whole layer(s) unquantized "
                     f"({', '.join(x[:60] for x in layers[:3])}{', ...' if len(layers) > 3 else ''}); the config-level estimate "
                     "quantizes them: point ridgeline at the checkpoint folder for exact bytes")
    if unknown:
        notes.append(f"quantization_config.{field}: module name(s) {', '.join(repr(u[:60]) for u in unknown[:3])} name no "
                     "role ridgeline counts; ignored")
    if "linear" in roles:
        notes.append(f"quantization_config.{field} keeps some linear layers unquantized; ridgeline keeps every "
                     "non-expert linear layer (attention, dense and shared-expert MLPs) in the unquantized format")
    return tuple(sorted(set(base) | roles)), notes


def read_quantization(q: Any) -> QuantScheme | None:
    """The scheme of a ``quantization_config`` value; None when there is none (absent or null)."""
    if q is None:
        return None
    if not isinstance(q, dict):
        return _fail("?", f"expected an object, got {type(q).__name__}")
    method = q.get("quant_method")
    if method is None and ("load_in_4bit" in q or "load_in_8bit" in q):
        method = "bitsandbytes"  # BitsAndBytesConfig.to_dict() of old transformers omitted it
    if not isinstance(method, str) or not method.strip():
        return _fail("?", f"field 'quant_method' is {'missing' if method is None else 'not a string'}")
    m = method.strip().lower()
    reader = _READERS.get(m)
    if reader is None:
        return _fail(m, f"quant_method {method[:60]!r} is not one ridgeline reads (it reads "
                        f"{', '.join(sorted(_READERS))})")
    return reader(m, q)


# --------------------------------------------------------------------------- methods

def _gptq_awq(m: str, q: dict) -> QuantScheme:
    bits = _int(q, "bits", "w_bit", default=4)
    group = _int(q, "group_size", "q_group_size", default=128)
    for v in (bits, group):
        if isinstance(v, tuple):
            return _fail(m, f"field {v[0]!r} must be an integer, got {_show(v[1])}")
    if bits not in (2, 3, 4, 8):
        return _fail(m, f"field 'bits' is {_show(bits)}; {m} stores 2, 3, 4 or 8 bits")
    if group == -1 or group == 0 and m == "awq":
        g = "ch"
    elif isinstance(group, int) and 0 < group <= 2**20:
        g = str(group)
    else:
        return _fail(m, f"field 'group_size' is {_show(group)}; use -1 (per channel) or a positive group size")
    sym_field = "sym" if m == "gptq" else "zero_point"
    raw = q.get(sym_field, True)
    if not isinstance(raw, bool):
        return _fail(m, f"field {sym_field!r} must be true or false, got {_show(raw)}")
    sym = raw if m == "gptq" else not raw
    # GPTQ and AWQ checkpoints store a zero point whatever ``sym`` says (AutoGPTQ packs qzeros
    # for symmetric groups too); AWQ without zero_point stores none.
    if m == "awq" and sym:
        fmt = f"int{bits}-sym-g{g}"
    else:
        fmt = f"{m if bits == 4 and g != 'ch' else f'int{bits}'}-g{g}"
    notes: list[str] = []
    kept = _kept(m, DEFAULT_KEPT, q.get("modules_to_not_convert"), "modules_to_not_convert")
    if isinstance(kept, QuantScheme):
        return kept
    roles, more = kept
    notes += more
    if m == "gptq":
        act = q.get("desc_act", False)
        if not isinstance(act, bool) and act not in (0, 1):
            return _fail(m, f"field 'desc_act' must be true or false, got {_show(act)}")
        notes.append("GPTQ stores g_idx, one int32 per input row of every quantized linear (32 / out_features "
                     "bits per weight: 0.008 for a 4096-wide projection); not counted" +
                     ("; desc_act (act-order) engines keep it and a sort index of the same size at run time"
                      if act else ""))
        if q.get("lm_head") is True:
            roles = tuple(r for r in roles if r != "lm_head")
            notes.append("quantization_config.lm_head: the lm_head is quantized too")
    return QuantScheme(m, fmt, roles, tuple(notes))


def _bnb(m: str, q: dict) -> QuantScheme:
    four = q.get("load_in_4bit", q.get("_load_in_4bit", False))
    eight = q.get("load_in_8bit", q.get("_load_in_8bit", False))
    if not isinstance(four, bool) or not isinstance(eight, bool):
        return _fail(m, "fields 'load_in_4bit' / 'load_in_8bit' must be true or false")
    if four == eight:
        return _fail(m, "exactly one of 'load_in_4bit' and 'load_in_8bit' must be true, got "
                        f"{four} and {eight}")
    if four:
        kind = q.get("bnb_4bit_quant_type", "fp4")  # BitsAndBytesConfig's default
        dq = q.get("bnb_4bit_use_double_quant", False)
        if kind not in ("nf4", "fp4"):
            return _fail(m, f"field 'bnb_4bit_quant_type' is {_show(kind)}; bitsandbytes has nf4 and fp4")
        if not isinstance(dq, bool):
            return _fail(m, f"field 'bnb_4bit_use_double_quant' must be true or false, got {_show(dq)}")
        fmt = ("nf4" if dq else "nf4-nodq") if kind == "nf4" else ("bnb-fp4" if dq else "bnb-fp4-nodq")
    else:
        fmt = "int8"
    kept = _kept(m, DEFAULT_KEPT, q.get("llm_int8_skip_modules"), "llm_int8_skip_modules")
    if isinstance(kept, QuantScheme):
        return kept
    return QuantScheme(m, fmt, kept[0], tuple(kept[1]))


def _fp8(m: str, q: dict) -> QuantScheme:
    block = q.get("weight_block_size")
    if block is None:
        fmt = "fp8"
    elif (isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and not isinstance(b, bool)
                                                               and 0 < b <= 2**16 for b in block)):
        fmt = "fp8-b128" if block == [128, 128] else f"fp8-b{block[0]}x{block[1]}"
    else:
        return _fail(m, f"field 'weight_block_size' must be two positive integers such as [128, 128], "
                        f"got {_show(block)}")
    kept = _kept(m, DEFAULT_KEPT, q.get("modules_to_not_convert"), "modules_to_not_convert")
    if isinstance(kept, QuantScheme):
        return kept
    return QuantScheme(m, fmt, kept[0], tuple(kept[1]))


def _fbgemm(m: str, q: dict) -> QuantScheme:
    # fbgemm FP8: per-output-channel fp32 weight scales (transformers FbgemmFp8Linear.weight_scale [out, 1])
    kept = _kept(m, DEFAULT_KEPT, q.get("modules_to_not_convert"), "modules_to_not_convert")
    if isinstance(kept, QuantScheme):
        return kept
    return QuantScheme(m, "fp8-ch", kept[0], tuple(kept[1]))


def _mxfp4(m: str, q: dict) -> QuantScheme:
    # transformers' Mxfp4HfQuantizer replaces only the MoE expert weights (gpt-oss ``*_blocks`` / ``*_scales``)
    kept = _kept(m, DEFAULT_KEPT + ("linear",), q.get("modules_to_not_convert"), "modules_to_not_convert")
    if isinstance(kept, QuantScheme):
        return kept
    notes = [n for n in kept[1] if "linear layers" not in n]
    return QuantScheme(m, "mxfp4", kept[0], tuple(notes))


def _modelopt(m: str, q: dict) -> QuantScheme:
    algo = q.get("quant_algo")
    if isinstance(q.get("quantization"), dict):  # hf_quant_config.json nests it
        algo = q["quantization"].get("quant_algo", algo)
    fmt = {"fp8": "fp8", "nvfp4": "nvfp4", "w4a8_awq": None}.get(algo.lower()) if isinstance(algo, str) else None
    if fmt is None:
        return _fail(m, f"field 'quant_algo' is {_show(algo)}; ridgeline reads FP8 and NVFP4")
    skip = q.get("exclude_modules", q.get("ignore"))
    kept = _kept(m, _CT_KEPT, skip, "exclude_modules")
    if isinstance(kept, QuantScheme):
        return kept
    return QuantScheme(m, fmt, kept[0], tuple(kept[1]))


_CT_FORMATS = {"pack-quantized", "int-quantized", "float-quantized", "naive-quantized", "nvfp4-pack-quantized",
               "mxfp4-pack-quantized", None}


def _ct_weights(m: str, name: str, w: Any, fmt_field: Any) -> str | QuantScheme:
    """One config group's ``weights`` -> a ridgeline format name."""
    where = f"config_groups.{_key(name)}.weights"
    if not isinstance(w, dict):
        return _fail(m, f"field {where!r} must be an object, got {type(w).__name__}")
    bits, typ, strategy = w.get("num_bits"), w.get("type", "int"), w.get("strategy", "tensor")
    group, sym = w.get("group_size"), w.get("symmetric", True)
    if isinstance(bits, bool) or not isinstance(bits, int):
        return _fail(m, f"field '{where}.num_bits' must be an integer, got {_show(bits)}")
    if typ not in ("int", "float") or strategy not in ("tensor", "channel", "group", "tensor_group", "block", "token"):
        return _fail(m, f"{where}: type {_show(typ)} / strategy {_show(strategy)} is not one ridgeline reads "
                        "(int or float; tensor, channel, group, tensor_group or block)")
    if strategy in ("group", "tensor_group") and (isinstance(group, bool) or not isinstance(group, int) or group <= 0):
        return _fail(m, f"field '{where}.group_size' must be a positive integer for strategy {strategy!r}, "
                        f"got {_show(group)}")
    if not isinstance(sym, bool):
        return _fail(m, f"field '{where}.symmetric' must be true or false, got {_show(sym)}")
    if typ == "float" and bits == 8:
        if strategy == "tensor":
            return "fp8"
        if strategy == "channel":
            return "fp8-ch"
        if strategy == "block":
            b = w.get("block_structure")
            if isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) and not isinstance(x, bool) and x > 0
                                                            for x in b):
                return "fp8-b128" if b == [128, 128] else f"fp8-b{b[0]}x{b[1]}"
            return _fail(m, f"field '{where}.block_structure' must be two positive integers, got {_show(b)}")
    if typ == "float" and bits == 4:
        if group == 16 or fmt_field == "nvfp4-pack-quantized":
            return "nvfp4"
        if group == 32 or fmt_field == "mxfp4-pack-quantized":
            return "mxfp4"
    if typ == "int" and bits in (2, 3, 4, 8):
        s = "" if sym is False else "-sym"
        if strategy == "channel":
            return "int8" if bits == 8 and s else f"int{bits}{s}-gch"
        if strategy == "group":
            return f"int{bits}{s}-g{group}"
        if strategy == "tensor" and bits == 8:
            return "int8"
    return _fail(m, f"{where}: {_show(bits)}-bit {typ} with strategy {strategy!r} is not a format ridgeline knows")


def _compressed_tensors(m: str, q: dict) -> QuantScheme:
    fmt_field = q.get("format")
    # a list or an object is unhashable: test the type before membership in the set
    if not (fmt_field is None or isinstance(fmt_field, str)) or fmt_field not in _CT_FORMATS:
        return _fail(m, f"field 'format' is {_show(fmt_field, 60)}; ridgeline reads "
                        f"{', '.join(sorted(f for f in _CT_FORMATS if f))}")
    groups = q.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        return _fail(m, "field 'config_groups' must be an object with at least one group")
    formats: dict[str, str] = {}
    for name, g in groups.items():
        if not isinstance(g, dict):
            return _fail(m, f"field 'config_groups.{_key(name)}' must be an object")
        if g.get("weights") is None:
            continue  # an activation-only group stores no weights differently
        group_fmt = g.get("format", fmt_field)
        if not (group_fmt is None or isinstance(group_fmt, str)) or group_fmt not in _CT_FORMATS:
            return _fail(m, f"field 'config_groups.{_key(name)}.format' is {_show(group_fmt, 60)}; ridgeline reads "
                            f"{', '.join(sorted(f for f in _CT_FORMATS if f))}")
        f = _ct_weights(m, name, g["weights"], group_fmt)
        if isinstance(f, QuantScheme):
            return f
        formats[name] = f
    if not formats:
        return _fail(m, "no config group quantizes weights")
    if len(set(formats.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in formats.items())
        return _fail(m, f"config_groups mix weight formats ({listed}); ridgeline sizes one format, so give it "
                        "explicitly, or point at the checkpoint folder for exact bytes")
    kept = _kept(m, _CT_KEPT, q.get("ignore"), "ignore")
    if isinstance(kept, QuantScheme):
        return kept
    roles, notes = kept
    kv = q.get("kv_cache_scheme")
    if isinstance(kv, dict):
        bits, typ = kv.get("num_bits"), kv.get("type")
        notes.append(f"the checkpoint carries a {_show(bits)}-bit {_show(typ)} KV-cache scheme (kv_cache_scheme); pass "
                     f"--kv-dtype {'fp8' if typ == 'float' else 'int8'} to size the KV cache that way")
    return QuantScheme(m, next(iter(formats.values())), roles, tuple(notes))


_READERS = {"gptq": _gptq_awq, "awq": _gptq_awq, "bitsandbytes": _bnb, "fp8": _fp8, "fbgemm_fp8": _fbgemm,
            "mxfp4": _mxfp4, "compressed-tensors": _compressed_tensors, "modelopt": _modelopt}


def apply_quantization(spec: Any, cfg: dict[str, Any]) -> Any:
    """``spec`` (a ModelSpec) with the fields read from ``cfg["quantization_config"]``:
    ``quant_method`` (the ridgeline weight format), ``quant_unconverted_roles`` (every role the
    checkpoint keeps unquantized), ``quant_problem`` (why the format cannot be read) and notes.
    Unchanged when the config has no quantization_config."""
    from dataclasses import replace  # noqa: PLC0415

    s = read_quantization(cfg.get("quantization_config"))
    if s is None:
        return spec
    if s.problem:
        return replace(spec, quant_method=None, quant_unconverted_roles=None, quant_problem=s.problem)
    return replace(spec, quant_method=s.weights, quant_unconverted_roles=s.kept_roles, quant_problem=None,
                   notes=spec.notes + s.notes)

