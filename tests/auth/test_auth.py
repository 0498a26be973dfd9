"""Sign-in, token expiry, refresh rotation and reuse detection, revocation, lockout."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from newspeech.auth.service import authenticate_access_token
from newspeech.config import Settings
from newspeech.errors import Unauthenticated
from newspeech.kit.passwords import needs_rehash
from newspeech.models import AuditLog, User
from tests.fixtures.api import Api
from tests.fixtures.factories import make_user
from tests.fixtures.world import PASSWORD, World, build_world


async def _world(api: Api) -> World:
    async with api.sessionmaker() as db:
        return await build_world(db)


async def _login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_login_by_name_or_email_returns_tokens_and_records_the_sign_in(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    by_name = await _login(client, world.student.username)
    by_email = await _login(client, world.student.email.upper())
    assert by_name.status_code == by_email.status_code == 200
    body = by_name.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"]["id"] == world.student.id
    me = await client.get("/auth/me", headers=_bearer(body))
    assert me.json()["username"] == world.student.username
    async with api.sessionmaker() as db:
        rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "auth.login")))
    assert [(r.user_id, r.status) for r in rows] == [(world.student.id, "success")] * 2


async def test_access_token_expires_after_its_lifetime(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.student.username)).json()
    api.clock.advance(minutes=14, seconds=59)
    assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 200
    api.clock.advance(seconds=1)
    expired = await client.get("/auth/me", headers=_bearer(tokens))
    assert expired.status_code == 401
    assert expired.json() == {"error": "unauthenticated", "detail": "access token expired"}


async def test_tampered_or_missing_tokens_are_401(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.student.username)).json()
    forged = tokens["access_token"][:-4] + (
        "AAAA" if not tokens["access_token"].endswith("AAAA") else "BBBB"
    )
    assert (
        await client.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401
    assert (await client.get("/auth/me")).status_code == 401
    refresh_as_access = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert (await client.get("/auth/me", headers=refresh_as_access)).status_code == 401


# The development default every earlier install signed its tokens with; it is public.
OLD_PUBLIC_SECRET = "newspeech-development-secret-do-not-use-in-production"


async def test_a_token_forged_with_the_old_public_secret_is_refused(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.admin.username)).json()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, OLD_PUBLIC_SECRET, algorithm="HS256")
    refused = await client.get("/users", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": 10**20},
        {"exp": float("inf")},
        {"exp": "tomorrow"},
        {"iat": -(10**20)},
        {"sub": str(10**30)},
        {"sub": "١٢"},  # Arabic-Indic digits: int() would accept them
        {"sid": 10**30},
        {"sid": True},
        {"sid": 0},
    ],
    ids=lambda bad: next(iter(bad)) + "=" + repr(next(iter(bad.values())))[:12],
)
async def test_signed_tokens_with_out_of_range_claims_are_401(
    api: Api, bad: dict[str, object]
) -> None:
    world = await _world(api)
    claims = {
        "sub": str(world.admin.id),
        "sid": 1,
        "role": "admin",
        "typ": "access",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    } | bad
    token = jwt.encode(claims, api.settings.token_secret(), algorithm="HS256")
    refused = await api.client().get("/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    first = (await _login(client, world.student.username)).json()
    api.clock.advance(minutes=20)
    second = (
        await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/auth/me", headers=_bearer(second))).status_code == 200

    replay = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # The whole sign-in session is gone: the rotated tokens stop working too.
    assert (await client.get("/auth/me", headers=_bearer(second))).status_code == 401
    again = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401
    async with api.sessionmaker() as db:
        reuse = (
            await db.scalars(select(AuditLog).where(AuditLog.action == "auth.refresh_reuse"))
        ).one()
    assert reuse.user_id == world.student.id


async def test_refresh_token_expires(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.student.username)).json()
    api.clock.advance(days=14, seconds=1)
    response = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401


async def test_logout_revokes_access_and_refresh_tokens(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.student.username)).json()
    other_device = (await _login(client, world.student.username)).json()
    assert (await client.post("/auth/logout", headers=_bearer(tokens))).status_code == 204
    assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 401
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    # Logout ends this sign-in only.
    assert (await client.get("/auth/me", headers=_bearer(other_device))).status_code == 200


async def test_password_change_revokes_every_session(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    one = (await _login(client, world.student.username)).json()
    two = (await _login(client, world.student.username)).json()
    change = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=_bearer(one),
    )
    assert change.status_code == 204
    for tokens in (one, two):
        assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 401
        refresh = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401
    assert (await _login(client, world.student.username)).status_code == 401
    assert (
        await _login(client, world.student.username, "a brand new passphrase")
    ).status_code == 200


async def test_password_change_needs_the_current_password_and_follows_the_policy(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    headers = await api.headers_for(world.student.id)
    wrong = await client.post(
        "/auth/password",
        json={"current_password": "not it", "new_password": "a brand new passphrase"},
        headers=headers,
    )
    assert wrong.status_code == 422
    for weak in ("short", "password1234", "aaaaaaaaaaaaaaaa", world.student.username + "1"):
        response = await client.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": weak},
            headers=headers,
        )
        assert response.status_code == 422, weak
        assert response.json()["error"] == "validation_failed"


async def test_deactivation_revokes_the_accounts_tokens(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.student.username)).json()
    admin = await api.headers_for(world.admin.id)
    assert (await client.delete(f"/users/{world.student.id}", headers=admin)).json()[
        "status"
    ] == "inactive"
    assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 401
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    assert (await _login(client, world.student.username)).status_code == 401
    # Reactivating does not bring old sessions back.
    await client.patch(f"/users/{world.student.id}", json={"status": "active"}, headers=admin)
    assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 401


async def test_three_failures_lock_the_account_until_it_expires_or_an_admin_unlocks(
    api: Api,
) -> None:
    world = await _world(api)
    attacker = api.client("203.0.113.1")
    for _ in range(3):
        assert (await _login(attacker, world.student.username, "wrong")).status_code == 401
    # The right password from elsewhere is refused while the account is locked.
    student = api.client("198.51.100.2")
    locked = await _login(student, world.student.username)
    assert locked.status_code == 429
    assert locked.json()["error"] == "rate_limited"
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60 + 1

    api.clock.advance(minutes=15, seconds=1)
    assert (await _login(student, world.student.username)).status_code == 200

    for _ in range(3):
        await _login(api.client("203.0.113.9"), world.student.username, "wrong")
    assert (await _login(student, world.student.username)).status_code == 429
    admin = await api.headers_for(world.admin.id)
    unlock = await api.client("192.0.2.1").post(f"/users/{world.student.id}/unlock", headers=admin)
    assert unlock.status_code == 204
    assert (await _login(student, world.student.username)).status_code == 200
    async with api.sessionmaker() as db:
        statuses = [
            r.status
            for r in await db.scalars(
                select(AuditLog).where(AuditLog.action == "auth.login").order_by(AuditLog.id)
            )
        ]
    assert statuses.count("failure") == 6
    assert statuses.count("locked") == 2


async def test_failures_from_one_address_lock_that_address(api: Api) -> None:
    world = await _world(api)
    sprayer = api.client("203.0.113.5")
    for name in ("nobody1", "nobody2", world.other_student.username):
        assert (await _login(sprayer, name, "wrong")).status_code == 401
    assert (await _login(sprayer, world.student.username)).status_code == 429
    # The accounts themselves are not locked for their owners elsewhere.
    assert (await _login(api.client("198.51.100.7"), world.student.username)).status_code == 200
    api.clock.advance(minutes=16)
    assert (await _login(sprayer, world.student.username)).status_code == 200


async def test_failures_outside_the_window_do_not_add_up(api: Api) -> None:
    world = await _world(api)
    client = api.client()
    for _ in range(2):
        await _login(client, world.student.username, "wrong")
    api.clock.advance(minutes=15)
    for _ in range(2):
        assert (await _login(client, world.student.username, "wrong")).status_code == 401
    assert (await _login(client, world.student.username)).status_code == 200


async def test_authenticate_access_token_for_the_websocket(api: Api, settings: Settings) -> None:
    world = await _world(api)
    client = api.client()
    tokens = (await _login(client, world.student.username)).json()
    async with api.sessionmaker() as db:
        user = await authenticate_access_token(
            db, settings, tokens["access_token"], now=api.clock()
        )
        assert user.id == world.student.id
        with pytest.raises(Unauthenticated):
            await authenticate_access_token(db, settings, "not-a-token", now=api.clock())
    await client.post("/auth/logout", headers=_bearer(tokens))
    async with api.sessionmaker() as db:
        with pytest.raises(Unauthenticated):
            await authenticate_access_token(db, settings, tokens["access_token"], now=api.clock())


async def test_a_hash_with_the_old_argon2_settings_still_signs_in_and_is_rehashed(api: Api) -> None:
    # Installs before docs/passwords.md hashed with argon2-cffi's default (64 MiB, t=3, p=4).
    old_hasher = PasswordHasher(memory_cost=65536, time_cost=3, parallelism=4)
    old_hash = old_hasher.hash(PASSWORD)
    async with api.sessionmaker() as db:
        user = await make_user(db)
        user.password_hash = old_hash
        await db.commit()
        username, user_id = user.username, user.id
    client = api.client()
    assert (await _login(client, username)).status_code == 200
    async with api.sessionmaker() as db:
        rehashed = await db.scalar(select(User.password_hash).where(User.id == user_id))
    assert rehashed is not None
    assert rehashed != old_hash
    assert "$m=19456,t=2,p=1$" in rehashed
    assert not needs_rehash(rehashed)
    assert (await _login(client, username)).status_code == 200  # the new hash verifies
    assert (await _login(client, username, "not the password")).status_code == 401
