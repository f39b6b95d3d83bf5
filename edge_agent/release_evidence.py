"""Evidence that a parcel really left the vehicle (pure, no I/O).

ArduPilot says "Gripper Released" for every DO_GRIPPER mission item, whether or not a gripper
exists (AP_Mission::start_command_do_gripper): a gripper configured at run time without a reboot
has no backend and the servo never moves. And a servo gripper that is already open answers a
second release with "Gripper load released" at once, PWM unchanged. Neither is evidence.

Evidence is the release output *changing* to its release PWM in SERVO_OUTPUT_RAW (or the
backend's "Gripper load releasing", which it says only when it moves the servo) while the stop's
release is under way. Each parcel has its own release output (:class:`ReleaseOutput`): the
ArduPilot gripper (one parcel per trip) or one plain servo per parcel (DO_SET_SERVO).
"""

from __future__ import annotations

from dataclasses import dataclass

#: wall seconds after the release item ran within which the evidence must show up
EVIDENCE_WINDOW_S = 3.0
#: SERVOn_FUNCTION of ArduPilot's gripper output
GRIPPER_FUNCTION = 28
RELEASING_TEXT = "gripper load releasing"


@dataclass(frozen=True)
class ReleaseOutput:
    """Where one parcel's release shows: servo output ``channel`` (1-based, as SERVOn) going to
    ``release_pwm``; ``gripper`` is ArduPilot's gripper (DO_GRIPPER), else a plain servo
    (DO_SET_SERVO ``channel`` ``release_pwm``; ``hold_pwm`` set before take-off)."""

    channel: int
    release_pwm: int
    hold_pwm: int
    gripper: bool = True

    def to_list(self) -> list[int]:
        return [self.channel, self.release_pwm, self.hold_pwm, int(self.gripper)]

    @classmethod
    def from_list(cls, v: list[int]) -> "ReleaseOutput":
        return cls(int(v[0]), int(v[1]), int(v[2]), bool(v[3]))


def moved_to_release(out: ReleaseOutput, before: int | None, now: int) -> bool:
    """One SERVO_OUTPUT_RAW sample compared with the previous one on the same channel."""
    return now == out.release_pwm and before is not None and before != out.release_pwm


def is_releasing_text(text: str) -> bool:
    return text.lower().startswith(RELEASING_TEXT)


def missing_evidence_reason(out: ReleaseOutput | None, last_pwm: int | None) -> str:
    """Why a release could not be confirmed, in words for the proof."""
    if out is None:
        return "no release output known (gripper servo channel not found): the release cannot be confirmed"
    where = f"SERVO{out.channel}"
    if last_pwm is None:
        return f"no SERVO_OUTPUT_RAW for {where} from the autopilot: the release cannot be confirmed"
    if last_pwm == out.release_pwm:
        return (f"{where} was already at its release PWM {out.release_pwm} before this stop "
                "(gripper already open): nothing shows this parcel dropped here")
    return (f"{where} stayed at PWM {last_pwm}, never moved to the release PWM {out.release_pwm}"
            + (" (gripper parameters changed without a reboot?)" if out.gripper else ""))
