"""One settings object for the ground control, read from ``FLEET_*`` environment variables
(plain ``DATABASE_URL`` and ``MQTT_URL`` are honoured too, as container platforms set those)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet_protocol.broker_endpoints import BrokerEndpoint, parse_broker_urls


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

    # --- per-vehicle broker accounts (ground_control.broker_admin)
    # dynsec: a Mosquitto dynamic-security client and role per vehicle, made at registration and
    # revoked at deletion/disable; none: the broker's accounts are not ours (embedded broker,
    # anonymous development broker, or a static password file and ACL)
    broker_admin: Literal["dynsec", "none"] = "none"
    broker_admin_username: str = "fleet-admin"
    broker_admin_password: SecretStr | None = None
    # where to administer the broker: default the MQTT URL; its TLS uses mqtt_ca_file but never
    # ground control's client certificate (under use_identity_as_username that would log in as
    # ground control and take over its session), so point it at a password listener
    broker_admin_url: str | None = None
    broker_admin_timeout_s: float = Field(default=10.0, gt=0, le=120)

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

    # --- several replicas on one PostgreSQL (ground_control.cluster)
    # auto: hub leases on PostgreSQL, none on SQLite (one process owns every hub)
    dispatch_leases: Literal["auto", "on", "off"] = "auto"
    # a dead replica's hubs are taken over within lease_ttl_s + lease_renew_interval_s
    lease_ttl_s: float = Field(default=10.0, ge=1.0, le=600.0)
    lease_renew_interval_s: float = Field(default=2.0, gt=0, le=300.0)
    # this replica's name in the lease table (default: mqtt_client_id, which must differ per replica)
    replica_name: str = Field(default="", max_length=100)

    # --- robot handover codes (domain.handover_code)
    # derives each parcel's code (and tracking token) from its stored salt/nonce; unset: one is
    # generated on first use and stored in the database (server_secrets), shared by replicas and
    # kept across restarts. Set it in production, so a database dump alone reveals no code.
    handover_secret: SecretStr | None = None
    # wrong codes per parcel before its handover is locked and the robot told to move on
    handover_max_attempts: int = Field(default=5, ge=1, le=100)

    # --- signed messages (ground_control.signing, docs/security.md "Signed messages")
    # ground control's Ed25519 private key (PEM, 0600), created on first start; replicas must
    # share it (one file on a shared volume, or the same file provisioned to each).
    # Unset: "gc-signing.key" beside a SQLite database file, else ./var/gc-signing.key
    signing_key_file: str | None = None
    # where to write ground control's PUBLIC key (PEM) on start, for agents to pin (a volume
    # they mount read-only); unset: nowhere ("fleet keys show" prints it)
    signing_public_key_export: str | None = None
    # a signed mission/command is acted on until this long after it was signed (valid_until)
    signed_message_ttl_s: float = Field(default=600.0, ge=5, le=86_400)
    # events of a vehicle with a registered public key must always carry its valid signature;
    # true: vehicles with NO registered key are refused too (their events dead-lettered)
    require_signed_events: bool = False
    # --- recipient tracking (ground_control.tracking)
    # tracking links are <public_base_url>/track/<token>; the address recipients can reach
    public_base_url: str = Field(default="http://127.0.0.1:8000", min_length=1, max_length=500)
    # a recipient's drop spot must be within this distance of the parcel's address
    drop_spot_radius_m: float = Field(default=30.0, gt=0, le=1_000)
    # public tracking endpoints: requests per client address and minute (token bucket, burst = this)
    tracking_rate_per_min: int = Field(default=120, ge=1, le=100_000)
    # live tracking (GET /track/{token}/events, Server-Sent Events): open streams per client
    # address and per process (each stream reads the database about once a second), how often a
    # stream checks for a change, and how long one lasts before the browser reconnects
    tracking_streams_per_client: int = Field(default=4, ge=1, le=1_000)
    tracking_streams_max: int = Field(default=500, ge=1, le=100_000)
    tracking_push_interval_s: float = Field(default=1.0, ge=0.05, le=60)
    tracking_stream_max_s: float = Field(default=600.0, ge=1, le=86_400)

    # --- ingest / liveness
    telemetry_silence_timeout_s: float = Field(default=30.0, gt=0)
    telemetry_flush_interval_s: float = Field(default=0.2, gt=0)
    telemetry_flush_max: int = Field(default=2000, ge=1)
    # every flushed sample is kept this many days (PostgreSQL: one partition per day, dropped
    # whole; SQLite: deleted); the retention job runs at start and every maintenance interval
    telemetry_history: bool = True
    telemetry_retention_days: int = Field(default=7, ge=1, le=3650)
    telemetry_history_maintenance_s: float = Field(default=3600.0, ge=10)
    # a message ingest cannot handle: transient failures are retried in place with backoff up to
    # this cap; after ingest_transient_max_attempts, if the database answers a probe, it is the
    # message's fault after all and it is dead-lettered (while the database is down: never)
    ingest_retry_max_backoff_s: float = Field(default=5.0, gt=0, le=300)
    ingest_transient_max_attempts: int = Field(default=30, ge=1)
    dead_letter_max_payload_bytes: int = Field(default=65_536, ge=1_024, le=1_000_000)
    # invalid telemetry/status are counted per vehicle in memory and written at most this often
    dead_letter_flush_interval_s: float = Field(default=5.0, gt=0)

    # --- operator console (ground_control.console)
    # basemap tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty: a plain
    # background with the GeoJSON layers (works with no internet)
    console_tile_url: str = ""
    console_tile_attribution: str = ""
    # the one live feed per process reads the database this often and pushes the differences
    console_feed_interval_s: float = Field(default=0.5, gt=0, le=60)
    # a low_battery alert when a vehicle's battery falls below this (once per mission)
    console_low_battery_pct: float = Field(default=20.0, ge=0, le=100)
    # --- webhooks (ground_control.webhooks, docs/webhooks.md)
    webhooks_enabled: bool = True               # run the delivery worker and the ETA watcher
    # allow subscription URLs on loopback/private/link-local addresses (SSRF guard off): tests,
    # or receivers on the same private network
    webhooks_allow_private: bool = False
    webhooks_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    webhooks_batch: int = Field(default=50, ge=1, le=1000)     # deliveries claimed per round
    webhooks_timeout_s: float = Field(default=10.0, gt=0, le=120)
    webhooks_retry_base_s: float = Field(default=5.0, gt=0)
    webhooks_retry_cap_s: float = Field(default=3600.0, gt=0)
    webhooks_max_attempts: int = Field(default=15, ge=1, le=1000)       # then the delivery is dead
    webhooks_disable_after_failures: int = Field(default=20, ge=1)     # consecutive, per subscription
    webhooks_lease_s: float = Field(default=60.0, gt=0)                 # a claim outlives the HTTP timeout
    # finished deliveries (delivered or dead), their attempt log and the events no delivery needs
    # any more are deleted this many days after (0: kept forever), by a job at start and then
    # every retention interval (ground_control.webhooks.retention)
    webhooks_retention_days: int = Field(default=30, ge=0, le=3650)
    webhooks_retention_interval_s: float = Field(default=3600.0, ge=10)
    # ETA events: a change above the threshold (against the last one announced), "arriving soon"
    # once within the window; at most one eta_changed per parcel per min interval
    eta_watch_interval_s: float = Field(default=15.0, gt=0)
    eta_change_threshold_s: float = Field(default=120.0, gt=0)
    eta_arriving_soon_s: float = Field(default=300.0, gt=0)
    eta_min_interval_s: float = Field(default=60.0, ge=0)

    # --- energy and carbon per delivery (ground_control.footprint, docs/footprint.md)
    # grid carbon intensity; default: UK electricity, DESNZ GHG conversion factors 2024 (0.20705 kg/kWh)
    grid_gco2_per_kwh: float = Field(default=207.05, ge=0, le=2000)
    # the comparison van, g CO2e per km; default: DESNZ 2024 "Delivery vehicles", average diesel van
    van_gco2_per_km: float = Field(default=251.0, ge=0, le=5000)
    charge_efficiency: float = Field(default=0.9, gt=0, le=1)    # grid energy -> battery energy
    footprint_interval_s: float = Field(default=3.0, gt=0)

    # --- HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # ``fleet serve`` on SIGTERM/SIGINT: requests still open after this many seconds are cancelled
    # (the endless ones: live tracking streams, the console's feed), so the app's own shutdown
    # (hub leases handed over at once) runs before a container's kill; unset, uvicorn waits for them
    shutdown_grace_s: float = Field(default=5.0, ge=0, le=3_600)
    # request bodies above these are answered 413 before they are parsed (api.body_limit)
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    # POST /parcels/import: its file limit (10,000,000 bytes) plus room for the multipart framing
    max_import_body_bytes: int = Field(default=11_048_576, ge=1_024)

    @field_validator("mqtt_url")
    @classmethod
    def _broker_urls(cls, v: str) -> str:
        """One URL or a comma-separated list of a cluster's nodes; refused at start-up if bad."""
        parse_broker_urls(v)
        return v

    # --- authentication (ground_control.auth; docs/security.md)
    # signs access tokens; unset: one is generated and stored in the database (shared by replicas)
    auth_secret: SecretStr | None = None
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    # an admin API key named "bootstrap" with exactly this value is ensured at start (scripts,
    # benchmarks, first set-up); at least 32 characters
    bootstrap_api_key: SecretStr | None = None
    # failed logins before POST /auth/token answers 429, per user name and per client address
    login_max_failures_per_user: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_client: int = Field(default=20, ge=1, le=100_000)
    login_failure_window_s: float = Field(default=300.0, gt=0, le=86_400)
    # browser origins allowed to call the API (comma-separated); empty: no cross-origin calls
    cors_origins: str = ""

    @field_validator("bootstrap_api_key", "auth_secret")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        """Both guard the whole API: a short one can be guessed (openssl rand -hex 32)."""
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. openssl rand -hex 32)")
        return v

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

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

    @model_validator(mode="after")
    def _renew_well_within_ttl(self) -> "Settings":
        """A lease must be renewed at least twice per TTL, or one slow round loses it."""
        if self.lease_renew_interval_s * 2 > self.lease_ttl_s:
            raise ValueError(f"lease_renew_interval_s ({self.lease_renew_interval_s}) must be at most half of "
                             f"lease_ttl_s ({self.lease_ttl_s})")
        return self

    @property
    def replica(self) -> str:
        return self.replica_name or self.mqtt_client_id

    @property
    def mqtt_endpoints(self) -> list[BrokerEndpoint]:
        """Every node of the broker, in the order the link tries them (``mqtt_url`` may list the
        nodes of a clustered broker, comma-separated)."""
        return parse_broker_urls(self.mqtt_url, force_tls=self.mqtt_tls)

    @property
    def signing_key_path(self) -> str:
        if self.signing_key_file:
            return self.signing_key_file
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return str(Path(self.database_url[len(prefix):].split("?")[0]).parent / "gc-signing.key")
        return "./var/gc-signing.key"

    @property
    def mqtt_host(self) -> str:
        return self.mqtt_endpoints[0].host

    @property
    def mqtt_port(self) -> int:
        return self.mqtt_endpoints[0].port

    @property
    def mqtt_use_tls(self) -> bool:
        return self.mqtt_endpoints[0].tls
