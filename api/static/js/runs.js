// The runs table of one or several experiments: server-side filter, sort and pagination,
// nested runs as a tree, chosen param/metric/tag columns (grouped, the name pinned while
// the table scrolls sideways), compare, delete, restore and CSV; and beside the table, a
// chart per metric of the runs in view (the selected ones, or else every run shown).

import { allPages, ApiError, ledger, mlflow } from "./api.js";
import { experimentTabs } from "./traces.js";
import {
  errorBox, filterKey, formatDuration, formatNumber, formatTime, h, quote, replace, runName, select, tagMap,
} from "./dom.js";
import { ColorBook } from "./colors.js";
import { chartGrid } from "./chartgrid.js";

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

// A picker that opens over the page (it never pushes the layout), with a search box when
// it holds many choices; names wrap instead of being cut.
export function picker(label, groups) {
  const body = h("div", { class: "picker-body" });
  const search = h("input", { type: "search", placeholder: "Search", "aria-label": `Search ${label.toLowerCase()}`,
    oninput: () => {
      const q = search.value.trim().toLowerCase();
      for (const item of body.querySelectorAll("label.check")) item.hidden = q && !item.dataset.name.toLowerCase().includes(q);
    } });
  const total = groups.reduce((n, g) => n + g.items.length, 0);
  for (const group of groups) {
    body.append(h("fieldset", { "data-group": group.title }, h("legend", {}, group.title),
      group.items.length ? group.items.map(([name, checked, onchange]) => h("label", { class: "check", "data-name": name, title: name },
        h("input", { type: "checkbox", checked, onchange: (e) => onchange(e.target.checked) }), h("span", {}, name)))
        : h("span", { class: "muted" }, "none")));
  }
  const details = h("details", { class: "columns picker" }, h("summary", {}, label),
    h("div", { class: "picker-panel" }, total > 12 ? search : null, body));
  // A click elsewhere closes it, as a menu would.
  const close = (e) => {
    if (!details.isConnected) document.removeEventListener("click", close); // its page is gone
    else if (details.open && !details.contains(e.target)) details.open = false;
  };
  document.addEventListener("click", close);
  return details;
}

function hashQuery() {
  const q = window.location.hash.split("?")[1] || "";
  return new URLSearchParams(q);
}

export async function runsPage(view, experimentIds) {
  const columnsKey = `trackledger.columns.${experimentIds.join(",")}`;
  const colors = new ColorBook();
  let charts = null; // the chart grid, once the chart view was opened
  let mode = hashQuery().get("view") === "charts" ? "charts" : "table";
  const parentNames = new Map(); // parent run id -> name, for the Parent column
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
  const experimentNames = new Map(experiments.map((e) => [e.experiment_id, e.name]));
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
  const tableBox = h("div", { class: "table-box runs-box" }, h("p", { class: "muted" }, "Loading…"));
  const chartBox = h("div", { class: "runs-charts" });
  const layout = h("div", { class: `runs-layout ${mode}` }, tableBox, chartBox);
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

  // The runs the charts draw: those selected, or else every run the table shows.
  function runsInView() {
    const shown = [];
    const walk = (runs) => {
      for (const run of runs) {
        shown.push(run);
        const kids = children.get(run.info.run_id);
        if (kids && expanded.has(run.info.run_id)) walk(kids);
      }
    };
    walk(pageRuns);
    const chosen = shown.filter((r) => selected.has(r.info.run_id));
    return (chosen.length ? chosen : shown).map((r) => ({
      id: r.info.run_id, name: runName(r), color: colors.color(r.info.run_id), startTime: r.info.start_time,
    }));
  }

  // The first time at once (the charts' requests go out before the table is drawn);
  // later changes come in bursts (a click, a page), so those wait for the burst to end.
  let chartTimer;
  function updateCharts() {
    if (mode !== "charts") return;
    clearTimeout(chartTimer);
    if (!charts) {
      charts = chartGrid({ runs: runsInView(), keys: keys.metrics || [], storageKey: `trackledger.charts.${experimentIds.join(",")}`, emptyText: "No runs in view." });
      view.onLeave(() => charts.destroy());
      replace(chartBox, charts.el);
      return;
    }
    chartTimer = setTimeout(() => charts.setRuns(runsInView()), 30);
  }

  function setMode(next) {
    mode = next;
    layout.className = `runs-layout ${mode}`;
    for (const b of modeButtons.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    const base = window.location.hash.split("?")[0];
    history.replaceState(null, "", mode === "charts" ? `${base}?view=charts` : base);
    updateCharts();
  }

  const modeButtons = h("div", { class: "segmented", role: "group", "aria-label": "View" },
    h("button", { "data-mode": "table", "aria-pressed": String(mode === "table"), onclick: () => setMode("table") }, "Table"),
    h("button", { "data-mode": "charts", "aria-pressed": String(mode === "charts"), onclick: () => setMode("charts") }, "Charts"));

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

  function header(label, key, cls) {
    const active = state.order.key === key;
    return h("th", { class: `${key ? "sortable" : ""} ${cls || ""}`, "data-sort": key || undefined, onclick: () => sortBy(key), title: key ? `Sort by ${key}` : undefined },
      label, active ? h("span", { class: "arrow" }, state.order.asc ? " ▲" : " ▼") : null);
  }

  // The chosen columns by group: [group, label, order key, cell].
  const GROUPS = [["params", "Params"], ["metrics", "Metrics"], ["tags", "Tags"]];
  function chosenColumns() {
    return [
      ...state.columns.params.map((k) => ["params", k, filterKey("params", k), (r) => (r.data.params || []).find((p) => p.key === k)?.value ?? ""]),
      ...state.columns.metrics.map((k) => ["metrics", k, filterKey("metrics", k), (r) => formatNumber((r.data.metrics || []).find((m) => m.key === k)?.value)]),
      ...state.columns.tags.map((k) => ["tags", k, filterKey("tags", k), (r) => tagMap(r)[k] ?? ""]),
    ];
  }

  // The run columns beside the fixed ones: the experiment when several are open, and the
  // parent (by name) when the table lists child runs flat.
  function runColumns() {
    const cols = [];
    if (experimentIds.length > 1) {
      cols.push(["Experiment", (r) => h("a", { href: `#/experiments/${r.info.experiment_id}` }, experimentNames.get(r.info.experiment_id) || r.info.experiment_id)]);
    }
    const flat = !state.tree || userFilter();
    if (flat && pageRuns.some((r) => tagMap(r)["mlflow.parentRunId"])) {
      cols.push(["Parent", (r) => {
        const parent = tagMap(r)["mlflow.parentRunId"];
        return parent ? h("a", { href: `#/experiments/${r.info.experiment_id}/runs/${parent}` }, parentNames.get(parent) || parent.slice(0, 8)) : "";
      }]);
    }
    return cols;
  }

  // Names of the parents of these runs that the page does not already know.
  async function learnParents(runs) {
    for (const run of runs) parentNames.set(run.info.run_id, runName(run));
    const unknown = [...new Set(runs.map((r) => tagMap(r)["mlflow.parentRunId"]).filter((p) => p && !parentNames.has(p)))];
    for (let i = 0; i < unknown.length; i += 100) {
      const ids = unknown.slice(i, i + 100);
      const found = await mlflow.post("runs/search", {
        experiment_ids: experimentIds, filter: `attributes.run_id IN (${ids.map(quote).join(", ")})`, run_view_type: "ALL", max_results: ids.length,
      });
      for (const run of found.runs || []) parentNames.set(run.info.run_id, runName(run));
    }
  }

  function rows(runs, depth, out) {
    for (const run of runs) {
      const id = run.info.run_id;
      const kids = children.get(id);
      const open = expanded.has(id);
      out.push(h("tr", { class: run.info.lifecycle_stage === "deleted" ? "deleted" : "", "data-run-id": id },
        h("td", { class: "pick" }, h("input", {
          type: "checkbox",
          "aria-label": `Select ${runName(run)}`,
          checked: selected.has(id),
          onchange: (e) => {
            if (e.target.checked) selected.add(id);
            else selected.delete(id);
            updateActions();
            updateCharts();
          },
        })),
        h("td", { class: "name", title: runName(run) },
          h("span", { class: "name-inner", style: `padding-left:${depth * 1.2}em` },
            kids ? h("button", { class: "expander", "aria-label": open ? "Collapse" : "Expand", "aria-expanded": String(open), onclick: () => toggle(id) }, open ? "▾" : "▸") : h("span", { class: "expander-space" }),
            h("i", { class: "swatch", style: `background:${colors.color(id)}`, "aria-hidden": "true" }),
            h("a", { href: `#/experiments/${run.info.experiment_id}/runs/${id}` }, runName(run)),
            kids ? h("span", { class: "muted" }, ` (${kids.length})`) : null)),
        runColumns().map(([label, cell]) => h("td", { "data-col": label }, cell(run))),
        FIXED.map(([, , cell]) => h("td", {}, cell(run))),
        chosenColumns().map(([group, , , cell], i, all) => h("td", { class: `num col-${group}${i === 0 || all[i - 1][0] !== group ? " group-start" : ""}` }, cell(run)))));
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
    updateCharts();
  }

  function render() {
    const chosen = chosenColumns();
    const fixedCount = runColumns().length + FIXED.length;
    // The group row: one spanning header per group of chosen columns.
    const groupRow = h("tr", { class: "groups" },
      h("th", { class: "pick" }), h("th", { class: "name" }), h("th", { colspan: fixedCount }),
      GROUPS.map(([group, title]) => {
        const n = chosen.filter(([g]) => g === group).length;
        return n ? h("th", { colspan: n, class: `col-${group} group-start`, "data-group": title }, title) : null;
      }));
    const table = h("table", { class: "grid runs", id: "runs-table" },
      h("thead", {}, chosen.length ? groupRow : null, h("tr", { class: "labels" },
        h("th", { class: "pick" }, h("input", {
          type: "checkbox",
          "aria-label": "Select all on this page",
          onchange: (e) => {
            for (const run of pageRuns) {
              if (e.target.checked) selected.add(run.info.run_id);
              else selected.delete(run.info.run_id);
            }
            render();
            updateCharts();
          },
        })),
        header("Name", "attributes.run_name", "name"),
        runColumns().map(([label]) => h("th", {}, label)),
        FIXED.map(([label, key]) => header(label, key)),
        chosen.map(([group, label, key], i) => header(label, key, `col-${group}${i === 0 || chosen[i - 1][0] !== group ? " group-start" : ""}`)))),
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
      await learnParents([...runs, ...[...children.values()].flat()]);
      if (!view.alive() || ticket !== loading) return;
      pageRuns = runs;
      updateCharts();
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
      // Results of an earlier search no longer answer what the box says: clear them.
      pageRuns = [];
      selected.clear();
      replace(pager);
      updateActions();
      updateCharts();
      if (err instanceof ApiError && err.status === 400) {
        replace(filterError, err.message);
        replace(tableBox, h("p", { class: "muted", id: "no-runs" }, "No results: the filter has an error."));
      } else replace(tableBox, errorBox(err));
    }
  }

  function columnPicker() {
    const items = (kind, all) => all.map((k) => [k, state.columns[kind].includes(k), (on) => {
      state.columns[kind] = on ? [...state.columns[kind], k] : state.columns[kind].filter((x) => x !== k);
      localStorage.setItem(columnsKey, JSON.stringify(state.columns));
      render();
    }]);
    return picker("Columns", [
      { title: "Params", items: items("params", keys.params || []) },
      { title: "Metrics", items: items("metrics", keys.metrics || []) },
      { title: "Tags", items: items("tags", (keys.tags || []).filter((k) => !k.startsWith("mlflow."))) },
    ]);
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
      modeButtons,
      compareButton, deleteButton,
      h("label", { class: "check", for: "include-children" }, includeChildren, "include child runs"),
      restoreButton, csvLink),
    message,
    layout,
    pager,
  );
  await load();
}
