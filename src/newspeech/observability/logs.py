"""Structured logs: every record carries the request id and the exam sitting it belongs to.

- :class:`RequestIdMiddleware` gives each HTTP request and WebSocket connection an id (the
  client's ``X-Request-ID`` when it is a sane token, else a new one), answers it in the
  ``X-Request-ID`` header, and keeps it in a context variable for the records logged meanwhile.
- :func:`bind_sitting` does the same for the sitting's code once an exam connection knows it.
- :class:`JsonFormatter` writes one JSON object a line (``NEWSPEECH_LOG_FORMAT=json``).
- :class:`RedactSignatures` writes a signed link's signature (``kit/signed_links.py``) as
  ``[redacted]`` in every record it sees: on our handlers, and on uvicorn's access logger
  (:func:`redact_access_log`), whose lines name each request's path with its query.

Context variables follow the asyncio task that set them into every task it starts, so a
sitting's background work (stored answers, recordings) logs under the sitting too.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import uuid
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newspeech.kit.signed_links import SIGNATURE_PARAMETER

REQUEST_ID_HEADER = "x-request-id"
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "newspeech_request_id", default=None
)
_sitting: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "newspeech_sitting", default=None
)
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The parameter (as a whole word, or after a percent-encoded ``&`` or ``?``) and its value up to
# the next parameter, fragment, quote or space, written as is or percent-encoded.
_SIGNATURE = re.compile(
    rf"(?:(?<![\w-])|(?<=%26)|(?<=%3f))({SIGNATURE_PARAMETER}(?:=|%3d))(?:(?!%26)[^&;#\s\"'])*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"


def current_request_id() -> str | None:
    return _request_id.get()


def bind_sitting(session_code: str) -> None:
    """Records logged from here on in this task (and the tasks it starts) name the sitting."""
    _sitting.set(session_code)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``sitting`` to every record (``None`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.sitting = _sitting.get()
        return True


def redact_signatures(text: str) -> str:
    """``text`` with the value of every ``signature=`` query parameter replaced."""
    if SIGNATURE_PARAMETER not in text.lower():
        return text
    return _SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value: object) -> object:
    return redact_signatures(value) if isinstance(value, str) else value


class RedactSignatures(logging.Filter):
    """Rewrites a record's message and its arguments, each in place (uvicorn's access
    formatter unpacks the arguments, so they keep their number and order)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(arg) for key, arg in record.args.items()}
        return True


def redact_access_log() -> None:
    """Filter uvicorn's access lines (idempotent). A filter on the logger itself, since with
    uvicorn's own logging set-up those lines go to its handler and never reach ours; uvicorn's
    ``dictConfig`` replaces the logger's handlers but keeps its filters."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(found, RedactSignatures) for found in logger.filters):
        logger.addFilter(RedactSignatures())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "sitting"):
            if (value := getattr(record, key, None)) is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_handler(fmt: str, stream: IO[str] | None = None) -> logging.Handler:
    """A console (stderr) handler in ``fmt`` (``json`` or ``text``) that knows the ids."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactSignatures())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    return handler


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER.encode(), b"")
        text = given.decode("latin-1")
        request_id = text if _SANE_ID.fullmatch(text) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        sitting = _sitting.set(None)

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
        # Not reset when the app raised: the catch-all handler, which runs outside every
        # middleware in the same task, logs the error under this request's id.
        _sitting.reset(sitting)
        _request_id.reset(token)
