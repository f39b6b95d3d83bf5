"""Request and response models of the HTTP API. Requests are strict (extra fields refused,
bounded numbers, no NaN/inf); responses are read from the ORM rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_protocol.command import CommandAction
from ground_control.api.types import Email, Id, SafeJsonObject, Lat, Lon, Name, Phone, Reason, ShortText, UtcDatetime
from ground_control.domain.parcel_lifecycle import ParcelState

T = TypeVar("T")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    detail: Any


# ---------------------------------------------------------------- hubs
class HubCreate(_In):
    id: Id
    name: Name = ""
    lat: Lat
    lon: Lon


class HubUpdate(_In):
    name: Name | None = None
    lat: Lat | None = None
    lon: Lon | None = None


class HubOut(_Out):
    id: str
    name: str
    lat: float
    lon: float
    created_at: datetime


# ---------------------------------------------------------------- vehicles
class VehicleType(StrEnum):
    drone = "drone"
    robot = "robot"


class VehicleCreate(_In):
    id: Id
    type: VehicleType
    hub_id: Id
    payload_kg: float = Field(gt=0, le=1_000)
    battery_wh: float = Field(gt=0, le=1_000_000)
    wh_per_km: float = Field(gt=0, le=100_000)
    cruise_speed_mps: float = Field(gt=0, le=100)
    release_bays: int | None = Field(
        default=None, ge=1, le=16,
        description="drones only: parcels it can release separately in one trip (one per gripper or "
                    "release channel, as configured on its edge agent); default 1")
    enabled: bool = True

    @model_validator(mode="after")
    def _bays_for_drones(self) -> "VehicleCreate":
        if self.release_bays is not None and self.type is not VehicleType.drone:
            raise ValueError("release_bays applies to drones only")
        return self


class VehicleUpdate(_In):
    hub_id: Id | None = None
    payload_kg: float | None = Field(default=None, gt=0, le=1_000)
    battery_wh: float | None = Field(default=None, gt=0, le=1_000_000)
    wh_per_km: float | None = Field(default=None, gt=0, le=100_000)
    cruise_speed_mps: float | None = Field(default=None, gt=0, le=100)
    release_bays: int | None = Field(default=None, ge=1, le=16)
    enabled: bool | None = None


class TelemetryOut(_Out):
    vehicle_id: str
    lat: float
    lon: float
    alt_m: float | None
    heading_deg: float
    ground_speed_mps: float
    battery_pct: float
    mode: str
    armed: bool
    gps_fix: int
    agent_state: str
    mission_id: str | None
    ts: datetime
    received_at: datetime


class VehicleOut(_Out):
    id: str
    type: str
    hub_id: str
    payload_kg: float
    battery_wh: float
    wh_per_km: float
    cruise_speed_mps: float
    release_bays: int | None = None
    enabled: bool
    online: bool
    status_state: str
    status_at: datetime | None
    online_changed_at: datetime | None = None   # offline since (when not online): unreachable, not lost
    lost_at: datetime | None = None             # declared lost by an operator (then disabled)
    lost_reason: str | None = None
    created_at: datetime


class DeclareLost(_In):
    reason: Reason


class DeclareLostOut(BaseModel):
    vehicle_id: str
    missions_failed: list[str]
    parcels_replanned: list[str]   # never left the hub: back to planning
    parcels_lost: list[str]        # aboard the vehicle: state ``lost``


class VehicleDetail(VehicleOut):
    telemetry: TelemetryOut | None = None
    active_mission_id: str | None = None


class CommandCreate(_In):
    action: CommandAction
    mission_id: Id | None = None
    parcel_id: Id | None = None
    handover_code: ShortText | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _handover(self) -> "CommandCreate":
        if self.action in (CommandAction.handover_confirmed, CommandAction.handover_refused) and self.parcel_id is None:
            raise ValueError(f"{self.action.value} needs parcel_id")
        return self


class CommandOut(_Out):
    id: str
    vehicle_id: str
    action: str
    mission_id: str | None
    parcel_id: str | None
    created_at: datetime
    sent_at: datetime | None
    acked: bool | None
    ack_detail: str | None


# ---------------------------------------------------------------- parcels
class SizeClass(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


class Dims(_In):
    length_cm: float = Field(gt=0, le=500)
    width_cm: float = Field(gt=0, le=500)
    height_cm: float = Field(gt=0, le=500)

    def size_class(self) -> SizeClass:
        longest = max(self.length_cm, self.width_cm, self.height_cm)
        volume = self.length_cm * self.width_cm * self.height_cm
        if longest <= 35 and volume <= 8_000:
            return SizeClass.small
        if longest <= 60 and volume <= 45_000:
            return SizeClass.medium
        return SizeClass.large


class Recipient(_In):
    name: Name = Field(min_length=1)
    phone: Phone | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _reachable(self) -> "Recipient":
        if self.phone is None and self.email is None:
            raise ValueError("recipient needs a phone or an email")
        return self


class TimeWindow(_In):
    earliest: UtcDatetime
    latest: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> "TimeWindow":
        if not self.earliest < self.latest:
            raise ValueError("time window: earliest must be before latest")
        return self


class ParcelCreate(_In):
    id: Id
    weight_kg: float = Field(gt=0, le=1_000)
    size: SizeClass | None = None
    dims_cm: Dims | None = None
    hub_id: Id
    lat: Lat
    lon: Lon
    address: ShortText = ""
    recipient: Recipient
    time_window: TimeWindow | None = None
    priority: int = Field(default=3, ge=1, le=5)

    @model_validator(mode="after")
    def _sized(self) -> "ParcelCreate":
        if self.size is None and self.dims_cm is None:
            raise ValueError("give size (small/medium/large) or dims_cm")
        return self


class RecipientOut(BaseModel):
    name: str
    phone: str | None
    email: str | None


class TimeWindowOut(BaseModel):
    earliest: datetime
    latest: datetime


class ParcelOut(_Out):
    """The input's shape (``recipient``, ``time_window``, ``dims_cm``...; its fields can be
    posted back as a new parcel) plus the fields ground control keeps."""

    id: str
    weight_kg: float
    size: str
    dims_cm: dict[str, float] | None
    hub_id: str
    lat: float
    lon: float
    address: str
    recipient: RecipientOut
    time_window: TimeWindowOut | None
    priority: int
    state: str
    vehicle_id: str | None
    mission_id: str | None
    attempts: int
    excluded_vehicles: list[str]
    exclusions: list[dict[str, Any]] | None = None   # [{vehicle_id, reason, at, until (null: for good)}]
    waiting_reason: str | None = None                # why it is not planned yet ("code: detail")
    waiting_since: datetime | None = None
    proof: dict[str, Any] | None
    # energy (telemetry or model) and CO2e of its delivery beside a van's, once its mission ended
    footprint: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    tracking_url: str | None = Field(
        default=None, description="the recipient's public tracking page (FLEET_PUBLIC_BASE_URL/track/<token>); "
        "null for parcels created before tracking existed")
    drop_spot: dict[str, Any] | None = Field(
        default=None, description="{lat, lon, confirmed_at} of the drop spot the recipient confirmed (the mission "
        "targets it instead of lat/lon); null: the address itself")

    @model_validator(mode="before")
    @classmethod
    def _nest_row(cls, data: Any) -> Any:
        """A stored row keeps recipient and time window flat; read every other field as is."""
        if isinstance(data, dict) or not hasattr(data, "recipient_name"):
            return data
        out = {name: getattr(data, name) for name in cls.model_fields
               if name not in ("recipient", "time_window") and hasattr(data, name)}
        out["recipient"] = {"name": data.recipient_name, "phone": data.recipient_phone,
                            "email": data.recipient_email}
        out["time_window"] = ({"earliest": data.earliest, "latest": data.latest}
                              if data.earliest is not None and data.latest is not None else None)
        out["tracking_url"] = None      # derived from the server secret: the router fills it in
        drop_lat, drop_lon = getattr(data, "drop_lat", None), getattr(data, "drop_lon", None)
        out["drop_spot"] = ({"lat": drop_lat, "lon": drop_lon, "confirmed_at": getattr(data, "drop_confirmed_at", None)}
                            if drop_lat is not None and drop_lon is not None else None)
        return out


class HistoryOut(_Out):
    from_state: str | None
    to_state: str
    reason: str
    at: datetime
    event_id: str | None
    mission_id: str | None


class TransitionRequest(_In):
    to: ParcelState
    reason: Reason


class ImportError_(BaseModel):
    row: int
    id: str | None = None
    errors: list[str]


# ---------------------------------------------------------------- geofences
class GeofenceCreate(_In):
    id: Id
    name: Name = ""
    hub_id: Id | None = None
    geojson: SafeJsonObject = Field(description="RFC 7946 Feature or FeatureCollection: one Polygon with "
                                   "properties.role=inclusion (and optional ceiling_m), exclusion Polygons/MultiPolygons")


class GeofenceReplace(_In):
    """The whole geofence document but its id: how the console saves an edited or removed
    no-fly zone in one validated step (no window where the fence is missing or doubled)."""
    name: Name = ""
    hub_id: Id | None = None
    geojson: SafeJsonObject = Field(description="RFC 7946 Feature or FeatureCollection, as for POST /geofences")


class GeofenceOut(_Out):
    id: str
    name: str
    hub_id: str | None
    geojson: dict[str, Any]
    ceiling_m: float
    created_at: datetime


# ---------------------------------------------------------------- missions & events
class MissionOut(_Out):
    id: str
    vehicle_id: str
    hub_id: str
    state: str
    parcel_ids: list[str]
    send_count: int
    last_sent_at: datetime | None
    fail_reason: str | None
    distance_m: float
    unreachable_since: datetime | None = None   # its vehicle went offline meanwhile (mission stays active)
    created_at: datetime
    updated_at: datetime


class MissionDetail(MissionOut):
    payload: dict[str, Any]


class EventOut(_Out):
    id: str
    vehicle_id: str
    kind: str
    mission_id: str | None
    parcel_id: str | None
    seq: int
    ts: datetime
    received_at: datetime
    body: dict[str, Any]
    note: str | None

    @model_validator(mode="after")
    def _no_handover_code(self) -> "EventOut":
        """A robot's proof carries the handover code the recipient typed: never in a listing
        (the recipient's tracking page is the only place a code is shown)."""
        proof = self.body.get("proof") if isinstance(self.body, dict) else None
        if isinstance(proof, dict) and "handover_code" in proof:
            self.body = {**self.body, "proof": {k: v for k, v in proof.items() if k != "handover_code"}}
        return self


# ---------------------------------------------------------------- dead letters
class DeadLetterOut(_Out):
    """A message ingest set aside. ``payload_base64`` is the raw payload (bytes, possibly not
    text) cut to ``dead_letter_max_payload_bytes``; ``payload_text`` the same decoded for reading
    (undecodable bytes replaced)."""

    id: int
    topic: str
    vehicle_id: str | None
    channel: str | None
    reason: str
    count: int
    first_seen: datetime
    last_seen: datetime
    received_at: datetime
    payload_size: int
    payload_truncated: bool
    payload_base64: str
    payload_text: str


class ReplayOut(BaseModel):
    id: int
    replayed: bool
