// ridgeline web: reads the page's state from the URL, asks the JSON API (same numbers as the CLI's
// --json), and draws the answer. No libraries, no external requests. Charts are inline SVG.
"use strict";

const PAGE = document.body.dataset.page;
const API = { fit: "/api/fit", infer: "/api/infer", train: "/api/train", plan: "/api/plan", model: "/api/model", hardware: "/api/hardware" };
const CLI = { fit: "fit", infer: "infer", train: "train", plan: "plan", model: "model", hardware: "hardware" };
const BY_MODEL = ["fit", "infer", "train", "plan"]; // pages whose first argument is a model
const SVGNS = "http://www.w3.org/2000/svg"; // XML namespace name, not a request
const form = document.getElementById("form");
const result = document.getElementById("result");
const timing = document.getElementById("timing");

// ---------------------------------------------------------------- formatting (display edge only)
const GiB = 2 ** 30;
function fmtBytes(b) {
  if (b === null || b === undefined) return "–";
  const a = Math.abs(b);
  if (a >= 0.1 * GiB) return (b / GiB).toFixed(2) + " GiB";
  if (a >= 2 ** 20) return (b / 2 ** 20).toFixed(1) + " MiB";
  if (a >= 1024) return (b / 1024).toFixed(1) + " KiB";
  return b.toFixed(0) + " B";
}
function fmtGB(b) { return b === null || b === undefined ? "–" : (b / 1e9).toFixed(2) + " GB"; }
function fmtTime(s) {
  if (s === null || s === undefined) return "–";
  if (s === 0) return "0";
  const a = Math.abs(s);
  if (a >= 1) return s.toFixed(3) + " s";
  if (a >= 1e-3) return (s * 1e3).toFixed(2) + " ms";
  return (s * 1e6).toFixed(1) + " µs";
}
function fmtNum(x, d = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return x.toLocaleString("en-US");
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(d - 1);
  return Number(x.toPrecision(d + 1)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}
function fmtSig(x) { return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3); }
function fmtRate(x, unit) { return x === null || x === undefined ? "–" : fmtNum(x, 4) + " " + unit; }
function fmtPct(x) { return x === null || x === undefined ? "–" : (x * 100).toFixed(1) + " %"; }
function fmtFlops(x) { return x === null || x === undefined ? "–" : (x / 1e12).toFixed(1) + " TFLOP/s"; }
function fmtUnit(v, unit) {
  if (unit === "s") return fmtTime(v);
  if (unit === "bytes") return fmtBytes(v) + " (" + fmtNum(v) + " B)";
  if (unit === "fraction") return fmtPct(v);
  return fmtNum(v) + " " + unit;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v; // through the CSSOM: the CSP refuses style attributes
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
// widths (percent per column) give a fixed layout: long source texts wrap inside their column
function table(head, rows, numeric = [], widths = null) {
  const t = el("table", { class: widths ? "fixed" : null },
    widths ? el("colgroup", {}, widths.map(w => el("col", { style: `width:${w}%` }))) : null, el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: numeric.includes(i) ? "n" : null, scope: "col" }, h)))));
  const tb = el("tbody");
  for (const r of rows) tb.append(el("tr", {}, r.map((c, i) => c instanceof Node && c.tagName === "TD" ? c : el("td", { class: numeric.includes(i) ? "n" : null }, c))));
  t.append(tb);
  return el("div", { class: "tablewrap" }, t);
}
// key/raw: the JSON key and its exact value, kept on the element (tests compare them with the API)
function card(label, value, sub, explainRow, key, raw) {
  const c = el("div", { class: "card", "data-key": key || null },
    el("div", { class: "k" }, label), el("div", { class: "v", "data-raw": raw === undefined || raw === null ? null : String(raw) }, value));
  if (sub) c.append(el("div", { class: "s" }, sub));
  if (explainRow) c.append(explainDetails(explainRow, "how is this computed?"));
  return c;
}
function explainDetails(row, summary) {
  const ins = Object.entries(row.inputs || {}).map(([k, v]) => k + " = " + (typeof v === "number" ? fmtNum(v, 4) : v)).join(", ");
  return el("details", { class: "explain", "data-explain": row.name },
    el("summary", {}, summary || row.name),
    el("div", {}, el("b", {}, row.name + " = "), fmtUnit(row.value, row.unit)),
    el("div", {}, el("b", {}, "formula: "), row.formula),
    el("div", {}, el("b", {}, "inputs: "), ins || "–"));
}
function factorsTable(factors) {
  return table(["factor", "value", "unit", "source"],
    factors.map(f => [el("code", {}, f.name), fmtNum(f.value, 4), f.unit, el("td", { class: "src" }, f.source)]), [1],
    [24, 13, 18, 45]);
}

// ---------------------------------------------------------------- state <-> URL <-> form
function fieldNames() { return [...form.querySelectorAll("[name]:not([data-local])")].map(e => e.name); }
function pastedBody() {
  const c = form.elements.config, h = form.elements.hardware;
  if (!c || (!c.value.trim() && !h.value.trim())) return null;
  return JSON.stringify({ config: c.value, hardware: h.value });
}
function readURL() {
  const q = new URLSearchParams(location.search);
  for (const name of fieldNames()) {
    const e = form.elements[name];
    const v = q.get(name) ?? q.get(name.replace(/_/g, "-"));
    if (v !== null) e.value = v;
  }
  // open "More options" when one of its fields is set
  for (const d of form.querySelectorAll("details.more"))
    if ([...d.querySelectorAll("[name]")].some(e => q.get(e.name))) d.open = true;
}
function formQuery() {
  const q = new URLSearchParams();
  for (const name of fieldNames()) {
    const e = form.elements[name];
    const v = e.value.trim();
    if (!v) continue;
    if (e.tagName === "SELECT" && v === e.options[0].value) continue; // the default
    q.set(name, v);
  }
  return q;
}
function cliLine(q) {
  const parts = ["ridgeline", CLI[PAGE]];
  const pos = BY_MODEL.includes(PAGE) ? "model" : "name";
  const own = form.elements.config && form.elements.config.value.trim(), dev = form.elements.hardware && form.elements.hardware.value.trim();
  if (own) parts.push("your-config.json"); else if (q.get(pos)) parts.push(q.get(pos));
  if (dev) parts.push("--gpu", "your-device.toml");
  for (const [k, v] of q) {
    if (k === pos || (dev && k === "gpu")) continue;
    const flag = "--" + k.replace(/_/g, "-");
    const sel = form.elements[k] && form.elements[k].tagName === "SELECT" && form.elements[k].options[0].value === "false";
    if (sel) { if (v === "true") parts.push(flag); } // a boolean flag
    else parts.push(flag, v);
  }
  return parts.join(" ");
}

function clearErrors() {
  for (const f of form.querySelectorAll(".field.invalid")) f.classList.remove("invalid");
  for (const p of form.querySelectorAll(".err")) { p.hidden = true; p.textContent = ""; }
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}
function showError(err) {
  // beside the field it names; otherwise under the form. One line, never a trace.
  // the field the error names: its own field, else the first option the message names
  const named = /--([a-z][a-z0-9-]*)/.exec(err.error || "");
  let name = (err.field || (named ? named[1] : "")).replace(/^--/, "").replace(/-/g, "_");
  if (name && !form.elements[name] && named) name = named[1].replace(/-/g, "_");
  if (!BY_MODEL.includes(PAGE) && name === "model") name = "name";
  if (PAGE === "hardware" && name === "gpu") name = "name";
  if (name === "sweep") name = "";
  if (!name && /unknown GPU/.test(err.error || "")) name = form.elements.gpu ? "gpu" : "name";
  let box = null;
  if (name && form.elements[name]) {
    box = document.getElementById("e-" + name);
    const field = form.querySelector(`.field[data-field="${name}"]`);
    field.classList.add("invalid");
    form.elements[name].setAttribute("aria-invalid", "true");
    const det = field.closest("details"); if (det) det.open = true;
  } else if (/config|field '/.test(err.error) && form.elements.model) {
    box = document.getElementById("e-model");
    form.querySelector('.field[data-field="model"]').classList.add("invalid");
  }
  box = box || document.getElementById("e-form");
  box.textContent = err.error;
  box.hidden = false;
}

// ---------------------------------------------------------------- fetching
let inflight = null;
let seq = 0;
async function getJSON(url, signal, body) {
  const t0 = performance.now();
  const init = { signal, headers: { Accept: "application/json" } };
  if (body) { init.method = "POST"; init.body = body; init.headers["Content-Type"] = "application/json"; }
  const r = await fetch(url, init);
  const data = await r.json();
  const st = /dur=([\d.]+)/.exec(r.headers.get("Server-Timing") || "");
  return { ok: r.ok, body: data, ms: performance.now() - t0, serverMs: st ? parseFloat(st[1]) : null };
}

async function run(pushState) {
  const q = formQuery();
  const qs = q.toString();
  const url = location.pathname + (qs ? "?" + qs : "");
  if (url !== location.pathname + location.search) history[pushState ? "pushState" : "replaceState"](null, "", url);
  const apiUrl = PAGE === "model" && !q.get("name") ? "/api/models" : API[PAGE] + (qs ? "?" + qs : "");
  document.getElementById("api-link").href = apiUrl;
  document.getElementById("api-link").textContent = apiUrl;
  if (inflight) inflight.abort();
  inflight = new AbortController();
  const my = ++seq;
  document.body.classList.add("busy");
  try {
    const t0 = performance.now();
    const extraParam = { infer: "explain=1", train: "explain=1", plan: "pareto=1" }[PAGE];
    const main = extraParam ? apiUrl + (qs ? "&" : "?") + extraParam : apiUrl;
    const body = pastedBody();
    const jobs = [getJSON(main, inflight.signal, body)];
    if (PAGE === "infer") {
      const sq = new URLSearchParams(q); sq.set("sweep", "batch=1:1024"); sq.delete("explain");
      jobs.push(getJSON(API.infer + "?" + sq.toString(), inflight.signal, body));
      const mq = new URLSearchParams(q); mq.set("batch", "max"); // the most requests the KV room holds
      jobs.push(getJSON(API.infer + "?" + mq.toString(), inflight.signal, body));
    }
    const res = await Promise.all(jobs);
    if (my !== seq) return;
    clearErrors();
    const first = res[0];
    if (!first.ok) {
      showError(first.body);
      result.replaceChildren(el("p", { class: "lede" }, "Fix the field marked above to see the answer."));
    } else {
      render(first.body, q, res[1] && res[1].ok ? res[1].body : null, res[2] && res[2].ok ? res[2].body.batch : null);
    }
    const ms = performance.now() - t0;
    const server = res.map(r => r.serverMs || 0).reduce((a, b) => a + b, 0);
    timing.textContent = `answered in ${ms.toFixed(0)} ms (server ${server.toFixed(1)} ms)`;
    document.body.dataset.lastMs = ms.toFixed(1);
    document.body.dataset.serverMs = server.toFixed(2);
  } catch (e) {
    if (e.name === "AbortError") return;
    document.getElementById("e-form").textContent = "the local server did not answer: " + e.message;
    document.getElementById("e-form").hidden = false;
  } finally {
    if (my === seq) { document.body.classList.remove("busy"); document.body.dataset.state = "done"; }
  }
}

function render(d, q, extra, maxBatch) {
  const out = { fit: renderFit, infer: renderInfer, train: renderTrain, plan: renderPlan, model: renderModel, hardware: renderHardware }[PAGE](d, q, PAGE === "plan" ? d.pareto : extra, maxBatch);
  const cmd = el("div", {}, el("h2", {}, "The same answer in a terminal"), el("div", { class: "cmd mono" }, PAGE === "model" && !q.get("name") ? "ridgeline models" : cliLine(q)));
  result.replaceChildren(...out, cmd);
}

// ---------------------------------------------------------------- fit
const TERM_COLORS = { weights: "--c1", kv_cache: "--c2", activations: "--c3", overhead: "--c5", engine: "--c4" };
function termColor(name) {
  const k = Object.keys(TERM_COLORS).find(k => name.startsWith(k));
  return `var(${TERM_COLORS[k] || "--c7"})`;
}
function renderFit(d) {
  const pd = d.per_device;
  const plan = d.plan.tp * d.plan.pp > 1 ? ` × ${d.plan.tp * d.plan.pp} (tp ${d.plan.tp}, pp ${d.plan.pp})` : "";
  const head = el("div", { class: "headline", id: "verdict" },
    el("span", { class: "verdict " + (d.fits ? "yes" : "no"), "data-fits": String(d.fits) }, d.fits ? "Fits. " : "Does not fit. "),
    `${d.model.name} (${fmtNum(d.model.params_total)} parameters) on ${d.hardware.name}${plan}, ` +
    `${d.precision.weights} weights, ${d.precision.kv} KV, batch ${d.workload.batch} × ${fmtNum(d.workload.context_tokens)} tokens` +
    (d.engine !== "ideal" ? `, ${d.engine} memory rule` : "") + ".");
  const md = d.min_devices === null ? "more than 4096" :
    `${d.min_devices}` + (d.min_devices > 1 ? ` (tp ${d.min_devices_plan.tp}, pp ${d.min_devices_plan.pp})` : "");
  const cards = el("div", { class: "cards" },
    card("per-device total", fmtBytes(pd.total_bytes), fmtGB(pd.total_bytes) + " of " + fmtBytes(pd.capacity_bytes) + " capacity", null, "per_device.total_bytes", pd.total_bytes),
    card("headroom", fmtBytes(d.headroom_bytes), d.headroom_bytes < 0 ? "short by " + fmtGB(-d.headroom_bytes) : fmtGB(d.headroom_bytes) + " free", null, "headroom_bytes", d.headroom_bytes),
    card("fewest devices", md, "that hold this workload", null, "min_devices", d.min_devices),
    card("KV pool per device", fmtBytes(d.kv_pool_bytes), d.engine === "ideal" ? "room beside everything else" : d.engine + "'s allocation", null, "kv_pool_bytes", d.kv_pool_bytes),
    card("KV room", fmtNum(d.max_kv_tokens) + " tokens", fmtNum(d.max_concurrency) + " requests at once", null, "max_kv_tokens", d.max_kv_tokens),
    card("KV per token", fmtNum(d.kv_bytes_per_token) + " B", fmtBytes(d.kv_bytes_per_sequence) + " per sequence", null, "kv_bytes_per_token", d.kv_bytes_per_token));
  const terms = Object.entries(pd.terms);
  const ledgerTable = table(["term", "GiB", "bytes", "share"], terms.map(([k, v]) => [el("span", {}, el("span", { class: "swatch", style: `background:${termColor(k)}` }), el("code", {}, k)),
      (v / GiB).toFixed(3), fmtNum(v), fmtPct(v / pd.total_bytes)]).concat([[el("b", {}, "total"), el("b", {}, (pd.total_bytes / GiB).toFixed(3)), fmtNum(pd.total_bytes), ""],
      ["capacity (" + d.hardware.capacity_basis + ")", (pd.capacity_bytes / GiB).toFixed(3), fmtNum(pd.capacity_bytes), ""]]), [1, 2, 3]);
  ledgerTable.classList.add("ledger");
  const ledger = [el("h2", {}, "Memory ledger of the busiest device"), ledgerChart(terms, pd.capacity_bytes), ledgerTable];
  const parts = [head, cards, ...ledger];
  if (d.engine_allocation) {
    const a = d.engine_allocation;
    const rows = Object.entries(a).filter(([k, v]) => typeof v !== "object" || v === null)
      .map(([k, v]) => [el("code", {}, k), typeof v === "number" ? (k.endsWith("_bytes") ? fmtBytes(v) + " (" + fmtNum(v) + ")" : fmtNum(v)) : String(v)]);
    parts.push(el("h2", {}, `Engine profile: ${a.engine}`), el("p", {}, a.rule), table(["field", "value"], rows, [1]));
  }
  parts.push(el("details", { class: "explain", id: "sources" }, el("summary", {}, "Where these numbers come from (factors, sources, notes)"),
    el("p", {}, `Model: ${d.model.source}. Capacity: ${d.hardware.memory_source}.`),
    factorsTable(d.factors), el("ul", { class: "notes" }, d.notes.map(n => el("li", {}, n)))));
  return parts;
}

function chartWidth() { return Math.max(320, Math.min(900, (result.clientWidth || 800) - 14)); }
function ledgerChart(terms, capacity, colorOf = termColor) {
  const total = terms.reduce((a, [, v]) => a + v, 0);
  const W = chartWidth(), H = 54, scale = W / Math.max(total, capacity);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H + 18}`, role: "img", "aria-label": `ledger: ${fmtBytes(total)} of ${fmtBytes(capacity)}` });
  const g = svg("g", { class: "bar" });
  let x = 0;
  const wrap = el("div", { class: "chart", id: "ledger-chart" });
  const tip = el("div", { class: "tip", hidden: true });
  for (const [k, v] of terms) {
    const w = Math.max(v * scale, 0);
    const r = svg("rect", { x: x.toFixed(2), y: 4, width: w.toFixed(2), height: H - 8, fill: colorOf(k), tabindex: 0,
      "aria-label": `${k}: ${fmtBytes(v)}` });
    const show = () => {
      tip.textContent = `${k}: ${fmtBytes(v)} (${fmtNum(v)} bytes, ${fmtPct(v / total)})`;
      const bb = s.getBoundingClientRect();
      tip.style.left = ((+r.getAttribute("x") + w / 2) * bb.width / W + 6) + "px"; tip.style.top = "8px"; tip.hidden = false;
    };
    r.addEventListener("mouseenter", show); r.addEventListener("focus", show);
    r.addEventListener("mouseleave", () => { tip.hidden = true; }); r.addEventListener("blur", () => { tip.hidden = true; });
    g.append(r); x += w;
  }
  s.append(g);
  const cx = capacity * scale;
  s.append(svg("line", { x1: cx, x2: cx, y1: 0, y2: H, stroke: "currentColor", "stroke-width": 2, "stroke-dasharray": "4 3" }));
  s.append(svg("text", { x: Math.min(cx, W - 4), y: H + 14, "text-anchor": cx > W - 120 ? "end" : "middle" }, `capacity ${fmtBytes(capacity)}`));
  wrap.append(s, tip);
  return wrap;
}

// ---------------------------------------------------------------- infer
function renderInfer(d, q, sweep, maxBatch) {
  const ex = Object.fromEntries((d.explain || []).map(r => [r.name, r]));
  const dev = d.plan.devices > 1 ? ` × ${d.plan.devices} (tp ${d.plan.tp}, pp ${d.plan.pp}, ep ${d.plan.ep})` : "";
  const head = el("div", { class: "headline" },
    `${d.model.name} on ${d.hardware.name}${dev}: ${d.precision.weights} weights, ${d.precision.kv} KV, ` +
    `batch ${fmtNum(d.batch)}${d.offline ? " (offline max throughput)" : ""}, ${fmtNum(d.prompt_tokens)} prompt + ${fmtNum(d.gen_tokens)} generated tokens.`);
  const ideal = d.ideal;
  const cards = el("div", { class: "cards" },
    card("time to first token", fmtTime(d.ttft_s), "ideal " + fmtTime(ideal.ttft_s), ex.ttft_s, "ttft_s", d.ttft_s),
    card("time per output token", fmtTime(d.tpot_s), "ideal " + fmtTime(ideal.tpot_s), ex.tpot_s, "tpot_s", d.tpot_s),
    card("end-to-end latency", fmtTime(d.e2e_latency_s), "ideal " + fmtTime(ideal.e2e_latency_s), ex.e2e_latency_s, "e2e_latency_s", d.e2e_latency_s),
    card("throughput", fmtRate(d.output_tokens_per_s, "tok/s"), fmtRate(d.output_tokens_per_s_per_device, "tok/s per device"), ex.output_tokens_per_s, "output_tokens_per_s", d.output_tokens_per_s),
    card("bandwidth use (MBU)", fmtPct(d.mbu), "of peak " + (d.hardware.mem_bw_bytes_per_s / 1e12).toFixed(2) + " TB/s", ex.mbu, "mbu", d.mbu),
    card("FLOP use (MFU)", fmtPct(d.mfu), "decode; prefill " + fmtPct(d.prefill_mfu), ex.mfu, "mfu", d.mfu),
    card("critical batch", d.critical_batch === null ? "∞" : fmtNum(Math.round(d.critical_batch)), "decode turns compute-bound above it", ex.critical_batch, "critical_batch", d.critical_batch),
    card("decode bound", d.bound, "prefill: " + d.prefill_bound, ex["decode.memory_s"], "bound", d.bound));
  const reason = el("p", { class: "reason", id: "bound-reason" }, d.bound_reason);
  const share = Object.entries(d.wait_share).map(([k, v]) => [k, v]);
  const shareChart = shareBar(share);
  const ph = (p) => [fmtTime(p.time_s), fmtTime(p.ideal_time_s), fmtTime(p.memory_s), fmtTime(p.compute_s), fmtTime(p.comm_s), fmtTime(p.overhead_s), fmtSig(p.flops / 1e12), fmtSig(p.bytes / 1e9) + " GB"];
  const phases = table(["phase", "time", "ideal", "memory", "compute", "comm", "overhead", "TFLOP", "bytes"],
    [["prefill", ...ph(d.prefill)], ["decode", ...ph(d.decode)]], [1, 2, 3, 4, 5, 6, 7, 8]);
  const parts = [head, cards, reason, el("h2", {}, "Where a decode step's time goes"), shareChart,
    el("p", { class: "help" }, "prefill: all B prompts at once; decode: the mean step. Times per phase, work per device."), phases];
  if (sweep) parts.push(el("h2", {}, "Throughput and time per output token against batch"), sweepChart(sweep, d.batch, maxBatch));
  parts.push(el("details", { class: "explain", id: "explain-all" }, el("summary", {}, "Every figure's formula, inputs and factor sources"),
    ...(d.explain || []).map(r => explainDetails(r)), factorsTable(d.factors),
    el("ul", { class: "notes" }, d.notes.map(n => el("li", {}, n)))));
  return parts;
}

function shareBar(share) {
  const colors = { memory: "var(--c1)", compute: "var(--c2)", communication: "var(--c4)", overhead: "var(--c5)" };
  return ledgerLike(share.map(([k, v]) => [k, v, colors[k]]), v => fmtPct(v));
}
function ledgerLike(items, fmt) {
  const W = chartWidth(), H = 30;
  const wrap = el("div", { class: "chart" });
  const tip = el("div", { class: "tip", hidden: true });
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": items.map(([k, v]) => `${k} ${fmt(v)}`).join(", ") });
  const g = svg("g", { class: "bar" });
  let x = 0;
  for (const [k, v, c] of items) {
    const w = Math.max(v, 0) * W;
    if (w <= 0) continue;
    const r = svg("rect", { x, y: 2, width: w, height: H - 4, fill: c, tabindex: 0, "aria-label": `${k}: ${fmt(v)}` });
    const x0 = x;
    const show = () => { const bb = s.getBoundingClientRect(); tip.textContent = `${k}: ${fmt(v)}`; tip.style.left = ((x0 + w / 2) * bb.width / W + 6) + "px"; tip.style.top = "6px"; tip.hidden = false; };
    r.addEventListener("mouseenter", show); r.addEventListener("focus", show);
    r.addEventListener("mouseleave", () => { tip.hidden = true; }); r.addEventListener("blur", () => { tip.hidden = true; });
    g.append(r); x += w;
  }
  s.append(g);
  const legend = el("div", { class: "legend" }, items.map(([k, v, c]) => el("span", {}, el("span", { class: "swatch", style: `background:${c}` }), `${k} ${fmt(v)}`)));
  wrap.append(s, tip, legend);
  return wrap;
}

// A two-axis line chart over log2(batch): throughput (left) and TPOT (right). Hover or arrow keys
// move a cursor; the tip shows each value with its unit.
function sweepChart(sw, current, maxBatch) {
  const xs = sw.results.map(r => r.batch);
  const tps = sw.results.map(r => r.output_tokens_per_s);
  const tpot = sw.results.map(r => r.tpot_s * 1e3);
  const W = chartWidth(), H = W < 500 ? 260 : 300, L = 56, R = 48, T = 12, B = 34;
  const lx = v => Math.log2(v);
  const x0 = lx(xs[0]), x1 = lx(xs[xs.length - 1]);
  const X = v => L + (lx(v) - x0) / Math.max(x1 - x0, 1e-9) * (W - L - R);
  // a round top (1, 2, 4 or 8 x 10^k) so that the quarter ticks are round numbers
  const nice = v => { const p = 10 ** Math.floor(Math.log10(v || 1)); return [1, 2, 4, 8, 10].find(m => m * p >= v) * p; };
  const ymax1 = nice(Math.max(...tps) * 1.03), ymax2 = nice(Math.max(...tpot) * 1.03);
  const Y1 = v => T + (1 - v / ymax1) * (H - T - B), Y2 = v => T + (1 - v / ymax2) * (H - T - B);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", tabindex: 0, id: "sweep-svg",
    "aria-label": "Throughput (tokens/s) and time per output token (ms) against batch; use the arrow keys to read values" });
  s.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (let i = 0; i <= 4; i++) {
    const f = i / 4, y = T + (1 - f) * (H - T - B);
    s.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: y, y2: y, "stroke-opacity": 0.5 }));
    s.append(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, fmtNum(ymax1 * f, 2)));
    s.append(svg("text", { x: W - R + 6, y: y + 4 }, fmtNum(ymax2 * f, 2)));
  }
  xs.forEach((v, i) => { if (W >= 500 || i % 2 === 0) s.append(svg("text", { x: X(v), y: H - B + 16, "text-anchor": "middle" }, fmtNum(v))); });
  s.append(svg("text", { x: (L + W - R) / 2, y: H - 2, "text-anchor": "middle" }, "batch (concurrent requests)"));
  s.append(svg("text", { x: 12, y: T + 2, transform: `rotate(90 12 ${T + 2})` }, "tokens/s"));
  s.append(svg("text", { x: W - 4, y: T + 2, transform: `rotate(90 ${W - 4} ${T + 2})` }, "TPOT ms"));
  const path = (Y, vals) => vals.map((v, i) => (i ? "L" : "M") + X(xs[i]).toFixed(1) + " " + Y(v).toFixed(1)).join(" ");
  s.append(svg("path", { d: path(Y1, tps), fill: "none", stroke: "var(--c1)", "stroke-width": 2.5 }));
  s.append(svg("path", { d: path(Y2, tpot), fill: "none", stroke: "var(--c2)", "stroke-width": 2.5, "stroke-dasharray": "6 4" }));
  xs.forEach((v, i) => { s.append(svg("circle", { cx: X(v), cy: Y1(tps[i]), r: 3, fill: "var(--c1)" })); s.append(svg("circle", { cx: X(v), cy: Y2(tpot[i]), r: 3, fill: "var(--c2)" })); });
  if (typeof current === "number" && current >= xs[0] && current <= xs[xs.length - 1])
    s.append(svg("line", { x1: X(current), x2: X(current), y1: T, y2: H - B, stroke: "currentColor", "stroke-dasharray": "2 3", "stroke-opacity": 0.6 }));
  if (typeof maxBatch === "number" && maxBatch >= xs[0] && maxBatch <= xs[xs.length - 1]) {
    s.append(svg("line", { x1: X(maxBatch), x2: X(maxBatch), y1: T, y2: H - B, stroke: "var(--bad)", "stroke-width": 1.5, "stroke-dasharray": "8 4" }));
    s.append(svg("text", { x: X(maxBatch) - 4, y: T + 12, "text-anchor": "end" }, `KV room: ${fmtNum(maxBatch)}`));
  }
  const cursor = svg("line", { x1: 0, x2: 0, y1: T, y2: H - B, stroke: "currentColor", "stroke-opacity": 0, "stroke-width": 1 });
  s.append(cursor);
  const wrap = el("div", { class: "chart", id: "sweep-chart" });
  const tip = el("div", { class: "tip", hidden: true, id: "sweep-tip" });
  let idx = -1;
  function show(i) {
    idx = Math.max(0, Math.min(xs.length - 1, i));
    const r = sw.results[idx];
    cursor.setAttribute("x1", X(xs[idx])); cursor.setAttribute("x2", X(xs[idx])); cursor.setAttribute("stroke-opacity", 0.8);
    tip.textContent = `batch ${fmtNum(xs[idx])}: ${fmtNum(r.output_tokens_per_s, 4)} tokens/s, TPOT ${(r.tpot_s * 1e3).toFixed(2)} ms, ${r.bound}-bound`;
    const bb = s.getBoundingClientRect();
    tip.style.left = (X(xs[idx]) * bb.width / W + 6) + "px";
    tip.style.top = (Y1(tps[idx]) * bb.height / H + 6) + "px";
    tip.hidden = false;
  }
  s.addEventListener("mousemove", ev => {
    const bb = s.getBoundingClientRect();
    const px = (ev.clientX - bb.left) * W / bb.width;
    let best = 0;
    xs.forEach((v, i) => { if (Math.abs(X(v) - px) < Math.abs(X(xs[best]) - px)) best = i; });
    show(best);
  });
  s.addEventListener("mouseleave", () => { tip.hidden = true; cursor.setAttribute("stroke-opacity", 0); });
  s.addEventListener("keydown", ev => {
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") { ev.preventDefault(); show(idx + (ev.key === "ArrowRight" ? 1 : -1)); }
  });
  s.addEventListener("blur", () => { tip.hidden = true; });
  const legend = el("div", { class: "legend" },
    el("span", {}, el("span", { class: "swatch", style: "background:var(--c1)" }), "throughput, tokens/s (left)"),
    el("span", {}, el("span", { class: "swatch", style: "background:var(--c2)" }), "time per output token, ms (right, dashed)"),
    el("span", {}, "dotted line: this batch"),
    typeof maxBatch === "number" ? el("span", { id: "kv-room" }, `red dashes: the most requests the KV room holds (${fmtNum(maxBatch)})`) : null);
  wrap.append(s, tip, legend);
  return wrap;
}

// ---------------------------------------------------------------- model and hardware
function renderModel(d, q) {
  if (d.models) {
    return [table(["model", "type", "parameters", "active", "verification"],
      d.models.map(m => [el("a", { href: "/model?name=" + encodeURIComponent(m.name) }, m.name), m.model_type,
        fmtNum(m.params_total), fmtNum(m.params_active), m.verification]), [2, 3])];
  }
  const m = d.model, a = m.attention, p = d.params;
  const facts = [["type", m.model_type], ["layers", m.num_layers], ["hidden size", m.hidden_size], ["vocabulary", m.vocab_size],
    ["attention", `${a.kind}: ${a.num_heads} heads, ${a.num_kv_heads} KV heads, head dim ${a.head_dim}`],
    ["MLP", m.mlp ? `${m.mlp.gated ? "gated " : ""}${m.mlp.activation}, intermediate ${m.mlp.intermediate_size}` : "–"],
    ["MoE", m.moe ? `${m.moe.num_experts} experts, top-${m.moe.top_k}, expert size ${m.moe.expert_intermediate_size}` : "none"],
    ["max positions", m.max_position_embeddings], ["sliding window", m.sliding_window ?? "none"], ["dtype", m.dtype ?? "–"],
    ["tied embeddings", String(m.tie_word_embeddings)]];
  const name = m.name;
  return [
    el("div", { class: "headline" }, el("b", {}, name), `: ${fmtNum(p.total)} parameters` + (p.active !== p.total ? `, ${fmtNum(p.active)} active per token` : "") + " (exact, equal to transformers on the meta device)."),
    el("p", {}, el("a", { href: "/fit?model=" + encodeURIComponent(name) }, "Fit it"), " · ", el("a", { href: "/infer?model=" + encodeURIComponent(name) }, "How fast is it"),
      " · ", el("a", { href: "/train?model=" + encodeURIComponent(name) }, "Train it"), " · ", el("a", { href: "/plan?model=" + encodeURIComponent(name) }, "Plan a deployment")),
    el("h2", {}, "Shape"), table(["", ""], facts.map(([k, v]) => [k, fmtNum(v)])),
    el("h2", {}, "Parameters by component"),
    table(["component", "parameters", "active"], Object.entries(p.by_term).map(([k, v]) => [el("code", {}, k), fmtNum(v), fmtNum(p.active_by_term[k])]), [1, 2]),
    el("h2", {}, "Source"),
    table(["", ""], [["config", m.source], ["hub repo", d.preset.hf_repo || "–"], ["preset source", el("td", { class: "src" }, d.preset.source)],
      ["verification", d.preset.verification],
      ["published count", d.preset.published_params ? `${fmtNum(d.preset.published_params.total)} (${d.preset.published_params.kind}): ${d.preset.published_params.source}` : "–"]],
      [], [25, 75]),
  ];
}

// the entry for a dotted field: exact key, else the longest "prefix*" key (hardware/spec.py _lookup)
function lookup(tbl, key) {
  tbl = tbl || {};
  if (tbl[key]) return tbl[key];
  let best = null;
  for (const k of Object.keys(tbl)) if (k.endsWith("*") && key.startsWith(k.slice(0, -1)) && (!best || k.length > best.length)) best = k;
  return best ? tbl[best] : "";
}
function renderHardware(d) {
  if (Array.isArray(d.hardware)) {
    return [table(["device", "memory", "bandwidth", "bf16", "fp8", "year"],
      d.hardware.map(h => [el("a", { href: "/hardware?name=" + encodeURIComponent(h.id) }, h.name), fmtGB(h.memory_bytes),
        (h.mem_bw_bytes_per_s / 1e12).toFixed(2) + " TB/s", h.peak_flops_per_s.bf16 ? fmtFlops(h.peak_flops_per_s.bf16) : "–",
        h.peak_flops_per_s.fp8 ? fmtFlops(h.peak_flops_per_s.fp8) : "–", h.launch_year]), [1, 2, 3, 4])];
  }
  const h = d.hardware;
  const rows = [["memory_bytes", fmtGB(h.memory_bytes) + " (" + fmtBytes(h.memory_bytes) + ")"],
    ["usable_memory_bytes", h.usable_memory_bytes ? fmtBytes(h.usable_memory_bytes) : "–"],
    ["mem_bw_bytes_per_s", (h.mem_bw_bytes_per_s / 1e12).toFixed(3) + " TB/s"],
    ...Object.entries(h.peak_flops_per_s).map(([k, v]) => ["peak_flops_per_s." + k, fmtFlops(v)]),
    ["on_chip_bytes", h.on_chip_bytes ? fmtBytes(h.on_chip_bytes) : "–"], ["tdp_w", h.tdp_w ? h.tdp_w + " W" : "–"],
    ["price_usd", h.price_usd ? "$" + fmtNum(h.price_usd) : "not sourced"],
    ...Object.entries(h.interconnect).filter(([, v]) => v !== null).map(([k, v]) => ["interconnect." + k,
      typeof v === "number" ? (k.includes("bw") ? (v / 1e9).toFixed(1) + " GB/s" : k.includes("latency") ? fmtTime(v) : fmtNum(v)) : v])];
  const ver = h.verification || {};
  return [el("div", { class: "headline" }, el("b", {}, h.name), ` (${h.vendor}, ${h.launch_year}; id ${h.id}; aliases ${h.aliases.join(", ") || "none"})`),
    el("p", {}, el("a", { href: "/fit?gpu=" + encodeURIComponent(h.id) }, "Fit a model on it"), " · ", el("a", { href: "/infer?gpu=" + encodeURIComponent(h.id) }, "How fast on it")),
    table(["field", "value", "source"], rows.map(([k, v]) => [el("code", {}, k), v,
      el("td", { class: "src" }, lookup(h.sources, k) + ` [${lookup(ver, k) || "unverified"}]`)]), [1],
    [30, 20, 50])];
}

// ---------------------------------------------------------------- wiring
for (const f of form.querySelectorAll("input[type=file]")) {
  f.addEventListener("change", () => {
    const file = f.files[0];
    if (!file) return;
    const target = document.getElementById(f.dataset.target);
    if (file.size > 2 * 2 ** 20) { showError({ error: `${file.name}: over 2 MiB is not a config file`, field: target.name }); return; }
    const rd = new FileReader();
    rd.onload = () => { target.value = rd.result; run(false); };
    rd.readAsText(file);
  });
}
let timer = null;
form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => run(false), 50); });
form.addEventListener("change", () => { clearTimeout(timer); run(false); });
form.addEventListener("submit", ev => { ev.preventDefault(); clearTimeout(timer); run(true); });
window.addEventListener("popstate", () => { readURL(); run(false); });
readURL();
if (BY_MODEL.includes(PAGE)) {
  if (!form.elements.model.value) form.elements.model.value = PAGE === "train" ? "llama-3.1-8b" : "llama-3-70b";
}
run(false);
