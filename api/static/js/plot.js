// Charts drawn by uPlot (vendored, static/vendor/uplot): a line chart of runs' metric
// histories on one metric's own y axis, with drag-to-zoom, a tooltip listing each run's
// value at the pointer, and runs shown or hidden from a legend; and a bar chart for
// metrics that hold a single value per run.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { formatTime, h, replace } from "./dom.js";

const AXIS_FONT = "11px system-ui, sans-serif";
const BAR_FONT = "12px system-ui, sans-serif";

// Value text for axes and tooltips: short and exact enough to tell runs apart.
export function valueLabel(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return Number(v.toPrecision(4)).toExponential();
  return String(Number(v.toPrecision(5)));
}

export function xValueLabel(xMode, v) {
  if (xMode === "time") return formatTime(v);
  if (xMode === "relative") return `${valueLabel(v)} s`;
  return `step ${valueLabel(v)}`;
}

// Widest tick label in pixels, so the y axis is as wide as its labels and never cuts them.
function measure(labels, font = AXIS_FONT) {
  const ctx = measure.ctx || (measure.ctx = document.createElement("canvas").getContext("2d"));
  ctx.font = font;
  return Math.max(0, ...labels.map((l) => ctx.measureText(l).width));
}

// The nearest index of ``x`` in the sorted array ``xs``.
function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid;
    else hi = mid;
  }
  return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
}

// series: [{id, label, color, x: number[], lo: number[], hi: number[]}] with x sorted and
// lo/hi a bucket's lowest and highest value (equal for single points). Each bucket is
// drawn as a stroke from lo to hi, so spikes survive downsampling.
// Exponential moving average, bias-corrected as TensorBoard does, so it starts at the first
// value.
function smooth(values, weight) {
  let last = 0;
  return values.map((v, n) => {
    last = last * weight + (1 - weight) * v;
    return last / (1 - weight ** (n + 1));
  });
}

// With ``smoothing`` (0..1), each run also gets its smoothed line, the raw one faded; the
// tooltip then gives the smoothed value.
export function linePlot(series, { width, height = 240, xMode = "step", logY = false, smoothing = 0 }) {
  const box = h("div", { class: "plot" });
  const tip = h("div", { class: "plot-tip", hidden: true });
  const usable = (v) => Number.isFinite(v) && (!logY || v > 0);
  const data = [null];
  for (const s of series) {
    const xs = [];
    const ys = [];
    for (let i = 0; i < s.x.length; i++) {
      const a = s.lo[i];
      const b = s.hi[i];
      if (!Number.isFinite(s.x[i])) continue;
      if (usable(a)) {
        xs.push(s.x[i]);
        ys.push(a);
      }
      if (b !== a && usable(b)) {
        xs.push(s.x[i]);
        ys.push(b);
      }
    }
    data.push([xs, ys]);
  }
  const n = series.length;
  if (smoothing > 0) {
    for (const s of series) {
      const xs = [];
      const mids = [];
      for (let i = 0; i < s.x.length; i++) {
        const mid = (s.lo[i] + s.hi[i]) / 2;
        if (Number.isFinite(s.x[i]) && usable(s.lo[i]) && usable(s.hi[i])) {
          xs.push(s.x[i]);
          mids.push(mid);
        }
      }
      data.push([xs, smooth(mids, smoothing)]);
    }
  }
  const time = xMode === "time";
  const yRange = (u, lo, hi) => {
    if (lo === null || hi === null || !Number.isFinite(lo)) return [0, 1];
    if (logY) return uPlot.rangeLog(lo, hi, 10, true);
    if (lo === hi) {
      const pad = Math.abs(lo) * 0.1 || 1;
      return [lo - pad, hi + pad];
    }
    return uPlot.rangeNum(lo, hi, 0.08, true);
  };
  const xRange = (u, lo, hi) => {
    if (lo === null || hi === null || !Number.isFinite(lo)) return [0, 1];
    if (lo === hi) return [lo - 1, hi + 1];
    return [lo, hi];
  };
  const yAxis = {
    scale: "y",
    font: AXIS_FONT,
    gap: 4,
    size: (u, values) => Math.ceil(measure(values || []) + 14),
    values: (u, splits) => splits.map(valueLabel),
    grid: { stroke: "#eceef2" },
    ticks: { stroke: "#9aa1ad", size: 4 },
  };
  const xAxis = {
    scale: "x",
    font: AXIS_FONT,
    grid: { stroke: "#f3f4f7" },
    ticks: { stroke: "#9aa1ad", size: 4 },
    // Room for each label: uPlot drops ticks until labels this wide fit, so none overlap.
    space: time ? 90 : 56,
    ...(time ? {} : { values: (u, splits) => splits.map(valueLabel) }),
  };
  const opts = {
    mode: 2,
    width,
    height,
    ms: 1,
    legend: { show: false },
    padding: [10, 14, 0, 0],
    cursor: {
      drag: { x: true, y: false, setScale: true },
      points: { show: false },
      focus: { prox: 16 },
      // uPlot's own double-click auto-ranges, which a chart of per-run x arrays (mode 2)
      // does not do: zoom out with resetZoom below instead.
      bind: { dblclick: () => () => null },
    },
    focus: { alpha: 0.35 },
    scales: {
      x: { time, auto: true, range: xRange },
      y: { distr: logY ? 3 : 1, log: 10, auto: true, range: yRange },
    },
    axes: [xAxis, yAxis],
    series: [
      null,
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }],
        paths: uPlot.paths.linear(),
        alpha: smoothing > 0 ? 0.25 : 1,
        points: { show: (u, si) => u.data[si][0].length === 1, size: 6, fill: s.color, stroke: s.color },
      })),
      ...(smoothing > 0 ? series.map((s) => ({
        label: `${s.label} (smoothed)`,
        stroke: s.color,
        width: 2,
        facets: [{ scale: "x", auto: true }, { scale: "y", auto: true }],
        paths: uPlot.paths.linear(),
        points: { show: false },
      })) : []),
    ],
    hooks: {
      setCursor: [(u) => showTip(u)],
      // The ranges in view, on the element: what a zoom changed, for people and tests.
      setScale: [(u, key) => {
        if (key !== "x" && key !== "y") return;
        box.dataset[`${key}Min`] = String(u.scales[key].min);
        box.dataset[`${key}Max`] = String(u.scales[key].max);
        // (Later: a scale set inside this hook would be dropped.)
        if (key === "x" && u.status === 1) queueMicrotask(() => fitY(u));
      }],
    },
  };

  // After a zoom on x, the y axis fits what is left in view.
  function fitY(u) {
    const { min, max } = u.scales.x;
    let lo = Infinity;
    let hi = -Infinity;
    u.data.forEach((d, i) => {
      if (!i || !u.series[i].show) return;
      const [xs, ys] = d;
      for (let k = 0; k < xs.length; k++) {
        if (xs[k] < min || xs[k] > max) continue;
        if (ys[k] < lo) lo = ys[k];
        if (ys[k] > hi) hi = ys[k];
      }
    });
    if (lo <= hi) {
      const [y0, y1] = yRange(u, lo, hi);
      u.setScale("y", { min: y0, max: y1 });
    }
  }

  function showTip(u) {
    const left = u.cursor.left;
    if (left === undefined || left < 0) {
      tip.hidden = true;
      return;
    }
    const x = u.posToVal(left, "x");
    const rows = [];
    series.forEach((s, i) => {
      if (!u.series[i + 1].show) return;
      const [xs, ys] = u.data[smoothing > 0 ? n + 1 + i : i + 1];
      const k = nearest(xs, x);
      if (k < 0) return;
      // Both ends of the bucket at that x.
      let lo = ys[k];
      let hi = ys[k];
      for (let j = k - 1; j >= 0 && xs[j] === xs[k]; j--) { lo = Math.min(lo, ys[j]); hi = Math.max(hi, ys[j]); }
      for (let j = k + 1; j < xs.length && xs[j] === xs[k]; j++) { lo = Math.min(lo, ys[j]); hi = Math.max(hi, ys[j]); }
      rows.push({ s, x: xs[k], lo, hi });
    });
    if (!rows.length) {
      tip.hidden = true;
      return;
    }
    rows.sort((a, b) => b.hi - a.hi);
    const shown = rows.slice(0, 12);
    replace(tip,
      h("div", { class: "tip-x" }, xValueLabel(xMode, rows.every((r) => r.x === rows[0].x) ? rows[0].x : xMode === "step" ? Math.round(x) : x)),
      shown.map(({ s, lo, hi }) => h("div", { class: "tip-row", "data-run": s.id },
        h("i", { class: "swatch", style: `background:${s.color}` }),
        h("span", { class: "tip-name" }, s.label),
        h("span", { class: "tip-value" }, lo === hi ? valueLabel(hi) : `${valueLabel(lo)} … ${valueLabel(hi)}`))),
      rows.length > shown.length ? h("div", { class: "muted" }, `and ${rows.length - shown.length} more`) : null);
    tip.hidden = false;
    const plotLeft = u.over.offsetLeft;
    const room = u.over.clientWidth;
    const tipWidth = tip.offsetWidth;
    const at = left + 14 + tipWidth > room ? Math.max(0, left - tipWidth - 14) : left + 14;
    tip.style.left = `${plotLeft + at}px`;
    tip.style.top = `${u.over.offsetTop + 4}px`;
  }

  // The whole of the data, for zooming back out.
  const full = { x: [Infinity, -Infinity], y: [Infinity, -Infinity] };
  for (const [xs, ys] of data.slice(1)) {
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] < full.x[0]) full.x[0] = xs[i];
      if (xs[i] > full.x[1]) full.x[1] = xs[i];
      if (ys[i] < full.y[0]) full.y[0] = ys[i];
      if (ys[i] > full.y[1]) full.y[1] = ys[i];
    }
  }
  const plot = new uPlot(opts, data, box);
  box.dataset.series = String(data.length - 1);
  function resetZoom() {
    if (!(full.x[0] <= full.x[1])) return;
    const [x0, x1] = xRange(plot, full.x[0], full.x[1]);
    const [y0, y1] = yRange(plot, full.y[0], full.y[1]);
    plot.batch(() => {
      plot.setScale("x", { min: x0, max: x1 });
      plot.setScale("y", { min: y0, max: y1 });
    });
  }
  box.addEventListener("dblclick", resetZoom);
  box.append(tip);
  box.addEventListener("mouseleave", () => { tip.hidden = true; });
  // A double click zooms back out (uPlot's own default, said here for the tooltip).
  box.title = "Drag to zoom, double-click to zoom out";
  return {
    el: box,
    plot,
    setShown(index, show) {
      plot.setSeries(index + 1, { show });
      if (smoothing > 0) plot.setSeries(n + 1 + index, { show });
    },
    resetZoom,
    setSize(w, hgt) { plot.setSize({ width: w, height: hgt }); },
    destroy() { plot.destroy(); },
  };
}

// rows: [{id, label, color, value}]: one horizontal bar per run, its value beside it.
export function barPlot(rows, { width, logY = false }) {
  const usable = rows.filter((r) => Number.isFinite(r.value) && (!logY || r.value > 0));
  const barH = 16;
  const gap = 6;
  const nameW = Math.min(Math.max(120, width * 0.4), Math.max(60, measure(usable.map((r) => r.label), BAR_FONT) + 16));
  const valueW = Math.max(48, measure(usable.map((r) => valueLabel(r.value)), BAR_FONT) + 10);
  const plotW = Math.max(60, width - nameW - valueW - 8);
  const height = Math.max(40, usable.length * (barH + gap) + gap);
  const lo = Math.min(0, ...usable.map((r) => r.value));
  const hi = Math.max(0, ...usable.map((r) => r.value));
  const f = logY ? Math.log10 : (v) => v;
  const base = logY ? f(Math.min(...usable.map((r) => r.value))) - 0.5 : lo;
  const top = logY ? f(Math.max(...usable.map((r) => r.value))) : hi;
  const X = (v) => nameW + ((f(v) - base) / (top - base || 1)) * plotW;
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const root = el("svg", { class: "bars", style: `font: ${BAR_FONT}`, width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const zero = logY ? nameW : X(0);
  usable.forEach((r, i) => {
    const y = gap + i * (barH + gap);
    const x1 = X(r.value);
    const g = el("g", { class: "bar", "data-run": r.id });
    const title = el("title", {}, `${r.label}: ${valueLabel(r.value)}`);
    const name = el("text", { x: nameW - 6, y: y + barH - 4, "text-anchor": "end", class: "bar-name" }, r.label);
    g.append(title,
      el("rect", { x: Math.min(zero, x1), y, width: Math.max(1, Math.abs(x1 - zero)), height: barH, fill: r.color, rx: 2 }),
      name,
      el("text", { x: Math.max(zero, x1) + 4, y: y + barH - 4, class: "bar-value" }, valueLabel(r.value)));
    root.append(g);
  });
  if (!logY && lo < 0) root.append(el("line", { x1: zero, x2: zero, y1: 0, y2: height, class: "axis" }));
  // Names too long for their column end in an ellipsis (the title keeps the whole).
  requestAnimationFrame(() => {
    for (const t of root.querySelectorAll("text.bar-name")) {
      let text = t.textContent;
      while (text.length > 3 && t.getComputedTextLength() > nameW - 8) {
        text = text.slice(0, -2);
        t.textContent = `${text}…`;
      }
    }
  });
  return h("div", { class: "plot bars-box" }, root);
}
