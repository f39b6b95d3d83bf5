"""ASGI middleware writing one audit row per state-changing call (POST/PUT/PATCH/DELETE) of an
authenticated principal, refused ones included. The answer is held until the row is written,
so a client that got its answer can rely on the audit entry existing. Login attempts are not
state changes and are not logged here (the token endpoint rate-limits them)."""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from ground_control.audit.redact import redact
from ground_control.audit.snapshots import names_resource, snapshot
from ground_control.db.models import AuditEntry, utcnow

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_AUDITED_PATHS = frozenset({"/auth/token"})
MAX_STORED_BYTES = 16_384     # a request or response body larger than this is logged by size only


def _json_or_size(raw: bytes, total: int, content_type: str) -> Any:
    if total == 0:
        return None
    if total > MAX_STORED_BYTES or "json" not in content_type:
        return {"content_type": content_type or None, "bytes": total}
    try:
        return redact(json.loads(raw))
    except ValueError:
        return {"content_type": content_type or None, "bytes": total}


def _header(scope: Scope, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return ""


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if (scope["type"] != "http" or scope.get("method") not in AUDITED_METHODS
                or scope.get("path") in NOT_AUDITED_PATHS):
            await self.app(scope, receive, send)
            return
        request_body = bytearray()
        request_total = 0
        response_body = bytearray()
        held: list[Message] = []
        status = 500

        async def recording_receive() -> Message:
            nonlocal request_total
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                request_total += len(chunk)
                if len(request_body) <= MAX_STORED_BYTES:
                    request_body.extend(chunk[:MAX_STORED_BYTES + 1 - len(request_body)])
            return message

        async def holding_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(response_body) <= MAX_STORED_BYTES:
                response_body.extend(message.get("body", b"")[:MAX_STORED_BYTES + 1 - len(response_body)])
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await self._record(scope, status, bytes(request_body), request_total, bytes(response_body))
                for m in held:
                    await send(m)
                held.clear()

        try:
            await self.app(scope, recording_receive, holding_send)
        except Exception:
            await self._record(scope, 500, bytes(request_body), request_total, b"")
            raise

    async def _record(self, scope: Scope, status: int, request_body: bytes, request_total: int,
                      response_body: bytes) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        if principal is None:       # anonymous or bad credential: refused with 401, nothing changed
            return
        app = scope["app"]
        path_params = scope.get("path_params") or {}
        route = scope.get("route")
        try:
            if names_resource(path_params):
                async with app.state.sessionmaker() as session:
                    after = await snapshot(session, path_params)
            else:
                after = _json_or_size(response_body, len(response_body), "json") if 200 <= status < 300 else None
            client = scope.get("client")
            await app.state.audit_writer.write(AuditEntry(
                at=utcnow(), actor=principal.name, actor_kind=principal.kind, role=principal.role.value,
                method=scope["method"], path=scope["path"][:512],
                operation=f"{scope['method']} {getattr(route, 'path', scope['path'])}"[:256],
                status=status, client=(client[0] if client else None),
                request=_json_or_size(request_body, request_total, _header(scope, b"content-type")),
                before=state.get("audit_before"), after=after,
            ))
        except Exception:  # noqa: BLE001 - the call itself has happened; say loudly that its trail is missing
            log.exception("audit: could not record %s %s by %s", scope.get("method"), scope.get("path"),
                          principal.name)
