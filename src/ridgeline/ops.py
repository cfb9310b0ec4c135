"""The operator table: FLOPs and bytes of every operator of a forward pass, per device.

One table per (model, precision, parallel plan). Layers that are identical are grouped: a row
is one operator of one *kind* of layer (full or sliding attention, dense MLP or MoE) with the
number of layers that run it, never one object per layer.

Each row's FLOPs and HBM bytes are linear in a small set of workload *features* (below), so
a row is two coefficient vectors and the whole table is two matrices. Evaluating a
configuration is ``coefficients @ features``: the same code serves one scalar estimate and
a million-point sweep (features are numpy arrays of any shape, broadcast together).

Legend (per step, per sequence unless said): B sequences, S new tokens each (the prompt in
prefill, 1 in decode), C tokens already cached, T = B*S new tokens, H hidden, V vocabulary,
N query heads, K KV heads, D head dim, I MLP width, E routed experts, k experts per token,
W sliding window.

Features (each an array):
- ``one``         1: weights streamed once per step
- ``tokens``      T = B*S
- ``seqs``        B: rows of logits (only the last position is projected, as engines do)
- ``pairs_full``  query-key pairs in a causal full-attention layer:
                  B * sum_{p=C}^{C+S-1} (p+1) = B*(S*C + S*(S+1)/2)
- ``pairs_slide`` the same with each query seeing at most W keys: B * sum min(p+1, W)
- ``ctx_full``    tokens of KV read per full layer: B*(C+S) (FlashAttention reads the cache once)
- ``ctx_slide``   B*min(C+S, W)
- ``experts_hit`` expected fraction of routed experts touched by T tokens under uniform
                  routing: 1 - (1 - k/E)^T (each token picks k distinct of E; occupancy)
- ``pairs_chunk`` / ``ctx_chunk``  chunked-local attention (Llama 4): a query sees the tokens of
                  its own chunk of c: sum (p mod c + 1); the step reads the chunks it touches
- ``pairs_topk`` / ``ctx_topk``  DeepSeek sparse attention: each query attends the top-k tokens its
                  indexer selects, sum min(p+1, k) (the sliding formula with W = k)

Conventions: a multiply-add is 2 FLOPs. Attention runs fused (FlashAttention, Dao et al. 2022,
arXiv 2205.14135): no score matrix in HBM; K and V are read once per step per layer. Sharding
follows Megatron-LM (Shoeybi et al. 2019, arXiv 1909.08053): qkv and gate/up are
column-parallel, o and down row-parallel, the vocabulary split over tp; norms, routers and
MLA's down-projections replicated; KV heads split over tp (one per device when tp > K).
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from ridgeline.model.spec import ModelSpec
from ridgeline.workload import ParallelPlan, Precision

FEATURES = ("one", "tokens", "seqs", "pairs_full", "pairs_slide", "ctx_full", "ctx_slide", "experts_hit",
            "pairs_chunk", "ctx_chunk", "pairs_topk", "ctx_topk")
_F = {name: i for i, name in enumerate(FEATURES)}
#: Operator kinds; the time model gives each its own efficiency factors.
KINDS = ("gemm", "expert_gemm", "attention", "elementwise", "gather")
#: Vector (non-tensor-core) FLOPs per query-key pair per head for the online softmax:
#: max, subtract, exp, sum, rescale (FlashAttention-2, Dao 2023, arXiv 2307.08691, sec. 3.1).
SOFTMAX_FLOPS_PER_PAIR_HEAD = 5
#: FLOPs per element of an RMSNorm/LayerNorm (square, sum, scale, multiply by weight).
NORM_FLOPS_PER_ELEMENT = 4


@dataclass(frozen=True)
class Op:
    """One operator of one kind of layer, on one device."""

    name: str
    """Dotted term: ``attn.qkv``, ``attn.score``, ``mlp.down``, ``moe.experts``, ``lm_head`` ..."""
    kind: str
    """One of KINDS."""
    layers: int
    """How many times a forward pass runs this row (layers of this kind; 1 for embed/lm_head)."""
    params: int
    """Parameters this operator owns per layer, whole model (unsharded); what count_params counts."""
    shard: str
    """How tp/ep split it: column, row, replicated, vocab, expert, none."""
    weight_bytes: float
    """Bytes of its weights resident on one device, per layer."""
    flops: tuple[float, ...]
    """Per-device FLOPs per unit of each feature (aligned with FEATURES)."""
    bytes: tuple[float, ...]
    """Per-device HBM bytes read + written per unit of each feature."""
    compute: str
    """Peak key of the math units it runs on (bf16, fp8, fp32 ...)."""
    weight_fmt: str = ""
    formula: str = ""
    """The FLOPs / bytes formula in the legend's letters, for --explain."""
    layer_kind: str = ""
    """Which layers: "full", "sliding", "full+moe" ... ("" for embed/lm_head)."""
    kv: tuple[float, ...] = (0.0,) * 12
    """The part of ``bytes`` that is KV-cache traffic (read and write), per feature unit."""
    fused: bool = False
    """True for the attention rows (score, softmax, AV) that one fused kernel runs: the time model
    times them together, max(sum of FLOP times, sum of byte times)."""


def _vec(**kw: float) -> tuple[float, ...]:
    v = [0.0] * len(FEATURES)
    for k, x in kw.items():
        v[_F[k]] = float(x)
    return tuple(v)


@dataclass(frozen=True)
class OpTable:
    """All operators of a model under one precision and plan, as coefficient matrices."""

    spec: ModelSpec
    precision: Precision
    plan: ParallelPlan
    ops: tuple[Op, ...]
    mla_path: str = "absorbed"
    flops_matrix: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    """R x F: per-device FLOPs per feature unit, times the row's layer count."""
    bytes_matrix: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    kv_matrix: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    """R x F: the KV-cache part of bytes_matrix."""

    @property
    def total_params(self) -> int:
        """Parameters of the whole model, summed over the table (checked against count_params)."""
        return sum(op.params * op.layers for op in self.ops)

    @property
    def weight_bytes_per_device(self) -> float:
        return sum(op.weight_bytes * op.layers for op in self.ops)

    def features(self, batch, new_tokens, cached_tokens) -> np.ndarray:
        """F x shape array of workload features for B sequences of S new tokens over C cached."""
        B = np.asarray(batch, dtype=np.float64)
        S = np.asarray(new_tokens, dtype=np.float64)
        C = np.asarray(cached_tokens, dtype=np.float64)
        B, S, C = np.broadcast_arrays(B, S, C)
        T = B * S
        end = C + S
        pairs_full = B * (S * C + S * (S + 1) / 2)
        pairs_slide, ctx_slide = _windowed(B, C, S, self.spec.sliding_window)
        x = self.spec.indexer
        pairs_topk, ctx_topk = _windowed(B, C, S, x.top_k if x is not None else None)
        c = self.spec.attention_chunk_size
        if c and "chunked" in self.spec.layer_types:
            def f(n):  # sum over p < n of (p mod c + 1)
                q, r = np.floor_divide(n, c), np.mod(n, c)
                return q * c * (c + 1) / 2 + r * (r + 1) / 2
            pairs_chunk = B * (f(end) - f(C))
            ctx_chunk = B * (end - np.floor_divide(C, c) * c)
        else:
            pairs_chunk = ctx_chunk = np.zeros_like(T)
        moe = self.spec.moe
        if moe is not None and moe.num_experts:
            hit = 1.0 - np.power(1.0 - moe.top_k / moe.num_experts, T)
        else:
            hit = np.zeros_like(T)
        return np.stack([np.ones_like(T), T, B, pairs_full, pairs_slide, B * end, ctx_slide, hit,
                         pairs_chunk, ctx_chunk, pairs_topk, ctx_topk])

    def evaluate(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(FLOPs, bytes) per row, each R x shape, for features from :meth:`features`."""
        shape = feats.shape[1:]
        f2 = feats.reshape(len(FEATURES), -1)
        fl = (self.flops_matrix @ f2).reshape((len(self.ops), *shape))
        by = (self.bytes_matrix @ f2).reshape((len(self.ops), *shape))
        return fl, by

    def weight_and_kv_bytes(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bytes per step, summed over rows: weights streamed, and KV cache read + written."""
        w = self.bytes_matrix[:, _F["one"]].sum() * feats[_F["one"]] + \
            self.bytes_matrix[:, _F["experts_hit"]].sum() * feats[_F["experts_hit"]]
        kv = np.tensordot(self.kv_matrix.sum(axis=0), feats, axes=1)
        return w, kv


def _windowed(B, C, S, W):
    """(query-key pairs, KV tokens read) when each query sees at most W keys; zeros without W.

    Pairs: sum over x in [C+1, C+S] of min(x, W): the part up to W, then W per query beyond it.
    """
    if not W:
        z = np.zeros_like(B)
        return z, z
    end = C + S
    lo, hi = C + 1, np.minimum(end, W)
    under = np.where(hi >= lo, (lo + hi) * (hi - lo + 1) / 2, 0.0)
    over = np.maximum(end - np.maximum(C, W), 0.0) * W
    return B * (under + over), B * np.minimum(end, W)


def op_table(spec: ModelSpec, prec: Precision, plan: ParallelPlan = ParallelPlan(), mla_path: str = "absorbed",
             compute: str | None = None) -> OpTable:
    """Build the operator table (cached: the slow, exact part; evaluation is the fast part).

    ``compute``: peak key for GEMMs; default from the weight format (see :func:`compute_format`).
    """
    key = (id(spec), id(prec), plan, mla_path, compute)
    hit = _BY_IDENTITY.get(key)
    if hit is not None and hit[0] is spec and hit[1] is prec:  # the same objects: skip hashing the spec
        return hit[2]
    table = _op_table(spec, prec, plan, mla_path, compute or compute_format(prec))
    if len(_BY_IDENTITY) > 256:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[key] = (spec, prec, table)
    return table


_BY_IDENTITY: dict[tuple, tuple] = {}


def compute_format(prec: Precision) -> str:
    """The math units a GEMM runs on: fp8 weights with fp8 activations use the fp8 peak (engines
    quantize activations dynamically for fp8 checkpoints); weight-only formats (int4, nf4, GGUF,
    MXFP4 on Hopper) dequantize and compute in the activation format."""
    w, a = prec.weights.name, prec.activations.name
    if w == "nvfp4":
        return "fp4"  # NVFP4 checkpoints run W4A4 on Blackwell; devices without fp4 fall back (timing.peak_for)
    if w in ("fp8", "fp8-b128") or a == "fp8":
        return "fp8"
    return {"fp32": "fp32", "fp16": "fp16"}.get(a, "bf16")


@lru_cache(maxsize=256)
def _op_table(spec: ModelSpec, prec: Precision, plan: ParallelPlan, mla_path: str, compute: str) -> OpTable:
    ops = _Builder(spec, prec, plan, mla_path, compute).build()
    fm = np.array([[c * op.layers for c in op.flops] for op in ops], dtype=np.float64)
    bm = np.array([[c * op.layers for c in op.bytes] for op in ops], dtype=np.float64)
    km = np.array([[c * op.layers for c in op.kv] for op in ops], dtype=np.float64)
    for m in (fm, bm, km):
        m.setflags(write=False)
    return OpTable(spec, prec, plan, tuple(ops), mla_path, fm, bm, km)


class _Builder:
    def __init__(self, spec: ModelSpec, prec: Precision, plan: ParallelPlan, mla_path: str, compute: str):
        self.s, self.p, self.plan, self.mla_path, self.compute = spec, prec, plan, mla_path, compute
        self.t = plan.tp
        self.ab = prec.activations.bytes_per_element
        self.ops: list[Op] = []

    # -- helpers ---------------------------------------------------------------------------
    @contextmanager
    def data_parallel(self):
        """Rows built inside run data-parallel under ``plan.attention_dp``: each of the tp ranks
        holds the whole weights (no tp split) and 1/tp of the sequences, so every per-token,
        per-sequence and per-pair coefficient is divided by tp (engines' DP attention for MoE
        models: SGLang ``--enable-dp-attention``, vLLM data-parallel attention + expert parallel)."""
        if not self.plan.attention_dp or self.plan.tp == 1:
            yield
            return
        dp, start, t = self.plan.tp, len(self.ops), self.t
        self.t = 1
        try:
            yield
        finally:
            self.t = t
            one = _F["one"]
            for i in range(start, len(self.ops)):
                op = self.ops[i]
                sc = lambda v: tuple(x if j == one else x / dp for j, x in enumerate(v))  # noqa: E731
                self.ops[i] = replace(op, flops=sc(op.flops), bytes=sc(op.bytes), kv=sc(op.kv), shard="replicated")

    def wbytes(self, role: str, n: float) -> float:
        return self.p.format_for(role).nbytes(n)

    def gemm(self, name: str, k_in: float, n_out: float, params: int, bias: int, shard: str, layers: int,
             layer_kind: str, role: str = "linear", per: str = "tokens", weight_read: str = "one",
             kind: str = "gemm") -> None:
        """A weight GEMM [M, k_in] x [k_in, n_out] (whole-model dims), M = the ``per`` feature.

        Column-parallel splits n_out over tp; row-parallel splits k_in; replicated splits nothing.
        """
        div = self.t if shard in ("column", "row", "vocab", "expert") else 1
        k_dev = k_in / div if shard == "row" else k_in
        n_dev = n_out / div if shard in ("column", "vocab", "expert") else n_out
        wb = (self.wbytes(role, k_in * n_out) + self.wbytes("bias", bias)) / div
        fl = 2 * k_dev * n_dev
        act = (k_dev + n_dev) * self.ab
        self.ops.append(Op(
            name, kind, layers, params, shard, wb, _vec(**{per: fl}), _vec(**{per: act, weight_read: wb}),
            self.compute, self.p.format_for(role).name,
            f"FLOPs 2*M*{k_in:g}*{n_out:g}/{div}; bytes weights + M*({k_dev:g}+{n_dev:g})*act", layer_kind))

    def elementwise(self, name: str, params: int, width: float, flops_per_elem: float, layers: int,
                    layer_kind: str, shard: str = "replicated") -> None:
        wb = self.wbytes("norm", params)
        self.ops.append(Op(name, "elementwise", layers, params, shard, wb,
                           _vec(tokens=flops_per_elem * width), _vec(tokens=2 * width * self.ab, one=wb),
                           "fp32", self.p.format_for("norm").name,
                           f"FLOPs {flops_per_elem}*T*{width:g}; bytes 2*T*{width:g}*act", layer_kind))

    # -- the model -------------------------------------------------------------------------
    def build(self) -> list[Op]:
        s = self.s
        H, V = s.hidden_size, s.vocab_size
        Ed = s.embed_dim or H
        # embedding: a gather of T rows, not a stream of the table
        rows = s.embedding_rows or V  # Mllama's table holds 8 image tokens beyond the vocabulary
        emb_wb = self.wbytes("embedding", rows * Ed) / self.t
        row = self.p.format_for("embedding").bytes_per_element * Ed
        self.ops.append(Op("embed.tokens", "gather", 1, rows * Ed, "vocab", emb_wb, _vec(),
                           _vec(tokens=row + Ed * self.ab), "bf16", self.p.format_for("embedding").name,
                           "bytes T*(row of the table + activation)"))
        if s.learned_positions:
            n = s.learned_positions * H
            self.ops.append(Op("embed.positions", "gather", 1, n, "replicated", self.wbytes("embedding", n), _vec(),
                               _vec(tokens=self.p.format_for("embedding").bytes_per_element * H + H * self.ab),
                               "bf16", self.p.format_for("embedding").name, "bytes T*(row + activation)"))
        if s.embed_dim:
            self.gemm("embed.project_in", Ed, H, Ed * H, 0, "replicated", 1, "")
        if s.vision is not None:
            # the vision tower runs once per image, not per generated token: resident, not streamed
            n = sum(c for _, c in s.vision.terms)
            self.ops.append(Op("vision", "gather", 1, n, "replicated", self.wbytes("vision", n), _vec(), _vec(),
                               "bf16", self.p.format_for("vision").name,
                               "vision tower + projector: per image, not per decode step (not timed)"))
        moe_set = set(s.moe.moe_layers) if s.moe is not None else set()
        kinds = Counter((s.layer_types[i], i in moe_set, s.has_mlp(i)) for i in range(s.num_layers))
        first = {}
        for i in range(s.num_layers):
            first.setdefault((s.layer_types[i], i in moe_set, s.has_mlp(i)), i)
        for (ltype, is_moe, dense), count in sorted(kinds.items()):
            lk = ltype + ("+moe" if is_moe else "") + ("" if (is_moe or dense) else "+nomlp")
            rep = first[(ltype, is_moe, dense)]
            with self.data_parallel():
                if ltype in ("full", "sliding", "chunked", "hybrid"):
                    self.attention(ltype, count, lk)
                if ltype in ("mamba", "hybrid"):
                    self.mamba(count, lk, rep)
                if ltype == "linear_attention":
                    self.linear_attention(count, lk, rep)
                if ltype == "cross_attention":
                    self.cross_attention(count, lk, rep)
                if dense and not is_moe:
                    self.mlp("mlp", s.mlp.intermediate_size, count, lk)
                norm_params = s.norms_per_layer * H * (2 if s.norm_bias else 1)
                self.elementwise("norms.layer", norm_params, s.norms_per_layer * H, NORM_FLOPS_PER_ELEMENT, count,
                                 lk)
            if is_moe:
                self.moe(count, lk)
        if s.final_norm:
            self.elementwise("norms.final", H * (2 if s.norm_bias else 1), H, NORM_FLOPS_PER_ELEMENT, 1, "")
        if s.embed_dim:
            self.gemm("embed.project_out", H, Ed, H * Ed, 0, "replicated", 1, "", per="seqs")
        # lm_head: only the last position of each sequence is projected (logits_to_keep=1).
        # A tied head streams the embedding table but owns no parameters of its own.
        hb = V if s.lm_head_bias else 0
        self.gemm("lm_head", Ed, V, (0 if s.tie_word_embeddings else V * Ed) + hb, hb, "vocab", 1, "",
                  role="lm_head", per="seqs")
        return self.ops

    def attention(self, ltype: str, layers: int, lk: str) -> None:
        _s, a, H, t = self.s, self.s.attention, self.s.hidden_size, self.t
        N, K, D = a.num_heads, a.num_kv_heads, a.head_dim
        pairs, ctx = {"sliding": ("pairs_slide", "ctx_slide"), "chunked": ("pairs_chunk", "ctx_chunk")}.get(
            ltype, ("pairs_full", "ctx_full"))
        kvb = self.p.kv.bytes_per_element
        if a.mla is not None:
            self.mla(layers, lk, pairs, ctx)
            return
        q_rows = N * D * (2 if a.output_gate else 1)  # Qwen3-Next: q_proj also emits the output gate
        qkv_rows = a.fused_qkv_rows if a.fused_qkv_rows is not None else q_rows + 2 * K * D
        if a.fused_qkv_rows is not None:
            bias = qkv_rows if a.q_bias else 0
        else:
            bias = (q_rows if a.q_bias else 0) + (K * D if a.k_bias else 0) + (K * D if a.v_bias else 0)
        self.gemm("attn.qkv", H, qkv_rows, H * qkv_rows + bias, bias, "column", layers, lk)
        kv_dev = max(K // t, 1)  # KV heads per device (replicated when tp > K)
        n_dev = N / t
        kv_tok = 2 * kv_dev * D * kvb  # K and V bytes per token per layer on this device
        self.ops.append(Op("attn.score", "attention", layers, 0, "column", 0.0,
                           _vec(**{pairs: 2 * n_dev * D}),
                           _vec(tokens=n_dev * D * self.ab + kv_tok / 2, **{ctx: kv_tok / 2}),
                           self.compute_attn(), "", f"FLOPs 2*pairs*{n_dev:g}*{D}; bytes q + K read/write", lk,
                           _vec(tokens=kv_tok / 2, **{ctx: kv_tok / 2}), True))
        self.ops.append(Op("attn.softmax", "attention", layers, 0, "column", 0.0,
                           _vec(**{pairs: SOFTMAX_FLOPS_PER_PAIR_HEAD * n_dev}), _vec(), "fp32", "",
                           f"FLOPs {SOFTMAX_FLOPS_PER_PAIR_HEAD}*pairs*{n_dev:g} (fused, on-chip)", lk, fused=True))
        self.ops.append(Op("attn.av", "attention", layers, 0, "column", 0.0,
                           _vec(**{pairs: 2 * n_dev * D}),
                           _vec(tokens=n_dev * D * self.ab + kv_tok / 2, **{ctx: kv_tok / 2}),
                           self.compute_attn(), "", f"FLOPs 2*pairs*{n_dev:g}*{D}; bytes V read/write + out", lk,
                           _vec(tokens=kv_tok / 2, **{ctx: kv_tok / 2}), True))
        extra = ((2 * D if a.qk_norm_per_head else (N + K) * D) if a.qk_norm else 0) + (N if a.sinks else 0)
        o_bias = H if a.o_bias else 0
        self.gemm("attn.o", N * D, H, N * D * H + o_bias, o_bias, "row", layers, lk)
        if extra:
            self.elementwise("attn.qk_norm_sinks", extra, (N + K) * D / t, NORM_FLOPS_PER_ELEMENT, layers, lk)

    def compute_attn(self) -> str:
        """Attention math runs in the KV/activation format (fp8 attention only with an fp8 KV cache)."""
        return "fp8" if self.p.kv.name == "fp8" and self.compute == "fp8" else \
            {"fp32": "fp32", "fp16": "fp16"}.get(self.p.activations.name, "bf16")

    def mla(self, layers: int, lk: str, pairs: str, ctx: str) -> None:
        """Multi-head latent attention (DeepSeek-V2, arXiv 2405.04434 sec. 2.1).

        ``absorbed`` (engines' decode path): W_UK is folded into the query and W_UV into the
        output, so attention runs over the cached latent (kv_lora + rope wide) with N heads.
        ``naive``: kv_b expands the latent of every cached token to per-head K and V each step.
        """
        s, a, H, t = self.s, self.s.attention, self.s.hidden_size, self.t
        m, N = a.mla, a.num_heads
        assert m is not None
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        R, r = m.kv_lora_rank, m.qk_rope_head_dim
        if m.q_lora_rank is None:
            self.gemm("attn.q", H, N * qk, H * N * qk, 0, "column", layers, lk)
        else:
            qb = m.q_lora_rank if a.q_bias else 0
            self.gemm("attn.q_a", H, m.q_lora_rank, H * m.q_lora_rank + qb, qb, "replicated", layers, lk)
            self.elementwise("attn.q_a_norm", m.q_lora_rank, m.q_lora_rank, NORM_FLOPS_PER_ELEMENT, layers, lk)
            self.gemm("attn.q_b", m.q_lora_rank, N * qk, m.q_lora_rank * N * qk, 0, "column", layers, lk)
        kb = R + r if a.k_bias else 0
        self.gemm("attn.kv_a", H, R + r, H * (R + r) + kb, kb, "replicated", layers, lk)
        self.elementwise("attn.kv_a_norm", R, R, NORM_FLOPS_PER_ELEMENT, layers, lk)
        kvb = self.p.kv.bytes_per_element
        n_dev = N / t
        kv_b = R * N * (m.qk_nope_head_dim + m.v_head_dim)
        if s.indexer is not None:
            # DeepSeek sparse attention (V3.2): the indexer scores every cached token with its own
            # small keys, then attention runs over the top-k tokens it selects
            x = s.indexer
            n_idx = _group_params(s, first_attention_layer(s), ("attn.indexer",))
            n_norm = _group_params(s, first_attention_layer(s), ("attn.indexer_norm",))
            wb = self.wbytes("linear", n_idx) + self.wbytes("norm", n_norm)
            self.ops.append(Op("attn.indexer", "gemm", layers, n_idx + n_norm, "replicated", wb,
                               _vec(tokens=2 * n_idx, pairs_full=2 * x.num_heads * x.head_dim),
                               _vec(one=wb, tokens=x.head_dim * kvb, ctx_full=x.head_dim * kvb),
                               self.compute, self.p.format_for("linear").name,
                               "FLOPs 2*T*params + 2*pairs*heads*dim; bytes its key cache", lk,
                               _vec(tokens=x.head_dim * kvb, ctx_full=x.head_dim * kvb)))
            pairs, ctx = "pairs_topk", "ctx_topk"
        lat_tok = (R + r) * kvb  # latent bytes per token per layer (replicated on every tp rank)
        if self.mla_path == "absorbed":
            # the kv_b weights are read once per step, used as two per-token GEMMs per head:
            # q_nope [nope] -> latent [R], and attention output [R] -> [v]
            wb = self.wbytes("linear", kv_b) / t
            fl = 2 * n_dev * (m.qk_nope_head_dim * R + R * m.v_head_dim)
            self.ops.append(Op("attn.kv_b_absorbed", "gemm", layers, kv_b, "column", wb, _vec(tokens=fl),
                               _vec(one=wb, tokens=n_dev * (m.qk_nope_head_dim + 2 * R + m.v_head_dim) * self.ab),
                               self.compute, self.p.format_for("linear").name,
                               "FLOPs 2*T*N*(nope*R + R*v)/tp; bytes kv_b weights", lk))
            score_w, av_w = R + r, R
        else:
            self.gemm("attn.kv_b", R, N * (m.qk_nope_head_dim + m.v_head_dim), kv_b, 0, "column", layers, lk,
                      per=ctx)
            score_w, av_w = qk, m.v_head_dim
        self.ops.append(Op("attn.score", "attention", layers, 0, "column", 0.0, _vec(**{pairs: 2 * n_dev * score_w}),
                           _vec(tokens=n_dev * score_w * self.ab + lat_tok, **{ctx: lat_tok}),
                           self.compute_attn(), "", f"FLOPs 2*pairs*{n_dev:g}*{score_w}; latent read/write", lk,
                           _vec(tokens=lat_tok, **{ctx: lat_tok}), True))
        self.ops.append(Op("attn.softmax", "attention", layers, 0, "column", 0.0,
                           _vec(**{pairs: SOFTMAX_FLOPS_PER_PAIR_HEAD * n_dev}), _vec(), "fp32", "",
                           f"FLOPs {SOFTMAX_FLOPS_PER_PAIR_HEAD}*pairs*{n_dev:g} (fused)", lk, fused=True))
        self.ops.append(Op("attn.av", "attention", layers, 0, "column", 0.0, _vec(**{pairs: 2 * n_dev * av_w}),
                           _vec(tokens=n_dev * av_w * self.ab), self.compute_attn(), "",
                           f"FLOPs 2*pairs*{n_dev:g}*{av_w}", lk, fused=True))
        ob = H if a.o_bias else 0
        self.gemm("attn.o", N * m.v_head_dim, H, N * m.v_head_dim * H + ob, ob, "row", layers, lk)

    def mlp(self, prefix: str, width: int, layers: int, lk: str, bias: bool | None = None) -> None:
        s, H = self.s, self.s.hidden_size
        gated, bias = s.mlp.gated, s.mlp.bias if bias is None else bias
        up = (2 if gated else 1) * width
        ub = up if bias else 0
        self.gemm(f"{prefix}.{'gate_up' if gated else 'up'}", H, up, H * up + ub, ub, "column", layers, lk)
        db = H if bias else 0
        self.gemm(f"{prefix}.down", width, H, width * H + db, db, "row", layers, lk)

    def moe(self, layers: int, lk: str) -> None:
        moe, H = self.s.moe, self.s.hidden_size
        assert moe is not None
        E, k, Ie = moe.num_experts, moe.top_k, moe.expert_intermediate_size
        rb = E if moe.router_bias else 0
        self.gemm("moe.router", H, E, H * E + rb, rb, "replicated", layers, lk, role="router")
        # routed experts: each token runs k of E experts (3 matrices each: gate, up, down).
        # Weights are read for the experts the step's tokens touch (feature experts_hit).
        t = self.t
        mats = 3 if moe.gated else 2
        eb = E * (2 * Ie + H) if moe.expert_bias else 0
        wb = (self.wbytes("expert", E * mats * H * Ie) + self.wbytes("bias", eb)) / t
        fl = 2 * k * mats * H * Ie / t
        act = k * (2 * H + mats * Ie / t) * self.ab
        self.ops.append(Op("moe.experts", "expert_gemm", layers, E * mats * H * Ie + eb, "expert", wb,
                           _vec(tokens=fl), _vec(experts_hit=wb, tokens=act), self.compute,
                           self.p.format_for("expert").name,
                           f"FLOPs 2*T*{k}*3*H*{Ie}/tp; bytes E*3*H*{Ie}*w*experts_hit/tp", lk))
        if moe.shared_intermediate_size:
            self.mlp("moe.shared", moe.shared_intermediate_size, layers, lk, bias=False)
        if moe.shared_expert_gate:
            self.gemm("moe.shared_gate", H, 1, H, 0, "replicated", layers, lk, role="router")

    def _state_rows(self, prefix: str, layers: int, lk: str, rep: int, conv_channels: int, kernel: int,
                    recurrent_flops_per_token: float, n_ssm: int, n_conv: int) -> None:
        """The convolution and the recurrence of a state-space / linear-attention mixer.

        Decode reads and writes each sequence's fixed state once per step (feature ``seqs``): the
        conv window and the recurrent state, in the KV format. The recurrence costs
        ``recurrent_flops_per_token`` per token (prefill runs it chunked, same FLOPs).
        """
        from ridgeline.model.kv import state_elements_per_layer  # noqa: PLC0415

        e = state_elements_per_layer(self.s, rep)
        sb = self.p.kv.bytes_per_element
        t = self.t
        cw = self.wbytes("ssm", n_conv) / t
        self.ops.append(Op(f"{prefix}.conv", "elementwise", layers, n_conv, "column", cw,
                           _vec(tokens=2 * conv_channels * kernel / t),
                           _vec(one=cw, tokens=2 * conv_channels * self.ab / t, seqs=2 * e.conv * sb / t),
                           "fp32", self.p.format_for("ssm").name,
                           f"FLOPs 2*T*{conv_channels}*{kernel}/tp; bytes conv window read+write per sequence", lk,
                           _vec(seqs=2 * e.conv * sb / t)))
        rw = self.wbytes("ssm", n_ssm) / t
        self.ops.append(Op(f"{prefix}.recurrence", "elementwise", layers, n_ssm, "column", rw,
                           _vec(tokens=recurrent_flops_per_token / t),
                           _vec(one=rw, seqs=2 * e.recurrent * sb / t), "fp32", self.p.format_for("ssm").name,
                           "FLOPs per token x T; bytes state read+write per sequence", lk,
                           _vec(seqs=2 * e.recurrent * sb / t)))

    def mamba(self, layers: int, lk: str, rep: int) -> None:
        """Mamba 1 / 2 mixer (arXiv 2312.00752, 2405.21060). The selective scan updates a state of
        d_inner x d_state per token: h = exp(dt*A)*h + dt*B*x, y = C.h + D*x: ~6 FLOPs per state
        element (decay, two products and adds, the output dot product)."""
        s, m, H = self.s, self.s.mamba, self.s.hidden_size
        assert m is not None
        Di, S = m.d_inner, m.d_state
        g = {t: _group_params(s, rep, (t,)) for t in ("mamba.in_proj", "mamba.x_dt_proj", "mamba.conv", "mamba.ssm",
                                                       "mamba.out_proj", "mamba.bias", "mamba.norm")}
        in_rows = g["mamba.in_proj"] // H
        in_b = in_rows if m.in_proj_bias else 0
        out_b = H if m.out_proj_bias else 0
        conv_b = g["mamba.bias"] - in_b - out_b
        self.gemm("mamba.in_proj", H, in_rows, g["mamba.in_proj"] + in_b, in_b, "column", layers, lk)
        if g["mamba.x_dt_proj"]:
            self.gemm("mamba.x_dt_proj", 1, g["mamba.x_dt_proj"], g["mamba.x_dt_proj"], 0, "column", layers, lk)
        self._state_rows("mamba", layers, lk, rep, m.conv_channels, m.d_conv, 6 * Di * S,
                         g["mamba.ssm"], g["mamba.conv"] + conv_b)
        if g["mamba.norm"]:
            self.elementwise("mamba.norm", g["mamba.norm"], Di, NORM_FLOPS_PER_ELEMENT, layers, lk)
        self.gemm("mamba.out_proj", Di, H, g["mamba.out_proj"] + out_b, out_b, "row", layers, lk)

    def linear_attention(self, layers: int, lk: str, rep: int) -> None:
        """Gated DeltaNet (Qwen3-Next; arXiv 2412.06464). Per token and value head the delta rule
        reads the state with the key (S k), corrects it (S += beta (v - S k) k^T) and reads it with
        the query (q^T S): ~3 matrix-vector products of dk x dv, 2 FLOPs each, ~6 per state element."""
        s, la, H = self.s, self.s.linear_attention, self.s.hidden_size
        assert la is not None
        g = {t: _group_params(s, rep, (t,)) for t in ("linear_attn.in_proj", "linear_attn.conv", "linear_attn.ssm",
                                                       "linear_attn.norm", "linear_attn.out_proj")}
        self.gemm("linear_attn.in_proj", H, g["linear_attn.in_proj"] // H, g["linear_attn.in_proj"], 0, "column",
                  layers, lk)
        self._state_rows("linear_attn", layers, lk, rep, 2 * la.key_dim + la.value_dim, la.conv_kernel,
                         6 * la.num_value_heads * la.key_head_dim * la.value_head_dim, g["linear_attn.ssm"],
                         g["linear_attn.conv"])
        self.elementwise("linear_attn.norm", g["linear_attn.norm"], la.value_dim, NORM_FLOPS_PER_ELEMENT, layers, lk)
        self.gemm("linear_attn.out_proj", la.value_dim, H, g["linear_attn.out_proj"], 0, "row", layers, lk)


    def cross_attention(self, layers: int, lk: str, rep: int) -> None:
        """Mllama's cross-attention: text queries attend the cached keys and values of one image's
        tokens (``cross_attention.image_tokens`` per sequence; projected once, at prefill)."""
        s, a, H, t = self.s, self.s.attention, self.s.hidden_size, self.t
        N, K, D = a.num_heads, a.num_kv_heads, a.head_dim
        n_img = s.cross_attention.image_tokens if s.cross_attention is not None else 0
        g = {x: _group_params(s, rep, (x,)) for x in ("cross_attn.qkv", "cross_attn.o", "cross_attn.qk_norm",
                                                      "cross_attn.gates")}
        self.gemm("cross_attn.q", H, N * D, g["cross_attn.qkv"] - H * 2 * K * D, 0, "column", layers, lk)
        # k and v of the image tokens: computed once per sequence at prefill, cached (the KV read below)
        self.gemm("cross_attn.kv", H, 2 * K * D, H * 2 * K * D, 0, "column", layers, lk, per="seqs")
        kv_dev = max(K // t, 1)
        kv_img = 2 * kv_dev * D * self.p.kv.bytes_per_element * n_img
        self.ops.append(Op("cross_attn.attend", "attention", layers, 0, "column", 0.0,
                           _vec(tokens=4 * (N / t) * D * n_img), _vec(seqs=kv_img, tokens=2 * (N / t) * D * self.ab),
                           self.compute_attn(), "", f"FLOPs 4*T*{n_img}*N*D/tp; bytes the image KV per sequence",
                           lk, _vec(seqs=kv_img), True))
        self.gemm("cross_attn.o", N * D, H, g["cross_attn.o"], 0, "row", layers, lk)
        self.elementwise("cross_attn.qk_norm_gates", g["cross_attn.qk_norm"] + g["cross_attn.gates"], N * D / t,
                         NORM_FLOPS_PER_ELEMENT, layers, lk)


def first_attention_layer(spec: ModelSpec) -> int:
    return next(i for i, t in enumerate(spec.layer_types) if t in ("full", "sliding", "chunked", "hybrid"))


def _group_params(spec: ModelSpec, layer: int, terms: tuple[str, ...]) -> int:
    """Parameters of layer ``layer``'s groups named ``terms`` (from the parameter oracle, for the
    mixers whose tensor layout it already spells out: Mamba, gated delta-net, the DSA indexer)."""
    from ridgeline.model import params  # noqa: PLC0415

    groups = params._mamba_groups(spec, layer) if spec.layer_types[layer] in ("mamba", "hybrid") \
        and any(t.startswith("mamba.") for t in terms) else \
        params._cross_attention_groups(spec, layer) if any(t.startswith("cross_attn.") for t in terms) else \
        params._linear_attention_groups(spec, layer) if any(t.startswith("linear_attn.") for t in terms) else \
        params._attention_groups(spec, layer)
    return sum(g.count for g in groups if g.term in terms)
