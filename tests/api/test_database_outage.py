"""With the database unreachable the API answers 503 with Retry-After (never a bare 500), so
clients and load balancers know to try again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from newspeech.app import create_app
from newspeech.config import Settings
from tests.fixtures.databases import closed_port


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://nobody@127.0.0.1:{port}/gone",
        "mysql+aiomysql://root@127.0.0.1:{port}/gone",
    ],
    ids=["postgresql", "mariadb"],
)
async def test_sign_in_with_the_database_away_is_503_with_retry_after(
    tmp_path: Path, url: str
) -> None:
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=url.format(port=closed_port()),
        speech_enabled=False,
        rate_limit_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/api/v1/auth/login", json={"username": "someone", "password": "a password"}
            )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "database_unavailable"
