"""Request and response bodies of the webhooks API (strict input, like the rest of the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ground_control.api.types import Id, ShortText, UtcDatetime, _clean_text
from ground_control.webhooks.event_types import EventType

Url = Annotated[str, StringConstraints(min_length=8, max_length=2000, strip_whitespace=True), AfterValidator(_clean_text)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SubscriptionCreate(_In):
    url: Url
    event_types: EventTypes
    hub_id: Id | None = Field(default=None, description="only events of parcels from this hub")
    description: ShortText = ""


class SubscriptionUpdate(_In):
    url: Url | None = None
    event_types: EventTypes | None = None
    hub_id: Id | None = None
    description: ShortText | None = None
    enabled: bool | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    url: str
    event_types: list[str]
    hub_id: str | None
    description: str
    owner: str | None = None
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="signing secret: shown in this answer only, never again")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: float


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    parcel_id: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    log: list[AttemptOut] | None = None


class ReplayRange(_In):
    since: UtcDatetime
    until: UtcDatetime


class ReplayOut(BaseModel):
    replayed: int
