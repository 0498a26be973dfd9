"""``newspeech db seed``: reference data every installation needs, and optional demo accounts.

Idempotent: running it again adds what is missing and updates bank questions in place (answers
keep the question text they were given, so editing a question never rewrites history).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.auth.scope import set_assigned_colleges
from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.configuration.repository import ConfigurationRepository
from newspeech.configuration.values import SEED_DEFAULTS
from newspeech.kit.passwords import generate_password, hash_password
from newspeech.models import UserRole
from newspeech.questions.banks import BankSpec, load_banks
from newspeech.questions.repository import QuestionRepository
from newspeech.users.repository import UserRepository


@dataclass
class SeedReport:
    college_types: int = 0
    config_keys: int = 0
    questions_added: int = 0
    questions_updated: int = 0
    demo_accounts: list[tuple[str, str, str]] = field(default_factory=list)


async def seed_reference_data(db: AsyncSession, banks: list[BankSpec] | None = None) -> SeedReport:
    report = SeedReport()
    colleges = CollegeTypeRepository(db)
    configuration = ConfigurationRepository(db)
    await configuration.insert_defaults(SEED_DEFAULTS)
    report.config_keys = len(SEED_DEFAULTS)
    for bank in banks if banks is not None else load_banks():
        await colleges.get_or_create(
            bank.college_type, name=bank.name, description=bank.description
        )
        report.college_types += 1
        added, updated = await _upsert_questions(db, bank)
        report.questions_added += added
        report.questions_updated += updated
    return report


async def _upsert_questions(db: AsyncSession, bank: BankSpec) -> tuple[int, int]:
    questions = QuestionRepository(db)
    existing = {
        (q.scenario_id, q.question_number): q
        for q in await questions.for_college(bank.college_type)
    }
    new_rows, updated = [], 0
    for row in bank.question_rows():
        current = existing.get((row["scenario_id"], row["question_number"]))
        if current is None:
            new_rows.append(row)
            continue
        changed = {k: v for k, v in row.items() if getattr(current, k) != v}
        for key, value in changed.items():
            setattr(current, key, value)
        updated += bool(changed)
    await db.flush()
    return await questions.bulk_insert(new_rows), updated


DEMO_ACCOUNTS = (
    ("demo_student", "demo.student@newspeech.local", "Demo Student", UserRole.STUDENT, "medical"),
    (
        "demo_examiner",
        "demo.examiner@newspeech.local",
        "Demo Examiner",
        UserRole.EXAMINER,
        "medical",
    ),
    ("demo_admin", "demo.admin@newspeech.local", "Demo Administrator", UserRole.ADMIN, None),
    ("demo_analyst", "demo.analyst@newspeech.local", "Demo Analyst", UserRole.ANALYST, None),
)


async def seed_demo_accounts(db: AsyncSession) -> list[tuple[str, str, str]]:
    """Create (or reset the password of) one account per role.

    Returns ``(username, role, password)`` for each, to be shown once.
    """
    users = UserRepository(db)
    created = []
    for username, email, full_name, role, college in DEMO_ACCOUNTS:
        password = generate_password()
        user = await users.get_by_username(username)
        if user is None:
            user = await users.create(
                username=username,
                email=email,
                password_hash=hash_password(password),
                full_name=full_name,
                role=role,
                college_type=college,
            )
        else:
            user.password_hash = hash_password(password)
        if role is UserRole.EXAMINER and college is not None:
            # An examiner sees only assigned colleges: without this the demo examiner's
            # workspace (/examiner) would be empty.
            await set_assigned_colleges(db, user.id, [college])
        created.append((username, role.value, password))
    await db.flush()
    return created
