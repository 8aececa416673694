// Compare two or more runs: params and metrics side by side (optionally only where they
// differ), a parallel-coordinates plot, a scatter plot of any two values, metric charts.

import { mlflow } from "./api.js";
import { formatNumber, formatTime, h, numeric, replace, runName, select, tagMap } from "./dom.js";
import { COLORS, parallelCoordinates, scatterChart } from "./chart.js";
import { metricChartPanel } from "./metricchart.js";

export async function comparePage(view, runIds) {
  const runs = (await Promise.all(runIds.map((id) => mlflow.get("runs/get", { run_id: id })))).map((r) => r.run);
  if (!view.alive()) return;
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
      h("thead", {}, h("tr", {}, h("th", {}, "Run"), runs.map((r, i) => h("th", {},
        h("i", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }),
        h("a", { href: `#/experiments/${r.info.experiment_id}/runs/${r.info.run_id}` }, runName(r)))))),
      h("tbody", {},
        h("tr", {}, h("th", {}, "Start time"), runs.map((r) => h("td", {}, formatTime(r.info.start_time)))),
        h("tr", {}, h("th", {}, "Status"), runs.map((r) => h("td", {}, r.info.status))),
        h("tr", {}, h("th", {}, "Source"), runs.map((r) => h("td", {}, (tagMap(r)["mlflow.source.name"] || "").split("/").pop()))),
        rows("Parameters", paramKeys, param, (v) => v ?? ""),
        rows("Metrics", metricKeys, metric, formatNumber))));
  }

  const parallelBox = h("div", { class: "chart-area" });
  function drawParallel() {
    const axes = fields
      .map(([name, get]) => ({ name, values: runs.map((r) => { const v = get(r); return v === undefined ? null : numeric(v) ?? v; }) }))
      .filter((axis) => axis.values.some((v) => v !== null))
      .slice(0, 12);
    replace(parallelBox, axes.length > 1
      ? parallelCoordinates(axes, runs.map((r, i) => ({ label: runName(r), color: COLORS[i % COLORS.length] })), { width: Math.max(480, Math.min(1100, 110 * axes.length)) })
      : h("p", { class: "muted" }, "Needs two or more params or metrics."));
  }

  const numericFields = fields.filter(([, get]) => runs.some((r) => numeric(get(r)) !== null));
  const choice = { x: numericFields[0]?.[0], y: numericFields[1]?.[0] || numericFields[0]?.[0] };
  const scatterBox = h("div", { class: "chart-area" });
  function drawScatter() {
    const get = (name) => numericFields.find(([n]) => n === name)?.[1];
    if (!choice.x || !choice.y) {
      replace(scatterBox, h("p", { class: "muted" }, "No numeric params or metrics to plot."));
      return;
    }
    const points = runs.map((r) => ({ x: numeric(get(choice.x)(r)), y: numeric(get(choice.y)(r)), label: runName(r) }))
      .filter((p) => p.x !== null && p.y !== null);
    replace(scatterBox, scatterChart(points, { xLabel: choice.x, yLabel: choice.y }));
  }
  const options = numericFields.map(([n]) => [n, n]);

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
    metricKeys.length ? h("section", { class: "panel" }, h("h2", {}, "Metric history"), metricChartPanel(runs, metricKeys, metricKeys.slice(0, 1))) : null,
  );
  drawTable();
  drawParallel();
  drawScatter();
}
