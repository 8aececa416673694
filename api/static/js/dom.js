// Building elements, and the formats every page shares.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "checked" || key === "value" || key === "selected" || key === "disabled") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function errorBox(err) {
  return h("div", { class: "error", role: "alert" }, err.message || String(err));
}

export function select(options, value, onchange, attrs) {
  return h(
    "select",
    { ...attrs, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}

const pad = (n) => String(n).padStart(2, "0");

export function formatTime(ms) {
  if (ms === undefined || ms === null || ms === "") return "";
  const d = new Date(Number(ms));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(start, end) {
  if (!start || !end) return "";
  let s = Math.max(0, (Number(end) - Number(start)) / 1000);
  if (s < 60) return `${s.toFixed(1)}s`;
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  s = Math.floor(s % 60);
  return hours ? `${hours}h ${minutes}m` : `${minutes}m ${s}s`;
}

export function formatNumber(value) {
  if (typeof value === "string") return value; // "NaN", "Infinity"
  if (value === undefined || value === null) return "";
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

// A value as a number for plotting, or null when it is none ("NaN", text, infinities).
export function numeric(value) {
  const n = typeof value === "number" ? value : Number(value);
  return value !== "" && value !== null && Number.isFinite(n) ? n : null;
}

// A key as the filter language writes it: backticks when it is not a plain identifier.
export function filterKey(kind, key) {
  return /^[A-Za-z_][\w.]*$/.test(key) ? `${kind}.${key}` : `${kind}.\`${key}\``;
}

// A string literal; the filter language has no escapes, so the other quote kind is used
// when the text holds a single quote.
export function quote(text) {
  const s = String(text);
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s}'`;
}

export function tagMap(run) {
  return Object.fromEntries((run.data.tags || []).map((t) => [t.key, t.value]));
}

export function runName(run) {
  return run.info.run_name || run.info.run_id.slice(0, 8);
}
