"""A tiny pymavlink GCS for the wire tests, used the way an edge agent would."""

from __future__ import annotations

import os
import time

os.environ["MAVLINK20"] = "1"
from pymavlink import mavutil  # noqa: E402

mavlink = mavutil.mavlink


class Gcs:
    def __init__(self, port: int, timeout: float = 5.0, sysid: int = 255,
                 wait_heartbeat: bool = True) -> None:
        self.conn = mavutil.mavlink_connection(f"tcp:127.0.0.1:{port}", source_system=sysid,
                                               source_component=190, autoreconnect=False)
        self.mav = self.conn.mav
        self.texts: list[str] = []
        self.hb = self.wait("HEARTBEAT", timeout=timeout) if wait_heartbeat else None

    def close(self) -> None:
        self.conn.close()

    def wait(self, type_: str | list[str], timeout: float = 5.0, cond=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.conn.recv_match(blocking=True, timeout=max(0.01, deadline - time.time()))
            if m is None:
                continue
            if m.get_type() == "STATUSTEXT":
                self.texts.append(m.text)
            types = [type_] if isinstance(type_, str) else type_
            if m.get_type() in types and (cond is None or cond(m)):
                return m
        raise AssertionError(f"no {type_} within {timeout}s")

    def command(self, cmd: int, *params: float, timeout: float = 5.0) -> int:
        p = list(params) + [0.0] * (7 - len(params))
        self.mav.command_long_send(1, 1, cmd, 0, *p)
        return self.wait("COMMAND_ACK", timeout, cond=lambda m: m.command == cmd).result

    def set_mode(self, mode: int) -> int:
        return self.command(mavlink.MAV_CMD_DO_SET_MODE, 1, mode)

    def arm(self) -> int:
        return self.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1)

    def upload(self, items: list[tuple], mission_type: int = 0) -> int:
        """items: (command, frame, p1, p2, p3, p4, lat, lon, alt). Returns MISSION_ACK type."""
        self.mav.mission_count_send(1, 1, len(items), mission_type)
        while True:
            m = self.wait(["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], timeout=10)
            if m.get_type() == "MISSION_ACK":
                return m.type
            cmd, frame, p1, p2, p3, p4, lat, lon, alt = items[m.seq]
            self.mav.mission_item_int_send(1, 1, m.seq, frame, cmd, 0, 1, p1, p2, p3, p4,
                                           int(lat * 1e7), int(lon * 1e7), alt, mission_type)
