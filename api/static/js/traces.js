// The traces of one experiment: MLflow's trace search (filter, state), server-side pages,
// each trace's request and response previews, state, time and latency, linking to its view.

import { ApiError, mlflow, traces } from "./api.js";
import { errorBox, formatTime, h, replace, select } from "./dom.js";

const STATES = [["", "Any state"], ["OK", "OK"], ["ERROR", "Error"], ["IN_PROGRESS", "In progress"]];
const PAGE = 100;

// A tab bar for an experiment's pages: its runs and its traces.
export function experimentTabs(experimentId, active) {
  const tab = (name, href) => h("a", { href, class: name === active ? "tab active" : "tab", "aria-current": name === active ? "page" : undefined }, name);
  return h("nav", { class: "tabs" },
    tab("Runs", `#/experiments/${experimentId}`),
    tab("Traces", `#/experiments/${experimentId}/traces`));
}

export function formatLatency(ms) {
  if (ms === undefined || ms === null) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

// The JSON "1.500s" of a protobuf Duration, in milliseconds.
export function durationMs(text) {
  const match = /^(-?\d+(?:\.\d+)?)s$/.exec(text || "");
  return match ? Number(match[1]) * 1000 : null;
}

export function stateBadge(state) {
  return h("span", { class: `status trace-${state}` }, state === "IN_PROGRESS" ? "In progress" : state);
}

function preview(text) {
  if (!text) return h("span", { class: "muted" }, "—");
  const short = text.length > 120 ? `${text.slice(0, 117)}…` : text;
  return h("span", { class: "preview", title: text }, short);
}

export async function tracesPage(view, experimentId) {
  const { experiment } = await mlflow.get("experiments/get", { experiment_id: experimentId });
  if (!view.alive()) return;
  const state = { state: "", tokens: [undefined] };
  const filterInput = h("input", {
    type: "search",
    class: "filter",
    placeholder: "tags.env = 'prod' AND execution_time_ms > 1000",
    "aria-label": "Filter traces",
  });
  const filterError = h("div", { class: "filter-error", role: "alert" });
  const tableBox = h("div", { class: "table-box" }, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager" });

  function filter() {
    const parts = [];
    if (filterInput.value.trim()) parts.push(`(${filterInput.value.trim()})`);
    if (state.state) parts.push(`status = '${state.state}'`);
    return parts.join(" AND ");
  }

  function row(info) {
    const href = `#/experiments/${experimentId}/traces/${info.trace_id}`;
    const tags = Object.entries(info.tags || {}).filter(([k]) => !k.startsWith("mlflow."));
    const run = (info.trace_metadata || {})["mlflow.sourceRun"];
    return h("tr", { "data-trace-id": info.trace_id },
      h("td", { class: "name" }, h("a", { href }, (info.tags || {})["mlflow.traceName"] || info.trace_id)),
      h("td", { class: "wide" }, preview(info.request_preview)),
      h("td", { class: "wide" }, preview(info.response_preview)),
      h("td", {}, stateBadge(info.state)),
      h("td", {}, formatTime(Date.parse(info.request_time))),
      h("td", { class: "num" }, formatLatency(durationMs(info.execution_duration))),
      h("td", {}, run ? h("a", { href: `#/experiments/${experimentId}/runs/${run}` }, run.slice(0, 8)) : ""),
      h("td", {}, tags.map(([k, v]) => h("span", { class: "chip" }, `${k}: ${v}`))));
  }

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    const started = performance.now();
    replace(filterError);
    try {
      const page = await traces.post("traces/search", {
        locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: experimentId } }],
        filter: filter(),
        max_results: PAGE,
        page_token: state.tokens[state.tokens.length - 1],
      });
      if (!view.alive() || ticket !== loading) return;
      const found = page.traces || [];
      replace(tableBox, found.length
        ? h("table", { class: "grid traces", id: "traces-table" },
          h("thead", {}, h("tr", {}, ["Trace", "Request", "Response", "State", "Time", "Latency", "Run", "Tags"].map((t) => h("th", {}, t)))),
          h("tbody", {}, found.map(row)))
        : h("p", { class: "muted", id: "no-traces" }, "No traces match."));
      const ms = Math.round(performance.now() - started);
      replace(pager,
        h("button", { disabled: state.tokens.length === 1, onclick: () => { state.tokens.pop(); load(); } }, "‹ Previous"),
        h("span", {}, ` Page ${state.tokens.length} · ${found.length} traces · ${ms} ms `),
        h("button", { disabled: !page.next_page_token, onclick: () => { state.tokens.push(page.next_page_token); load(); } }, "Next ›"));
    } catch (err) {
      if (!view.alive() || ticket !== loading) return;
      if (err instanceof ApiError && err.status === 400) replace(filterError, err.message);
      else replace(tableBox, errorBox(err));
    }
  }

  const restart = () => { state.tokens = [undefined]; load(); };
  replace(
    view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / "),
    h("h1", {}, experiment.name),
    experimentTabs(experimentId, "Traces"),
    h("form", { class: "search", onsubmit: (e) => { e.preventDefault(); restart(); } },
      filterInput, h("button", { type: "submit" }, "Search")),
    filterError,
    h("div", { class: "toolbar" },
      select(STATES, state.state, (v) => { state.state = v; restart(); }, { "aria-label": "State" })),
    tableBox,
    pager,
  );
  await load();
}
