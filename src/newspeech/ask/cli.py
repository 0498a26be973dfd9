"""``newspeech ask grant-login NAME``: a database login of its own for questions.

It holds only the read-only role ``newspeech_ask`` (migration ``3a5c7e9b1d24``): on MariaDB
(whose ``SET ROLE`` adds privileges, so the application's login cannot be narrowed) a user
with the role as its default role; on PostgreSQL a LOGIN role, member of ``newspeech_ask``
without inheriting it (the runner assumes it per question). The password is read from
``NEWSPEECH_ASK_LOGIN_PASSWORD``, never from the command line. Name the login in
``NEWSPEECH_ASK_DATABASE_URL`` and questions run on it (docs/ask.md).
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING

from newspeech.ask.roles import READ_ONLY_ROLE
from newspeech.errors import UpstreamError, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from newspeech.config import Settings

PASSWORD_VARIABLE = "NEWSPEECH_ASK_LOGIN_PASSWORD"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
_HOST = re.compile(r"^[A-Za-z0-9.%_:-]{1,60}$")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ask = commands.add_parser("ask", help="asking the data: its read-only database login")
    actions = ask.add_subparsers(dest="ask_command", required=True)
    grant = actions.add_parser(
        "grant-login",
        help=f"create (or update) a login holding only the role {READ_ONLY_ROLE}; password "
        f"from {PASSWORD_VARIABLE}",
    )
    grant.add_argument("name", help="the login's name (lower-case letters, digits, _)")
    grant.add_argument("--host", default="%", help="MariaDB: the host it may connect from")


async def run(args: argparse.Namespace, settings: Settings) -> list[str]:
    """Do the command; the lines to print. Raises ``NewSpeechError`` subclasses."""
    name, host = args.name, args.host
    if not _NAME.match(name) or not _HOST.match(host):
        raise ValidationFailed("the name takes a-z, 0-9 and _ (up to 32); the host a host name")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if len(password) < 12 or "'" in password or "\\" in password:
        raise ValidationFailed(
            f"set {PASSWORD_VARIABLE} to the login's password (12 characters or more, no quotes"
            " or backslashes)"
        )
    # Imported here, not at the top: every ``newspeech`` command builds this parser.
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from newspeech.db.engine import create_engine

    engine = create_engine(settings)
    dialect = engine.dialect.name
    try:
        if dialect == "sqlite":
            raise ValidationFailed(
                "SQLite has no logins: questions already run on a read-only connection"
            )
        async with engine.begin() as connection:
            if dialect == "postgresql":
                await _postgresql(connection, name, password)
            else:
                await _mariadb(connection, name, host, password)
    except DBAPIError as exc:
        raise UpstreamError(
            f"the database refused (does role {READ_ONLY_ROLE} exist, may this user create "
            f"logins?): {exc.orig}"
        ) from exc
    except SQLAlchemyError as exc:
        raise UpstreamError(f"the database cannot be used: {exc}") from exc
    finally:
        await engine.dispose()
    return [
        f"login {name} holds only {READ_ONLY_ROLE}; questions use it when "
        f"NEWSPEECH_ASK_DATABASE_URL names it (the application's URL with this user and password)"
    ]


async def _postgresql(connection: AsyncConnection, name: str, password: str) -> None:
    from sqlalchemy import text

    exists = await connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}
    )
    verb = "ALTER" if exists.first() else "CREATE"
    await connection.exec_driver_sql(
        f"{verb} ROLE {name} LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE "
        f"PASSWORD '{password}'"
    )
    await connection.exec_driver_sql(f"GRANT {READ_ONLY_ROLE} TO {name}")


async def _mariadb(connection: AsyncConnection, name: str, host: str, password: str) -> None:
    account = f"'{name}'@'{host}'"
    await connection.exec_driver_sql(f"CREATE USER IF NOT EXISTS {account}")
    await connection.exec_driver_sql(f"ALTER USER {account} IDENTIFIED BY '{password}'")
    await connection.exec_driver_sql(f"GRANT {READ_ONLY_ROLE} TO {account}")
    await connection.exec_driver_sql(f"SET DEFAULT ROLE {READ_ONLY_ROLE} FOR {account}")
