"""Which telemetry messages one MAVLink channel streams, and how often: ArduPilot's rules.

A GCS or companion computer chooses its telemetry the way it does on a real autopilot
(libraries/GCS_MAVLink/GCS_Common.cpp):

* ``MAV_CMD_SET_MESSAGE_INTERVAL`` (COMMAND_LONG/INT 511): param1 the message id, param2 the
  interval in microseconds. ``0`` puts the message back to its default rate (FAILED for a message
  with no default stream), ``-1`` stops it, under 1,000 us counts as 1 ms and over 60 s as 60 s.
  An id the autopilot cannot send answers FAILED. ArduPilot clamps param2 to an int32.
* ``REQUEST_DATA_STREAM``: a legacy stream group (or ``MAV_DATA_STREAM_ALL``) at a rate in Hz,
  ``start_stop`` 0 stopping it; every message of the group takes the group's interval (the SRn_*
  parameters). No answer is sent.
* The choice belongs to the channel (the port), not to one TCP connection: a GCS that reconnects to
  the same port finds the rates it set; a reboot restores the defaults.

The simulator steps at a fixed tick, so intervals are rounded to whole ticks (at least one).
This module is pure bookkeeping; :mod:`sitl.link` does the sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAV_RESULT_ACCEPTED, MAV_RESULT_FAILED = 0, 4

HEARTBEAT, SYS_STATUS, GPS_RAW_INT, ATTITUDE, GLOBAL_POSITION_INT = 0, 1, 24, 30, 33
SERVO_OUTPUT_RAW, MISSION_CURRENT, NAV_CONTROLLER_OUTPUT, VFR_HUD = 36, 42, 62, 74
BATTERY_STATUS, FENCE_STATUS, EKF_STATUS_REPORT = 147, 162, 193

#: what this simulator streams at boot, in ms (the SRn_* defaults of its SITL parameter file);
#: HEARTBEAT is ArduPilot's fixed 1 Hz deferred message, outside every stream group
DEFAULT_INTERVAL_MS: dict[int, int] = {
    HEARTBEAT: 1000, GLOBAL_POSITION_INT: 200, SYS_STATUS: 1000, BATTERY_STATUS: 1000,
    GPS_RAW_INT: 1000, EKF_STATUS_REPORT: 1000, VFR_HUD: 1000, ATTITUDE: 1000, FENCE_STATUS: 1000,
    NAV_CONTROLLER_OUTPUT: 1000, MISSION_CURRENT: 1000, SERVO_OUTPUT_RAW: 1000,
}

#: MAV_DATA_STREAM id -> the messages of that group this simulator sends (ArduPilot's stream tables)
STREAM_GROUPS: dict[int, tuple[int, ...]] = {
    2: (SYS_STATUS, MISSION_CURRENT, GPS_RAW_INT, NAV_CONTROLLER_OUTPUT, FENCE_STATUS),  # EXTENDED_STATUS
    3: (SERVO_OUTPUT_RAW,),                 # RC_CHANNELS
    6: (GLOBAL_POSITION_INT,),              # POSITION
    10: (ATTITUDE,),                        # EXTRA1
    11: (VFR_HUD,),                         # EXTRA2
    12: (BATTERY_STATUS, EKF_STATUS_REPORT),  # EXTRA3
}
MAV_DATA_STREAM_ALL = 0


def interval_ms_for(interval_us: int) -> int:
    """GCS_MAVLINK::set_message_interval's clamping of a positive interval (us -> ms)."""
    if interval_us < 1000:
        return 1
    return min(interval_us, 60_000_000) // 1000


@dataclass
class StreamRates:
    """One channel's message intervals, and the schedule they give at ``tick_ms`` per tick."""

    tick_ms: int = 100
    #: message id -> interval in ms; 0 = not sent
    interval_ms: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_INTERVAL_MS))
    #: (every n ticks, message ids), rebuilt on every change: the per-tick check is a few modulos
    schedule: tuple[tuple[int, tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        self._rebuild()

    def reset(self) -> None:
        """A reboot: the defaults again."""
        self.interval_ms = dict(DEFAULT_INTERVAL_MS)
        self._rebuild()

    def set_message_interval(self, msg_id: int, interval_us: int) -> int:
        """MAV_CMD_SET_MESSAGE_INTERVAL; returns the MAV_RESULT for the COMMAND_ACK."""
        if msg_id not in DEFAULT_INTERVAL_MS:
            return MAV_RESULT_FAILED  # not a message this autopilot can stream
        if interval_us == 0:
            ms = DEFAULT_INTERVAL_MS[msg_id]
        elif interval_us == -1:
            ms = 0
        elif interval_us < -1:
            return MAV_RESULT_FAILED  # ArduPilot stores it as a huge uint16 interval; refuse instead
        else:
            ms = interval_ms_for(interval_us)
        self.interval_ms[msg_id] = ms
        self._rebuild()
        return MAV_RESULT_ACCEPTED

    def request_data_stream(self, stream_id: int, rate_hz: int, start_stop: int) -> None:
        """REQUEST_DATA_STREAM: a whole group (or all of them) to ``rate_hz``; 0 or stop = off."""
        hz = 0 if start_stop == 0 else rate_hz
        if start_stop not in (0, 1):
            return
        ms = 0 if hz <= 0 else max(1, 1000 // hz)
        groups = STREAM_GROUPS.values() if stream_id == MAV_DATA_STREAM_ALL else (
            [STREAM_GROUPS[stream_id]] if stream_id in STREAM_GROUPS else [])
        for ids in groups:
            for msg_id in ids:
                self.interval_ms[msg_id] = ms
        self._rebuild()

    def streaming(self, msg_id: int) -> bool:
        return self.interval_ms.get(msg_id, 0) > 0

    def due(self, tick: int) -> list[int]:
        """Message ids to send on ``tick`` (callers stagger vehicles by offsetting ``tick``)."""
        out: list[int] = []
        for every, ids in self.schedule:
            if tick % every == 0:
                out.extend(ids)
        return out

    def _rebuild(self) -> None:
        by_every: dict[int, list[int]] = {}
        for msg_id, ms in self.interval_ms.items():
            if ms > 0:
                by_every.setdefault(max(1, round(ms / self.tick_ms)), []).append(msg_id)
        self.schedule = tuple((every, tuple(sorted(ids))) for every, ids in sorted(by_every.items()))
