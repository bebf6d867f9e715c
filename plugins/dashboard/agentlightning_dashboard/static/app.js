// Agent Lightning dashboard: plain JavaScript, no build step, no dependency.
// Each page fetches one JSON document from /dashboard/api and fetches it again when its one
// Server-Sent Events stream says something changed. Text goes into the page through textContent
// only, never as HTML.
"use strict";

const BASE = "/dashboard";
const STATUS_COLORS = { succeeded: "#1f9d55", failed: "#d64545", running: "#3b82f6", queued: "#8b95a7", cancelled: "#9b59b6" };
const main = document.getElementById("main");
const body = document.body;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : "—");
const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
const badge = (text, cls) => h("span", { class: `badge ${cls}` }, text);
const pretty = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));

class ApiError extends Error {}

async function api(path) {
  const response = await fetch(BASE + path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) { window.location.href = `${BASE}/login`; throw new ApiError("not logged in"); }
  const data = await response.json();
  if (!response.ok) throw new ApiError((data.error && data.error.message) || `HTTP ${response.status}`);
  return data;
}

function showError(err) {
  return h("div", { class: "errorbox", "data-testid": "error" }, String(err.message || err));
}

// ---------------------------------------------------------------- live stream
function live(page, rolloutId, onChange, everyMs = 1000) {
  const indicator = document.getElementById("live");
  const set = (text, on) => { indicator.textContent = text; indicator.className = `live ${on ? "on" : "off"}`; };
  const params = new URLSearchParams({ page });
  if (rolloutId) params.set("rollout_id", rolloutId);
  // At most one refetch per everyMs however many changes arrive, and never more often than 100x
  // the last refetch took (up to 10 s apart): an expensive page (the overview over a big store)
  // then costs the server about 1% of a core, whatever the training run's pace.
  let pending = false, last = 0, lastMs = 0;
  const refresh = () => {
    if (pending) return;
    const every = Math.min(10000, Math.max(everyMs, 100 * lastMs));
    const wait = Math.max(0, every - (Date.now() - last));
    pending = true;
    setTimeout(async () => {
      last = Date.now();
      try { await onChange(); } finally { lastMs = Date.now() - last; pending = false; }
    }, wait);
  };
  const source = new EventSource(`${BASE}/api/stream?${params}`);
  let wasDown = false;
  source.addEventListener("live", () => { set(wasDown ? "live (reconnected)" : "live", true); if (wasDown) refresh(); wasDown = false; });
  source.addEventListener("change", refresh);
  source.addEventListener("bus-down", (e) => { wasDown = true; set("event bus down, reconnecting…", false); console.warn(e.data); });
  source.onerror = () => { wasDown = true; set("reconnecting…", false); };
  return source;
}

// ---------------------------------------------------------------- overview
async function overviewPage() {
  const render = async () => {
    let data;
    try { data = await api("/api/overview"); } catch (err) { main.replaceChildren(showError(err)); return; }
    const c = data.counts || {};
    const stat = (n, l, id) => h("div", { class: "card stat", "data-testid": id }, h("div", { class: "n" }, n ?? 0), h("div", { class: "l" }, l));
    main.replaceChildren(
      h("h1", {}, "Overview"),
      h("div", { class: "cards" },
        stat(c.total, "rollouts", "count-total"),
        ...["queued", "running", "succeeded", "failed", "cancelled"].map((s) => stat(c[s], s, `count-${s}`)),
        stat(data.spans, "spans", "count-spans"),
        stat(data.throughput_per_min, "finished / last minute", "throughput"),
        stat(data.resources ? `v${data.resources.version}` : "—", "resources version", "resources-version"),
      ),
      h("h2", {}, "Rewards per step (the algorithm's logged metrics)"),
      metricsChart(data.metrics),
      h("h2", {}, "Rollouts per status over time (latest 1000, by enqueue time)"),
      chart(data.series),
      h("h2", {}, `Workers (${data.workers.length})`),
      data.workers.length
        ? h("table", { "data-testid": "workers" },
            h("tr", {}, h("th", {}, "worker"), h("th", {}, "status"), h("th", {}, "host"), h("th", {}, "rollouts now"), h("th", {}, "last heartbeat")),
            data.workers.map((w) => h("tr", {}, h("td", {}, w.worker_id), h("td", {}, badge(w.status, `s-${w.status}`)), h("td", {}, w.hostname || "—"),
              h("td", {}, w.current_rollouts), h("td", {}, `${w.heartbeat_age_s} s ago`))))
        : h("p", { class: "muted" }, "No worker has reported yet."),
    );
  };
  await render();
  live("overview", null, render, 2000);  // the heaviest page: counts over the whole store
}

function chart(series) {
  const W = 900, H = 180, pad = 24;
  const el = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-testid": "status-chart" });
  const buckets = series.buckets || [];
  const max = Math.max(1, ...buckets.map((b) => Object.values(b).reduce((a, x) => a + x, 0)));
  const bw = (W - 2 * pad) / Math.max(1, buckets.length);
  buckets.forEach((b, i) => {
    let y = H - pad;
    for (const s of ["succeeded", "failed", "cancelled", "running", "queued"]) {
      const n = b[s] || 0;
      if (!n) continue;
      const hgt = ((H - 2 * pad) * n) / max;
      y -= hgt;
      const r = svg("rect", { x: pad + i * bw + 1, y, width: Math.max(1, bw - 2), height: hgt, fill: STATUS_COLORS[s] });
      r.append(svg("title", {})); r.lastChild.textContent = `${n} ${s}`;
      el.append(r);
    }
  });
  const axis = svg("text", { x: pad, y: H - 6, "font-size": 11, fill: "#6b7385" });
  axis.textContent = buckets.length ? `${fmtTime(series.start)} → now, ${Math.round(series.step_s)} s per bar, max ${max}` : "no rollouts yet";
  el.append(axis);
  const legend = h("div", { class: "legend" }, Object.keys(STATUS_COLORS).map((s) => h("span", { class: `s-${s}` }, s)));
  return h("div", {}, el, legend);
}

const LINE_COLORS = ["#3556d8", "#1f9d55", "#d64545", "#c98a00", "#7c3aed", "#0e7490"];

function metricsChart(metrics) {
  if (!metrics.available) return h("p", { class: "muted" }, "This event bus keeps no history (RabbitMQ): metrics are in the run's metrics.jsonl.");
  const names = Object.keys(metrics.series).sort();
  if (!names.length) return h("p", { class: "muted", "data-testid": "metrics-empty" }, "No reward metric logged yet.");
  const W = 900, H = 200, pad = 30;
  const points = names.flatMap((n) => metrics.series[n]);
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(x0 + 1, ...xs);
  const y0 = Math.min(0, ...ys), y1 = Math.max(y0 + 1e-9, ...ys);
  const px = (x) => pad + ((x - x0) / (x1 - x0)) * (W - 2 * pad);
  const py = (y) => H - pad - ((y - y0) / (y1 - y0)) * (H - 2 * pad);
  const el = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-testid": "metrics-chart" });
  names.forEach((n, i) => {
    const color = LINE_COLORS[i % LINE_COLORS.length];
    const pts = metrics.series[n];
    el.append(svg("polyline", { points: pts.map((p) => `${px(p[0])},${py(p[1])}`).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    for (const p of pts) {
      const c = svg("circle", { cx: px(p[0]), cy: py(p[1]), r: 3, fill: color });
      c.append(svg("title", {})); c.lastChild.textContent = `${n} = ${p[1]} at step ${p[0]}`;
      el.append(c);
    }
  });
  const axis = svg("text", { x: pad, y: H - 8, "font-size": 11, fill: "#6b7385" });
  axis.textContent = `steps ${x0} → ${x1}, values ${y0.toFixed(3)} → ${y1.toFixed(3)}`;
  el.append(axis);
  const legend = h("div", { class: "legend" }, names.map((n, i) => {
    const last = metrics.series[n][metrics.series[n].length - 1][1];
    const item = h("span", { "data-metric": n }, `${n}: ${Number(last).toFixed(3)}`);
    item.style.color = LINE_COLORS[i % LINE_COLORS.length];
    return item;
  }));
  return h("div", {}, el, legend);
}

// ---------------------------------------------------------------- rollouts table
async function rolloutsPage() {
  const params = new URLSearchParams(window.location.search);
  const field = (name, el) => { el.name = name; el.value = params.get(name) || ""; return el; };
  const status = field("status", h("select", { "data-testid": "filter-status" }, h("option", { value: "" }, "any status"),
    ["queued", "running", "succeeded", "failed", "cancelled"].map((s) => h("option", { value: s }, s))));
  const mode = field("mode", h("select", { "data-testid": "filter-mode" }, h("option", { value: "" }, "any mode"),
    ["train", "val", "test"].map((s) => h("option", { value: s }, s))));
  const resources = field("resources_id", h("input", { placeholder: "resources id", "data-testid": "filter-resources" }));
  const q = field("q", h("input", { placeholder: "rollout id or input text", size: 28, "data-testid": "filter-q" }));
  const result = h("div", { "data-testid": "rollouts-result" });
  let page = Number(params.get("page") || 1);
  let seen = null;
  const query = () => {
    const p = new URLSearchParams();
    for (const el of [status, mode, resources, q]) if (el.value) p.set(el.name, el.value);
    if (page > 1) p.set("page", page);
    return p;
  };
  const load = async () => {
    const p = query();
    history.replaceState(null, "", `${BASE}/rollouts${p.toString() ? "?" + p : ""}`);
    let data;
    try { data = await api(`/api/rollouts?${p}`); } catch (err) { result.replaceChildren(showError(err)); return; }
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    const fresh = seen === null ? new Set() : new Set(data.items.map((r) => r.rollout_id).filter((id) => !seen.has(id)));
    seen = new Set([...(seen || []), ...data.items.map((r) => r.rollout_id)]);
    result.replaceChildren(
      h("div", { class: "pager" },
        h("button", { type: "button", disabled: page <= 1, onclick: () => { page -= 1; load(); } }, "← newer"),
        h("span", { "data-testid": "pager" }, `page ${data.page} of ${pages} · ${data.total} rollouts`),
        h("button", { type: "button", disabled: page >= pages, onclick: () => { page += 1; load(); } }, "older →")),
      h("table", { "data-testid": "rollouts" },
        h("tr", {}, ["rollout", "status", "mode", "resources", "input", "enqueued", "attempts"].map((t) => h("th", {}, t))),
        data.items.map((r) => h("tr", { class: fresh.has(r.rollout_id) ? "new" : "", "data-rollout-id": r.rollout_id, "data-status": r.status },
          h("td", {}, h("a", { href: `${BASE}/rollouts/${encodeURIComponent(r.rollout_id)}` }, r.rollout_id)),
          h("td", {}, badge(r.status, `s-${r.status}`)), h("td", {}, r.mode || "—"), h("td", {}, r.resources_id || "—"),
          h("td", { class: "input", title: r.input }, r.input), h("td", {}, fmtTime(r.enqueue_time)), h("td", {}, r.num_attempts)))),
    );
  };
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); page = 1; load(); } },
    h("label", {}, "status", status), h("label", {}, "mode", mode), h("label", {}, "resources", resources), h("label", {}, "search", q),
    h("button", { type: "submit", "data-testid": "filter-apply" }, "Filter"));
  for (const el of [status, mode]) el.addEventListener("change", () => { page = 1; load(); });
  main.replaceChildren(h("h1", {}, "Rollouts"), form, result);
  await load();
  live("rollouts", null, load);
}

// ---------------------------------------------------------------- rollout detail
async function rolloutPage() {
  const id = body.dataset.rolloutId;
  const open = new Set();  // spans the user expanded stay expanded across live refreshes
  const render = async () => {
    let data;
    try { data = await api(`/api/rollouts/${encodeURIComponent(id)}`); } catch (err) { main.replaceChildren(showError(err)); return; }
    const r = data.rollout;
    main.replaceChildren(
      h("h1", {}, "Rollout ", h("code", {}, r.rollout_id), " ", badge(r.status, `s-${r.status}`)),
      h("div", { class: "kv card" },
        h("span", { class: "k" }, "mode"), h("span", {}, r.mode || "—"),
        h("span", { class: "k" }, "resources"), h("span", {}, r.resources_id || "—"),
        h("span", { class: "k" }, "enqueued"), h("span", {}, fmtTime(r.enqueue_time)),
        h("span", { class: "k" }, "ended"), h("span", {}, fmtTime(r.end_time))),
      h("h2", {}, "Input"), h("pre", {}, pretty(r.input)),
      h("h2", {}, `Attempts (${data.attempts.length})`),
      h("table", { "data-testid": "attempts" },
        h("tr", {}, ["#", "attempt", "worker", "status", "started", "duration", "error"].map((t) => h("th", {}, t))),
        data.attempts.map((a) => h("tr", {}, h("td", {}, a.sequence), h("td", {}, a.attempt_id), h("td", {}, a.worker_id || "—"),
          h("td", {}, badge(a.status, `s-${a.status}`)), h("td", {}, fmtTime(a.start_time)),
          h("td", {}, a.end_time ? fmtMs((a.end_time - a.start_time) * 1000) : "—"), h("td", {}, a.error || "")))),
      h("h2", {}, `Spans (${data.spans.length}${data.spans_cut ? ", more not shown" : ""})`),
      spanTree(data, open),
      h("h2", {}, `Triplets of the latest attempt (${data.triplets.length})`),
      data.triplets.length
        ? h("table", { "data-testid": "triplets" },
            h("tr", {}, ["call", "agent", "prompt", "response", "tokens", "reward"].map((t) => h("th", {}, t))),
            data.triplets.map((t) => h("tr", {}, h("td", {}, t.sequence_id ?? "—"), h("td", {}, t.agent_name || "—"),
              h("td", {}, h("pre", {}, pretty(t.prompt))), h("td", {}, h("pre", {}, pretty(t.response))),
              h("td", {}, `${t.prompt_tokens} → ${t.response_tokens}`), h("td", {}, t.reward ?? "—"))))
        : h("p", { class: "muted" }, "No LLM call in the latest attempt."),
    );
  };
  await render();
  live("rollout", id, render);
}

function spanTree(data, open) {
  const spans = data.spans;
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  for (const s of spans) {
    const parent = s.parent_id && ids.has(s.parent_id) ? s.parent_id : `root:${s.attempt_id}`;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(s);
  }
  const t0 = Math.min(...spans.map((s) => s.start_time));
  const t1 = Math.max(...spans.map((s) => s.end_time || s.start_time));
  const total = Math.max(1e-6, t1 - t0);
  const node = (s) => {
    const kids = children.get(s.span_id) || [];
    const left = ((s.start_time - t0) / total) * 100;
    const width = (((s.end_time || s.start_time) - s.start_time) / total) * 100;
    const bar = h("span", { class: "bar" });
    bar.style.left = `${left}%`; bar.style.width = `${Math.max(width, 0.5)}%`;
    const el = h("details", { class: "span", "data-span-id": s.span_id, "data-span-type": s.type, open: open.has(s.span_id) },
      h("summary", {}, badge(s.type, `t-${s.type}`), h("span", {}, s.name), h("span", { class: "bar-wrap" }, bar),
        h("span", { class: "muted" }, fmtMs(s.duration_ms)), s.status === "error" ? badge("error", "s-error") : null,
        s.reward ? h("strong", {}, `reward ${s.reward.value}`) : null),
      spanBody(s, data.rollout.rollout_id),
      kids.map(node));
    el.addEventListener("toggle", () => (el.open ? open.add(s.span_id) : open.delete(s.span_id)));
    return el;
  };
  const roots = data.attempts.map((a) => {
    const kids = children.get(`root:${a.attempt_id}`) || [];
    return h("div", { class: "card", "data-testid": "span-tree" }, h("strong", {}, `attempt ${a.sequence}`), kids.length ? kids.map(node) : h("p", { class: "muted" }, "no spans"));
  });
  return h("div", {}, roots);
}

function spanBody(s, rolloutId) {
  const parts = [];
  if (s.llm) {
    const c = s.llm;
    parts.push(h("div", { class: "llm", "data-testid": "llm-call" },
      h("div", { class: "kv" },
        h("span", { class: "k" }, "model"), h("span", { "data-testid": "llm-model" }, c.model || "—"),
        h("span", { class: "k" }, "weights version"), h("span", {}, c.weights_version ?? "—"),
        h("span", { class: "k" }, "tokens in → out"), h("span", {}, `${c.input_tokens ?? "?"} → ${c.output_tokens ?? "?"}`),
        h("span", { class: "k" }, "latency"), h("span", {}, fmtMs(c.latency_ms)),
        c.agent ? [h("span", { class: "k" }, "agent"), h("span", {}, c.agent)] : null),
      h("div", { class: "msg" }, h("div", { class: "role" }, "prompt"),
        Array.isArray(c.prompt) ? c.prompt.map((m) => h("div", {}, h("span", { class: "role" }, m.role || ""), h("pre", {}, pretty(m.content ?? m)))) : h("pre", {}, pretty(c.prompt))),
      c.response !== null && c.response !== undefined && c.response !== ""
        ? h("div", { class: "msg" }, h("div", { class: "role" }, "response"), h("pre", { "data-testid": "llm-response" }, pretty(c.response)))
        : null,
      c.tool_calls ? h("div", { class: "msg" }, h("div", { class: "role" }, "tool calls"), h("pre", {}, pretty(c.tool_calls))) : null));
  }
  if (s.tool) parts.push(h("div", { class: "kv" }, h("span", { class: "k" }, "tool"), h("span", {}, s.tool.name || "—"),
    h("span", { class: "k" }, "arguments"), h("pre", {}, pretty(s.tool.arguments ?? "")), h("span", { class: "k" }, "result"), h("pre", {}, pretty(s.tool.result ?? ""))));
  if (s.status_description) parts.push(h("p", { class: "error" }, s.status_description));
  const attrs = h("details", {}, h("summary", { class: "muted" }, "attributes"), h("pre", {}, pretty(s.attributes)));
  parts.push(attrs);
  if (s.truncated) parts.push(h("a", { href: `${BASE}/api/rollouts/${encodeURIComponent(rolloutId)}/spans/${encodeURIComponent(s.span_id)}`, target: "_blank", "data-testid": "show-all" }, "show all (this span was cut for the view)"));
  return h("div", {}, parts);
}

// ---------------------------------------------------------------- resources
async function resourcesPage() {
  const template = (r) => [
    h("pre", {}, r.template),
    r.diff === null
      ? h("p", { class: "muted" }, "first version")
      : r.diff.length
        ? h("pre", { class: "diff", "data-testid": "prompt-diff" }, r.diff.map((line) =>
            h("div", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "" }, line)))
        : h("p", { class: "muted" }, `unchanged since v${r.parent_version}`),
  ];
  const version = (v) => h("div", { class: "card", "data-testid": "resources-version" },
    h("h2", {}, `v${v.version} `, h("code", {}, v.resources_id), h("span", { class: "muted" }, ` · ${fmtTime(v.create_time)}`)),
    v.resources.map((r) => h("div", {}, h("strong", {}, r.name), " ", badge(r.type, "t-other"),
      r.type === "prompt_template" ? template(r) : h("pre", {}, pretty(r.fields)))));
  const render = async () => {
    let data;
    try { data = await api("/api/resources"); } catch (err) { main.replaceChildren(showError(err)); return; }
    main.replaceChildren(h("h1", {}, `Resources (${data.total} versions)`),
      ...(data.versions.length ? data.versions.map(version) : [h("p", { class: "muted" }, "No resources published yet.")]));
  };
  await render();
  live("resources", null, render);
}

// ---------------------------------------------------------------- backends
function kvTable(obj) {
  if (obj === null || typeof obj !== "object") return h("span", {}, String(obj));
  return h("div", { class: "kv" }, Object.entries(obj).map(([k, v]) => [h("span", { class: "k" }, k), kvTable(v)]));
}

async function backendsPage() {
  const render = async () => {
    let data;
    try { data = await api("/api/backends"); } catch (err) { main.replaceChildren(showError(err)); return; }
    main.replaceChildren(h("h1", {}, "Backends"), h("h2", {}, "Store"), h("div", { class: "card", "data-testid": "store-stats" }, kvTable(data.store)),
      h("h2", {}, "Event bus"), h("div", { class: "card" }, kvTable(data.bus)));
  };
  await render();
  live("backends", null, render);
}

const PAGES = { overview: overviewPage, rollouts: rolloutsPage, rollout: rolloutPage, resources: resourcesPage, backends: backendsPage };
const nav = body.dataset.page === "rollout" ? "rollouts" : body.dataset.page;
for (const a of document.querySelectorAll("[data-nav]")) if (a.dataset.nav === nav) a.classList.add("active");
PAGES[body.dataset.page]();
