"""One settings object for the ground control, read from ``FLEET_*`` environment variables
(plain ``DATABASE_URL`` and ``MQTT_URL`` are honoured too, as container platforms set those)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEET_", extra="ignore", populate_by_name=True)

    # --- persistence
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/fleet.db",
        validation_alias=AliasChoices("FLEET_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    run_migrations_on_start: bool = True

    # --- MQTT
    mqtt_enabled: bool = True
    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        validation_alias=AliasChoices("FLEET_MQTT_URL", "MQTT_URL", "mqtt_url"),
    )
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = False                  # also implied by an mqtts:// URL
    mqtt_ca_file: str | None = None
    mqtt_cert_file: str | None = None
    mqtt_key_file: str | None = None
    mqtt_client_id: str = "ground-control"  # stable: the broker keeps our session (QoS 1 events)
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    mqtt_shared_group: str = ""             # v5 only: subscribe via $share/<group>/...
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)

    # --- dispatch
    mission_ack_timeout_s: float = Field(default=10.0, gt=0)
    mission_resend_count: int = Field(default=3, ge=0, le=100)
    mission_expiry_s: float = Field(default=3600.0, gt=0)
    cruise_alt_m: float = Field(default=40.0, ge=0)
    drop_alt_m: float = Field(default=5.0, ge=0)
    geofence_margin_deg: float = Field(default=0.02, gt=0)  # box around hub+stops when no fence is configured
    dispatch_interval_s: float = Field(default=2.0, gt=0)
    # make_planner(kind): pyvrp optimises (the default), greedy is the fast baseline/fallback
    planner_kind: Literal["greedy", "pyvrp"] = "pyvrp"
    # per planning round (the dispatcher plans every tick that has new parcels): keep it short
    planner_time_limit_s: float = Field(default=1.0, ge=0.1, le=30.0)
    # no-fly zones are buffered by this much when planning paths (GeofenceSpec.safety_margin_m)
    planner_safety_margin_m: float = Field(default=10.0, ge=0, le=500)
    # what plans minimise: "time" = vehicle kinds' prices (/vehicle-types/{kind}/costs) plus
    # customers' waiting; "distance" = the original distance-only objective
    planner_objective: Literal["distance", "time"] = "time"
    planner_wait_cost_per_parcel_min: float = Field(default=0.10, ge=0, le=1e4)
    # a priority-p parcel's minute weighs 1 + factor x (p - 1)
    planner_priority_wait_factor: float = Field(default=1.0, ge=0, le=100)
    # whole-day dry-run plans: a vehicle's time from landing to leaving again (battery swap, reload)
    planner_turnaround_s: float = Field(default=300.0, ge=0, le=86_400)
    max_delivery_attempts: int = Field(default=2, ge=1, le=20)
    # a vehicle's state-dependent refusal (energy, prearm, upload, no ack) keeps the parcel off it
    # this long at most (lifted earlier when it comes back online or with a fuller battery)
    exclusion_expiry_s: float = Field(default=600.0, gt=0)
    # a proof of delivery farther than this from the parcel's drop-off is refused
    proof_tolerance_m: float = Field(default=50.0, gt=0)
    replan_on_new_parcels: bool = True
    replan_on_vehicle_lost: bool = True
    replan_on_mission_failed: bool = True

    # --- robot handover codes (domain.handover_code)
    # derives each parcel's code (and tracking token) from its stored salt/nonce; unset: one is
    # generated on first use and stored in the database (server_secrets), shared by replicas and
    # kept across restarts. Set it in production, so a database dump alone reveals no code.
    handover_secret: SecretStr | None = None
    # wrong codes per parcel before its handover is locked and the robot told to move on
    handover_max_attempts: int = Field(default=5, ge=1, le=100)

    # --- recipient tracking (ground_control.tracking)
    # tracking links are <public_base_url>/track/<token>; the address recipients can reach
    public_base_url: str = Field(default="http://127.0.0.1:8000", min_length=1, max_length=500)
    # a recipient's drop spot must be within this distance of the parcel's address
    drop_spot_radius_m: float = Field(default=30.0, gt=0, le=1_000)
    # public tracking endpoints: requests per client address and minute (token bucket, burst = this)
    tracking_rate_per_min: int = Field(default=120, ge=1, le=100_000)

    # --- ingest / liveness
    telemetry_silence_timeout_s: float = Field(default=30.0, gt=0)
    telemetry_flush_interval_s: float = Field(default=0.2, gt=0)
    telemetry_flush_max: int = Field(default=2000, ge=1)
    # a message ingest cannot handle: transient failures are retried in place with backoff up to
    # this cap; after ingest_transient_max_attempts, if the database answers a probe, it is the
    # message's fault after all and it is dead-lettered (while the database is down: never)
    ingest_retry_max_backoff_s: float = Field(default=5.0, gt=0, le=300)
    ingest_transient_max_attempts: int = Field(default=30, ge=1)
    dead_letter_max_payload_bytes: int = Field(default=65_536, ge=1_024, le=1_000_000)
    # invalid telemetry/status are counted per vehicle in memory and written at most this often
    dead_letter_flush_interval_s: float = Field(default=5.0, gt=0)

    # --- HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # request bodies above these are answered 413 before they are parsed (api.body_limit)
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    # POST /parcels/import: its file limit (10,000,000 bytes) plus room for the multipart framing
    max_import_body_bytes: int = Field(default=11_048_576, ge=1_024)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, v: str) -> str:
        """Accept the plain URLs people paste (postgres://, postgresql://, sqlite:///) and
        use the async drivers this service runs on."""
        if v.startswith("postgres://"):
            v = "postgresql://" + v[len("postgres://"):]
        if v.startswith("postgresql://"):
            v = "postgresql+asyncpg://" + v[len("postgresql://"):]
        if v.startswith("sqlite://") and not v.startswith("sqlite+aiosqlite://"):
            v = "sqlite+aiosqlite://" + v[len("sqlite://"):]
        return v

    @property
    def mqtt_host(self) -> str:
        return urlparse(self.mqtt_url).hostname or "127.0.0.1"

    @property
    def mqtt_port(self) -> int:
        p = urlparse(self.mqtt_url)
        return p.port or (8883 if p.scheme == "mqtts" else 1883)

    @property
    def mqtt_use_tls(self) -> bool:
        return self.mqtt_tls or urlparse(self.mqtt_url).scheme == "mqtts"
