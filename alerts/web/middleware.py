"""ASGI guards in front of the app: NUL dropped from the URL, request bodies capped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class NoNulInUrl:
    """Drop NUL characters from the URL: no route means one, and PostgreSQL cannot compare
    text holding it (a uid with NUL is then simply not found)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            scope = dict(scope)
            scope["path"] = scope["path"].replace("\x00", "")
            scope["raw_path"] = bytes(scope.get("raw_path") or b"").replace(b"%00", b"")
            scope["query_string"] = scope.get("query_string", b"").replace(b"%00", b"")
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not they say their size."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes and not refused:
                # The app may be mid-parse and would turn an exception into a 400: answer
                # 413 here, then tell it the client left, and drop whatever it sends after.
                refused = True
                await self._refuse(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Any) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        detail = f"request body larger than {self.max_bytes} bytes ([api] max_body_bytes)"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
