"""The node's HTTP application: control and OpenAI routes behind one bearer-token check."""
from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core.node.api_errors import ApiError, on_api_error, on_bug, on_http_error


class BearerTokenGuard:
    """Every request needs `Authorization: Bearer <token>`; anything else gets a 401 in OpenAI's format."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                reason = "Missing bearer token" if not given else "Wrong bearer token"
                response = ApiError(401, f"{reason}: send `Authorization: Bearer <token>` with the token from the "
                                         f"node's token file", code="invalid_api_key").response()
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(routes: list[Route], token: str) -> ASGIApp:
    app = Starlette(routes=routes, exception_handlers={ApiError: on_api_error, HTTPException: on_http_error,
                                                      Exception: on_bug})
    return BearerTokenGuard(app, token)
