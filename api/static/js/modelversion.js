// A model version's page (its fields, description, tags, aliases, the run it came from, its
// logged model, its part of the model's history), and the run page's list of the versions
// registered from that run.

import { mlflow } from "./api.js";
import { errorBox, formatTime, h, quote, replace } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import {
  aliasesOfModels, kvTable, loggedModelHref, modelHref, registry, runLink, runsById, section, stageBadge, statusBadge,
  tagsTable, versionAliases, versionLink,
} from "./registry.js";
import { versionHistory } from "./registryhistory.js";

const SAFE_URL = /^https?:\/\//i;

export async function versionPage(view, name, version) {
  const { model_version: mv } = await registry.get("model-versions/get", { name, version });
  const [runs, logged, download] = await Promise.all([
    runsById([mv.run_id]),
    mv.model_id
      ? mlflow.get(`logged-models/${encodeURIComponent(mv.model_id)}`, { allow_deleted: true }).then((r) => r.model).catch(() => null)
      : null,
    registry.get("model-versions/get-download-uri", { name, version }).then((r) => r.artifact_uri).catch(() => null),
  ]);
  if (!view.alive()) return;
  const run = runs.get(mv.run_id);

  let loggedModel = null;
  if (mv.model_id) {
    const experimentId = logged?.info.experiment_id || run?.info.experiment_id;
    const label = logged ? `${logged.info.name} (${mv.model_id})` : mv.model_id;
    loggedModel = experimentId ? h("a", { href: loggedModelHref(experimentId, mv.model_id), id: "logged-model-link" }, label)
      : h("span", { class: "mono" }, label);
  }
  const fields = kvTable([
    ["Model", h("a", { href: modelHref(mv.name) }, mv.name)],
    ["Version", mv.version],
    ["Stage", stageBadge(mv.current_stage)],
    ["Status", [statusBadge(mv.status), mv.status_message ? ` ${mv.status_message}` : ""]],
    ["Aliases", versionAliases(mv.aliases)],
    ["Source run", mv.run_id ? [runLink(runs, mv.run_id), run ? h("span", { class: "muted mono" }, ` ${mv.run_id}`) : ""] : ""],
    ["Logged model", loggedModel],
    ["Source", h("span", { class: "mono" }, mv.source || "")],
    ["Files at", download ? h("span", { class: "mono" }, download) : ""],
    ["Run link", mv.run_link ? (SAFE_URL.test(mv.run_link) ? h("a", { href: mv.run_link, rel: "noopener noreferrer", target: "_blank" }, mv.run_link) : mv.run_link) : ""],
    ["Registered by", mv.user_id || ""],
    ["Created", formatTime(mv.creation_timestamp)],
    ["Last modified", formatTime(mv.last_updated_timestamp)],
  ], "version-fields");
  const description = h("div", { class: "note", id: "version-description" },
    mv.description ? renderMarkdown(mv.description) : h("p", { class: "muted" }, "No description."));

  replace(view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/models" }, "Models"), " / ", h("a", { href: modelHref(mv.name) }, mv.name), " /"),
    h("h1", {}, `${mv.name} version ${mv.version}`),
    h("div", { class: "run-top" },
      section("Version", fields),
      section("Description", description)),
    section("Tags", tagsTable(mv.tags, "version-tags")),
    section("History", versionHistory(mv.name, mv.version)));
}

// The versions registered from a run, for the run page (model-versions/search by run_id).
export function runVersions(runId) {
  const box = h("div", { class: "run-versions" }, h("p", { class: "muted" }, "Loading registered versions…"));
  (async () => {
    try {
      const found = await registry.get("model-versions/search", {
        filter: `run_id = ${quote(runId)}`, order_by: "creation_timestamp DESC", max_results: 1000,
      });
      const versions = found.model_versions || [];
      const aliases = await aliasesOfModels(versions.map((v) => v.name));
      replace(box, h("h3", {}, "Registered model versions"), versions.length
        ? h("table", { class: "grid", id: "run-versions" },
            h("thead", {}, h("tr", {}, ["Model", "Version", "Stage", "Aliases", "Status", "Created"].map((t) => h("th", {}, t)))),
            h("tbody", {}, versions.map((v) => h("tr", { "data-model": v.name, "data-version": v.version },
              h("td", {}, h("a", { href: modelHref(v.name) }, v.name)),
              h("td", {}, versionLink(v.name, v.version)),
              h("td", {}, stageBadge(v.current_stage)),
              h("td", {}, versionAliases(aliases.get(v.name)?.get(v.version))),
              h("td", {}, statusBadge(v.status)),
              h("td", {}, formatTime(v.creation_timestamp))))))
        : h("p", { class: "muted", id: "no-run-versions" }, "No model versions were registered from this run."),
        found.next_page_token ? h("p", { class: "muted" }, "Showing the 1000 newest.") : null);
    } catch (err) {
      replace(box, errorBox(err));
    }
  })();
  return box;
}
