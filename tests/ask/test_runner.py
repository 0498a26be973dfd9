"""The runner, the layer under the guards, on its own: given SQL the guards would never pass,
it still runs nothing longer than the timeout and writes nothing."""

from __future__ import annotations

import argparse

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from newspeech.ask import cli as ask_cli
from newspeech.ask.catalogue import physical_name
from newspeech.ask.guards import EVERY_ROW, RowFilter
from newspeech.ask.repository import ReadOnlyRunner
from newspeech.ask.roles import READ_ONLY_ROLE
from newspeech.config import Settings
from newspeech.errors import QueryRefused, QueryTimeout, ValidationFailed
from tests.ask.conftest import row_counts
from tests.conftest import CHECKOUT
from tests.fixtures.world import World

ADMIN = EVERY_ROW
ENDLESS = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT COUNT(*) FROM t"
# MariaDB stops recursion after max_recursive_iterations (1000); its sequence engine makes a
# cross join of a billion billion rows instead.
ENDLESS_MARIADB = "SELECT COUNT(*) FROM seq_1_to_1000000000 a, seq_1_to_1000000000 b"


def _view(engine: AsyncEngine, name: str) -> str:
    schema, physical = physical_name(engine.dialect.name, name)
    return f"{schema}.{physical}" if schema else physical


async def test_runs_a_read_of_the_views(engine: AsyncEngine, world: World) -> None:
    runner = ReadOnlyRunner(engine)
    found = await runner.run(
        f"SELECT college, passed FROM {_view(engine, 'results')} ORDER BY college", ADMIN
    )
    assert found.columns == ["college", "passed"]
    assert [row[0] for row in found.rows] == ["law", "medical"]


async def test_a_query_that_never_ends_is_stopped_at_the_timeout(engine: AsyncEngine) -> None:
    runner = ReadOnlyRunner(engine, timeout_seconds=0.5)
    with pytest.raises(QueryTimeout) as stopped:
        await runner.run(ENDLESS_MARIADB if engine.dialect.name == "mysql" else ENDLESS, ADMIN)
    assert stopped.value.code == "query_timeout"


@pytest.mark.parametrize("verb", ["delete", "update"])
async def test_writes_through_a_view_are_refused_by_the_database(
    verb: str, engine: AsyncEngine, world: World
) -> None:
    before = await row_counts(engine)
    colleges = _view(engine, "colleges")
    sql = {
        "delete": f"DELETE FROM {colleges}",
        "update": f"UPDATE {colleges} SET name = 'pwned'",
    }[verb]
    with pytest.raises(QueryRefused) as refused:
        await ReadOnlyRunner(engine).run(sql, ADMIN)
    assert refused.value.detail == "the database could not run this query"
    assert await row_counts(engine) == before


async def test_a_query_may_read_its_own_with_names_on_sqlite_too(engine: AsyncEngine) -> None:
    found = await ReadOnlyRunner(engine).run(
        "WITH t(n) AS (SELECT 1 UNION ALL SELECT 2) SELECT SUM(n) AS total FROM t", ADMIN
    )
    assert found.rows == [(3,)]


async def test_base_tables_are_out_of_reach_below_the_guards(
    backend: str, engine: AsyncEngine, world: World
) -> None:
    if backend == "mariadb":
        pytest.skip(
            "MariaDB's SET ROLE adds privileges: the application's login still reads base "
            "tables; a separate login holding only the role does not (test below)"
        )
    with pytest.raises(QueryRefused):
        await ReadOnlyRunner(engine).run("SELECT email FROM users", ADMIN)


async def test_postgresql_row_level_security_scopes_rows_without_the_rewrite(
    backend: str, engine: AsyncEngine, world: World
) -> None:
    """Below the guards' rewrite: SQL with no college filter, run for an examiner of medical,
    sees medical's rows only (migration b7d2e4f6a8c1)."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's row-level security")
    runner = ReadOnlyRunner(engine)
    medical = RowFilter(frozenset({"medical"}))
    for view in ("results", "answers", "exam_sessions", "item_statistics", "colleges"):
        found = await runner.run(f"SELECT DISTINCT college FROM ask.{view}", medical)
        assert found.rows == [("medical",)], view
    everyone = await runner.run("SELECT DISTINCT college FROM ask.results ORDER BY 1", ADMIN)
    assert everyone.rows == [("law",), ("medical",)]
    nobody = await runner.run("SELECT COUNT(*) FROM ask.answers", RowFilter(frozenset()))
    assert nobody.rows == [(0,)]
    hidden = await runner.run("SELECT COUNT(*) FROM ask.transcriptions", medical)
    assert hidden.rows == [(0,)]


async def test_a_mariadb_login_holding_only_the_role_reads_views_not_tables(
    backend: str, engine: AsyncEngine, settings: Settings, world: World
) -> None:
    """What NEWSPEECH_ASK_DATABASE_URL is for on MariaDB (docs/ask.md)."""
    if backend != "mariadb":
        pytest.skip("MariaDB's separate read-only login")
    login, password = f"ask_{CHECKOUT}", f"pw-{CHECKOUT}"
    async with engine.connect() as connection:
        await connection.execute(text(f"DROP USER IF EXISTS '{login}'@'127.0.0.1'"))
        await connection.execute(
            text(f"CREATE USER '{login}'@'127.0.0.1' IDENTIFIED BY '{password}'")
        )
        await connection.execute(text(f"GRANT {READ_ONLY_ROLE} TO '{login}'@'127.0.0.1'"))
        await connection.execute(
            text(f"SET DEFAULT ROLE {READ_ONLY_ROLE} FOR '{login}'@'127.0.0.1'")
        )
    url = make_url(settings.database_url).set(username=login, password=password)
    ask_engine = create_async_engine(url)
    try:
        runner = ReadOnlyRunner(ask_engine)
        found = await runner.run("SELECT COUNT(*) FROM ask_results", ADMIN)
        assert found.rows == [(2,)]
        with pytest.raises(QueryRefused):
            await runner.run("SELECT email FROM users", ADMIN)
    finally:
        await ask_engine.dispose()
        async with engine.connect() as connection:
            await connection.execute(text(f"DROP USER IF EXISTS '{login}'@'127.0.0.1'"))


async def test_grant_login_makes_a_login_that_reads_the_views_and_not_the_tables(
    backend: str,
    engine: AsyncEngine,
    settings: Settings,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``newspeech ask grant-login`` (what NEWSPEECH_ASK_DATABASE_URL names), run twice (the
    second time it updates the password); SQLite has no logins and says so."""
    name, password = f"ask_login_{CHECKOUT}", f"pw-{CHECKOUT}-long-enough"
    monkeypatch.setenv(ask_cli.PASSWORD_VARIABLE, password)
    args = argparse.Namespace(name=name, host="127.0.0.1")
    if backend == "sqlite":
        with pytest.raises(ValidationFailed, match="no logins"):
            await ask_cli.run(args, settings)
        return
    drop = (
        f"DROP ROLE IF EXISTS {name}"
        if backend == "postgresql"
        else (f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")
    )
    try:
        await ask_cli.run(args, settings)
        assert "holds only newspeech_ask" in (await ask_cli.run(args, settings))[0]
        url = make_url(settings.database_url).set(username=name, password=password)
        ask_engine = create_async_engine(url)
        try:
            runner = ReadOnlyRunner(ask_engine)
            found = await runner.run(f"SELECT COUNT(*) FROM {_view(engine, 'results')}", ADMIN)
            assert found.rows == [(2,)]
            with pytest.raises(QueryRefused):
                await runner.run("SELECT email FROM users", ADMIN)
        finally:
            await ask_engine.dispose()
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(drop))


async def test_grant_login_refuses_a_short_password_and_a_bad_name(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ask_cli.PASSWORD_VARIABLE, "short")
    with pytest.raises(ValidationFailed, match="12 characters"):
        await ask_cli.run(argparse.Namespace(name="ask_login", host="%"), settings)
    monkeypatch.setenv(ask_cli.PASSWORD_VARIABLE, "long enough password")
    with pytest.raises(ValidationFailed, match="the name"):
        await ask_cli.run(argparse.Namespace(name="x; DROP USER root", host="%"), settings)
