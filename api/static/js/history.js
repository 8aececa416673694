// A run's history from the event log, each event told as a sentence.

import { ledger } from "./api.js";
import { errorBox, formatNumber, formatTime, h } from "./dom.js";

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
// Long values (a description) are cut here: the run page shows them whole.
const short = (v) => { const t = String(v); return t.length > 80 ? `${t.slice(0, 77).replace(/\s+/g, " ")}…` : t.replace(/\s+/g, " "); };
const pairs = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k} = ${short(v)}`).join(", ");
const size = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);
// A list of names, the first few only: a batch may hold hundreds.
function names(items, max = 6) {
  return items.length > max ? `${items.slice(0, max).join(", ")} and ${items.length - max} more` : items.join(", ");
}

function metricsPart(metrics) {
  if (!metrics || (Array.isArray(metrics) && !metrics.length)) return null;
  if (Array.isArray(metrics.points)) {
    return `logged ${plural(metrics.points.length, "metric point")}: ${names(metrics.points.map((p) => `${p.key} = ${formatNumber(p.value)} at step ${p.step}`))}`;
  }
  const keys = Object.entries(metrics.keys || {}).map(([k, n]) => (n > 1 ? `${k} (${n})` : k));
  const steps = metrics.steps || [];
  const span = steps.length === 2 ? (steps[0] === steps[1] ? ` at step ${steps[0]}` : `, steps ${steps[0]}–${steps[1]}`) : "";
  return `logged ${plural(metrics.count || 0, "metric point")} of ${names(keys)}${span}`;
}

function tagList(tags) {
  // Tags of a dataset come as [key, value] pairs.
  return (tags || []).map((t) => (Array.isArray(t) ? t : [t.key, t.value]));
}

function dataset(d) {
  const context = tagList(d.tags).find(([k]) => k === "mlflow.data.context");
  return `dataset "${d.name}" (${d.source_type}, digest ${d.digest})${context ? ` for ${context[1]}` : ""}`;
}

function capital(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

// One event's data as a sentence.
export function sentence(type, data) {
  const d = data || {};
  switch (type) {
    case "run.created": {
      const tags = Object.keys(d.tags || {}).length;
      return `Created run "${d.run_name}" in experiment ${d.experiment_id}${d.user_id ? ` by ${d.user_id}` : ""}, started ${formatTime(d.start_time)}, status ${d.status}${tags ? `, with ${plural(tags, "tag")}: ${pairs(d.tags)}` : ""}.`;
    }
    case "run.updated": {
      const parts = [];
      if (d.run_name) parts.push(`renamed it "${d.run_name}"`);
      if (d.status) parts.push(`set status ${d.status}`);
      if (d.end_time) parts.push(`ended it at ${formatTime(d.end_time)}`);
      return parts.length ? `${capital(parts.join(", "))}.` : "Updated the run (no change).";
    }
    case "run.tagged":
      return `Set ${Object.keys(d.tags || {}).length === 1 ? "tag" : "tags"} ${pairs(d.tags)}.`;
    case "run.untagged":
      return `Deleted tag ${d.key}.`;
    case "run.params_logged":
      return `Logged ${Object.keys(d.params || {}).length === 1 ? "param" : "params"} ${pairs(d.params)}.`;
    case "run.metrics_logged":
      return `${capital(metricsPart(d.metrics))}.`;
    case "run.batch_logged": {
      const parts = [];
      if (metricsPart(d.metrics)) parts.push(metricsPart(d.metrics));
      if (Object.keys(d.params || {}).length) parts.push(`logged ${Object.keys(d.params).length === 1 ? "param" : "params"} ${pairs(d.params)}`);
      if (Object.keys(d.tags || {}).length) parts.push(`set ${Object.keys(d.tags).length === 1 ? "tag" : "tags"} ${pairs(d.tags)}`);
      return parts.length ? `${capital(parts.join("; "))}.` : "Logged an empty batch.";
    }
    case "run.inputs_logged": {
      const parts = [];
      if ((d.datasets || []).length) parts.push(`logged ${names(d.datasets.map(dataset), 3)}`);
      if ((d.model_ids || []).length) parts.push(`used ${d.model_ids.length === 1 ? "model" : "models"} ${names(d.model_ids)} as input`);
      return parts.length ? `${capital(parts.join("; "))}.` : "Logged no inputs.";
    }
    case "run.outputs_logged": {
      const models = (d.models || []).map((m) => (Array.isArray(m) ? { model_id: m[0], step: m[1] } : m));
      return `Logged ${models.length === 1 ? "model" : "models"} ${names(models.map((m) => `${m.model_id} at step ${m.step ?? 0}`))} as output.`;
    }
    case "run.artifact_logged":
      return `Uploaded artifact ${d.path} (${size(d.size || 0)}).`;
    case "run.deleted":
      return `Deleted the run${d.cascade ? ` (${d.cascade})` : ""}.`;
    case "run.restored":
      return "Restored the run.";
    case "run.purged":
      return `Purged the run for good: ${plural(d.events_removed || 0, "event")} removed.`;
    default: {
      const parts = Object.entries(d)
        .filter(([k, v]) => k !== "run_id" && v !== null && v !== undefined && !(Array.isArray(v) && !v.length))
        .map(([k, v]) => `${k} = ${typeof v === "object" ? JSON.stringify(v) : v}`);
      return parts.length ? `${parts.join("; ")}.` : "(no details)";
    }
  }
}

export function historyTable(runId) {
  const body = h("tbody");
  const more = h("button", { class: "small" }, "Load more");
  const box = h("div", {}, h("table", { class: "grid", id: "history" },
    h("thead", {}, h("tr", {}, ["#", "When", "Who", "What", "Change"].map((t) => h("th", {}, t)))), body), more);
  let token;
  async function page() {
    try {
      const found = await ledger.get("runs/history", { run_id: runId, max_results: 50, page_token: token });
      for (const e of found.events || []) {
        body.append(h("tr", { "data-type": e.type }, h("td", { class: "num" }, e.position), h("td", {}, formatTime(e.time)), h("td", {}, e.actor || ""),
          h("td", {}, e.type), h("td", { class: "change" }, sentence(e.type, e.data))));
      }
      token = found.next_page_token;
      more.hidden = !token;
    } catch (err) {
      box.append(errorBox(err));
    }
  }
  more.addEventListener("click", page);
  page();
  return box;
}
