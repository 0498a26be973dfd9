"""One truthful record: after an override, the session view, the review queue, the PDF report,
the certificate and the candidate's own view all show the examiner's mark, comment, name and
time next to the machine's original mark and wording, and the review as resolved."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from newspeech.exams.recorder import result_event
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import Evaluation
from tests.fixtures.api import Api
from tests.fixtures.factories import make_questions
from tests.fixtures.sittings import sit, students
from tests.fixtures.world import World, build_world

MACHINE_WORDING = "Incorrect: 3/10.\nSent for examiner review: keyword stuffing."
COMMENT = "The recording names ticagrelor and PCI; the transcript heard 'ticket growl'."


def pdf_text(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split()
    )


async def overridden_sitting(api: Api) -> tuple[World, Any, dict[str, Any]]:
    """A passed sitting whose first answer the machine marked 3/10 (flagged), then an examiner
    made 8/10 with a comment."""
    async with api.sessionmaker() as db:
        world = await build_world(db)
        world.examiner.full_name = "Dr Ada Examiner"
        [student] = await students(db, 1)
        sitting = await sit(
            db,
            student,
            await make_questions(db, "medical"),
            [3] + [7] * 11,
            reasons={0: ["keyword stuffing"]},
        )
        first = await db.scalar(
            select(Evaluation).where(Evaluation.answer_id == sitting.answers[0].id)
        )
        assert first is not None
        first.feedback = MACHINE_WORDING
        await db.commit()
    response = await api.client().post(
        f"/answers/{sitting.answers[0].id}/override",
        json={"score": 8, "comment": COMMENT},
        headers=await api.headers_for(world.examiner.id),
    )
    assert response.status_code == 200, response.text
    return world, sitting, response.json()


def assert_examiner_mark(mark: dict[str, Any], examiner_id: int) -> None:
    assert (mark["score"], mark["max_score"], mark["source"]) == (8, 10, "examiner")
    assert mark["headline"] == "Examiner's mark 8/10 (Correct)"
    assert mark["examiner"]["comment"] == COMMENT
    assert (mark["examiner"]["by"], mark["examiner"]["by_id"]) == ("Dr Ada Examiner", examiner_id)
    assert mark["examiner"]["at"] is not None
    assert mark["machine"]["score"] == 3
    assert mark["machine"]["feedback_type"] == "incorrect"
    assert mark["machine"]["feedback"] == MACHINE_WORDING
    assert (mark["review"], mark["review_reasons"]) == ("resolved", ["keyword stuffing"])
    kinds = [line["kind"] for line in mark["lines"]]
    assert kinds == [
        "examiner_mark",
        "examiner_comment",
        "machine_mark",
        "machine_feedback",
        "review",
    ]
    texts = [line["text"] for line in mark["lines"]]
    assert texts[0].startswith("Examiner's mark 8/10 (Correct), changed by Dr Ada Examiner on ")
    assert texts[0].endswith(" UTC.")
    assert texts[1] == f"Examiner's comment: {COMMENT}"
    assert texts[2] == "Machine's original mark: 3/10 (Incorrect)."
    assert texts[3] == f"Machine's original feedback: {MACHINE_WORDING}"
    assert texts[4] == "Review resolved (keyword stuffing)."


async def test_override_response_carries_the_examiner_mark_beside_the_machine_one(
    api: Api,
) -> None:
    world, _sitting, body = await overridden_sitting(api)
    assert_examiner_mark(body["evaluation"]["mark"], world.examiner.id)
    assert body["evaluation"]["overridden_by"] == world.examiner.id


async def test_session_view_shows_the_override_to_the_examiner_and_the_candidate(
    api: Api,
) -> None:
    world, sitting, _body = await overridden_sitting(api)
    client = api.client()
    for user_id in (world.examiner.id, sitting.exam_session.user_id):
        response = await client.get(
            f"/exam-sessions/{sitting.exam_session.id}", headers=await api.headers_for(user_id)
        )
        assert response.status_code == 200, response.text
        answers = response.json()["answers"]
        assert_examiner_mark(answers[0]["evaluation"]["mark"], world.examiner.id)
        untouched = answers[1]["evaluation"]["mark"]
        assert (untouched["source"], untouched["examiner"], untouched["review"]) == (
            "machine",
            None,
            "none",
        )
        assert untouched["headline"] == "Mark 7/10 (Correct)"
        assert "overrider" not in answers[0]["evaluation"]


async def test_review_queue_shows_a_resolved_review_with_the_examiner_mark(api: Api) -> None:
    world, sitting, _body = await overridden_sitting(api)
    question_id = sitting.answers[0].question_bank_id
    response = await api.client().get(
        f"/review/questions/{question_id}/answers",
        params={"include_reviewed": True},
        headers=await api.headers_for(world.examiner.id),
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert_examiner_mark(item["mark"], world.examiner.id)


async def test_pdf_report_and_certificate_print_the_examiner_mark_and_comment(api: Api) -> None:
    _world, sitting, body = await overridden_sitting(api)
    # 8 + 11 x 7 = 85 of 120 = 70.8 %: grade C.
    assert (body["result"]["total_score"], body["result"]["grade"]) == (85, "C")
    client = api.client()
    own = await api.headers_for(sitting.exam_session.user_id)

    report = await client.get(f"/exam-sessions/{sitting.exam_session.id}/report", headers=own)
    assert report.status_code == 200, report.text
    text = pdf_text(report.content)
    assert "Question 1 (examiner's mark 8 / 10; machine 3 / 10)" in text
    assert "Examiner's mark 8/10 (Correct), changed by Dr Ada Examiner on " in text
    assert f"Examiner's comment: {COMMENT}" in text
    assert "Machine's original mark: 3/10 (Incorrect)." in text
    assert "Machine's original feedback: Incorrect: 3/10." in text
    assert "Review resolved (keyword stuffing)." in text
    assert "Question 2 (7 / 10)" in text
    assert "Total 85 / 120 (70.8%) Grade C PASS" in text

    certificate = await client.get(f"/results/{body['result']['id']}/certificate", headers=own)
    assert certificate.status_code == 200, certificate.text
    text = pdf_text(certificate.content)
    assert "Score 85 / 120 (70.8%) Grade C" in text
    assert "Marks changed on examiner review" in text
    assert "Question 1: examiner's mark 8/10 (machine 3/10), changed by Dr Ada Examiner on " in text
    assert "the transcript heard 'ticket growl'." in text


async def test_an_override_with_the_same_score_still_reissues_the_certificate(api: Api) -> None:
    world, sitting, body = await overridden_sitting(api)
    client = api.client()
    examiner = await api.headers_for(world.examiner.id)
    first = await client.get(f"/results/{body['result']['id']}/certificate", headers=examiner)
    assert "changed by Dr Ada Examiner" in pdf_text(first.content)
    again = await client.post(
        f"/answers/{sitting.answers[1].id}/override",
        json={"score": 7, "comment": "checked: the mark stands"},
        headers=examiner,
    )
    assert again.json()["result"]["certificate_path"] is None
    second = await client.get(f"/results/{body['result']['id']}/certificate", headers=examiner)
    assert "Question 2: examiner's mark 7/10 (machine 7/10)" in pdf_text(second.content)


async def test_a_flag_after_an_override_keeps_who_changed_the_mark(api: Api) -> None:
    world, sitting, _body = await overridden_sitting(api)
    client = api.client()
    flagged = await client.post(
        f"/answers/{sitting.answers[0].id}/flag",
        json={"reason": "second opinion"},
        headers=await api.headers_for(world.admin.id),
    )
    assert flagged.status_code == 200, flagged.text
    mark = flagged.json()["mark"]
    assert (mark["examiner"]["by"], mark["review"]) == ("Dr Ada Examiner", "pending")
    assert mark["lines"][-1]["text"] == (
        "Waiting for examiner review (keyword stuffing, flagged by examiner: second opinion)."
    )


async def test_the_candidates_result_event_carries_the_examiner_mark(api: Api) -> None:
    _world, sitting, _body = await overridden_sitting(api)
    async with api.sessionmaker() as db:
        detailed = await ExamSessionRepository(db).get_detailed(sitting.exam_session.id)
        assert detailed is not None
        assert detailed.result is not None
        event = result_event(detailed.result, detailed)
    first, second = event["answers"][0], event["answers"][1]
    assert (first["score"], first["mark"]["source"], first["mark"]["review"]) == (
        8,
        "examiner",
        "resolved",
    )
    texts = [line["text"] for line in first["mark"]["lines"]]
    assert texts[0].startswith("Examiner's mark 8/10 (Correct), changed by Dr Ada Examiner on ")
    assert f"Examiner's comment: {COMMENT}" in texts
    assert "Machine's original mark: 3/10 (Incorrect)." in texts
    assert (second["score"], second["mark"]["source"]) == (7, "machine")
