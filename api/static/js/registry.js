// The model registry pages' shared parts: MLflow's registry API under the UI's /ajax-api
// prefix (as MLflow's own UI calls it), the pages' addresses, alias and tag displays, and
// the runs that versions came from.

import { call, mlflow, queryString } from "./api.js";
import { h } from "./dom.js";

const AJAX = "/ajax-api/2.0/mlflow";

export const registry = {
  get: (path, params) => call("GET", `${AJAX}/${path}?${queryString(params)}`),
  post: (path, body) => call("POST", `${AJAX}/${path}`, body || {}),
};

// Model names may hold spaces, quotes, % and the like: every address encodes them.
export const modelHref = (name) => `#/models/${encodeURIComponent(name)}`;
export const versionHref = (name, version) => `${modelHref(name)}/versions/${encodeURIComponent(version)}`;
export const loggedModelHref = (experimentId, modelId) =>
  `#/experiments/${encodeURIComponent(experimentId)}/models/${encodeURIComponent(modelId)}`;
export const runHref = (experimentId, runId) => `#/experiments/${experimentId}/runs/${runId}`;

// A part of the address as the page meant it (the browser keeps it percent-encoded).
export function decodePart(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// The query after the page's address: #/models?q=…
export function hashParams() {
  return new URLSearchParams(window.location.hash.split("?")[1] || "");
}

export function versionLink(name, version, label) {
  return h("a", { href: versionHref(name, version), class: "version-link", "data-version": version }, label || `Version ${version}`);
}

// A model's aliases ([{alias, version}]) as chips, each linking to its version.
export function aliasChips(name, aliases) {
  if (!aliases || !aliases.length) return "";
  return h("span", { class: "aliases" }, aliases.map((a) =>
    h("a", { class: "alias", href: versionHref(name, a.version), "data-alias": a.alias, title: `@${a.alias} is version ${a.version}` },
      `@${a.alias}`, h("span", { class: "alias-version" }, ` v${a.version}`))));
}

// Which aliases point at each version of a model: version -> [alias]. (A version found by
// model-versions/search carries no aliases, as in MLflow; the model's own list has them.)
export function aliasesByVersion(model) {
  const out = new Map();
  for (const a of (model && model.aliases) || []) out.set(String(a.version), [...(out.get(String(a.version)) || []), a.alias]);
  return out;
}

// The aliases of the versions of these models: name -> (version -> [alias]).
export async function aliasesOfModels(names) {
  const found = new Map();
  await Promise.all([...new Set(names)].map(async (name) => {
    try {
      found.set(name, aliasesByVersion((await registry.get("registered-models/get", { name })).registered_model));
    } catch { /* deleted meanwhile: no aliases */ }
  }));
  return found;
}

// A version's own aliases (names only) as chips.
export function versionAliases(aliases) {
  if (!aliases || !aliases.length) return "";
  return h("span", { class: "aliases" }, aliases.map((a) => h("span", { class: "alias", "data-alias": a }, `@${a}`)));
}

export function stageBadge(stage) {
  const s = stage || "None";
  return h("span", { class: `stage stage-${s}` }, s);
}

export function statusBadge(status) {
  const s = status || "";
  return h("span", { class: `reg-status reg-${s}` }, s.replace(/_/g, " ").toLowerCase());
}

// Tags as a key/value table; MLflow's own (mlflow.*) folded away under their own heading.
export function tagsTable(tags, id) {
  const list = tags || [];
  if (!list.length) return h("p", { class: "muted" }, "No tags.");
  const rows = (items) => items.map((t) => h("tr", { "data-tag": t.key }, h("td", {}, t.key), h("td", { class: "wrap" }, t.value)));
  const user = list.filter((t) => !t.key.startsWith("mlflow."));
  const system = list.filter((t) => t.key.startsWith("mlflow."));
  return h("div", {},
    user.length ? h("table", { class: "grid", id }, h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Value"))), h("tbody", {}, rows(user)))
      : h("p", { class: "muted" }, "No tags."),
    system.length ? h("details", {}, h("summary", {}, `System tags (${system.length})`),
      h("table", { class: "grid" }, h("tbody", {}, rows(system)))) : null);
}

// Tags as short chips, for a row in a list.
export function tagChips(tags) {
  const user = (tags || []).filter((t) => !t.key.startsWith("mlflow."));
  return user.map((t) => h("span", { class: "tag-chip", title: `${t.key} = ${t.value}` },
    h("b", {}, t.key), t.value ? `: ${t.value.length > 40 ? `${t.value.slice(0, 39)}…` : t.value}` : ""));
}

// The runs named by these ids (for their experiment and name), fetched once each, a few at
// a time (a page of 500 versions may name 500 runs); a run that cannot be read (deleted
// for good) is left out.
export async function runsById(ids) {
  const found = new Map();
  const queue = [...new Set(ids.filter(Boolean))];
  async function worker() {
    while (queue.length) {
      const id = queue.shift();
      try {
        found.set(id, (await mlflow.get("runs/get", { run_id: id })).run);
      } catch { /* shown by its id alone */ }
    }
  }
  await Promise.all(Array.from({ length: Math.min(6, queue.length) }, worker));
  return found;
}

// A link to a run's page, by name; the bare id when the run is gone.
export function runLink(runs, runId) {
  if (!runId) return "";
  const run = runs.get(runId);
  if (!run) return h("span", { class: "mono", title: "This run is not on the server" }, runId);
  const name = run.info.run_name || runId.slice(0, 8);
  return h("a", { href: runHref(run.info.experiment_id, runId), class: "run-link", title: runId }, name);
}

export function kvTable(rows, id) {
  return h("table", { class: "kv", id }, h("tbody", {}, rows
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => h("tr", { "data-field": k }, h("th", {}, k), h("td", {}, v)))));
}

export function section(title, ...body) {
  return h("section", { class: "panel", "data-section": title }, h("h2", {}, title), ...body);
}
