// Signing in and out, the user menu, access tokens, and (for admins) users and permissions.
// Only with `trackledger server --auth` (auth/status says): without it none of this shows.

import { ApiError, ledger, mlflow, mlflow3, setCsrf } from "./api.js";
import { errorBox, formatTime, h, replace, select } from "./dom.js";

let me = null; // the signed-in user, or null

// Who is signed in: the user, null when authentication is off, or "login" when the page
// must ask for credentials.
export async function whoAmI() {
  const auth = await ledger.get("auth/status");
  if (!auth.enabled) return null;
  try {
    const answer = await mlflow.get("users/current");
    me = answer.user;
    setCsrf(answer.csrf_token);
    renderMenu();
    return me;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null; // auth is off
    if (err instanceof ApiError && err.status === 401) return "login";
    throw err;
  }
}

function renderMenu() {
  const slot = document.getElementById("user-menu");
  if (!slot) return;
  if (!me) {
    replace(slot);
    return;
  }
  const items = [
    h("a", { href: "#/tokens" }, "Access tokens"),
    me.is_admin && h("a", { href: "#/admin/users" }, "Users"),
    me.is_admin && h("a", { href: "#/admin/permissions" }, "Permissions"),
    h("button", { type: "button", class: "link", onclick: logout }, "Sign out"),
  ];
  replace(
    slot,
    h(
      "details",
      { class: "user-menu" },
      h("summary", { "aria-label": "User menu" }, me.username, me.is_admin ? " (admin)" : ""),
      h("div", { class: "menu" }, items),
    ),
  );
}

async function logout() {
  await ledger.post("auth/logout");
  me = null;
  setCsrf("");
  renderMenu();
  window.location.hash = "#/login";
}

// The sign-in form; ``done`` runs once the session is open.
export function loginPage(view, done) {
  const user = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const message = h("div");
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: async (event) => {
        event.preventDefault();
        replace(message);
        try {
          const answer = await ledger.post("auth/login", {
            username: user.value,
            password: password.value,
          });
          me = answer.user;
          setCsrf(answer.csrf_token);
          renderMenu();
          done();
        } catch (err) {
          replace(message, errorBox(err));
        }
      },
    },
    h("h1", {}, "Sign in"),
    h("label", {}, "User name ", user),
    h("label", {}, "Password ", password),
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
  replace(view.root, form);
  user.focus();
}

function table(headers, rows) {
  return h(
    "table",
    { class: "grid" },
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows),
  );
}

// Access tokens: create (shown once), list, revoke.
export async function tokensPage(view) {
  const listed = await ledger.get("tokens/list");
  if (!view.alive()) return;
  const shown = h("div");
  const name = h("input", { name: "token-name", placeholder: "name, e.g. ci", required: true });
  const days = h("input", { name: "token-days", type: "number", min: "1", value: "90" });
  const create = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const made = await ledger.post("tokens/create", {
            name: name.value,
            expires_in_days: Number(days.value),
          });
          await tokensPage(view);
          replace(
            document.getElementById("new-token"),
            h("p", {}, "Your new token (copy it now: it is not shown again):"),
            h("code", { class: "token" }, made.token),
          );
        } catch (err) {
          replace(shown, errorBox(err));
        }
      },
    },
    h("label", {}, "Name ", name),
    h("label", {}, " Expires in days ", days),
    h("button", { type: "submit" }, "Create token"),
  );
  const rows = (listed.tokens || []).map((t) =>
    h(
      "tr",
      {},
      h("td", {}, t.name),
      h("td", {}, formatTime(t.created_time)),
      h("td", {}, t.expires_at ? formatTime(t.expires_at) : "never"),
      h(
        "td",
        {},
        h(
          "button",
          {
            class: "danger",
            onclick: async () => {
              await ledger.post("tokens/revoke", { token_id: t.id });
              await tokensPage(view);
            },
          },
          "Revoke",
        ),
      ),
    ),
  );
  replace(
    view.root,
    h("h1", {}, "Access tokens"),
    h(
      "p",
      { class: "muted" },
      "Scripts and CI jobs send a token as MLFLOW_TRACKING_TOKEN and act as you.",
    ),
    create,
    h("div", { id: "new-token" }),
    shown,
    table(["Name", "Created", "Expires", ""], rows),
  );
}

// Admins: users, their admin flag, new users, deletion.
export async function usersPage(view) {
  const listed = await mlflow.get("users/list");
  if (!view.alive()) return;
  const message = h("div");
  const act = async (call) => {
    try {
      await call();
      await usersPage(view);
    } catch (err) {
      replace(message, errorBox(err));
    }
  };
  const name = h("input", { name: "new-username", placeholder: "user name", required: true });
  const password = h("input", {
    name: "new-password",
    type: "password",
    placeholder: "password (12+ characters)",
    autocomplete: "new-password",
    required: true,
  });
  const create = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        act(() => mlflow.post("users/create", { username: name.value, password: password.value }));
      },
    },
    name,
    password,
    h("button", { type: "submit" }, "Create user"),
  );
  const rows = listed.users.map((u) =>
    h(
      "tr",
      {},
      h("td", {}, u.username),
      h(
        "td",
        {},
        h("input", {
          type: "checkbox",
          checked: u.is_admin,
          disabled: me && u.username === me.username,
          "aria-label": `${u.username} is an admin`,
          onchange: (e) =>
            act(() =>
              mlflow.patch("users/update-admin", { username: u.username, is_admin: e.target.checked }),
            ),
        }),
      ),
      h("td", {}, (u.roles || []).map((r) => r.name).join(", ")),
      h(
        "td",
        {},
        me && u.username !== me.username
          ? h(
              "button",
              { class: "danger", onclick: () => act(() => mlflow.delete("users/delete", { username: u.username })) },
              "Delete",
            )
          : "",
      ),
    ),
  );
  replace(
    view.root,
    h("h1", {}, "Users"),
    create,
    message,
    table(["User", "Admin", "Roles", ""], rows),
  );
}

const PERMISSIONS = ["READ", "USE", "EDIT", "MANAGE", "DENY"];

// Admins: one user's grants; grant and revoke.
export async function permissionsPage(view, username) {
  const users = (await mlflow.get("users/list")).users;
  if (!view.alive()) return;
  const chosen = username || (users[0] && users[0].username);
  const listed = chosen ? await mlflow3.get("users/permissions/list", { username: chosen }) : null;
  if (!view.alive()) return;
  const message = h("div");
  const act = async (call) => {
    try {
      await call();
      await permissionsPage(view, chosen);
    } catch (err) {
      replace(message, errorBox(err));
    }
  };
  let type = "experiment";
  let level = "READ";
  const resource = h("input", { name: "resource-id", placeholder: "experiment id, or *", required: true });
  const grant = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        act(() =>
          mlflow3.post("users/permissions/grant", {
            username: chosen,
            resource_type: type,
            resource_id: resource.value,
            permission: level,
          }),
        );
      },
    },
    select([["experiment", "experiment"], ["registered_model", "registered model"]], type, (v) => (type = v), {
      name: "resource-type",
    }),
    resource,
    select(PERMISSIONS.map((p) => [p, p]), level, (v) => (level = v), { name: "permission" }),
    h("button", { type: "submit" }, "Grant"),
  );
  const rows = ((listed && listed.permissions) || []).map((p) =>
    h(
      "tr",
      {},
      h("td", {}, p.role_id ? `role ${p.role_name}` : "own"),
      h("td", {}, p.resource_type),
      h("td", {}, p.resource_pattern),
      h("td", {}, p.permission),
      h(
        "td",
        {},
        p.role_id
          ? ""
          : h(
              "button",
              {
                class: "danger",
                onclick: () =>
                  act(() =>
                    mlflow3.post("users/permissions/revoke", {
                      username: chosen,
                      resource_type: p.resource_type,
                      resource_id: p.resource_pattern,
                    }),
                  ),
              },
              "Revoke",
            ),
      ),
    ),
  );
  replace(
    view.root,
    h("h1", {}, "Permissions"),
    h(
      "label",
      {},
      "User ",
      select(
        users.map((u) => [u.username, u.username]),
        chosen,
        (v) => permissionsPage(view, v),
        { name: "user" },
      ),
    ),
    h("p", { id: "permissions-of" }, chosen ? `Grants of ${chosen}` : "No users yet."),
    listed && listed.is_admin ? h("p", { class: "muted" }, `${chosen} is an admin: may do everything.`) : "",
    grant,
    message,
    table(["From", "Type", "Resource", "Permission", ""], rows),
  );
}
