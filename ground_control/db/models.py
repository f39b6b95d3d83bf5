"""ORM models (SQLAlchemy 2, typed). Portable between SQLite and PostgreSQL: string ids, JSON
columns, timestamps stored as UTC and always returned timezone-aware."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets the offset; store UTC, hand back aware datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ID = String(64)


class Hub(Base):
    __tablename__ = "hubs"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Vehicle(Base):
    __tablename__ = "vehicles"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    hub_id: Mapped[str] = mapped_column(ForeignKey("hubs.id"), index=True)
    payload_kg: Mapped[float] = mapped_column(Float)
    battery_wh: Mapped[float] = mapped_column(Float)
    wh_per_km: Mapped[float] = mapped_column(Float)
    cruise_speed_mps: Mapped[float] = mapped_column(Float)
    #: drones: parcels it can release separately in one trip (one per gripper / release channel)
    release_bays: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # liveness: status_state is what the agent (or its last will) said; online is our verdict
    # (status online AND telemetry not silent)
    status_state: Mapped[str] = mapped_column(String(16), default="offline")
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    online_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # an operator's explicit "lost" decision (POST /vehicles/{id}/declare-lost); offline is not lost
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lost_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class Geofence(Base):
    __tablename__ = "geofences"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    hub_id: Mapped[str | None] = mapped_column(ForeignKey("hubs.id"), nullable=True, index=True)
    geojson: Mapped[dict[str, Any]] = mapped_column(JSON)
    ceiling_m: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mission(Base):
    __tablename__ = "missions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id"), index=True)
    hub_id: Mapped[str] = mapped_column(ForeignKey("hubs.id"))
    # sent -> accepted -> started -> completed | failed
    state: Mapped[str] = mapped_column(String(16), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)   # the fleet_protocol.Mission as sent
    parcel_ids: Mapped[list[str]] = mapped_column(JSON)
    send_count: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fail_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # the vehicle went offline while this mission was active: it stays active (we cannot hear
    # the vehicle, which says nothing about where it and its parcels are); cleared when heard again
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # optimistic locking: ingest, dispatch and the API race on missions; a stale write fails
    # (StaleDataError) and is retried on fresh state instead of silently undoing another's change
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Parcel(Base):
    __tablename__ = "parcels"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    weight_kg: Mapped[float] = mapped_column(Float)
    size: Mapped[str] = mapped_column(String(16))
    dims_cm: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    hub_id: Mapped[str] = mapped_column(ForeignKey("hubs.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(500), default="")
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recipient_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    earliest: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latest: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    state: Mapped[str] = mapped_column(String(16), index=True, default="created")
    vehicle_id: Mapped[str | None] = mapped_column(ForeignKey("vehicles.id"), nullable=True, index=True)
    mission_id: Mapped[str | None] = mapped_column(ForeignKey("missions.id"), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    excluded_vehicles: Mapped[list[str]] = mapped_column(JSON, default=list)   # ids of the exclusions in force
    # [{vehicle_id, reason, at, until (None = for good), battery_pct}] (ground_control.domain.exclusions)
    exclusions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # why a created parcel is not planned yet ("code: detail", ground_control.domain.waiting) and since when
    waiting_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    proof: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # robot handover code (domain.handover_code): its salt and scrypt hash, never the code
    # itself, and the wrong codes tried so far (the handover locks at a limit)
    handover_salt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    handover_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handover_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # recipient tracking (ground_control.tracking.token): the token is derived from the server
    # secret and this nonce; only its SHA-256 is stored, for the lookup of GET /track/{token}
    tracking_nonce: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tracking_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True, index=True)
    # the drop spot the recipient confirmed on the tracking page (None: the address itself)
    drop_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    drop_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    drop_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __mapper_args__ = {"version_id_col": version}

    @property
    def drop_off(self) -> tuple[float, float]:
        """Where the parcel is to be dropped: the recipient's confirmed spot, else the address."""
        if self.drop_lat is not None and self.drop_lon is not None:
            return self.drop_lat, self.drop_lon
        return self.lat, self.lon


class ParcelHistory(Base):
    __tablename__ = "parcel_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parcel_id: Mapped[str] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(2000), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mission_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Event(Base):
    """Every vehicle event, stored once by its envelope id (duplicates are normal with QoS 1)."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # envelope uuid: the dedupe key
    vehicle_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    mission_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    parcel_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)   # the envelope allows up to 2**63-1
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # what ingest made of it


class TelemetryLatest(Base):
    """Latest sample per vehicle (upserted in batches). No FK: telemetry from a vehicle not yet
    registered is still worth showing."""

    __tablename__ = "telemetry_latest"
    vehicle_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    alt_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    heading_deg: Mapped[float] = mapped_column(Float)
    ground_speed_mps: Mapped[float] = mapped_column(Float)
    battery_pct: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(32))
    armed: Mapped[bool] = mapped_column(Boolean)
    gps_fix: Mapped[int] = mapped_column(Integer)
    agent_state: Mapped[str] = mapped_column(String(32))
    mission_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VehiclePresence(Base):
    """Last status (online/offline) heard per vehicle id, registered or not: a vehicle is often
    switched on before an operator registers it, and its retained status is only delivered
    once, so registration picks it up from here."""

    __tablename__ = "vehicle_presence"
    vehicle_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Command(Base):
    """Operator commands: an outbox (published by the dispatcher loop, so the API never waits
    for the broker) and the agent's ack."""

    __tablename__ = "commands"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    mission_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parcel_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handover_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acked: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ack_detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeadLetter(Base):
    """A message ingest could not handle, set aside (and acknowledged) so it neither blocks the
    other vehicles' messages nor is lost. One row per ``fingerprint``: the same poison message
    delivered again only counts up (events: a hash of topic+payload; invalid telemetry/status:
    one row per vehicle and channel, holding the latest sample)."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    topic: Mapped[str] = mapped_column(String(512))
    vehicle_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)          # raw bytes, at most dead_letter_max_payload_bytes
    payload_size: Mapped[int] = mapped_column(Integer)          # of the original payload
    reason: Mapped[str] = mapped_column(String(2000))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the stored payload arrived


class ServerSecret(Base):
    """A secret ground control generated on first use (e.g. ``handover`` when
    FLEET_HANDOVER_SECRET is unset): kept across restarts and shared by every replica."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))     # hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VehicleTypeCosts(Base):
    """Prices of one vehicle kind for the planner's money-and-time objective (absent: the
    defaults in ``planning.prices``)."""

    __tablename__ = "vehicle_type_costs"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)     # drone | robot
    cost_per_km: Mapped[float] = mapped_column(Float)
    cost_per_hour: Mapped[float] = mapped_column(Float)
    fixed_cost_per_trip: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


Index("ix_events_vehicle_ts", Event.vehicle_id, Event.ts)
