// The map: hubs, geofences (service area and no-fly zones), vehicles (heading, type, state colour,
// battery, link age; stale ones greyed), active missions' paths (flown part, next stop, ETAs),
// parcels by state, and the plan preview. Markers use Leaflet's canvas renderer: hundreds of
// vehicles stay smooth. Leaflet is the global `L` (web/vendor, fetched at install time).
import { state, on, isStale, linkAge, esc, STALE_S } from "./state.js";
import { missionLegs, stopEtas } from "./geo.js";

// the edge agent's mission states (edge_agent.mission_state.State)
export const STATE_COLOURS = {
  idle: "#2e7d32", validating: "#f9a825", uploading: "#f9a825", arming: "#f9a825", starting: "#f9a825",
  in_flight: "#1565c0", at_dropoff: "#6a1b9a", holding: "#ef6c00", returning: "#00838f", completed: "#2e7d32",
  aborted: "#c62828", failed: "#c62828", rejected: "#c62828",
};
export const PARCEL_COLOURS = {
  created: "#9e9e9e", planned: "#fbc02d", dispatched: "#fb8c00", in_transit: "#1e88e5",
  delivered: "#43a047", delivery_failed: "#e53935", returned: "#8e24aa", lost: "#000000",
};

let map = null;
let renderer = null;
const layers = {};
const vehicleMarkers = new Map();   // id -> {dot, nose}
const parcelMarkers = new Map();
const missionLines = new Map();     // mission id -> layer group

export function vehicleColour(v) {
  if (v.lost) return "#000";
  if (isStale(v)) return "#9e9e9e";
  return STATE_COLOURS[v.state] || "#1565c0";
}

export function initMap(el, config) {
  if (!window.L) return null;
  const L = window.L;
  renderer = L.canvas({ padding: 0.3 });
  map = L.map(el, { preferCanvas: true, zoomControl: true, attributionControl: !!config.tile_url });
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution || "", maxZoom: 20 }).addTo(map);
  } else {
    el.classList.add("plain-basemap");
  }
  for (const name of ["geofences", "hubs", "missions", "parcels", "plan", "vehicles", "draft", "proof", "edit"]) {
    layers[name] = L.layerGroup().addTo(map);
  }
  map.setView([52.37, 4.89], 14);
  on("hubs", drawHubs);
  on("geofences", drawGeofences);
  on("vehicles", (ids) => drawVehicles(ids));
  on("missions", drawMissions);
  on("parcels", drawParcels);
  setInterval(() => drawVehicles(), 1000);   // link age and staleness move with the clock
  map.on("zoomend", () => drawVehicles());
  return map;
}

export function getMap() { return map; }
export function layer(name) { return layers[name]; }

export function fitAll() {
  if (!map) return;
  const pts = [...state.hubs.values()].map((h) => [h.lat, h.lon]);
  for (const v of state.vehicles.values()) if (v.lat != null) pts.push([v.lat, v.lon]);
  for (const g of state.geofences.values()) {
    for (const f of g.geojson.features || []) {
      if (f.geometry && f.geometry.type === "Polygon") for (const [lon, lat] of f.geometry.coordinates[0]) pts.push([lat, lon]);
    }
  }
  if (pts.length) map.fitBounds(pts, { padding: [20, 20], maxZoom: 16 });
}

function drawHubs() {
  if (!map) return;
  const L = window.L;
  layers.hubs.clearLayers();
  for (const h of state.hubs.values()) {
    L.marker([h.lat, h.lon], {
      icon: L.divIcon({ className: "hub-icon", html: `<span title="${esc(h.id)}">H</span>`, iconSize: [22, 22] }),
    }).bindTooltip(`hub ${esc(h.name || h.id)}`).addTo(layers.hubs);
  }
}

function drawGeofences() {
  if (!map) return;
  const L = window.L;
  layers.geofences.clearLayers();
  for (const g of state.geofences.values()) {
    L.geoJSON(g.geojson, {
      style: (f) => (f.properties && f.properties.role === "exclusion")
        ? { color: "#c62828", weight: 2, fillColor: "#e57373", fillOpacity: 0.25 }
        : { color: "#37474f", weight: 1.5, dashArray: "6 4", fill: false },
      onEachFeature: (f, lyr) => {
        lyr.bindTooltip(`${esc(g.id)}: ${esc((f.properties && (f.properties.name || f.properties.role)) || "")}`);
        if (f.properties && f.properties.role === "exclusion") {
          const index = g.geojson.type === "FeatureCollection" ? g.geojson.features.indexOf(f) : 0;
          lyr.on("click", (ev) => zoneClick(g.id, index, [ev.latlng.lat, ev.latlng.lng]));
        }
      },
    }).addTo(layers.geofences);
  }
}

function nosePoint(v, metres) {
  const rad = (v.hdg || 0) * Math.PI / 180;
  const dLat = (metres * Math.cos(rad)) / 111320;
  const dLon = (metres * Math.sin(rad)) / (111320 * Math.cos(v.lat * Math.PI / 180));
  return [v.lat + dLat, v.lon + dLon];
}

function vehicleTooltip(id) {
  const v = state.vehicles.get(id);
  if (!v) return esc(id);
  const age = linkAge(v);
  return `${esc(id)} (${esc(v.type)}) ${esc(v.state || "")}<br>battery ${v.bat ?? "?"}%, link ${age == null ? "none" : age.toFixed(0) + " s"}${isStale(v) ? " <b>STALE</b>" : ""}`;
}

function vehicleStyle(v, stale) {
  // ring: orange when the battery is low, else white for a drone and dark for a robot
  const low = v.bat != null && v.bat < (state.config.low_battery_pct || 20);
  return { color: low ? "#ff6f00" : v.type === "robot" ? "#263238" : "#fff",
    weight: 2, fillColor: vehicleColour(v), fillOpacity: stale ? 0.35 : 0.95, opacity: stale ? 0.5 : 1,
    radius: v.type === "drone" ? 7 : 6, dashArray: stale ? "2 3" : null };
}

// Redraws the vehicles named in `ids` (all when omitted); a marker's style is only touched
// when its colour or staleness changed, its tooltip is built when it opens.
export function drawVehicles(ids) {
  if (!map) return;
  const L = window.L;
  const noseM = 40 * Math.pow(2, 15 - map.getZoom());
  for (const id of ids || state.vehicles.keys()) {
    const v = state.vehicles.get(id);
    if (!v || v.lat == null) continue;
    const stale = isStale(v);
    const look = `${vehicleColour(v)}|${stale}|${v.bat != null && v.bat < (state.config.low_battery_pct || 20)}`;
    let m = vehicleMarkers.get(id);
    if (!m) {
      m = {
        dot: L.circleMarker([v.lat, v.lon], { renderer, ...vehicleStyle(v, stale) }).addTo(layers.vehicles),
        nose: L.polyline([[v.lat, v.lon], nosePoint(v, noseM)], { renderer, color: vehicleColour(v), weight: 3 }).addTo(layers.vehicles),
        look,
      };
      m.dot.bindTooltip(() => vehicleTooltip(id));
      m.dot.on("click", () => selectVehicle(id));
      vehicleMarkers.set(id, m);
    }
    const ll = m.dot.getLatLng();
    if (ll.lat !== v.lat || ll.lng !== v.lon || m.hdg !== v.hdg || m.zoom !== map.getZoom()) {
      m.dot.setLatLng([v.lat, v.lon]);
      m.nose.setLatLngs([[v.lat, v.lon], nosePoint(v, noseM)]);
      m.hdg = v.hdg;
      m.zoom = map.getZoom();
    }
    if (m.look !== look) {
      m.dot.setStyle(vehicleStyle(v, stale));
      m.nose.setStyle({ color: vehicleColour(v), opacity: stale ? 0.4 : 1 });
      m.look = look;
    }
  }
  if (!ids) {
    for (const [id, m] of vehicleMarkers) {
      if (!state.vehicles.has(id)) { layers.vehicles.removeLayer(m.dot); layers.vehicles.removeLayer(m.nose); vehicleMarkers.delete(id); }
    }
  }
}

let zoneClick = () => {};
export function onZoneClick(fn) { zoneClick = fn; }

let selectVehicle = () => {};
let selectParcel = () => {};
export function onSelect(vehicleFn, parcelFn) { selectVehicle = vehicleFn; selectParcel = parcelFn; }

export function drawMissions() {
  if (!map) return;
  const L = window.L;
  for (const [id, group] of missionLines) {
    if (!state.missions.has(id)) { layers.missions.removeLayer(group); missionLines.delete(id); }
  }
  for (const [id, m] of state.missions) {
    const detail = state.missionDetail.get(id);
    if (!detail || !detail.payload) continue;   // still loading
    const legs = missionLegs(detail.payload);
    const done = detail.legsDone || 0;
    const key = `${done}`;
    let group = missionLines.get(id);
    if (group && group.key === key) { updateEtas(group, m, detail); continue; }
    if (group) layers.missions.removeLayer(group);
    group = L.layerGroup();
    group.key = key;
    legs.forEach((leg, i) => {
      L.polyline(leg, { renderer, color: i < done ? "#9e9e9e" : "#1565c0", weight: i < done ? 2 : 3,
        dashArray: i < done ? null : "6 6", opacity: 0.8 }).addTo(group);
    });
    group.stopMarkers = detail.payload.stops.map((s, i) => L.circleMarker([s.drop_off.lat, s.drop_off.lon], {
      renderer, radius: i === done ? 8 : 5, color: i === done ? "#d81b60" : "#1565c0", weight: 2,
      fillOpacity: i < done ? 0.1 : 0.6,
    }).bindTooltip(`${esc(m.vehicle)} stop ${i + 1}: ${esc(s.parcel_id)}${i === done ? " (next)" : ""}`).addTo(group));
    group.addTo(layers.missions);
    missionLines.set(id, group);
    updateEtas(group, m, detail);
  }
}

function updateEtas(group, m, detail) {
  const v = state.vehicles.get(m.vehicle);
  const pos = v && v.lat != null ? [v.lat, v.lon] : null;
  const etas = stopEtas(detail.payload, detail.legsDone || 0, pos, v && v.spd);
  detail.etas = etas;
  for (const e of etas) {
    const mk = group.stopMarkers[e.index];
    if (mk) mk.setTooltipContent(`${esc(m.vehicle)} stop ${e.index + 1}: ${esc(e.parcel)}${e.index === (detail.legsDone || 0) ? " (next)" : ""}, ETA ${Math.round(e.eta_s / 60)} min`);
  }
}

export function drawParcels() {
  if (!map) return;
  const L = window.L;
  for (const [id, p] of state.parcels) {
    let mk = parcelMarkers.get(id);
    const style = { renderer, radius: 4, color: PARCEL_COLOURS[p.state] || "#777", weight: 1,
      fillColor: PARCEL_COLOURS[p.state] || "#777", fillOpacity: 0.7 };
    if (!mk) {
      mk = L.circleMarker([p.lat, p.lon], style).addTo(layers.parcels);
      mk.on("click", () => selectParcel(id));
      parcelMarkers.set(id, mk);
    } else {
      mk.setStyle(style);
    }
    mk.bindTooltip(`parcel ${esc(id)}: ${esc(p.state)}`);
  }
  for (const [id, mk] of parcelMarkers) if (!state.parcels.has(id)) { layers.parcels.removeLayer(mk); parcelMarkers.delete(id); }
}

export function showProof(parcel) {
  if (!map) return;
  const L = window.L;
  layers.proof.clearLayers();
  const proof = parcel && parcel.proof;
  if (!proof || !proof.position) return;
  const drop = [proof.position.lat, proof.position.lon];
  const target = [parcel.lat, parcel.lon];
  L.polyline([target, drop], { color: "#43a047", dashArray: "3 3" }).addTo(layers.proof);
  // a DOM marker, above the canvas: the vehicle that dropped it often still hovers on the spot
  L.marker(drop, { icon: L.divIcon({ className: "drop-icon", html: "<span>&#10003;</span>", iconSize: [20, 20] }), zIndexOffset: 500 })
    .bindTooltip(`drop position, ${proof.distance_m != null ? proof.distance_m.toFixed(1) + " m from target" : ""}`).addTo(layers.proof);
  panBeside(target, document.querySelector("#detail"));
}

// Pan so `ll` is in the middle of the part of the map the panel does not cover.
export function panBeside(ll, panel) {
  if (!map) return;
  const shift = panel && !panel.hidden ? (panel.offsetWidth + 20) / 2 : 0;
  map.panTo(map.unproject(map.project(ll, map.getZoom()).add([shift, 0]), map.getZoom()));
}

export function showPlan(fc) {
  if (!map) return;
  const L = window.L;
  layers.plan.clearLayers();
  if (!fc) return;
  L.geoJSON(fc, {
    style: () => ({ color: "#ff6d00", weight: 3, opacity: 0.9 }),
    pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 5, color: "#ff6d00", fillOpacity: 0.8 }),
    onEachFeature: (f, lyr) => {
      const p = f.properties || {};
      lyr.bindTooltip(p.kind === "route"
        ? `${esc(p.vehicle_id)}: ${p.parcel_ids.length} parcels, ${(p.distance_m / 1000).toFixed(2)} km, ${(p.duration_s / 60).toFixed(1)} min`
        : `${esc(p.vehicle_id)} stop ${p.seq + 1}: ${esc(p.parcel_id)}, ETA ${(p.eta_s / 60).toFixed(1)} min`);
    },
  }).addTo(layers.plan);
}

// For tests: where the shown proof's drop marker is, and whether the map's view shows it.
export function proofMarker() {
  const [mk] = layers.proof ? layers.proof.getLayers().filter((l) => l instanceof window.L.Marker) : [];
  if (!mk) return null;
  const ll = mk.getLatLng();
  return { lat: ll.lat, lon: ll.lng, visible: map.getBounds().contains(ll) };
}

// For tests and the benchmark: where each vehicle marker is drawn.
export function markerPositions() {
  const out = {};
  for (const [id, m] of vehicleMarkers) { const ll = m.dot.getLatLng(); out[id] = [ll.lat, ll.lng]; }
  return out;
}

export { STALE_S };
