"""Recording intake (issue 17): uploads in every accepted format, checked by reading the file,
stored with their metadata; bad files refused with nothing stored. On all three databases."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.service import PromptSync
from newspeech.models import (
    AnalysisJob,
    AnalysisJobStage,
    AuditLog,
    Place,
    Report,
    Transcription,
    UserRole,
)
from newspeech.storage import AudioStore
from newspeech.system.input_contract import UPLOAD_LIMIT
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.fixtures.recordings import ENCODINGS, encode, shared_pcm

METADATA = {
    "scenario": "design",
    "report_types": ["site-audit"],
    "building_type": "HOTEL",  # the registry's "Hotel", created by the prompt sync
    "employee": "Ana Pérez",
    "client": "Grand Hotel Group",
    "place": "Grand Hotel",
    "zone": "Lobby",
    "city": "Lisbon",
    "recorded_on": "2026-11-30",
}


@pytest.fixture(scope="module")
def jfk_files(shared_dir: Path) -> dict[str, bytes]:
    pcm = shared_pcm(shared_dir)
    return {fmt: encode(pcm, fmt) for fmt in ENCODINGS}


@pytest.fixture
async def uploader(api: Api) -> AsyncIterator[dict[str, str]]:
    """An analyst's headers, with the shipped prompt registry and no recording stored yet."""
    shutil.rmtree(api.settings.audio_folder / "analysis", ignore_errors=True)
    async with api.sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="test")
        analyst = await make_user(db, role=UserRole.ANALYST)
        await db.commit()
    yield await api.headers_for(analyst.id)
    api.app.state.settings = api.settings


def _stored_objects(api: Api) -> list[Path]:
    folder = api.settings.audio_folder / "analysis"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _spooled(api: Api) -> list[Path]:
    folder = api.settings.data_dir / "spool" / "analysis"
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def _count(api: Api, model: type[object]) -> int:
    async with api.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("fmt", sorted(ENCODINGS))
async def test_accepts_each_format_read_from_the_file_not_its_name(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes], fmt: str
) -> None:
    before = _stored_objects(api)
    data = jfk_files[fmt]

    response = await api.client().post(
        "/analysis/recordings",
        headers=uploader,
        data=METADATA,
        # A misleading name and type: the format comes from reading the file.
        files={"file": ("site visit.bin", data, "application/octet-stream")},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (
        body["content_type"]
        == {
            "wav": "audio/wav",
            "flac": "audio/flac",
            "ogg": "audio/ogg",
            "mp3": "audio/mpeg",
            "m4a": "audio/mp4",
            "webm": "audio/webm",
        }[fmt]
    )
    assert body["duration_seconds"] == pytest.approx(11.0, abs=0.1)
    assert body["size_bytes"] == len(data)
    assert (body["scenario"], body["report_types"], body["building_type"]) == (
        "design",
        ["site-audit"],
        "Hotel",
    )
    assert (body["place"], body["zone"], body["city"], body["employee"]) == (
        "Grand Hotel",
        "Lobby",
        "Lisbon",
        "Ana Pérez",
    )
    assert body["recorded_on"] == "2026-11-30"
    assert body["status"] == "uploaded"
    assert body["job"]["stages_total"] == 2
    store: AudioStore = api.app.state.audio_store
    async with api.sessionmaker() as db:
        row = await db.get(Transcription, body["id"])
        assert row is not None
        assert await store.get(row.recording_key) == data
        assert row.recording_key.endswith(f".{fmt}")
        audit = await db.scalar(
            select(AuditLog).where(AuditLog.action == "analysis.recording.upload")
        )
        assert audit is not None
        assert audit.resource_id == row.id
        reports = list(await db.scalars(select(Report).where(Report.transcription_id == row.id)))
        assert [r.place_id for r in reports] == [row.place_id]
    assert len(_stored_objects(api)) == len(before) + 1
    assert _spooled(api) == []


async def test_dictionary_values_are_shared_between_uploads(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes]
) -> None:
    client = api.client()
    for place in ("Grand Hotel", "GRAND  hotel"):
        response = await client.post(
            "/analysis/recordings",
            headers=uploader,
            data={**METADATA, "place": place},
            files={"file": ("a.flac", jfk_files["flac"], "audio/flac")},
        )
        assert response.status_code == 201, response.text

    listed = await client.get("/analysis/recordings", headers=uploader)

    assert await _count(api, Place) == 1
    assert listed.json()["total"] == 2
    assert {item["place"] for item in listed.json()["items"]} == {"Grand Hotel"}
    one = await client.get(
        f"/analysis/recordings/{listed.json()['items'][0]['id']}", headers=uploader
    )
    assert one.status_code == 200
    assert one.json()["place"] == "Grand Hotel"


def _bad_files(jfk_files: dict[str, bytes]) -> dict[str, bytes]:
    text = b"Minutes of the site visit\n" * 400
    return {
        "truncated wav": jfk_files["wav"][: len(jfk_files["wav"]) * 2 // 3],
        "truncated mp3": jfk_files["mp3"][: len(jfk_files["mp3"]) // 2],
        "truncated ogg": jfk_files["ogg"][: len(jfk_files["ogg"]) // 2],
        "text renamed .mp3": text,
        "empty": b"",
        "header only": jfk_files["wav"][:44],
    }


@pytest.mark.parametrize(
    "case",
    [
        "truncated wav",
        "truncated mp3",
        "truncated ogg",
        "text renamed .mp3",
        "empty",
        "header only",
    ],
)
async def test_refuses_a_bad_file_and_stores_nothing(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes], case: str
) -> None:
    response = await api.client().post(
        "/analysis/recordings",
        headers=uploader,
        data=METADATA,
        files={"file": ("visit.mp3", _bad_files(jfk_files)[case], "audio/mpeg")},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "audio_rejected"
    await _assert_nothing_stored(api)


async def test_refuses_a_recording_over_the_duration_limit(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes]
) -> None:
    api.app.state.settings = api.settings.model_copy(update={"analysis_max_seconds": 10.0})

    response = await api.client().post(
        "/analysis/recordings",
        headers=uploader,
        data=METADATA,
        files={"file": ("visit.webm", jfk_files["webm"], "audio/webm")},
    )

    assert response.status_code == 422
    assert "the limit is 10 s" in response.json()["detail"]
    await _assert_nothing_stored(api)


async def test_refuses_a_file_over_the_size_limit_while_spooling_it(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes]
) -> None:
    limit = len(jfk_files["wav"]) - 1
    api.app.state.settings = api.settings.model_copy(update={"analysis_max_upload_bytes": limit})

    response = await api.client().post(
        "/analysis/recordings",
        headers=uploader,
        data=METADATA,
        files={"file": ("visit.wav", jfk_files["wav"], "audio/wav")},
    )

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    await _assert_nothing_stored(api)


async def test_refuses_an_unknown_scenario_or_report_type_and_stores_nothing(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes]
) -> None:
    client = api.client()
    for wrong in ({"scenario": "podcast"}, {"report_types": ["client-brief"]}):
        response = await client.post(
            "/analysis/recordings",
            headers=uploader,
            data={**METADATA, **wrong},
            files={"file": ("visit.flac", jfk_files["flac"], "audio/flac")},
        )
        assert response.status_code == 404, response.text
    await _assert_nothing_stored(api)
    assert await _count(api, Place) == 0


async def test_students_cannot_upload(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes]
) -> None:
    async with api.sessionmaker() as db:
        student = await make_user(db, college_type=None)
        await db.commit()

    response = await api.client().post(
        "/analysis/recordings",
        headers=await api.headers_for(student.id),
        data=METADATA,
        files={"file": ("visit.flac", jfk_files["flac"], "audio/flac")},
    )

    assert response.status_code == 403
    await _assert_nothing_stored(api)


async def _assert_nothing_stored(api: Api) -> None:
    assert _stored_objects(api) == []
    assert _spooled(api) == []
    assert await _count(api, Transcription) == 0
    assert await _count(api, Report) == 0
    assert await _count(api, AnalysisJob) == 0
    assert await _count(api, AnalysisJobStage) == 0


async def test_a_recording_larger_than_the_apps_upload_limit_streams_through(
    api: Api, uploader: dict[str, str], shared_dir: Path
) -> None:
    """Every other multipart route is capped at 5 MiB and buffered; this one is streamed and
    capped by NEWSPEECH_ANALYSIS_MAX_UPLOAD_BYTES."""
    pcm = shared_pcm(shared_dir)
    data = encode(np.tile(pcm, 1 + UPLOAD_LIMIT // pcm.nbytes), "wav")
    assert len(data) > UPLOAD_LIMIT

    response = await api.client().post(
        "/analysis/recordings",
        headers=uploader,
        data=METADATA,
        files={"file": ("long visit.wav", data, "audio/wav")},
    )

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == len(data)
    assert [path.stat().st_size for path in _stored_objects(api)] == [len(data)]


async def test_a_stranger_is_refused_before_the_upload_is_read(
    api: Api, uploader: dict[str, str], jfk_files: dict[str, bytes]
) -> None:
    boundary = "newspeech-test"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="scenario"\r\n\r\ndesign\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + jfk_files["wav"] * 8
        + f"\r\n--{boundary}--\r\n".encode()
    )
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            sent.append(start)
            yield body[start : start + 65536]

    response = await api.client().post(
        "/analysis/recordings",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 401
    assert len(sent) < len(body) // 65536  # the app stopped reading at the missing token
    await _assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("fields", "files"),
    [
        ({**METADATA, "place": "Grand\x00Hotel"}, True),
        ({**METADATA, "colour": "blue"}, True),
        (METADATA, False),
        ({**METADATA, "recorded_on": "yesterday"}, True),
    ],
    ids=["control character", "unknown field", "no file", "bad date"],
)
async def test_a_bad_form_is_422_and_stores_nothing(
    api: Api,
    uploader: dict[str, str],
    jfk_files: dict[str, bytes],
    fields: dict[str, object],
    files: bool,
) -> None:
    response = await api.client().post(
        "/analysis/recordings",
        headers=uploader,
        data=fields,
        files={"file": ("visit.flac", jfk_files["flac"], "audio/flac")} if files else None,
    )

    assert response.status_code == 422, response.text
    await _assert_nothing_stored(api)
    assert await _count(api, Place) == 0
