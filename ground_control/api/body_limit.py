"""A request-body size limit for every endpoint, as a small ASGI middleware: a body larger than
its limit is answered 413 with the reason before it is parsed, so one big upload can neither
fill the memory nor hold the event loop while other requests (``/health``) wait.

Enforced twice: on ``Content-Length`` (refused before a byte is read) and on the bytes actually
received (a chunked body has no length; reading stops at the limit)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the streamed body passes the limit. An HTTPException, so a
    route reading its body answers 413 through the usual handlers (FastAPI turns any other
    exception raised while reading a body into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=reason(limit))


def reason(limit: int) -> str:
    return f"request body larger than {limit} bytes"


class BodySizeLimit:
    """``limits`` maps a path prefix to its own limit (longest prefix wins); every other path
    gets ``default_bytes``."""

    def __init__(self, app: ASGIApp, default_bytes: int, limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await JSONResponse({"detail": reason(limit)}, status_code=413)(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await JSONResponse({"detail": reason(limit)}, status_code=413)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None   # the server refuses a malformed length itself
    return None
