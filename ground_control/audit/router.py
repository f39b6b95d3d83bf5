"""``GET /audit``: the audit trail (oldest first like every list; ``order=desc`` for newest first). Role: admin only (policy)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import select

from ground_control.api.deps import Limit, Offset, Order, Session
from ground_control.api.schemas import Page
from ground_control.db.models import AuditEntry
from ground_control.db.repositories import Invalid, SortOrder, paginate

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    actor_kind: str
    role: str
    method: str
    path: str
    operation: str
    status: int
    client: str | None
    request: Any | None
    before: Any | None
    after: Any | None


@router.get("/audit", response_model=Page[AuditOut], responses={422: {"description": "invalid filter"}})
async def list_audit(
    session: Session, limit: Limit = 50, offset: Offset = 0, order: Order = SortOrder.asc,
    actor: Annotated[str | None, Query(max_length=64, description="principal name")] = None,
    path: Annotated[str | None, Query(max_length=512, description="request paths starting with this")] = None,
    since: Annotated[AwareDatetime | None, Query(description="at or after (ISO 8601 with offset)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="before (ISO 8601 with offset)")] = None,
) -> dict:
    """State-changing calls (who, what, when, status, request, resource before and after)."""
    if since and until and since > until:
        raise Invalid("since is after until")
    stmt = select(AuditEntry)
    if path:
        stmt = stmt.where(AuditEntry.path.startswith(path, autoescape=True))
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return await paginate(session, stmt, limit, offset, {AuditEntry.actor: actor},
                          order_by=(AuditEntry.at, AuditEntry.id), order=order)
