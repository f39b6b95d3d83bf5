"""ORM models (SQLAlchemy 2, typed). Portable between SQLite and PostgreSQL: string ids, JSON
columns, timestamps stored as UTC and always returned timezone-aware."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
    Table, Text, TypeDecorator, UniqueConstraint,
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
    # Ed25519 public key (PEM) the vehicle's agent signs its events with, and its key id
    # (PUT /vehicles/{id}/public-key); with a key, unsigned or wrongly signed events are refused
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)


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
    # the vehicle's signed statement behind ``proof``: the exact signed bytes (its delivered
    # event), the signature, key id and public key (GET /parcels/{id}/proof, fleet verify-proof)
    proof_signed: Mapped[str | None] = mapped_column(Text, nullable=True)
    proof_signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    proof_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    proof_public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # robot handover code (domain.handover_code): its salt and scrypt hash, never the code
    # itself, and the wrong codes tried so far (the handover locks at a limit)
    handover_salt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    handover_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handover_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # energy and CO2e of its delivery (ground_control.footprint), once its mission has ended
    footprint: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
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


class LoginFailure(Base):
    """One failed login, counted against a client address and a user name (``key``:
    ``client:<addr>`` / ``user:<name>``) by every replica alike (ground_control.auth.login_brake)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"), Index("ix_login_failures_at", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServerSecret(Base):
    """A secret ground control generated on first use (``handover`` when FLEET_HANDOVER_SECRET
    is unset, ``jwt`` when FLEET_AUTH_SECRET is): kept across restarts and shared by every
    replica (ground_control.db.server_secrets)."""

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


class User(Base):
    """An operator who logs in with a password (argon2 hash) for short-lived access tokens.
    ``hubs`` limits the user to those hubs' parcels and vehicles (null: every hub)."""

    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    hubs: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiKey(Base):
    """An integration's credential: only the SHA-256 of the (random, high-entropy) key is kept;
    the key itself is shown once. Revoked keys stay on record for the audit trail."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))          # the key's first characters, to recognise it
    role: Mapped[str] = mapped_column(String(16))
    hubs: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """One state-changing API call: who (principal), what (operation, path, request body),
    when, the outcome (status) and the resource before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512), index=True)
    operation: Mapped[str] = mapped_column(String(256))      # "POST /vehicles/{vehicle_id}/commands"
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    before: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    after: Mapped[Any | None] = mapped_column(JSON, nullable=True)
class Alert(Base):
    """Something an operator must see (ground_control.console.alerts), kept until acknowledged.
    ``key`` makes derivation idempotent: every ground-control replica derives alerts from the
    same database rows and only the first insert of a key lands."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    vehicle_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    mission_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parcel_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
class WebhookSubscription(Base):
    """An integrator's endpoint and the parcel events it wants (ground_control.webhooks). The
    secret is kept as is because every delivery is signed with it; the API shows it only once."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    hub_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # who made it (the credential's name): an integrator sees and manages only its own; null for
    # subscriptions from before owners were kept, which only an admin manages
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    secret: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """The outbox: one row per parcel event, written in the transaction of the change itself.
    ``seq`` orders a parcel's events; ``fanned_out`` once a delivery row exists per subscriber."""

    __tablename__ = "webhook_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)   # the event id receivers de-duplicate by
    type: Mapped[str] = mapped_column(String(40))
    parcel_id: Mapped[str] = mapped_column(String(64), index=True)
    hub_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class WebhookDelivery(Base):
    """One event for one subscription: pending until delivered or dead (attempts used up)."""

    __tablename__ = "webhook_deliveries"
    # event first: the claim's per-parcel probe must use ix_webhook_deliveries_queue, not this
    __table_args__ = (UniqueConstraint("event_seq", "subscription_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_seq: Mapped[int] = mapped_column(ForeignKey("webhook_events.seq", ondelete="CASCADE"), index=True)
    parcel_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")    # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a replica that claimed it sends until then; another may take it over afterwards
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)


class EtaMark(Base):
    """What the ETA watcher last told subscribers about a parcel on a mission (no flapping)."""

    __tablename__ = "webhook_eta_marks"
    parcel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mission_id: Mapped[str] = mapped_column(String(64))
    notified_eta: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    arriving_sent: Mapped[bool] = mapped_column(Boolean, default=False)


class MissionEnergy(Base):
    """Battery readings at a mission's start and latest (ground_control.footprint): telemetry
    keeps only the newest sample per vehicle, so the footprint sampler keeps these two."""

    __tablename__ = "mission_energy"
    mission_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vehicle_id: Mapped[str] = mapped_column(String(64))
    start_pct: Mapped[float] = mapped_column(Float)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_pct: Mapped[float] = mapped_column(Float)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


Index("ix_events_vehicle_ts", Event.vehicle_id, Event.ts)
Index("ix_webhook_deliveries_queue", WebhookDelivery.subscription_id, WebhookDelivery.parcel_id, WebhookDelivery.state,
      WebhookDelivery.event_seq)
Index("ix_webhook_deliveries_due", WebhookDelivery.state, WebhookDelivery.next_attempt_at)


class LeaseRow(Base):
    """A named lease (``hub:<id>``: who dispatches that hub; ``member:<holder>``: a live replica).
    ``token`` is the fencing token: it grows on every change of holder, and dispatch writes
    check it in their own transaction (ground_control.cluster)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(160), nullable=True)
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


#: Every flushed telemetry sample, kept for ``telemetry_retention_days`` (ground_control.history).
#: A plain Core table: no primary key, as a PostgreSQL table partitioned by day (on
#: ``received_at``, the server's clock) would need the partition key in it. Read by vehicle and time.
telemetry_history = Table(
    "telemetry_history", Base.metadata,
    Column("vehicle_id", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("ts", UTCDateTime, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("alt_m", Float, nullable=True),
    Column("heading_deg", Float, nullable=False),
    Column("ground_speed_mps", Float, nullable=False),
    Column("battery_pct", Float, nullable=False),
    Column("mode", String(32), nullable=False),
    Column("agent_state", String(32), nullable=False),
    Column("mission_id", String(64), nullable=True),
    Index("ix_telemetry_history_vehicle_received", "vehicle_id", "received_at"),
)
