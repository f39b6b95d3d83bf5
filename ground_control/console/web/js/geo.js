// Small, pure geometry for the map: distances, a mission's planned path split at the legs done.
const R = 6371008.8;

export function distM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad, dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

export function pathLength(pts) {
  let d = 0;
  for (let i = 1; i < pts.length; i++) d += distM(pts[i - 1], pts[i]);
  return d;
}

// The mission as legs of [lat, lon] points: leg i ends at stop i, the last leg at the hub.
export function missionLegs(payload) {
  const hub = [payload.hub.position.lat, payload.hub.position.lon];
  const legs = [];
  let from = hub;
  for (const stop of payload.stops) {
    const to = [stop.drop_off.lat, stop.drop_off.lon];
    const mid = (stop.path || []).map((p) => [p.lat, p.lon]);
    legs.push([from, ...mid, to]);
    from = to;
  }
  legs.push([from, ...(payload.return_path || []).map((p) => [p.lat, p.lon]), hub]);
  return legs;
}

// ETAs (seconds from now) of the stops still ahead, from the vehicle's position along the plan.
export function stopEtas(payload, legsDone, pos, speed) {
  const legs = missionLegs(payload);
  const v = Math.max(speed || 0, payload.cruise_speed_mps || 5, 0.5);
  const out = [];
  let acc = 0;
  for (let i = legsDone; i < payload.stops.length; i++) {
    const leg = legs[i];
    acc += i === legsDone && pos ? distM(pos, leg[leg.length - 1]) : pathLength(leg);
    out.push({ parcel: payload.stops[i].parcel_id, index: i, eta_s: acc / v });
  }
  return out;
}
