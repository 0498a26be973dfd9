"""`newspeech exam --user NAME` signs in itself: the client's sign-in against the real API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from newspeech.client.candidate import login_url, sign_in
from newspeech.errors import Unauthenticated
from tests.fixtures.api import Api
from tests.fixtures.cli import Newspeech
from tests.fixtures.world import PASSWORD, build_world
from tests.test_cli import run_cli


def _client(api: Api) -> httpx.AsyncClient:
    """A client on the app that ignores the host, so the URL sign_in builds is what is called."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app))
    api.clients.append(client)
    return client


@pytest.mark.parametrize(
    ("exam_url", "expected"),
    [
        ("ws://127.0.0.1:8000/ws/exam", "http://127.0.0.1:8000/api/v1/auth/login"),
        ("wss://exams.example.org/ws/exam", "https://exams.example.org/api/v1/auth/login"),
    ],
)
def test_the_sign_in_endpoint_is_found_from_the_exam_socket_url(
    exam_url: str, expected: str
) -> None:
    assert login_url(exam_url) == expected


async def test_signing_in_gives_a_token_the_api_accepts(api: Api) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    client = _client(api)
    token = await sign_in(
        "ws://127.0.0.1:8000/ws/exam", world.student.username, PASSWORD, client=client
    )
    me = await client.get(
        "http://127.0.0.1:8000/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.status_code == 200
    assert me.json()["username"] == world.student.username


async def test_a_wrong_password_is_refused_with_the_servers_reason(api: Api) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    with pytest.raises(Unauthenticated, match=f"sign-in as {world.student.username} refused"):
        await sign_in(
            "ws://127.0.0.1:8000/ws/exam",
            world.student.username,
            "wrong" + PASSWORD,
            client=_client(api),
        )


def test_the_command_signs_in_with_the_password_from_the_environment(tmp_path: Path) -> None:
    """No prompt (stdin is closed): the password is taken from NEWSPEECH_PASSWORD, and the
    command goes to the server's sign-in endpoint before it opens the exam socket. (The exam
    command from a shell.)"""
    answers = tmp_path / "answers"
    answers.mkdir()
    result = run_cli(
        "exam",
        "--user",
        "demo_student",
        "--answers",
        str(answers),
        "--url",
        "ws://127.0.0.1:9/ws/exam",
        data_dir=tmp_path,
        env={"NEWSPEECH_PASSWORD": "not-asked-for"},
    )
    assert result.returncode == 2, result.stderr
    assert "cannot sign in at http://127.0.0.1:9/api/v1/auth/login" in result.stderr
    assert "password for" not in result.stderr + result.stdout


def test_the_command_needs_a_user_or_a_token(tmp_path: Path, newspeech: Newspeech) -> None:
    result = newspeech("exam", "--answers", str(tmp_path))
    assert result.returncode == 2
    assert "one of the arguments --user --token is required" in result.stderr
