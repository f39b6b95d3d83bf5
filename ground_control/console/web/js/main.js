// Boot: log in if the API asks (401), learn the role, load the lists once, then follow the live
// feed. Everything the page shows comes through the API with the bearer token.
import { api, all, can, login, onLoginNeeded, setToken, whoami } from "./api.js";
import { connect } from "./feed.js";
import { state, emit, merge } from "./state.js";
import { initMap, fitAll, onSelect, markerPositions, proofMarker, getMap } from "./map.js";
import { initPanels, wireClicks, selectVehicle, selectParcel, showTab } from "./panels.js";
import { initTools, noteEvent, toast } from "./actions.js";
import { initZoneEdit, editedRing } from "./zone_edit.js";

const $ = (sel) => document.querySelector(sel);

function askLogin() {
  return new Promise((resolve) => {
    const box = $("#login");
    box.hidden = false;
    $("#login-error").textContent = "";
    $("#login-form").onsubmit = async (ev) => {
      ev.preventDefault();
      try {
        await login($("#login-user").value, $("#login-pass").value);
        box.hidden = true;
        resolve();
      } catch (err) {
        $("#login-error").textContent = err.status === 401 || err.status === 400 ? "wrong user name or password" : String(err.message || err);
      }
    };
  });
}

function applyRole() {
  document.body.dataset.role = state.me.role;
  for (const el of document.querySelectorAll("[data-need]")) el.hidden = !can(state.me.role, el.dataset.need);
  $("#whoami").textContent = state.me.auth ? `${state.me.name} (${state.me.role})` : "no login required on this server";
  $("#logout").hidden = !state.me.auth;
}

async function loadMissionDetail(id) {
  if (state.missionDetail.has(id)) return;
  state.missionDetail.set(id, { payload: null, legsDone: 0, loading: true });
  try {
    const [m, legs] = await Promise.all([api(`/missions/${encodeURIComponent(id)}`),
      api(`/events?mission_id=${encodeURIComponent(id)}&kind=leg_reached&limit=500`)]);
    const done = legs.items.reduce((n, e) => Math.max(n, (e.body && e.body.leg_index != null ? e.body.leg_index + 1 : n)), 0);
    state.missionDetail.set(id, { payload: m.payload, legsDone: Math.max(done, legs.total ? done : 0) });
    emit("missions");
  } catch (err) {
    state.missionDetail.delete(id);
  }
}

const parcelRefresh = new Set();
let refreshTimer = null;
function refreshParcelsSoon(ids) {
  for (const id of ids) parcelRefresh.add(id);
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    const batch = [...parcelRefresh].slice(0, 50);
    batch.forEach((id) => parcelRefresh.delete(id));
    refreshTimer = null;
    await Promise.all(batch.map((id) => api(`/parcels/${encodeURIComponent(id)}`).then((p) => state.parcels.set(p.id, p)).catch(() => {})));
    emit("parcels");
    if (parcelRefresh.size) refreshParcelsSoon([]);
  }, 500);
}

function onFrame(kind, data) {
  if (data && data.t) state.skew = data.t - Date.now() / 1000;
  if (kind === "snapshot") {
    state.vehicles = new Map(data.vehicles.map((v) => [String(v.id), v]));
    state.missions = new Map(data.missions.map((m) => [String(m.id), m]));
    state.alerts = new Map(data.alerts.map((a) => [String(a.id), a]));
    state.events = data.events.slice(-300);
    for (const m of state.missions.keys()) loadMissionDetail(m);
    emit("vehicles"); emit("missions"); emit("alerts"); emit("events");
    if (!state.fitted && state.vehicles.size) { state.fitted = true; fitAll(); }
  } else if (kind === "vehicles") {
    merge(state.vehicles, data.upd, data.del);
    emit("vehicles", data.del.length ? undefined : data.upd.map((r) => String(r.id)));
  } else if (kind === "missions") {
    merge(state.missions, data.upd, data.del);
    for (const id of data.del) state.missionDetail.delete(id);
    for (const m of data.upd) loadMissionDetail(String(m.id));
    emit("missions");
  } else if (kind === "alerts") {
    const fresh = data.upd.filter((a) => !state.alerts.has(String(a.id)));
    merge(state.alerts, data.upd, data.del);
    for (const a of fresh) toast(`alert: ${a.message}`, a.severity === "critical" ? "error" : "info");
    emit("alerts");
  } else if (kind === "events") {
    for (const e of data) {
      noteEvent(e);
      if (e.kind === "leg_reached" && e.mission && state.missionDetail.has(e.mission)) {
        const d = state.missionDetail.get(e.mission);
        d.legsDone = Math.max(d.legsDone || 0, (e.body.leg_index ?? -1) + 1);
      }
    }
    state.events = [...state.events, ...data].slice(-300);
    emit("events"); emit("missions");
  } else if (kind === "parcels") {
    for (const h of data) {
      const p = state.parcels.get(h.parcel);
      if (p) p.state = h.to;
    }
    refreshParcelsSoon(data.map((h) => h.parcel));
    emit("parcels");
  }
}

async function loadLists() {
  const [hubs, fences, parcels] = await Promise.all([all("/hubs"), all("/geofences"), all("/parcels", { order: "desc" })]);
  state.hubs = new Map(hubs.map((h) => [h.id, h]));
  state.geofences = new Map(fences.map((g) => [g.id, g]));
  state.parcels = new Map(parcels.map((p) => [p.id, p]));
  emit("hubs"); emit("geofences"); emit("parcels");
}

async function boot() {
  onLoginNeeded(askLogin);
  $("#logout").addEventListener("click", () => { setToken(null); location.reload(); });
  state.me = await whoami().catch(async () => { await askLogin(); return whoami(); });
  applyRole();
  state.config = await api("/console/config");
  if (!window.L || !state.config.assets_ready) {
    const banner = $("#banner");
    banner.hidden = false;
    banner.textContent = "The map files (Leaflet) are missing from this installation, so no map is shown. "
      + "Run `python -m ground_control.console.assets` (or reinstall the package) on the ground-control host.";
  }
  initMap($("#map"), state.config);
  onSelect(selectVehicle, selectParcel);
  initPanels();
  initTools();
  initZoneEdit();
  wireClicks();
  showTab("vehicles");
  await loadLists();
  fitAll();
  const feed = connect(onFrame, (s) => { const el = $("#feed-status"); el.textContent = s; el.className = `status ${s}`; });
  setInterval(() => all("/geofences").then((fs) => { state.geofences = new Map(fs.map((g) => [g.id, g])); emit("geofences"); }).catch(() => {}), 30000);
  window.lmfConsole = { state, markerPositions, editedRing, proofMarker, feed, map: getMap(), ready: true };
  document.body.dataset.ready = "true";
}

boot().catch((err) => {
  console.error(err);
  const banner = $("#banner");
  banner.hidden = false;
  banner.textContent = `The console could not start: ${err.message || err}`;
});
