"""The attempt policy: how many sittings of a college's exam a candidate may start.

Every candidate has ``max_attempts`` (configuration, default 1) per college; a sitting counts
once it is created, whether it is finished, ended early or still going. An examiner of the
college (or an admin) can allow one more attempt at a time, each recorded and audited. A start
while a sitting is unfinished resumes that sitting and uses no attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.attempts.repository import AttemptGrantRepository
from newspeech.audits.service import Auditor
from newspeech.auth.scope import Scope
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.configuration.current import current_config
from newspeech.errors import AttemptLimitReached, NotFound
from newspeech.exams.repository import ExamSessionRepository
from newspeech.models import AttemptGrant, User
from newspeech.users.repository import UserRepository


@dataclass(frozen=True)
class Standing:
    """Where one candidate stands with one college's exam."""

    user_id: int
    college_type: str
    max_attempts: int
    granted: int
    used: int
    unfinished_session_code: str | None
    grants: tuple[AttemptGrant, ...] = ()

    @property
    def allowed(self) -> int:
        return self.max_attempts + self.granted

    @property
    def remaining(self) -> int:
        return max(0, self.allowed - self.used)


async def standing(db: AsyncSession, user_id: int, college_type: str) -> Standing:
    max_attempts = (await current_config(db)).max_attempts
    sittings = ExamSessionRepository(db)
    unfinished = await sittings.unfinished_for(user_id, college_type)
    grants = await AttemptGrantRepository(db).list_for(user_id, college_type)
    return Standing(
        user_id=user_id,
        college_type=college_type,
        max_attempts=int(max_attempts),
        granted=len(grants),
        used=await sittings.count_for(user_id, college_type),
        unfinished_session_code=None if unfinished is None else unfinished.session_code,
        grants=tuple(grants),
    )


async def ensure_may_start(db: AsyncSession, user_id: int, college_type: str) -> Standing:
    """Raise ``AttemptLimitReached`` unless the candidate may start a new sitting. The new
    sitting is attempt ``used + 1``: two starts racing past this check create the same
    attempt, and the unique (user, college, attempt) index lets only one of them through."""
    found = await standing(db, user_id, college_type)
    if found.used < found.allowed:
        return found
    college = await CollegeTypeRepository(db).get(college_type)
    name = college.name if college is not None else college_type
    used = "your attempt" if found.allowed == 1 else f"all {found.allowed} of your attempts"
    raise AttemptLimitReached(
        f"You have already used {used} at the {name} exam, so a new sitting cannot start. "
        "If you should sit it again, ask your examiner to allow another attempt."
    )


class AttemptService:
    """Examiners read and extend the attempts of candidates in their colleges; a candidate
    reads their own."""

    def __init__(self, db: AsyncSession, auditor: Auditor, scope: Scope) -> None:
        self.db = db
        self.auditor = auditor
        self.scope = scope

    async def get(self, user_id: int, college_type: str) -> Standing:
        await self._require(user_id, college_type)
        return await standing(self.db, user_id, college_type)

    async def grant(
        self, actor: User, user_id: int, college_type: str, reason: str | None
    ) -> Standing:
        """One more attempt for the candidate at the college (examiners of that college only:
        nobody allows themselves another attempt at a college they do not examine)."""
        await self._require(user_id, college_type, manage=True)
        grant = await AttemptGrantRepository(self.db).add(
            user_id=user_id, college_type=college_type, granted_by=actor.id, reason=reason
        )
        after = await standing(self.db, user_id, college_type)
        await self.auditor.record(
            "attempt.grant",
            actor_id=actor.id,
            resource_type="attempt_grant",
            resource_id=grant.id,
            details={
                "user_id": user_id,
                "college_type": college_type,
                "reason": reason,
                "allowed": after.allowed,
                "used": after.used,
            },
        )
        return after

    async def _require(self, user_id: int, college_type: str, *, manage: bool = False) -> None:
        """Out of scope reads as absent, like every other resource."""
        own = self.scope.user_id == user_id and not manage
        may = own or self.scope.manages_college(college_type)
        if not may:
            raise NotFound(f"attempts of user {user_id} at {college_type!r} do not exist")
        if await CollegeTypeRepository(self.db).get(college_type) is None:
            raise NotFound(f"college type {college_type!r} does not exist")
        if await UserRepository(self.db).get(user_id) is None:
            raise NotFound(f"user {user_id} does not exist")
