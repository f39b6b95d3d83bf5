"""FastAPI dependencies: a DB session per request, pagination parameters."""

from __future__ import annotations

from typing import Annotated, AsyncIterator

from fastapi import Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ground_control.api.types import ID_PATTERN
from ground_control.db.repositories import SortOrder


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="rows to skip")]
Order = Annotated[SortOrder, Query(description="asc: oldest (or lowest id) first, the default; desc: newest first")]
PathId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64)]
QueryId = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64)]


def wake_dispatch(request: Request) -> None:
    """Tell the dispatcher there is new work (new parcels, vehicle changes), if it runs."""
    wake = getattr(request.app.state, "wake_dispatch", None)
    if wake is not None:
        wake()
