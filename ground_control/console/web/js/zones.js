// Pure no-fly-zone logic for the zone editor, no map and no I/O: list the zones of the stored
// geofences, change a zone's corners (move, insert, remove; never below a triangle), and write the
// result back into the fence's GeoJSON document, which the API then validates like any other.
// A ring here is [[lat, lon], ...] without the closing point; GeoJSON is [lon, lat] and closed.
export const MIN_CORNERS = 3;

export function featuresOf(doc) {
  return doc && doc.type === "FeatureCollection" ? doc.features : doc ? [doc] : [];
}

function outerRing(coords) {
  const ring = coords[0].map(([lon, lat]) => [lat, lon]);
  const [a, b] = [ring[0], ring[ring.length - 1]];
  return ring.length > 1 && a[0] === b[0] && a[1] === b[1] ? ring.slice(0, -1) : ring;
}

// Every exclusion polygon of every fence: a MultiPolygon gives one zone per part.
export function listZones(fences) {
  const out = [];
  for (const fence of fences) {
    featuresOf(fence.geojson).forEach((f, feature) => {
      const g = f && f.geometry;
      if (!g || !f.properties || f.properties.role !== "exclusion") return;
      const parts = g.type === "Polygon" ? [[null, g.coordinates]] : g.type === "MultiPolygon" ? g.coordinates.map((c, i) => [i, c]) : [];
      for (const [part, coords] of parts) {
        out.push({ key: zoneKey(fence.id, feature, part), fence: fence.id, hub: fence.hub_id || null, feature, part,
          name: f.properties.name || `zone ${feature + 1}${part != null ? `.${part + 1}` : ""}`, ring: outerRing(coords) });
      }
    });
  }
  return out;
}

export function zoneKey(fence, feature, part) { return `${fence}#${feature}${part != null ? `.${part}` : ""}`; }

export function moveCorner(ring, i, pt) { return ring.map((p, j) => (j === i ? pt : p)); }

// A new corner between corner i and the next one (the ring wraps around).
export function insertCorner(ring, i, pt) { return [...ring.slice(0, i + 1), pt, ...ring.slice(i + 1)]; }

// Unchanged when only a triangle is left: a zone keeps an area.
export function removeCorner(ring, i) { return ring.length <= MIN_CORNERS ? ring : ring.filter((_, j) => j !== i); }

export function midpoints(ring) {
  return ring.map((p, i) => { const q = ring[(i + 1) % ring.length]; return [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]; });
}

// Ray casting on [lat, lon]: is pt inside the ring? (Which part of a MultiPolygon was clicked.)
export function contains(ring, pt) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [yi, xi] = ring[i], [yj, xj] = ring[j];
    if ((yi > pt[0]) !== (yj > pt[0]) && pt[1] < ((xj - xi) * (pt[0] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function closedLonLat(ring) { return [...ring.map(([lat, lon]) => [lon, lat]), [ring[0][1], ring[0][0]]]; }

function rebuild(doc, features) {
  return doc.type === "FeatureCollection" ? { ...doc, features } : features[0] || null;
}

// The fence's document with the zone's outer ring replaced (its holes, other zones, the service
// area and every property kept as they were).
export function withZone(doc, zone, ring) {
  const features = featuresOf(doc).map((f, i) => {
    if (i !== zone.feature) return f;
    const g = f.geometry;
    const coords = zone.part == null ? [closedLonLat(ring), ...g.coordinates.slice(1)]
      : g.coordinates.map((c, j) => (j === zone.part ? [closedLonLat(ring), ...c.slice(1)] : c));
    return { ...f, geometry: { ...g, coordinates: coords } };
  });
  return rebuild(doc, features);
}

// The fence's document without the zone: a MultiPolygon loses the part, a feature with no part
// left goes. Null when nothing is left (the caller deletes the fence instead).
export function withoutZone(doc, zone) {
  const features = [];
  featuresOf(doc).forEach((f, i) => {
    if (i !== zone.feature) { features.push(f); return; }
    if (zone.part == null) return;
    const left = f.geometry.coordinates.filter((_, j) => j !== zone.part);
    if (left.length) features.push({ ...f, geometry: { ...f.geometry, coordinates: left } });
  });
  return features.length ? rebuild(doc, features) : null;
}
