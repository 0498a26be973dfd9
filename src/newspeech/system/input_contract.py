"""The input contract every HTTP request meets before a route sees it.

- ``BodyLimitMiddleware``: a body larger than its kind's limit (JSON and forms, or a multipart
  upload) is refused with ``413`` and the usual error body, before anything parses it; a declared
  ``Content-Length`` over the limit is refused without reading a byte.
- ``refuse_control_characters``: a dependency of the whole API that answers ``422`` when the path,
  a query parameter, a form field or any string (key or value) of a JSON body holds NUL, another
  control character or a lone surrogate (``newspeech.kit.text``), or a JSON body nests too deeply.
  It runs before a route's own dependencies, so nothing is looked up or stored for such a request.

Ids and other numbers are bounded by the shared annotated types (``newspeech.kit.ids``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newspeech.errors import PayloadTooLarge
from newspeech.kit.text import forbidden_character, json_problems

KIB = 1024
MIB = 1024 * KIB
# A JSON body or a plain form: the largest the API takes is a question with its model answer.
JSON_LIMIT = 1 * MIB
# A multipart upload: a question bank file (at most 5 MiB) and the form around it.
UPLOAD_LIMIT = 5 * MIB + 64 * KIB
_CHUNK = 64 * KIB
STREAMED_UPLOAD = "newspeech.streamed_upload"
"""Scope key set on a streamed upload: its route reads and checks the form itself."""


class BodyLimitMiddleware:
    """``streamed`` maps a path to its own limit: such a request's body is passed through as it
    arrives (never buffered here; recording uploads of gigabytes), counted, and cut off with
    ``413`` once past the limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        json_limit: int = JSON_LIMIT,
        upload_limit: int = UPLOAD_LIMIT,
        streamed: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.streamed = dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.upload_limit if multipart else self.json_limit
        streamed = self.streamed.get(scope.get("path", "")) if multipart else None
        if streamed is not None:
            limit = streamed
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 12):
            await _refuse(send, 400, "bad_request", "Content-Length is not a byte count")
            return
        if declared is not None and int(declared) > limit:
            await _refuse(send, 413, "payload_too_large", _too_large(limit))
            return
        if streamed is not None:
            # The route parses this body itself, once it knows who is calling.
            scope = {**scope, STREAMED_UPLOAD: True}
            await self.app(scope, _counted(receive, limit), send)
            return
        body = await _read_body(receive, limit)
        if body is None:
            await _refuse(send, 413, "payload_too_large", _too_large(limit))
            return
        if not isinstance(body, bytes):  # the client went away before sending its body
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | Message | None:
    """The whole body, ``None`` once it passes ``limit``, or the disconnect message."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return message
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`PayloadTooLarge` (answered ``413`` by the app's error
    handler; the parser discards what it spooled) once the body passes ``limit``."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise PayloadTooLarge(_too_large(limit))
        return message

    return counted


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body again, in chunks the size a server delivers (a 5 MiB upload in one
    piece would be parsed in one go, holding up the event loop)."""
    offset = 0
    done = False

    async def replay() -> Message:
        nonlocal offset, done
        if done:
            return await receive()  # what comes after the body: a disconnect
        chunk = body[offset : offset + _CHUNK]
        offset += len(chunk)
        done = offset >= len(body)
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit // KIB} KiB"


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refuse_control_characters(request: Request) -> None:
    """``422`` for forbidden characters anywhere in the request's text (see the module doc)."""
    errors: list[dict[str, Any]] = []

    def check(location: tuple[str | int, ...], text: str) -> None:
        if (problem := forbidden_character(text)) is not None:
            errors.append(_error(location, problem))

    check(("path",), request.url.path)
    for name, value in request.query_params.multi_items():
        check(("query", name), name)
        check(("query", name), value)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        errors += await _json_body_errors(request)
    elif media in ("multipart/form-data", "application/x-www-form-urlencoded") and not (
        request.scope.get(STREAMED_UPLOAD)
    ):
        for name, field in (await request.form()).multi_items():
            check(("body", name), name)
            if isinstance(field, UploadFile):
                check(("body", name, "filename"), field.filename or "")
            else:
                check(("body", name), field)
    if errors:
        raise RequestValidationError(errors)


async def _json_body_errors(request: Request) -> list[dict[str, Any]]:
    body = await request.body()
    if not body:
        return []
    try:
        document = json.loads(body)
    except RecursionError:
        return [_error(("body",), "the JSON document is nested too deeply")]
    except ValueError:
        return []  # not JSON: the route's own parsing answers 422 for it
    return [_error(("body", *location), problem) for location, problem in json_problems(document)]


def _error(location: tuple[str | int, ...], message: str) -> dict[str, Any]:
    return {"loc": location, "msg": message, "type": "value_error.text"}
