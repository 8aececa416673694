// The Models page: registered models searched by name (MLflow's `name ILIKE '%…%'`), each
// with its latest version, aliases, stages, tags and last change; sorted and paged by the
// server (page tokens). The search text stays in the address (#/models?q=…), so Back
// returns to it.

import { errorBox, formatTime, h, quote, replace, select } from "./dom.js";
import { aliasChips, hashParams, modelHref, registry, tagChips, versionLink } from "./registry.js";

const PAGE_SIZES = [["25", "25 per page"], ["100", "100 per page"], ["500", "500 per page"]];

// The highest version, and the newest version in each stage but None.
function latest(model) {
  const versions = model.latest_versions || [];
  let top = null;
  for (const v of versions) if (!top || Number(v.version) > Number(top.version)) top = v;
  const staged = versions.filter((v) => v.current_stage && v.current_stage !== "None")
    .sort((a, b) => a.current_stage.localeCompare(b.current_stage));
  return { top, staged };
}

export async function modelsPage(view) {
  const state = {
    name: hashParams().get("q") || "",
    order: { key: "name", asc: true },
    pageSize: 25,
    tokens: [undefined],
  };
  let typing;
  const tableBox = h("div", { class: "table-box" }, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager" });
  const search = h("input", {
    type: "search",
    class: "model-search",
    placeholder: "Search models by name",
    "aria-label": "Search models by name",
    value: state.name,
    oninput: (e) => {
      state.name = e.target.value;
      clearTimeout(typing);
      typing = setTimeout(restart, 200); // one search when typing pauses, not one per key
    },
  });

  function restart() {
    state.tokens = [undefined];
    const q = state.name.trim();
    // Kept in the address without a new history entry (and without reopening the page).
    history.replaceState(null, "", q ? `#/models?q=${encodeURIComponent(q)}` : "#/models");
    load();
  }

  function sortBy(key) {
    state.order = state.order.key === key ? { key, asc: !state.order.asc } : { key, asc: key === "name" };
    restart();
  }

  function header(label, key) {
    if (!key) return h("th", {}, label);
    const active = state.order.key === key;
    return h("th", { class: "sortable", "data-sort": key, title: `Sort by ${label.toLowerCase()}`, onclick: () => sortBy(key) },
      label, active ? h("span", { class: "arrow" }, state.order.asc ? " ▲" : " ▼") : null);
  }

  function row(model) {
    const { top, staged } = latest(model);
    return h("tr", { "data-model": model.name },
      h("td", { class: "name" }, h("a", { href: modelHref(model.name) }, model.name)),
      h("td", {}, top ? versionLink(model.name, top.version) : h("span", { class: "muted" }, "none")),
      h("td", {}, aliasChips(model.name, model.aliases)),
      h("td", {}, staged.map((v, i) => [i ? ", " : "", v.current_stage, ": ", versionLink(model.name, v.version, `v${v.version}`)])),
      h("td", { class: "tags" }, tagChips(model.tags)),
      h("td", {}, formatTime(model.last_updated_timestamp)),
      h("td", {}, formatTime(model.creation_timestamp)));
  }

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    const q = state.name.trim();
    try {
      const page = await registry.get("registered-models/search", {
        filter: q ? `name ILIKE ${quote(`%${q}%`)}` : undefined,
        order_by: `${state.order.key === "name" ? "name" : "last_updated_timestamp"} ${state.order.asc ? "ASC" : "DESC"}`,
        max_results: state.pageSize,
        page_token: state.tokens[state.tokens.length - 1],
      });
      if (!view.alive() || ticket !== loading) return;
      const models = page.registered_models || [];
      replace(tableBox, models.length
        ? h("table", { class: "grid", id: "models-table" },
            h("thead", {}, h("tr", {},
              header("Name", "name"), header("Latest version"), header("Aliases"), header("Stages"), header("Tags"),
              header("Last modified", "last_updated_timestamp"), header("Created"))),
            h("tbody", {}, models.map(row)))
        : h("p", { class: "muted", id: "no-models" }, q
          ? `No registered model's name contains "${q}".`
          : "No registered models yet: mlflow.register_model(...) or log_model(..., registered_model_name=...) adds one."));
      replace(pager,
        h("button", { disabled: state.tokens.length === 1, onclick: () => { state.tokens.pop(); load(); } }, "‹ Previous"),
        h("span", {}, ` Page ${state.tokens.length} · ${models.length} models `),
        h("button", { disabled: !page.next_page_token, onclick: () => { state.tokens.push(page.next_page_token); load(); } }, "Next ›"),
        select(PAGE_SIZES, String(state.pageSize), (v) => { state.pageSize = Number(v); restart(); }, { "aria-label": "Page size" }));
    } catch (err) {
      if (!view.alive() || ticket !== loading) return;
      replace(pager);
      replace(tableBox, errorBox(err));
    }
  }

  replace(view.root,
    h("h1", {}, "Registered models"),
    h("div", { class: "toolbar" }, search),
    tableBox,
    pager);
  await load();
}
