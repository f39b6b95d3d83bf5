"""The recipient's side of a delivery: tracking tokens, the public tracking page and its JSON,
live ETAs from the mission's real progress, the drop spot a recipient confirms.

| module | job |
|---|---|
| `token.py` | unguessable tracking tokens, derived from the server secret; only their hash stored |
| `eta.py` | pure ETA model: remaining path, observed speed, service times -> ETA and a band |
| `speed.py` | smoothed observed speed per vehicle from telemetry samples |
| `handover_wait.py` | robots' handover wait learnt from the fleet's recent handovers |
| `view.py` | pure view model: what the public page may show (privacy rules) |
| `drop_spot.py` | pure validation of a recipient's drop spot (radius, geofence) |
| `rate_limit.py` | per-client token bucket for the public endpoints |
| `service.py` | the I/O edge: loads rows, builds ETA and view; `current_eta` for webhooks |
| `page.py` | the self-contained HTML page (inline CSS/JS/SVG, no CDN) |
"""
