"""The search, transcript and audio routes of recording analysis over HTTP."""

from __future__ import annotations

from sqlalchemy import select

from newspeech.analysis.search.repository import SegmentRepository
from newspeech.models import Scenario, Transcription, TranscriptSegment, UserRole
from tests.fixtures.answer_audio import audio_store
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user

SEGMENT = {
    "start": 4.0,
    "end": 5.6,
    "speaker": None,
    "text": "Check the sauna.",
    "words": [
        {"start": 4.0, "end": 4.4, "word": "Check"},
        {"start": 4.5, "end": 4.8, "word": "the"},
        {"start": 4.9, "end": 5.6, "word": "sauna."},
    ],
}
AUDIO = bytes(range(256)) * 40


async def _analyst_and_recording(api: Api) -> tuple[dict[str, str], int]:
    async with api.sessionmaker() as db:
        analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
        scenario = Scenario(key="design", name="Design")
        db.add(scenario)
        await db.flush()
        recording = Transcription(
            recording_key="analysis/http-search.wav",
            content_type="audio/wav",
            size_bytes=len(AUDIO),
            scenario_id=scenario.id,
            segments=[SEGMENT],
            text=SEGMENT["text"],
        )
        db.add(recording)
        await db.flush()
        await SegmentRepository(db).replace(recording.id, [SEGMENT])
        await db.commit()
        await audio_store(api).put(recording.recording_key, AUDIO, "audio/wav")
        return await api.headers_for(analyst.id), recording.id


async def test_search_answers_highlighted_hits_with_their_time(api: Api) -> None:
    headers, recording_id = await _analyst_and_recording(api)

    response = await api.client().get(
        "/analysis/search", params={"q": "SAUNA", "scenario": "design"}, headers=headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    [hit] = body["items"]
    assert hit["recording_id"] == recording_id
    assert hit["hit_seconds"] == 4.9
    assert [hit["text"][a:b] for a, b in hit["highlights"]] == ["sauna"]
    assert body["has_more"] is False
    empty = await api.client().get("/analysis/search", params={"q": "kitchen"}, headers=headers)
    assert empty.json()["items"] == []


async def test_a_bad_search_is_422_and_stores_nothing(api: Api) -> None:
    headers, _ = await _analyst_and_recording(api)

    bad: list[dict[str, str | int]] = [
        {"q": "?!"},
        {"q": '"open'},
        {"q": ""},
        {},
        {"q": "x", "limit": 0},
    ]
    for params in bad:
        response = await api.client().get("/analysis/search", params=params, headers=headers)
        assert response.status_code == 422, params
        assert set(response.json()) == {"error", "detail"}
    async with api.sessionmaker() as db:
        assert len((await db.scalars(select(TranscriptSegment))).all()) == 1


async def test_transcript_and_seekable_audio(api: Api) -> None:
    headers, recording_id = await _analyst_and_recording(api)
    client = api.client()

    transcript = (
        await client.get(f"/analysis/recordings/{recording_id}/transcript", headers=headers)
    ).json()
    whole = await client.get(f"/analysis/recordings/{recording_id}/audio", headers=headers)
    part = await client.get(
        f"/analysis/recordings/{recording_id}/audio",
        headers={**headers, "Range": "bytes=100-199"},
    )
    past = await client.get(
        f"/analysis/recordings/{recording_id}/audio",
        headers={**headers, "Range": f"bytes={len(AUDIO)}-"},
    )

    assert transcript["segments"][0]["words"][2] == {"start": 4.9, "end": 5.6, "word": "sauna."}
    assert whole.status_code == 200
    assert whole.content == AUDIO
    assert whole.headers["content-type"] == "audio/wav"
    assert part.status_code == 206
    assert part.content == AUDIO[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(AUDIO)}"
    assert past.status_code == 416


async def test_an_admin_invites_an_analyst_who_can_search(api: Api) -> None:
    async with api.sessionmaker() as db:
        admin = await make_user(db, role=UserRole.ADMIN, college_type=None)
        await db.commit()
    client = api.client()
    invited = await client.post(
        "/invitations", json={"role": "analyst"}, headers=await api.headers_for(admin.id)
    )
    assert invited.status_code == 201, invited.text
    redeemed = await client.post(
        "/invitations/redeem",
        json={
            "code": invited.json()["code"],
            "username": "field.analyst",
            "email": "field.analyst@example.org",
            "password": "a long enough passphrase",
        },
    )
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["role"] == "analyst"
    login = await client.post(
        "/auth/login", json={"username": "field.analyst", "password": "a long enough passphrase"}
    )
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (
        await client.get("/analysis/search", params={"q": "x"}, headers=token)
    ).status_code == 200
    assert (await client.get("/questions", headers=token)).status_code == 403
