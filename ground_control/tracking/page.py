"""The recipient's tracking page: one self-contained HTML document (inline CSS, inline script
under a per-response CSP nonce, the map an inline SVG drawn from the status JSON), so it works
on a phone with no CDN and offline networks. The first status is embedded, so the page shows
something at once; then the server pushes each change on ``events`` (EventSource, allowed by
``connect-src 'self'``). Should the stream fail repeatedly (or be refused: too many streams),
the page falls back to polling ``status`` every ``POLL_S`` seconds."""

from __future__ import annotations

import html
import json
from typing import Any

POLL_S = 5
#: consecutive stream failures (no status in between) before the page polls instead
STREAM_FAILURES = 3


def render(status: dict[str, Any], nonce: str) -> str:
    data = json.dumps(status).replace("<", "\\u003c")   # no "</script>" can end the block early
    return PAGE.replace("__NONCE__", html.escape(nonce)).replace("__STATUS__", data) \
        .replace("__TITLE__", html.escape(status.get("label", "Your parcel"))).replace("__POLL_MS__", str(POLL_S * 1000)) \
        .replace("__STREAM_FAILURES__", str(STREAM_FAILURES))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>__TITLE__ - your parcel</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:34rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}
.card{background:#fff;border-radius:.7rem;padding:1rem;margin:.8rem 0;box-shadow:0 1px 3px #0002}
.muted{color:#667}.big{font-size:1.8rem;font-weight:600}
ol{padding-left:1.2rem;margin:.3rem 0}li{margin:.2rem 0}
.code{font-size:2rem;letter-spacing:.3rem;font-weight:700;font-family:ui-monospace,monospace}
svg{width:100%;height:auto;background:#e9eef3;border-radius:.5rem;touch-action:manipulation}
button{font-size:1rem;padding:.6rem 1rem;border-radius:.5rem;border:0;background:#2257d6;color:#fff}
button:disabled{background:#99a}
.err{color:#b00020}.ok{color:#0a7a2f}
</style></head>
<body><main>
<p class="muted">Parcel tracking</p>
<h1 id="label"></h1>
<div class="card" id="eta-card"><div class="muted">Estimated arrival</div><div class="big" id="eta"></div>
<div class="muted" id="band"></div></div>
<div class="card" id="code-card" hidden><div class="muted">Handover code: if a robot brings your parcel,
type this code on it</div><div class="code" id="code"></div></div>
<div class="card"><svg id="map" viewBox="0 0 300 200" role="img" aria-label="map of your delivery"></svg>
<div class="muted" id="map-note"></div>
<div id="spot" hidden><p>Drone delivery: tap the map to choose where the parcel should be dropped
(within <span id="radius"></span> m of your address), then confirm.</p>
<button id="confirm" disabled>Confirm drop spot</button> <span id="spot-msg"></span></div></div>
<div class="card" id="proof-card" hidden><div class="muted">Proof of delivery</div><div id="proof"></div></div>
<div class="card"><div class="muted">History</div><ol id="timeline"></ol></div>
</main>
<script nonce="__NONCE__">
"use strict";
let S = __STATUS__;
let pick = null;
const $ = (id) => document.getElementById(id);
const base = location.pathname.replace(/\\/$/, "");
const statusUrl = base + "/status", eventsUrl = base + "/events";
const FINAL = ["delivered", "returned"];
const fmt = (iso) => iso ? new Date(iso).toLocaleString([], {dateStyle: "medium", timeStyle: "short"}) : "";
const hm = (iso) => new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
function txt(el, s) { el.textContent = s; }
function svgEl(name, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function frame(points) {
  // local metres around the target, fitted to the 300 x 200 box with a margin
  const t = S.target, kx = 111320 * Math.cos(t.lat * Math.PI / 180), ky = 110574;
  const xy = (p) => [(p.lon - t.lon) * kx, (p.lat - t.lat) * ky];
  let span = Math.max(S.drop_spot_radius_m * 1.3 || 40, 40);
  for (const p of points) { const [x, y] = xy(p); span = Math.max(span, Math.abs(x) * 1.1, Math.abs(y) * 1.6); }
  const s = 140 / span;
  return {s, to: (p) => { const [x, y] = xy(p); return [150 + x * s, 100 - y * s]; },
          from: (X, Y) => ({lat: t.lat + (100 - Y) / s / ky, lon: t.lon + (X - 150) / s / kx})};
}
function drawMap() {
  const m = $("map"); m.replaceChildren();
  const pts = [S.target].concat(S.drop_spot ? [S.drop_spot] : [], S.vehicle ? [S.vehicle] : [], S.path || [],
    S.proof && S.proof.position ? [S.proof.position] : []);
  const f = frame(pts);
  if (S.drop_spot_open) m.append(svgEl("circle", {cx: 150, cy: 100, r: S.drop_spot_radius_m * f.s, fill: "#2257d622", stroke: "#2257d6"}));
  if (S.path && S.path.length && S.vehicle) {
    const line = [S.vehicle].concat(S.path).map((p) => f.to(p).join(",")).join(" ");
    m.append(svgEl("polyline", {points: line, fill: "none", stroke: "#2257d6", "stroke-width": 2, "stroke-dasharray": "5 4"}));
  }
  const dot = (p, color, r, label) => {
    const [x, y] = f.to(p);
    m.append(svgEl("circle", {cx: x, cy: y, r: r, fill: color}));
    const t = svgEl("text", {x: x + r + 2, y: y + 4, "font-size": 10, fill: "#1d2330"}); t.textContent = label; m.append(t);
  };
  dot(S.target, "#1d2330", 4, "address");
  if (S.drop_spot) dot(S.drop_spot, "#0a7a2f", 4, "drop spot");
  if (pick) dot(pick, "#e08a00", 5, "new spot");
  if (S.proof && S.proof.position) dot(S.proof.position, "#b00020", 5, "dropped here");
  if (S.vehicle) dot(S.vehicle, "#2257d6", 6, S.vehicle_kind || "vehicle");
  m.onclick = S.drop_spot_open ? (ev) => {
    const r = m.getBoundingClientRect();
    pick = f.from((ev.clientX - r.left) * 300 / r.width, (ev.clientY - r.top) * 200 / r.height);
    $("confirm").disabled = false; txt($("spot-msg"), ""); drawMap();
  } : null;
  let note = "";
  if (S.vehicle) note = "The " + (S.vehicle_kind || "vehicle") + " is on its way to you.";
  else if (S.stops_before) note = S.stops_before + " stop(s) before yours; the vehicle shows here once it heads to you.";
  txt($("map-note"), note);
}
function render() {
  txt($("label"), S.label);
  const e = S.eta;
  $("eta-card").hidden = !e;
  if (e) { txt($("eta"), hm(e.eta)); txt($("band"), "between " + hm(e.low) + " and " + hm(e.high)); }
  $("code-card").hidden = !S.handover_code;
  txt($("code"), S.handover_code || "");
  $("spot").hidden = !S.drop_spot_open;
  txt($("radius"), String(S.drop_spot_radius_m));
  const p = S.proof;
  $("proof-card").hidden = !p;
  if (p) {
    const parts = [fmt(p.delivered_at), p.method === "release" ? "released by drone" : "handed over by robot"];
    if (p.distance_m != null) parts.push(Math.round(p.distance_m) + " m from the target");
    parts.push(p.confirmed ? "confirmed" : "not confirmed");
    if (p.observed === false) parts.push("not observed by the vehicle");
    txt($("proof"), parts.join(" - "));
  }
  const tl = $("timeline"); tl.replaceChildren();
  for (const h of S.timeline) { const li = document.createElement("li"); li.textContent = h.label + " - " + fmt(h.at); tl.append(li); }
  drawMap();
}
async function poll() {
  try { const r = await fetch(statusUrl, {cache: "no-store"}); if (r.ok) { S = await r.json(); render(); } } catch (err) {}
  if (!FINAL.includes(S.state)) setTimeout(poll, __POLL_MS__);
}
let polling = false;
function startPolling() { if (!polling && !FINAL.includes(S.state)) { polling = true; setTimeout(poll, __POLL_MS__); } }
function listen() {
  // pushed updates; the browser reconnects by itself when a stream ends (the server ends each
  // after a while). Refused (closed for good) or failing again and again: poll instead.
  if (FINAL.includes(S.state)) return;
  if (!window.EventSource) { startPolling(); return; }
  let failures = 0;
  const es = new EventSource(eventsUrl);
  es.addEventListener("status", (ev) => {
    failures = 0;
    try { S = JSON.parse(ev.data); } catch (err) { return; }
    render();
    if (FINAL.includes(S.state)) es.close();      // nothing more will change: do not reconnect
  });
  es.onerror = () => {
    failures += 1;
    if (es.readyState === EventSource.CLOSED || failures >= __STREAM_FAILURES__) { es.close(); startPolling(); }
  };
}
$("confirm").onclick = async () => {
  if (!pick) return;
  $("confirm").disabled = true;
  const r = await fetch(location.pathname.replace(/\\/$/, "") + "/drop-spot", {method: "POST",
    headers: {"content-type": "application/json"}, body: JSON.stringify(pick)});
  const body = await r.json().catch(() => ({}));
  if (r.ok) { S = body; pick = null; render(); txt($("spot-msg"), "Saved."); $("spot-msg").className = "ok"; }
  else { txt($("spot-msg"), typeof body.detail === "string" ? body.detail : "Not accepted."); $("spot-msg").className = "err"; }
};
render();
listen();
</script></body></html>
"""
