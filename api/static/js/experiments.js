// The experiments list: search by name, create, rename, delete and restore, run counts.

import { ledger, mlflow } from "./api.js";
import { errorBox, formatTime, h, quote, replace, select } from "./dom.js";

const VIEWS = [
  ["ACTIVE_ONLY", "Active"],
  ["DELETED_ONLY", "Deleted"],
  ["ALL", "All"],
];

export async function experimentsPage(view) {
  const state = { name: "", viewType: "ACTIVE_ONLY" };
  let typing;
  const message = h("div", { class: "message" });
  const table = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const nameInput = h("input", {
    type: "search",
    placeholder: "Search experiments by name",
    "aria-label": "Search experiments by name",
    oninput: (e) => {
      state.name = e.target.value;
      clearTimeout(typing);
      typing = setTimeout(load, 150); // one search when typing pauses, not one per key
    },
  });
  const newName = h("input", { placeholder: "New experiment name", "aria-label": "New experiment name" });
  const selected = new Set();
  const openSelected = h("button", {
    disabled: true,
    onclick: () => (window.location.hash = `#/experiments/${[...selected].join(",")}`),
  }, "Show runs of selected");

  async function create(event) {
    event.preventDefault();
    try {
      const made = await mlflow.post("experiments/create", { name: newName.value.trim() });
      newName.value = "";
      replace(message, `Created experiment ${made.experiment_id}.`);
      await load();
    } catch (err) {
      replace(message, errorBox(err));
    }
  }

  async function act(call, done) {
    try {
      await call();
      replace(message, done);
      await load();
    } catch (err) {
      replace(message, errorBox(err));
    }
  }

  function rename(exp, cell) {
    const input = h("input", { value: exp.name, "aria-label": "New name" });
    const save = (e) => {
      e.preventDefault();
      act(() => mlflow.post("experiments/update", { experiment_id: exp.experiment_id, new_name: input.value }), "Renamed.");
    };
    replace(cell, h("form", { class: "inline", onsubmit: save }, input, h("button", {}, "Save")));
    input.focus();
  }

  function row(exp, counts) {
    const nameCell = h("td", {}, h("a", { href: `#/experiments/${exp.experiment_id}` }, exp.name));
    const deleted = exp.lifecycle_stage === "deleted";
    const c = counts[exp.experiment_id] || { active: 0, deleted: 0 };
    return h(
      "tr",
      { class: deleted ? "deleted" : "" },
      h("td", {}, h("input", {
        type: "checkbox",
        "aria-label": `Select ${exp.name}`,
        checked: selected.has(exp.experiment_id),
        onchange: (e) => {
          if (e.target.checked) selected.add(exp.experiment_id);
          else selected.delete(exp.experiment_id);
          openSelected.disabled = selected.size === 0;
        },
      })),
      nameCell,
      h("td", { class: "num" }, exp.experiment_id),
      h("td", { class: "num" }, c.active),
      h("td", { class: "num" }, c.deleted),
      h("td", {}, formatTime(exp.creation_time)),
      h("td", {}, formatTime(exp.last_update_time)),
      h("td", { class: "actions" },
        h("button", { onclick: () => rename(exp, nameCell) }, "Rename"),
        deleted
          ? h("button", { onclick: () => act(() => mlflow.post("experiments/restore", { experiment_id: exp.experiment_id }), `Restored ${exp.name}.`) }, "Restore")
          : h("button", { class: "danger", onclick: () => act(() => mlflow.post("experiments/delete", { experiment_id: exp.experiment_id }), `Deleted ${exp.name}; it can be restored from the Deleted view.`) }, "Delete"),
      ),
    );
  }

  let loading = 0;
  async function load() {
    const ticket = ++loading;
    try {
      const filter = state.name ? `name ILIKE ${quote(`%${state.name}%`)}` : undefined;
      const found = await mlflow.post("experiments/search", {
        filter,
        view_type: state.viewType,
        max_results: 1000,
        order_by: ["last_update_time DESC"],
      });
      const experiments = found.experiments || [];
      const counts = experiments.length
        ? (await ledger.get("experiments/run-counts", { experiment_ids: experiments.map((e) => e.experiment_id) })).counts
        : {};
      if (!view.alive() || ticket !== loading) return;
      replace(table, experiments.length
        ? h("table", { class: "grid", id: "experiments" },
            h("thead", {}, h("tr", {}, ["", "Name", "ID", "Runs", "Deleted runs", "Created", "Last update", ""].map((t) => h("th", {}, t)))),
            h("tbody", {}, experiments.map((e) => row(e, counts))))
        : h("p", { class: "muted" }, "No experiments match."),
        found.next_page_token ? h("p", { class: "muted" }, "Showing the 1000 most recently updated; refine the search to see others.") : null);
    } catch (err) {
      if (view.alive()) replace(table, errorBox(err));
    }
  }

  replace(
    view.root,
    h("h1", {}, "Experiments"),
    h("div", { class: "toolbar" },
      nameInput,
      select(VIEWS, state.viewType, (v) => { state.viewType = v; load(); }, { "aria-label": "Lifecycle" }),
      openSelected,
      h("form", { class: "inline", onsubmit: create }, newName, h("button", {}, "Create experiment"))),
    message,
    table,
  );
  await load();
}
