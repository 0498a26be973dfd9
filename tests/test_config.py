from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from newspeech.app import create_app
from newspeech.config import load_settings, normalize_database_url
from newspeech.errors import ConfigurationError
from newspeech.kit.signing_key import SigningKeyError

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


def test_a_secret_is_generated_once_in_the_data_dir_and_reused(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path / "data")
    secret = first.token_secret()
    assert first.token_secret_created
    stored = tmp_path / "data" / "secret_key"
    assert stored.read_text().strip() == secret
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert len(secret) >= 64
    second = load_settings(data_dir=tmp_path / "data")  # the next start
    assert second.token_secret() == secret
    assert not second.token_secret_created
    assert load_settings(data_dir=tmp_path / "other").token_secret() != secret


def test_a_stored_secret_readable_by_others_is_tightened(tmp_path: Path) -> None:
    load_settings(data_dir=tmp_path).token_secret()
    stored = tmp_path / "secret_key"
    stored.chmod(0o644)
    load_settings(data_dir=tmp_path).token_secret()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_a_truncated_stored_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(SigningKeyError, match="shorter than 32"):
        load_settings(data_dir=tmp_path).token_secret()


def test_start_up_says_where_the_secret_lives(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newspeech")
    create_app(load_settings(data_dir=tmp_path, speech_enabled=False))
    line = next(r.getMessage() for r in caplog.records if "signed with" in r.getMessage())
    assert str(tmp_path / "secret_key") in line
    assert "rotate" in line


def test_result_emails_are_off_until_an_smtp_host_is_set(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert not settings.result_emails
    assert settings.smtp_security == "starttls"


def test_result_email_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEWSPEECH_SMTP_HOST", "smtp.college.example")
    monkeypatch.setenv("NEWSPEECH_SMTP_SECURITY", "tls")
    monkeypatch.setenv("NEWSPEECH_SMTP_USERNAME", "exams")
    monkeypatch.setenv("NEWSPEECH_SMTP_PASSWORD", "app-password")
    monkeypatch.setenv("NEWSPEECH_SMTP_SENDER", "NewSpeech Exams <exams@college.example>")
    monkeypatch.setenv("NEWSPEECH_PUBLIC_BASE_URL", "https://exams.college.example/")
    settings = load_settings(data_dir=tmp_path)
    assert settings.result_emails
    assert settings.smtp_port_or_default == 465
    assert settings.public_base_url == "https://exams.college.example"
    assert settings.smtp_password is not None
    assert "app-password" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"public_base_url": "https://x.example"}, "NEWSPEECH_SMTP_SENDER"),
        ({"smtp_sender": "exams@x.example"}, "NEWSPEECH_PUBLIC_BASE_URL"),
        (
            {"smtp_sender": "not an address", "public_base_url": "https://x.example"},
            "is not an e-mail address",
        ),
        (
            {"smtp_sender": "exams@x.example", "public_base_url": "exams.x.example"},
            "must be like https://",
        ),
        (
            {
                "smtp_sender": "exams@x.example",
                "public_base_url": "https://x.example",
                "smtp_username": "exams",
            },
            "NEWSPEECH_SMTP_PASSWORD",
        ),
        (
            {
                "smtp_sender": "exams@x.example",
                "public_base_url": "https://x.example",
                "smtp_security": "ssl",
            },
            "NEWSPEECH_SMTP_SECURITY",
        ),
    ],
)
def test_incomplete_result_email_settings_are_refused(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(data_dir=tmp_path, smtp_host="smtp.x.example", **overrides)


def test_empty_smtp_variables_from_compose_count_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """deploy/compose passes every SMTP variable, empty when not configured."""
    for name in ("SMTP_HOST", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_SENDER", "PUBLIC_BASE_URL"):
        monkeypatch.setenv(f"NEWSPEECH_{name}", "")
    assert not load_settings(data_dir=tmp_path).result_emails
    monkeypatch.setenv("NEWSPEECH_SMTP_HOST", "relay")
    monkeypatch.setenv("NEWSPEECH_SMTP_SENDER", "exams@college.example")
    monkeypatch.setenv("NEWSPEECH_PUBLIC_BASE_URL", "https://exams.college.example")
    settings = load_settings(data_dir=tmp_path)
    assert settings.result_emails
    assert (settings.smtp_username, settings.smtp_password) == (None, None)


def test_redis_keys_are_named_for_the_database_unless_a_namespace_is_set(tmp_path: Path) -> None:
    def prefix(url: str, **more: str) -> str:
        return load_settings(data_dir=tmp_path, database_url=url, **more).redis_prefix

    one = prefix("postgresql://app:secret@db.internal:5432/newspeech")
    assert one.startswith("newspeech:db-")
    assert one.endswith(":")
    # The same database through another driver spelling or login: the same installation.
    assert prefix("postgresql+asyncpg://other:pw@db.internal:5432/newspeech") == one
    assert prefix("postgresql://app:secret@db.internal:5432/college2") != one
    assert prefix("postgresql://app:secret@db2.internal:5432/newspeech") != one
    assert prefix("mysql://app:secret@db.internal:5432/newspeech") != one
    assert prefix("sqlite:///a/newspeech.db") != prefix("sqlite:///b/newspeech.db")
    named = prefix("sqlite:///a/newspeech.db", redis_namespace="college-a")
    assert named == "newspeech:college-a:"
    with pytest.raises(ConfigurationError, match="NEWSPEECH_REDIS_NAMESPACE"):
        prefix("sqlite:///a.db", redis_namespace="no spaces: or colons")
