"""HTTP requests by route template and status, and open WebSocket connections.

A plain ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer streamed bodies such as
answer audio). The route template is read from the scope after the router matched it, so
``/api/v1/users/42`` counts as ``/api/v1/users/{user_id}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newspeech.observability.metrics import Metrics

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a request no route took (a 404 scan must not add a series per path)."""


def route_template(scope: Scope) -> str:
    """The matched route's path template with every router prefix. FastAPI leaves the route as
    its router declared it (``/users/{user_id}``) in ``scope["route"]`` and the included,
    prefixed one in its own scope entry; a mount (static files) has only the former."""
    included = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(included, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def _server_error(exc: BaseException) -> int:
    return 500


class MetricsMiddleware:
    """``error_status`` tells the status the app's catch-all handler (which runs outside every
    middleware) answers for an exception that escaped the routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        error_status: Callable[[BaseException], int] = _server_error,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.error_status = error_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.metrics.websockets.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.websockets.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception as exc:
            status = status or self.error_status(exc)
            raise
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = route_template(scope)
            # 499 (nginx's word): the client went away before any response was started.
            self.metrics.http_requests.labels(method, route, str(status or 499)).inc()
            self.metrics.http_duration.labels(method, route).observe(time.perf_counter() - started)
