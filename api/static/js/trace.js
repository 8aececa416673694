// One trace: its info, the span tree with a timeline, and the chosen span's inputs,
// outputs, attributes and events; its tags, metadata, assessments and runs.

import { ledger, mlflow, traces } from "./api.js";
import { formatTime, h, replace } from "./dom.js";
import { durationMs, experimentTabs, formatLatency, stateBadge } from "./traces.js";

const INPUTS = "mlflow.spanInputs";
const OUTPUTS = "mlflow.spanOutputs";
const TYPE = "mlflow.spanType";
const SPAN_STATES = { STATUS_CODE_OK: "OK", STATUS_CODE_ERROR: "ERROR" };

// An OTLP AnyValue (protobuf JSON) as a plain value.
export function anyValue(v) {
  if (!v) return null;
  if ("string_value" in v) return v.string_value;
  if ("int_value" in v) return Number(v.int_value);
  if ("double_value" in v) return v.double_value;
  if ("bool_value" in v) return v.bool_value;
  if ("array_value" in v) return (v.array_value.values || []).map(anyValue);
  if ("kvlist_value" in v) return Object.fromEntries((v.kvlist_value.values || []).map((kv) => [kv.key, anyValue(kv.value)]));
  if ("bytes_value" in v) return v.bytes_value;
  return null;
}

function attributes(list) {
  return Object.fromEntries((list || []).map((a) => [a.key, anyValue(a.value)]));
}

function pretty(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return h("pre", { class: "value" }, text);
}

function section(title, ...body) {
  return h("section", { class: "panel", "data-section": title }, h("h2", {}, title), ...body);
}

function kvTable(entries, id) {
  return entries.length
    ? h("table", { class: "grid", id }, h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "wide" }, typeof v === "string" ? v : JSON.stringify(v))))))
    : h("p", { class: "muted" }, "None.");
}

// The spans as a tree, depth first (children by start time), each with its depth.
function flatten(spans) {
  const byParent = new Map();
  const ids = new Set(spans.map((s) => s.span_id));
  for (const span of spans) {
    const parent = span.parent_span_id && ids.has(span.parent_span_id) ? span.parent_span_id : null;
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(span);
  }
  for (const list of byParent.values()) list.sort((a, b) => a.start_time_unix_nano - b.start_time_unix_nano);
  const out = [];
  const walk = (parent, depth) => {
    for (const span of byParent.get(parent) || []) {
      out.push([span, depth]);
      walk(span.span_id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

function spanDetail(span) {
  const attrs = attributes(span.attributes);
  const rest = Object.entries(attrs).filter(([k]) => k !== INPUTS && k !== OUTPUTS);
  const state = SPAN_STATES[span.status?.code] || "UNSET";
  return h("div", { class: "span-detail", id: "span-detail", "data-span": span.name },
    h("h3", {}, span.name, " ", h("span", { class: `status trace-${state}` }, state)),
    span.status?.message ? h("div", { class: "error" }, span.status.message) : null,
    h("h4", {}, "Inputs"), pretty(attrs[INPUTS]),
    h("h4", {}, "Outputs"), pretty(attrs[OUTPUTS]),
    h("h4", {}, "Attributes"), kvTable(rest, "span-attributes"),
    h("h4", {}, `Events (${(span.events || []).length})`),
    (span.events || []).length
      ? h("ul", { class: "events", id: "span-events" }, span.events.map((e) => h("li", {},
        h("strong", {}, e.name), " ", h("span", { class: "muted" }, formatTime(Number(e.time_unix_nano) / 1e6)),
        pretty(attributes(e.attributes)))))
      : h("p", { class: "muted" }, "None."));
}

function assessmentValue(a) {
  if (a.feedback) return JSON.stringify(a.feedback.value);
  if (a.expectation) return a.expectation.serialized_value ? a.expectation.serialized_value.value : JSON.stringify(a.expectation.value);
  return a.issue ? a.issue.issue_name : "";
}

export async function tracePage(view, experimentId, traceId) {
  const [{ trace }, { experiment }, linked] = await Promise.all([
    traces.get("traces/get", { trace_id: traceId, allow_partial: "true" }),
    mlflow.get("experiments/get", { experiment_id: experimentId }),
    ledger.get("traces/runs", { trace_id: traceId }),
  ]);
  if (!view.alive()) return;
  const info = trace.trace_info;
  const spans = trace.spans || [];
  const rows = flatten(spans);
  const starts = spans.map((s) => Number(s.start_time_unix_nano));
  const ends = spans.map((s) => Number(s.end_time_unix_nano || s.start_time_unix_nano));
  const t0 = Math.min(...starts);
  const total = Math.max(1, Math.max(...ends) - t0);
  const detail = h("div", { class: "detail-box" }, rows.length ? spanDetail(rows[0][0]) : h("p", { class: "muted" }, "This trace has no spans."));
  const runLink = (id) => h("a", { href: `#/experiments/${experimentId}/runs/${id}` }, id);
  const tags = info.tags || {};

  let chosen = rows.length ? rows[0][0].span_id : null;
  const table = h("table", { class: "grid spans", id: "spans" },
    h("thead", {}, h("tr", {}, ["Span", "Type", "State", "Duration", "Timeline"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map(([span, depth]) => {
      const start = Number(span.start_time_unix_nano);
      const end = Number(span.end_time_unix_nano || span.start_time_unix_nano);
      const state = SPAN_STATES[span.status?.code] || "UNSET";
      const left = ((start - t0) / total) * 100;
      const width = Math.max(0.5, ((end - start) / total) * 100);
      const tr = h("tr", {
        class: span.span_id === chosen ? "span-row chosen" : "span-row",
        "data-span": span.name,
        tabindex: "0",
        onclick: () => choose(span, tr),
        onkeydown: (e) => { if (e.key === "Enter") choose(span, tr); },
      },
      h("td", { class: "name", style: `padding-left:${0.4 + depth * 1.2}em` }, span.name),
      h("td", {}, attributes(span.attributes)[TYPE] || ""),
      h("td", {}, h("span", { class: `status trace-${state}` }, state)),
      h("td", { class: "num" }, span.end_time_unix_nano ? formatLatency((end - start) / 1e6) : "running"),
      h("td", { class: "timeline" }, h("div", { class: `bar trace-${state}`, style: `margin-left:${left.toFixed(2)}%;width:${width.toFixed(2)}%` })));
      return tr;
    })));

  function choose(span, tr) {
    chosen = span.span_id;
    for (const row of table.querySelectorAll("tr.span-row")) row.classList.toggle("chosen", row === tr);
    replace(detail, spanDetail(span));
  }

  const overview = h("table", { class: "kv" }, h("tbody", {}, [
    ["Trace ID", info.trace_id],
    ["Experiment", h("a", { href: `#/experiments/${experimentId}/traces` }, `${experiment.name} (${experimentId})`)],
    ["State", stateBadge(info.state)],
    ["Started", formatTime(Date.parse(info.request_time))],
    ["Latency", formatLatency(durationMs(info.execution_duration))],
    ["Runs", (linked.run_ids || []).length ? h("span", { id: "trace-runs" }, linked.run_ids.map((id, i) => [i ? ", " : "", runLink(id)])) : "—"],
  ].map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))));

  replace(
    view.root,
    h("p", { class: "crumbs" }, h("a", { href: "#/experiments" }, "Experiments"), " / ",
      h("a", { href: `#/experiments/${experimentId}/traces` }, experiment.name), " / traces /"),
    h("h1", {}, tags["mlflow.traceName"] || (rows[0] ? rows[0][0].name : info.trace_id)),
    experimentTabs(experimentId, "Traces"),
    section("Overview", overview),
    section(`Spans (${spans.length})`, h("div", { class: "trace-layout" }, h("div", { class: "table-box" }, table), detail)),
    section("Assessments", (info.assessments || []).length
      ? h("table", { class: "grid", id: "assessments" },
        h("thead", {}, h("tr", {}, ["Name", "Value", "Source", "Rationale", "Valid"].map((t) => h("th", {}, t)))),
        h("tbody", {}, info.assessments.map((a) => h("tr", { class: a.valid === false ? "deleted" : "" },
          h("td", {}, a.assessment_name), h("td", {}, assessmentValue(a)),
          h("td", {}, `${a.source?.source_type || ""} ${a.source?.source_id || ""}`),
          h("td", { class: "wide" }, a.rationale || ""), h("td", {}, a.valid === false ? "overridden" : "yes")))))
      : h("p", { class: "muted" }, "None.")),
    section("Tags", kvTable(Object.entries(tags), "trace-tags")),
    section("Metadata", kvTable(Object.entries(info.trace_metadata || {}), "trace-metadata")),
  );
}
