"""Energy and carbon per delivery: measured from battery telemetry over the mission (or the
energy model without it), apportioned to the mission's delivered parcels, with a van baseline
for the same distance (docs/footprint.md)."""
