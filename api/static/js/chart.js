// Scatter and parallel-coordinates charts drawn as SVG (metric histories: plot.js).

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
  points.forEach((p, i) => root.append(svg("circle", { cx: X(p.x), cy: Y(p.y), r: 5, fill: p.color || COLORS[i % COLORS.length], class: "point" }, svg("title", {}, `${p.label}: (${tickLabel(p.x)}, ${tickLabel(p.y)})`))));
  return root;
}

// Width of each text in pixels at ``font``.
function textWidths(texts, font) {
  const ctx = textWidths.ctx || (textWidths.ctx = document.createElement("canvas").getContext("2d"));
  ctx.font = font;
  return texts.map((t) => ctx.measureText(String(t)).width);
}

// axes: [{name, values: [number|string|null per line]}]; lines: [{label, color}].
// Text values are spread evenly along their axis in sorted order. Axes are spaced so that
// no name or value label overlaps another or runs off the chart: the chart grows wider
// instead (its box scrolls), and a long category list labels every k-th value only.
export function parallelCoordinates(axes, lines, { height = 340 } = {}) {
  const nameFont = "600 12px system-ui, sans-serif";
  const smallFont = "10px system-ui, sans-serif";
  const m = { top: 34, bottom: 16 };
  const hgt = height - m.top - m.bottom;
  const scales = axes.map((axis) => {
    const nums = axis.values.filter((v) => typeof v === "number");
    if (nums.length === axis.values.filter((v) => v !== null).length) {
      const [lo, hi] = extent(nums);
      const pos = (v) => (v === null ? null : m.top + hgt - ((v - lo) / (hi - lo)) * hgt);
      const labels = nums.length && Math.min(...nums) === Math.max(...nums)
        ? [[tickLabel(nums[0]), pos(nums[0])]]
        : [[tickLabel(hi), m.top], [tickLabel(lo), m.top + hgt]];
      return { pos, labels };
    }
    const cats = [...new Set(axis.values.filter((v) => v !== null).map(String))].sort();
    const at = (c) => m.top + (cats.length > 1 ? (cats.indexOf(c) / (cats.length - 1)) * hgt : hgt / 2);
    const every = Math.max(1, Math.ceil((cats.length * 13) / hgt));
    return { pos: (v) => (v === null ? null : at(String(v))), labels: cats.filter((_, i) => i % every === 0).map((c) => [c, at(c)]) };
  });
  const nameWidths = textWidths(axes.map((a) => a.name), nameFont);
  const valueWidths = scales.map((s) => Math.max(0, ...textWidths(s.labels.map(([l]) => l), smallFont)));
  // Room between axis a and a+1: half of each name, or a's value labels (drawn to its right).
  const gaps = axes.slice(1).map((_, a) => Math.max(90, (nameWidths[a] + nameWidths[a + 1]) / 2 + 16, valueWidths[a] + 14));
  const left = Math.max(20, nameWidths[0] / 2 + 6);
  const xs = [left];
  for (const g of gaps) xs.push(xs[xs.length - 1] + g);
  const last = axes.length - 1;
  const width = Math.ceil(xs[last] + Math.max(20, nameWidths[last] / 2 + 6, valueWidths[last] + 10));
  const root = svg("svg", { class: "chart parallel", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  lines.forEach((line, i) => {
    const pts = axes.map((axis, a) => [xs[a], scales[a].pos(axis.values[i])]).filter(([, y]) => y !== null);
    root.append(svg("path", { d: pts.map(([x, y], k) => `${k ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(""), fill: "none", stroke: line.color, "stroke-width": 2, class: "line" }, svg("title", {}, line.label)));
  });
  axes.forEach((axis, a) => {
    const x = xs[a];
    root.append(svg("line", { x1: x, x2: x, y1: m.top, y2: m.top + hgt, class: "axis" }),
      svg("text", { x, y: m.top - 14, "text-anchor": "middle", class: "label axis-name" }, axis.name));
    for (const [label, y] of scales[a].labels) root.append(svg("text", { x: x + 4, y: Math.min(m.top + hgt + 10, Math.max(m.top + 4, y + 4)), class: "small" }, label));
  });
  return root;
}
