// A chart of metric histories for one or several runs, downsampled by the server:
// choose metrics, the x axis (step, time, relative time), log scale and smoothing.

import { ledger } from "./api.js";
import { errorBox, formatTime, h, numeric, replace, runName, select } from "./dom.js";
import { COLORS, lineChart, tickLabel } from "./chart.js";

const AXES = [["step", "Step"], ["time", "Time"], ["relative", "Relative time (s)"]];
const cache = new Map();

// A metric's history as buckets {step, timestamp, min, max, count}, at most ``points``.
export function sampledHistory(runId, key, axis = "step", points = 1000) {
  const id = `${runId}\u0000${key}\u0000${axis}\u0000${points}`;
  if (!cache.has(id)) {
    const request = ledger
      .get("metrics/sampled", { run_id: runId, metric_key: key, x_axis: axis, max_points: points })
      .then((r) => r.points || []);
    request.catch(() => cache.delete(id));
    cache.set(id, request);
  }
  return cache.get(id);
}

// Lowest and highest value ever logged: the buckets cover every point.
export async function metricRange(runId, key) {
  let lo = null;
  let hi = null;
  for (const p of await sampledHistory(runId, key)) {
    const a = numeric(p.min);
    const b = numeric(p.max);
    if (a !== null && (lo === null || a < lo)) lo = a;
    if (b !== null && (hi === null || b > hi)) hi = b;
  }
  return [lo, hi];
}

export function metricChartPanel(runs, metricKeys, initialKeys) {
  const state = { keys: new Set(initialKeys), axis: "step", logY: false, smoothing: 0 };
  const area = h("div", { class: "chart-area" });
  let drawing = 0;

  async function draw() {
    const ticket = ++drawing;
    const pairs = runs.flatMap((run) => [...state.keys].map((key) => [run, key]));
    if (!pairs.length) {
      replace(area, h("p", { class: "muted" }, "Choose a metric to chart."));
      return;
    }
    try {
      const fetchAxis = state.axis === "step" ? "step" : "timestamp";
      const series = await Promise.all(pairs.map(async ([run, key], i) => {
        const points = await sampledHistory(run.info.run_id, key, fetchAxis);
        const origin = state.axis === "relative" ? Number(run.info.start_time || points[0]?.timestamp || 0) : 0;
        const x = (p) => (state.axis === "step" ? p.step : state.axis === "time" ? p.timestamp : (p.timestamp - origin) / 1000);
        return {
          name: runs.length > 1 ? `${runName(run)} · ${key}` : key,
          color: COLORS[i % COLORS.length],
          points: points.map((p) => ({ x: x(p), min: numeric(p.min) ?? NaN, max: numeric(p.max) ?? NaN })),
        };
      }));
      if (ticket !== drawing) return;
      const width = Math.max(480, Math.min(1100, area.clientWidth || 720));
      const xFormat = state.axis === "time" ? (v) => formatTime(v).slice(11) : tickLabel;
      replace(area,
        lineChart(series, { width, logY: state.logY, smoothing: state.smoothing, xFormat, xLabel: AXES.find(([a]) => a === state.axis)[1] }),
        h("div", { class: "legend" }, series.map((s) => h("span", {}, h("i", { style: `background:${s.color}` }), s.name))));
    } catch (err) {
      if (ticket === drawing) replace(area, errorBox(err));
    }
  }

  const smoothingLabel = h("span", {}, "0");
  const panel = h("div", { class: "chart-panel" },
    h("div", { class: "toolbar" },
      h("details", { class: "columns" }, h("summary", {}, "Metrics"),
        metricKeys.map((key) => h("label", { class: "check" }, h("input", {
          type: "checkbox",
          checked: state.keys.has(key),
          "data-metric": key,
          onchange: (e) => { if (e.target.checked) state.keys.add(key); else state.keys.delete(key); draw(); },
        }), key))),
      h("label", {}, "X axis ", select(AXES, state.axis, (v) => { state.axis = v; draw(); }, { "aria-label": "X axis" })),
      h("label", { class: "check" }, h("input", { type: "checkbox", "aria-label": "Log scale", onchange: (e) => { state.logY = e.target.checked; draw(); } }), "Log scale"),
      h("label", {}, "Smoothing ", h("input", {
        type: "range", min: 0, max: 0.99, step: 0.01, value: "0", "aria-label": "Smoothing",
        oninput: (e) => { state.smoothing = Number(e.target.value); smoothingLabel.textContent = e.target.value; draw(); },
      }), smoothingLabel)),
    area);
  requestAnimationFrame(draw);
  return panel;
}
