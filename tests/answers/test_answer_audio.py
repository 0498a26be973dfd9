"""``GET /api/v1/answers/{id}/audio`` beyond the authorisation matrix (``rules.py``): who hears
which answer, byte ranges for a seeking ``<audio>`` element, missing and purged recordings, and
the session detail's ``audio_url``."""

from __future__ import annotations

import pytest

from newspeech.answers.audio.service import audio_key
from newspeech.auth.scope import set_assigned_colleges
from newspeech.models import UserRole
from tests.fixtures.answer_audio import RECORDING, audio_store, give_audio
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.fixtures.world import World, build_world


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


async def test_the_student_their_colleges_examiners_and_admins_hear_an_answer(api: Api) -> None:
    world = await _world(api)
    answer_id = await give_audio(api, world.exam_session.id)
    async with api.sessionmaker() as db:
        law_examiner = await make_user(db, role=UserRole.EXAMINER, college_type="law")
        await set_assigned_colleges(db, law_examiner.id, ["law"])
        await db.commit()
    client = api.client()
    expected = {
        world.student.id: 200,  # gave the answer
        world.examiner.id: 200,  # examines medical
        world.admin.id: 200,
        world.other_student.id: 404,  # another student: the answer does not exist for them
        law_examiner.id: 404,  # an examiner of another college
    }
    for user_id, status in expected.items():
        response = await client.get(
            f"/answers/{answer_id}/audio", headers=await api.headers_for(user_id)
        )
        assert response.status_code == status, (user_id, response.text)
        if status == 200:
            assert response.content == RECORDING
            assert response.headers["content-type"] == "audio/ogg"
            assert response.headers["accept-ranges"] == "bytes"
        else:
            assert response.json()["error"] == "not_found"
    anonymous = await client.get(f"/answers/{answer_id}/audio")
    assert anonymous.status_code == 401


async def test_serves_byte_ranges_so_a_player_can_seek(api: Api) -> None:
    world = await _world(api)
    answer_id = await give_audio(api, world.exam_session.id)
    headers = await api.headers_for(world.student.id)
    client = api.client()
    path = f"/answers/{answer_id}/audio"
    size = len(RECORDING)

    async def get(range_header: str) -> tuple[int, bytes, str | None]:
        response = await client.get(path, headers={**headers, "Range": range_header})
        return response.status_code, response.content, response.headers.get("content-range")

    assert await get("bytes=0-99") == (206, RECORDING[:100], f"bytes 0-99/{size}")
    assert await get("bytes=100-") == (206, RECORDING[100:], f"bytes 100-{size - 1}/{size}")
    assert await get("bytes=-50") == (206, RECORDING[-50:], f"bytes {size - 50}-{size - 1}/{size}")
    assert await get(f"bytes=10-{size + 500}") == (
        206,
        RECORDING[10:],
        f"bytes 10-{size - 1}/{size}",
    )
    status, _, content_range = await get(f"bytes={size}-")
    assert (status, content_range) == (416, f"bytes */{size}")
    # Several ranges, or nonsense: RFC 9110 lets the server send the whole recording.
    assert (await get("bytes=0-1,5-9"))[:2] == (200, RECORDING)
    assert (await get("pages=1-2"))[:2] == (200, RECORDING)


async def test_an_answer_without_audio_or_whose_audio_was_purged_is_a_clear_404(
    api: Api,
) -> None:
    world = await _world(api)
    answer_id = await give_audio(api, world.exam_session.id)
    client = api.client()
    headers = await api.headers_for(world.examiner.id)
    await audio_store(api).delete(audio_key(world.exam_session.id, answer_id))
    gone = await client.get(f"/answers/{answer_id}/audio", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"] == "audio_not_found"

    detail = await client.get(f"/exam-sessions/{world.exam_session.id}", headers=headers)
    without = [a for a in detail.json()["answers"] if a["id"] != answer_id]
    assert without
    none = await client.get(f"/answers/{without[0]['id']}/audio", headers=headers)
    assert none.status_code == 404
    assert none.json()["error"] == "audio_not_found"
    unknown = await client.get("/answers/987654321/audio", headers=headers)
    assert unknown.json()["error"] == "not_found"


@pytest.mark.parametrize("role", ["student", "examiner"])
async def test_the_session_detail_links_each_answers_audio(api: Api, role: str) -> None:
    world = await _world(api)
    answer_id = await give_audio(api, world.exam_session.id)
    user = world.user(role)
    assert user is not None
    response = await api.client().get(
        f"/exam-sessions/{world.exam_session.id}", headers=await api.headers_for(user.id)
    )
    urls = {a["id"]: a["audio_url"] for a in response.json()["answers"]}
    assert urls.pop(answer_id) == f"/api/v1/answers/{answer_id}/audio"
    assert set(urls.values()) == {None}
    assert "answer_audio_path" not in response.json()["answers"][0]
