"""The servo gripper as ArduPilot's AP_Gripper / AP_Gripper_Servo behave (pure, no I/O).

What matters to a GCS that wants to know whether a parcel really dropped:

* the backend exists only if ``GRIP_ENABLE`` = 1 and ``GRIP_TYPE`` = 1 **at boot**
  (AP_Gripper::init); parameters changed later are stored but nothing acts on them until a reboot;
* at boot the servo goes to ``GRIP_NEUTRAL``; ``release`` moves it to ``GRIP_RELEASE`` and says
  "Gripper load releasing", and after the servo actuation time the state is "released";
  releasing an already released gripper only says "Gripper load released" (PWM unchanged);
  grab is the mirror image ("Gripper load grabbing" / "Gripper load grabbed");
* the PWM is visible in SERVO_OUTPUT_RAW on the channel whose ``SERVOn_FUNCTION`` is 28.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: AP_Gripper_Servo's SERVO_ACTUATION_TIME: the servo counts as in position after this long
ACTUATION_S = 0.5

NEUTRAL, GRABBING, GRABBED, RELEASING, RELEASED = "neutral", "grabbing", "grabbed", "releasing", "released"


@dataclass
class ServoGripper:
    """One servo gripper backend, created from the parameters at boot."""

    grab_pwm: int
    release_pwm: int
    neutral_pwm: int
    state: str = NEUTRAL
    pwm: int = 0
    since: float = 0.0
    releases: int = 0
    jam_next_release: bool = False  # fault: the next release moves nothing (servo unpowered)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pwm = self.neutral_pwm

    @classmethod
    def at_boot(cls, params: dict[str, float]) -> "ServoGripper | None":
        if not params.get("GRIP_ENABLE", 0) or int(params.get("GRIP_TYPE", 0)) != 1:
            return None
        return cls(grab_pwm=int(params.get("GRIP_GRAB", 1900)), release_pwm=int(params.get("GRIP_RELEASE", 1100)),
                   neutral_pwm=int(params.get("GRIP_NEUTRAL", 1500)))

    def release(self, t: float) -> None:
        if self.state == RELEASING:
            return
        if self.state == RELEASED:
            self.texts.append("Gripper load released")
            return
        if self.jam_next_release:
            self.jam_next_release = False
            return
        self.state, self.pwm, self.since = RELEASING, self.release_pwm, t
        self.releases += 1
        self.texts.append("Gripper load releasing")

    def grab(self, t: float) -> None:
        if self.state == GRABBING:
            return
        if self.state == GRABBED:
            self.texts.append("Gripper load grabbed")
            return
        self.state, self.pwm, self.since = GRABBING, self.grab_pwm, t
        self.texts.append("Gripper load grabbing")

    def update(self, t: float) -> None:
        if t - self.since < ACTUATION_S:
            return
        if self.state == RELEASING:
            self.state = RELEASED
        elif self.state == GRABBING:
            self.state = GRABBED

    def drain_texts(self) -> list[str]:
        out, self.texts = self.texts, []
        return out
