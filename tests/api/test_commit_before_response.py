"""A write is committed before its response starts: whatever the client does next with the
answer (use the token it was given on the exam socket, fetch what it created) finds it."""

from __future__ import annotations

import httpx
from starlette.types import Message, Receive, Scope, Send

from newspeech.auth.service import authenticate_access_token
from newspeech.errors import Unauthenticated
from tests.fixtures.api import Api
from tests.fixtures.world import PASSWORD, build_world


async def test_the_token_from_a_sign_in_works_the_moment_its_response_starts(api: Api) -> None:
    async with api.sessionmaker() as db:
        world = await build_world(db)
    checked: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body: list[bytes] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body"):
                    # The response is complete: a client holds the token now. Use it from
                    # another connection, as the exam socket would.
                    token = httpx.Response(200, content=b"".join(body)).json()["access_token"]
                    async with api.sessionmaker() as db:
                        try:
                            user = await authenticate_access_token(db, api.settings, token)
                            checked.append(user.username)
                        except Unauthenticated as exc:
                            checked.append(f"refused: {exc.detail}")
            await send(message)

        await api.app(scope, receive, watch)

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        response = await client.post(
            "/auth/login", json={"username": world.student.username, "password": PASSWORD}
        )
    assert response.status_code == 200
    assert checked == [world.student.username]
