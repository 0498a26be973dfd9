"""``GET /api/v1/answers/{answer_id}/audio``: an answer's recording, seekable (byte ranges)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response

from newspeech.answers.audio.deps import AudioStoreDep
from newspeech.answers.audio.service import CONTENT_TYPE, audio_key_for, audio_size
from newspeech.auth.deps import ScopeDep
from newspeech.db.deps import DbSession
from newspeech.kit.http_range import RangeNotSatisfiable, parse_range
from newspeech.kit.ids import Id
from newspeech.kit.responses import COMMON_ERRORS, error_responses

router = APIRouter(prefix="/answers", tags=["answers"], responses=COMMON_ERRORS)

_AUDIO: dict[str, Any] = {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}


@router.get(
    "/{answer_id}/audio",
    response_class=Response,
    responses={
        200: {"description": "the whole recording (Ogg/Opus)", **_AUDIO},
        206: {"description": "the requested byte range", **_AUDIO},
        **error_responses(416),
    },
)
async def get_answer_audio(
    answer_id: Id,
    db: DbSession,
    scope: ScopeDep,
    store: AudioStoreDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The answer's recording, for the student who gave it, examiners of its college and
    admins. Honours a single ``Range: bytes=…`` (206) so a browser can seek."""
    key = await audio_key_for(db, scope, answer_id)
    size = await audio_size(store, answer_id, key)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    try:
        span = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return JSONResponse(
            status_code=416,
            content={"error": "range_not_satisfiable", "detail": f"the recording has {size} bytes"},
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    if span is None:
        return Response(await store.get(key), media_type=CONTENT_TYPE, headers=headers)
    first, last = span
    data = await store.get(key, first, last)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Response(data, status_code=206, media_type=CONTENT_TYPE, headers=headers)
