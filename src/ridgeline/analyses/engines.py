"""Serving-engine profiles: how vLLM, SGLang and TensorRT-LLM carve one device's memory.

Each profile reimplements the engine's own allocation rule, read from its source for a named
version (cited per function; docs/engines.md has the walk-through). Every constant is a named
:class:`~ridgeline.factors.Factor`. ``ideal`` is ridgeline's bare ledger (no engine).

Quantities are named as the engines log them:

- vLLM: "Model loading took X GiB" (``weights_bytes``), "Available KV cache memory: X GiB"
  (``available_kv_cache_bytes``), "GPU KV cache size: N tokens" (``max_kv_tokens``),
  "Maximum concurrency for T tokens per request: Cx" (``max_concurrency``).
- SGLang: "KV Cache is allocated. #tokens: N" (``max_kv_tokens``, its ``max_total_num_tokens``).
- TensorRT-LLM: "Allocated X GiB for max tokens in paged KV cache (N)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ridgeline.errors import InputError
from ridgeline.factors import (SGLANG_PAGE_SIZE, SGLANG_RESERVED_BASE, SGLANG_RESERVED_FLOOR_BIG,
                               SGLANG_RESERVED_PER_CHUNK_TOKEN, SGLANG_RESERVED_PER_DEVICE8,
                               SGLANG_RESERVED_PER_GRAPH_BS, TRTLLM_FREE_FRACTION, TRTLLM_MAX_NUM_TOKENS,
                               TRTLLM_TOKENS_PER_BLOCK, VLLM_BLOCK_SIZE, VLLM_GPU_MEMORY_UTILIZATION,
                               VLLM_MLA_BLOCK_SIZE, VLLM_MXFP4_PAD_HIDDEN, VLLM_MXFP4_PAD_INTERMEDIATE, VLLM_NON_TORCH_PP, VLLM_NON_TORCH_TP, VLLM_NON_TORCH_TP1,
                               VLLM_NON_TORCH_TP1_V018, VLLM_NON_TORCH_TP_V018, VLLM_SAMPLER_BYTES_PER_LOGIT,
                               VLLM_SAMPLER_BYTES_PER_LOGIT_V0, VLLM_SAMPLER_BYTES_PER_LOGIT_V08,
                               VLLM_SAMPLER_BYTES_PER_LOGIT_V017, Factor)
from ridgeline.model.spec import ModelSpec
from ridgeline.units import GiB, MiB

ENGINES = ("ideal", "vllm", "sglang", "trtllm")
#: The vLLM version whose rule applies when none is given (the newest one checked against logs).
VLLM_DEFAULT_VERSION = "0.19"


def parse_version(text: str | None, field: str = "--engine-version") -> tuple[int, ...] | None:
    """"0.10.1.1", "v0.19.0", "0.6.4.dev9+g5d264f4a" -> (0, 10, 1, 1), (0, 19, 0), (0, 6, 4)."""
    if text is None:
        return None
    import re  # noqa: PLC0415

    m = re.match(r"^v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?(?:\.(\d{1,4}))?", str(text).strip())
    if not m:
        raise InputError(f"{field}: expected a version such as 0.19 or 0.10.1, got {text!r}")
    return tuple(int(g) for g in m.groups() if g is not None)

#: vLLM: EngineArgs.get_batch_defaults (vllm/engine/arg_utils.py, v0.9-v0.11): devices with at
#: least 70 GiB that are not an A100 get the larger `vllm serve` defaults.
VLLM_BIG_DEVICE_BYTES = 70 * GiB
VLLM_SERVE_DEFAULTS = {"big": (8192, 1024), "small": (2048, 256)}
"""(max_num_batched_tokens, max_num_seqs) for `vllm serve` (UsageContext.OPENAI_API_SERVER)."""

#: SGLang: ServerArgs._handle_gpu_memory_settings (python/sglang/srt/server_args.py, v0.5.x):
#: (upper bound of GPU memory in MiB, chunked_prefill_size, cuda_graph_max_bs for tp < 4, for tp >= 4).
SGLANG_GPU_TABLE = (
    (20 * 1024, 2048, 8, 8),
    (35 * 1024, 2048, 24, 80),
    (60 * 1024, 4096, 32, 160),
    (90 * 1024, 8192, 256, 512),
    (160 * 1024, 8192, 256, 512),
    (math.inf, 16384, 512, 512),
)


@dataclass(frozen=True)
class EngineSettings:
    """The engine and the knobs a user sets on it; None means the engine's own default."""

    engine: str = "ideal"
    """ideal | vllm | sglang | trtllm."""
    memory_fraction: float | None = None
    """vLLM gpu_memory_utilization, SGLang mem_fraction_static, TensorRT-LLM kv_cache_free_gpu_mem_fraction."""
    max_model_len: int | None = None
    """Longest request in tokens (vLLM --max-model-len; SGLang --context-length)."""
    max_num_batched_tokens: int | None = None
    """Tokens per forward pass (vLLM); SGLang chunked_prefill_size; TensorRT-LLM max_num_tokens."""
    max_num_seqs: int | None = None
    """Concurrent sequences the scheduler admits (vLLM max_num_seqs)."""
    block_size: int | None = None
    """Tokens per KV block (vLLM block_size, SGLang page_size, TensorRT-LLM tokens_per_block)."""
    version: str | None = None
    """Engine version whose rule applies (vLLM: its profiler changed at 0.17 and 0.18); None: the newest."""

    def __post_init__(self) -> None:
        parse_version(self.version)
        if self.engine not in ENGINES:
            raise InputError(f"--engine: unknown {self.engine!r}; use one of {', '.join(ENGINES)}")
        f = self.memory_fraction
        if f is not None and not (isinstance(f, (int, float)) and 0 < f <= 1):
            raise InputError(f"--memory-fraction: must be in (0, 1], got {f!r}; e.g. 0.9")
        for name, v in (("--max-model-len", self.max_model_len), ("--max-num-batched-tokens",
                        self.max_num_batched_tokens), ("--max-num-seqs", self.max_num_seqs),
                        ("--block-size", self.block_size)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10**9):
                raise InputError(f"{name}: expected a whole number from 1 to 10^9, got {v!r}")


@dataclass(frozen=True)
class StageShape:
    """What an engine needs to know about one pipeline stage, on one of its devices."""

    weights_bytes: float
    full_layers: int
    sliding_layers: int
    last: bool
    """The last stage computes logits (and runs the sampler)."""
    expert_bytes: float = 0.0
    """Of weights_bytes, the routed experts' bytes."""
    window: int | None = None
    """Tokens a windowed (sliding or chunked) layer keeps at most; None without such layers."""
    state_seq_bytes: float = 0.0
    """Fixed state one request keeps in the stage's Mamba / linear-attention layers on one device."""


@dataclass(frozen=True)
class EngineAllocation:
    """One engine's memory plan for one device (the tightest pipeline stage). SI units."""

    engine: str
    rule: str
    """Which engine version's rule, in one line."""
    memory_fraction: float
    memory_fraction_origin: str
    device_total_bytes: float
    """The device total the engine multiplies (torch's view of the device)."""
    budget_bytes: float
    """What the engine may use: fraction x total (vLLM, SGLang) or of the free memory (TensorRT-LLM)."""
    weights_bytes: float
    """Per device ("Model loading took")."""
    activation_peak_bytes: float
    """Activation peak the engine profiles or reserves against."""
    other_bytes: float
    """Non-torch memory (vLLM) or runtime memory before the engine measures (SGLang, TensorRT-LLM)."""
    available_kv_cache_bytes: float
    """Memory left for KV cache ("Available KV cache memory")."""
    kv_pool_bytes: float
    """KV cache actually allocated per device (whole blocks)."""
    block_size: int
    num_blocks: int
    max_kv_tokens: int
    """The token capacity the engine logs ("GPU KV cache size", "#tokens")."""
    max_model_len: int
    max_num_batched_tokens: int
    max_num_seqs: int
    max_concurrency: float
    """Requests of max_model_len tokens the pool holds at once ("Maximum concurrency")."""
    blocks_per_request: int
    """Blocks one request of max_model_len tokens needs (all KV groups)."""
    full_groups: int
    """KV groups of full-attention layers (1 unless vLLM's hybrid allocator splits them)."""
    sliding_groups: int
    """KV groups of sliding layers (vLLM's hybrid allocator; 0 elsewhere)."""
    sliding_window: int | None
    factors: tuple[Factor, ...]
    notes: tuple[str, ...]
    state_blocks_per_request: int = 0
    """Blocks of the pool one request's fixed state (Mamba / linear attention) takes (0 without)."""

    def blocks_for_request(self, tokens: int) -> int:
        """Blocks one request of ``tokens`` tokens holds at its peak (all KV groups and its state)."""
        n = self.full_groups * _cdiv(tokens, self.block_size) + self.state_blocks_per_request
        if self.sliding_groups:
            w = min((self.sliding_window or tokens) - 1 + self.max_num_batched_tokens, tokens)
            n += self.sliding_groups * (_cdiv(w, self.block_size) + 1)
        return n

    def holds(self, batch: int, tokens: int) -> bool:
        """The engine starts (one max_model_len request fits) and its pool holds ``batch``
        requests of ``tokens`` tokens (no longer than max_model_len)."""
        return (self.num_blocks > 0 and self.max_concurrency >= 1 and tokens <= self.max_model_len
                and batch * self.blocks_for_request(tokens) <= self.num_blocks)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def rotary_cache_bytes(spec: ModelSpec, element_bytes: float) -> float:
    """vLLM's rotary embedding keeps a cos/sin cache of max_position_embeddings x rotary_dim in
    the model dtype (vllm/model_executor/layers/rotary_embedding.py ``_compute_cos_sin_cache``);
    it is allocated with the weights and counted in "Model loading took"."""
    if spec.learned_positions or not spec.max_position_embeddings:
        return 0.0
    a = spec.attention
    rot = a.mla.qk_rope_head_dim if a.mla is not None else a.head_dim
    return spec.max_position_embeddings * rot * element_bytes


def mxfp4_expert_padding(spec: ModelSpec, tp: int) -> float:
    """Factor by which vLLM's MXFP4 MoE layout pads the experts' stored bytes (see the two factors)."""
    if spec.moe is None:
        return 1.0
    i = spec.moe.expert_intermediate_size / tp
    h = spec.hidden_size
    pi, ph = int(VLLM_MXFP4_PAD_INTERMEDIATE.value), int(VLLM_MXFP4_PAD_HIDDEN.value)
    return (_cdiv(math.ceil(i), pi) * pi * _cdiv(h, ph) * ph) / (i * h)


def allocate(settings: EngineSettings, spec: ModelSpec, stages: tuple[StageShape, ...], kv_layer_token_bytes: float,
             forward_activation: "callable", device_total_bytes: float, device_name: str, tp: int, pp: int,
             runtime_bytes: float, element_bytes: float = 2.0, expert_format: str = "") -> EngineAllocation:
    """Apply ``settings.engine``'s rule. ``forward_activation(tokens)`` gives the forward-pass peak
    on one device; ``kv_layer_token_bytes`` the KV one token puts in one layer on one device."""
    if settings.engine == "vllm":
        rc = rotary_cache_bytes(spec, element_bytes)
        pad = mxfp4_expert_padding(spec, tp) if expert_format == "mxfp4" else 1.0
        stages = tuple(StageShape(s.weights_bytes + rc + s.expert_bytes * (pad - 1), s.full_layers, s.sliding_layers,
                                  s.last, s.expert_bytes * pad, s.window, s.state_seq_bytes) for s in stages)
    fn = {"vllm": _vllm, "sglang": _sglang, "trtllm": _trtllm}[settings.engine]
    a = fn(settings, spec, stages, kv_layer_token_bytes, forward_activation, device_total_bytes, device_name,
           tp, pp, runtime_bytes)
    return _with_state(a, stages)


def _with_state(a: EngineAllocation, stages: tuple[StageShape, ...]) -> EngineAllocation:
    """Charge each request's fixed state (Mamba / linear-attention layers) to the KV pool, in whole blocks.

    A simplification, said in the notes: vLLM's hybrid allocator gives the state layers their own
    page-aligned KV groups (one page per request and layer group), SGLang and TensorRT-LLM keep a
    separate state pool sized for their running requests; all of them take the state out of the
    memory the KV cache would otherwise get. Here a request costs ceil(state / block bytes) blocks
    of the pool beside its KV blocks, on the stage with the most state per block.
    """
    if a.num_blocks <= 0 or not any(s.state_seq_bytes for s in stages):
        return a
    block_bytes = a.kv_pool_bytes / a.num_blocks
    n = max(_cdiv(math.ceil(s.state_seq_bytes), math.ceil(block_bytes)) for s in stages) if block_bytes > 0 else 0
    if not n:
        return a
    per_req = a.blocks_per_request + n
    note = (f"{a.engine}: each request's Mamba / linear-attention state ({max(s.state_seq_bytes for s in stages):,.0f} "
            f"bytes per device) is charged as {n} block(s) of the KV pool (engines keep it in their own state slots: "
            "a simplification)")
    return replace(a, state_blocks_per_request=n, blocks_per_request=per_req,
                   max_concurrency=a.num_blocks / per_req, notes=a.notes + (note,))


def _groups(full: int, sliding: int) -> tuple[int, int, int]:
    """vLLM's hybrid grouping (kv_cache_utils.py _get_kv_cache_config_uniform_page_size):
    group size = the smaller layer count; each type splits into groups of that size (the last padded).
    Returns (group_size, full groups, sliding groups)."""
    if full and sliding:
        g = min(full, sliding)
        return g, _cdiv(full, g), _cdiv(sliding, g)
    return full + sliding, 1, 0


def _vllm(st: EngineSettings, spec, stages, p, fwd, total, name, tp, pp, runtime) -> EngineAllocation:
    """vLLM V1 (v0.9-v0.11). Sources, all in vllm-project/vllm:

    - vllm/v1/worker/gpu_worker.py ``determine_available_memory``: available KV memory =
      gpu_memory_utilization x total - (weights + torch activation peak of a profiling run at
      max_num_batched_tokens + non-torch memory growth); CUDA graphs are captured after the KV
      cache and are outside this budget.
    - vllm/v1/worker/gpu_model_runner.py ``profile_run`` / ``_dummy_sampler_run``: the profiled
      peak includes a sampler warm-up on min(max_num_seqs, max_num_batched_tokens) rows of logits.
    - vllm/v1/core/kv_cache_utils.py ``get_num_blocks``, ``_get_kv_cache_config_uniform_type`` /
      ``_uniform_page_size`` (hybrid allocator), ``get_max_concurrency_for_kv_cache_config``;
      vllm/v1/kv_cache_interface.py ``SlidingWindowSpec.max_memory_usage_bytes``.
    """
    factors: list[Factor] = []
    notes: list[str] = []
    f = st.memory_fraction if st.memory_fraction is not None else VLLM_GPU_MEMORY_UTILIZATION.value
    origin = "--memory-fraction" if st.memory_fraction is not None else "vLLM default"
    if st.memory_fraction is None:
        factors.append(VLLM_GPU_MEMORY_UTILIZATION)
    ver = parse_version(st.version or VLLM_DEFAULT_VERSION)
    mml = st.max_model_len or spec.max_position_embeddings or 4096
    if ver < (0, 8):
        # V0 (vllm/config.py SchedulerConfig): without chunked prefill a forward pass takes a whole
        # prompt, max(max_model_len, 2048); chunked prefill turns on by default above 32k tokens (512).
        d_mnbt, d_seqs = (max(mml, 2048), 256) if mml <= 32768 else (512, 256)
    else:
        big = total >= VLLM_BIG_DEVICE_BYTES and "a100" not in name.lower()
        d_mnbt, d_seqs = VLLM_SERVE_DEFAULTS["big" if big else "small"]
    mnbt = st.max_num_batched_tokens or d_mnbt
    seqs = st.max_num_seqs or min(d_seqs, mnbt)
    bs = st.block_size or int((VLLM_MLA_BLOCK_SIZE if spec.attention.mla is not None else VLLM_BLOCK_SIZE).value)
    if st.block_size is None:
        factors.append(VLLM_MLA_BLOCK_SIZE if spec.attention.mla is not None else VLLM_BLOCK_SIZE)
    new_nt = ver >= (0, 18)
    if tp > 1:
        non_torch = VLLM_NON_TORCH_TP_V018 if new_nt else VLLM_NON_TORCH_TP
    elif pp > 1:
        non_torch = VLLM_NON_TORCH_PP
    else:
        non_torch = VLLM_NON_TORCH_TP1_V018 if new_nt else VLLM_NON_TORCH_TP1
    per_logit = (VLLM_SAMPLER_BYTES_PER_LOGIT_V017 if ver >= (0, 17) else VLLM_SAMPLER_BYTES_PER_LOGIT
                 if ver >= (0, 11) else VLLM_SAMPLER_BYTES_PER_LOGIT_V08 if ver >= (0, 8)
                 else VLLM_SAMPLER_BYTES_PER_LOGIT_V0)
    factors += [non_torch, per_logit]
    rows = min(seqs, mnbt)
    sampler = rows * spec.vocab_size * per_logit.value
    forward = fwd(mnbt)
    budget = f * total
    page = bs * p
    best = None
    for s in stages:
        peak = max(forward, sampler if s.last else 0.0)
        avail = budget - s.weights_bytes - peak - non_torch.value
        g, gf, gs = _groups(s.full_layers, s.sliding_layers)
        blocks = max(int(avail // page // g), 0) if page > 0 and g > 0 else 0
        if best is None or blocks < best[0]:
            best = (blocks, s, peak, avail, g, gf, gs)
    blocks, s, peak, avail, g, gf, gs = best
    groups = gf + gs
    tokens = blocks // groups * bs
    per_req = gf * _cdiv(mml, bs)
    if gs:
        W = s.window or mml
        per_req += gs * (_cdiv(min(W - 1 + mnbt, mml), bs) + 1)
        notes.append(f"vLLM hybrid allocator: {s.full_layers} full and {s.sliding_layers} sliding layers in "
                     f"{groups} groups of {g}; sliding groups keep min(W - 1 + max_num_batched_tokens, "
                     "max_model_len) tokens per request")
    conc = blocks / per_req if per_req else 0.0
    notes.append(f"vLLM {'.'.join(map(str, ver))} rule; profile: max_num_batched_tokens {mnbt}, max_num_seqs {seqs} "
                 f"({'given' if st.max_num_batched_tokens else 'vllm serve default for this device'}); "
                 "CUDA-graph memory is captured after the KV cache and is not in this budget")
    return EngineAllocation(
        engine="vllm", rule=f"vLLM {'.'.join(map(str, ver))}: utilization x total - weights - profiled peak - non-torch",
        memory_fraction=f, memory_fraction_origin=origin, device_total_bytes=total, budget_bytes=budget,
        weights_bytes=s.weights_bytes, activation_peak_bytes=peak, other_bytes=non_torch.value,
        available_kv_cache_bytes=avail, kv_pool_bytes=blocks * page * g, block_size=bs, num_blocks=blocks,
        max_kv_tokens=tokens, max_model_len=mml, max_num_batched_tokens=mnbt, max_num_seqs=seqs,
        max_concurrency=conc, blocks_per_request=per_req, full_groups=gf, sliding_groups=gs,
        sliding_window=s.window if gs else None, factors=tuple(factors), notes=tuple(notes))


def sglang_defaults(total_bytes: float, tp: int, pp: int) -> tuple[float, int, int]:
    """SGLang's default (mem_fraction_static, chunked_prefill_size, cuda_graph_max_bs) for a device.

    python/sglang/srt/server_args.py ``_handle_gpu_memory_settings`` (v0.5.x): the reserve (MiB) is
    512 + 1.5 x max(chunk, 2048) + 2 x cuda_graph_max_bs + tp x pp / 8 x 1024, at least 10 GiB on
    devices over 60 GiB; mem_fraction_static = round((gpu_mem - reserve) / gpu_mem, 3).
    """
    mem = total_bytes / MiB
    _, chunk, bs_small, bs_big = next(row for row in SGLANG_GPU_TABLE if mem < row[0])
    cg = bs_small if tp < 4 else bs_big
    reserve = (SGLANG_RESERVED_BASE.value + SGLANG_RESERVED_PER_CHUNK_TOKEN.value * max(chunk, 2048)
               + SGLANG_RESERVED_PER_GRAPH_BS.value * cg + SGLANG_RESERVED_PER_DEVICE8.value * tp * pp / 8) / MiB
    if mem > 60 * 1024:
        reserve = max(reserve, SGLANG_RESERVED_FLOOR_BIG.value / MiB)
    return round((mem - reserve) / mem, 3), chunk, cg


def _sglang(st: EngineSettings, spec, stages, p, fwd, total, name, tp, pp, runtime) -> EngineAllocation:
    """SGLang (v0.4-v0.5). python/sglang/srt/model_executor/model_runner.py ``profile_max_num_token``:
    max_total_num_tokens = (free memory after loading weights - T x (1 - mem_fraction_static)) / cell,
    where T is the memory free when the runner started and cell the KV bytes of one token over the
    rank's layers; rounded down to whole pages.
    """
    factors: list[Factor] = [SGLANG_PAGE_SIZE] if st.block_size is None else []
    notes: list[str] = []
    f0, chunk, _ = sglang_defaults(total, tp, pp)
    if st.memory_fraction is None:
        factors += [SGLANG_RESERVED_BASE, SGLANG_RESERVED_PER_CHUNK_TOKEN, SGLANG_RESERVED_PER_GRAPH_BS,
                    SGLANG_RESERVED_PER_DEVICE8, SGLANG_RESERVED_FLOOR_BIG]
    f = st.memory_fraction if st.memory_fraction is not None else f0
    origin = "--memory-fraction" if st.memory_fraction is not None else "SGLang default for this device and tp"
    page = st.block_size or int(SGLANG_PAGE_SIZE.value)
    mml = st.max_model_len or spec.max_position_embeddings or 4096
    start_free = total - runtime
    budget = f * start_free
    best = None
    for s in stages:
        avail = budget - s.weights_bytes
        cell = p * (s.full_layers + s.sliding_layers)
        tokens = max(int(avail // cell) // page * page, 0) if cell > 0 else 0
        if best is None or tokens < best[0]:
            best = (tokens, s, avail, cell)
    tokens, s, avail, cell = best
    if s.sliding_layers:
        notes.append("SGLang: sliding layers sized as full layers (its hybrid SWA pool is not modelled)")
    notes.append(f"SGLang: memory free at start = device total - runtime overhead; chunked_prefill_size "
                 f"{st.max_num_batched_tokens or chunk}")
    per_req = _cdiv(mml, page)
    return EngineAllocation(
        engine="sglang", rule="SGLang (v0.4-v0.5): mem_fraction_static x free-at-start - weights",
        memory_fraction=f, memory_fraction_origin=origin, device_total_bytes=total, budget_bytes=budget,
        weights_bytes=s.weights_bytes, activation_peak_bytes=0.0, other_bytes=runtime,
        available_kv_cache_bytes=avail, kv_pool_bytes=tokens * cell, block_size=page, num_blocks=tokens // page,
        max_kv_tokens=tokens, max_model_len=mml, max_num_batched_tokens=st.max_num_batched_tokens or chunk,
        max_num_seqs=st.max_num_seqs or 0, max_concurrency=tokens / mml, blocks_per_request=per_req,
        full_groups=1, sliding_groups=0, sliding_window=None, factors=tuple(factors), notes=tuple(notes))


def _trtllm(st: EngineSettings, spec, stages, p, fwd, total, name, tp, pp, runtime) -> EngineAllocation:
    """TensorRT-LLM (v0.12-v1.0). tensorrt_llm/llmapi/llm_args.py ``KvCacheConfig``: the KV cache
    takes free_gpu_memory_fraction (default 0.9) of the memory free after the weights, the runtime
    and the activation buffers for max_num_tokens; whole blocks of tokens_per_block tokens.
    """
    factors: list[Factor] = []
    f = st.memory_fraction if st.memory_fraction is not None else TRTLLM_FREE_FRACTION.value
    if st.memory_fraction is None:
        factors.append(TRTLLM_FREE_FRACTION)
    origin = "--memory-fraction" if st.memory_fraction is not None else "TensorRT-LLM default"
    bs = st.block_size or int(TRTLLM_TOKENS_PER_BLOCK.value)
    if st.block_size is None:
        factors.append(TRTLLM_TOKENS_PER_BLOCK)
    mnt = st.max_num_batched_tokens or int(TRTLLM_MAX_NUM_TOKENS.value)
    if st.max_num_batched_tokens is None:
        factors.append(TRTLLM_MAX_NUM_TOKENS)
    mml = st.max_model_len or spec.max_position_embeddings or 4096
    act = fwd(mnt)
    best = None
    for s in stages:
        free = total - runtime - s.weights_bytes - act
        avail = f * free
        layers = s.full_layers + s.sliding_layers
        blk = bs * p * layers
        blocks = max(int(avail // blk), 0) if blk > 0 else 0
        if best is None or blocks < best[0]:
            best = (blocks, s, avail, blk, free)
    blocks, s, avail, blk, free = best
    notes = ["TensorRT-LLM: sliding layers sized as full layers (max_attention_window not modelled)"] \
        if s.sliding_layers else []
    per_req = _cdiv(mml, bs)
    return EngineAllocation(
        engine="trtllm", rule="TensorRT-LLM (v0.12-v1.0): fraction x (total - runtime - weights - buffers)",
        memory_fraction=f, memory_fraction_origin=origin, device_total_bytes=total, budget_bytes=free,
        weights_bytes=s.weights_bytes, activation_peak_bytes=act, other_bytes=runtime,
        available_kv_cache_bytes=avail, kv_pool_bytes=blocks * blk, block_size=bs, num_blocks=blocks,
        max_kv_tokens=blocks * bs, max_model_len=mml, max_num_batched_tokens=mnt, max_num_seqs=st.max_num_seqs or 0,
        max_concurrency=blocks / per_req if per_req else 0.0, blocks_per_request=per_req,
        full_groups=1, sliding_groups=0, sliding_window=None, factors=tuple(factors), notes=tuple(notes))
