"""Recording intake API: upload a recording with its metadata, list and read recordings, their
transcripts and audio.

Analysts and admins. The upload's body is not buffered by
the app's body limit (``BodyLimitMiddleware`` streams this route and counts its bytes against
``NEWSPEECH_ANALYSIS_MAX_UPLOAD_BYTES``), and it is parsed by the route itself, after the
caller's role is checked (the API-wide control-character check skips it; the route checks its
fields the same way); the multipart parser spools the file to disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile

from newspeech.analysis.jobs.deps import JobKickerDep
from newspeech.analysis.jobs.service import JobBoard
from newspeech.analysis.recordings.repository import RecordingRepository
from newspeech.analysis.recordings.schemas import (
    AudioLinkRead,
    RecordingProgress,
    RecordingRead,
    SegmentRead,
    TranscriptRead,
)
from newspeech.analysis.recordings.service import IntakeLimits, RecordingIntake, RecordingMetadata
from newspeech.auth.deps import AnalystUser, AuditorDep, ClockDep
from newspeech.db.deps import DbSession, SettingsDep
from newspeech.errors import NotFound, PermissionDenied
from newspeech.kit.http_range import RangeNotSatisfiable, parse_range
from newspeech.kit.ids import Id
from newspeech.kit.pagination import Page, PageRequest, fetch_page, order_by
from newspeech.kit.responses import COMMON_ERRORS, error_responses
from newspeech.kit.signed_links import SIGNATURE_PARAMETER, InvalidLink, LinkSigner
from newspeech.kit.text import forbidden_character
from newspeech.models import (
    BuildingType,
    City,
    Client,
    Employee,
    Place,
    Scenario,
    Transcription,
    User,
    UserRole,
    UserStatus,
    Zone,
)
from newspeech.models.prompts import KeyedName
from newspeech.storage import AudioStore

router = APIRouter(prefix="/analysis/recordings", tags=["analysis"], responses=COMMON_ERRORS)

RECORDINGS_PATH = "/api/v1/analysis/recordings"
"""The upload route, streamed past the app's body limit (see ``create_app``)."""


def get_audio_store(request: Request) -> AudioStore:
    store: AudioStore = request.app.state.audio_store
    return store


AudioStoreDep = Annotated[AudioStore, Depends(get_audio_store)]
NameField = Annotated[str, Field(min_length=1, max_length=200)]


def get_intake(
    db: DbSession,
    store: AudioStoreDep,
    settings: SettingsDep,
    auditor: AuditorDep,
) -> RecordingIntake:
    limits = IntakeLimits(settings.analysis_max_upload_bytes, settings.analysis_max_seconds)
    audit = auditor if settings.enable_audit_logs else None
    return RecordingIntake(db, store, audit, limits, settings.data_dir / "spool" / "analysis")


IntakeDep = Annotated[RecordingIntake, Depends(get_intake)]


class UploadForm(BaseModel):
    """The upload's form fields besides ``file``. Empty optional fields count as absent."""

    model_config = ConfigDict(extra="forbid")

    scenario: NameField
    report_types: list[NameField] = Field(default_factory=list, max_length=20)
    building_type: NameField | None = None
    employee: NameField | None = None
    client: NameField | None = None
    place: NameField | None = None
    zone: NameField | None = None
    city: NameField | None = None
    recorded_on: dt.date | None = None


_FORM_SCHEMA = {
    "type": "object",
    "required": ["file", "scenario"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        **UploadForm.model_json_schema()["properties"],
    },
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}},
        }
    },
)
async def upload_recording(
    request: Request,
    user: AnalystUser,
    intake: IntakeDep,
    db: DbSession,
    kicker: JobKickerDep,
    background: BackgroundTasks,
) -> RecordingRead:
    """Upload a recording (WAV, FLAC, OGG/Opus, MP3, M4A or WebM; the file is read to check, its
    name and declared type are not trusted) and queue its transcription. A multipart form:
    ``file``, ``scenario``, ``report_types`` (repeated), ``building_type``, ``employee``,
    ``client``, ``place``, ``zone``, ``city``, ``recorded_on``. Names are created on first use.
    A bad file is refused with 413 (too big) or 422 (not a usable recording, too long) and
    nothing is kept.

    The body is read only after the caller is known to be an analyst or admin: a stranger
    cannot make the server spool gigabytes."""
    form = await request.form(max_files=1, max_fields=40)
    try:
        upload, fields = _read_form(form)
        metadata = RecordingMetadata(
            scenario=fields.scenario,
            report_types=tuple(fields.report_types),
            building_type=fields.building_type,
            employee=fields.employee,
            client=fields.client,
            place=fields.place,
            zone=fields.zone,
            city=fields.city,
            recorded_on=fields.recorded_on,
        )
        transcription = await intake.upload(
            upload.file, upload.filename, metadata, actor_id=user.id
        )
    finally:
        await form.close()
    job = await JobBoard(db).create(transcription.id, requested_by=user.id)
    background.add_task(kicker.kick, job.id)
    return await describe(db, transcription)


def _read_form(form: FormData) -> tuple[UploadFile, UploadForm]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "file"),
                    "msg": "send the recording as the form field file",
                    "type": "missing",
                }
            ]
        )
    texts: dict[str, list[str]] = {}
    problems = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            text = value.filename or ""
        else:
            text = value
            if text.strip():
                texts.setdefault(name, []).append(text)
        if (problem := forbidden_character(name + text)) is not None:
            problems.append({"loc": ("body", name), "msg": problem, "type": "value_error.text"})
    if problems:
        raise RequestValidationError(problems)
    values: dict[str, object] = {
        name: found if name == "report_types" else found[0] for name, found in texts.items()
    }
    try:
        return upload, UploadForm.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


@router.get("")
async def list_recordings(
    _user: AnalystUser,
    db: DbSession,
    page: Annotated[PageRequest, Query()],
) -> Page[RecordingRead]:
    """Recordings, newest first by default; sortable by created_at, recorded_on, id."""
    allowed = {
        "created_at": Transcription.created_at,
        "recorded_on": Transcription.recorded_on,
        "id": Transcription.id,
    }
    query = select(Transcription).order_by(*order_by(page.sort, allowed, ["-created_at", "-id"]))
    rows, total = await fetch_page(db, query, page)
    items = [await describe(db, row) for row in rows]
    return Page(items=items, total=total, page=page.page, size=page.size)


@router.get("/{recording_id}")
async def get_recording(recording_id: Id, _user: AnalystUser, db: DbSession) -> RecordingRead:
    transcription = await db.get(Transcription, recording_id)
    if transcription is None:
        raise NotFound(f"no recording {recording_id}")
    return await describe(db, transcription)


async def describe(db: DbSession, row: Transcription) -> RecordingRead:
    scenario = await db.get(Scenario, row.scenario_id)
    assert scenario is not None  # a foreign key with ON DELETE RESTRICT
    board = JobBoard(db)
    job = await board.latest(row.id)
    progress = None
    if job is not None:
        done, total = await board.counts(job.id)
        progress = RecordingProgress(
            job_id=job.id, status=job.status, stages_done=done, stages_total=total
        )
    return RecordingRead(
        id=row.id,
        original_filename=row.original_filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        duration_seconds=row.duration_seconds,
        status=row.status,
        scenario=scenario.key,
        report_types=await _report_types(db, row.id),
        building_type=await _name(db, BuildingType, row.building_type_id),
        employee=await _name(db, Employee, row.employee_id),
        client=await _name(db, Client, row.client_id),
        place=await _name(db, Place, row.place_id),
        zone=await _name(db, Zone, row.zone_id),
        city=await _name(db, City, row.city_id),
        recorded_on=row.recorded_on,
        uploaded_by=row.uploaded_by,
        created_at=row.created_at,
        job=progress,
    )


async def _name(db: DbSession, model: type[KeyedName], entry_id: int | None) -> str | None:
    if entry_id is None:
        return None
    entry = await db.get(model, entry_id)
    return None if entry is None else entry.name


async def _report_types(db: DbSession, transcription_id: int) -> list[str]:
    return await RecordingRepository(db).report_type_keys(transcription_id)


async def _recording(db: DbSession, recording_id: int) -> Transcription:
    transcription = await db.get(Transcription, recording_id)
    if transcription is None:
        raise NotFound(f"no recording {recording_id}")
    return transcription


@router.get("/{recording_id}/transcript")
async def get_transcript(recording_id: Id, _user: AnalystUser, db: DbSession) -> TranscriptRead:
    """The timed transcript: segments and their words with start and end seconds (what a
    player needs to follow along and to jump to a word)."""
    row = await _recording(db, recording_id)
    return TranscriptRead(
        recording_id=row.id,
        status=row.status,
        language=row.language,
        duration_seconds=row.duration_seconds,
        text=row.text,
        segments=[SegmentRead.model_validate(segment) for segment in row.segments or []],
    )


_AUDIO: dict[str, Any] = {"content": {"audio/*": {"schema": {"type": "string"}}}}
_CHUNK = 1024 * 1024


@router.get(
    "/{recording_id}/audio",
    response_class=Response,
    responses={
        200: {"description": "the whole recording, as uploaded", **_AUDIO},
        206: {"description": "the requested byte range", **_AUDIO},
        **error_responses(416),
    },
)
async def get_audio(
    recording_id: Id,
    _user: AnalystUser,
    db: DbSession,
    store: AudioStoreDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The recording as uploaded. Honours a single ``Range: bytes=…`` (206) so a player can
    seek; the whole file is streamed a megabyte at a time."""
    row = await _recording(db, recording_id)
    return await _audio_response(row, store, range_header)


AUDIO_LINK_PURPOSE = "recording-audio"


def audio_signer(settings: SettingsDep) -> LinkSigner:
    return LinkSigner(settings.token_secret(), AUDIO_LINK_PURPOSE)


SignerDep = Annotated[LinkSigner, Depends(audio_signer)]
Timestamp = Annotated[int, Query(ge=0, le=2**40)]
Signature = Annotated[str, Query(min_length=1, max_length=100)]


@router.get("/{recording_id}/audio-link")
async def get_audio_link(
    recording_id: Id,
    user: AnalystUser,
    db: DbSession,
    settings: SettingsDep,
    clock: ClockDep,
    signer: SignerDep,
) -> AudioLinkRead:
    """A short-lived URL of the recording's audio that needs no ``Authorization`` header, for
    an ``<audio src>`` to stream and seek (Range requests) without downloading the file
    first. It is bound to this recording and this user, and expires after
    ``NEWSPEECH_ANALYSIS_AUDIO_LINK_SECONDS``; ask again for a fresh one."""
    row = await _recording(db, recording_id)
    expires_at = clock() + dt.timedelta(seconds=settings.analysis_audio_link_seconds)
    expires = int(expires_at.timestamp())
    signature = signer.sign(row.id, user.id, expires)
    url = (
        f"{RECORDINGS_PATH}/{row.id}/audio/signed"
        f"?user={user.id}&expires={expires}&{SIGNATURE_PARAMETER}={signature}"
    )
    return AudioLinkRead(
        recording_id=row.id, url=url, expires_at=dt.datetime.fromtimestamp(expires, dt.UTC)
    )


@router.get(
    "/{recording_id}/audio/signed",
    response_class=Response,
    responses={
        200: {"description": "the whole recording, as uploaded", **_AUDIO},
        206: {"description": "the requested byte range", **_AUDIO},
        **error_responses(403, 416),
    },
)
async def get_signed_audio(
    recording_id: Id,
    db: DbSession,
    store: AudioStoreDep,
    clock: ClockDep,
    signer: SignerDep,
    user: Annotated[Id, Query()],
    expires: Timestamp,
    signature: Signature,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The recording's audio through a link from ``…/audio-link`` (no bearer token): as
    ``…/audio``, Range requests included. 403 when the signature does not match this
    recording, user and expiry, when the link has expired, or when its user is no longer an
    active analyst or admin."""
    try:
        signer.check(recording_id, user, expires, signature, int(clock().timestamp()))
    except InvalidLink as exc:
        raise PermissionDenied(f"{exc}: ask for a new link") from exc
    holder = await db.get(User, user)
    if holder is None or holder.status is not UserStatus.ACTIVE or holder.role not in _AUDIO_ROLES:
        raise PermissionDenied("the link's user may no longer hear recordings")
    row = await _recording(db, recording_id)
    return await _audio_response(row, store, range_header)


_AUDIO_ROLES = (UserRole.ANALYST, UserRole.ADMIN)


async def _audio_response(
    row: Transcription, store: AudioStore, range_header: str | None
) -> Response:
    size = await store.size(row.recording_key)
    if size is None:
        raise NotFound(f"the audio of recording {row.id} is missing from the store")
    media_type = row.content_type or "application/octet-stream"
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
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            _stream(store, row.recording_key, 0, size - 1), media_type=media_type, headers=headers
        )
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(
        _stream(store, row.recording_key, first, last),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )


async def _stream(store: AudioStore, key: str, first: int, last: int) -> AsyncIterator[bytes]:
    position = first
    while position <= last:
        end = min(position + _CHUNK - 1, last)
        yield await store.get(key, position, end)
        position = end + 1
