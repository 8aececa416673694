// Compare two or more runs: params and metrics side by side (optionally only where they
// differ), a parallel-coordinates plot, a scatter plot of any two values, and a chart per
// metric, the most-changing first.

import { mlflow } from "./api.js";
import { formatNumber, formatTime, h, numeric, replace, runName, select, tagMap } from "./dom.js";
import { parallelCoordinates, scatterChart } from "./chart.js";
import { changeScore, chartGrid, sampledRuns } from "./chartgrid.js";
import { ColorBook } from "./colors.js";

// Charts open on at most this many metrics ranked by how much they change; the rest are a
// search away.
const RANKED = 60;

export async function comparePage(view, runIds) {
  const runs = (await Promise.all(runIds.map((id) => mlflow.get("runs/get", { run_id: id })))).map((r) => r.run);
  if (!view.alive()) return;
  const book = new ColorBook();
  const color = (run) => book.color(run.info.run_id);
  const paramKeys = [...new Set(runs.flatMap((r) => (r.data.params || []).map((p) => p.key)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => (r.data.metrics || []).map((m) => m.key)))].sort();
  const param = (run, key) => (run.data.params || []).find((p) => p.key === key)?.value;
  const metric = (run, key) => (run.data.metrics || []).find((m) => m.key === key)?.value;
  // Every comparable value: "params.x" and "metrics.y", with each run's value.
  const fields = [
    ...paramKeys.map((k) => [`params.${k}`, (r) => param(r, k)]),
    ...metricKeys.map((k) => [`metrics.${k}`, (r) => metric(r, k)]),
  ];

  let differencesOnly = false;
  const tableBox = h("div", { class: "table-box" });
  function drawTable() {
    const differs = (get) => new Set(runs.map((r) => JSON.stringify(get(r) ?? null))).size > 1;
    const rows = (title, keys, get, format) => {
      const shown = keys.filter((k) => !differencesOnly || differs((r) => get(r, k)));
      return [h("tr", { class: "group" }, h("th", { colspan: runs.length + 1 }, `${title} (${shown.length})`)),
        shown.map((k) => h("tr", { class: differs((r) => get(r, k)) ? "differs" : "", "data-key": k },
          h("th", {}, k), runs.map((r) => h("td", { class: "num" }, format(get(r, k))))))];
    };
    replace(tableBox, h("table", { class: "grid compare", id: "compare-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Run"), runs.map((r) => h("th", {},
        h("i", { class: "swatch", style: `background:${color(r)}` }),
        h("a", { href: `#/experiments/${r.info.experiment_id}/runs/${r.info.run_id}` }, runName(r)))))),
      h("tbody", {},
        h("tr", {}, h("th", {}, "Start time"), runs.map((r) => h("td", {}, formatTime(r.info.start_time)))),
        h("tr", {}, h("th", {}, "Status"), runs.map((r) => h("td", {}, r.info.status))),
        h("tr", {}, h("th", {}, "Source"), runs.map((r) => h("td", {}, (tagMap(r)["mlflow.source.name"] || "").split("/").pop()))),
        rows("Parameters", paramKeys, param, (v) => v ?? ""),
        rows("Metrics", metricKeys, metric, formatNumber))));
  }

  // Whether a field's value differs between the runs: constant ones say nothing here.
  const varies = ([, get]) => new Set(runs.map((r) => JSON.stringify(get(r) ?? null))).size > 1;

  const parallelBox = h("div", { class: "chart-area scroll-x" });
  function drawParallel() {
    const present = fields
      .map((field) => ({ field, name: field[0], values: runs.map((r) => { const v = field[1](r); return v === undefined ? null : numeric(v) ?? v; }) }))
      .filter((axis) => axis.values.some((v) => v !== null));
    // Differing params, then differing metrics; constant ones only to fill up.
    const axes = [...present.filter((a) => varies(a.field)), ...present.filter((a) => !varies(a.field))].slice(0, 12);
    replace(parallelBox, axes.length > 1
      ? parallelCoordinates(axes, runs.map((r) => ({ label: runName(r), color: color(r) })))
      : h("p", { class: "muted" }, "Needs two or more params or metrics."));
  }

  const numericFields = fields.filter(([, get]) => runs.some((r) => numeric(get(r)) !== null));
  // The scatter opens on a param that differs against the metric that differs most.
  const spread = ([, get]) => {
    const values = runs.map((r) => numeric(get(r))).filter((v) => v !== null);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    return values.length > 1 && hi > lo ? (hi - lo) / Math.max(Math.abs(hi), Math.abs(lo)) : 0;
  };
  const varying = numericFields.filter((f) => spread(f) > 0);
  const params = varying.filter(([n]) => n.startsWith("params."));
  const metricFields = varying.filter(([n]) => n.startsWith("metrics.")).sort((a, b) => spread(b) - spread(a));
  const xField = params[0] || metricFields[1] || varying[0] || numericFields[0];
  const yField = metricFields.find((f) => f !== xField) || varying.find((f) => f !== xField) || numericFields.find((f) => f !== xField) || xField;
  const choice = { x: xField?.[0], y: yField?.[0] };
  const scatterBox = h("div", { class: "chart-area" });
  function drawScatter() {
    const get = (name) => numericFields.find(([n]) => n === name)?.[1];
    if (!choice.x || !choice.y) {
      replace(scatterBox, h("p", { class: "muted" }, "No numeric params or metrics to plot."));
      return;
    }
    const points = runs.map((r) => ({ x: numeric(get(choice.x)(r)), y: numeric(get(choice.y)(r)), label: runName(r), color: color(r) }))
      .filter((p) => p.x !== null && p.y !== null);
    replace(scatterBox, scatterChart(points, { xLabel: choice.x, yLabel: choice.y }));
  }
  const options = numericFields.map(([n]) => [n, n]);

  // Metric charts, ranked by how much each metric changes across these runs' histories.
  const chartsBox = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  async function drawCharts() {
    const ids = runs.map((r) => r.info.run_id);
    const ranked = await Promise.all(metricKeys.slice(0, RANKED).map(async (key) => {
      try {
        const data = await sampledRuns(ids, key, "step", 500);
        return { key, ...changeScore([...data.values()]) };
      } catch {
        return { key, score: 0, points: 0 };
      }
    }));
    ranked.sort((a, b) => b.score - a.score || b.points - a.points || a.key.localeCompare(b.key));
    const keys = [...ranked.map((r) => r.key), ...metricKeys.slice(RANKED)];
    if (!view.alive()) return;
    const chartRuns = runs.map((r) => ({ id: r.info.run_id, name: runName(r), color: color(r), startTime: r.info.start_time }));
    const grid = chartGrid({ runs: chartRuns, keys });
    view.onLeave(() => grid.destroy());
    replace(chartsBox, grid.el);
  }

  replace(
    view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / ",
      h("a", { href: `#/experiments/${[...new Set(runs.map((r) => r.info.experiment_id))].join(",")}` }, "Runs"), " /"),
    h("h1", {}, `Comparing ${runs.length} runs`),
    h("label", { class: "check" }, h("input", { type: "checkbox", id: "differences-only", onchange: (e) => { differencesOnly = e.target.checked; drawTable(); } }), "Show differences only"),
    tableBox,
    h("section", { class: "panel" }, h("h2", {}, "Parallel coordinates"), parallelBox),
    h("section", { class: "panel" }, h("h2", {}, "Scatter"),
      h("div", { class: "toolbar" },
        h("label", {}, "X ", select(options, choice.x, (v) => { choice.x = v; drawScatter(); }, { "aria-label": "Scatter X" })),
        h("label", {}, "Y ", select(options, choice.y, (v) => { choice.y = v; drawScatter(); }, { "aria-label": "Scatter Y" }))),
      scatterBox),
    metricKeys.length ? h("section", { class: "panel", "data-section": "Metric charts" }, h("h2", {}, "Metric charts"), chartsBox) : null,
  );
  drawTable();
  drawParallel();
  drawScatter();
  if (metricKeys.length) await drawCharts();
}
