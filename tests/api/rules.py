"""One rule per API route: who may call it, whether other people's resources are hidden, what
a successful call answers, which audit action it records, and how to build a request.

``test_authorisation`` and ``test_audit`` read this table; a route missing from it fails them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update

from newspeech.analysis.cli import DEFAULT_PROMPTS
from newspeech.analysis.jobs.service import JobBoard
from newspeech.analysis.prompt_tree import read_prompt_tree
from newspeech.analysis.recordings.endpoints import AUDIO_LINK_PURPOSE
from newspeech.analysis.service import PromptSync
from newspeech.kit.signed_links import LinkSigner
from newspeech.models import (
    AnalysisJob,
    AnalysisJobStatus,
    Answer,
    PromptVersion,
    Question,
    Report,
    ReportRun,
    ReportRunStatus,
    ReportStatus,
    ReportType,
    Result,
    Scenario,
    Transcription,
    TranscriptionStatus,
)
from newspeech.results.mail import CERTIFICATE_LINK_PURPOSE
from tests.fixtures.answer_audio import audio_store, give_audio
from tests.fixtures.api import Api
from tests.fixtures.world import INVITE_CODE, PASSWORD, World, make_invitation

Access = Literal["public", "user", "examiner", "analyst", "asker", "admin"]
Owner = Literal["own", "other"]
RANK = {"public": 0, "user": 1, "examiner": 2, "admin": 3}
ROLE_RANK = {"anonymous": 0, "student": 1, "examiner": 2, "admin": 3}
# Recording analysis is a side branch: analysts and admins only. Elsewhere an analyst is a
# signed-in user with no exam data of their own (nothing of anyone's is "own" to them).
ANALYSTS = {"analyst", "admin"}
# Asking the data: examiners (exam data), analysts (recording analysis) and admins.
ASKERS = {"examiner", "analyst", "admin"}


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    # Multipart uploads: form fields and files as httpx takes them.
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None


Builder = Callable[[Api, World, str, Owner], Awaitable[Call]]


@dataclass(frozen=True)
class Rule:
    access: Access
    ok: int
    build: Builder
    # Other people's resources: "hidden" (404 for non-admins), "forbidden" (403 for
    # non-admins), or "open" (no owner; the call succeeds).
    others: Literal["hidden", "forbidden", "open"] = "open"
    audit: str | None = None

    def expected(self, role: str, owner: Owner) -> int:
        if self.access in ("analyst", "asker"):
            if role not in (ANALYSTS if self.access == "analyst" else ASKERS):
                return 401 if role == "anonymous" else 403
            return self.ok
        if role == "analyst":
            return self._for_analyst()
        if ROLE_RANK[role] < RANK[self.access]:
            return 401 if role == "anonymous" else 403
        if owner == "other" and role != "admin":
            return {"hidden": 404, "forbidden": 403, "open": self.ok}[self.others]
        return self.ok

    def _for_analyst(self) -> int:
        if RANK[self.access] > RANK["user"]:
            return 403
        return {"hidden": 404, "forbidden": 403, "open": self.ok}[self.others]


_n = itertools.count(1)


async def _prompt_with_two_versions(api: Api) -> int:
    """A prompt of the shipped set, synced, then edited once (versions 1 and 2 at least)."""
    original = read_prompt_tree(DEFAULT_PROMPTS)[0]
    edited = dataclasses.replace(original, text=original.text + "Name the suppliers.\n")
    async with api.sessionmaker() as db:
        await PromptSync(db).sync([original], origin="rules")
        await PromptSync(db).sync([edited], origin="rules")
        await db.commit()
        prompt_id = await db.scalar(select(PromptVersion.prompt_id).limit(1))
    assert prompt_id is not None
    return prompt_id


def _on_prompt(action: str, **kwargs: Any) -> Builder:
    async def build(api: Api, world: World, role: str, owner: Owner) -> Call:
        return Call(f"/analysis/prompts/{await _prompt_with_two_versions(api)}/{action}", **kwargs)

    return build


def fixed(path: str, **kwargs: Any) -> Builder:
    async def build(api: Api, world: World, role: str, owner: Owner) -> Call:
        return Call(path.format(w=world), **kwargs)

    return build


async def _ask(api: Api, world: World, role: str, owner: Owner) -> Call:
    """A curated question the role may ask: exam data, or recording analysis for analysts."""
    if role == "analyst":
        return Call("/ask", json={"curated": "reports_by_place"})
    return Call(
        "/ask", json={"curated": "sittings_by_status", "parameters": {"college": "medical"}}
    )


def by_owner(own: str, other: str, **kwargs: Any) -> Builder:
    async def build(api: Api, world: World, role: str, owner: Owner) -> Call:
        return Call((own if owner == "own" else other).format(w=world), **kwargs)

    return build


async def _login(api: Api, world: World, role: str, owner: Owner) -> Call:
    return Call("/auth/login", json={"username": world.student.username, "password": PASSWORD})


async def _refresh(api: Api, world: World, role: str, owner: Owner) -> Call:
    body = {"username": world.student.username, "password": PASSWORD}
    response = await api.client("10.9.9.9").post("/auth/login", json=body)
    return Call("/auth/refresh", json={"refresh_token": response.json()["refresh_token"]})


async def _redeem(api: Api, world: World, role: str, owner: Owner) -> Call:
    async with api.sessionmaker() as db:
        expires = api.clock() + dt.timedelta(hours=1)
        await make_invitation(db, created_by=world.examiner, expires_at=expires)
        await db.commit()
    n = next(_n)
    return Call(
        "/invitations/redeem",
        json={
            "code": INVITE_CODE,
            "username": f"invited{n}",
            "email": f"invited{n}@example.org",
            "password": "a long enough passphrase",
        },
    )


async def _delete_invitation(api: Api, world: World, role: str, owner: Owner) -> Call:
    me = world.user(role) or world.examiner
    creator = me if owner == "own" else (world.admin if me is world.examiner else world.examiner)
    async with api.sessionmaker() as db:
        invitation = await make_invitation(
            db, created_by=creator, expires_at=api.clock() + dt.timedelta(hours=1)
        )
        await db.commit()
    return Call(f"/invitations/{invitation.id}")


def _new_user(api: Api, world: World, role: str, owner: Owner) -> Awaitable[Call]:
    n = next(_n)
    body = {
        "username": f"created{n}",
        "email": f"created{n}@example.org",
        "password": "a long enough passphrase",
        "college_type": "medical",
    }

    async def call() -> Call:
        return Call("/users", json=body)

    return call()


def _new_question(api: Api, world: World, role: str, owner: Owner) -> Awaitable[Call]:
    body = {
        "college_type": "medical" if owner == "own" else "law",
        "scenario_id": 9,
        "question_number": next(_n),
        "scenario_name": "Chest pain",
        "question_text": "What is your first investigation?",
        "keywords": [{"term": "ecg", "synonyms": ["electrocardiogram"]}],
    }

    async def call() -> Call:
        return Call("/questions", json=body)

    return call()


def _new_college(api: Api, world: World, role: str, owner: Owner) -> Awaitable[Call]:
    async def call() -> Call:
        return Call("/college-types", json={"code": f"nursing{next(_n)}", "name": "Nursing"})

    return call()


async def _unused_question(api: Api, world: World, role: str, owner: Owner) -> Call:
    college = "medical" if owner == "own" else "law"
    async with api.sessionmaker() as db:
        question = Question(
            college_type=college,
            scenario_id=99,
            scenario_name="Unused",
            question_number=next(_n),
            question_text="A question nobody has answered yet?",
        )
        db.add(question)
        await db.commit()
    return Call(f"/questions/{question.id}")


def _invite(api: Api, world: World, role: str, owner: Owner) -> Awaitable[Call]:
    body = {"role": "student", "college_type": "medical" if owner == "own" else "law"}

    async def call() -> Call:
        return Call("/invitations", json=body)

    return call()


async def _answer_audio(api: Api, world: World, role: str, owner: Owner) -> Call:
    exam_session = world.exam_session if owner == "own" else world.other_exam_session
    return Call(f"/answers/{await give_audio(api, exam_session.id)}/audio")


async def _answer_of(api: Api, world: World, owner: Owner) -> int:
    exam_session = world.exam_session if owner == "own" else world.other_exam_session
    async with api.sessionmaker() as db:
        answer_id = await db.scalar(
            select(Answer.id).where(Answer.session_id == exam_session.id).order_by(Answer.id)
        )
    assert answer_id is not None
    return answer_id


def _on_answer(action: str, body: dict[str, Any]) -> Builder:
    async def build(api: Api, world: World, role: str, owner: Owner) -> Call:
        return Call(f"/answers/{await _answer_of(api, world, owner)}/{action}", json=body)

    return build


def _import_bank(api: Api, world: World, role: str, owner: Owner) -> Awaitable[Call]:
    college = "medical" if owner == "own" else "law"
    gift = (
        f"$CATEGORY: $course$/{college}/7. Imported\n\n"
        f"::Q{next(_n)}:: Name the rhythm. {{####Sinus rhythm.}}\n"  # general feedback: the model
    )

    async def call() -> Call:
        return Call(
            "/question-banks/import",
            data={"format": "gift"},
            files={"file": ("bank.gift.txt", gift.encode(), "text/plain")},
        )

    return call()


_WAV = (
    b"RIFF\x24\x7d\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
    b"\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x7d\x00\x00" + b"\x00\x01" * 16000
)
"""A valid one-second WAV (16 kHz mono PCM16, a faint constant level)."""


async def _upload_recording(api: Api, world: World, role: str, owner: Owner) -> Call:
    async with api.sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="rules")
        await db.commit()
    return Call(
        "/analysis/recordings",
        data={"scenario": "interview", "report_types": ["client-brief"], "place": "Spa Nova"},
        files={"file": ("visit.wav", _WAV, "audio/wav")},
    )


async def _routing(api: Api, world: World, role: str, owner: Owner) -> Call:
    async with api.sessionmaker() as db:
        await PromptSync(db).sync(read_prompt_tree(DEFAULT_PROMPTS), origin="rules")
        await db.commit()
    body = {"scenario": "design", "report_types": ["site-audit"], "building_type": "hotel"}
    return Call("/analysis/routing", json=body)


async def _recording_with_job(api: Api, status: AnalysisJobStatus) -> tuple[int, int]:
    """A stored recording row (no audio needed) and a job of it in ``status``."""
    async with api.sessionmaker() as db:
        scenario = Scenario(key=f"rules-{next(_n)}", name="Rules")
        db.add(scenario)
        await db.flush()
        transcription = Transcription(
            recording_key=f"analysis/rules-{next(_n)}.wav", size_bytes=1, scenario_id=scenario.id
        )
        db.add(transcription)
        await db.flush()
        job = await JobBoard(db).create(transcription.id, requested_by=None)
        await db.execute(update(AnalysisJob).where(AnalysisJob.id == job.id).values(status=status))
        await db.commit()
        return transcription.id, job.id


def _on_recording(api: Api, world: World, role: str, owner: Owner) -> Awaitable[Call]:
    async def call() -> Call:
        recording_id, _ = await _recording_with_job(api, AnalysisJobStatus.QUEUED)
        return Call(f"/analysis/recordings/{recording_id}")

    return call()


async def _recording_audio(api: Api, world: World, role: str, owner: Owner) -> Call:
    recording_id, _ = await _recording_with_job(api, AnalysisJobStatus.QUEUED)
    async with api.sessionmaker() as db:
        recording = await db.get(Transcription, recording_id)
        assert recording is not None
        await audio_store(api).put(recording.recording_key, _WAV, "audio/wav")
    return Call(f"/analysis/recordings/{recording_id}/audio")


async def _recording_audio_link(api: Api, world: World, role: str, owner: Owner) -> Call:
    call = await _recording_audio(api, world, role, owner)
    return Call(call.path + "-link")


async def _signed_recording_audio(api: Api, world: World, role: str, owner: Owner) -> Call:
    """A link the analyst was given: whoever holds it may play it, signed in or not."""
    call = await _recording_audio(api, world, role, owner)
    recording_id = int(call.path.split("/")[-2])
    expires = int(api.clock().timestamp()) + 60
    signer = LinkSigner(api.settings.token_secret(), AUDIO_LINK_PURPOSE)
    signature = signer.sign(recording_id, world.analyst.id, expires)
    params = {"user": world.analyst.id, "expires": expires, "signature": signature}
    return Call(call.path + "/signed", params=params)


async def _recording_transcript(api: Api, world: World, role: str, owner: Owner) -> Call:
    recording_id, _ = await _recording_with_job(api, AnalysisJobStatus.QUEUED)
    return Call(f"/analysis/recordings/{recording_id}/transcript")


def _on_job(action: str, status: AnalysisJobStatus) -> Builder:
    async def build(api: Api, world: World, role: str, owner: Owner) -> Call:
        _, job_id = await _recording_with_job(api, status)
        return Call(f"/analysis/jobs/{job_id}{action}")

    return build


async def _report_with_run(api: Api) -> int:
    """A transcribed recording's report (of a type without prompts) with one finished run."""
    async with api.sessionmaker() as db:
        scenario = Scenario(key=f"rules-{next(_n)}", name="Rules")
        db.add(scenario)
        await db.flush()
        kind = ReportType(scenario_id=scenario.id, key="transcript", name="Transcript")
        transcription = Transcription(
            recording_key=f"analysis/rules-{next(_n)}.wav",
            size_bytes=1,
            scenario_id=scenario.id,
            status=TranscriptionStatus.TRANSCRIBED,
            segments=[],
        )
        db.add_all([kind, transcription])
        await db.flush()
        report = Report(
            transcription_id=transcription.id, report_type_id=kind.id, status=ReportStatus.READY
        )
        db.add(report)
        await db.flush()
        db.add(
            ReportRun(
                report_id=report.id,
                number=1,
                status=ReportRunStatus.DONE,
                markdown="# Transcript\n",
                pdf_key=f"analysis/reports/rules-{report.id}.pdf",
                pdf_bytes=1,
            )
        )
        await db.commit()
        return report.id


def _on_report(suffix: str, **kwargs: Any) -> Builder:
    async def build(api: Api, world: World, role: str, owner: Owner) -> Call:
        return Call(f"/analysis/reports/{await _report_with_run(api)}{suffix}", **kwargs)

    return build


async def _passed_certificate(api: Api, world: World, role: str, owner: Owner) -> Call:
    async with api.sessionmaker() as db:
        ids = [world.result.id, world.other_result.id]
        await db.execute(update(Result).where(Result.id.in_(ids)).values(pass_status=True))
        await db.commit()
    result = world.result if owner == "own" else world.other_result
    return Call(f"/results/{result.id}/certificate")


async def _signed_certificate(api: Api, world: World, role: str, owner: Owner) -> Call:
    """The link a result e-mail carries: whoever holds it may download the certificate."""
    call = await _passed_certificate(api, world, role, owner)
    result = world.result if owner == "own" else world.other_result
    expires = int(api.clock().timestamp()) + 60
    signer = LinkSigner(api.settings.token_secret(), CERTIFICATE_LINK_PURPOSE)
    signature = signer.sign(result.id, result.user_id, expires)
    params = {"user": result.user_id, "expires": expires, "signature": signature}
    return Call(call.path + "/signed", params=params)


RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/auth/login"): Rule("public", 200, _login, audit="auth.login"),
    ("POST", "/api/v1/auth/refresh"): Rule("public", 200, _refresh, audit="auth.refresh"),
    ("POST", "/api/v1/auth/logout"): Rule("user", 204, fixed("/auth/logout"), audit="auth.logout"),
    ("GET", "/api/v1/auth/me"): Rule("user", 200, fixed("/auth/me")),
    ("POST", "/api/v1/auth/password"): Rule(
        "user",
        204,
        fixed(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        ),
        audit="auth.password_change",
    ),
    ("GET", "/api/v1/users"): Rule("admin", 200, fixed("/users")),
    ("POST", "/api/v1/users"): Rule("admin", 201, _new_user, audit="user.create"),
    ("GET", "/api/v1/users/me"): Rule("user", 200, fixed("/users/me")),
    ("PATCH", "/api/v1/users/me"): Rule(
        "user", 200, fixed("/users/me", json={"full_name": "Renamed"}), audit="user.profile_update"
    ),
    ("GET", "/api/v1/users/{user_id}"): Rule(
        "admin", 200, by_owner("/users/{w.student.id}", "/users/{w.other_student.id}")
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(
        "admin",
        200,
        by_owner(
            "/users/{w.student.id}", "/users/{w.other_student.id}", json={"status": "suspended"}
        ),
        audit="user.update",
    ),
    ("DELETE", "/api/v1/users/{user_id}"): Rule(
        "admin",
        200,
        by_owner("/users/{w.student.id}", "/users/{w.other_student.id}"),
        audit="user.update",
    ),
    ("GET", "/api/v1/users/{user_id}/colleges"): Rule(
        "admin", 200, fixed("/users/{w.examiner.id}/colleges")
    ),
    ("PUT", "/api/v1/users/{user_id}/colleges"): Rule(
        "admin",
        200,
        fixed("/users/{w.examiner.id}/colleges", json={"colleges": ["medical", "law"]}),
        audit="user.assign_colleges",
    ),
    ("POST", "/api/v1/users/{user_id}/unlock"): Rule(
        "admin", 204, fixed("/users/{w.student.id}/unlock"), audit="user.unlock"
    ),
    ("POST", "/api/v1/invitations"): Rule(
        "examiner", 201, _invite, others="forbidden", audit="invitation.create"
    ),
    ("GET", "/api/v1/invitations"): Rule("examiner", 200, fixed("/invitations")),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): Rule(
        "examiner", 204, _delete_invitation, others="hidden", audit="invitation.revoke"
    ),
    ("POST", "/api/v1/invitations/redeem"): Rule("public", 201, _redeem, audit="invitation.redeem"),
    ("GET", "/api/v1/college-types"): Rule("user", 200, fixed("/college-types")),
    ("POST", "/api/v1/college-types"): Rule(
        "admin", 201, _new_college, audit="college_type.create"
    ),
    ("GET", "/api/v1/college-types/{code}"): Rule(
        "user", 200, by_owner("/college-types/medical", "/college-types/law")
    ),
    ("PATCH", "/api/v1/college-types/{code}"): Rule(
        "admin",
        200,
        by_owner("/college-types/medical", "/college-types/law", json={"name": "Renamed"}),
        audit="college_type.update",
    ),
    ("GET", "/api/v1/question-banks/{college_type}"): Rule(
        "examiner", 200, by_owner("/question-banks/medical", "/question-banks/law"), "hidden"
    ),
    ("GET", "/api/v1/questions"): Rule("examiner", 200, fixed("/questions")),
    ("POST", "/api/v1/questions"): Rule(
        "examiner", 201, _new_question, others="forbidden", audit="question.create"
    ),
    ("GET", "/api/v1/questions/{question_id}"): Rule(
        "examiner",
        200,
        by_owner("/questions/{w.question.id}", "/questions/{w.other_question.id}"),
        "hidden",
    ),
    ("PATCH", "/api/v1/questions/{question_id}"): Rule(
        "examiner",
        200,
        by_owner(
            "/questions/{w.question.id}",
            "/questions/{w.other_question.id}",
            json={"question_text": "Reworded question?"},
        ),
        "hidden",
        audit="question.update",
    ),
    ("DELETE", "/api/v1/questions/{question_id}"): Rule(
        "examiner", 204, _unused_question, "hidden", audit="question.delete"
    ),
    ("GET", "/api/v1/exam-sessions"): Rule("user", 200, fixed("/exam-sessions")),
    ("GET", "/api/v1/exam-sessions/{exam_session_id}"): Rule(
        "user",
        200,
        by_owner("/exam-sessions/{w.exam_session.id}", "/exam-sessions/{w.other_exam_session.id}"),
        "hidden",
    ),
    ("GET", "/api/v1/exam-sessions/{exam_session_id}/result"): Rule(
        "user",
        200,
        by_owner(
            "/exam-sessions/{w.exam_session.id}/result",
            "/exam-sessions/{w.other_exam_session.id}/result",
        ),
        "hidden",
    ),
    ("GET", "/api/v1/answers/{answer_id}/audio"): Rule("user", 200, _answer_audio, "hidden"),
    # A sitting that can't be gamed (issue 11): the attempt policy.
    ("GET", "/api/v1/attempts/{college_type}/{user_id}"): Rule(
        "user",
        200,
        by_owner("/attempts/medical/{w.student.id}", "/attempts/law/{w.other_student.id}"),
        "hidden",
    ),
    ("POST", "/api/v1/attempts/{college_type}/{user_id}/grants"): Rule(
        "examiner",
        201,
        by_owner(
            "/attempts/medical/{w.student.id}/grants",
            "/attempts/law/{w.other_student.id}/grants",
            json={"reason": "the fire alarm went off"},
        ),
        "hidden",
        audit="attempt.grant",
    ),
    ("GET", "/api/v1/results"): Rule("user", 200, fixed("/results")),
    ("GET", "/api/v1/results/statistics/{college_type}"): Rule(
        "examiner",
        200,
        by_owner("/results/statistics/medical", "/results/statistics/law"),
        "hidden",
    ),
    ("GET", "/api/v1/results/{result_id}"): Rule(
        "user", 200, by_owner("/results/{w.result.id}", "/results/{w.other_result.id}"), "hidden"
    ),
    ("GET", "/api/v1/configuration"): Rule("admin", 200, fixed("/configuration")),
    ("GET", "/api/v1/configuration/{key}"): Rule(
        "admin", 200, fixed("/configuration/pass_percentage")
    ),
    ("PUT", "/api/v1/configuration/{key}"): Rule(
        "admin",
        200,
        fixed("/configuration/pass_percentage", json={"value": 60}),
        audit="configuration.write",
    ),
    ("GET", "/api/v1/audit-logs"): Rule("admin", 200, fixed("/audit-logs")),
    # The examiner's workspace (issue 7).
    ("GET", "/api/v1/review/questions"): Rule("examiner", 200, fixed("/review/questions")),
    ("GET", "/api/v1/review/questions/{question_id}/answers"): Rule(
        "examiner",
        200,
        by_owner(
            "/review/questions/{w.question.id}/answers",
            "/review/questions/{w.other_question.id}/answers",
        ),
        "hidden",
    ),
    ("POST", "/api/v1/answers/{answer_id}/flag"): Rule(
        "examiner",
        200,
        _on_answer("flag", {"reason": "listen again"}),
        "hidden",
        audit="answer.flag",
    ),
    ("POST", "/api/v1/answers/{answer_id}/override"): Rule(
        "examiner",
        200,
        _on_answer("override", {"score": 9, "comment": "named the rhythm"}),
        "hidden",
        audit="answer.override",
    ),
    ("POST", "/api/v1/questions/{question_id}/regrade"): Rule(
        "examiner",
        200,
        by_owner(
            "/questions/{w.question.id}/regrade",
            "/questions/{w.other_question.id}/regrade",
            json={"apply": True},
        ),
        "hidden",
        audit="question.regrade",
    ),
    ("POST", "/api/v1/question-banks/import"): Rule(
        "examiner", 200, _import_bank, others="forbidden", audit="questions.import"
    ),
    ("GET", "/api/v1/question-banks/{college_type}/export"): Rule(
        "examiner",
        200,
        by_owner(
            "/question-banks/medical/export", "/question-banks/law/export", params={"format": "csv"}
        ),
        "hidden",
    ),
    ("GET", "/api/v1/statistics/{college_type}"): Rule(
        "examiner", 200, by_owner("/statistics/medical", "/statistics/law"), "hidden"
    ),
    ("GET", "/api/v1/results/{result_id}/certificate"): Rule(
        "user", 200, _passed_certificate, "hidden"
    ),
    ("GET", "/api/v1/results/{result_id}/certificate/signed"): Rule(
        "public", 200, _signed_certificate
    ),
    ("GET", "/api/v1/exam-sessions/{exam_session_id}/report"): Rule(
        "user",
        200,
        by_owner(
            "/exam-sessions/{w.exam_session.id}/report",
            "/exam-sessions/{w.other_exam_session.id}/report",
        ),
        "hidden",
    ),
    # Recording analysis (issue 17): the prompt registry, for admins.
    ("GET", "/api/v1/analysis/prompts"): Rule("admin", 200, fixed("/analysis/prompts")),
    ("GET", "/api/v1/analysis/prompts/{prompt_id}/versions"): Rule(
        "admin", 200, _on_prompt("versions")
    ),
    ("GET", "/api/v1/analysis/prompts/{prompt_id}/diff"): Rule(
        "admin", 200, _on_prompt("diff", params={"from_version": 1, "to_version": 2})
    ),
    # Recording intake, jobs, transcripts and search: analysts and admins.
    ("POST", "/api/v1/analysis/recordings"): Rule(
        "analyst", 201, _upload_recording, audit="analysis.recording.upload"
    ),
    ("GET", "/api/v1/analysis/recordings"): Rule("analyst", 200, fixed("/analysis/recordings")),
    ("GET", "/api/v1/analysis/recordings/{recording_id}"): Rule("analyst", 200, _on_recording),
    ("GET", "/api/v1/analysis/recordings/{recording_id}/transcript"): Rule(
        "analyst", 200, _recording_transcript
    ),
    ("GET", "/api/v1/analysis/recordings/{recording_id}/audio"): Rule(
        "analyst", 200, _recording_audio
    ),
    ("GET", "/api/v1/analysis/recordings/{recording_id}/audio-link"): Rule(
        "analyst", 200, _recording_audio_link
    ),
    ("GET", "/api/v1/analysis/recordings/{recording_id}/audio/signed"): Rule(
        "public", 200, _signed_recording_audio
    ),
    ("GET", "/api/v1/analysis/routing"): Rule("analyst", 200, fixed("/analysis/routing")),
    ("PUT", "/api/v1/analysis/routing"): Rule(
        "analyst", 200, _routing, audit="analysis.routing.set"
    ),
    ("GET", "/api/v1/analysis/search"): Rule(
        "analyst", 200, fixed("/analysis/search", params={"q": "boiler pressure"})
    ),
    ("GET", "/api/v1/analysis/jobs/{job_id}"): Rule(
        "analyst", 200, _on_job("", AnalysisJobStatus.QUEUED)
    ),
    ("POST", "/api/v1/analysis/jobs/{job_id}/cancel"): Rule(
        "analyst", 200, _on_job("/cancel", AnalysisJobStatus.RUNNING), audit="analysis.job.cancel"
    ),
    ("POST", "/api/v1/analysis/jobs/{job_id}/retry"): Rule(
        "analyst", 200, _on_job("/retry", AnalysisJobStatus.FAILED), audit="analysis.job.retry"
    ),
    # Reports of recording analysis: analysts and admins.
    ("GET", "/api/v1/analysis/reports"): Rule("analyst", 200, fixed("/analysis/reports")),
    ("GET", "/api/v1/analysis/reports/types"): Rule(
        "analyst", 200, fixed("/analysis/reports/types")
    ),
    ("GET", "/api/v1/analysis/reports/{report_id}"): Rule("analyst", 200, _on_report("")),
    ("GET", "/api/v1/analysis/reports/{report_id}/download"): Rule(
        "analyst", 200, _on_report("/download", params={"format": "md"})
    ),
    ("GET", "/api/v1/analysis/reports/{report_id}/runs/{number}/calls"): Rule(
        "analyst", 200, _on_report("/runs/1/calls")
    ),
    ("POST", "/api/v1/analysis/reports/{report_id}/runs"): Rule(
        "analyst", 202, _on_report("/runs"), audit="analysis.report.rerun"
    ),
    ("POST", "/api/v1/ask"): Rule("asker", 200, _ask, audit="ask.query"),
    ("GET", "/api/v1/ask/catalogue"): Rule("asker", 200, fixed("/ask/catalogue")),
}
