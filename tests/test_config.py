from __future__ import annotations

from pathlib import Path

import pytest

from newspeech.config import load_settings, normalize_database_url
from newspeech.errors import ConfigurationError

ALL_NAMES = (
    "DATABASE_URL",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_RECYCLE",
    "ENABLE_AUDIT_LOGS",
    "ENABLE_RESULT_CACHING",
    "CACHE_TTL_SECONDS",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"NEWSPEECH_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_defaults_match_the_seed(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'newspeech.db'}"
    assert settings.backend == "sqlite"
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pool_recycle) == (
        20,
        10,
        3600,
    )
    assert settings.db_pool_pre_ping
    assert settings.db_connect_timeout == 10
    assert settings.enable_audit_logs
    assert settings.enable_result_caching
    assert settings.cache_ttl_seconds == 300


def test_accepts_the_seed_documents_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:secret@db.internal:5432/newspeech")
    monkeypatch.setenv("DB_POOL_SIZE", "5")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "2")
    monkeypatch.setenv("DB_POOL_RECYCLE", "600")
    monkeypatch.setenv("ENABLE_AUDIT_LOGS", "false")
    monkeypatch.setenv("ENABLE_RESULT_CACHING", "false")
    monkeypatch.setenv("CACHE_TTL_SECONDS", "60")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://user:secret@db.internal:5432/newspeech"
    assert settings.backend == "postgresql"
    assert (settings.db_pool_size, settings.db_max_overflow, settings.db_pool_recycle) == (
        5,
        2,
        600,
    )
    assert not settings.enable_audit_logs
    assert not settings.enable_result_caching
    assert settings.cache_ttl_seconds == 60


def test_prefixed_name_wins_over_the_plain_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "5")
    monkeypatch.setenv("NEWSPEECH_DB_POOL_SIZE", "7")
    assert load_settings().db_pool_size == 7


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("mysql://u:p@h:3306/db", "mysql+aiomysql://u:p@h:3306/db"),
        ("mariadb://u@h/db", "mysql+aiomysql://u@h/db"),
        ("mysql+aiomysql://u@h/db", "mysql+aiomysql://u@h/db"),
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
    ],
)
def test_maps_plain_urls_to_async_drivers(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


def test_invalid_settings_give_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "zero")
    monkeypatch.setenv("DATABASE_URL", "oracle://scott:tiger@h/db")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = caught.value.detail
    assert "NEWSPEECH_DB_POOL_SIZE" in message
    assert "unsupported database scheme 'oracle'" in message
