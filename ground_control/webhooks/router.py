"""Webhook subscriptions API, for the ``integrator`` and ``admin`` roles (auth.policy). A
subscription belongs to the credential that made it: an integrator sees, changes and replays only
its own (another's is a plain 404, so ids reveal nothing); an admin manages all of them.

The subscription's secret is in the creation (and rotate-secret) answer only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select

from ground_control.api.deps import Limit, Offset, Order, QueryId, Session
from ground_control.api.schemas import Page
from ground_control.db.models import Hub, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from ground_control.db.repositories import Invalid, NotFound, SortOrder, paginate
from ground_control.webhooks import subscriptions, url_policy
from ground_control.webhooks.queue import DEAD, DELIVERED, PENDING
from ground_control.webhooks.schemas import (
    AttemptOut, DeliveryOut, ReplayOut, ReplayRange, SubscriptionCreate, SubscriptionCreated, SubscriptionOut,
    SubscriptionUpdate,
)
from ground_control.webhooks.signer import new_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
ERR = {404: {"description": "unknown subscription or delivery"}, 422: {"description": "invalid input or URL refused"}}
SubId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{32}$")]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def _check_url(request: Request, url: str) -> None:
    try:
        await url_policy.check(url, request.app.state.settings.webhooks_allow_private)
    except url_policy.UrlRefused as exc:
        raise Invalid(f"url refused: {exc}") from None


def _caller(request: Request) -> tuple[str | None, bool]:
    """The caller's name and whether it may manage every subscription (an admin)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return None, True          # no auth layer in front (direct use in tests)
    return principal.name, principal.role.value == "admin"


async def _owned(session: Session, subscription_id: str, request: Request) -> WebhookSubscription:
    sub = await session.get(WebhookSubscription, subscription_id)
    name, admin = _caller(request)
    if sub is None or not (admin or sub.owner == name):
        raise NotFound(f"webhook {subscription_id!r} not found")
    return sub


async def _check_hub(session: Session, hub_id: str | None) -> None:
    if hub_id is not None and await session.get(Hub, hub_id) is None:
        raise Invalid(f"hub {hub_id!r} does not exist")


@router.post("", status_code=201, response_model=SubscriptionCreated, responses=ERR)
async def create_subscription(body: SubscriptionCreate, session: Session, request: Request) -> WebhookSubscription:
    """Subscribe ``url`` to ``event_types``. The answer's ``secret`` signs every delivery and is
    never shown again (rotate it if lost)."""
    await _check_url(request, body.url)
    await _check_hub(session, body.hub_id)
    sub = subscriptions.create(session, body.url, [e.value for e in body.event_types], body.hub_id, body.description,
                               owner=_caller(request)[0])
    await session.commit()
    return sub


@router.get("", response_model=Page[SubscriptionOut])
async def list_subscriptions(session: Session, request: Request, limit: Limit = 50, offset: Offset = 0,
                             order: Order = SortOrder.asc) -> dict:
    """The caller's subscriptions (an admin: every one)."""
    name, admin = _caller(request)
    stmt = select(WebhookSubscription) if admin else select(WebhookSubscription).where(WebhookSubscription.owner == name)
    return await paginate(session, stmt, limit, offset,
                          order_by=(WebhookSubscription.created_at, WebhookSubscription.id), order=order)


@router.get("/{subscription_id}", response_model=SubscriptionOut, responses=ERR)
async def get_subscription(subscription_id: SubId, session: Session, request: Request) -> WebhookSubscription:
    return await _owned(session, subscription_id, request)


@router.patch("/{subscription_id}", response_model=SubscriptionOut, responses=ERR)
async def update_subscription(subscription_id: SubId, body: SubscriptionUpdate, session: Session,
                              request: Request) -> WebhookSubscription:
    """Change URL, types, hub filter or description; ``enabled: true`` is the same as ``/enable``."""
    sub = await _owned(session, subscription_id, request)
    fields = body.model_dump(exclude_unset=True)
    if fields.get("url") is not None:
        await _check_url(request, fields["url"])
        sub.url = fields["url"]
    if "hub_id" in fields:
        await _check_hub(session, fields["hub_id"])
        sub.hub_id = fields["hub_id"]
    if fields.get("event_types") is not None:
        sub.event_types = sorted({e.value for e in body.event_types or []})
    if fields.get("description") is not None:
        sub.description = fields["description"]
    if fields.get("enabled") is True and not sub.enabled:
        await subscriptions.enable(session, sub)
    elif fields.get("enabled") is False:
        sub.enabled, sub.disabled_reason = False, "disabled by a user"
    await session.commit()
    return sub


@router.delete("/{subscription_id}", status_code=204, responses=ERR)
async def delete_subscription(subscription_id: SubId, session: Session, request: Request) -> Response:
    """Deletes it with its deliveries and their log."""
    sub = await _owned(session, subscription_id, request)
    await session.delete(sub)
    await session.commit()
    return Response(status_code=204)


@router.post("/{subscription_id}/enable", response_model=SubscriptionOut, responses=ERR)
async def enable_subscription(subscription_id: SubId, session: Session, request: Request) -> WebhookSubscription:
    """Re-enable after an auto-disable: the failure count resets and the deliveries that waited
    go out now, oldest first per parcel."""
    sub = await _owned(session, subscription_id, request)
    await subscriptions.enable(session, sub)
    await session.commit()
    return sub


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionCreated, responses=ERR)
async def rotate_secret(subscription_id: SubId, session: Session, request: Request) -> WebhookSubscription:
    """A new secret (shown in this answer only); deliveries from now on are signed with it."""
    sub = await _owned(session, subscription_id, request)
    sub.secret = new_secret()
    await session.commit()
    return sub


@router.get("/{subscription_id}/deliveries", response_model=Page[DeliveryOut], responses=ERR)
async def list_deliveries(subscription_id: SubId, session: Session, request: Request, limit: Limit = 50, offset: Offset = 0,
                          state: Annotated[str | None, Query(pattern=f"^({PENDING}|{DELIVERED}|{DEAD})$")] = None,
                          parcel_id: QueryId = None,
                          order: Order = SortOrder.asc) -> dict:
    await _owned(session, subscription_id, request)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    page = await paginate(session, stmt, limit, offset, {WebhookDelivery.state: state,
                                                         WebhookDelivery.parcel_id: parcel_id},
                          order_by=(WebhookDelivery.event_seq, WebhookDelivery.id), order=order)
    items = []
    for d in page["items"]:
        items.append(subscriptions.delivery_out(d, await session.get(WebhookEvent, d.event_seq)))
    return {**page, "items": items}


async def _delivery(session: Session, subscription_id: str, delivery_id: int, request: Request) -> WebhookDelivery:
    await _owned(session, subscription_id, request)
    d = await session.get(WebhookDelivery, delivery_id)
    if d is None or d.subscription_id != subscription_id:
        raise NotFound(f"delivery {delivery_id} of webhook {subscription_id!r} not found")
    return d


@router.get("/{subscription_id}/deliveries/{delivery_id}", response_model=DeliveryOut, responses=ERR)
async def get_delivery(subscription_id: SubId, delivery_id: DeliveryId, session: Session, request: Request) -> dict:
    """One delivery with its log: every attempt's time, HTTP status or error, and latency."""
    d = await _delivery(session, subscription_id, delivery_id, request)
    log = (await session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == d.id)
                                 .order_by(WebhookAttempt.id))).all()
    return subscriptions.delivery_out(d, await session.get(WebhookEvent, d.event_seq),
                                      [AttemptOut.model_validate(a) for a in log])


@router.post("/{subscription_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut, responses=ERR)
async def replay_delivery(subscription_id: SubId, delivery_id: DeliveryId, session: Session, request: Request) -> dict:
    """Send this delivery again (same event id, so a receiver that has it can ignore it)."""
    d = await _delivery(session, subscription_id, delivery_id, request)
    subscriptions.replay_one(d)
    await session.commit()
    _wake(request)
    return subscriptions.delivery_out(d, await session.get(WebhookEvent, d.event_seq))


@router.post("/{subscription_id}/replay", response_model=ReplayOut, responses=ERR)
async def replay_range(subscription_id: SubId, body: ReplayRange, session: Session, request: Request) -> dict:
    """Send again every event of ``[since, until)`` this subscription takes, including events
    from before it existed (at most 10,000 per call, oldest first)."""
    if body.until <= body.since:
        raise Invalid("until must be after since")
    sub = await _owned(session, subscription_id, request)
    n = await subscriptions.replay_range(session, sub, body.since, body.until)
    await session.commit()
    _wake(request)
    return {"replayed": n}


def _wake(request: Request) -> None:
    runtime = getattr(request.app.state, "runtime", None)
    worker = getattr(runtime, "webhooks", None)
    if worker is not None:
        worker.wake()
