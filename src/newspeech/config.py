"""Settings, read once from ``NEWSPEECH_*`` environment variables (or a ``.env`` file) and
passed down.

The seed documents' plain names (``DATABASE_URL``, ``DB_POOL_SIZE`` ...) are accepted too, so a user
following them gets a working setup; the ``NEWSPEECH_`` name wins when both are set.
"""

from __future__ import annotations

import hashlib
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from newspeech.errors import ConfigurationError
from newspeech.kit import signing_key

_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mysql+pymysql": "mysql+aiomysql",
    "mysql+mysqldb": "mysql+aiomysql",
    "mariadb+pymysql": "mysql+aiomysql",
    "mysql+aiomysql": "mysql+aiomysql",
    "mariadb+aiomysql": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}

Backend = Literal["sqlite", "postgresql", "mysql"]

# Secrets that were once published (a development default); refused wherever they are configured.
_PUBLIC_SECRETS = frozenset({"newspeech-development-secret-do-not-use-in-production"})


def normalize_database_url(url: str) -> str:
    """Map a plain or synchronous database URL onto the async driver NewSpeech uses.

    >>> normalize_database_url("postgresql://u:p@db/newspeech")
    'postgresql+asyncpg://u:p@db/newspeech'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(
            f"database URL {url!r} has no scheme; expected e.g. "
            "postgresql://user:password@host/db, mysql://user:password@host/db or sqlite:///path.db"
        )
    driver = _DRIVERS.get(scheme.lower())
    if driver is None:
        supported = ", ".join(sorted({s.split("+")[0] for s in _DRIVERS}))
        raise ValueError(f"unsupported database scheme {scheme!r}; supported: {supported}")
    return f"{driver}://{rest}"


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"NEWSPEECH_{name}", name)


class Settings(BaseSettings):
    """Everything a NewSpeech process can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSPEECH_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="serve: worker processes sharing the port (uvicorn's supervisor)",
    )
    serve_worker: bool = Field(
        default=False,
        description="set by 'serve --workers N' for its worker processes: the parent has "
        "stored the answer-audio spool, the workers leave it alone at start",
    )
    drain_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="on SIGTERM, how long running exams may take to reach the end of an answer",
    )

    database_url: str = Field(default="", validation_alias=_env("DATABASE_URL"))
    db_pool_size: int = Field(default=20, ge=1, le=1000, validation_alias=_env("DB_POOL_SIZE"))
    db_max_overflow: int = Field(
        default=10, ge=0, le=1000, validation_alias=_env("DB_MAX_OVERFLOW")
    )
    db_pool_recycle: int = Field(
        default=3600, ge=-1, description="seconds", validation_alias=_env("DB_POOL_RECYCLE")
    )
    db_pool_pre_ping: bool = Field(default=True, validation_alias=_env("DB_POOL_PRE_PING"))
    db_connect_timeout: float = Field(
        default=10.0, gt=0, le=300, validation_alias=_env("DB_CONNECT_TIMEOUT")
    )
    db_echo: bool = False
    exam_outage_wait_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="how long a live sitting waits for an unreachable database where it must "
        "(before its result, or with its in-memory buffer full) before it gives up",
        validation_alias=_env("EXAM_OUTAGE_WAIT_SECONDS"),
    )
    exam_outage_retry_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="seconds between a sitting's attempts to write what it holds in memory",
        validation_alias=_env("EXAM_OUTAGE_RETRY_SECONDS"),
    )
    sitting_lease_seconds: float = Field(
        default=15.0,
        ge=0.3,
        le=600,
        description="how long a running exam's hold on its sitting lasts unless renewed (every "
        "third of it): a loop taken over by a reconnect to another worker or node notices "
        "within a third of this at the latest",
        validation_alias=_env("SITTING_LEASE_SECONDS"),
    )
    exam_outage_held_answers: int = Field(
        default=12,
        ge=1,
        le=100,
        description="answers one sitting keeps in memory while the database is away",
        validation_alias=_env("EXAM_OUTAGE_HELD_ANSWERS"),
    )

    enable_audit_logs: bool = Field(default=True, validation_alias=_env("ENABLE_AUDIT_LOGS"))
    enable_result_caching: bool = Field(
        default=True, validation_alias=_env("ENABLE_RESULT_CACHING")
    )
    cache_ttl_seconds: int = Field(
        default=300, ge=0, le=86_400, validation_alias=_env("CACHE_TTL_SECONDS")
    )

    # Speech engines (offline by default; "openai" means any OpenAI-compatible server:
    # faster-whisper servers, vLLM, Ollama, llama.cpp, a cloud API).
    stt_engine: Literal["whisper", "openai"] = "whisper"
    whisper_model: Literal["tiny.en", "base"] = "tiny.en"
    whisper_compute_type: Literal["int8", "int8_float32", "float32"] = "int8"
    # Beam 5: key terms heard on the espeak voice 93.2 -> 95.3 % with the 96-token hotword budget
    # (newspeech.voice.stt.HOTWORD_TOKENS; `scripts/bench terms`), Piper 97.7 -> 98.1 %, for 12 %
    # more CPU per decode of a 4.6 s answer and 22 % of a 20.5 s one (`scripts/bench terms_cpu`).
    whisper_beam_size: int = Field(default=5, ge=1, le=10)
    tts_engine: Literal["piper", "espeak", "openai"] = "piper"
    espeak_voice: str = "en-us"
    speech_api_url: str | None = Field(
        default=None, description="base URL of an OpenAI-compatible server, e.g. http://gpu:8000/v1"
    )
    speech_api_key: SecretStr | None = None
    stt_remote_model: str = "whisper-1"
    tts_remote_model: str = "tts-1"
    tts_remote_voice: str = "alloy"
    speech_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    speech_retries: int = Field(default=3, ge=0, le=10)
    inference_workers: int | None = Field(
        default=None, ge=1, le=256, description="inference threads; default one per core"
    )
    max_audio_seconds: float = Field(default=600.0, gt=0, le=7200)
    speech_enabled: bool = Field(
        default=True, description="load the speech engines at start-up (off for an API-only node)"
    )
    warm_up: bool = True

    # Turn-taking and barge-in (the real-time session loop; see newspeech.voice.session).
    vad_threshold: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="speech probability at which a frame counts as voiced, where no sitting "
        "says otherwise (a live sitting uses 1 - its configured vad_sensitivity)",
    )
    vad_start_seconds: float = Field(
        default=0.1, ge=0, le=2, description="voiced time before the student counts as speaking"
    )
    vad_stop_seconds: float = Field(
        default=0.2,
        gt=0,
        le=5,
        description="silence after speech before the turn model is asked (and decoding starts)",
    )
    turn_complete_threshold: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Smart Turn probability above which a pause ends the turn",
    )
    turn_incomplete_stop_seconds: float = Field(
        default=4.0,
        gt=0,
        le=60,
        description="max silence fallback: a pause the turn model calls unfinished ends the turn "
        "after this long anyway",
    )
    settle_min_seconds: float | None = Field(
        default=None,
        gt=0,
        le=60,
        description="keep the transcript of a stretch of an answer at least this long when the "
        "answer goes on after a pause, so later decodes hear only what follows (about 3.4x less "
        "decoding on paused answers, but higher word error: docs/protocol.md); unset: every "
        "decode hears the whole answer",
    )
    barge_in_min_ms: int = Field(
        default=300,
        ge=0,
        le=5000,
        description="student speech over the examiner this long interrupts it "
        "(shorter: a backchannel)",
    )
    tts_cache_entries: int = Field(
        default=256,
        ge=0,
        le=100_000,
        description="synthesized cacheable utterances kept per process",
    )
    tts_clause_cache_mb: int = Field(
        default=32,
        ge=0,
        le=4096,
        description="megabytes of synthesised clauses the Piper voice keeps per process, so a "
        "clause every student hears (a feedback's model-answer sentence) is synthesised once; 0 "
        "turns it off",
    )
    tts_disk_cache_mb: int = Field(
        default=512,
        ge=0,
        le=1_000_000,
        description="megabytes of synthesised questions, cases and fixed phrases kept on disk "
        "under the data directory (phrases/), shared by every process and kept across restarts; "
        "`newspeech voice prerender` fills it; 0 turns it off",
    )
    tts_lead_seconds: float = Field(
        default=0.12,
        ge=0,
        le=2,
        description="examiner audio sent ahead of real time (client jitter buffer)",
    )

    # Authentication (API tokens, sign-in throttling, passwords, invitations).
    secret_key: SecretStr | None = Field(
        default=None,
        description="signs access tokens (HS256), at least 32 characters; unset = a random secret "
        "generated on first start and kept in <data dir>/secret_key",
    )
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    login_max_failures: int = Field(default=3, ge=1, le=100, description="per account")
    login_max_failures_per_address: int = Field(default=3, ge=1, le=10_000)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=86_400)
    login_lockout_seconds: int = Field(default=900, ge=1, le=86_400)
    password_min_length: int = Field(default=12, ge=8, le=64)
    invitation_hours: int = Field(default=48, ge=1, le=24 * 30)

    # Recording analysis (issue 17): uploads and the task queue that transcribes them.
    analysis_max_upload_bytes: int = Field(
        default=2 * 1024**3, ge=1024, description="largest recording an analyst may upload"
    )
    analysis_max_seconds: float = Field(
        default=4 * 3600.0, gt=0, le=24 * 3600, description="longest recording, in seconds"
    )
    analysis_chunk_seconds: float = Field(
        default=600.0,
        ge=10.0,
        le=600.0,
        description="longest piece a recording is cut into at silences before transcription",
    )
    analysis_worker_cores: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="cores `newspeech worker` transcribes on: a Whisper decoder (one thread) on "
        "each, shared among the jobs it runs at once; default every core it may use. "
        "`newspeech serve` decodes a recording's windows one at a time on one core, leaving the "
        "rest to live exams",
    )
    analysis_audio_link_seconds: int = Field(
        default=900,
        ge=10,
        le=24 * 3600,
        description="how long a signed link to a recording's audio (what the analyst page's "
        "player streams from) stays valid",
    )
    analysis_stage_attempts: int = Field(
        default=3, ge=1, le=20, description="tries of a job stage before the job fails"
    )
    analysis_retry_seconds: float = Field(
        default=5.0, ge=0, le=3600, description="back-off before a stage's first retry; doubles"
    )
    analysis_stage_timeout_seconds: float = Field(
        default=1800.0, gt=0, le=24 * 3600, description="time limit of one job stage"
    )
    analysis_llm_context_tokens: int = Field(
        default=8192,
        ge=2048,
        le=2_000_000,
        description="context window of the LLM that runs report prompts; longer transcripts are "
        "read in parts and the answers combined",
    )
    analysis_llm_answer_tokens: int = Field(
        default=1500, ge=100, le=100_000, description="most tokens asked for one prompt's answer"
    )
    analysis_llm_timeout_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="time limit of one report prompt's LLM request"
    )
    broker_url: str | None = Field(
        default=None,
        description="taskiq broker for analysis jobs: redis:// (Redis Streams) or amqp:// "
        "(RabbitMQ), served by `newspeech worker`; unset: in-process inside `newspeech serve`",
    )
    broker_queue: str = Field(
        default="newspeech-analysis",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="the Redis stream or RabbitMQ queue of analysis jobs",
    )

    # Rate limiting of the whole API, per signed-in user and per client address, in fixed
    # one-minute windows; in Redis when a URL is set (shared by every process), else in-process.
    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    redis_namespace: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="names this installation's keys in Redis (statistics cache, rate limits), so "
        "installations can share a Redis database; unset = derived from the database's "
        "backend, host, port and name (every node of one installation must then name the "
        "database alike)",
    )
    rate_limit_enabled: bool = True
    rate_limit_per_user: int = Field(default=600, ge=1, description="requests per minute")
    rate_limit_per_address: int = Field(default=1200, ge=1, description="requests per minute")

    # Grading. "hybrid" (the default) needs no server; with NEWSPEECH_LLM_API_URL set it also
    # asks the LLM. "llm" grades with the LLM, bounded by and falling back to the hybrid grader.
    grader: Literal["hybrid", "keyword", "seed", "llm"] = "hybrid"
    llm_api_url: str | None = Field(
        default=None,
        description="base URL of an OpenAI-compatible chat server, e.g. http://gpu:8000/v1; "
        "unset = no LLM",
    )
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_response_format: Literal["json_schema", "json_object"] = "json_schema"
    # Asking the data (newspeech.ask): how long one question's query may run before the
    # database stops it (PostgreSQL statement_timeout, MariaDB max_statement_time, SQLite
    # progress handler).
    ask_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    # A separate login for questions, holding only the newspeech_ask role (docs/ask.md). Empty:
    # questions use the application's login (PostgreSQL still narrows it with SET ROLE;
    # MariaDB cannot, so there a separate login is what keeps base tables out of reach).
    ask_database_url: str = ""

    # Answer audio (docs/audio.md): every answer's recording, kept in a folder under the data dir
    # or in any S3-compatible store, for NEWSPEECH_AUDIO_RETENTION_DAYS (0 = forever).
    audio_store: Literal["local", "s3"] = "local"
    audio_dir: Path | None = Field(
        default=None, description="local store folder; default <data dir>/answer-audio"
    )
    audio_s3_endpoint_url: str | None = Field(
        default=None, description="e.g. http://minio:9000; unset = AWS S3"
    )
    audio_s3_bucket: str | None = None
    audio_s3_region: str = "us-east-1"
    audio_s3_access_key: str | None = None
    audio_s3_secret_key: SecretStr | None = None
    audio_s3_prefix: str = Field(default="answer-audio/", max_length=100)
    audio_s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    audio_s3_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    audio_retention_days: int = Field(
        default=365, ge=0, le=36_500, description="delete answer audio older than this; 0 = keep"
    )

    # Result e-mails (docs/operations.md, "Result e-mails"): off unless NEWSPEECH_SMTP_HOST is
    # set. When a sitting ends with a result, its student is mailed the result and, on a pass, a
    # signed link to the certificate, after the result has committed and off the exam's path.
    smtp_host: str | None = Field(
        default=None, description="SMTP server that sends result e-mails; unset = no e-mails"
    )
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65_535,
        description="unset = the security mode's usual port: 25 (none), 587 (starttls), 465 (tls)",
    )
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="starttls: upgrade a plain connection (required); tls: implicit TLS from the "
        "first byte; none: plain text (a relay on the same host or private network only)",
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str | None = Field(
        default=None,
        description="the From address, e.g. 'NewSpeech Exams <exams@college.example>'",
    )
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="time limit of one connection and its replies"
    )
    smtp_attempts: int = Field(
        default=4, ge=1, le=10, description="tries of one e-mail before it is given up"
    )
    smtp_retry_seconds: float = Field(
        default=10.0, ge=0, le=3600, description="back-off before a mail's first retry; doubles"
    )
    public_base_url: str | None = Field(
        default=None,
        description="the address students reach the app at, e.g. https://exams.college.example "
        "(links in e-mails are built on it); needed with NEWSPEECH_SMTP_HOST",
    )
    result_email_link_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="how long the certificate link in a result e-mail stays valid",
    )

    log_format: Literal["text", "json"] = Field(
        default="text",
        description="console logs of `serve`: text, or one JSON object a line with the request "
        "id and sitting",
    )

    # Monitoring (docs/operations.md): GET /metrics in the Prometheus text format. Open by default,
    # like most exporters (keep it on the private network); with a token set, a scrape must send
    # "Authorization: Bearer <token>"; disabled, the route answers 404 and nothing is measured.
    metrics_enabled: bool = Field(default=True, validation_alias=_env("METRICS_ENABLED"))
    metrics_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("METRICS_TOKEN"),
        description="bearer token for /metrics",
    )

    _token_secret: str | None = PrivateAttr(default=None)
    _token_secret_created: bool = PrivateAttr(default=False)

    @field_validator("database_url", "ask_database_url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        return normalize_database_url(value) if value else value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("BROKER_URL must start with redis://, rediss://, amqp:// or amqps://")
        return value or None

    @model_validator(mode="after")
    def _default_sqlite_file(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "newspeech.db").resolve()
            self.database_url = f"sqlite+aiosqlite:///{path}"
        return self

    @model_validator(mode="after")
    def _remote_engines_need_a_server(self) -> Settings:
        remote = [
            name
            for name, engine in (("STT_ENGINE", self.stt_engine), ("TTS_ENGINE", self.tts_engine))
            if engine == "openai"
        ]
        if remote and not self.speech_api_url:
            raise ValueError(
                f"NEWSPEECH_{' and NEWSPEECH_'.join(remote)}=openai needs NEWSPEECH_SPEECH_API_URL"
            )
        return self

    @model_validator(mode="after")
    def _a_configured_secret_is_strong(self) -> Settings:
        if self.secret_key is None:
            return self
        secret = self.secret_key.get_secret_value()
        if secret in _PUBLIC_SECRETS:
            raise ValueError(
                "NEWSPEECH_SECRET_KEY is a published development secret anyone can sign tokens "
                "with; unset it (a random one is generated in the data directory) or set a random "
                "secret (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if len(secret) < signing_key.MIN_LENGTH:
            raise ValueError(
                f"NEWSPEECH_SECRET_KEY must be at least {signing_key.MIN_LENGTH} characters"
            )
        return self

    @model_validator(mode="after")
    def _llm_grader_needs_a_server(self) -> Settings:
        if self.grader == "llm" and not self.llm_api_url:
            raise ValueError("NEWSPEECH_GRADER=llm needs NEWSPEECH_LLM_API_URL")
        return self

    @model_validator(mode="after")
    def _s3_audio_needs_a_bucket(self) -> Settings:
        if self.audio_store != "s3":
            return self
        if not self.audio_s3_bucket:
            raise ValueError("NEWSPEECH_AUDIO_STORE=s3 needs NEWSPEECH_AUDIO_S3_BUCKET")
        url = self.audio_s3_endpoint_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(
                f"NEWSPEECH_AUDIO_S3_ENDPOINT_URL {url!r} must start with http:// or https://"
            )
        if (self.audio_s3_access_key is None) != (self.audio_s3_secret_key is None):
            raise ValueError(
                "set both NEWSPEECH_AUDIO_S3_ACCESS_KEY and NEWSPEECH_AUDIO_S3_SECRET_KEY, or "
                "neither (then the AWS_* variables or the instance's role are used)"
            )
        prefix = self.audio_s3_prefix
        if prefix.startswith("/") or ".." in prefix or (prefix and not prefix.endswith("/")):
            raise ValueError(
                f"NEWSPEECH_AUDIO_S3_PREFIX {prefix!r} must be empty or like 'answer-audio/'"
            )
        return self

    @field_validator("smtp_host", "smtp_username", "smtp_sender", "public_base_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("smtp_password")
    @classmethod
    def _blank_password_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @model_validator(mode="after")
    def _result_emails_are_complete(self) -> Settings:
        if self.smtp_host is None:
            return self
        if self.smtp_sender is None:
            raise ValueError("NEWSPEECH_SMTP_HOST needs NEWSPEECH_SMTP_SENDER (the From address)")
        _, address = parseaddr(self.smtp_sender)
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise ValueError(
                f"NEWSPEECH_SMTP_SENDER {self.smtp_sender!r} is not an e-mail address "
                "(e.g. 'NewSpeech Exams <exams@college.example>')"
            )
        url = self.public_base_url
        if url is None:
            raise ValueError(
                "NEWSPEECH_SMTP_HOST needs NEWSPEECH_PUBLIC_BASE_URL (the address students reach "
                "the app at, for the certificate link)"
            )
        if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
            raise ValueError(
                f"NEWSPEECH_PUBLIC_BASE_URL {url!r} must be like https://exams.college.example"
            )
        self.public_base_url = url.rstrip("/")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError(
                "set both NEWSPEECH_SMTP_USERNAME and NEWSPEECH_SMTP_PASSWORD, or neither"
            )
        return self

    @property
    def result_emails(self) -> bool:
        """Whether a student is mailed their result (NEWSPEECH_SMTP_HOST is set)."""
        return self.smtp_host is not None

    @property
    def smtp_port_or_default(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return {"none": 25, "starttls": 587, "tls": 465}[self.smtp_security]

    def token_secret(self) -> str:
        """The secret access tokens are signed with: ``NEWSPEECH_SECRET_KEY``, else the one kept in
        the data directory (created on first use, then reused by every start)."""
        if self._token_secret is None:
            if self.secret_key is not None:
                self._token_secret = self.secret_key.get_secret_value()
            else:
                self._token_secret, self._token_secret_created = signing_key.load_or_create(
                    self.data_dir
                )
        return self._token_secret

    @property
    def token_secret_created(self) -> bool:
        """Whether ``token_secret()`` generated a new secret in this process."""
        return self._token_secret_created

    @property
    def token_secret_origin(self) -> str:
        """Where the token secret comes from, for the start-up log (never the secret itself)."""
        if self.secret_key is not None:
            return "NEWSPEECH_SECRET_KEY"
        return str((self.data_dir / signing_key.FILE_NAME).resolve())

    @property
    def audio_folder(self) -> Path:
        """Where the local store keeps answer audio."""
        return self.audio_dir or self.data_dir / "answer-audio"

    @property
    def phrases_folder(self) -> Path:
        """Where synthesised utterances are kept on disk (``PhraseStore``)."""
        return self.data_dir / "phrases"

    @property
    def models_dir(self) -> Path:
        """Where model files assembled from packages are kept (e.g. whisper base)."""
        return self.data_dir / "models"

    @property
    def redis_prefix(self) -> str:
        """What every key this installation keeps in Redis starts with:
        ``newspeech:<NEWSPEECH_REDIS_NAMESPACE>:``, else ``newspeech:db-<hash>:`` with a hash
        of the database's backend, host, port and name (never the credentials)."""
        namespace = self.redis_namespace
        if namespace is None:
            parts = urlsplit(self.database_url)
            where = f"{self.backend}://{parts.hostname or ''}:{parts.port or ''}{parts.path}"
            namespace = "db-" + hashlib.sha256(where.encode()).hexdigest()[:12]
        return f"newspeech:{namespace}:"

    @property
    def backend(self) -> Backend:
        scheme = self.database_url.split("://", 1)[0]
        if scheme.startswith("postgresql"):
            return "postgresql"
        if scheme.startswith("mysql"):
            return "mysql"
        return "sqlite"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's errors into one readable message per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"  NEWSPEECH_{field.upper()}: {error['msg']}")
        raise ConfigurationError("invalid settings:\n" + "\n".join(lines)) from exc
