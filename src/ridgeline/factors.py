"""Named overhead factors, each with its value, unit and source. No unexplained constants.

A user overrides any of them (CLI ``--runtime-overhead``, ``--kv-fragmentation``); the
result always lists the factors it used.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.units import GiB, MiB


@dataclass(frozen=True)
class Factor:
    name: str
    value: float
    unit: str
    source: str

    def with_value(self, value: float, source: str = "user override") -> "Factor":
        return Factor(self.name, value, self.unit, source)

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "unit": self.unit, "source": self.source}


RUNTIME_OVERHEAD = Factor(
    "overhead.runtime", 0.75 * GiB, "bytes per device",
    "CUDA context + framework/library workspaces reserved before any tensor: ~700+ MB per GPU "
    "(PyTorch forums, discuss.pytorch.org/t/high-gpu-memory-overhead/81330 and /73021: 723 MiB seen); "
    "rounded up to 0.75 GiB",
)
KV_FRAGMENTATION = Factor(
    "overhead.kv_fragmentation", 0.04, "fraction of KV cache bytes",
    "PagedAttention wastes under 4% of KV memory (Kwon et al., SOSP 2023, arXiv 2309.06180, sec. 4.1/6.1)",
)
PREFILL_CHUNK = Factor(
    "workload.prefill_chunk_tokens", 8192, "tokens",
    "chunked-prefill token budget per forward pass; 8192 is a common vLLM max_num_batched_tokens "
    "setting (vLLM optimization docs); unverified as a universal default",
)
LOGITS_BITS = Factor(
    "activations.logits_bits", 32, "bits per logit",
    "logits are up-cast to fp32 before sampling (transformers and vLLM samplers)",
)

# --- serving-engine rules (see ridgeline.analyses.engines and docs/engines.md) -------------------
# vLLM: read from vllm-project/vllm (V1 engine, v0.9-v0.11 era; commits 35d5cda, bbf906a, 4e17906).
VLLM_GPU_MEMORY_UTILIZATION = Factor(
    "vllm.gpu_memory_utilization", 0.9, "fraction of total device memory",
    "vllm/config/cache.py CacheConfig.gpu_memory_utilization default 0.9; the budget is this fraction of "
    "torch.cuda.mem_get_info() total (vllm/v1/worker/gpu_worker.py Worker.init_device, requested_memory)",
)
VLLM_BLOCK_SIZE = Factor(
    "vllm.block_size", 16, "tokens per KV block",
    "vllm/config/cache.py CacheConfig.block_size: 16 on CUDA when unset",
)
VLLM_MLA_BLOCK_SIZE = Factor(
    "vllm.mla_block_size", 64, "tokens per KV block",
    "vLLM forces block_size 64 for MLA models on the FlashMLA backend (vllm/platforms/cuda.py check_and_update_config)",
)
VLLM_SAMPLER_BYTES_PER_LOGIT_V0 = Factor(
    "vllm.sampler_bytes_per_logit", 4, "B per logit of the sampler warm-up",
    "vLLM V0 (< 0.8): the profiling run computes fp32 logits for the last token of each of max_num_seqs "
    "sequences (vllm/worker/model_runner.py profile_run); 4 bytes per logit, derived (not fitted)",
)
VLLM_SAMPLER_BYTES_PER_LOGIT_V08 = Factor(
    "vllm.sampler_bytes_per_logit", 10.4, "B per logit of the sampler warm-up",
    "vLLM 0.8-0.10 (V1): _dummy_sampler_run in profile_run, FlashInfer top-k/top-p sampling when installed "
    "(no sort). Value fitted on one v0.10.1.1 A100 log (dennislee22/vLLM-benchmarking, Qwen2-7B tp1 util 0.5: "
    "0.38 GiB peak at 256 seqs); that record is excluded from the accuracy figures",
)
VLLM_SAMPLER_BYTES_PER_LOGIT = Factor(
    "vllm.sampler_bytes_per_logit", 38.7, "B per logit of the sampler warm-up",
    "vLLM 0.11-0.16: vllm/v1/worker/gpu_model_runner.py _dummy_sampler_run warms the sampler on min(max_num_seqs, "
    "max_num_batched_tokens) rows x vocab with top_k = V-1, top_p = 0.9 (the sort path: bf16 logits, fp32 copy, "
    "sorted values + int64 indices, softmax, cumsum, masks, scatter, probs, noise: about 39 B per logit). Value "
    "fitted on two llm-d-benchmark v0.11 H100 logs (gpt-oss-20b 7.38 GiB, Qwen3-32B 5.64 GiB peak at 1024 seqs; "
    "config_explorer/empirical-vllm-memory-results.md); those records are excluded from the accuracy figures",
)
VLLM_SAMPLER_BYTES_PER_LOGIT_V017 = Factor(
    "vllm.sampler_bytes_per_logit", 15.2, "B per logit of the sampler warm-up",
    "vLLM >= 0.17: the warm-up's peak fell from ~39 to ~15 B per logit (Qwen3-14B logs: 5.64 GiB at v0.15/v0.16, "
    "2.23 GiB at v0.17/v0.18). Value fitted on two llm-d-planner v0.19.0 H100 logs (Llama-3.1-8B 1.89 GiB, "
    "Gemma-2-9B 3.65 GiB at 1024 seqs); those records are excluded from the accuracy figures",
)
VLLM_NON_TORCH_TP1 = Factor(
    "vllm.non_torch_bytes", 0.13 * GiB, "bytes per device",
    "vLLM < 0.18, tp x pp = 1: non-torch memory growth during load + profiling (cuBLAS workspaces) as vLLM's "
    "profiler logs it: 0.13 GiB (llm-d-benchmark v0.11 H100 logs; Qwen3-14B logs v0.15-v0.17); fitted, not derived",
)
VLLM_NON_TORCH_TP1_V018 = Factor(
    "vllm.non_torch_bytes", 0.25 * GiB, "bytes per device",
    "vLLM >= 0.18, tp x pp = 1: 0.25 GiB non-torch growth (llm-d-planner v0.19.0 Llama-3.1-8B tp1 log; Qwen3-14B "
    "v0.18 log); fitted, not derived",
)
VLLM_NON_TORCH_TP = Factor(
    "vllm.non_torch_bytes", 0.55 * GiB, "bytes per device",
    "vLLM < 0.18, tp > 1: non-torch growth with NCCL + custom all-reduce buffers: 0.54-0.55 GiB at tp=2 "
    "(llm-d-benchmark v0.11 H100 logs); fitted, not derived",
)
VLLM_NON_TORCH_TP_V018 = Factor(
    "vllm.non_torch_bytes", 2.07 * GiB, "bytes per device",
    "vLLM >= 0.18, tp > 1: 2.07 GiB non-torch growth (llm-d-planner v0.19.0 Llama-3.1-8B tp2 log); fitted, "
    "not derived; that record is excluded from the accuracy figures",
)
VLLM_NON_TORCH_PP = Factor(
    "vllm.non_torch_bytes", 0.07 * GiB, "bytes per device",
    "vLLM, pp > 1 and tp = 1: 0.07 GiB (llm-d-planner v0.19.0 Llama-3.1-8B pp2 log); fitted, not derived",
)
VLLM_MXFP4_PAD_INTERMEDIATE = Factor(
    "vllm.mxfp4_pad_intermediate", 128, "elements",
    "vllm/model_executor/layers/quantization/mxfp4.py Mxfp4MoEMethod.create_weights (triton-kernels path on "
    "Hopper/Ampere): each expert's intermediate size per tp rank is rounded up to a multiple of 128",
)
VLLM_MXFP4_PAD_HIDDEN = Factor(
    "vllm.mxfp4_pad_hidden", 256, "elements",
    "same function: the experts' hidden size is rounded up to a multiple of 256 (gpt-oss: 2880 -> 3072)",
)
SGLANG_PAGE_SIZE = Factor(
    "sglang.page_size", 1, "tokens per page",
    "python/sglang/srt/server_args.py ServerArgs.page_size default 1 (token-granular pool)",
)
SGLANG_RESERVED_BASE = Factor(
    "sglang.reserved_base_bytes", 512 * MiB, "bytes",
    "python/sglang/srt/server_args.py _handle_gpu_memory_settings: 512 MiB of constant metadata in the reserve "
    "that sets the default mem_fraction_static",
)
SGLANG_RESERVED_PER_CHUNK_TOKEN = Factor(
    "sglang.reserved_per_prefill_token_bytes", 1.5 * MiB, "bytes per chunked-prefill token",
    "same function: 1.5 MiB x max(chunked_prefill_size, 2048) for prefill activations",
)
SGLANG_RESERVED_PER_GRAPH_BS = Factor(
    "sglang.reserved_per_cuda_graph_bs_bytes", 2 * MiB, "bytes per CUDA-graph batch size",
    "same function: 2 MiB x cuda_graph_max_bs for CUDA graph buffers",
)
SGLANG_RESERVED_PER_DEVICE8 = Factor(
    "sglang.reserved_per_8_devices_bytes", 1024 * MiB, "bytes per 8 devices of tp x pp",
    "same function: tp x pp / 8 x 1024 MiB for large parallel sizes",
)
SGLANG_RESERVED_FLOOR_BIG = Factor(
    "sglang.reserved_floor_bytes", 10 * 1024 * MiB, "bytes (GPUs over 60 GiB)",
    "same function: the reserve is at least 10 GiB on GPUs with more than 60 GiB",
)
TRTLLM_FREE_FRACTION = Factor(
    "trtllm.kv_cache_free_gpu_mem_fraction", 0.9, "fraction of free memory after load",
    "tensorrt_llm/llmapi/llm_args.py KvCacheConfig.free_gpu_memory_fraction default 0.9 (of the memory free "
    "after weights and runtime buffers)",
)
TRTLLM_TOKENS_PER_BLOCK = Factor(
    "trtllm.tokens_per_block", 32, "tokens per KV block",
    "tensorrt_llm/llmapi/llm_args.py KvCacheConfig tokens_per_block default 32",
)
TRTLLM_MAX_NUM_TOKENS = Factor(
    "trtllm.max_num_tokens", 8192, "tokens per forward pass",
    "tensorrt_llm BuildConfig / LLM API max_num_tokens default 8192 (sets the runtime activation buffers)",
)
