"""Signed links to a recording's audio: what the analyst page's player streams from, since an
``<audio src>`` cannot send the bearer token. A link is bound to one recording and one user,
expires, and answers Range requests as the bearer route does."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from newspeech.models import Scenario, Transcription, User, UserRole, UserStatus
from tests.fixtures.answer_audio import audio_store
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user

AUDIO = bytes(range(256)) * 40


async def _recordings(api: Api, count: int) -> tuple[User, list[int]]:
    """An analyst and ``count`` stored recordings, each with its own bytes."""
    async with api.sessionmaker() as db:
        analyst = await make_user(db, role=UserRole.ANALYST, college_type=None)
        scenario = Scenario(key="interview", name="Interview")
        db.add(scenario)
        await db.flush()
        ids = []
        for n in range(count):
            recording = Transcription(
                recording_key=f"analysis/link-{n}.wav",
                content_type="audio/wav",
                size_bytes=len(AUDIO) + n,
                scenario_id=scenario.id,
            )
            db.add(recording)
            await db.flush()
            await audio_store(api).put(recording.recording_key, AUDIO + bytes(n), "audio/wav")
            ids.append(recording.id)
        await db.commit()
    return analyst, ids


async def _link(api: Api, user: User, recording_id: int) -> str:
    response = await api.client().get(
        f"/analysis/recordings/{recording_id}/audio-link", headers=await api.headers_for(user.id)
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    assert url.startswith(f"/api/v1/analysis/recordings/{recording_id}/audio/signed?")
    return url.removeprefix("/api/v1")


def _with(url: str, **changes: str | int) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update({key: str(value) for key, value in changes.items()})
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


async def test_a_signed_link_streams_and_seeks_without_a_token(api: Api) -> None:
    analyst, [recording_id] = await _recordings(api, 1)
    url = await _link(api, analyst, recording_id)
    client = api.client()

    whole = await client.get(url)
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    past = await client.get(url, headers={"Range": f"bytes={len(AUDIO)}-"})

    assert whole.status_code == 200, whole.text
    assert whole.content == AUDIO
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    assert part.status_code == 206
    assert part.content == AUDIO[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(AUDIO)}"
    assert past.status_code == 416


async def test_a_link_expires(api: Api) -> None:
    analyst, [recording_id] = await _recordings(api, 1)
    response = await api.client().get(
        f"/analysis/recordings/{recording_id}/audio-link",
        headers=await api.headers_for(analyst.id),
    )
    url = response.json()["url"].removeprefix("/api/v1")
    lifetime = api.settings.analysis_audio_link_seconds
    assert response.json()["expires_at"].startswith(
        (api.clock() + dt.timedelta(seconds=lifetime)).isoformat()[:19]
    )

    api.clock.advance(seconds=lifetime - 1)
    assert (await api.client().get(url)).status_code == 200
    api.clock.advance(seconds=1)
    expired = await api.client().get(url)

    assert expired.status_code == 403
    assert expired.json() == {
        "error": "permission_denied",
        "detail": "the link has expired: ask for a new link",
    }


async def test_a_tampered_link_is_refused(api: Api) -> None:
    analyst, [recording_id] = await _recordings(api, 1)
    url = await _link(api, analyst, recording_id)
    query = parse_qs(urlsplit(url).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    client = api.client()

    tampered = [
        _with(url, expires=expires + 3600),  # a longer life
        _with(url, signature=flipped),
        _with(url, signature=signature[:-1]),
        _with(url, user=analyst.id + 1),  # someone else's name on it
    ]
    for bad in tampered:
        response = await client.get(bad)
        assert response.status_code == 403, bad
        assert (
            response.json()["detail"] == "the link's signature does not match: ask for a new link"
        )
    missing = await client.get(url.split("&signature=")[0])
    assert missing.status_code == 422


async def test_a_link_opens_only_its_own_recording(api: Api) -> None:
    analyst, [first, second] = await _recordings(api, 2)
    url = await _link(api, analyst, first)

    other = await api.client().get(url.replace(f"/recordings/{first}/", f"/recordings/{second}/"))

    assert other.status_code == 403
    assert (await api.client().get(url)).content == AUDIO


async def test_a_link_dies_with_its_users_access(api: Api) -> None:
    analyst, [recording_id] = await _recordings(api, 1)
    url = await _link(api, analyst, recording_id)
    assert (await api.client().get(url)).status_code == 200

    async with api.sessionmaker() as db:
        await db.execute(
            update(User).where(User.id == analyst.id).values(status=UserStatus.SUSPENDED)
        )
        await db.commit()

    refused = await api.client().get(url)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "the link's user may no longer hear recordings"


async def test_no_link_without_signing_in_or_for_a_missing_recording(api: Api) -> None:
    analyst, [recording_id] = await _recordings(api, 1)
    client = api.client()

    anonymous = await client.get(f"/analysis/recordings/{recording_id}/audio-link")
    missing = await client.get(
        f"/analysis/recordings/{recording_id + 1000}/audio-link",
        headers=await api.headers_for(analyst.id),
    )

    assert anonymous.status_code == 401
    assert missing.status_code == 404
