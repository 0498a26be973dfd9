"""With the database unreachable the API answers 503 with Retry-After (never a bare 500), so
clients and load balancers know to try again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.app import create_app
from newspeech.config import Settings
from tests.fixtures.databases import closed_port
from tests.fixtures.factories import FACTORY_PASSWORD, make_user
from tests.fixtures.tcp_proxy import proxy_to


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


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_database_cut_mid_service_gives_503_then_service_resumes(
    settings: Settings, db: AsyncSession, tmp_path: Path
) -> None:
    """Fault suite: a serving app whose PostgreSQL goes away (its pooled connections reset,
    new ones refused) answers sign-in and a signed-in read with 503 and Retry-After, and
    serves again as soon as the database is back. 5xx other than those 503s: none."""
    user = await make_user(db)
    await db.commit()
    async with proxy_to(settings.database_url) as proxy:
        served = settings.model_copy(
            update={
                "database_url": proxy.url_for(settings.database_url),
                "data_dir": tmp_path,
                "rate_limit_enabled": False,
            }
        )
        app = create_app(served)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                login = {"username": user.username, "password": FACTORY_PASSWORD}
                signed_in = await client.post("/api/v1/auth/login", json=login)
                assert signed_in.status_code == 200
                auth = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
                assert (await client.get("/api/v1/auth/me", headers=auth)).status_code == 200

                await proxy.cut()
                during = [
                    await client.post("/api/v1/auth/login", json=login),
                    await client.get("/api/v1/auth/me", headers=auth),
                ]
                await proxy.restore()
                after = await client.post("/api/v1/auth/login", json=login)
    assert [r.status_code for r in during] == [503, 503]
    assert all(r.headers["retry-after"] == "5" for r in during)
    assert all(r.json()["error"] == "database_unavailable" for r in during)
    assert after.status_code == 200
