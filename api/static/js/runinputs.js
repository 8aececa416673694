// A run's datasets (inputs) and the models it logged or used.

import { mlflow } from "./api.js";
import { errorBox, formatTime, h, replace } from "./dom.js";
import { loggedModelHref } from "./registry.js";

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function datasetsTable(run) {
  const inputs = (run.inputs && run.inputs.dataset_inputs) || [];
  if (!inputs.length) return h("p", { class: "muted" }, "No datasets.");
  return h("table", { class: "grid", id: "datasets" },
    h("thead", {}, h("tr", {}, ["Name", "Context", "Digest", "Source type", "Source", "Schema"].map((t) => h("th", {}, t)))),
    h("tbody", {}, inputs.map(({ dataset: d, tags }) => {
      const context = (tags || []).find((t) => t.key === "mlflow.data.context")?.value || "";
      return h("tr", { "data-dataset": d.name },
        h("td", {}, d.name), h("td", {}, context), h("td", { class: "mono" }, d.digest), h("td", {}, d.source_type),
        h("td", { class: "wrap mono" }, pretty(d.source)),
        h("td", {}, d.schema ? h("details", {}, h("summary", {}, "schema"), h("pre", { class: "artifact-text" }, pretty(d.schema))) : ""));
    })));
}

// Models this run produced (its outputs, and those naming it their source run) and used
// as inputs; each fetched for its name, type and status.
export function modelsTable(run) {
  const box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const runId = run.info.run_id;
  const roles = new Map(); // model id -> {roles, step}
  const note = (id, role, step) => {
    const entry = roles.get(id) || { roles: new Set(), step: undefined };
    entry.roles.add(role);
    if (step !== undefined) entry.step = step;
    roles.set(id, entry);
  };
  for (const o of (run.outputs && run.outputs.model_outputs) || []) note(o.model_id, "output", o.step);
  for (const i of (run.inputs && run.inputs.model_inputs) || []) note(i.model_id, "input");

  (async () => {
    try {
      const found = await mlflow.post("logged-models/search", {
        experiment_ids: [run.info.experiment_id], filter: `source_run_id = '${runId}'`, max_results: 100,
      });
      const models = new Map((found.models || []).map((m) => [m.info.model_id, m]));
      for (const id of models.keys()) note(id, "output");
      await Promise.all([...roles.keys()].filter((id) => !models.has(id)).map(async (id) => {
        try {
          models.set(id, (await mlflow.get(`logged-models/${encodeURIComponent(id)}`, { allow_deleted: true })).model);
        } catch { /* a model deleted for good: shown by id alone */ }
      }));
      if (!roles.size) {
        replace(box, h("p", { class: "muted" }, "No logged models."));
        return;
      }
      replace(box, h("table", { class: "grid", id: "models" },
        h("thead", {}, h("tr", {}, ["Name", "Model ID", "Role", "Type", "Status", "Step", "Created"].map((t) => h("th", {}, t)))),
        h("tbody", {}, [...roles].map(([id, entry]) => {
          const info = models.get(id)?.info || {};
          return h("tr", { "data-model": id },
            h("td", {}, info.name || ""), h("td", { class: "mono" }, info.model_id ? h("a", { href: loggedModelHref(info.experiment_id, id) }, id) : id), h("td", {}, [...entry.roles].join(", ")),
            h("td", {}, info.model_type || ""), h("td", {}, (info.status || "").replace("LOGGED_MODEL_", "").toLowerCase()),
            h("td", { class: "num" }, entry.step ?? ""), h("td", {}, formatTime(info.creation_timestamp_ms)));
        }))));
    } catch (err) {
      replace(box, errorBox(err));
    }
  })();
  return box;
}
