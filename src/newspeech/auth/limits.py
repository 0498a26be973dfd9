"""Rate limiting of the whole API per client address and per signed-in user (ASGI middleware).

Answers ``429`` with ``Retry-After`` and the usual error body. The user key comes from the
access token's signed subject, checked without the database.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from newspeech.config import Settings
from newspeech.kit.ratelimit import RateLimiter
from newspeech.kit.tokens import peek_subject

WINDOW_SECONDS = 60


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings: Settings = state.settings
        limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
        if limiter is None or not settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        wait = await self._check(scope, settings, limiter)
        if wait is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"error": "rate_limited", "detail": f"too many requests; retry in {wait} s"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(wait).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _check(self, scope: Scope, settings: Settings, limiter: RateLimiter) -> int | None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        waits = [
            await limiter.hit(f"addr:{address}", settings.rate_limit_per_address, WINDOW_SECONDS)
        ]
        token = _bearer(scope)
        subject = peek_subject(token, settings.token_secret()) if token else None
        if subject is not None:
            waits.append(
                await limiter.hit(f"user:{subject}", settings.rate_limit_per_user, WINDOW_SECONDS)
            )
        over = [w for w in waits if w is not None]
        return max(over) if over else None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token else None
    return None
