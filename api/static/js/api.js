// Calls to the server's JSON APIs. Every failure becomes an ApiError carrying the server's
// own message, which the pages show as they are.

const MLFLOW = "/api/2.0/mlflow";
const TRACKLEDGER = "/api/2.0/trackledger";

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
  const init = { method, headers: {} };
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
  if (!res.ok) {
    throw new ApiError(data.error_code || `HTTP_${res.status}`, data.message || res.statusText, res.status);
  }
  return data;
}

export const mlflow = {
  get: (path, params) => call("GET", `${MLFLOW}/${path}?${queryString(params)}`),
  post: (path, body) => call("POST", `${MLFLOW}/${path}`, body || {}),
};

export const ledger = {
  get: (path, params) => call("GET", `${TRACKLEDGER}/${path}?${queryString(params)}`),
  post: (path, body) => call("POST", `${TRACKLEDGER}/${path}`, body || {}),
  url: (path, params) => `${TRACKLEDGER}/${path}?${queryString(params)}`,
};

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
