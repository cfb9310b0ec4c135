"""What is being run: the inference workload, the parallel plan, the precision."""

from __future__ import annotations

from dataclasses import dataclass, field

from ridgeline.errors import InputError, PlanError
from ridgeline.formats import NumberFormat, format_from_torch_dtype, get_format, kv_capable
from ridgeline.model.spec import ModelSpec

#: Tensor roles kept in the unquantized format by default when weights are quantized:
#: what AWQ/GPTQ/bitsandbytes/llama.cpp and the engines' FP8 paths leave unquantized.
DEFAULT_KEEP = frozenset({"embedding", "lm_head", "norm", "bias", "router", "other"})
MAX_SIZE = 10**12


def _positive(name: str, value: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}: expected a whole number, got {value!r}; {fix}")
    if value < 1:
        raise InputError(f"{name}: must be at least 1, got {value}; {fix}")
    if value > MAX_SIZE:
        raise InputError(f"{name}: {value} is absurdly large; {fix}")


@dataclass(frozen=True)
class InferenceWorkload:
    batch: int = 1
    """Concurrent sequences."""
    context_tokens: int = 4096
    """Tokens per sequence held in the KV cache: prompt + generated."""
    prefill_chunk_tokens: int = 8192
    """Tokens processed in one prefill forward pass (chunked prefill budget; vLLM's
    ``max_num_batched_tokens``). Sets the activation peak."""

    def __post_init__(self) -> None:
        _positive("batch", self.batch, "pass --batch 1 or more")
        _positive("context", self.context_tokens, "pass --context 1 or more tokens")
        _positive("prefill chunk", self.prefill_chunk_tokens, "pass --prefill-chunk 1 or more tokens")


@dataclass(frozen=True)
class ParallelPlan:
    tp: int = 1
    """Tensor-parallel degree: attention heads, MLP columns and the vocabulary are split."""
    pp: int = 1
    """Pipeline-parallel stages: layers are split into contiguous stages."""
    ep: int = 1
    """Expert-parallel degree for MoE layers: 1 (experts' matrices split over tp) or tp (whole
    experts spread over the tp group, vLLM's ``--enable-expert-parallel``)."""
    attention_dp: bool = False
    """Attention (and dense layers) data-parallel over the tp group, experts expert-parallel:
    how engines run large MoE models (SGLang ``--enable-dp-attention``). Needs ep = tp."""

    def __post_init__(self) -> None:
        _positive("tp", self.tp, "pass --tp 1 or more")
        _positive("pp", self.pp, "pass --pp 1 or more")
        _positive("ep", self.ep, "pass --ep 1 or more")
        if self.attention_dp and self.ep != self.tp:
            raise PlanError(f"--attention-dp: the experts must be spread over the tp group; add --ep {self.tp}")
        if self.ep not in (1, self.tp):
            raise PlanError(f"ep={self.ep}: expert parallelism spreads the experts over the tp group; "
                            f"use --ep 1 or --ep {self.tp} (= --tp)")

    @property
    def devices(self) -> int:
        return self.tp * self.pp

    def problem(self, spec: ModelSpec) -> str | None:
        """Why this plan cannot shard the model, or None if it can."""
        a = spec.attention
        if a.num_heads % self.tp:
            return (f"tp={self.tp} does not divide the {a.num_heads} attention heads of {spec.name}; "
                    f"use a tp that divides {a.num_heads}")
        if a.mla is None:
            k = a.num_kv_heads
            if k % self.tp and self.tp % k:
                return (f"tp={self.tp} neither divides nor is a multiple of the {k} KV heads of {spec.name}; "
                        f"use a divisor or multiple of {k}")
        if self.ep > 1 and not spec.is_moe:
            return f"ep={self.ep}: {spec.name} has no MoE layers; drop --ep"
        if self.ep > 1 and spec.moe is not None and spec.moe.num_experts % self.ep:
            return (f"ep={self.ep} does not divide the {spec.moe.num_experts} experts of {spec.name}; "
                    f"use an ep that divides {spec.moe.num_experts}")
        if self.pp > spec.num_layers:
            return f"pp={self.pp} exceeds the {spec.num_layers} layers of {spec.name}; use pp <= {spec.num_layers}"
        return None

    def check(self, spec: ModelSpec) -> None:
        msg = self.problem(spec)
        if msg:
            raise PlanError(msg)


@dataclass(frozen=True)
class Precision:
    weights: NumberFormat
    """Format of the linear (and expert) weights."""
    unquantized: NumberFormat
    """Format of the tensors in ``keep`` (embeddings, norms, ...)."""
    kv: NumberFormat
    activations: NumberFormat
    keep: frozenset[str] = field(default=DEFAULT_KEEP)
    """Tensor roles stored in ``unquantized`` rather than ``weights``."""
    origin: str = ""
    """Why the weight format is what it is (user option, the config's quantization_config, its dtype)."""

    @staticmethod
    def build(spec: ModelSpec, weights: str | None = None, kv: str | None = None, activations: str | None = None,
              unquantized: str | None = None, keep: frozenset[str] | None = None) -> "Precision":
        """Defaults: weights in the checkpoint's dtype (bf16 if none), KV and activations in the
        unquantized float format; a quantized weight format keeps ``DEFAULT_KEEP`` unquantized."""
        native = format_from_torch_dtype(spec.dtype)
        if native is None or not native.is_float or native.name == "fp8":
            native = get_format("bf16")
        origin = "--weights"
        if weights:
            w = get_format(weights, "--weights")
        elif spec.quant_problem:
            # never a bf16 guess for a checkpoint that says it is quantized in a way we cannot read
            raise InputError(spec.quant_problem, field="quantization_config")
        elif spec.quant_method:
            w = get_format(spec.quant_method, "quantization_config")
            origin = f"the config's quantization_config ({spec.quant_method})"
            if keep is None and spec.quant_unconverted_roles is not None:
                keep = frozenset(spec.quant_unconverted_roles)
        else:
            w = native
            origin = f"the config's dtype ({spec.dtype})" if spec.dtype else "default bf16 (config names no dtype)"
        if unquantized:
            u = get_format(unquantized, "--unquantized")
            if not u.is_float:
                raise InputError(f"--unquantized: {u.name} is not a float format; use fp32, bf16, fp16 or fp8")
        else:
            u = w if w.name in ("fp32", "bf16", "fp16") else native
        k = get_format(kv, "--kv-dtype") if kv else u
        if not kv_capable(k):
            raise InputError(f"--kv-dtype: {k.name} is a weight-only format; the KV cache needs a float, fp8 or "
                             "int8 format (bf16, fp16, fp8, int8)", field="--kv-dtype")
        act = get_format(activations, "--act-dtype") if activations else u
        if not act.is_float:
            raise InputError(f"--act-dtype: {act.name} is not a compute format; use fp32, bf16, fp16 or fp8")
        return Precision(weights=w, unquantized=u, kv=k, activations=act,
                         keep=DEFAULT_KEEP if keep is None else frozenset(keep), origin=origin)

    def format_for(self, role: str) -> NumberFormat:
        return self.unquantized if role in self.keep else self.weights
