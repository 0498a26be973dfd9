from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.errors import Conflict
from newspeech.models import UserRole, UserStatus
from newspeech.users.repository import UserRepository
from tests.fixtures.factories import FACTORY_PASSWORD_HASH, make_college, make_user


async def test_creates_user_with_defaults_and_finds_it_by_id_email_and_username(
    db: AsyncSession,
) -> None:
    await make_college(db, "law")
    repo = UserRepository(db)
    user = await repo.create(
        username="asha",
        email="Asha@Example.org ",
        password_hash=FACTORY_PASSWORD_HASH,
        full_name="Asha Rao",
        college_type="law",
    )
    await db.commit()

    assert user.id is not None
    assert user.role is UserRole.STUDENT
    assert user.status is UserStatus.ACTIVE
    assert user.created_at.tzinfo is dt.UTC
    assert (await repo.get(user.id)) is user
    assert (await repo.get_by_email("asha@example.org")) is user
    assert (await repo.get_by_username("asha")) is user
    assert await repo.get(user.id + 1000) is None


async def test_lists_users_of_a_college_optionally_by_role(db: AsyncSession) -> None:
    student = await make_user(db, college_type="law")
    examiner = await make_user(db, college_type="law", role=UserRole.EXAMINER)
    await make_user(db, college_type="aviation")
    repo = UserRepository(db)

    assert [u.id for u in await repo.list_by_college("law")] == [student.id, examiner.id]
    assert [u.id for u in await repo.list_by_college("law", role=UserRole.EXAMINER)] == [
        examiner.id
    ]


async def test_updates_last_login(db: AsyncSession) -> None:
    user = await make_user(db)
    when = dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
    await UserRepository(db).update_last_login(user.id, when)
    await db.commit()
    await db.refresh(user)
    assert user.last_login == when


@pytest.mark.parametrize("field", ["username", "email"])
async def test_rejects_duplicate_username_or_email(db: AsyncSession, field: str) -> None:
    first = await make_user(db)
    await db.commit()
    names = {"username": "someone-else", "email": "else@example.org"}
    names[field] = getattr(first, field)

    with pytest.raises(Conflict, match="cannot create user"):
        await UserRepository(db).create(
            password_hash=FACTORY_PASSWORD_HASH, username=names["username"], email=names["email"]
        )


async def test_rejects_unknown_college_type(db: AsyncSession) -> None:
    with pytest.raises(Conflict):
        await UserRepository(db).create(
            username="x",
            email="x@example.org",
            password_hash=FACTORY_PASSWORD_HASH,
            college_type="astrology",
        )
