// The one way the console talks to ground control: every call carries the bearer token (kept in
// sessionStorage), a 401 asks for a login and retries, errors surface their `detail`.
const TOKEN_KEY = "lmf.token";

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

let loginPrompt = null;   // set by main: () => Promise<void> that resolves once logged in

export function onLoginNeeded(fn) { loginPrompt = fn; }
export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(t) { t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY); }

export function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : { ...extra };
}

export async function raw(path, opts = {}, retried = false) {
  const res = await fetch(path, { ...opts, headers: authHeaders(opts.headers || {}) });
  if (res.status === 401 && loginPrompt && !retried) {
    setToken(null);
    await loginPrompt();
    return raw(path, opts, true);
  }
  return res;
}

export async function api(path, { method = "GET", json, body, headers } = {}) {
  const opts = { method, headers: { ...(headers || {}) } };
  if (json !== undefined) {
    opts.body = JSON.stringify(json);
    opts.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    opts.body = body;
  }
  const res = await raw(path, opts);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || res.statusText, data);
  return data;
}

// Every page of a list endpoint (bounded: the console is not a bulk export).
export async function all(path, params = {}, max = 5000) {
  const items = [];
  for (let offset = 0; offset < max; offset += 500) {
    const q = new URLSearchParams({ ...params, limit: 500, offset });
    const page = await api(`${path}?${q}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) break;
  }
  return items;
}

export async function login(username, password) {
  const form = new URLSearchParams({ username, password, grant_type: "password" });
  const res = await fetch("/auth/token", { method: "POST", body: form,
    headers: { "Content-Type": "application/x-www-form-urlencoded" } });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.detail || "login refused");
  setToken(data.access_token);
  return data;
}

// Who am I: {name, role, hubs}. No auth on this server (404): everything is allowed.
export async function whoami() {
  const res = await raw("/auth/me");
  if (res.status === 404) return { name: "operator", role: "admin", hubs: null, auth: false };
  if (!res.ok) throw new ApiError(res.status, "cannot read /auth/me");
  return { ...(await res.json()), auth: true };
}

const RIGHTS = {
  admin: ["read", "command", "parcel", "plan", "ack", "vehicle", "geofence"],
  dispatcher: ["read", "command", "parcel", "plan", "ack"],
  integrator: ["read", "parcel"],
  viewer: ["read"],
};

export function can(role, what) { return (RIGHTS[role] || RIGHTS.viewer).includes(what); }
