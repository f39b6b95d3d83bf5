// The console's state: what the API lists once and the live feed keeps current. Views subscribe
// to named topics and redraw what changed.
export const state = {
  me: { name: "", role: "viewer" },
  config: {},
  hubs: new Map(),
  geofences: new Map(),
  vehicles: new Map(),     // id -> feed record (telemetry merged in)
  missions: new Map(),     // active missions: id -> feed record
  missionDetail: new Map(),// id -> {payload, legsDone}
  parcels: new Map(),
  alerts: new Map(),
  events: [],              // recent vehicle events, newest last
  skew: 0,                 // server clock - local clock, seconds
  selected: null,          // {kind: "vehicle"|"parcel", id}
};

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(fn);
}

export function emit(topic, payload) {
  for (const fn of listeners.get(topic) || []) {
    try { fn(payload); } catch (err) { console.error(topic, err); }
  }
}

export function serverNow() { return Date.now() / 1000 + state.skew; }

// A vehicle is stale when ground control has not heard its telemetry for this long.
export const STALE_S = 10;

export function linkAge(v) { return v.rx == null ? null : Math.max(0, serverNow() - v.rx); }

export function isStale(v) {
  const age = linkAge(v);
  return !v.online || age == null || age > STALE_S;
}

export function merge(map, upd, del) {
  for (const r of upd) map.set(String(r.id), { ...(map.get(String(r.id)) || {}), ...r });
  for (const id of del || []) map.delete(String(id));
}

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function ago(t) {
  if (t == null) return "never";
  const s = Math.max(0, serverNow() - t);
  if (s < 60) return `${s.toFixed(0)} s ago`;
  if (s < 3600) return `${(s / 60).toFixed(0)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

export function clock(t) { return t == null ? "" : new Date(t * 1000).toLocaleTimeString(); }
