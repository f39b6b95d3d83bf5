"""lastmile-fleet edge agent: runs on a vehicle's companion computer.

It takes missions from ground control over MQTT, checks them against the geofence and the
vehicle's limits, uploads fence and mission to the ArduPilot autopilot over MAVLink, flies/drives
them, and reports events (kept in a durable SQLite outbox until the broker acknowledges them)
and telemetry. Pure modules (``mission_translation``, ``geofence_check``, ``mission_state``) hold
the logic; ``mavlink_link``, ``mqtt_link`` and ``outbox`` do the I/O; ``agent`` wires them up.
"""

__version__ = "0.1.0"
