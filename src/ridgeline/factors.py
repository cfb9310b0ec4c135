"""Named overhead factors, each with its value, unit and source. No unexplained constants.

A user overrides any of them (CLI ``--runtime-overhead``, ``--kv-fragmentation``); the
result always lists the factors it used.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.units import GiB


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
