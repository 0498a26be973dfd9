"""Review queue, flags and overrides over the API, checked against the stored rows."""

from __future__ import annotations

from sqlalchemy import select

from newspeech.auth.scope import set_assigned_colleges
from newspeech.models import AuditLog, ExamSession, UserRole
from tests.fixtures.api import Api
from tests.fixtures.factories import make_college, make_questions, make_user
from tests.fixtures.sittings import evaluation_of, result_of, sit, students
from tests.fixtures.world import World, build_world


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


async def _audit_rows(api: Api, action: str) -> list[AuditLog]:
    async with api.sessionmaker() as db:
        query = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list(await db.scalars(query))


async def test_override_resums_the_result_and_keeps_the_machine_grade(api: Api) -> None:
    world = await _world(api)
    async with api.sessionmaker() as db:
        [student] = await students(db, 1)
        questions = await make_questions(db, "medical")
        # 12 x 5 = 60 of 120: 50 %, the seed's pass mark (grade E, the lowest passing band).
        sitting = await sit(db, student, questions, [5] * 12)
        assert sitting.result is not None
        sitting.result.certificate_path = "certificates/old-certificate.pdf"
        await db.commit()
    answer_id = sitting.answers[0].id
    client = api.client()
    examiner = await api.headers_for(world.examiner.id)

    first = await client.post(
        f"/answers/{answer_id}/override",
        json={"score": 4, "comment": "  missed the second concept  "},
        headers=examiner,
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["evaluation"]["evaluator_type"] == "manual"
    assert body["evaluation"]["score_obtained"] == 4
    assert body["result"]["total_score"] == 59
    assert body["result"]["pass_status"] is False
    assert body["result"]["certificate_path"] is None

    admin = await api.headers_for(world.admin.id)
    second = await client.post(
        f"/answers/{answer_id}/override", json={"score": 10, "comment": "on appeal"}, headers=admin
    )
    assert second.status_code == 200, second.text

    async with api.sessionmaker() as db:
        evaluation = await evaluation_of(db, answer_id)
        result = await result_of(db, sitting.exam_session.id)
        exam_session = await db.get(ExamSession, sitting.exam_session.id)
    assert (evaluation.score_obtained, evaluation.evaluator_type.value) == (10, "manual")
    assert evaluation.feedback_type.value == "correct"
    assert evaluation.percentage_correct == 100.0
    assert evaluation.machine_grade is not None
    assert evaluation.machine_grade["score"] == 5
    assert evaluation.machine_grade["evaluator_type"] == "keyword_match"
    assert (evaluation.reviewed_by, evaluation.review_comment) == (world.admin.id, "on appeal")
    assert evaluation.reviewed_at is not None
    # 11 x 5 + 10 = 65 of 120 = 54.17 %: passes again, grade E (never a passing F).
    assert (result.total_score, result.percentage_correct) == (65, 54.17)
    assert (result.grade, result.pass_status) == ("E", True)
    assert result.result_json is not None
    assert result.result_json["total"] == 65
    assert exam_session is not None
    assert exam_session.total_score == 65

    rows = await _audit_rows(api, "answer.override")
    assert [row.user_id for row in rows] == [world.examiner.id, world.admin.id]
    assert all(row.session_id == sitting.exam_session.id for row in rows)
    before, after = rows[0].details, rows[1].details
    assert before is not None
    assert after is not None
    assert (before["before"]["score"], before["after"]["score"]) == (5, 4)
    assert before["comment"] == "missed the second concept"
    assert before["result"]["before"] == {"total": 60, "grade": "E", "pass": True}
    assert before["result"]["after"] == {"total": 59, "grade": "F", "pass": False}
    assert before["result"]["certificate_invalidated"] is True
    assert (after["before"]["score"], after["before"]["evaluator_type"]) == (4, "manual")
    assert after["machine_grade"]["score"] == 5
    assert after["result"]["after"] == {"total": 65, "grade": "E", "pass": True}


async def test_refused_overrides_change_nothing(api: Api) -> None:
    world = await _world(api)
    async with api.sessionmaker() as db:
        [student] = await students(db, 1)
        questions = await make_questions(db, "medical")
        sitting = await sit(db, student, questions[:2], [6, 6], finish=False)
        unevaluated = await sit(db, student, questions[:1], [6], finish=False)
        await db.delete(await evaluation_of(db, unevaluated.answers[0].id))
        law_examiner = await make_user(db, role=UserRole.EXAMINER, college_type=None)
        await set_assigned_colleges(db, law_examiner.id, ["law"])
        await db.commit()
    client = api.client()
    examiner = await api.headers_for(world.examiner.id)
    answer_id = sitting.answers[0].id

    async def override(body: object, who: dict[str, str], target: int = answer_id) -> int:
        response = await client.post(f"/answers/{target}/override", json=body, headers=who)
        assert set(response.json()) == {"error", "detail"}, response.text
        return response.status_code

    assert await override({"score": 11, "comment": "too high"}, examiner) == 422
    assert await override({"score": -1, "comment": "too low"}, examiner) == 422
    assert await override({"score": 5, "comment": "   "}, examiner) == 422
    assert await override({"score": 5}, examiner) == 422
    assert await override({"score": 5, "comment": "x"}, examiner, 10**9) == 404
    assert await override({"score": 5, "comment": "x"}, examiner, unevaluated.answers[0].id) == 409
    assert (
        await override({"score": 5, "comment": "x"}, await api.headers_for(law_examiner.id)) == 404
    )
    assert await override({"score": 5, "comment": "x"}, await api.headers_for(student.id)) == 403

    async with api.sessionmaker() as db:
        evaluation = await evaluation_of(db, answer_id)
    assert (evaluation.score_obtained, evaluation.evaluator_type.value) == (6, "keyword_match")
    assert evaluation.machine_grade is None
    assert evaluation.reviewed_at is None
    assert await _audit_rows(api, "answer.override") == []


async def test_queue_groups_by_question_within_the_callers_colleges(api: Api) -> None:
    world = await _world(api)
    async with api.sessionmaker() as db:
        medical = await make_questions(db, "medical")
        law = await make_questions(db, "law")
        for student in await students(db, 3):
            # Q1 low confidence, Q2 mid-range; Q3 needs nothing.
            await sit(
                db,
                student,
                medical[:3],
                [8, 5, 9],
                reasons={0: ["low asr confidence"], 1: ["mid-range score"]},
            )
        [law_student] = await students(db, 1, "law")
        await sit(db, law_student, law[:1], [2], reasons={0: ["keyword stuffing"]})
        await make_college(db, "aviation")
        outsider = await make_user(db, role=UserRole.EXAMINER, college_type=None)
        await set_assigned_colleges(db, outsider.id, ["aviation"])
        await db.commit()
    client = api.client()

    queue = await client.get("/review/questions", headers=await api.headers_for(world.examiner.id))
    assert queue.status_code == 200
    assert [(q["question_id"], q["pending"]) for q in queue.json()] == [
        (medical[0].id, 3),
        (medical[1].id, 3),
    ]
    first = queue.json()[0]
    assert (first["college_type"], first["scenario_id"], first["question_number"]) == (
        "medical",
        1,
        1,
    )
    assert first["max_score"] == 10
    assert first["question_text"] == medical[0].question_text

    everything = await client.get(
        "/review/questions", headers=await api.headers_for(world.admin.id)
    )
    assert {q["question_id"] for q in everything.json()} == {
        medical[0].id,
        medical[1].id,
        law[0].id,
    }

    outsider_headers = await api.headers_for(outsider.id)
    assert (await client.get("/review/questions", headers=outsider_headers)).json() == []
    hidden = await client.get(
        f"/review/questions/{medical[0].id}/answers", headers=outsider_headers
    )
    assert hidden.status_code == 404
    refused = await client.get("/review/questions", headers=await api.headers_for(world.student.id))
    assert refused.status_code == 403


async def test_answers_come_in_a_random_order_fixed_by_the_seed(api: Api) -> None:
    world = await _world(api)
    async with api.sessionmaker() as db:
        medical = await make_questions(db, "medical")
        answer_ids = []
        for student in await students(db, 8):
            sitting = await sit(db, student, medical[:1], [3], reasons={0: ["low asr confidence"]})
            answer_ids.append(sitting.answers[0].id)
        sitting.answers[0].answer_audio_path = "audio/last.ogg"
        await db.commit()
    client = api.client()
    headers = await api.headers_for(world.examiner.id)
    path = f"/review/questions/{medical[0].id}/answers"

    async def order(**params: int) -> list[int]:
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["answer_id"] for item in response.json()["items"]]

    seeded = await order(seed=7)
    assert sorted(seeded) == sorted(answer_ids)
    assert await order(seed=7) == seeded
    assert seeded != sorted(answer_ids) or await order(seed=8) != seeded
    assert await order(seed=8) != seeded
    paged = [
        *await order(page=1, size=3),
        *await order(page=2, size=3),
        *await order(page=3, size=3),
    ]
    assert paged == await order()  # the default seed is fixed per examiner
    assert sorted(paged) == sorted(answer_ids)

    items = (await client.get(path, params={"seed": 7}, headers=headers)).json()["items"]
    by_id = {item["answer_id"]: item for item in items}
    last = by_id[answer_ids[-1]]
    assert last["audio_url"] == f"/api/v1/answers/{answer_ids[-1]}/audio"
    assert all(by_id[i]["audio_url"] is None for i in answer_ids[:-1])
    assert last["review_reasons"] == ["low asr confidence"]
    assert (last["score"], last["max_score"], last["feedback_type"]) == (3, 10, "incorrect")
    assert last["asr_confidence"] == 0.9
    assert last["student_name"].startswith("User ")
    assert last["transcript"].startswith("answer 1 of ")


async def test_reviewed_answers_leave_the_queue_and_flags_bring_them_in(api: Api) -> None:
    world = await _world(api)
    async with api.sessionmaker() as db:
        medical = await make_questions(db, "medical")
        [one, two] = await students(db, 2)
        queued = await sit(db, one, medical[:1], [3], reasons={0: ["low asr confidence"]})
        quiet = await sit(db, two, medical[:1], [9])
        await db.commit()
    client = api.client()
    headers = await api.headers_for(world.examiner.id)
    path = f"/review/questions/{medical[0].id}/answers"

    overridden = await client.post(
        f"/answers/{queued.answers[0].id}/override",
        json={"score": 4, "comment": "heard it on the recording"},
        headers=headers,
    )
    assert overridden.status_code == 200
    assert (await client.get("/review/questions", headers=headers)).json() == []
    history = await client.get(path, params={"include_reviewed": True}, headers=headers)
    assert [i["answer_id"] for i in history.json()["items"]] == [queued.answers[0].id]
    assert history.json()["items"][0]["reviewed_at"] is not None

    flagged = await client.post(
        f"/answers/{quiet.answers[0].id}/flag", json={"reason": "sounds rehearsed"}, headers=headers
    )
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["needs_review"] is True
    pending = await client.get(path, headers=headers)
    assert [i["answer_id"] for i in pending.json()["items"]] == [quiet.answers[0].id]
    assert pending.json()["items"][0]["review_reasons"] == ["flagged by examiner: sounds rehearsed"]
    async with api.sessionmaker() as db:
        evaluation = await evaluation_of(db, quiet.answers[0].id)
    assert (evaluation.flagged_by, evaluation.score_obtained) == (world.examiner.id, 9)
    [row] = await _audit_rows(api, "answer.flag")
    assert row.details == {"answer_id": quiet.answers[0].id, "reason": "sounds rehearsed"}


async def test_answer_shows_what_was_heard_beside_the_corrected_text(api: Api) -> None:
    world = await _world(api)
    heard = "Give aspirin and ticket growl, and the ECG shows SD elevation."
    corrected = "Give aspirin and ticagrelor, and the ECG shows st elevation."
    async with api.sessionmaker() as db:
        medical = await make_questions(db, "medical")
        [student] = await students(db, 1)
        sitting = await sit(
            db,
            student,
            medical[:2],
            [3, 3],
            reasons={0: ["low asr confidence"], 1: ["low asr confidence"]},
            transcripts=[heard, "Troponin and a chest X-ray."],
            corrected={0: corrected},
        )
        await db.commit()
    client = api.client()
    headers = await api.headers_for(world.examiner.id)

    page = await client.get(f"/review/questions/{medical[0].id}/answers", headers=headers)
    assert page.status_code == 200, page.text
    [item] = page.json()["items"]
    assert (item["transcript"], item["corrected_transcript"]) == (heard, corrected)
    plain = await client.get(f"/review/questions/{medical[1].id}/answers", headers=headers)
    [item] = plain.json()["items"]
    assert (item["transcript"], item["corrected_transcript"]) == (
        "Troponin and a chest X-ray.",
        None,
    )

    detail = await client.get(f"/exam-sessions/{sitting.exam_session.id}", headers=headers)
    assert detail.status_code == 200, detail.text
    first = detail.json()["answers"][0]
    assert (first["transcribed_text"], first["answer_text"]) == (heard, corrected)
