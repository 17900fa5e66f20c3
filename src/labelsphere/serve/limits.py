"""Request-size limits for the HTTP API: an ASGI middleware, and the JSON error it answers with."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_BODY_BYTES", "BodyLimitMiddleware", "error_response"]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BATCH = 1024


class BodyLimitMiddleware:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a 413.

    A declared Content-Length over the limit is refused before anything is read; a body that
    streams in without one (chunked) or past it is cut off as soon as the running total goes
    over, by raising a 413 ``HTTPException`` from ``receive`` inside the endpoint reading it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"The request body is over this server's limit of {self.max_bytes} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await error_response(400, "The Content-Length header is not a byte count.")(
                        scope, receive, send
                    )
                    return
                if declared > self.max_bytes:
                    await error_response(413, self._too_large())(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited_receive, send)


def error_response(status: int, detail: str) -> JSONResponse:
    """``{"detail": detail}`` with the given status: the shape of every error this API answers."""
    return JSONResponse({"detail": detail}, status_code=status)
