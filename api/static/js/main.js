// The router: the hash names the page, as in MLflow's UI, so the links the mlflow client
// prints (#/experiments/<id> and #/experiments/<id>/runs/<run_id>) open here.

import { experimentsPage } from "./experiments.js";
import { modelsPage } from "./models.js";
import { modelPage } from "./model.js";
import { versionPage } from "./modelversion.js";
import { loggedModelPage } from "./loggedmodel.js";
import { decodePart } from "./registry.js";
import { runsPage } from "./runs.js";
import { runPage } from "./run.js";
import { comparePage } from "./compare.js";
import { tracesPage } from "./traces.js";
import { tracePage } from "./trace.js";
import { loginPage, permissionsPage, tokensPage, usersPage, whoAmI } from "./auth.js";
import { errorBox, replace } from "./dom.js";

const routes = [
  // The model registry (MLflow's addresses: #/models, #/models/<name>/versions/<v>; a
  // logged model at #/experiments/<id>/models/<model_id>).
  [/^#\/models\/?(?:\?.*)?$/, () => modelsPage],
  [/^#\/models\/([^/?]+)\/?$/, (m) => (view) => modelPage(view, decodePart(m[1]))],
  [/^#\/models\/([^/?]+)\/versions\/([^/?]+)\/?$/, (m) => (view) => versionPage(view, decodePart(m[1]), decodePart(m[2]))],
  [/^#\/experiments\/\d+\/models\/([^/?]+)\/?$/, (m) => (view) => loggedModelPage(view, decodePart(m[1]))],
  [/^#?\/?(experiments\/?)?$/, () => experimentsPage],
  [/^#\/experiments\/(\d+)\/runs\/([\w-]+)\/?$/, (m) => (view) => runPage(view, m[1], m[2])],
  [/^#\/experiments\/(\d+)\/traces\/?$/, (m) => (view) => tracesPage(view, m[1])],
  [/^#\/experiments\/(\d+)\/traces\/([\w.:-]+)\/?$/, (m) => (view) => tracePage(view, m[1], m[2])],
  [/^#\/experiments\/([\d,]+)\/?(?:\?.*)?$/, (m) => (view) => runsPage(view, m[1].split(","))],
  [/^#\/compare\?runs=([\w,-]+)$/, (m) => (view) => comparePage(view, m[1].split(","))],
  [/^#\/tokens$/, () => tokensPage],
  [/^#\/admin\/users$/, () => usersPage],
  [/^#\/admin\/permissions$/, () => (view) => permissionsPage(view)],
  [/^#\/login$/, () => (view) => loginPage(view, () => (window.location.hash = "#/"))],
];

let current = 0;
let leaving = [];

function route() {
  const token = ++current;
  const root = document.getElementById("app");
  // What the page left running (charts hold window listeners) ends as the next one starts.
  for (const done of leaving.splice(0)) done();
  // Pages check alive() after each await, so a slow answer never paints over a newer page;
  // they hand onLeave what to stop when another page opens.
  const view = { root, alive: () => token === current, onLeave: (fn) => leaving.push(fn) };
  const hash = window.location.hash || "#/";
  for (const [pattern, page] of routes) {
    const match = pattern.exec(hash);
    if (match) {
      Promise.resolve(page(match)(view)).catch((err) => {
        if (view.alive()) replace(root, errorBox(err));
      });
      return;
    }
  }
  replace(root, errorBox(new Error(`No page at ${hash}`)));
}

// With authentication on, a request without a valid session brings up the sign-in form;
// signing in goes on to the page that was asked for.
function signIn() {
  const token = ++current;
  const root = document.getElementById("app");
  loginPage({ root, alive: () => token === current }, route);
}

window.addEventListener("hashchange", route);
window.addEventListener("trackledger:login", signIn);
whoAmI()
  .then((who) => (who === "login" && window.location.hash !== "#/login" ? signIn() : route()))
  .catch(route);
