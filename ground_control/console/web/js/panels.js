// Side panels: vehicle list, parcel list (search, filter by state / hub, the planner's reason for
// a parcel left waiting), alerts feed with acknowledgement, and the detail panel of a vehicle
// (telemetry, mission, stops with ETAs, events timeline, actions) or a parcel (history, proof).
import { api, can } from "./api.js";
import { state, on, emit, esc, ago, clock, isStale, linkAge } from "./state.js";
import { vehicleColour, showProof, panBeside, getMap, drawMissions } from "./map.js";
import { confirmAndCommand, setEnabled, commandLog } from "./actions.js";

const $ = (sel) => document.querySelector(sel);

export function initPanels() {
  for (const btn of document.querySelectorAll("[data-tab]")) {
    btn.addEventListener("click", () => showTab(btn.dataset.tab));
  }
  $("#parcel-search").addEventListener("input", renderParcels);
  $("#parcel-state").addEventListener("change", renderParcels);
  $("#parcel-hub").addEventListener("change", renderParcels);
  $("#detail-close").addEventListener("click", () => { state.selected = null; $("#detail").hidden = true; showProof(null); });
  // the list is rebuilt once a second (link ages move with the clock), and at once when a
  // vehicle appears: 200 vehicles at 2 Hz must not rebuild it 400 times a second
  on("vehicles", () => { if ($("#vehicle-list tbody").rows.length !== state.vehicles.size) renderVehicles(); });
  on("parcels", renderParcelsSoon);
  on("alerts", renderAlerts);
  on("hubs", renderHubFilter);
  on("events", () => { if (state.selected) renderDetailSoon(); });
  on("missions", renderDetailSoon);
  setInterval(() => { renderVehicles(); if (state.selected && state.selected.kind === "vehicle") renderDetail(); }, 1000);
}

export function showTab(name) {
  for (const btn of document.querySelectorAll("[data-tab]")) btn.classList.toggle("active", btn.dataset.tab === name);
  for (const el of document.querySelectorAll(".tab")) el.hidden = el.id !== `tab-${name}`;
}

function soon(fn) {
  let pending = false;
  return () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; fn(); }); } };
}
const renderParcelsSoon = soon(() => renderParcels());
const renderDetailSoon = soon(() => renderDetail());

function renderVehicles() {
  const rows = [...state.vehicles.values()].sort((a, b) => a.id.localeCompare(b.id)).map((v) => {
    const age = linkAge(v);
    return `<tr data-vehicle="${esc(v.id)}" class="${isStale(v) ? "stale" : ""}">
      <td><span class="swatch" style="background:${vehicleColour(v)}"></span>${esc(v.id)}</td>
      <td>${esc(v.type)}</td><td>${esc(v.state || (v.online ? "online" : "offline"))}</td>
      <td>${v.bat ?? ""}${v.bat != null ? "%" : ""}</td>
      <td>${age == null ? "-" : age < 100 ? age.toFixed(0) + " s" : "stale"}</td>
      <td>${v.enabled ? "" : "disabled"}${v.lost ? " lost" : ""}</td></tr>`;
  });
  $("#vehicle-list tbody").innerHTML = rows.join("");
  $("#vehicle-count").textContent = String(state.vehicles.size);
}

function renderHubFilter() {
  const sel = $("#parcel-hub");
  const cur = sel.value;
  sel.innerHTML = `<option value="">all hubs</option>` + [...state.hubs.values()].map((h) => `<option value="${esc(h.id)}">${esc(h.id)}</option>`).join("");
  sel.value = cur;
  const zoneHub = $("#zone-hub");
  if (zoneHub) zoneHub.innerHTML = `<option value="">all hubs (fleet-wide)</option>` + [...state.hubs.values()].map((h) => `<option value="${esc(h.id)}">${esc(h.id)}</option>`).join("");
}

export function renderParcels() {
  const q = $("#parcel-search").value.trim().toLowerCase();
  const st = $("#parcel-state").value;
  const hub = $("#parcel-hub").value;
  const list = [...state.parcels.values()].filter((p) => (!st || p.state === st) && (!hub || p.hub_id === hub)
    && (!q || [p.id, p.address, p.recipient && p.recipient.name, p.vehicle_id].some((s) => (s || "").toLowerCase().includes(q))));
  list.sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
  $("#parcel-list tbody").innerHTML = list.slice(0, 300).map((p) => `<tr data-parcel="${esc(p.id)}">
    <td>${esc(p.id)}</td><td><span class="pill s-${esc(p.state)}">${esc(p.state)}</span></td><td>${esc(p.hub_id)}</td>
    <td>${esc(p.vehicle_id || "")}</td><td class="why">${esc(p.state === "created" ? (p.waiting_reason || "") : "")}</td></tr>`).join("");
  $("#parcel-count").textContent = `${list.length} of ${state.parcels.size}`;
}

function renderAlerts() {
  const open = [...state.alerts.values()].filter((a) => a.acked_at == null).sort((a, b) => b.id - a.id);
  const done = [...state.alerts.values()].filter((a) => a.acked_at != null).sort((a, b) => b.id - a.id);
  const mayAck = can(state.me.role, "ack");
  const item = (a) => `<li data-alert="${a.id}" class="sev-${esc(a.severity)} ${a.acked_at ? "acked" : ""}">
    <div><b>${esc(a.kind.replace(/_/g, " "))}</b> <small>${clock(a.at)}</small></div>
    <div>${esc(a.message)}</div>
    ${a.acked_at ? `<small>acknowledged by ${esc(a.acked_by)} at ${clock(a.acked_at)}</small>`
      : mayAck ? `<button class="ack" data-ack="${a.id}">Acknowledge</button>` : ""}
    ${a.vehicle ? `<button class="link" data-goto-vehicle="${esc(a.vehicle)}">show ${esc(a.vehicle)}</button>` : ""}</li>`;
  $("#alert-list").innerHTML = open.map(item).join("") + done.slice(0, 20).map(item).join("");
  const badge = $("#alert-count");
  badge.textContent = String(open.length);
  badge.classList.toggle("hot", open.length > 0);
}

export async function acknowledgeAlert(id) {
  const a = await api(`/alerts/${id}/acknowledge`, { method: "POST", json: state.me.auth ? undefined : { by: state.me.name } });
  state.alerts.set(String(a.id), { ...state.alerts.get(String(a.id)), acked_at: Date.parse(a.acknowledged_at) / 1000, acked_by: a.acknowledged_by });
  emit("alerts");
}

export async function selectVehicle(id) {
  state.selected = { kind: "vehicle", id };
  $("#detail").hidden = false;
  renderDetail();
  const v = state.vehicles.get(id);
  if (v && v.lat != null && getMap()) getMap().panTo([v.lat, v.lon]);
  try {
    const evs = await api(`/events?vehicle_id=${encodeURIComponent(id)}&order=desc&limit=30`);
    state.vehicleEvents = { id, items: evs.items };
    renderDetail();
  } catch (err) { console.warn(err); }
}

export async function selectParcel(id) {
  state.selected = { kind: "parcel", id };
  $("#detail").hidden = false;
  try {
    const [p, hist] = await Promise.all([api(`/parcels/${encodeURIComponent(id)}`), api(`/parcels/${encodeURIComponent(id)}/history?limit=100`)]);
    state.parcels.set(id, p);
    state.parcelHistory = { id, items: hist.items };
    if (p.proof && p.proof.position) showProof(p);   // pans beside the panel itself
    else { showProof(null); panBeside([p.lat, p.lon], $("#detail")); }
  } catch (err) { console.warn(err); }
  renderDetail();
}

function renderDetail() {
  const sel = state.selected;
  if (!sel) return;
  const body = $("#detail-body");
  if (sel.kind === "vehicle") body.innerHTML = vehicleDetail(sel.id);
  else body.innerHTML = parcelDetail(sel.id);
}

function vehicleDetail(id) {
  const v = state.vehicles.get(id);
  if (!v) return `<p>unknown vehicle ${esc(id)}</p>`;
  const age = linkAge(v);
  const mission = [...state.missions.values()].find((m) => m.vehicle === id);
  const detail = mission && state.missionDetail.get(mission.id);
  const stops = detail && detail.payload ? detail.payload.stops.map((s, i) => {
    const eta = (detail.etas || []).find((e) => e.index === i);
    const done = i < (detail.legsDone || 0);
    return `<li class="${done ? "done" : ""}">${esc(s.parcel_id)} (${esc(s.action)})${done ? " reached" : eta ? `, ETA ${Math.round(eta.eta_s / 60)} min` : ""}</li>`;
  }).join("") : "";
  const evs = (state.vehicleEvents && state.vehicleEvents.id === id ? state.vehicleEvents.items : []);
  const live = state.events.filter((e) => e.vehicle === id).map((e) => ({ kind: e.kind, ts: new Date(e.ts * 1000).toISOString(), mission_id: e.mission, parcel_id: e.parcel, id: e.id }));
  const seen = new Set();
  const timeline = [...live.reverse(), ...evs].filter((e) => !seen.has(e.id) && seen.add(e.id)).slice(0, 30);
  const cmd = can(state.me.role, "command");
  const buttons = cmd ? `<div class="actions">
      ${[["hold", "Hold"], ["resume", "Resume"], ["return_to_hub", "Return to hub"], ["abort", "Abort"], ["land_now", "Land now"]]
        .map(([a, label]) => `<button data-cmd="${a}" data-vehicle="${esc(id)}">${label}</button>`).join("")}
    </div>` : "";
  const enable = can(state.me.role, "vehicle")
    ? `<button id="vehicle-enable" data-vehicle="${esc(id)}" data-enabled="${v.enabled}">${v.enabled ? "Disable" : "Enable"} vehicle</button>` : "";
  return `<h3><span class="swatch" style="background:${vehicleColour(v)}"></span>${esc(id)} <small>${esc(v.type)}, hub ${esc(v.hub)}</small></h3>
    <table class="kv">
      <tr><th>state</th><td>${esc(v.state || "")} ${v.online ? "online" : "<b>offline</b>"}${v.enabled ? "" : ", disabled"}${v.lost ? ", LOST" : ""}</td></tr>
      <tr><th>link</th><td>${age == null ? "no telemetry" : `${age.toFixed(1)} s${isStale(v) ? " <b>stale</b>" : ""}`}</td></tr>
      <tr><th>position</th><td>${v.lat != null ? `${v.lat.toFixed(5)}, ${v.lon.toFixed(5)}, alt ${v.alt ?? "?"} m` : ""}</td></tr>
      <tr><th>heading / speed</th><td>${v.hdg ?? ""}&deg; / ${v.spd ?? ""} m/s</td></tr>
      <tr><th>battery</th><td>${v.bat ?? ""}%</td></tr>
      <tr><th>mode</th><td>${esc(v.mode || "")}${v.armed ? " (armed)" : ""}</td></tr>
      <tr><th>mission</th><td>${mission ? `${esc(mission.id)} (${esc(mission.state)})${mission.unreachable ? " unreachable" : ""}` : "none"}</td></tr>
    </table>
    ${stops ? `<h4>Stops</h4><ol class="stops">${stops}</ol>` : ""}
    ${buttons}${enable}
    <h4>Commands</h4><ul id="command-log">${commandLog(id)}</ul>
    <h4>Events</h4><ul class="timeline">${timeline.map((e) => `<li><small>${new Date(e.ts).toLocaleTimeString()}</small> ${esc(e.kind)} ${esc(e.parcel_id || "")}</li>`).join("")}</ul>`;
}

function parcelDetail(id) {
  const p = state.parcels.get(id);
  if (!p) return `<p>unknown parcel ${esc(id)}</p>`;
  const hist = state.parcelHistory && state.parcelHistory.id === id ? state.parcelHistory.items : [];
  const proof = p.proof;
  return `<h3>parcel ${esc(id)} <span class="pill s-${esc(p.state)}">${esc(p.state)}</span></h3>
    <table class="kv">
      <tr><th>to</th><td>${esc(p.recipient ? p.recipient.name : "")}, ${esc(p.address)}</td></tr>
      <tr><th>where</th><td>${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} (hub ${esc(p.hub_id)})</td></tr>
      <tr><th>weight</th><td>${p.weight_kg} kg, ${esc(p.size)}</td></tr>
      <tr><th>vehicle</th><td>${esc(p.vehicle_id || "")} ${esc(p.mission_id || "")}</td></tr>
      ${p.waiting_reason ? `<tr><th>waiting</th><td>${esc(p.waiting_reason)}</td></tr>` : ""}
    </table>
    ${proof ? `<h4>Proof of delivery</h4><table class="kv" id="proof">
      <tr><th>method</th><td>${esc(proof.method)}</td></tr>
      <tr><th>confirmed</th><td>${proof.confirmed ? "yes" : `no (${esc(proof.reason || "")})`}</td></tr>
      <tr><th>at</th><td>${esc(proof.delivered_at || "")}</td></tr>
      <tr><th>drop</th><td>${proof.distance_m != null ? `${proof.distance_m.toFixed(1)} m from the target (on the map)` : "not observed"}</td></tr></table>` : ""}
    <h4>History</h4><ul class="timeline">${hist.map((h) => `<li><small>${new Date(h.at).toLocaleTimeString()}</small> ${esc(h.from_state || "")} &rarr; <b>${esc(h.to_state)}</b> ${esc(h.reason)}</li>`).join("")}</ul>`;
}

// Delegated clicks: list rows, alert buttons, command buttons.
export function wireClicks() {
  document.addEventListener("click", async (ev) => {
    const t = ev.target.closest("[data-vehicle],[data-parcel],[data-ack],[data-goto-vehicle],[data-cmd],#vehicle-enable");
    if (!t) return;
    if (t.matches("[data-cmd]")) return confirmAndCommand(t.dataset.vehicle, t.dataset.cmd);
    if (t.id === "vehicle-enable") return setEnabled(t.dataset.vehicle, t.dataset.enabled !== "true");
    if (t.matches("[data-ack]")) return acknowledgeAlert(t.dataset.ack);
    if (t.matches("[data-goto-vehicle]")) return selectVehicle(t.dataset.gotoVehicle);
    if (t.matches("tr[data-vehicle]")) return selectVehicle(t.dataset.vehicle);
    if (t.matches("tr[data-parcel]")) return selectParcel(t.dataset.parcel);
  });
}

export { drawMissions };
