"""The published views (migration 3a5c7e9b1d24) on every backend: they match the catalogue,
hold no secrets, and the read-only role may read them and nothing else."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from newspeech.ask.catalogue import CATALOGUE, VIEWS, physical_name
from newspeech.ask.roles import READ_ONLY_ROLE
from newspeech.db.migrations import downgrade, upgrade
from tests.fixtures.analysis_world import AnalysisWorld
from tests.fixtures.world import World


def _quoted(dialect: str, view: str) -> str:
    schema, name = physical_name(dialect, view)
    quote = "`" if dialect == "mysql" else '"'
    return f"{quote}{schema}{quote}.{quote}{name}{quote}" if schema else f"{quote}{name}{quote}"


async def test_catalogue_documents_every_column_of_every_view_in_order(
    engine: AsyncEngine, world: World
) -> None:
    async with engine.connect() as connection:
        for view in CATALOGUE:
            result = await connection.execute(
                text(f"SELECT * FROM {_quoted(engine.dialect.name, view.name)}")
            )
            assert list(result.keys()) == [c.name for c in view.columns], view.name


async def test_views_expose_marks_but_no_secrets(engine: AsyncEngine, world: World) -> None:
    async with engine.connect() as connection:
        answers = await connection.execute(
            text(f"SELECT college, score FROM {_quoted(engine.dialect.name, 'answers')}")
        )
        rows = {(college, score) for college, score in answers}
    assert rows == {("medical", 7), ("law", 7)}
    names = {c.name for view in CATALOGUE for c in view.columns}
    # Counts of a model's tokens are data; sign-in tokens, hashes and keys are not published.
    secret = re.compile(r"password|hash|secret|key|sha|token(?!s$)|parameters|error")
    assert not {n for n in names if secret.search(n)}


async def test_postgresql_role_reads_the_views_and_nothing_else(
    backend: str, engine: AsyncEngine, world: World
) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL's role; MariaDB's is granted to a separate login (docs/ask.md)")
    async with engine.connect() as connection:
        await connection.execute(text(f"SET ROLE {READ_ONLY_ROLE}"))
        unscoped = await connection.execute(text("SELECT COUNT(*) FROM ask.results"))
        assert unscoped.scalar() == 0  # row-level security: no scope set, no rows
        await connection.execute(text("SELECT set_config('newspeech.ask_all', 'on', true)"))
        found = await connection.execute(text("SELECT COUNT(*) FROM ask.results"))
        assert found.scalar() == 2
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text("SELECT email FROM users"))
        await connection.rollback()


async def test_mariadb_role_is_granted_select_on_the_views(
    backend: str, engine: AsyncEngine
) -> None:
    if backend != "mariadb":
        pytest.skip("MariaDB's role")
    async with engine.connect() as connection:
        grants = [
            row[0] for row in await connection.execute(text(f"SHOW GRANTS FOR {READ_ONLY_ROLE}"))
        ]
    granted = " ".join(grants)
    assert all(f"`ask_{view.name}`" in granted for view in CATALOGUE)
    assert "INSERT" not in granted
    assert "ALL PRIVILEGES" not in granted


ANALYSIS_VIEWS_REVISION = "f2b4d6a8c0e1"
NEW_VIEWS = ("report_runs", "job_stages", "report_outputs", "dictionaries")


async def _columns(engine: AsyncEngine, view: str) -> list[str] | None:
    async with engine.connect() as connection:
        try:
            result = await connection.execute(
                text(f"SELECT * FROM {_quoted(engine.dialect.name, view)} WHERE 1 = 0")
            )
        except DBAPIError:
            return None
        return list(result.keys())


async def _policy(engine: AsyncEngine, table: str) -> str | None:
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT qual FROM pg_policies WHERE tablename = :t AND policyname = 'ask_scope'"),
            {"t": table},
        )
        return found.scalar()


async def test_analysis_views_revision_downgrades_and_upgrades(
    engine: AsyncEngine, world: World, analysis: AnalysisWorld
) -> None:
    """Down: the four views go, reports loses the recording's columns, and (PostgreSQL)
    recording analysis is admin-only again; up: all back, with the stored rows."""
    postgresql = engine.dialect.name == "postgresql"
    assert postgresql is False or "ask_analysis" in (
        await _policy(engine, "analysis_reports") or ""
    )
    await downgrade(engine, f"{ANALYSIS_VIEWS_REVISION}-1")
    await engine.dispose()  # asyncpg's cached statements name the old views
    try:
        for view in NEW_VIEWS:
            assert await _columns(engine, view) is None, view
        assert (await _columns(engine, "reports") or [])[-1] == "created_at"
        if postgresql:
            assert "ask_all" in (await _policy(engine, "analysis_reports") or "")
            assert await _policy(engine, "analysis_llm_calls") is None
    finally:
        await upgrade(engine)
        await engine.dispose()
    for view in (*NEW_VIEWS, "reports"):
        documented = [c.name for c in VIEWS[view].columns]
        assert await _columns(engine, view) == documented, view
    async with engine.connect() as connection:
        reports = await connection.execute(
            text(f"SELECT COUNT(*) FROM {_quoted(engine.dialect.name, 'reports')}")
        )
        assert reports.scalar() == len(analysis.report_ids)
