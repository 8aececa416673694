// A logged model's page (MLflow 3; #/experiments/<id>/models/<model_id> as in MLflow's UI):
// its fields, params, tags, and the registered versions made from it (its
// mlflow.modelVersions tag). The model is read by its id alone: the experiment shown is its own.

import { mlflow } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { kvTable, modelHref, runHref, runLink, runsById, section, tagsTable, versionLink } from "./registry.js";

export async function loggedModelPage(view, modelId) {
  const { model } = await mlflow.get(`logged-models/${encodeURIComponent(modelId)}`, { allow_deleted: true });
  const info = model.info;
  const [runs, experiment] = await Promise.all([
    runsById([info.source_run_id]),
    mlflow.get("experiments/get", { experiment_id: info.experiment_id }).then((r) => r.experiment).catch(() => null),
  ]);
  if (!view.alive()) return;
  const tags = info.tags || [];
  let registered = [];
  try {
    registered = JSON.parse(tags.find((t) => t.key === "mlflow.modelVersions")?.value || "[]");
  } catch { /* an unreadable tag: listed with the tags */ }
  const params = (model.data && model.data.params) || [];
  const expLink = () => h("a", { href: `#/experiments/${info.experiment_id}` }, experiment ? experiment.name : info.experiment_id);
  const fields = kvTable([
    ["Name", info.name],
    ["Model ID", h("span", { class: "mono" }, info.model_id)],
    ["Experiment", expLink()],
    ["Source run", info.source_run_id ? runLink(runs, info.source_run_id) : ""],
    ["Type", info.model_type || ""],
    ["Status", (info.status || "").replace("LOGGED_MODEL_", "").toLowerCase()],
    ["Artifact URI", h("span", { class: "mono" }, info.artifact_uri || "")],
    ["Created", formatTime(info.creation_timestamp_ms)],
    ["Last modified", formatTime(info.last_updated_timestamp_ms)],
  ], "logged-model-fields");
  const versions = Array.isArray(registered) && registered.length
    ? h("ul", { id: "logged-model-versions" }, registered.filter((r) => r && r.name).map((r) =>
      h("li", {}, h("a", { href: modelHref(r.name) }, r.name), ", ", versionLink(r.name, r.version, `version ${r.version}`))))
    : h("p", { class: "muted" }, "Not registered.");
  const crumbsRun = runs.get(info.source_run_id);

  replace(view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / ", expLink(), " / ",
      crumbsRun ? [h("a", { href: runHref(crumbsRun.info.experiment_id, info.source_run_id) }, crumbsRun.info.run_name || info.source_run_id), " / "] : null),
    h("h1", {}, `Logged model ${info.name}`),
    h("div", { class: "run-top" },
      section("Logged model", fields),
      section("Registered versions", versions)),
    section(`Parameters (${params.length})`, params.length
      ? h("table", { class: "grid", id: "logged-model-params" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Value"))),
        h("tbody", {}, params.map((p) => h("tr", {}, h("td", {}, p.key), h("td", { class: "wrap" }, p.value)))))
      : h("p", { class: "muted" }, "None.")),
    section("Tags", tagsTable(tags, "logged-model-tags")));
}
