// Line, scatter and parallel-coordinates charts drawn as SVG, with no library.

const NS = "http://www.w3.org/2000/svg";
export const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// About ``count`` round tick values between lo and hi.
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => raw / s <= 1) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    const v = 10 ** e;
    if (v >= lo && v <= hi) out.push(v);
  }
  return out.length ? out : [lo, hi];
}

export function tickLabel(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

function extent(values, pad = 0) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

// Exponential moving average, bias-corrected as TensorBoard does, so the line starts at
// the first value.
function smooth(values, weight) {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

// series: [{name, color, points: [{x, min, max}]}] with min/max the bucket's lowest and
// highest value (equal for a single point). Each bucket is drawn as a vertical stroke from
// min to max, so spikes survive downsampling.
export function lineChart(series, { width = 720, height = 320, logY = false, smoothing = 0, xFormat = tickLabel, xLabel = "" } = {}) {
  const m = { left: 64, right: 16, top: 12, bottom: 40 };
  const w = width - m.left - m.right;
  const hgt = height - m.top - m.bottom;
  const usable = (v) => Number.isFinite(v) && (!logY || v > 0);
  const clean = series.map((s) => ({ ...s, points: s.points.filter((p) => usable(p.min) && usable(p.max) && Number.isFinite(p.x)) }));
  const xs = clean.flatMap((s) => s.points.map((p) => p.x));
  const ys = clean.flatMap((s) => s.points.flatMap((p) => [p.min, p.max]));
  const [x0, x1] = extent(xs);
  let [y0, y1] = logY ? extent(ys) : extent(ys, 0.05);
  if (logY) [y0, y1] = [Math.max(y0, Number.MIN_VALUE), Math.max(y1, y0 * 10)];
  const fy = logY ? (v) => Math.log10(v) : (v) => v;
  const X = (v) => m.left + ((v - x0) / (x1 - x0 || 1)) * w;
  const Y = (v) => m.top + hgt - ((fy(v) - fy(y0)) / (fy(y1) - fy(y0) || 1)) * hgt;

  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  const grid = svg("g", { class: "axes" });
  for (const t of logY ? logTicks(y0, y1) : ticks(y0, y1)) {
    grid.append(svg("line", { x1: m.left, x2: m.left + w, y1: Y(t), y2: Y(t), class: "grid" }),
      svg("text", { x: m.left - 6, y: Y(t) + 4, "text-anchor": "end" }, tickLabel(t)));
  }
  for (const t of ticks(x0, x1, 6)) {
    grid.append(svg("line", { x1: X(t), x2: X(t), y1: m.top + hgt, y2: m.top + hgt + 4, class: "tick" }),
      svg("text", { x: X(t), y: m.top + hgt + 18, "text-anchor": "middle" }, xFormat(t)));
  }
  grid.append(svg("line", { x1: m.left, x2: m.left + w, y1: m.top + hgt, y2: m.top + hgt, class: "axis" }),
    svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + hgt, class: "axis" }),
    svg("text", { x: m.left + w / 2, y: height - 4, "text-anchor": "middle", class: "label" }, xLabel));
  root.append(grid);

  for (const s of clean) {
    if (!s.points.length) continue;
    const d = [];
    for (const p of s.points) {
      d.push(`${d.length ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p.min).toFixed(1)}`);
      if (p.max !== p.min) d.push(`L${X(p.x).toFixed(1)},${Y(p.max).toFixed(1)}`);
    }
    const raw = svg("path", { d: d.join(""), fill: "none", stroke: s.color, "stroke-width": 1.5, class: "series", "data-series": s.name });
    if (smoothing > 0) {
      raw.setAttribute("stroke-opacity", "0.25");
      const mid = smooth(s.points.map((p) => (p.min + p.max) / 2), smoothing);
      const sd = s.points.map((p, i) => `${i ? "L" : "M"}${X(p.x).toFixed(1)},${Y(Math.max(mid[i], logY ? y0 : -Infinity)).toFixed(1)}`).join("");
      root.append(raw, svg("path", { d: sd, fill: "none", stroke: s.color, "stroke-width": 2, class: "smoothed" }));
    } else {
      root.append(raw);
    }
    if (s.points.length === 1) {
      root.append(svg("circle", { cx: X(s.points[0].x), cy: Y(s.points[0].max), r: 3, fill: s.color }));
    }
  }
  root.append(hover(clean, { X, Y, m, w, hgt, x0, x1, xFormat }));
  return root;
}

// A vertical rule and the values of each series at the pointer's x.
function hover(series, { X, m, w, hgt, x0, x1, xFormat }) {
  const g = svg("g", { class: "hover", visibility: "hidden" });
  const rule = svg("line", { y1: m.top, y2: m.top + hgt, class: "rule" });
  const text = svg("text", { y: m.top + 14 });
  g.append(rule, text);
  const area = svg("rect", { x: m.left, y: m.top, width: w, height: hgt, fill: "transparent" });
  area.addEventListener("mousemove", (event) => {
    const box = area.ownerSVGElement.getBoundingClientRect();
    const scale = area.ownerSVGElement.viewBox.baseVal.width / box.width;
    const px = (event.clientX - box.left) * scale;
    const x = x0 + ((px - m.left) / w) * (x1 - x0);
    rule.setAttribute("x1", px);
    rule.setAttribute("x2", px);
    text.replaceChildren();
    text.setAttribute("x", px + 6 > m.left + w - 160 ? px - 6 : px + 6);
    text.setAttribute("text-anchor", px + 6 > m.left + w - 160 ? "end" : "start");
    text.append(svg("tspan", { x: text.getAttribute("x"), dy: 0 }, xFormat(x)));
    for (const s of series) {
      let best = null;
      for (const p of s.points) if (!best || Math.abs(p.x - x) < Math.abs(best.x - x)) best = p;
      if (best) {
        const value = best.min === best.max ? tickLabel(best.max) : `${tickLabel(best.min)}…${tickLabel(best.max)}`;
        text.append(svg("tspan", { x: text.getAttribute("x"), dy: 15, fill: s.color }, `${s.name}: ${value}`));
      }
    }
    g.setAttribute("visibility", "visible");
  });
  area.addEventListener("mouseleave", () => g.setAttribute("visibility", "hidden"));
  return svg("g", {}, g, area);
}

// points: [{x, y, label}]
export function scatterChart(points, { width = 480, height = 360, xLabel = "", yLabel = "" } = {}) {
  const m = { left: 64, right: 16, top: 12, bottom: 40 };
  const w = width - m.left - m.right;
  const hgt = height - m.top - m.bottom;
  const [x0, x1] = extent(points.map((p) => p.x), 0.05);
  const [y0, y1] = extent(points.map((p) => p.y), 0.05);
  const X = (v) => m.left + ((v - x0) / (x1 - x0)) * w;
  const Y = (v) => m.top + hgt - ((v - y0) / (y1 - y0)) * hgt;
  const root = svg("svg", { class: "chart scatter", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  for (const t of ticks(y0, y1)) root.append(svg("line", { x1: m.left, x2: m.left + w, y1: Y(t), y2: Y(t), class: "grid" }), svg("text", { x: m.left - 6, y: Y(t) + 4, "text-anchor": "end" }, tickLabel(t)));
  for (const t of ticks(x0, x1)) root.append(svg("text", { x: X(t), y: m.top + hgt + 18, "text-anchor": "middle" }, tickLabel(t)));
  root.append(svg("line", { x1: m.left, x2: m.left + w, y1: m.top + hgt, y2: m.top + hgt, class: "axis" }),
    svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + hgt, class: "axis" }),
    svg("text", { x: m.left + w / 2, y: height - 4, "text-anchor": "middle", class: "label" }, xLabel),
    svg("text", { x: 12, y: m.top + hgt / 2, transform: `rotate(-90 12 ${m.top + hgt / 2})`, "text-anchor": "middle", class: "label" }, yLabel));
  points.forEach((p, i) => root.append(svg("circle", { cx: X(p.x), cy: Y(p.y), r: 5, fill: COLORS[i % COLORS.length], class: "point" }, svg("title", {}, `${p.label}: (${tickLabel(p.x)}, ${tickLabel(p.y)})`))));
  return root;
}

// axes: [{name, values: [number|string|null per line]}]; lines: [{label, color}].
// Text values are spread evenly along their axis in sorted order.
export function parallelCoordinates(axes, lines, { width = 720, height = 320 } = {}) {
  const m = { left: 40, right: 40, top: 28, bottom: 16 };
  const hgt = height - m.top - m.bottom;
  const root = svg("svg", { class: "chart parallel", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  const step = axes.length > 1 ? (width - m.left - m.right) / (axes.length - 1) : 0;
  const scales = axes.map((axis) => {
    const nums = axis.values.filter((v) => typeof v === "number");
    if (nums.length === axis.values.filter((v) => v !== null).length) {
      const [lo, hi] = extent(nums);
      return { pos: (v) => (v === null ? null : m.top + hgt - ((v - lo) / (hi - lo)) * hgt), labels: [[hi, m.top], [lo, m.top + hgt]] };
    }
    const cats = [...new Set(axis.values.filter((v) => v !== null).map(String))].sort();
    const at = (c) => m.top + (cats.length > 1 ? (cats.indexOf(c) / (cats.length - 1)) * hgt : hgt / 2);
    return { pos: (v) => (v === null ? null : at(String(v))), labels: cats.map((c) => [c, at(c)]) };
  });
  lines.forEach((line, i) => {
    const pts = axes.map((axis, a) => [m.left + a * step, scales[a].pos(axis.values[i])]).filter(([, y]) => y !== null);
    root.append(svg("path", { d: pts.map(([x, y], k) => `${k ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(""), fill: "none", stroke: line.color, "stroke-width": 2, class: "line" }, svg("title", {}, line.label)));
  });
  axes.forEach((axis, a) => {
    const x = m.left + a * step;
    root.append(svg("line", { x1: x, x2: x, y1: m.top, y2: m.top + hgt, class: "axis" }),
      svg("text", { x, y: m.top - 10, "text-anchor": "middle", class: "label" }, axis.name));
    for (const [label, y] of scales[a].labels) root.append(svg("text", { x: x + 4, y: y + 4, class: "small" }, typeof label === "number" ? tickLabel(label) : label));
  });
  return root;
}
