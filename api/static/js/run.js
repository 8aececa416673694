// The run page: overview, description (Markdown), datasets and models, a chart per metric
// (the most-changing first), params, metrics, tags, artifacts, history.

import { artifactUrl, ledger, mlflow, traces } from "./api.js";
import {
  errorBox, formatDuration, formatNumber, formatTime, h, numeric, replace, runName, tagMap,
} from "./dom.js";
import { changeScore, chartGrid, sampledRuns } from "./chartgrid.js";
import { ColorBook } from "./colors.js";
import { historyTable } from "./history.js";
import { renderMarkdown } from "./markdown.js";
import { datasetsTable, modelsTable } from "./runinputs.js";
import { runVersions } from "./modelversion.js";

const NOTE = "mlflow.note.content";

function section(title, ...body) {
  return h("section", { class: "panel", "data-section": title }, h("h2", {}, title), ...body);
}

function findNode(node, id) {
  if (node.run_id === id) return node;
  for (const child of node.children) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return null;
}

export async function runPage(view, experimentId, runId) {
  const [{ run }, { experiment }] = await Promise.all([
    mlflow.get("runs/get", { run_id: runId }),
    mlflow.get("experiments/get", { experiment_id: experimentId }),
  ]);
  const tree = await ledger.get("runs/tree", { run_id: runId });
  if (!view.alive()) return;
  const reload = () => {
    if (charts) charts.destroy(); // (declared below; reload runs only after the page is drawn)
    return runPage(view, experimentId, runId);
  };
  const tags = tagMap(run);
  const message = h("div", { class: "message" });
  const fail = (err) => replace(message, errorBox(err));
  const runLink = (id, label) => h("a", { href: `#/experiments/${experimentId}/runs/${id}` }, label || id);
  const node = findNode(tree.tree, runId);
  const parent = tags["mlflow.parentRunId"];

  const title = h("h1", {}, runName(run), " ", h("button", { class: "small", onclick: rename }, "Rename"));
  function rename() {
    const input = h("input", { value: run.info.run_name || "", "aria-label": "Run name" });
    replace(title, h("form", { class: "inline", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await mlflow.post("runs/update", { run_id: runId, run_name: input.value });
        await reload();
      } catch (err) {
        fail(err);
      }
    } }, input, h("button", {}, "Save")));
    input.focus();
  }

  const overview = h("table", { class: "kv" }, h("tbody", {}, [
    ["Run ID", run.info.run_id],
    ["Experiment", h("a", { href: `#/experiments/${experimentId}` }, `${experiment.name} (${experimentId})`)],
    ["Status", h("span", { class: `status ${run.info.status}` }, run.info.status)],
    ["Lifecycle", run.info.lifecycle_stage],
    ["Started", formatTime(run.info.start_time)],
    ["Ended", formatTime(run.info.end_time)],
    ["Duration", formatDuration(run.info.start_time, run.info.end_time)],
    ["User", run.info.user_id || ""],
    ["Source", [tags["mlflow.source.type"], tags["mlflow.source.name"]].filter(Boolean).join(" · ")],
    ["Git commit", tags["mlflow.source.git.commit"] || ""],
    ["Parent run", parent ? runLink(parent, findNode(tree.tree, parent)?.run_name || parent) : ""],
    ["Child runs", node && node.children.length ? node.children.map((c, i) => [i ? ", " : "", runLink(c.run_id, c.run_name || c.run_id)]) : ""],
    ["Artifact URI", run.info.artifact_uri],
  ].map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))));

  async function setTag(key, value) {
    try {
      await mlflow.post("runs/set-tag", { run_id: runId, key, value });
      await reload();
    } catch (err) {
      fail(err);
    }
  }

  const note = h("div", { class: "note" }, tags[NOTE] ? renderMarkdown(tags[NOTE]) : h("p", { class: "muted" }, "No description."));
  const editNote = h("button", { class: "small", onclick: () => {
    const text = h("textarea", { rows: 5, "aria-label": "Description" }, tags[NOTE] || "");
    replace(note, h("form", { onsubmit: (e) => { e.preventDefault(); setTag(NOTE, text.value); } }, text, h("button", {}, "Save description")));
  } }, "Edit");

  const params = run.data.params || [];
  const metrics = run.data.metrics || [];
  // Every metric's history, downsampled: its range for the table, and how much it moves,
  // so the charts open on the metric that changes most and skip single values.
  const histories = new Map();
  await Promise.all(metrics.map(async (m) => {
    try {
      histories.set(m.key, (await sampledRuns([runId], m.key, "step", 1000)).get(runId));
    } catch { /* the table shows "?" */ }
  }));
  if (!view.alive()) return;
  const metricRows = metrics.map((m) => {
    const hist = histories.get(m.key);
    let lo = null;
    let hi = null;
    for (let i = 0; hist && i < hist.min.length; i++) {
      const a = numeric(hist.min[i]);
      const b = numeric(hist.max[i]);
      if (a !== null && (lo === null || a < lo)) lo = a;
      if (b !== null && (hi === null || b > hi)) hi = b;
    }
    return h("tr", {}, h("td", {}, m.key), h("td", { class: "num" }, formatNumber(m.value)),
      h("td", { class: "num" }, hist ? formatNumber(lo) : "?"), h("td", { class: "num" }, hist ? formatNumber(hi) : "?"), h("td", { class: "num" }, m.step));
  });
  const ranked = metrics.map((m) => ({ key: m.key, ...changeScore([histories.get(m.key)]) }));
  const charted = ranked.filter((m) => m.points > 1)
    .sort((a, b) => b.score - a.score || b.points - a.points || a.key.localeCompare(b.key));
  const singles = metrics.filter((m) => !charted.some((c) => c.key === m.key));
  const chartRuns = [{ id: runId, name: runName(run), color: new ColorBook().color(runId), startTime: run.info.start_time }];
  const charts = charted.length ? chartGrid({ runs: chartRuns, keys: charted.map((m) => m.key), points: 1000 }) : null;
  if (charts) view.onLeave(() => charts.destroy());

  function tagRow(key, value) {
    const cell = h("td", {}, value);
    return h("tr", { "data-tag": key }, h("td", {}, key), cell, h("td", { class: "actions" },
      h("button", { class: "small", onclick: () => {
        const input = h("input", { value, "aria-label": `Value of ${key}` });
        replace(cell, h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); setTag(key, input.value); } }, input, h("button", {}, "Save")));
        input.focus();
      } }, "Edit"),
      h("button", { class: "small danger", onclick: async () => {
        try {
          await mlflow.post("runs/delete-tag", { run_id: runId, key });
          await reload();
        } catch (err) {
          fail(err);
        }
      } }, "Delete")));
  }
  const userTags = Object.entries(tags).filter(([k]) => !k.startsWith("mlflow."));
  const systemTags = Object.entries(tags).filter(([k]) => k.startsWith("mlflow."));
  const newKey = h("input", { placeholder: "key", "aria-label": "New tag key" });
  const newValue = h("input", { placeholder: "value", "aria-label": "New tag value" });

  replace(
    view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / ", h("a", { href: `#/experiments/${experimentId}` }, experiment.name), " /"),
    title,
    message,
    h("div", { class: "run-top" },
      section("Overview", overview),
      section("Description", note, editNote)),
    metrics.length ? section("Charts",
      charts ? charts.el : null,
      singles.length ? h("div", { class: "single-values", id: "single-values" },
        h("span", { class: "muted" }, charts ? "Single values:" : "Each metric holds a single value:"),
        singles.map((m) => h("span", { "data-metric": m.key }, h("b", {}, m.key), " ", formatNumber(m.value)))) : null) : null,
    h("div", { class: "run-top" },
      section("Datasets", datasetsTable(run)),
      section("Logged models", modelsTable(run), runVersions(runId))),
    section(`Parameters (${params.length})`, params.length
      ? h("table", { class: "grid", id: "params" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Value"))), h("tbody", {}, params.map((p) => h("tr", {}, h("td", {}, p.key), h("td", {}, p.value)))))
      : h("p", { class: "muted" }, "None.")),
    section(`Metrics (${metrics.length})`, metrics.length
      ? h("table", { class: "grid", id: "metrics" }, h("thead", {}, h("tr", {}, ["Name", "Latest", "Min", "Max", "Step"].map((t) => h("th", {}, t)))), h("tbody", {}, metricRows))
      : h("p", { class: "muted" }, "None.")),
    section("Tags",
      h("table", { class: "grid", id: "tags" }, h("tbody", {}, userTags.map(([k, v]) => tagRow(k, v)))),
      h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); if (newKey.value) setTag(newKey.value, newValue.value); } }, newKey, newValue, h("button", {}, "Add tag")),
      systemTags.length ? h("details", {}, h("summary", {}, `System tags (${systemTags.length})`),
        h("table", { class: "grid" }, h("tbody", {}, systemTags.map(([k, v]) => tagRow(k, v))))) : null),
    section("Artifacts", artifactBrowser(run)),
    section("Traces", runTraces(experimentId, runId)),
    section("History", historyTable(runId)),
  );
}

// The traces that ran under the run or were linked to it, newest first.
function runTraces(experimentId, runId) {
  const box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  traces.post("traces/search", {
    locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: experimentId } }],
    filter: `run_id = '${runId}'`,
    max_results: 100,
  }).then((page) => {
    const found = page.traces || [];
    replace(box, found.length
      ? h("ul", { id: "run-traces" }, found.map((t) => h("li", {},
        h("a", { href: `#/experiments/${experimentId}/traces/${t.trace_id}` }, (t.tags || {})["mlflow.traceName"] || t.trace_id),
        " ", h("span", { class: `status trace-${t.state}` }, t.state), " ",
        h("span", { class: "muted" }, formatTime(Date.parse(t.request_time))))))
      : h("p", { class: "muted" }, "None."));
  }).catch((err) => replace(box, errorBox(err)));
  return box;
}

function artifactBrowser(run) {
  const preview = h("div", { class: "preview" }, h("p", { class: "muted" }, "Choose a file to preview it."));
  const runId = run.info.run_id;

  async function show(path) {
    const url = artifactUrl(run.info.artifact_uri, path);
    if (!url) {
      replace(preview, h("p", { class: "muted" }, "This run's artifacts are stored outside this server."));
      return;
    }
    const download = h("a", { href: url, download: path.split("/").pop() }, "Download");
    const header = h("p", {}, h("b", {}, path), " · ", download);
    if (/\.(png|jpe?g|gif|webp|bmp|svg)$/i.test(path)) {
      replace(preview, header, h("img", { src: url, alt: path, class: "artifact-image" }));
      return;
    }
    try {
      const res = await fetch(url);
      const blob = await res.blob();
      if (blob.size > 2_000_000) {
        replace(preview, header, h("p", { class: "muted" }, `${(blob.size / 1e6).toFixed(1)} MB: too large to preview.`));
        return;
      }
      let text = await blob.text();
      if (/\.json$/i.test(path)) {
        try {
          text = JSON.stringify(JSON.parse(text), null, 2);
        } catch { /* shown as it is */ }
      }
      if (text.includes("\u0000")) text = "(binary file)";
      replace(preview, header, h("pre", { class: "artifact-text" }, text));
    } catch (err) {
      replace(preview, header, errorBox(err));
    }
  }

  async function listing(path, into) {
    try {
      const found = await mlflow.get("artifacts/list", { run_id: runId, path });
      const files = found.files || [];
      replace(into, files.length ? h("ul", { class: "tree" }, files.map((f) => {
        const name = f.path.split("/").pop();
        if (!f.is_dir) {
          return h("li", {}, h("a", { href: "#", class: "file", onclick: (e) => { e.preventDefault(); show(f.path); } }, name),
            f.file_size ? h("span", { class: "muted" }, ` ${f.file_size} B`) : null);
        }
        const inner = h("div");
        const details = h("details", { ontoggle: () => { if (details.open && !inner.childNodes.length) listing(f.path, inner); } },
          h("summary", {}, `${name}/`), inner);
        return h("li", {}, details);
      })) : h("p", { class: "muted" }, path ? "Empty." : "No artifacts."));
    } catch (err) {
      replace(into, errorBox(err));
    }
  }

  const root = h("div", { class: "artifact-tree" });
  listing("", root);
  return h("div", { class: "artifacts" }, root, preview);
}
