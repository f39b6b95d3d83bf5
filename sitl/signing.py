"""MAVLink 2 signing as ArduPilot does it (GCS_Signing.cpp + mavlink_helpers.h): pure logic, no I/O.

The key lives in the autopilot's storage (``StoredKey``, StorageKeys in ArduPilot) and survives a
reboot; ``SigningGate`` is the running state shared by every channel of one vehicle (one
``mavlink_signing_t`` and one ``mavlink_signing_streams_t``). What it reproduces:

* SETUP_SIGNING stores key + initial timestamp and activates them at once; a zero key with a zero
  timestamp disables signing (``load_signing_key``).
* At load (boot or SETUP_SIGNING) the outgoing timestamp starts one minute past the stored one,
  and the stored one is refreshed every 30 s, so a reboot never reuses a timestamp.
* Incoming frames: signature first (SHA-256 of key + frame, first 6 bytes), then the stream rule:
  a known (link id, sysid, compid) stream must move forward; a new stream is accepted only if its
  timestamp is at most one minute behind ours. An accepted timestamp pulls ours forward.
* Unsigned or badly signed frames are accepted only for RADIO_STATUS and RADIO (telemetry radios
  cannot sign), and on channel 0 for anything (``accept_unsigned_callback``: "always accept
  channel 0, assumed to be secure channel", USB on real boards, SERIAL0 = tcp 5760 on SITL).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

#: seconds from the Unix epoch to 2015-01-01 00:00 UTC, MAVLink signing's epoch
SIGNING_EPOCH_UNIX_S = 1420070400
#: one minute in signing timestamp units (10 us)
ONE_MINUTE = 60 * 100 * 1000
SAVE_EVERY_S = 30.0
MAVLINK_IFLAG_SIGNED = 0x01
SIGNATURE_LEN = 13
MSG_ID_RADIO_STATUS = 109
MSG_ID_RADIO = 166
#: accepted without a valid signature on every channel (GCS_Signing.cpp accept_list)
ACCEPT_UNSIGNED = frozenset({MSG_ID_RADIO_STATUS, MSG_ID_RADIO})
MAX_STREAMS = 16  # MAVLINK_MAX_SIGNING_STREAMS


def timestamp_from_unix(unix_s: float) -> int:
    """Signing timestamp (10 us units since 2015-01-01 UTC) for a Unix time."""
    return max(0, int((unix_s - SIGNING_EPOCH_UNIX_S) * 100_000))


def frame_is_signed(frame: bytes) -> bool:
    """A MAVLink 2 frame with the signed flag and room for the 13-byte signature block."""
    return len(frame) > 12 + SIGNATURE_LEN and frame[0] == 0xFD and bool(frame[2] & MAVLINK_IFLAG_SIGNED)


def signature(key: bytes, frame_without_sig: bytes) -> bytes:
    """The 6-byte signature of a frame whose last 7 bytes are link id + 48-bit timestamp."""
    return hashlib.sha256(key + frame_without_sig).digest()[:6]


@dataclass
class StoredKey:
    """What ArduPilot keeps in StorageKeys: survives reboots (not an ``-w`` wipe)."""

    secret_key: bytes
    timestamp: int

    @property
    def disables(self) -> bool:
        """All-zero key and zero timestamp: signing off (load_signing_key's ``all_zero``)."""
        return self.timestamp == 0 and not any(self.secret_key)


@dataclass
class SigningGate:
    """Running signing state of one vehicle, shared by all its channels."""

    stored: StoredKey | None = None
    key: bytes | None = None          # None: signing disabled, everything accepted
    timestamp: int = 0                # next outgoing timestamp
    streams: dict[tuple[int, int, int], int] = field(default_factory=dict)
    last_save_s: float = 0.0
    accepted_signed: int = 0
    rejected: int = 0

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def setup(self, secret_key: bytes, initial_timestamp: int, now_s: float) -> None:
        """SETUP_SIGNING: store, then activate at once."""
        self.stored = StoredKey(bytes(secret_key), int(initial_timestamp))
        self.load(now_s)

    def load(self, now_s: float) -> None:
        """At boot or after SETUP_SIGNING: activate the stored key (streams start empty)."""
        self.streams = {}
        self.last_save_s = now_s
        if self.stored is None or self.stored.disables:
            self.key = None
            return
        self.key = self.stored.secret_key
        self.timestamp = self.stored.timestamp + ONE_MINUTE

    def raise_to(self, timestamp: int) -> None:
        """update_signing_timestamp: a GPS time moves the clock forward, never back."""
        if self.enabled and self.timestamp < timestamp:
            self.timestamp = timestamp

    def maybe_save(self, now_s: float) -> None:
        """save_signing_timestamp: every 30 s the running timestamp goes to storage."""
        if not self.enabled or self.stored is None or now_s - self.last_save_s < SAVE_EVERY_S:
            return
        self.last_save_s = now_s
        if self.timestamp > self.stored.timestamp:
            self.stored.timestamp = self.timestamp

    def accept(self, frame: bytes, msg_id: int, src_system: int, src_component: int,
               channel: int) -> bool:
        """Whether an incoming frame is processed (mavlink_parse_char with signing set)."""
        if self.key is None:
            return True
        if channel == 0 or msg_id in ACCEPT_UNSIGNED:
            return True  # the callback answers before any signature check
        if frame_is_signed(frame) and self._check(frame, src_system, src_component):
            self.accepted_signed += 1
            return True
        self.rejected += 1
        return False

    def _check(self, frame: bytes, src_system: int, src_component: int) -> bool:
        """mavlink_signature_check: signature, then the stream's timestamp rule."""
        assert self.key is not None
        if signature(self.key, frame[:-6]) != frame[-6:]:
            return False
        link_id = frame[-SIGNATURE_LEN]
        lo, hi = struct.unpack("<IH", frame[-12:-6])
        ts = lo | (hi << 32)
        stream = (link_id, src_system, src_component)
        last = self.streams.get(stream)
        if last is None:
            if len(self.streams) >= MAX_STREAMS or ts + ONE_MINUTE < self.timestamp:
                return False
        elif ts <= last:
            return False  # replayed or reordered
        self.streams[stream] = ts
        if ts > self.timestamp:
            self.timestamp = ts
        return True
