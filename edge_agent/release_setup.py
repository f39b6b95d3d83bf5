"""Release outputs, found and tested before take-off (I/O: the MAVLink link).

Declared servos: each is set to its hold PWM and must show it in SERVO_OUTPUT_RAW. ArduPilot's
gripper: ``GRIP_ENABLE`` must be 1, its servo output (``SERVOn_FUNCTION`` 28) known, and a grab
must move that servo to ``GRIP_GRAB``. ArduPilot creates the gripper only at boot: GRIP_* set at
run time pass the parameter check but nothing moves; then the autopilot (disarmed, on the ground)
is rebooted once and the grab tried again.
"""

from __future__ import annotations

import logging

from edge_agent.mavlink_link import MavlinkLink, mavlink
from edge_agent.release_evidence import GRIPPER_FUNCTION, ReleaseOutput

#: wall seconds for a commanded servo to show in SERVO_OUTPUT_RAW (streamed at a few Hz)
SERVO_SHOW_S = 3.0


async def prepare_release(mav: MavlinkLink, servos: tuple[int, ...], release_pwm: int, hold_pwm: int, *,
                          reboot: bool, log: logging.Logger) -> tuple[tuple[ReleaseOutput, ...] | None, str]:
    """The release output of each parcel, in stop order, or ``(None, why)`` if they cannot work."""
    if servos:
        outs = tuple(ReleaseOutput(ch, release_pwm, hold_pwm, gripper=False) for ch in servos)
        for o in outs:
            res = await mav.command(mavlink.MAV_CMD_DO_SET_SERVO, o.channel, o.hold_pwm)
            if res != mavlink.MAV_RESULT_ACCEPTED or not await mav.wait_servo(o.channel, o.hold_pwm, SERVO_SHOW_S):
                return None, (f"release servo SERVO{o.channel} did not go to its hold PWM {o.hold_pwm} "
                              f"(DO_SET_SERVO result {res}; is SERVO{o.channel}_FUNCTION 0?)")
        return outs, ""
    grip = await mav.get_param("GRIP_ENABLE")
    if grip == 0:
        return None, ("the autopilot's gripper is disabled (GRIP_ENABLE=0): releases would silently do "
                      "nothing; set GRIP_ENABLE=1, GRIP_TYPE=1, SERVOn_FUNCTION=28 and reboot")
    channel = None
    for n in range(1, 17):
        if await mav.get_param(f"SERVO{n}_FUNCTION", timeout=1.0, retries=1) == GRIPPER_FUNCTION:
            channel = n
            break
    if channel is None:
        return None, "no servo output drives the gripper (no SERVOn_FUNCTION=28): a release could not be confirmed"
    grab = await mav.get_param("GRIP_GRAB")
    release = await mav.get_param("GRIP_RELEASE")
    if grab is None or release is None:
        return None, "the autopilot did not report GRIP_GRAB / GRIP_RELEASE"
    out = ReleaseOutput(channel, int(release), int(grab), gripper=True)
    for attempt in range(2):
        res = await mav.command(mavlink.MAV_CMD_DO_GRIPPER, 1, 1)  # gripper 1, grab
        if res == mavlink.MAV_RESULT_ACCEPTED and await mav.wait_servo(channel, out.hold_pwm, SERVO_SHOW_S):
            return (out,), ""
        if attempt == 0 and reboot and not mav.state.armed:
            log.warning("gripper did not close (SERVO%d not at GRIP_GRAB %d): parameters set without a "
                        "reboot? rebooting the autopilot", channel, out.hold_pwm)
            if not await mav.reboot_autopilot():
                break
    now_pwm = mav.state.servo_pwm[channel - 1] if len(mav.state.servo_pwm) >= channel else None
    return None, (f"the gripper does not move: SERVO{channel} at {now_pwm}, not GRIP_GRAB {out.hold_pwm} after a grab "
                  "(ArduPilot creates the gripper at boot: reboot after setting GRIP_*)")
