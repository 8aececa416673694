// A registered model's page: overview and description (Markdown), aliases and the version
// each points at, tags, the versions (paged by the server, newest first) with their source
// runs, and the model's history from the event log.

import { errorBox, formatTime, h, quote, replace, select } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import {
  aliasChips, aliasesByVersion, kvTable, loggedModelHref, registry, runLink, runsById, section, stageBadge, statusBadge,
  tagsTable, versionAliases, versionLink,
} from "./registry.js";
import { modelHistory } from "./registryhistory.js";

const PAGE_SIZES = [["25", "25 per page"], ["100", "100 per page"], ["500", "500 per page"]];

function versionsTable(model) {
  const box = h("div", { class: "table-box" }, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager" });
  const state = { pageSize: 25, tokens: [undefined] };
  const aliases = aliasesByVersion(model);
  let loading = 0;

  async function load() {
    const ticket = ++loading;
    try {
      const page = await registry.get("model-versions/search", {
        filter: `name = ${quote(model.name)}`,
        order_by: "version_number DESC",
        max_results: state.pageSize,
        page_token: state.tokens[state.tokens.length - 1],
      });
      const versions = page.model_versions || [];
      const runs = await runsById(versions.map((v) => v.run_id));
      if (ticket !== loading) return;
      const withModels = versions.some((v) => v.model_id);
      replace(box, versions.length
        ? h("table", { class: "grid", id: "versions-table" },
            h("thead", {}, h("tr", {}, ["Version", "Stage", "Aliases", "Source run", withModels ? "Logged model" : null, "Created", "Status", "Description"]
              .filter(Boolean).map((t) => h("th", {}, t)))),
            h("tbody", {}, versions.map((v) => {
              const run = runs.get(v.run_id);
              return h("tr", { "data-version": v.version },
                h("td", {}, versionLink(model.name, v.version)),
                h("td", {}, stageBadge(v.current_stage)),
                h("td", {}, versionAliases(aliases.get(v.version))),
                h("td", {}, runLink(runs, v.run_id)),
                withModels ? h("td", { class: "mono" }, v.model_id
                  ? (run ? h("a", { href: loggedModelHref(run.info.experiment_id, v.model_id) }, v.model_id) : v.model_id) : "") : null,
                h("td", {}, formatTime(v.creation_timestamp)),
                h("td", {}, statusBadge(v.status)),
                h("td", { class: "wrap" }, v.description ? v.description.split("\n")[0].slice(0, 80) : ""));
            })))
        : h("p", { class: "muted", id: "no-versions" }, "No versions registered yet."));
      replace(pager, versions.length || state.tokens.length > 1 ? [
        h("button", { disabled: state.tokens.length === 1, onclick: () => { state.tokens.pop(); load(); } }, "‹ Previous"),
        h("span", {}, ` Page ${state.tokens.length} · ${versions.length} versions `),
        h("button", { disabled: !page.next_page_token, onclick: () => { state.tokens.push(page.next_page_token); load(); } }, "Next ›"),
        select(PAGE_SIZES, String(state.pageSize), (v) => { state.pageSize = Number(v); state.tokens = [undefined]; load(); }, { "aria-label": "Versions per page" }),
      ] : null);
    } catch (err) {
      if (ticket === loading) replace(box, errorBox(err));
    }
  }
  load();
  return h("div", {}, box, pager);
}

function aliasesTable(model) {
  const aliases = [...(model.aliases || [])].sort((a, b) => a.alias.localeCompare(b.alias));
  if (!aliases.length) return h("p", { class: "muted" }, "No aliases.");
  return h("table", { class: "grid", id: "aliases-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Alias"), h("th", {}, "Points at"))),
    h("tbody", {}, aliases.map((a) => h("tr", { "data-alias": a.alias },
      h("td", {}, h("code", {}, `@${a.alias}`)), h("td", {}, versionLink(model.name, a.version))))));
}

export async function modelPage(view, name) {
  const { registered_model: model } = await registry.get("registered-models/get", { name });
  if (!view.alive()) return;
  const latest = (model.latest_versions || []).reduce((top, v) => (!top || Number(v.version) > Number(top.version) ? v : top), null);
  const staged = (model.latest_versions || []).filter((v) => v.current_stage && v.current_stage !== "None");

  const overview = kvTable([
    ["Name", model.name],
    ["Latest version", latest ? versionLink(model.name, latest.version) : "none"],
    ["Aliases", aliasChips(model.name, model.aliases)],
    ["Stages", staged.map((v, i) => [i ? ", " : "", `${v.current_stage}: `, versionLink(model.name, v.version, `v${v.version}`)])],
    ["Created", formatTime(model.creation_timestamp)],
    ["Last modified", formatTime(model.last_updated_timestamp)],
  ], "model-overview");
  const description = h("div", { class: "note", id: "model-description" },
    model.description ? renderMarkdown(model.description) : h("p", { class: "muted" }, "No description."));

  replace(view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/models" }, "Models"), " /"),
    h("h1", {}, model.name),
    h("div", { class: "run-top" },
      section("Overview", overview),
      section("Description", description)),
    h("div", { class: "run-top" },
      section("Aliases", aliasesTable(model)),
      section("Tags", tagsTable(model.tags, "model-tags"))),
    section("Versions", versionsTable(model)),
    section("History", modelHistory(model.name)));
}
