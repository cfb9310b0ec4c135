// ridgeline web: the train and plan pages' renderers (loaded before app.js, whose helpers they use
// when called: el, svg, card, table, explainDetails, factorsTable, ledgerChart, ledgerLike, fmt*).
"use strict";

// ---------------------------------------------------------------- train
const STEP_COLORS = { compute: "var(--c1)", pipeline: "var(--c5)", comm: "var(--c4)", optimizer: "var(--c2)", overhead: "var(--c7)" };
function stepColor(name) { return STEP_COLORS[name.split(".")[0]] || "var(--c6)"; }

function renderTrain(d) {
  const ex = Object.fromEntries((d.explain || []).map(r => [r.name, r]));
  const s = d.setup, pd = d.per_device;
  const par = `tp ${s.tp}, pp ${s.pp}, cp ${s.cp}, dp ${s.dp}` + (s.ep > 1 ? `, ep ${s.ep}` : "");
  const shard = s.fsdp ? `FSDP ${s.fsdp}` : `ZeRO-${s.zero}`;
  const lora = s.lora_rank ? `, ${s.qlora ? "QLoRA" : "LoRA"} rank ${s.lora_rank} (${s.lora_modules})` : "";
  const head = el("div", { class: "headline", id: "verdict" },
    el("span", { class: "verdict " + (d.fits ? "yes" : "no"), "data-fits": String(d.fits) }, d.fits ? "Fits. " : "Does not fit. "),
    `${d.model} on ${fmtNum(s.gpus)} × ${d.hardware} (${par}; ${shard}), ${s.precision}, ${s.optimizer}, ` +
    `${fmtNum(s.micro_batch)} × ${fmtNum(s.seq)} tokens per micro-batch, global batch ${fmtNum(s.global_batch)}, recompute ${s.recompute}${lora}.`);
  const parts = [head];
  if (d.min_gpus !== undefined)
    parts.push(el("p", { class: "reason", id: "min-gpus", "data-raw": String(d.min_gpus) },
      `The fewest devices that hold the training state: ${fmtNum(d.min_gpus)} (everything sharded at these tp / pp / cp).`));
  if (d.suggestion)
    parts.push(el("p", { class: "reason", id: "suggestion" }, `To fit: ${d.suggestion.change} gives ${fmtBytes(d.suggestion.total_bytes)} per device` +
      (d.suggestion.step_time_s ? ` and a step of ${fmtTime(d.suggestion.step_time_s)}.` : ".")));
  const cards = el("div", { class: "cards" },
    card("memory per device", fmtBytes(pd.total_bytes), "of " + fmtBytes(pd.usable_bytes) + " usable", null, "per_device.total_bytes", pd.total_bytes),
    card("time per step", fmtTime(d.step_time_s), "micro-batches per step: " + fmtNum(s.micro_batches), ex.step_time_s, "step_time_s", d.step_time_s),
    card("throughput", fmtRate(d.tokens_per_s, "tok/s"), fmtRate(d.tokens_per_s_per_device, "tok/s per device"), ex.tokens_per_s, "tokens_per_s", d.tokens_per_s),
    card("MFU", fmtPct(d.mfu), fmtNum(d.tflops_per_device, 4) + " TFLOP/s per device", ex.mfu, "mfu", d.mfu),
    card("HFU", fmtPct(d.hfu), "with recomputation's FLOPs", ex.hfu, "hfu", d.hfu),
    card("pipeline bubble", fmtPct(d.bubble_fraction), "of a step", null, "bubble_fraction", d.bubble_fraction));
  if (d.tokens) {
    cards.append(card("time to train", fmtDays(d.time_to_train_s), fmtNum(d.tokens) + " tokens", null, "time_to_train_s", d.time_to_train_s),
      card("GPU-hours", fmtNum(Math.round(d.gpu_hours)), "devices × hours", null, "gpu_hours", d.gpu_hours),
      card("energy", d.energy_j === null ? "–" : fmtNum(d.energy_j / 3.6e9, 4) + " MWh", "at TDP (an upper bound)", null, "energy_j", d.energy_j));
  }
  parts.push(cards);
  const terms = Object.entries(pd.terms);
  const ledgerTable = table(["term", "GiB", "bytes", "share"], terms.map(([k, v]) => [el("span", {}, el("span", { class: "swatch", style: `background:${trainTermColor(k)}` }), el("code", {}, k)),
    (v / GiB).toFixed(3), fmtNum(v), fmtPct(v / pd.total_bytes)]).concat([[el("b", {}, "total"), el("b", {}, (pd.total_bytes / GiB).toFixed(3)), fmtNum(pd.total_bytes), ""],
    ["usable", (pd.usable_bytes / GiB).toFixed(3), fmtNum(pd.usable_bytes), ""]]), [1, 2, 3]);
  ledgerTable.classList.add("ledger");
  parts.push(el("h2", {}, `Memory per device (${pd.stage} pipeline stage)`), ledgerChart(terms, pd.usable_bytes, trainTermColor), ledgerTable);
  for (const k of ["weights_bytes", "grads_bytes", "optimizer_bytes", "activations_bytes"])
    if (ex["per_device." + k]) parts.push(explainDetails(ex["per_device." + k], `how is ${k.replace("_bytes", "")} computed?`));
  const steps = Object.entries(d.step_terms_s).filter(([, v]) => v > 0);
  parts.push(el("h2", {}, "Where a step's time goes"),
    ledgerLike(steps.map(([k, v]) => [k, v / d.step_time_s, stepColor(k)]), v => fmtPct(v)),
    table(["term", "time", "share"], Object.entries(d.step_terms_s).map(([k, v]) => [el("code", {}, k), fmtTime(v), fmtPct(v / d.step_time_s)]), [1, 2]));
  const comm = Object.entries(d.comm_bytes_per_step || {});
  if (comm.length) parts.push(el("h2", {}, "Bytes communicated per step, per device"), table(["group", "bytes"], comm.map(([k, v]) => [k, fmtBytes(v) + " (" + fmtNum(v) + ")"]), [1]));
  parts.push(el("details", { class: "explain", id: "explain-all" }, el("summary", {}, "Every figure's formula, inputs and factor sources"),
    ...(d.explain || []).map(r => explainDetails(r)), factorsTable(d.factors),
    el("ul", { class: "notes" }, d.notes.map(n => el("li", {}, n)))));
  return parts;
}
function trainTermColor(name) {
  const k = name.split(".")[0];
  return { weights: "var(--c1)", grads: "var(--c2)", optimizer: "var(--c4)", activations: "var(--c3)", buffers: "var(--c5)" }[k] || "var(--c7)";
}
function fmtDays(s) {
  if (s === null || s === undefined) return "–";
  return s >= 86400 ? fmtNum(s / 86400, 3) + " days" : s >= 3600 ? fmtNum(s / 3600, 3) + " h" : fmtTime(s);
}

// ---------------------------------------------------------------- plan
function fmtUSD(x) { return x === null || x === undefined ? "–" : "$" + (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(4)); }
function layoutText(c) { return `tp ${c.tp}, pp ${c.pp}` + (c.ep > 1 ? `, ep ${c.ep}` : ""); }
function configText(c) {
  if (c.mode === "disaggregated")
    return `prefill ${c.prefill.gpu} × ${c.prefill.devices_per_replica} (tp ${c.prefill.tp}) batch ${c.prefill.batch}, ` +
      `decode ${c.decode.gpu} × ${c.decode.devices_per_replica} (tp ${c.decode.tp}) batch ${c.decode.batch}`;
  return `${c.gpu_name} × ${c.devices_per_replica} (${layoutText(c)}), batch ${c.batch}`;
}

function renderPlan(d, q, pareto) {
  const Q = d.query, best = d.configs[0];
  const what = `${Q.model}, ${fmtNum(Q.prompt_tokens)} prompt + ${fmtNum(Q.gen_tokens)} generated tokens, TTFT ≤ ${fmtTime(Q.ttft_slo_s)}, TPOT ≤ ${fmtTime(Q.tpot_slo_s)}` +
    (Q.demand_output_tokens_per_s ? `, ${fmtNum(Q.demand_output_tokens_per_s, 4)} output tokens/s demanded` : "") + `; objective: ${Q.objective}.`;
  const parts = [];
  if (best) {
    parts.push(el("div", { class: "headline", id: "verdict" }, el("span", { class: "verdict yes", "data-feasible": "true" }, "Best: "),
      `${configText(best)}, ${best.weights} weights, ${best.kv_dtype} KV, ${best.engine}. `, el("span", { class: "help" }, what)));
    parts.push(el("p", { class: "reason", id: "why-best" }, d.why_best));
    parts.push(el("div", { class: "cards" },
      card("USD per million output tokens", fmtUSD(best.cost_per_million_output_tokens), fmtUSD(best.cost_per_million_tokens) + " per million tokens (prompt + generated)", null, "configs.0.cost_per_million_output_tokens", best.cost_per_million_output_tokens),
      card("devices", fmtNum(best.devices), best.replicas ? `${fmtNum(best.replicas)} replicas of ${best.devices_per_replica}` : "one replica", null, "configs.0.devices", best.devices),
      card("time to first token", fmtTime(best.ttft_s), fmtPct(best.ttft_margin) + " of the SLO left", null, "configs.0.ttft_s", best.ttft_s),
      card("time per output token", fmtTime(best.tpot_s), fmtPct(best.tpot_margin) + " of the SLO left", null, "configs.0.tpot_s", best.tpot_s),
      card("throughput per device", fmtRate(best.output_tokens_per_s_per_device, "tok/s"), fmtRate(best.tokens_per_s_per_user, "tok/s per user"), null, "configs.0.output_tokens_per_s_per_device", best.output_tokens_per_s_per_device),
      card("power", best.power_w === null ? "–" : fmtNum(best.power_w / 1e3, 4) + " kW", "devices × TDP (an upper bound)", null, "configs.0.power_w", best.power_w)));
  } else {
    const m = d.nearest_miss;
    parts.push(el("div", { class: "headline", id: "verdict" }, el("span", { class: "verdict no", "data-feasible": "false" }, "Nothing meets the SLO. "),
      m ? `Nearest miss: ${configText(m)}, ${m.weights} weights: TTFT ${fmtTime(m.ttft_s)}, TPOT ${fmtTime(m.tpot_s)}. ` : "", el("span", { class: "help" }, what)));
    if (d.to_make_feasible.length) parts.push(el("h2", {}, "To make it feasible"), el("ul", { id: "to-make-feasible" }, d.to_make_feasible.map(h => el("li", {}, h))));
  }
  if (d.configs.length) {
    parts.push(el("h2", {}, `The ${d.configs.length} best configurations`), table(
      ["#", "devices", "layout", "formats", "engine", "batch", "TTFT", "TPOT", "tok/s per device", "USD per M out", "batch stops at"],
      d.configs.map((c, i) => [String(i + 1), el("td", { class: "nowrap" }, c.mode === "disaggregated" ? `${c.prefill.gpu} × ${c.prefill.devices_per_replica} + ${c.decode.gpu} × ${c.decode.devices_per_replica}` : `${c.gpu} × ${c.devices}`),
        el("td", { class: "nowrap" }, c.mode === "disaggregated" ? `prefill tp ${c.prefill.tp} batch ${c.prefill.batch}, decode ${layoutText(c.decode)}` : layoutText(c)),
        `${c.weights} / ${c.kv_dtype}`, c.engine, fmtNum(c.batch), fmtTime(c.ttft_s), fmtTime(c.tpot_s), fmtNum(c.output_tokens_per_s_per_device, 4),
        fmtUSD(c.cost_per_million_output_tokens), c.batch_limit]), [0, 5, 6, 7, 8, 9]));
  }
  if (pareto) parts.push(el("h2", {}, "Throughput per device against tokens/s per user"), paretoChart(pareto));
  const prices = new Map(d.configs.concat(d.nearest_miss ? [d.nearest_miss] : []).map(c => [c.gpu, c]));
  parts.push(el("p", { class: "help", id: "search-stats" },
    `Searched ${fmtNum(d.configs_evaluated)} configurations (${fmtNum(d.candidates)} candidates: ${Q.gpus.length} device types, ` +
    `up to ${Q.max_devices_per_replica} per replica, weights ${Q.weights.join("/")}, KV ${Q.kv_dtypes.join("/")}, engines ${Q.engines.join("/")}) in ${fmtTime(d.search_time_s)}.`));
  parts.push(el("details", { class: "explain", id: "sources" }, el("summary", {}, "Prices and their sources, notes"),
    table(["device", "USD per device-hour", "source"], [...prices.values()].map(c => [c.gpu, c.price_usd_per_device_hour === null ? "–" : fmtUSD(c.price_usd_per_device_hour),
      el("td", { class: "src" }, c.price_source)]), [1], [25, 20, 55]),
    el("ul", { class: "notes" }, d.notes.map(n => el("li", {}, n)))));
  return parts;
}

// Log-log chart: each device type's Pareto frontier (thin), the frontier over all (thick), the TPOT
// SLO (a vertical line: configurations right of it meet it) and the chosen configuration. Hover or
// the arrow keys (along the overall frontier) show the point's values with their units.
function paretoChart(p) {
  const W = chartWidth(), H = W < 500 ? 280 : 340, L = 56, R = 14, T = 12, B = 36;
  const all = Object.values(p.per_device).flat().concat(p.chosen ? [[p.chosen.tokens_per_s_per_user, p.chosen.output_tokens_per_s_per_device]] : []);
  const wrap = el("div", { class: "chart", id: "pareto-chart" });
  if (!all.length) { wrap.append(el("p", { class: "help" }, "No configuration was evaluated.")); return wrap; }
  const xsAll = all.map(a => a[0]).concat([p.slo_tokens_per_s_per_user]), ysAll = all.map(a => a[1]);
  // log ranges padded by 8 % of their span (at least 0.05 decade) each side
  const pad = (a, b) => { const m = Math.max((b - a) * 0.08, 0.05); return [a - m, b + m]; };
  const [x0, x1] = pad(Math.log10(Math.min(...xsAll)), Math.log10(Math.max(...xsAll)));
  const [y0, y1] = pad(Math.log10(Math.min(...ysAll)), Math.log10(Math.max(...ysAll)));
  // ticks at 1, 2 and 5 x 10^k inside a range (1 and 10^k only when the range spans 3 decades or more)
  const ticks = (a, b) => { const out = []; for (let e = Math.floor(a); e <= Math.ceil(b); e++) for (const m of (b - a >= 3 ? [1] : [1, 2, 5])) { const v = m * 10 ** e; if (Math.log10(v) >= a && Math.log10(v) <= b) out.push(v); } return out; };
  const X = v => L + (Math.log10(v) - x0) / Math.max(x1 - x0, 1e-9) * (W - L - R);
  const Y = v => T + (1 - (Math.log10(v) - y0) / Math.max(y1 - y0, 1e-9)) * (H - T - B);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", tabindex: 0, id: "pareto-svg",
    "aria-label": "Output tokens/s per device against output tokens/s per user, log scales: each device type's Pareto frontier, the TPOT SLO and the chosen configuration; use the arrow keys to walk the overall frontier" });
  for (const v of ticks(x0, x1)) {
    s.append(svg("line", { class: "axis", x1: X(v), x2: X(v), y1: T, y2: H - B, "stroke-opacity": 0.5 }));
    s.append(svg("text", { x: X(v), y: H - B + 14, "text-anchor": "middle" }, fmtNum(v)));
  }
  for (const v of ticks(y0, y1)) {
    s.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: Y(v), y2: Y(v), "stroke-opacity": 0.5 }));
    s.append(svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, fmtNum(v)));
  }
  s.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, "output tokens/s per user (1 / TPOT)"));
  s.append(svg("text", { x: 12, y: T + 2, transform: `rotate(90 12 ${T + 2})` }, "tokens/s per device"));
  const colors = ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7"];
  // a frontier holds y_i on (x_{i-1}, x_i]: the most per device at x_i or more per user (as plan --plot's step "pre")
  const step = pts => pts.map((a, i) => (i ? `L${X(pts[i - 1][0]).toFixed(1)} ${Y(a[1]).toFixed(1)} L` : "M") + X(a[0]).toFixed(1) + " " + Y(a[1]).toFixed(1)).join(" ");
  const legend = el("div", { class: "legend" });
  const pts = []; // every point the tip can show: [x, y, device]
  Object.entries(p.per_device).forEach(([gpu, f], k) => {
    const c = `var(${colors[k % colors.length]})`;
    s.append(svg("path", { d: step(f), fill: "none", stroke: c, "stroke-width": 1.5, "stroke-opacity": 0.85, "stroke-dasharray": k >= colors.length ? "4 3" : "" }));
    legend.append(el("span", {}, el("span", { class: "swatch", style: `background:${c}` }), gpu));
    for (const a of f) pts.push([a[0], a[1], gpu]);
  });
  if (p.frontier.length) s.append(svg("path", { d: step(p.frontier), fill: "none", stroke: "currentColor", "stroke-width": 2.5, id: "pareto-frontier" }));
  const sx = X(p.slo_tokens_per_s_per_user);
  s.append(svg("line", { x1: sx, x2: sx, y1: T, y2: H - B, stroke: "var(--bad)", "stroke-width": 1.5, "stroke-dasharray": "8 4", id: "slo-line" }));
  s.append(svg("text", { x: sx + 4, y: T + 12 }, `TPOT SLO: ${fmtNum(p.slo_tokens_per_s_per_user, 3)} tok/s per user`));
  if (p.chosen) {
    const cx = X(p.chosen.tokens_per_s_per_user), cy = Y(p.chosen.output_tokens_per_s_per_device), r = 8;
    const star = [...Array(10)].map((_, i) => { const a = Math.PI / 5 * i - Math.PI / 2, rr = i % 2 ? r * 0.45 : r; return `${(cx + rr * Math.cos(a)).toFixed(1)},${(cy + rr * Math.sin(a)).toFixed(1)}`; }).join(" ");
    s.append(svg("polygon", { points: star, fill: "var(--focus)", stroke: "currentColor", "stroke-width": 1, id: "chosen-point" }));
    pts.push([p.chosen.tokens_per_s_per_user, p.chosen.output_tokens_per_s_per_device, (p.chosen.feasible ? "chosen: " : "nearest miss: ") + `${p.chosen.gpu} tp${p.chosen.tp} batch ${p.chosen.batch}`]);
  }
  const cursor = svg("circle", { r: 5, fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-opacity": 0 });
  s.append(cursor);
  const tip = el("div", { class: "tip", hidden: true, id: "pareto-tip" });
  function show(a) {
    cursor.setAttribute("cx", X(a[0])); cursor.setAttribute("cy", Y(a[1])); cursor.setAttribute("stroke-opacity", 1);
    tip.textContent = `${a[2]}: ${fmtNum(a[0], 4)} tokens/s per user, ${fmtNum(a[1], 4)} tokens/s per device`;
    const bb = s.getBoundingClientRect();
    tip.hidden = false;
    const half = tip.offsetWidth / 2; // keep the tip inside the chart
    tip.style.left = Math.min(Math.max(X(a[0]) * bb.width / W, half), Math.max(bb.width - half, half)) + "px";
    tip.style.top = (Y(a[1]) * bb.height / H + 2) + "px";
  }
  s.addEventListener("mousemove", ev => {
    const bb = s.getBoundingClientRect();
    const px = (ev.clientX - bb.left) * W / bb.width, py = (ev.clientY - bb.top) * H / bb.height;
    let best = null, bd = Infinity;
    for (const a of pts) { const dd = (X(a[0]) - px) ** 2 + (Y(a[1]) - py) ** 2; if (dd <= bd) { bd = dd; best = a; } } // ties: the later (the chosen point is last)
    if (best) show(best);
  });
  s.addEventListener("mouseleave", () => { tip.hidden = true; cursor.setAttribute("stroke-opacity", 0); });
  let idx = -1;
  s.addEventListener("keydown", ev => {
    if (!p.frontier.length || (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft")) return;
    ev.preventDefault();
    idx = Math.max(0, Math.min(p.frontier.length - 1, idx + (ev.key === "ArrowRight" ? 1 : -1)));
    show(p.frontier[idx]);
  });
  s.addEventListener("blur", () => { tip.hidden = true; });
  legend.append(el("span", {}, "thick: the frontier over all; red dashes: the TPOT SLO (right of it meets it); star: " + (p.chosen && !p.chosen.feasible ? "the nearest miss" : "the chosen configuration") +
    (p.chosen && p.chosen.mode === "disaggregated" ? " (disaggregated: its decode pool; the lines are aggregated configurations)" : "")),
    el("span", {}, p.meets_ttft_only ? "configurations meeting the TTFT SLO" : "every configuration evaluated (none meets the TTFT SLO)"));
  wrap.append(s, tip, legend);
  return wrap;
}
