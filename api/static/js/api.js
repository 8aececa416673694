// Calls to the server's JSON APIs. Every failure becomes an ApiError carrying the server's
// own message, which the pages show as they are.

const MLFLOW = "/api/2.0/mlflow";
const MLFLOW3 = "/api/3.0/mlflow";
const TRACKLEDGER = "/api/2.0/trackledger";

// With authentication on, the browser's session cookie proves who calls; a call that
// changes something also carries the session's CSRF token (see auth.js).
let csrfToken = "";
export function setCsrf(token) {
  csrfToken = token || "";
}

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export function queryString(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) q.append(key, String(item));
  }
  return q.toString();
}

async function call(method, url, body) {
  // The marker makes a 401 come without a Basic challenge: the page shows its own login.
  const init = { method, headers: { "X-Trackledger-UI": "1" } };
  if (csrfToken && method !== "GET") init.headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError("NETWORK", `The server did not answer: ${err.message}`, 0);
  }
  const text = await res.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: text };
  }
  if (res.status === 401 && !url.includes("/auth/login")) {
    window.dispatchEvent(new CustomEvent("trackledger:login"));
  }
  if (!res.ok) {
    throw new ApiError(data.error_code || `HTTP_${res.status}`, data.message || res.statusText, res.status);
  }
  return data;
}

function client(base) {
  return {
    get: (path, params) => call("GET", `${base}/${path}?${queryString(params)}`),
    post: (path, body) => call("POST", `${base}/${path}`, body || {}),
    patch: (path, body) => call("PATCH", `${base}/${path}`, body || {}),
    delete: (path, body) => call("DELETE", `${base}/${path}`, body || {}),
    url: (path, params) => `${base}/${path}?${queryString(params)}`,
  };
}

export const mlflow = client(MLFLOW);
export const mlflow3 = client(MLFLOW3);
// MLflow 3's trace API.
export const traces = mlflow3;
export const ledger = client(TRACKLEDGER);

// Where the server's artifact proxy serves a run's file, or null for artifact roots that
// live outside this server.
export function artifactUrl(artifactUri, path) {
  const match = /^mlflow-artifacts:\/*(.*)$/.exec(artifactUri || "");
  if (!match) return null;
  const parts = `${match[1].replace(/\/+$/, "")}/${path}`.split("/").map(encodeURIComponent);
  return `/api/2.0/mlflow-artifacts/artifacts/${parts.join("/")}`;
}

// Every page of a paginated call, concatenated.
export async function allPages(fetchPage, field) {
  const out = [];
  let token;
  do {
    const page = await fetchPage(token);
    out.push(...(page[field] || []));
    token = page.next_page_token;
  } while (token);
  return out;
}

// For clients of other prefixes (the registry pages call /ajax-api, see registry.js).
export { call };
