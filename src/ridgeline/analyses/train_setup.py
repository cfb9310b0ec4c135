"""What a training run is: the parallel layout, batch, precision, optimizer, recompute policy.

Legend used by the training modules: G devices, t tensor-parallel, p pipeline stages, c context
parallel, e expert parallel (carved out of the data-parallel ranks, as Megatron-Core does),
d = G / (t p c) data-parallel replicas, b micro-batch (sequences), B global batch (sequences),
m = B / (b d) micro-batches per step (gradient accumulation), s sequence length, v virtual
stages per device (interleaved 1F1B), r LoRA rank.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.errors import InputError, PlanError

PRECISIONS = ("bf16-mixed", "bf16", "fp8", "fp32")
OPTIMIZERS = ("adamw", "adam8bit", "adafactor", "sgd")
RECOMPUTE = ("none", "selective", "full")
FSDP = (None, "full", "hybrid")
#: LoRA target sets (PEFT ``target_modules``): every linear of the decoder layers, attention
#: projections only, or q and v only (the LoRA paper's choice, Hu et al. 2021, arXiv 2106.09685 sec. 7.1).
LORA_MODULES = ("all", "attn", "qv")


def _whole(name: str, v, lo: int = 1) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{name}: expected a whole number, got {v!r}")
    if v < lo:
        raise InputError(f"{name}: must be at least {lo}, got {v}")
    if v > 10**9:
        raise InputError(f"{name}: {v} is absurdly large")


@dataclass(frozen=True)
class TrainSetup:
    gpus: int = 8
    tp: int = 1
    pp: int = 1
    cp: int = 1
    ep: int = 1
    zero: int = 0
    """ZeRO stage 0-3 (Rajbhandari et al. 2020, arXiv 1910.02054): 1 shards optimizer states,
    2 also gradients, 3 also weights, over the data-parallel (x context-parallel) ranks."""
    fsdp: str | None = None
    """PyTorch FSDP: "full" (= ZeRO-3) or "hybrid" (ZeRO-3 inside a node, replicated across nodes)."""
    seq: int = 4096
    micro_batch: int = 1
    global_batch: int | None = None
    """Sequences per optimizer step; default one micro-batch per data-parallel replica."""
    recompute: str = "none"
    optimizer: str = "adamw"
    precision: str = "bf16-mixed"
    lora_rank: int = 0
    lora_modules: str = "all"
    qlora: bool = False
    """Base weights in NF4 (QLoRA, Dettmers et al. 2023, arXiv 2305.14314); needs lora_rank > 0."""
    sequence_parallel: bool = True
    """Megatron sequence parallelism with tp > 1 (Korthikanti et al. 2022): norms and dropout split over t."""
    fused_attention: bool = True
    """FlashAttention: no s x s score matrix is stored (removes the 5as^2b term)."""
    dropout: bool = False
    """Dropout masks stored (GPT-3-era models; Llama-era models train without dropout)."""
    virtual_stages: int = 1
    """Model chunks per device for the interleaved 1F1B schedule (Narayanan et al. 2021, sec. 2.2.2)."""
    tokens: float | None = None
    """Tokens to train on, for time to train / GPU-hours / energy."""

    def __post_init__(self) -> None:
        for n in ("gpus", "tp", "pp", "cp", "ep", "seq", "micro_batch", "virtual_stages"):
            _whole(f"--{n.replace('_', '-')}", getattr(self, n))
        _whole("--lora-rank", self.lora_rank, 0)
        if self.zero not in (0, 1, 2, 3):
            raise InputError(f"--zero: must be 0, 1, 2 or 3, got {self.zero!r}")
        if self.fsdp not in FSDP:
            raise InputError(f"--fsdp: unknown {self.fsdp!r}; use full or hybrid")
        if self.fsdp and self.zero:
            raise InputError("--fsdp and --zero both shard the training state; pass one of them")
        for name, v, ok in (("--recompute", self.recompute, RECOMPUTE), ("--optimizer", self.optimizer, OPTIMIZERS),
                            ("--precision", self.precision, PRECISIONS), ("--lora-modules", self.lora_modules,
                                                                          LORA_MODULES)):
            if v not in ok:
                raise InputError(f"{name}: unknown {v!r}; use one of {', '.join(ok)}")
        if self.qlora and not self.lora_rank:
            raise InputError("--qlora needs adapters: pass --lora-rank 8 (or another rank)")
        if self.gpus % (self.tp * self.pp * self.cp):
            raise PlanError(f"--gpus {self.gpus} is not a multiple of tp x pp x cp = {self.tp * self.pp * self.cp}; "
                            "change --gpus or the parallel degrees")
        if self.dp % self.ep:
            raise PlanError(f"--ep {self.ep} must divide the data-parallel degree {self.dp} (experts are spread "
                            "over data-parallel ranks); change --ep or --gpus")
        if self.seq % self.cp:
            raise PlanError(f"--cp {self.cp} must divide --seq {self.seq}")
        if self.virtual_stages > 1 and self.pp == 1:
            raise PlanError("--virtual-stages needs --pp 2 or more (interleaving splits pipeline stages)")
        if self.global_batch is not None:
            _whole("--global-batch", self.global_batch)
            if self.global_batch % (self.micro_batch * self.dp):
                raise PlanError(f"--global-batch {self.global_batch} is not a multiple of micro-batch x data-parallel "
                                f"= {self.micro_batch} x {self.dp}; use a multiple of {self.micro_batch * self.dp}")
        if self.tokens is not None and not self.tokens > 0:
            raise InputError(f"--tokens: must be positive, got {self.tokens}")

    @property
    def dp(self) -> int:
        return self.gpus // (self.tp * self.pp * self.cp)

    @property
    def batch(self) -> int:
        """Global batch in sequences."""
        return self.global_batch if self.global_batch is not None else self.micro_batch * self.dp

    @property
    def micro_batches(self) -> int:
        """m: micro-batches per device per step (gradient accumulation steps)."""
        return self.batch // (self.micro_batch * self.dp)

    @property
    def zero_stage(self) -> int:
        """FSDP full and hybrid shard like ZeRO-3 (over a smaller group for hybrid)."""
        return 3 if self.fsdp else self.zero

    @property
    def lora(self) -> bool:
        return self.lora_rank > 0

    def label(self) -> str:
        shard = f"FSDP {self.fsdp}" if self.fsdp else f"ZeRO-{self.zero}"
        ft = f", {'Q' if self.qlora else ''}LoRA r={self.lora_rank} ({self.lora_modules})" if self.lora else ""
        return (f"{self.gpus} GPUs = tp {self.tp} x pp {self.pp} x cp {self.cp} x dp {self.dp} (ep {self.ep}), "
                f"{shard}, {self.precision}, {self.optimizer}, recompute {self.recompute}{ft}; seq {self.seq}, "
                f"micro-batch {self.micro_batch}, global batch {self.batch} (m = {self.micro_batches})")
