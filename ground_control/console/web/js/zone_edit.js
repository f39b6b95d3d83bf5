// Editing a stored no-fly zone on the map, which Leaflet cannot do by itself: a draggable handle
// on every corner, a smaller one on every edge's middle (click or drag it to add a corner),
// right-click a corner (long-press on a touch screen) or select it and "Remove corner" to remove
// it. Save sends the fence's whole document back (PUT /geofences/{id}), validated by the same code
// as any API call: a refusal shows the API's reason and nothing is stored. Delete asks first.
import { api, can } from "./api.js";
import { state, on, emit, esc } from "./state.js";
import { getMap, layer, onZoneClick } from "./map.js";
import { dialog, explain, toast, setMode } from "./actions.js";
import { listZones, moveCorner, insertCorner, removeCorner, midpoints, withZone, withoutZone, contains, MIN_CORNERS } from "./zones.js";

const $ = (sel) => document.querySelector(sel);
let edit = null;   // {zone, ring, selected, saving}

const mayEdit = () => can(state.me.role, "geofence");
const zones = () => listZones([...state.geofences.values()]);
const findZone = (key) => zones().find((z) => z.key === key) || null;

export function initZoneEdit() {
  on("geofences", renderZoneList);
  $("#zone-edit-save").addEventListener("click", save);
  $("#zone-edit-cancel").addEventListener("click", () => stopEdit());
  $("#zone-edit-delete").addEventListener("click", () => edit && deleteZone(edit.zone.key));
  $("#zone-edit-remove").addEventListener("click", () => edit && edit.selected != null && removeAt(edit.selected));
  $("#zone-list").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-zone]");
    if (!row) return;
    const key = row.dataset.zone;
    if (ev.target.closest("button.zone-delete")) return deleteZone(key);
    if (ev.target.closest("button.zone-edit")) return startEdit(key);
    showZone(findZone(key));
  });
  // a click on a zone drawn on the map: which part of a MultiPolygon was under the pointer
  onZoneClick((fence, feature, latlng) => {
    if (document.body.dataset.mode) return;   // placing a parcel or drawing a zone
    const hit = zones().filter((z) => z.fence === fence && z.feature === feature);
    const zone = hit.find((z) => contains(z.ring, latlng)) || hit[0];
    if (zone && mayEdit()) startEdit(zone.key);
  });
  window.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && edit) stopEdit(); });
  for (const tool of ["#tool-zone", "#tool-parcel"]) $(tool).addEventListener("click", () => edit && stopEdit());
}

function renderZoneList() {
  const rows = zones().map((z) => `<tr data-zone="${esc(z.key)}" data-zone-name="${esc(z.name)}" class="${edit && edit.zone.key === z.key ? "editing" : ""}">
    <td>${esc(z.name)}</td><td>${esc(z.fence)}</td><td>${esc(z.hub || "all")}</td><td>${z.ring.length}</td>
    <td>${mayEdit() ? `<button class="zone-edit">Edit</button> <button class="zone-delete">Delete</button>` : ""}</td></tr>`);
  $("#zone-list tbody").innerHTML = rows.join("") || `<tr><td colspan="5">no no-fly zones</td></tr>`;
}

function bounds(ring) { return window.L.latLngBounds(ring); }

function showZone(zone) {
  const map = getMap();
  if (!zone || !map) return;
  const b = bounds(zone.ring);
  if (!map.getBounds().contains(b)) map.fitBounds(b, { padding: [80, 80], maxZoom: map.getZoom() });
}

export function startEdit(key) {
  const zone = findZone(key);
  if (!zone || !mayEdit()) return;
  setMode(null);              // not placing a parcel or drawing a zone meanwhile
  $("#detail").hidden = true; // the corners may be under the detail panel
  edit = { zone, ring: zone.ring.slice(), selected: null, saving: false };
  $("#zone-edit-controls").hidden = false;
  $("#zone-edit-name").textContent = `${zone.name} (${zone.fence})`;
  $("#zone-edit-error").textContent = "";
  document.body.dataset.editing = "zone";
  showZone(zone);
  redraw();
  renderZoneList();
}

export function stopEdit() {
  edit = null;
  layer("edit") && layer("edit").clearLayers();
  $("#zone-edit-controls").hidden = true;
  delete document.body.dataset.editing;
  renderZoneList();
}

function handle(ll, className, index) {
  const L = window.L;
  const mk = L.marker(ll, { draggable: true, keyboard: false, zIndexOffset: className === "zone-corner" ? 1000 : 0,
    icon: L.divIcon({ className, iconSize: className === "zone-corner" ? [14, 14] : [10, 10] }) }).addTo(layer("edit"));
  mk.getElement().dataset.index = String(index);
  return mk;
}

function redraw() {
  const L = window.L;
  const lyr = layer("edit");
  if (!lyr || !edit) return;
  lyr.clearLayers();
  const outline = L.polygon(edit.ring, { color: "#6a1b9a", weight: 2, dashArray: "5 4", fillColor: "#ce93d8", fillOpacity: 0.3 }).addTo(lyr);
  const mids = midpoints(edit.ring).map((p, i) => {
    const mk = handle(p, "zone-mid", i);
    mk.bindTooltip("drag or click: add a corner here");
    mk.on("drag", (ev) => outline.setLatLngs(insertCorner(edit.ring, i, ll(ev.target.getLatLng()))));
    mk.on("dragend", (ev) => { edit.ring = insertCorner(edit.ring, i, ll(ev.target.getLatLng())); edit.selected = i + 1; redraw(); });
    mk.on("click", () => { edit.ring = insertCorner(edit.ring, i, p); edit.selected = i + 1; redraw(); });
    return mk;
  });
  edit.ring.forEach((p, i) => {
    const mk = handle(p, `zone-corner${edit.selected === i ? " selected" : ""}`, i);
    mk.bindTooltip(`corner ${i + 1}: drag to move; right-click to remove`);
    mk.on("drag", (ev) => {
      const ring = moveCorner(edit.ring, i, ll(ev.target.getLatLng()));
      outline.setLatLngs(ring);
      midpoints(ring).forEach((m, j) => mids[j].setLatLng(m));
    });
    mk.on("dragend", (ev) => { edit.ring = moveCorner(edit.ring, i, ll(ev.target.getLatLng())); edit.selected = i; redraw(); });
    mk.on("click", () => { edit.selected = i; redraw(); });
    mk.on("contextmenu", () => removeAt(i));
  });
  $("#zone-edit-count").textContent = `${edit.ring.length} corners`;
  $("#zone-edit-remove").disabled = edit.selected == null || edit.ring.length <= MIN_CORNERS;
}

const ll = (latlng) => [latlng.lat, latlng.lng];

function removeAt(i) {
  if (edit.ring.length <= MIN_CORNERS) { toast(`a zone keeps at least ${MIN_CORNERS} corners`, "error"); return; }
  edit.ring = removeCorner(edit.ring, i);
  edit.selected = null;
  redraw();
}

// The fence as stored now (another console may have changed it since the edit began).
function currentFence(zone) {
  const fence = state.geofences.get(zone.fence);
  if (!fence) throw new Error(`geofence ${zone.fence} no longer exists`);
  return fence;
}

async function save() {
  if (!edit || edit.saving) return;
  const { zone, ring } = edit;
  edit.saving = true;
  $("#zone-edit-error").textContent = "";
  try {
    const fence = currentFence(zone);
    const saved = await api(`/geofences/${encodeURIComponent(fence.id)}`, { method: "PUT",
      json: { name: fence.name, hub_id: fence.hub_id, geojson: withZone(fence.geojson, zone, ring) } });
    state.geofences.set(saved.id, saved);
    stopEdit();
    emit("geofences");
    toast(`no-fly zone ${zone.name} saved; the next plan goes around it`, "ok");
  } catch (err) {
    // the API refused it (e.g. a self-intersecting polygon): nothing was stored, keep editing
    const why = explain(err);
    if (edit) { edit.saving = false; $("#zone-edit-error").textContent = `not saved: ${why}`; }
    toast(`zone refused: ${why}`, "error");
  }
}

export async function deleteZone(key) {
  const zone = findZone(key);
  if (!zone || !mayEdit()) return;
  const ok = await dialog(`Delete no-fly zone "${zone.name}"?`,
    `<p>It is removed from geofence <b>${esc(zone.fence)}</b>; the next plan may fly where it was.</p>`, "Delete");
  if (!ok) return;
  try {
    const fence = currentFence(zone);
    const doc = withoutZone(fence.geojson, zone);
    if (doc) {
      const saved = await api(`/geofences/${encodeURIComponent(fence.id)}`, { method: "PUT", json: { name: fence.name, hub_id: fence.hub_id, geojson: doc } });
      state.geofences.set(saved.id, saved);
    } else {
      await api(`/geofences/${encodeURIComponent(fence.id)}`, { method: "DELETE" });
      state.geofences.delete(fence.id);
    }
    if (edit && edit.zone.fence === zone.fence) stopEdit();   // its feature indexes moved
    emit("geofences");
    toast(`no-fly zone ${zone.name} deleted`, "ok");
  } catch (err) { toast(`zone not deleted: ${explain(err)}`, "error"); }
}

// For tests: the ring being edited.
export function editedRing() { return edit ? edit.ring.slice() : null; }
