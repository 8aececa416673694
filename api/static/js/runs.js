// The runs table of one or several experiments: server-side filter, sort and pagination,
// nested runs as a tree, chosen param/metric/tag columns, compare, delete, restore and CSV.

import { allPages, ApiError, ledger, mlflow } from "./api.js";
import { experimentTabs } from "./traces.js";
import {
  errorBox, filterKey, formatDuration, formatNumber, formatTime, h, quote, replace, runName, select, tagMap,
} from "./dom.js";

const VIEWS = [["ACTIVE_ONLY", "Active"], ["DELETED_ONLY", "Deleted"], ["ALL", "All"]];
const CREATED = [["all", "Any time"], ["3600000", "Last hour"], ["86400000", "Last 24 hours"],
  ["604800000", "Last 7 days"], ["2592000000", "Last 30 days"]];
const PAGE_SIZES = [["25", "25 per page"], ["100", "100 per page"], ["500", "500 per page"]];
const PARENT = "tags.mlflow.parentRunId";

// The fixed columns: label, the order_by key that sorts them (null: not sortable), cell.
const FIXED = [
  ["Start time", "attributes.start_time", (r) => formatTime(r.info.start_time)],
  ["Duration", null, (r) => formatDuration(r.info.start_time, r.info.end_time)],
  ["User", "attributes.user_id", (r) => r.info.user_id || ""],
  ["Status", "attributes.status", (r) => h("span", { class: `status ${r.info.status}` }, r.info.status)],
  ["Source", "tags.mlflow.source.name", (r) => (tagMap(r)["mlflow.source.name"] || "").split("/").pop()],
];

function storedColumns(key) {
  try {
    return JSON.parse(localStorage.getItem(key)) || null;
  } catch {
    return null;
  }
}

export async function runsPage(view, experimentIds) {
  const columnsKey = `trackledger.columns.${experimentIds.join(",")}`;
  const state = {
    filter: "",
    viewType: "ACTIVE_ONLY",
    created: "all",
    tree: true,
    order: { key: "attributes.start_time", asc: false },
    pageSize: 100,
    tokens: [undefined],
    columns: storedColumns(columnsKey),
  };
  const selected = new Set();
  const expanded = new Set();
  let children = new Map(); // parent id -> child runs, for the runs shown
  let pageRuns = [];

  const [keys, ...experiments] = await Promise.all([
    ledger.get("runs/keys", { experiment_ids: experimentIds }),
    ...experimentIds.map((id) => mlflow.get("experiments/get", { experiment_id: id }).then((r) => r.experiment)),
  ]);
  if (!view.alive()) return;
  if (!state.columns) {
    state.columns = { params: (keys.params || []).slice(0, 5), metrics: (keys.metrics || []).slice(0, 5), tags: [] };
  }

  const filterInput = h("input", {
    type: "search",
    class: "filter",
    placeholder: "metrics.accuracy > 0.9 AND params.lr < 0.01",
    "aria-label": "Filter runs",
    value: state.filter,
  });
  const filterError = h("div", { class: "filter-error", role: "alert" });
  const message = h("div", { class: "message" });
  const tableBox = h("div", { class: "table-box" }, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager" });
  const includeChildren = h("input", { type: "checkbox", checked: true, id: "include-children" });
  const csvLink = h("a", { class: "button", download: "runs.csv" }, "Download CSV");
  const compareButton = h("button", { disabled: true, onclick: () => (window.location.hash = `#/compare?runs=${[...selected].join(",")}`) }, "Compare");
  const deleteButton = h("button", { class: "danger", disabled: true, onclick: () => bulk("runs/delete", "Deleted") }, "Delete");
  const restoreButton = h("button", { disabled: true, onclick: () => bulk("runs/restore", "Restored") }, "Restore");

  function userFilter() {
    return filterInput.value.trim();
  }

  // The filter sent: the user's, in parentheses, and the toolbar's conditions.
  function effectiveFilter(topLevelOnly) {
    const parts = [];
    if (userFilter()) parts.push(`(${userFilter()})`);
    if (state.created !== "all") parts.push(`attributes.start_time >= ${Date.now() - Number(state.created)}`);
    if (topLevelOnly) parts.push(`${PARENT} IS NULL`);
    return parts.join(" AND ");
  }

  function orderBy() {
    return [`${state.order.key} ${state.order.asc ? "ASC" : "DESC"}`];
  }

  function searchBody(filter, token, maxResults) {
    return {
      experiment_ids: experimentIds,
      filter,
      run_view_type: state.viewType,
      max_results: maxResults,
      order_by: orderBy(),
      page_token: token,
    };
  }

  function updateActions() {
    compareButton.disabled = selected.size < 2;
    deleteButton.disabled = selected.size === 0;
    restoreButton.disabled = selected.size === 0;
    csvLink.href = ledger.url("runs/export-csv", {
      experiment_ids: experimentIds,
      filter: effectiveFilter(false),
      order_by: orderBy(),
      run_view_type: state.viewType,
    });
  }

  async function childrenOf(parentIds) {
    const found = new Map();
    for (let i = 0; i < parentIds.length; i += 100) {
      const ids = parentIds.slice(i, i + 100);
      const runs = await allPages(
        (token) => mlflow.post("runs/search", {
          ...searchBody(`${PARENT} IN (${ids.map(quote).join(", ")})`, token, 1000),
          order_by: ["attributes.start_time ASC"],
        }),
        "runs",
      );
      for (const run of runs) {
        const parent = tagMap(run)["mlflow.parentRunId"];
        if (!found.has(parent)) found.set(parent, []);
        found.get(parent).push(run);
      }
    }
    return found;
  }

  async function bulk(path, done) {
    const ids = [...selected];
    try {
      for (const runId of ids) {
        const body = { run_id: runId };
        if (path === "runs/delete") body.include_descendants = includeChildren.checked;
        await mlflow.post(path, body);
      }
      selected.clear();
      await load();
      replace(message, `${done} ${ids.length} run${ids.length === 1 ? "" : "s"}${path === "runs/delete" && includeChildren.checked ? " and their child runs" : ""}.`);
    } catch (err) {
      replace(message, errorBox(err));
    }
  }

  function sortBy(key) {
    if (!key) return;
    state.order = state.order.key === key ? { key, asc: !state.order.asc } : { key, asc: key === "attributes.run_name" };
    state.tokens = [undefined];
    load();
  }

  function header(label, key) {
    const active = state.order.key === key;
    return h("th", { class: key ? "sortable" : "", "data-sort": key || undefined, onclick: () => sortBy(key), title: key ? `Sort by ${key}` : undefined },
      label, active ? h("span", { class: "arrow" }, state.order.asc ? " ▲" : " ▼") : null);
  }

  function chosenColumns() {
    return [
      ...state.columns.params.map((k) => [k, filterKey("params", k), (r) => (r.data.params || []).find((p) => p.key === k)?.value ?? ""]),
      ...state.columns.metrics.map((k) => [k, filterKey("metrics", k), (r) => formatNumber((r.data.metrics || []).find((m) => m.key === k)?.value)]),
      ...state.columns.tags.map((k) => [k, filterKey("tags", k), (r) => tagMap(r)[k] ?? ""]),
    ];
  }

  function rows(runs, depth, out) {
    for (const run of runs) {
      const id = run.info.run_id;
      const kids = children.get(id);
      const open = expanded.has(id);
      out.push(h("tr", { class: run.info.lifecycle_stage === "deleted" ? "deleted" : "", "data-run-id": id },
        h("td", {}, h("input", {
          type: "checkbox",
          "aria-label": `Select ${runName(run)}`,
          checked: selected.has(id),
          onchange: (e) => {
            if (e.target.checked) selected.add(id);
            else selected.delete(id);
            updateActions();
          },
        })),
        h("td", { class: "name", style: `padding-left:${0.4 + depth * 1.2}em` },
          kids ? h("button", { class: "expander", "aria-label": open ? "Collapse" : "Expand", "aria-expanded": String(open), onclick: () => toggle(id) }, open ? "▾" : "▸") : h("span", { class: "expander-space" }),
          h("a", { href: `#/experiments/${run.info.experiment_id}/runs/${id}` }, runName(run)),
          kids ? h("span", { class: "muted" }, ` (${kids.length})`) : null),
        FIXED.map(([, , cell]) => h("td", {}, cell(run))),
        chosenColumns().map(([, , cell]) => h("td", { class: "num" }, cell(run)))));
      if (kids && open) rows(kids, depth + 1, out);
    }
    return out;
  }

  async function toggle(id) {
    if (expanded.has(id)) expanded.delete(id);
    else {
      expanded.add(id);
      const unknown = (children.get(id) || []).map((r) => r.info.run_id).filter((c) => !children.has(c));
      if (unknown.length) {
        for (const [parent, kids] of await childrenOf(unknown)) children.set(parent, kids);
      }
    }
    render();
  }

  function render() {
    const table = h("table", { class: "grid runs", id: "runs-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, h("input", {
          type: "checkbox",
          "aria-label": "Select all on this page",
          onchange: (e) => {
            for (const run of pageRuns) {
              if (e.target.checked) selected.add(run.info.run_id);
              else selected.delete(run.info.run_id);
            }
            render();
          },
        })),
        header("Name", "attributes.run_name"),
        FIXED.map(([label, key]) => header(label, key)),
        chosenColumns().map(([label, key]) => header(label, key)))),
      h("tbody", {}, rows(pageRuns, 0, [])));
    replace(tableBox, pageRuns.length ? table : h("p", { class: "muted", id: "no-runs" }, "No runs match."));
    updateActions();
  }

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    const started = performance.now();
    const token = state.tokens[state.tokens.length - 1];
    replace(filterError);
    try {
      let page;
      try {
        // Nested, an unfiltered page lists top-level runs; a filtered one lists every match.
        const topLevelOnly = state.tree && !userFilter();
        page = await mlflow.post("runs/search", searchBody(effectiveFilter(topLevelOnly), token, state.pageSize));
      } catch (err) {
        // Say what is wrong with the user's own text, at its own positions.
        if (err instanceof ApiError && err.status === 400 && userFilter()) {
          await mlflow.post("runs/search", { experiment_ids: experimentIds, filter: userFilter(), max_results: 1 }).catch((raw) => { err = raw; });
        }
        throw err;
      }
      const runs = page.runs || [];
      children = state.tree && runs.length ? await childrenOf(runs.map((r) => r.info.run_id)) : new Map();
      if (!view.alive() || ticket !== loading) return;
      pageRuns = runs;
      render();
      const ms = Math.round(performance.now() - started);
      tableBox.dataset.loadMs = String(ms);
      replace(pager,
        h("button", { disabled: state.tokens.length === 1, onclick: () => { state.tokens.pop(); load(); } }, "‹ Previous"),
        h("span", {}, ` Page ${state.tokens.length} · ${runs.length} runs · ${ms} ms `),
        h("button", { disabled: !page.next_page_token, onclick: () => { state.tokens.push(page.next_page_token); load(); } }, "Next ›"),
        h("label", {}, " ", select(PAGE_SIZES, String(state.pageSize), (v) => { state.pageSize = Number(v); state.tokens = [undefined]; load(); }, { "aria-label": "Page size" })));
    } catch (err) {
      if (!view.alive() || ticket !== loading) return;
      if (err instanceof ApiError && err.status === 400) replace(filterError, err.message);
      else replace(tableBox, errorBox(err));
    }
  }

  function columnPicker() {
    const group = (kind, title, all) => h("fieldset", {}, h("legend", {}, title),
      all.length ? all.map((k) => h("label", { class: "check" }, h("input", {
        type: "checkbox",
        checked: state.columns[kind].includes(k),
        onchange: (e) => {
          state.columns[kind] = e.target.checked ? [...state.columns[kind], k] : state.columns[kind].filter((x) => x !== k);
          localStorage.setItem(columnsKey, JSON.stringify(state.columns));
          render();
        },
      }), k)) : h("span", { class: "muted" }, "none"));
    return h("details", { class: "columns" }, h("summary", {}, "Columns"),
      group("params", "Params", keys.params || []),
      group("metrics", "Metrics", keys.metrics || []),
      group("tags", "Tags", (keys.tags || []).filter((k) => !k.startsWith("mlflow."))));
  }

  const restart = () => { state.tokens = [undefined]; selected.clear(); load(); };
  replace(
    view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / "),
    h("h1", {}, experiments.map((e) => e.name).join(", ")),
    experimentIds.length === 1 ? experimentTabs(experimentIds[0], "Runs") : null,
    h("form", { class: "search", onsubmit: (e) => { e.preventDefault(); restart(); } },
      filterInput, h("button", { type: "submit" }, "Search")),
    filterError,
    h("div", { class: "toolbar" },
      select(VIEWS, state.viewType, (v) => { state.viewType = v; restart(); }, { "aria-label": "State" }),
      select(CREATED, state.created, (v) => { state.created = v; restart(); }, { "aria-label": "Created" }),
      h("label", { class: "check" }, h("input", { type: "checkbox", checked: state.tree, onchange: (e) => { state.tree = e.target.checked; restart(); } }), "Nest child runs"),
      columnPicker()),
    h("div", { class: "toolbar actions" },
      compareButton, deleteButton,
      h("label", { class: "check", for: "include-children" }, includeChildren, "include child runs"),
      restoreButton, csvLink),
    message,
    tableBox,
    pager,
  );
  await load();
}
