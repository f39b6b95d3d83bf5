"""MAVLink mission item protocol, vehicle side, as ArduPilot's MissionItemProtocol does it.

Upload: MISSION_COUNT -> the vehicle asks for each item with the legacy MISSION_REQUEST (ArduPilot
does so for every mission type, libraries/GCS_MAVLink/MissionItemProtocol.cpp queued_request_send)
and accepts MISSION_ITEM or MISSION_ITEM_INT; a wrong seq gets MISSION_ACK INVALID_SEQUENCE and the
transfer carries on; no item for 1 s -> the request is resent; no item for 8 s -> MISSION_ACK
OPERATION_CANCELLED. Download: MISSION_REQUEST_LIST -> MISSION_COUNT, then MISSION_REQUEST_INT ->
MISSION_ITEM_INT (or MISSION_REQUEST -> MISSION_ITEM). Times are wall-clock: link behaviour does
not speed up with the simulation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .fence import FenceError
from .mission import MISSION_TYPE_FENCE, MISSION_TYPE_MISSION, MissionItem, item_from_msg

# MAV_MISSION_RESULT
MAV_MISSION_ACCEPTED = 0
MAV_MISSION_ERROR = 1
MAV_MISSION_UNSUPPORTED = 3
MAV_MISSION_NO_SPACE = 4
MAV_MISSION_INVALID = 5
MAV_MISSION_INVALID_SEQUENCE = 13
MAV_MISSION_DENIED = 14
MAV_MISSION_OPERATION_CANCELLED = 15

RESEND_S = 1.0
UPLOAD_TIMEOUT_S = 8.0
MAX_ITEMS = 700

#: send(client, message_name, *encode_args)
SendFn = Callable[[Any, str, tuple], None]


@dataclass
class _Upload:
    client: Any
    sysid: int
    compid: int
    mission_type: int
    count: int
    next_seq: int = 0
    items: list[MissionItem] = field(default_factory=list)
    last_request: float = 0.0
    last_receive: float = 0.0


class MissionProtocol:
    """Mission/fence/rally transfers for one vehicle (all its GCS connections)."""

    def __init__(self, model, send: SendFn) -> None:
        self.model = model
        self.send = send
        self.uploads: dict[int, _Upload] = {}
        self.rally: list[MissionItem] = []

    # ---------------------------------------------------------------- helpers
    def _ack(self, client, sysid: int, compid: int, result: int, mission_type: int) -> None:
        self.send(client, "mission_ack", (sysid, compid, result, mission_type))

    def _request(self, up: _Upload) -> None:
        up.last_request = time.monotonic()
        self.send(up.client, "mission_request", (up.sysid, up.compid, up.next_seq, up.mission_type))

    def _stored(self, mission_type: int) -> list[MissionItem]:
        if mission_type == MISSION_TYPE_MISSION:
            return self.model.mission_items()
        if mission_type == MISSION_TYPE_FENCE:
            return self.model.fence_items
        return self.rally

    def _store(self, mission_type: int, items: list[MissionItem]) -> int:
        if mission_type == MISSION_TYPE_MISSION:
            self.model.set_mission(items)
        elif mission_type == MISSION_TYPE_FENCE:
            try:
                self.model.set_fence(items)
            except FenceError as exc:
                self.model.text(4, f"Fence: {exc}")
                return MAV_MISSION_INVALID
        else:
            self.rally = list(items)
        return MAV_MISSION_ACCEPTED

    # ---------------------------------------------------------------- upload
    def handle_count(self, client, msg) -> None:
        mt = getattr(msg, "mission_type", 0)
        sysid, compid = msg.get_srcSystem(), msg.get_srcComponent()
        up = self.uploads.get(mt)
        # like ArduPilot: another system is refused; the same sysid/compid restarts the transfer
        if up is not None and (up.sysid != sysid or up.compid != compid):
            self._ack(client, sysid, compid, MAV_MISSION_DENIED, mt)
            return
        if msg.count > MAX_ITEMS:
            self._ack(client, sysid, compid, MAV_MISSION_NO_SPACE, mt)
            return
        self.uploads.pop(mt, None)
        if msg.count == 0:
            self._ack(client, sysid, compid, self._store(mt, []), mt)
            return
        up = _Upload(client=client, sysid=sysid, compid=compid, mission_type=mt, count=msg.count,
                     last_receive=time.monotonic())
        self.uploads[mt] = up
        self._request(up)

    def handle_item(self, client, msg) -> None:
        mt = getattr(msg, "mission_type", 0)
        up = self.uploads.get(mt)
        if up is None or up.client is not client:
            return  # stray item (e.g. a late retry after the transfer finished): ignored
        if msg.seq != up.next_seq:
            self._ack(client, up.sysid, up.compid, MAV_MISSION_INVALID_SEQUENCE, mt)
            return
        up.items.append(item_from_msg(msg))
        up.next_seq += 1
        up.last_receive = time.monotonic()
        if up.next_seq >= up.count:
            del self.uploads[mt]
            self._ack(client, up.sysid, up.compid, self._store(mt, up.items), mt)
            return
        self._request(up)

    def poll(self) -> None:
        """Resend requests / cancel stalled uploads; call a few times a second."""
        now = time.monotonic()
        for mt, up in list(self.uploads.items()):
            if now - up.last_receive > UPLOAD_TIMEOUT_S:
                del self.uploads[mt]
                self._ack(up.client, up.sysid, up.compid, MAV_MISSION_OPERATION_CANCELLED, mt)
            elif now - up.last_request > RESEND_S:
                self._request(up)

    def drop_client(self, client) -> None:
        for mt, up in list(self.uploads.items()):
            if up.client is client:
                del self.uploads[mt]

    # ---------------------------------------------------------------- download / misc
    def handle_request_list(self, client, msg) -> None:
        mt = getattr(msg, "mission_type", 0)
        sysid, compid = msg.get_srcSystem(), msg.get_srcComponent()
        if mt in self.uploads:
            self._ack(client, sysid, compid, MAV_MISSION_DENIED, mt)
            return
        self.send(client, "mission_count", (sysid, compid, len(self._stored(mt)), mt))

    def handle_request(self, client, msg) -> None:
        """MISSION_REQUEST_INT -> MISSION_ITEM_INT; legacy MISSION_REQUEST -> MISSION_ITEM."""
        mt = getattr(msg, "mission_type", 0)
        sysid, compid = msg.get_srcSystem(), msg.get_srcComponent()
        if mt in self.uploads:
            # while receiving, a request is the GCS echoing ours; ArduPilot denies downloads
            self._ack(client, sysid, compid, MAV_MISSION_DENIED, mt)
            return
        items = self._stored(mt)
        if not 0 <= msg.seq < len(items):
            self._ack(client, sysid, compid, MAV_MISSION_INVALID_SEQUENCE, mt)
            return
        it = items[msg.seq]
        current = 1 if (mt == MISSION_TYPE_MISSION and msg.seq == self.model.mission_current) else 0
        if msg.get_type() == "MISSION_REQUEST_INT":
            self.send(client, "mission_item_int", (
                sysid, compid, msg.seq, it.frame, it.command, current, it.autocontinue, it.param1,
                it.param2, it.param3, it.param4, it.x, it.y, it.z, mt))
        else:
            self.send(client, "mission_item", (
                sysid, compid, msg.seq, it.frame, it.command, current, it.autocontinue, it.param1,
                it.param2, it.param3, it.param4, it.x / 1e7, it.y / 1e7, it.z, mt))

    def handle_clear_all(self, client, msg) -> None:
        mt = getattr(msg, "mission_type", 0)
        sysid, compid = msg.get_srcSystem(), msg.get_srcComponent()
        if mt in self.uploads:
            self._ack(client, sysid, compid, MAV_MISSION_ERROR, mt)
            return
        self._ack(client, sysid, compid, self._store(mt, []), mt)
