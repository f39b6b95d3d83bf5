"""Why did the autopilot change mode on its own? Pure classification of its STATUSTEXTs.

ArduPilot sends the HEARTBEAT with the new mode *before* the text that explains it (ArduCopter 4.7
after a GPS loss: HEARTBEAT LAND, then "EKF Failsafe: changed to LAND Mode"), so a mode change
the agent did not command is classified only once the texts that follow it had a short window
to arrive (:data:`TEXT_WINDOW_S`), or earlier when a text that names the cause arrives. The
window itself is kept by the caller with the time it is given (``MissionRun.tick(now)``).
"""

from __future__ import annotations

from typing import Iterable

#: how long after an unexpected mode change its explanation may still arrive (wall seconds)
TEXT_WINDOW_S = 2.0
#: how far back a text that came *before* the mode change still counts (battery, fence texts)
LOOKBACK_S = 15.0

# first match wins, per text; "ekf" before "gps": "EKF Failsafe" is the EKF's verdict
_NEEDLES: tuple[tuple[str, str], ...] = (
    ("battery", "battery"), ("fence", "fence"), ("ekf", "ekf"), ("gps", "gps_loss"),
    ("radio", "link_loss"), ("gcs", "link_loss"), ("crash", "crash"), ("vibration", "vibration"),
)


def reason_of(text: str) -> str | None:
    """The failsafe reason one autopilot text names, if any."""
    low = text.lower()
    for needle, reason in _NEEDLES:
        if needle in low:
            return reason
    return None


def explains_mode_change(text: str) -> bool:
    """A text that states the cause of a mode change outright ("EKF Failsafe: changed to LAND
    Mode", "Battery failsafe: changed to RTL Mode"): no need to wait for the window to close."""
    low = text.lower()
    return "failsafe" in low and reason_of(text) is not None


def classify(after: Iterable[str], before: Iterable[str]) -> str:
    """The reason for an unexpected mode change: the texts that followed it first (in arrival
    order: they are ArduPilot's explanation), then those that preceded it, newest first; else
    ``mode_change``."""
    for text in list(after) + list(reversed(list(before))):
        reason = reason_of(text)
        if reason is not None:
            return reason
    return "mode_change"
