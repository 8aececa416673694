// A grid of charts, one per metric, each on its own y axis: lines for the runs given (a
// bar chart where every run holds a single value), its own x axis (step, time, relative
// time) and log scale, zoom, tooltip and legend. Charts are searchable by name and can be
// reordered (drag a chart's title, or its arrows); a chart fetches its data only when it
// scrolls into view, in one request for all its runs.

import { ledger } from "./api.js";
import { errorBox, h, numeric, replace } from "./dom.js";
import { barPlot, linePlot } from "./plot.js";

export const X_AXES = [["step", "Step"], ["time", "Time"], ["relative", "Relative time"]];
const RUN_CHUNK = 500;

// Per run, metric, axis and size: a history once fetched is not fetched again when the
// runs in view change (a selection, a filter, the next page), only the runs not seen yet.
const cache = new Map();
const CACHE_MAX = 20_000;

// Chart requests in flight at once: the server does each on a core, so more than two only
// makes the first charts wait for the later ones (requests start in the order charts came
// into view).
const IN_FLIGHT = 2;
let inFlight = 0;
const waiting = [];

function limited(request) {
  return new Promise((resolve, reject) => {
    const start = () => {
      inFlight++;
      request().then(resolve, reject).finally(() => {
        inFlight--;
        if (waiting.length) waiting.shift()();
      });
    };
    if (inFlight < IN_FLIGHT) start();
    else waiting.push(start);
  });
}

// One metric of many runs, downsampled on the server: Map run id -> {step, timestamp,
// min, max, count} columns.
export async function sampledRuns(runIds, key, axis = "step", points = 1000) {
  const xAxis = axis === "step" ? "step" : "timestamp";
  const id = (run) => `${run}\u0000${key}\u0000${xAxis}\u0000${points}`;
  const missing = [...new Set(runIds)].filter((run) => !cache.has(id(run)));
  for (let i = 0; i < missing.length; i += RUN_CHUNK) {
    const ids = missing.slice(i, i + RUN_CHUNK);
    const request = limited(() => ledger.post("metrics/sampled-runs", { run_ids: ids, metric_key: key, x_axis: xAxis, max_points: points }))
      .then((answer) => new Map(answer.runs.map((r) => [r.run_id, r])));
    for (const run of ids) {
      const one = request.then((found) => found.get(run));
      one.catch(() => cache.delete(id(run)));
      cache.set(id(run), one);
    }
  }
  const pending = runIds.map((run) => cache.get(id(run)));
  while (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
  const found = await Promise.all(pending);
  return new Map(runIds.map((run, i) => [run, found[i]]));
}

// How much a metric moves across these histories: its range over its largest magnitude
// (0 for a constant), so charts can open on the metric that changes most.
export function changeScore(histories) {
  let lo = Infinity;
  let hi = -Infinity;
  let points = 0;
  for (const r of histories) {
    if (!r) continue;
    for (let i = 0; i < r.min.length; i++) {
      const a = numeric(r.min[i]);
      const b = numeric(r.max[i]);
      if (a === null || b === null) continue;
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
      points += r.count[i];
    }
  }
  if (!points || !(hi > lo)) return { score: 0, points };
  return { score: (hi - lo) / Math.max(Math.abs(hi), Math.abs(lo)), points };
}

function stored(key) {
  if (!key) return null;
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

// runs: [{id, name, color, startTime}]; keys: metric keys in the order to show them (a
// stored order, under storageKey, wins). Returns {el, setRuns}.
export function chartGrid({ runs, keys, storageKey = null, points = 500, emptyText = "No runs to chart." }) {
  const saved = stored(storageKey) || {};
  const known = new Set(keys);
  let order = [...(saved.order || []).filter((k) => known.has(k)), ...keys.filter((k) => !(saved.order || []).includes(k))];
  const settings = saved.settings || {}; // key -> {axis, logY}
  let current = runs;
  let search = "";
  let smoothing = Number(saved.smoothing) || 0;
  const cards = new Map();
  const visible = new Set();

  const grid = h("div", { class: "chart-grid" });
  const count = h("span", { class: "muted chart-count" });
  const searchBox = h("input", {
    type: "search", class: "chart-search", placeholder: "Search metrics", "aria-label": "Search metrics",
    oninput: (e) => { search = e.target.value.trim().toLowerCase(); applySearch(); },
  });

  function save() {
    if (storageKey) localStorage.setItem(storageKey, JSON.stringify({ order, settings, smoothing }));
  }

  function applySearch() {
    let shown = 0;
    for (const key of order) {
      const match = !search || key.toLowerCase().includes(search);
      cards.get(key).el.hidden = !match;
      if (match) shown++;
    }
    count.textContent = `${shown} of ${order.length} charts`;
  }

  function move(key, to) {
    const from = order.indexOf(key);
    if (from < 0 || to < 0 || to >= order.length || to === from) return;
    order.splice(from, 1);
    order.splice(to, 0, key);
    for (const k of order) grid.append(cards.get(k).el);
    save();
  }

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const key = entry.target.dataset.metric;
      if (entry.isIntersecting) {
        visible.add(key);
        const card = cards.get(key);
        if (card && card.dirty) card.draw();
      } else visible.delete(key);
    }
  }, { rootMargin: "100px 0px" });

  let dragging = null;
  function card(key) {
    const setting = settings[key] || (settings[key] = { axis: "step", logY: false });
    const body = h("div", { class: "card-body" }, h("p", { class: "muted" }, "…"));
    const legend = h("div", { class: "card-legend" });
    const hidden = new Set();
    let plot = null;
    let ticket = 0;
    const axisSelect = h("select", { "aria-label": `X axis of ${key}`, onchange: (e) => { setting.axis = e.target.value; save(); self.draw(); } },
      X_AXES.map(([v, label]) => h("option", { value: v, selected: v === setting.axis }, label)));
    const logBox = h("input", { type: "checkbox", checked: setting.logY, "aria-label": `Log scale of ${key}`, onchange: (e) => { setting.logY = e.target.checked; save(); self.draw(); } });
    const resetZoom = h("button", { class: "small", onclick: () => plot && plot.resetZoom && plot.resetZoom() }, "Reset zoom");
    const tools = h("div", { class: "card-tools" },
      h("label", {}, "X ", axisSelect), h("label", { class: "check" }, logBox, "Log"), resetZoom);
    const title = h("h3", { title: key }, key);
    const header = h("header", { draggable: "true" },
      h("span", { class: "handle", "aria-hidden": "true", title: "Drag to reorder" }, "⠿"),
      title,
      h("button", { class: "small move", "aria-label": `Move ${key} earlier`, title: "Move earlier", onclick: () => move(key, order.indexOf(key) - 1) }, "◀"),
      h("button", { class: "small move", "aria-label": `Move ${key} later`, title: "Move later", onclick: () => move(key, order.indexOf(key) + 1) }, "▶"));
    const el = h("section", { class: "chart-card", "data-metric": key, "data-state": "waiting" }, header, tools, body, legend);
    header.addEventListener("dragstart", (e) => { dragging = key; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", key); el.classList.add("dragging"); });
    header.addEventListener("dragend", () => { dragging = null; el.classList.remove("dragging"); });
    el.addEventListener("dragover", (e) => { if (dragging && dragging !== key) { e.preventDefault(); el.classList.add("drop-target"); } });
    el.addEventListener("dragleave", () => el.classList.remove("drop-target"));
    el.addEventListener("drop", (e) => { e.preventDefault(); el.classList.remove("drop-target"); if (dragging) move(dragging, order.indexOf(key)); });

    function drawLegend(shownRuns) {
      // One run needs no legend: the chart's title says what it is.
      if (shownRuns.length < 2) {
        replace(legend);
        return;
      }
      replace(legend, shownRuns.map((run, i) => h("button", {
        class: `legend-item${hidden.has(run.id) ? " off" : ""}`,
        "aria-pressed": String(!hidden.has(run.id)),
        "data-run": run.id,
        title: `Show or hide ${run.name}`,
        onclick: (e) => {
          const off = !hidden.has(run.id);
          if (off) hidden.add(run.id);
          else hidden.delete(run.id);
          e.currentTarget.classList.toggle("off", off);
          e.currentTarget.setAttribute("aria-pressed", String(!off));
          if (plot && plot.setShown) plot.setShown(i, !off);
          else self.draw();
        },
      }, h("i", { class: "swatch", style: `background:${run.color}` }), run.name)));
    }

    const self = {
      el,
      dirty: true,
      async draw() {
        self.dirty = false;
        const mine = ++ticket;
        const runsNow = current;
        if (!runsNow.length) {
          if (plot && plot.destroy) plot.destroy();
          plot = null;
          replace(body, h("p", { class: "muted" }, emptyText));
          replace(legend);
          el.dataset.state = "empty";
          return;
        }
        el.dataset.state = "loading";
        try {
          const asked = performance.now();
          const data = await sampledRuns(runsNow.map((r) => r.id), key, setting.axis, points);
          if (mine !== ticket) return;
          const fetched = performance.now();
          const withData = runsNow.filter((r) => data.get(r.id)?.count.length);
          const total = (r) => data.get(r.id).count.reduce((a, b) => a + b, 0);
          const single = withData.length > 0 && withData.every((r) => total(r) === 1);
          if (plot && plot.destroy) plot.destroy();
          plot = null;
          const width = Math.max(240, body.clientWidth || el.clientWidth - 24 || 400);
          if (!withData.length) {
            replace(body, h("p", { class: "muted" }, "None of these runs logged this metric."));
            replace(legend);
            el.dataset.kind = "none";
          } else if (single) {
            tools.classList.add("bars-mode");
            const rows = withData.filter((r) => !hidden.has(r.id)).map((r) => ({ id: r.id, label: r.name, color: r.color, value: numeric(data.get(r.id).max[0]) }));
            replace(body, barPlot(rows, { width, logY: setting.logY }));
            drawLegend(withData);
            el.dataset.kind = "bar";
          } else {
            tools.classList.remove("bars-mode");
            const series = withData.map((r) => {
              const d = data.get(r.id);
              const origin = Number(r.startTime || d.timestamp[0] || 0);
              const x = setting.axis === "step" ? d.step
                : setting.axis === "time" ? d.timestamp : d.timestamp.map((t) => (t - origin) / 1000);
              return { id: r.id, label: r.name, color: r.color, x, lo: d.min.map((v) => numeric(v) ?? NaN), hi: d.max.map((v) => numeric(v) ?? NaN) };
            });
            plot = linePlot(series, { width, height: 220, xMode: setting.axis, logY: setting.logY, smoothing });
            replace(body, plot.el);
            series.forEach((s, i) => { if (hidden.has(s.id)) plot.setShown(i, false); });
            drawLegend(withData);
            el.dataset.kind = "line";
          }
          el.dataset.state = "drawn";
          el.dataset.runs = String(withData.length);
          // Where the time went, for the measurements (tests/ui/test_chart_view_scale.py).
          el.dataset.askedAt = String(Math.round(asked));
          el.dataset.fetchMs = String(Math.round(fetched - asked));
          el.dataset.drawMs = String(Math.round(performance.now() - fetched));
        } catch (err) {
          if (mine !== ticket) return;
          replace(body, errorBox(err));
          el.dataset.state = "error";
        }
      },
      destroy() {
        ticket++;
        if (plot && plot.destroy) plot.destroy();
        plot = null;
      },
      resize() {
        if (plot && plot.setSize) plot.setSize(Math.max(240, body.clientWidth), 220);
        else if (!self.dirty && el.dataset.kind === "bar") self.draw();
      },
    };
    return self;
  }

  function build() {
    for (const key of order) {
      const c = card(key);
      cards.set(key, c);
      grid.append(c.el);
      observer.observe(c.el);
    }
    applySearch();
    // The first charts are in view on arrival: their data is asked for now, not once the
    // page has been laid out and the observer has said so (their draw then finds it).
    if (current.length) {
      for (const key of order.slice(0, IN_FLIGHT)) {
        sampledRuns(current.map((r) => r.id), key, settings[key]?.axis || "step", points).catch(() => {});
      }
    }
  }

  let lastWidth = 0;
  let resizing;
  const resizer = new ResizeObserver(() => {
    const w = grid.clientWidth;
    if (!w || Math.abs(w - lastWidth) < 2) return;
    const first = !lastWidth;
    lastWidth = w;
    if (first) return;
    clearTimeout(resizing);
    resizing = setTimeout(() => { for (const c of cards.values()) if (!c.dirty) c.resize(); }, 100);
  });
  resizer.observe(grid);

  build();
  // Smoothing applies to every chart: redrawn from the data already fetched.
  const smoothingLabel = h("span", { class: "muted" }, smoothing.toFixed(2));
  let smoothingTimer;
  const smoothingInput = h("input", {
    type: "range", min: 0, max: 0.99, step: 0.01, value: String(smoothing), "aria-label": "Smoothing",
    oninput: (e) => {
      smoothing = Number(e.target.value);
      smoothingLabel.textContent = smoothing.toFixed(2);
      save();
      clearTimeout(smoothingTimer);
      smoothingTimer = setTimeout(() => {
        for (const [key, c] of cards) {
          c.dirty = true;
          if (visible.has(key)) c.draw();
        }
      }, 120);
    },
  });
  const el = h("div", { class: "chart-view" },
    order.length ? h("div", { class: "toolbar chart-toolbar" }, searchBox, count,
      h("label", { class: "smoothing" }, "Smoothing ", smoothingInput, " ", smoothingLabel)) : null,
    order.length ? grid : h("p", { class: "muted" }, "No metrics to chart."));

  return {
    el,
    destroy() {
      observer.disconnect();
      resizer.disconnect();
      for (const c of cards.values()) c.destroy();
    },
    // New runs in view: visible charts redraw now, the others when they scroll in.
    setRuns(next) {
      current = next;
      for (const [key, c] of cards) {
        c.dirty = true;
        if (visible.has(key)) c.draw();
      }
    },
  };
}
