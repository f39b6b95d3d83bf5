"""Which MAVLink messages the agent asks the autopilot to stream, and how often.

By default ArduPilot streams a dozen messages per second on a telemetry port (more with
REQUEST_DATA_STREAM ALL). Decoding them is most of an agent's CPU, so the agent stops every stream
group (REQUEST_DATA_STREAM ALL, start_stop 0) and asks, per message, for what it reads
(MAV_CMD_SET_MESSAGE_INTERVAL), as a companion computer on its own serial port would:

* GLOBAL_POSITION_INT at the telemetry rate, at least 4 Hz: position, speed and heading of every
  telemetry sample, and the mission logic: the proof's release or handover position and a rover
  stopped at its hub are read from it, and ground control refuses a proof farther than 50 m from
  its target. At 1 Hz a rover's arrival was placed 52-65 m short on the 20x simulator (a
  sample is 20 simulated seconds old); 4 Hz is what ArduPilot's default streams gave;
* SYS_STATUS (battery), GPS_RAW_INT (fix) and EKF_STATUS_REPORT (ready to arm) at 1 Hz;
* MISSION_CURRENT (progress) and SERVO_OUTPUT_RAW (release evidence, gripper check within 3 s) at
  1 Hz: nothing in mission execution needs them faster.

HEARTBEAT is not asked for: ArduPilot sends it at 1 Hz outside every stream group, and the link
counts it as alive. STATUSTEXT, MISSION_ITEM_REACHED, COMMAND_ACK, PARAM_VALUE, HOME_POSITION and the
mission protocol are sent when they happen or when asked, never streamed. BATTERY_STATUS, VFR_HUD,
ATTITUDE and the rest repeat what the list above already says.
"""

from __future__ import annotations

GLOBAL_POSITION_INT, SYS_STATUS, GPS_RAW_INT, EKF_STATUS_REPORT = 33, 1, 24, 193
MISSION_CURRENT, SERVO_OUTPUT_RAW = 42, 36

#: messages that only matter at a steady 1 Hz, whatever the telemetry rate
ONE_HZ = (SYS_STATUS, GPS_RAW_INT, EKF_STATUS_REPORT, MISSION_CURRENT, SERVO_OUTPUT_RAW)


#: the slowest position stream the mission logic can live with (see above)
POSITION_MIN_HZ = 4.0


def message_intervals(telemetry_hz: float) -> dict[int, int]:
    """Message id -> interval in microseconds (MAV_CMD_SET_MESSAGE_INTERVAL's param2)."""
    position_hz = max(POSITION_MIN_HZ, telemetry_hz)
    plan = {GLOBAL_POSITION_INT: int(round(1_000_000 / position_hz))}
    plan.update({msg_id: 1_000_000 for msg_id in ONE_HZ})
    return plan
