// What an operator does from the console, all through the existing API: vehicle commands (with a
// confirmation, and the vehicle's acknowledgement shown when it comes back), enable / disable,
// a parcel created by clicking the map, a CSV / GeoJSON import (row errors shown), a no-fly zone
// drawn on the map (validated by POST /geofences like any other), and a dry-run plan preview.
import { api, ApiError } from "./api.js";
import { state, emit, esc } from "./state.js";
import { getMap, layer, showPlan } from "./map.js";

const $ = (sel) => document.querySelector(sel);
const commands = new Map();   // command id -> {vehicle, action, status, detail}

export function toast(text, kind = "info") {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.textContent = text;
  $("#toasts").appendChild(el);
  setTimeout(() => el.remove(), kind === "error" ? 12000 : 6000);
}

export function explain(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return "your role may not do this";
    const d = err.detail;
    if (Array.isArray(d)) return d.map((x) => (x.loc ? `${x.loc.join(".")}: ` : "") + (x.msg || JSON.stringify(x))).join("; ");
    return typeof d === "string" ? d : JSON.stringify(d);
  }
  return String(err);
}

// A modal: resolves with the form's values (or true) on OK, null on cancel.
export function dialog(title, html, okLabel = "OK") {
  const dlg = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-body").innerHTML = html;
  $("#dialog-ok").textContent = okLabel;
  $("#dialog-error").textContent = "";
  dlg.showModal();
  return new Promise((resolve) => {
    const done = (val) => { dlg.close(); $("#dialog-ok").onclick = $("#dialog-cancel").onclick = null; resolve(val); };
    $("#dialog-cancel").onclick = () => done(null);
    $("#dialog-ok").onclick = (ev) => {
      ev.preventDefault();
      const form = $("#dialog-body form");
      done(form ? Object.fromEntries(new FormData(form)) : true);
    };
  });
}

const LABEL = { hold: "hold", resume: "resume", return_to_hub: "return to hub", abort: "abort the mission", land_now: "land now" };

export async function confirmAndCommand(vehicleId, action) {
  const ok = await dialog(`Send "${LABEL[action]}" to ${vehicleId}?`,
    `<p>The command goes to <b>${esc(vehicleId)}</b> over MQTT; its acknowledgement shows in the vehicle panel.</p>`, "Send");
  if (!ok) return;
  try {
    const cmd = await api(`/vehicles/${encodeURIComponent(vehicleId)}/commands`, { method: "POST", json: { action } });
    commands.set(cmd.id, { vehicle: vehicleId, action, status: "sent", detail: "" });
    toast(`${LABEL[action]} queued for ${vehicleId}`);
    emit("events");
  } catch (err) { toast(`${LABEL[action]} refused: ${explain(err)}`, "error"); }
}

// Called for every live event: a command_ack fills in its command.
export function noteEvent(e) {
  if (e.kind !== "command_ack" || !e.body) return;
  const c = commands.get(e.body.command_id);
  if (!c) return;
  c.status = e.body.accepted ? "accepted" : "refused";
  c.detail = e.body.detail || "";
  toast(`${c.vehicle}: ${LABEL[c.action] || c.action} ${c.status}${c.detail ? ` (${c.detail})` : ""}`, e.body.accepted ? "ok" : "error");
}

export function commandLog(vehicleId) {
  return [...commands.entries()].filter(([, c]) => c.vehicle === vehicleId).reverse()
    .map(([id, c]) => `<li data-command="${esc(id)}" class="cmd-${c.status}">${esc(LABEL[c.action] || c.action)}: <b>${c.status}</b> ${esc(c.detail)}</li>`).join("");
}

export async function setEnabled(vehicleId, enabled) {
  const ok = await dialog(`${enabled ? "Enable" : "Disable"} ${vehicleId}?`,
    `<p>${enabled ? "The planner may give it missions again." : "The planner gives it no new missions; a mission under way goes on."}</p>`);
  if (!ok) return;
  try {
    await api(`/vehicles/${encodeURIComponent(vehicleId)}`, { method: "PATCH", json: { enabled } });
    toast(`${vehicleId} ${enabled ? "enabled" : "disabled"}`, "ok");
  } catch (err) { toast(explain(err), "error"); }
}

// ---- map tools ---------------------------------------------------------------------------------
let mode = null;   // "parcel" | "zone" | null
let zonePoints = [];

export function setMode(next) {
  mode = next;
  document.body.dataset.mode = next || "";
  $("#zone-controls").hidden = next !== "zone";
  $("#mode-hint").textContent = next === "parcel" ? "Click the map where the parcel goes." : next === "zone" ? "Click the corners of the no-fly zone, then Finish." : "";
  if (next !== "zone") { zonePoints = []; layer("draft") && layer("draft").clearLayers(); }
  if (next) $("#detail").hidden = true;   // the whole map is needed to place points
}

export function initTools() {
  $("#tool-parcel").addEventListener("click", () => setMode(mode === "parcel" ? null : "parcel"));
  $("#tool-zone").addEventListener("click", () => setMode(mode === "zone" ? null : "zone"));
  $("#zone-cancel").addEventListener("click", () => setMode(null));
  $("#zone-finish").addEventListener("click", finishZone);
  $("#import-file").addEventListener("change", (ev) => importFile(ev.target.files[0]).finally(() => { ev.target.value = ""; }));
  $("#tool-plan").addEventListener("click", previewPlan);
  $("#plan-clear").addEventListener("click", () => { showPlan(null); $("#plan-summary").innerHTML = ""; });
  const map = getMap();
  if (map) map.on("click", (ev) => onMapClick([ev.latlng.lat, ev.latlng.lng]));
}

function onMapClick(pt) {
  if (mode === "parcel") { setMode(null); createParcelAt(pt); }
  else if (mode === "zone") {
    zonePoints.push(pt);
    const L = window.L;
    layer("draft").clearLayers();
    L.polygon(zonePoints, { color: "#c62828", dashArray: "4 4", fillOpacity: 0.15 }).addTo(layer("draft"));
    for (const p of zonePoints) L.circleMarker(p, { radius: 4, color: "#c62828" }).addTo(layer("draft"));
    $("#zone-count").textContent = `${zonePoints.length} corners`;
  }
}

function nearestHub(pt) {
  let best = null, bestD = Infinity;
  for (const h of state.hubs.values()) {
    const d = (h.lat - pt[0]) ** 2 + (h.lon - pt[1]) ** 2;
    if (d < bestD) { bestD = d; best = h; }
  }
  return best;
}

export async function createParcelAt(pt) {
  const hub = nearestHub(pt);
  const id = `p-${Date.now().toString(36)}`;
  const form = await dialog("New parcel", `<form>
    <label>id <input name="id" value="${id}" required></label>
    <label>hub <select name="hub_id">${[...state.hubs.values()].map((h) => `<option ${hub && h.id === hub.id ? "selected" : ""}>${esc(h.id)}</option>`).join("")}</select></label>
    <label>weight kg <input name="weight_kg" type="number" step="0.1" value="1.0"></label>
    <label>size <select name="size"><option>small</option><option>medium</option><option>large</option></select></label>
    <label>recipient <input name="recipient" value="Recipient" required></label>
    <label>phone <input name="phone" value="" placeholder="phone or email needed"></label>
    <label>email <input name="email" type="email" value=""></label>
    <label>address <input name="address" value=""></label>
    <p>at ${pt[0].toFixed(5)}, ${pt[1].toFixed(5)}</p></form>`, "Create");
  if (!form) return;
  try {
    const p = await api("/parcels", { method: "POST", json: { id: form.id, hub_id: form.hub_id, weight_kg: Number(form.weight_kg),
      size: form.size, lat: pt[0], lon: pt[1], address: form.address, recipient: { name: form.recipient, phone: form.phone || null, email: form.email || null } } });
    state.parcels.set(p.id, p);
    emit("parcels");
    // the recipient's tracking page (it alone shows a robot's handover code): send them this link
    toast(`parcel ${p.id} created${p.tracking_url ? `; recipient's tracking link ${p.tracking_url}` : ""}`, "ok");
  } catch (err) { toast(`parcel refused: ${explain(err)}`, "error"); }
}

export async function importFile(file) {
  if (!file) return;
  const out = $("#import-result");
  const body = new FormData();
  body.append("file", file, file.name);
  out.innerHTML = `importing ${esc(file.name)}...`;
  try {
    const page = await api("/parcels/import", { method: "POST", body });
    for (const p of page.items) state.parcels.set(p.id, p);
    emit("parcels");
    out.innerHTML = `<p class="ok">${page.items.length} parcels imported from ${esc(file.name)}</p>`;
  } catch (err) {
    const rows = err instanceof ApiError && err.body && Array.isArray(err.body.errors) ? err.body.errors : null;
    out.innerHTML = `<p class="error">nothing imported from ${esc(file.name)}: ${esc(rows ? `${err.body.error_count} rows with errors` : explain(err))}</p>` +
      (rows ? `<ul class="row-errors">${rows.map((r) => `<li data-row="${r.row}">row ${r.row}${r.id ? ` (${esc(r.id)})` : ""}: ${esc(r.errors.join("; "))}</li>`).join("")}</ul>` : "");
  }
}

// The fence in force for a scope (a hub's own, else the fleet-wide one).
function fenceInForce(hubId) {
  const all = [...state.geofences.values()];
  return (hubId && all.find((g) => g.hub_id === hubId)) || all.find((g) => g.hub_id == null) || null;
}

export function zoneDocument(base, ring, name) {
  const feature = { type: "Feature", properties: { role: "exclusion", name },
    geometry: { type: "Polygon", coordinates: [[...ring.map(([lat, lon]) => [lon, lat]), [ring[0][1], ring[0][0]]]] } };
  const features = base ? (base.geojson.type === "FeatureCollection" ? base.geojson.features : [base.geojson]) : [];
  return { type: "FeatureCollection", features: [...features, feature] };
}

async function finishZone() {
  if (zonePoints.length < 3) { toast("a zone needs at least 3 corners", "error"); return; }
  const hubId = $("#zone-hub").value || null;
  const name = $("#zone-name").value.trim() || "no-fly zone";
  const base = fenceInForce(hubId);
  const id = `fence-${Date.now().toString(36)}`;
  try {
    const created = await api("/geofences", { method: "POST", json: { id, name: base ? `${base.name || base.id} + ${name}` : name,
      hub_id: hubId, geojson: zoneDocument(base, zonePoints, name) } });
    // the new fence carries the old one's zones too: it replaces the one it extends
    if (base && (base.hub_id || null) === hubId) await api(`/geofences/${encodeURIComponent(base.id)}`, { method: "DELETE" });
    if (base && (base.hub_id || null) === hubId) state.geofences.delete(base.id);
    state.geofences.set(created.id, created);
    emit("geofences");
    toast(`no-fly zone saved in geofence ${created.id}; the next plan goes around it`, "ok");
    setMode(null);
  } catch (err) { toast(`zone refused: ${explain(err)}`, "error"); }
}

export async function previewPlan() {
  const out = $("#plan-summary");
  out.textContent = "planning...";
  try {
    const fc = await api("/plans", { method: "POST", json: {} });
    showPlan(fc);
    const routes = fc.features.filter((f) => f.properties.kind === "route");
    const unplanned = Object.entries(fc.unplanned || {});
    out.innerHTML = `<p>${routes.length} routes, ${fc.parcel_count} parcels, cost ${fc.cost}, solved in ${fc.solve_s} s</p>
      <ul>${routes.map((r) => `<li>${esc(r.properties.vehicle_id)}: ${r.properties.parcel_ids.map(esc).join(", ")} (${(r.properties.distance_m / 1000).toFixed(2)} km)</li>`).join("")}</ul>
      ${unplanned.length ? `<h4>Unplanned</h4><ul>${unplanned.map(([p, why]) => `<li>${esc(p)}: ${esc(why)}</li>`).join("")}</ul>` : ""}`;
  } catch (err) { out.innerHTML = `<p class="error">${esc(explain(err))}</p>`; }
}
