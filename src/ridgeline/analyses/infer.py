"""``ridgeline infer``: TTFT, time per output token, throughput, and what bounds each step.

All figures come from the operator table (ridgeline.ops) through the time model
(ridgeline.timing). Inputs may be scalars or numpy arrays (broadcast together); every result
field then has the broadcast shape. One implementation: a sweep is the same code as one estimate.

Serving model (a fixed batch, as ``vllm bench latency`` runs it): the B prompts of S tokens are
prefilled together (TTFT), then G - 1 decode steps follow, the k-th over S + k cached tokens.
The mean decode step (TPOT) is the step at the mean context S + (G - 2)/2. Pipeline parallelism
keeps pp micro-batches of B/pp in flight (at least one sequence each): every sequence advances
once per pass over all stages, so a step costs the whole model's time at batch max(B/pp, 1) (plus the
stage-to-stage sends).
Offline maximum throughput (``--batch max``): continuous batching with chunked prefill mixed into
decode steps: each step carries B decode tokens and, on average, B*S/G prompt tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.ops import FEATURES, OpTable, op_table
from ridgeline.timing import Efficiencies, Roofline, peak_for, roofline
from ridgeline.workload import ParallelPlan, Precision

#: Scenario columns evaluated together: prefill, decode at start, at end, at the mean context.
_SCEN = ("prefill", "decode_start", "decode_end", "decode_mean")


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _out(x):
    """A 0-d array or numpy scalar becomes a Python scalar; arrays stay arrays."""
    return x.item() if getattr(x, "ndim", 1) == 0 else x


@dataclass(frozen=True)
class Phase:
    """Time of one kind of step, expected and ideal, with its breakdown."""

    time_s: object
    ideal_time_s: object
    memory_s: object
    compute_s: object
    comm_s: object
    overhead_s: object
    flops: object
    bytes: object
    weight_bytes: object
    kv_bytes: object
    comm_bytes: object


@dataclass(frozen=True)
class InferResult:
    spec: ModelSpec
    hardware: Accelerator
    precision: Precision
    plan: ParallelPlan
    compute: str
    """Peak key the GEMMs run at (bf16, fp8 ...)."""
    batch: object
    prompt_tokens: object
    gen_tokens: object
    ttft_s: object
    decode_step_time_s: object
    """Decode step at the start of generation (S cached tokens)."""
    decode_step_time_end_s: object
    tpot_s: object
    """Mean time per output token: the decode step at the mean context."""
    e2e_latency_s: object
    output_tokens_per_s: object
    """Output tokens per second of the whole replica (tp x pp devices)."""
    output_tokens_per_s_per_device: object
    mbu: object
    """Memory-bandwidth utilisation of the mean decode step: bytes / (TPOT x peak bandwidth)."""
    mfu: object
    """FLOP utilisation of the mean decode step against the GEMM format's dense peak."""
    prefill_mfu: object
    critical_batch: float
    """Decode batch above which the weight GEMMs would turn compute-bound (KV reads ignored)."""
    kv_keeps_memory_bound: object
    """True when, at this context, each sequence's KV reads cost more time than its FLOPs, so no
    batch turns decode compute-bound."""
    bound: object
    """What bounds the mean decode step: "memory", "compute" or "communication"."""
    prefill_bound: object
    wait_share: dict
    """Share of the mean decode step spent on memory-bound rows, compute-bound rows,
    communication and fixed overhead (sums to 1)."""
    comm_bytes_per_step: object
    """Bytes through one device's links per decode step."""
    weight_bytes_per_step: object
    kv_bytes_per_step: object
    ideal: dict
    """The same time keys for the pure roofline (datasheet peaks, no latency, no overhead)."""
    prefill: Phase
    decode: Phase
    efficiencies: Efficiencies
    offline: bool = False
    """True when throughput is the continuous-batching offline maximum (``--batch max``)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    gemm_peak_flops_per_s: float = 0.0
    """Dense peak of the format the GEMMs run in (MFU's denominator)."""

    @property
    def devices(self) -> int:
        return self.plan.tp * self.plan.pp


def critical_batch(rf: Roofline) -> float:
    """Decode batch where the weight GEMMs' FLOP time equals their weight-streaming time.

    B* = (weight bytes / achieved bandwidth) / (FLOPs per token / achieved peak). For a dense bf16
    model at ideal peaks this is the ridge point (peak / bandwidth, ~295 FLOP/byte on an H100)
    times bytes per parameter over 2 FLOPs per parameter (scaling-book, "All About Transformer
    Inference"). MoE weights count as if every expert were read.
    """
    cache = rf.__dict__
    if "_critical_batch" not in cache:
        from ridgeline.ops import _F  # noqa: PLC0415

        gemm = np.array([op.kind in ("gemm", "expert_gemm") for op in rf.table.ops])
        t_w = (rf.bm[gemm][:, _F["one"]] + rf.bm[gemm][:, _F["experts_hit"]]).sum() * rf.inv_bw
        t_f = ((rf.fm[gemm][:, _F["tokens"]] + rf.fm[gemm][:, _F["seqs"]]) * rf.inv_peak[gemm, 0]).sum()
        cache["_critical_batch"] = float(t_w / t_f) if t_f else float("inf")
    return cache["_critical_batch"]


def _gemm_peak(rf: Roofline) -> float:
    """The dense peak of the format the GEMMs run in (MFU's denominator)."""
    if "_gemm_peak" not in rf.__dict__:
        rf.__dict__["_gemm_peak"] = peak_for(rf.hw, next((op.compute for op in rf.table.ops if op.kind == "gemm"),
                                                         "bf16"))[0]
    return rf.__dict__["_gemm_peak"]


@dataclass(frozen=True)
class BatchLimit:
    """The most concurrent requests an engine holds, and its token budget per step."""

    batch: int
    max_step_tokens: int | None
    """Tokens one forward step may carry (vLLM max_num_batched_tokens; None: unlimited)."""
    why: str


def max_batch(spec: ModelSpec, hardware: Accelerator, prompt_tokens: int, gen_tokens: int,
              prec: Precision | None = None, plan: ParallelPlan = ParallelPlan(), engine=None) -> BatchLimit:
    """How many requests of prompt + gen tokens run at once: the KV room (ridgeline's ledger, or the
    engine profile's pool in whole blocks) and the engine's max_num_seqs, whichever binds."""
    from ridgeline.analyses.engines import EngineSettings  # noqa: PLC0415
    from ridgeline.analyses.fit import fit  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload  # noqa: PLC0415

    ctx = prompt_tokens + gen_tokens
    engine = engine or EngineSettings()
    if engine.engine != "ideal" and engine.max_model_len is None:
        from dataclasses import replace  # noqa: PLC0415

        engine = replace(engine, max_model_len=ctx)
    f = fit(spec, hardware, InferenceWorkload(1, ctx, min(8192, ctx)), prec, plan, engine=engine)
    a = f.engine_allocation
    if a is None:
        return BatchLimit(f.max_concurrent_sequences, None,
                          f"KV room beside the weights: {f.max_concurrent_sequences} sequences of {ctx:,} tokens")
    room = a.num_blocks // max(a.blocks_for_request(ctx), 1)
    n = min(room, a.max_num_seqs)
    why = (f"{a.engine}: pool of {a.num_blocks:,} blocks holds {room:,} requests of {ctx:,} tokens; "
           f"max_num_seqs {a.max_num_seqs:,}")
    return BatchLimit(n, a.max_num_batched_tokens, why)


def infer(spec: ModelSpec, hardware: Accelerator, batch=1, prompt_tokens=1024, gen_tokens=128,
          prec: Precision | None = None, plan: ParallelPlan = ParallelPlan(), eff: Efficiencies | None = None,
          mla_path: str = "absorbed", offline: bool = False, max_step_tokens: int | None = None) -> InferResult:
    """Estimate serving ``batch`` requests of ``prompt_tokens`` in, ``gen_tokens`` out.

    ``batch``, ``prompt_tokens`` and ``gen_tokens`` may be numpy arrays (broadcast together).
    ``offline``: throughput as an offline continuous-batching run with ``batch`` concurrent requests;
    ``max_step_tokens`` caps the tokens of one step (the engine's chunked-prefill budget): when
    B decode tokens plus B*S/G prompt tokens exceed it, only budget*G/(S+G) requests decode per step.
    """
    prec = prec or Precision.build(spec)
    plan.check(spec)
    eff = eff or Efficiencies()
    table = op_table(spec, prec, plan, mla_path)
    B, S, G = np.broadcast_arrays(_arr(batch), _arr(prompt_tokens), _arr(gen_tokens))
    if np.any(B < 1) or np.any(S < 1) or np.any(G < 1):
        from ridgeline.errors import InputError  # noqa: PLC0415

        raise InputError("batch, prompt and gen tokens must each be at least 1")
    rf = roofline(table, hardware, eff)
    shape = B.shape
    b, s, g = B.ravel(), S.ravel(), G.ravel()
    # large sweeps run in blocks so that the scenario x feature temporaries stay in cache
    m = None
    for i in range(0, b.size, _CHUNK):
        keys, vals = _evaluate(table, rf, eff, plan, b[i:i + _CHUNK], s[i:i + _CHUNK], g[i:i + _CHUNK], offline,
                               max_step_tokens)
        if m is None:
            m = np.empty((len(keys), b.size))
        for j, x in enumerate(vals):
            m[j, i:i + _CHUNK] = x
    if shape == ():  # one configuration: plain Python numbers, one conversion
        v = dict(zip(keys, m[:, 0].tolist()))
    else:
        v = dict(zip(keys, m.reshape((len(keys), *shape))))
    for k in ("bound", "prefill_bound"):
        v[k] = _out(_BOUNDS[np.asarray(v[k], dtype=np.int64)])
    v["kv_bound"] = _out(np.asarray(v["kv_bound"]) > 0.5)
    gemm_peak = _gemm_peak(rf)
    notes = []
    if spec.max_position_embeddings and np.any(S + G > spec.max_position_embeddings):
        notes.append(f"prompt + generation exceeds the model's max_position_embeddings ({spec.max_position_embeddings})")
    if plan.pp > 1:
        notes.append(f"pp={plan.pp}: {plan.pp} micro-batches of batch/{plan.pp} in flight; TTFT passes all stages")
    phase = lambda p: Phase(*(v[f"{p}.{f}"] for f in Phase.__dataclass_fields__))  # noqa: E731
    return InferResult(
        spec=spec, hardware=hardware, precision=prec, plan=plan, compute=table.ops[-1].compute if table.ops else "bf16",
        batch=_out(B), prompt_tokens=_out(S), gen_tokens=_out(G),
        ttft_s=v["ttft_s"], decode_step_time_s=v["decode_step_time_s"], decode_step_time_end_s=v["decode_end_s"],
        tpot_s=v["tpot_s"], e2e_latency_s=v["e2e_latency_s"], output_tokens_per_s=v["out_tps"],
        output_tokens_per_s_per_device=v["out_tps_dev"], mbu=v["mbu"], mfu=v["mfu"], prefill_mfu=v["prefill_mfu"],
        critical_batch=critical_batch(rf), kv_keeps_memory_bound=v["kv_bound"], bound=v["bound"],
        prefill_bound=v["prefill_bound"],
        wait_share={k: v[f"share.{k}"] for k in ("memory", "compute", "communication", "overhead")},
        comm_bytes_per_step=v["decode.comm_bytes"], weight_bytes_per_step=v["decode.weight_bytes"],
        kv_bytes_per_step=v["decode.kv_bytes"],
        ideal={"ttft_s": v["ideal.ttft_s"], "decode_step_time_s": v["ideal.decode_step_time_s"],
               "tpot_s": v["ideal.tpot_s"], "e2e_latency_s": v["ideal.e2e_latency_s"],
               "output_tokens_per_s": v["ideal.out_tps"], "output_tokens_per_s_per_device": v["ideal.out_tps_dev"]},
        prefill=phase("prefill"), decode=phase("decode"), efficiencies=eff, offline=offline, notes=tuple(notes),
        gemm_peak_flops_per_s=gemm_peak,
    )


#: Configurations evaluated per block by :func:`infer`.
_CHUNK = 32768


_BOUNDS = np.array(["memory", "compute", "communication"])


def _bound_code(memory_s, compute_s, comm_s) -> np.ndarray:
    """0 memory, 1 compute, 2 communication: whichever time is largest (see timing.bound_of)."""
    return np.where((comm_s > memory_s) & (comm_s > compute_s), 2, np.where(compute_s > memory_s, 1, 0))


def _evaluate(table: OpTable, rf: Roofline, eff: Efficiencies, plan: ParallelPlan, B, S, G, offline: bool,
              max_step_tokens: int | None) -> tuple[tuple[str, ...], tuple[np.ndarray, ...]]:
    """Every figure of :func:`infer` for 1-D arrays of configurations: (names, arrays)."""
    # micro-batch per pipeline pass: B/pp sequences, but never less than one (with fewer sequences than
    # stages, each token still crosses every stage in turn: the step is the whole model at batch 1)
    mb = np.maximum(B / plan.pp, 1.0)
    steps = np.maximum(G - 1, 0)
    c_end = S + np.maximum(G - 2, 0)
    c_mean = S + np.maximum(G - 2, 0) / 2
    zero = np.zeros_like(B)
    one = zero + 1
    # the scenarios side by side, evaluated in one pass: prefill, decode at start, end, mean context
    Bs = np.concatenate([B, mb, mb, mb])
    Ss = np.concatenate([S, one, one, one])
    Cs = np.concatenate([zero, S, c_end, c_mean])
    feats = table.features(Bs, Ss, Cs)
    n = B.size
    if offline:
        # a continuous-batching step: B decode tokens plus B*S/G prompt tokens (chunked prefill)
        if max_step_tokens:
            mb = np.minimum(mb, max_step_tokens * G / (S + G))
        mix = table.features(mb, one, c_mean) + table.features(mb, S, zero) / np.maximum(G, 1)
        mix[FEATURES.index("one")] = 1.0
        mix[FEATURES.index("experts_hit")] = table.features(mb, 1 + S / np.maximum(G, 1), c_mean)[
            FEATURES.index("experts_hit")]
        feats = np.concatenate([feats, mix], axis=1)
    st = rf.step(feats)
    sc = lambda a, i: a[i * n:(i + 1) * n]  # noqa: E731
    t = st.time_s
    ttft = sc(t, 0) + eff.request_overhead.value
    tpot = sc(t, 4) if offline else sc(t, 3)
    e2e = ttft + steps * tpot
    it = st.ideal_time_s
    i_tpot = sc(it, 4) if offline else sc(it, 3)
    i_e2e = sc(it, 0) + steps * i_tpot
    devices = plan.tp * plan.pp
    if offline:
        out_tps, i_out_tps = mb * plan.pp / tpot, mb * plan.pp / i_tpot
    else:
        out_tps, i_out_tps = B * G / e2e, B * G / i_e2e
    gemm_peak = _gemm_peak(rf)
    mean = lambda a: sc(a, 3)  # noqa: E731
    out = {
        "ttft_s": ttft, "decode_step_time_s": sc(t, 1), "decode_end_s": sc(t, 2), "tpot_s": tpot,
        "e2e_latency_s": e2e, "out_tps": out_tps, "out_tps_dev": out_tps / devices,
        "mbu": mean(st.bytes) / (tpot * rf.hw.mem_bw_bytes_per_s), "mfu": mean(st.flops) / (tpot * gemm_peak),
        "prefill_mfu": sc(st.flops, 0) / (ttft * gemm_peak),
        # KV keeps decode memory-bound when one sequence's KV read time exceeds its FLOP time
        # (both scale with the batch, so the mean decode step at any batch answers it)
        "kv_bound": mean(st.kv_bytes) * rf.inv_bw > mean(st.flops) / (gemm_peak * eff.gemm.value),
        "bound": _bound_code(mean(st.memory_s), mean(st.compute_s), mean(st.comm_s)),
        "prefill_bound": _bound_code(sc(st.memory_s, 0), sc(st.compute_s, 0), sc(st.comm_s, 0)),
        "ideal.ttft_s": sc(it, 0), "ideal.decode_step_time_s": sc(it, 1), "ideal.tpot_s": i_tpot,
        "ideal.e2e_latency_s": i_e2e, "ideal.out_tps": i_out_tps, "ideal.out_tps_dev": i_out_tps / devices,
    }
    tm = mean(t)
    for k, a in (("memory", st.memory_s), ("compute", st.compute_s), ("communication", st.comm_s),
                 ("overhead", st.overhead_s)):
        out[f"share.{k}"] = mean(a) / tm
    for name, i in (("prefill", 0), ("decode", 3)):
        for f, a in (("time_s", t), ("ideal_time_s", it), ("memory_s", st.memory_s), ("compute_s", st.compute_s),
                     ("comm_s", st.comm_s), ("overhead_s", st.overhead_s), ("flops", st.flops), ("bytes", st.bytes),
                     ("weight_bytes", st.weight_bytes), ("kv_bytes", st.kv_bytes), ("comm_bytes", st.comm_bytes)):
            out[f"{name}.{f}"] = sc(a, i)
    return tuple(out), tuple(out.values())


def _scalar_or_list(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def infer_dict(r: InferResult) -> dict:
    """The ``--json`` object: SI units, raw numbers (lists for array inputs)."""
    phase = lambda p: {k: _scalar_or_list(v) for k, v in p.__dict__.items()}  # noqa: E731
    out = {
        "schema_version": 1,
        "model": {"name": r.spec.name, "model_type": r.spec.model_type, "source": r.spec.source},
        "hardware": {"name": r.hardware.name, "id": r.hardware.id, "mem_bw_bytes_per_s": r.hardware.mem_bw_bytes_per_s,
                     "peak_flops_per_s": r.hardware.peak(r.compute)},
        "plan": {"tp": r.plan.tp, "pp": r.plan.pp, "ep": r.plan.ep, "devices": r.devices},
        "precision": {"weights": r.precision.weights.name, "kv": r.precision.kv.name,
                      "activations": r.precision.activations.name, "compute": r.compute},
        "batch": _scalar_or_list(r.batch), "prompt_tokens": _scalar_or_list(r.prompt_tokens),
        "gen_tokens": _scalar_or_list(r.gen_tokens), "offline": r.offline,
    }
    for key in ("ttft_s", "decode_step_time_s", "decode_step_time_end_s", "tpot_s", "e2e_latency_s",
                "output_tokens_per_s", "output_tokens_per_s_per_device", "bound", "prefill_bound", "mbu", "mfu",
                "prefill_mfu", "critical_batch", "kv_keeps_memory_bound", "comm_bytes_per_step",
                "weight_bytes_per_step", "kv_bytes_per_step"):
        out[key] = _scalar_or_list(getattr(r, key))
    out["wait_share"] = {k: _scalar_or_list(v) for k, v in r.wait_share.items()}
    out["ideal"] = {k: _scalar_or_list(v) for k, v in r.ideal.items()}
    out["prefill"] = phase(r.prefill)
    out["decode"] = phase(r.decode)
    out["factors"] = [f.to_dict() for f in r.efficiencies.factors()]
    out["notes"] = list(r.notes)
    return out


def infer_rows(r: InferResult) -> list[dict]:
    """One ``--json``-style dict per configuration of an array result (a sweep)."""
    d = infer_dict(r)
    n = int(np.size(r.batch))

    def pick(v, i):
        if isinstance(v, dict):
            return {k: pick(x, i) for k, x in v.items()}
        return v[i] if isinstance(v, list) and len(v) == n else v

    keep = {k: v for k, v in d.items() if k not in ("factors", "notes")}
    return [pick(keep, i) | {"factors": d["factors"], "notes": d["notes"]} for i in range(n)]


def explain(r: InferResult) -> list[dict]:
    """Every headline figure with its formula, the inputs it used and the factors behind them.

    Scalar results only (one configuration); values in SI units.
    """
    hw, e, d, p = r.hardware, r.efficiencies, r.decode, r.prefill
    bw = hw.mem_bw_bytes_per_s
    peak = r.gemm_peak_flops_per_s
    rows = [
        {"name": "decode.bytes_per_step", "value": d.bytes, "unit": "bytes",
         "formula": "sum over operators of bytes read + written per device (weights + KV + activations)",
         "inputs": {"weight_bytes": d.weight_bytes, "kv_bytes": d.kv_bytes,
                    "activation_bytes": d.bytes - d.weight_bytes - d.kv_bytes}},
        {"name": "decode.memory_s", "value": d.memory_s, "unit": "s",
         "formula": "sum over memory-bound operators of bytes / (mem_bw x eff.memory)",
         "inputs": {"mem_bw_bytes_per_s": bw, "eff.memory": e.memory.value}},
        {"name": "decode.compute_s", "value": d.compute_s, "unit": "s",
         "formula": "sum over compute-bound operators of FLOPs / (peak x eff.<kind>)",
         "inputs": {"flops_per_step": d.flops, "peak_flops_per_s": peak, "eff.gemm": e.gemm.value}},
        {"name": "decode.comm_s", "value": d.comm_s, "unit": "s",
         "formula": "per collective: latency + ring wire bytes / (link bw x eff.link); tp: 2 all-reduces per layer",
         "inputs": {"comm_bytes_per_step": d.comm_bytes, "eff.link": e.link.value,
                    "comm.latency_s": e.comm_latency.value}},
        {"name": "tpot_s", "value": r.tpot_s, "unit": "s",
         "formula": "decode step at the mean context S + (G-2)/2 = memory_s + compute_s + comm_s + overhead.step_s",
         "inputs": {"memory_s": d.memory_s, "compute_s": d.compute_s, "comm_s": d.comm_s, "overhead_s": d.overhead_s}},
        {"name": "ideal.tpot_s", "value": r.ideal["tpot_s"], "unit": "s",
         "formula": "sum over operators of max(FLOPs / peak, bytes / mem_bw) + comm bytes / link bw (datasheet peaks)",
         "inputs": {"peak_flops_per_s": peak, "mem_bw_bytes_per_s": bw}},
        {"name": "ttft_s", "value": r.ttft_s, "unit": "s",
         "formula": "prefill of B prompts of S tokens: sum over operators of max(FLOPs/(peak x eff), bytes/(bw x eff)) "
                    "+ comm + overhead",
         "inputs": {"flops": p.flops, "bytes": p.bytes, "memory_s": p.memory_s, "compute_s": p.compute_s,
                    "comm_s": p.comm_s}},
        {"name": "e2e_latency_s", "value": r.e2e_latency_s, "unit": "s", "formula": "ttft_s + (G - 1) x tpot_s",
         "inputs": {"ttft_s": r.ttft_s, "G": r.gen_tokens, "tpot_s": r.tpot_s}},
        {"name": "output_tokens_per_s", "value": r.output_tokens_per_s, "unit": "tokens/s",
         "formula": "B / (mixed step time)" if r.offline else "B x G / e2e_latency_s",
         "inputs": {"B": r.batch, "G": r.gen_tokens, "e2e_latency_s": r.e2e_latency_s}},
        {"name": "mbu", "value": r.mbu, "unit": "fraction", "formula": "decode bytes per step / (tpot_s x mem_bw)",
         "inputs": {"bytes": d.bytes, "tpot_s": r.tpot_s, "mem_bw_bytes_per_s": bw}},
        {"name": "mfu", "value": r.mfu, "unit": "fraction", "formula": "decode FLOPs per step / (tpot_s x peak)",
         "inputs": {"flops": d.flops, "tpot_s": r.tpot_s, "peak_flops_per_s": peak}},
        {"name": "critical_batch", "value": r.critical_batch, "unit": "sequences",
         "formula": "(GEMM weight bytes / (mem_bw x eff.memory)) / (GEMM FLOPs per token / (peak x eff.gemm))",
         "inputs": {"mem_bw_bytes_per_s": bw, "peak_flops_per_s": peak}},
    ]
    return rows


def bound_sentence(r: InferResult) -> str:
    """One line: what bounds the mean decode step, and why (scalar results)."""
    from ridgeline.units import fmt_rate  # noqa: PLC0415

    d = r.decode
    per = f"per device ({r.devices} devices)" if r.devices > 1 else "on the device"
    if r.bound == "memory":
        why = (f"each step moves {d.weight_bytes / 1e9:.2f} GB of weights and {d.kv_bytes / 1e9:.2f} GB of KV {per}: "
               f"{d.memory_s * 1e3:.2f} ms at {fmt_rate(r.hardware.mem_bw_bytes_per_s * r.efficiencies.memory.value)} "
               f"achieved, while its {d.flops / 1e12:.3g} TFLOP would take "
               f"{d.flops / (r.gemm_peak_flops_per_s * r.efficiencies.gemm.value) * 1e3:.2f} ms "
               f"at the achieved peak")
        if r.batch < r.critical_batch:
            why += f"; batch {r.batch:g} is below the critical batch {r.critical_batch:.0f}"
        if r.kv_keeps_memory_bound:
            why += "; KV reads keep it memory-bound at any batch at this context"
    elif r.bound == "compute":
        why = (f"its {d.flops / 1e12:.3g} TFLOP {per} take {d.compute_s * 1e3:.2f} ms, more than the "
               f"{d.memory_s * 1e3:.2f} ms of memory-bound operators; batch {r.batch:g} is above the critical batch "
               f"{r.critical_batch:.0f}")
    else:
        why = (f"tp collectives move {d.comm_bytes / 1e6:.1f} MB per device per step: {d.comm_s * 1e3:.2f} ms, "
               f"more than memory ({d.memory_s * 1e3:.2f} ms) or compute ({d.compute_s * 1e3:.2f} ms)")
    return f"decode is {r.bound}-bound: {why}."
