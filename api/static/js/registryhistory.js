// A registered model's history from the event log (trackledger's registered-models/history),
// each event told as a sentence: who registered a version, who moved an alias from which
// version to which, who changed a stage, when.

import { ledger } from "./api.js";
import { errorBox, formatTime, h, replace } from "./dom.js";
import { runLink, runsById, versionLink } from "./registry.js";

// Long values (a description) are cut here: the pages show them whole.
const short = (v) => { const t = String(v).replace(/\s+/g, " "); return t.length > 80 ? `${t.slice(0, 77)}…` : t; };
const code = (text) => h("code", {}, text);
const pairs = (obj) => Object.entries(obj || {}).flatMap(([k, v], i) => [i ? ", " : "", code(k), ` = ${short(v)}`]);
const list = (items) => items.flatMap((item, i) => [i ? (i === items.length - 1 ? " and " : ", ") : "", item]);

// What happened, as a phrase that follows its actor ("moved the alias …"); `v` links a
// version number to its page under the model's current name, `run` a run id to its page.
function phrase(type, d, v, run) {
  switch (type) {
    case "registry.created": {
      const parts = [`registered the model "${d.name}"`];
      if (d.description) parts.push(` with the description "${short(d.description)}"`);
      if (Object.keys(d.tags || {}).length) parts.push(d.description ? " and tags " : " with tags ", ...pairs(d.tags));
      return parts;
    }
    case "registry.renamed":
      return [`renamed the model from "${d.previous_name}" to "${d.name}"`];
    case "registry.updated":
      return d.description ? [`changed the description to "${short(d.description)}"`] : ["cleared the description"];
    case "registry.tagged":
      return ["set the model's tag ", code(d.key), ` = ${short(d.value)}`];
    case "registry.untagged":
      return ["deleted the model's tag ", code(d.key)];
    case "registry.deleted":
      return [`deleted the model "${d.name}"`];
    case "registry.version_created": {
      const parts = ["registered ", v(d.version)];
      if (d.run_id) parts.push(" from run ", run(d.run_id));
      if (d.model_id) parts.push(d.run_id ? ", logged model " : " from logged model ", h("span", { class: "mono" }, d.model_id));
      parts.push(" (source ", h("span", { class: "mono" }, d.source), ")");
      if (Object.keys(d.tags || {}).length) parts.push(" with tags ", ...pairs(d.tags));
      return parts;
    }
    case "registry.version_updated":
      return d.description ? ["changed the description of ", v(d.version), ` to "${short(d.description)}"`]
        : ["cleared the description of ", v(d.version)];
    case "registry.version_stage_changed": {
      const parts = ["moved ", v(d.version), ` from stage ${d.previous_stage} to ${d.stage}`];
      if ((d.archived || []).length) parts.push(", archiving ", ...list(d.archived.map((n) => v(n))));
      return parts;
    }
    case "registry.version_deleted": {
      const parts = ["deleted ", v(d.version)];
      if ((d.aliases || []).length) parts.push(" and with it the ", d.aliases.length === 1 ? "alias " : "aliases ", ...list(d.aliases.map((a) => code(`@${a}`))));
      return parts;
    }
    case "registry.version_tagged":
      return ["set tag ", code(d.key), ` = ${short(d.value)} on `, v(d.version)];
    case "registry.version_untagged":
      return ["deleted tag ", code(d.key), " of ", v(d.version)];
    case "registry.alias_set":
      if (d.previous_version === null || d.previous_version === undefined) {
        return ["pointed the new alias ", code(`@${d.alias}`), " at ", v(d.version)];
      }
      if (d.previous_version === d.version) return ["set the alias ", code(`@${d.alias}`), " to ", v(d.version), " again (no change)"];
      return ["moved the alias ", code(`@${d.alias}`), " from ", v(d.previous_version), " to ", v(d.version)];
    case "registry.alias_deleted":
      return ["removed the alias ", code(`@${d.alias}`),
        d.previous_version !== null && d.previous_version !== undefined ? [" (it pointed at ", v(d.previous_version), ")"] : ""];
    default: {
      const rest = Object.entries(d).filter(([k, x]) => k !== "registered_model_id" && x !== null && x !== undefined)
        .map(([k, x]) => `${k} = ${typeof x === "object" ? JSON.stringify(x) : x}`);
      return [`recorded ${type}${rest.length ? `: ${rest.join("; ")}` : ""}`];
    }
  }
}

// The event as a sentence (DOM nodes): its actor, when known, says it. `runs` holds the
// runs the events name (see runsById).
export function registrySentence(event, modelName, runs = new Map()) {
  const v = (n) => versionLink(modelName, n, `version ${n}`);
  const parts = phrase(event.type, event.data || {}, v, (id) => runLink(runs, id)).flat();
  if (event.actor) return [h("b", { class: "actor" }, event.actor), " ", ...parts, "."];
  const [first, ...rest] = parts;
  const head = typeof first === "string" ? first[0].toUpperCase() + first.slice(1) : first;
  return [head, ...rest, "."];
}

// Whether the event is about this version (its own changes, and aliases moved to or from it).
export function concernsVersion(event, version) {
  const d = event.data || {};
  const n = Number(version);
  return d.version === n || d.previous_version === n || (d.archived || []).includes(n);
}

function historyRow(event, modelName, runs) {
  return h("tr", { "data-type": event.type, "data-position": event.position },
    h("td", { class: "num" }, event.position),
    h("td", {}, formatTime(event.time)),
    h("td", { class: "change sentence" }, registrySentence(event, modelName, runs)));
}

// The runs that the events' versions came from.
function runsOf(events) {
  return runsById(events.map((e) => e.type === "registry.version_created" && e.data && e.data.run_id).filter(Boolean));
}

// Versions deleted since (numbers are never handed out again) have no page to link to.
function unlinkDeleted(box, events, deleted) {
  for (const e of events) if (e.type === "registry.version_deleted") deleted.add(String(e.data.version));
  for (const a of box.querySelectorAll("a.version-link")) {
    if (deleted.has(a.dataset.version)) {
      a.replaceWith(h("span", { class: "gone-version", title: "This version was deleted" }, a.textContent));
    }
  }
}

function historyHead() {
  return h("thead", {}, h("tr", {}, ["#", "When", "What happened"].map((t) => h("th", {}, t))));
}

// The model's whole history, page by page ("Load more"), oldest first.
export function modelHistory(modelName) {
  const body = h("tbody");
  const more = h("button", { class: "small" }, "Load more");
  more.hidden = true;
  const box = h("div", {}, h("table", { class: "grid", id: "model-history" }, historyHead(), body), more);
  let token;
  const deleted = new Set();
  async function page() {
    more.disabled = true;
    try {
      const found = await ledger.get("registered-models/history", { name: modelName, max_results: 100, page_token: token });
      const events = found.events || [];
      const runs = await runsOf(events);
      for (const e of events) body.append(historyRow(e, modelName, runs));
      unlinkDeleted(box, events, deleted);
      token = found.next_page_token;
      more.hidden = !token;
    } catch (err) {
      box.append(errorBox(err));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);
  page();
  return box;
}

// One version's part of the model's history: the model's events read page by page (up to
// `most`), keeping those about the version.
export function versionHistory(modelName, version, most = 20_000) {
  const box = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  (async () => {
    try {
      const rows = [];
      const deletions = [];
      let token;
      let read = 0;
      do {
        const found = await ledger.get("registered-models/history", { name: modelName, max_results: 1000, page_token: token });
        const events = found.events || [];
        read += events.length;
        rows.push(...events.filter((e) => concernsVersion(e, version)));
        deletions.push(...events.filter((e) => e.type === "registry.version_deleted"));
        token = found.next_page_token;
      } while (token && read < most);
      const runs = await runsOf(rows);
      replace(box,
        rows.length ? h("table", { class: "grid", id: "version-history" }, historyHead(), h("tbody", {}, rows.map((e) => historyRow(e, modelName, runs))))
          : h("p", { class: "muted" }, "No events about this version."),
        token ? h("p", { class: "muted" }, `Only the model's first ${read} events were read; see the model page for the rest.`) : null);
      unlinkDeleted(box, deletions, new Set());
    } catch (err) {
      replace(box, errorBox(err));
    }
  })();
  return box;
}
