"""Tables of authentication and authorisation: sign-in sessions with their rotating refresh
tokens, invitations, examiners' college assignments and login throttling."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, BigIntPK, CreatedAt, Timestamps, UTCDateTime
from newspeech.models.enums import UserRole, enum_column


class AuthSession(CreatedAt, Base):
    """One sign-in: the family of refresh tokens issued from one login.

    Access tokens name their family (``sid``); revoking the family (logout, password change,
    deactivation, refresh-token reuse) ends every token issued from it at once.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(50))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)


class RefreshToken(CreatedAt, Base):
    """One refresh token of a family, stored as a SHA-256 hash; usable once."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_auth_session_id", "auth_session_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    auth_session_id: Mapped[int] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Invitation(CreatedAt, Base):
    """A single-use, role-typed code a new user redeems to register (stored hashed)."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_created_by", "created_by"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[UserRole] = mapped_column(enum_column(UserRole, "invitation_role"), nullable=False)
    college_type: Mapped[str | None] = mapped_column(
        String(50), ForeignKey("college_types.code", onupdate="CASCADE", ondelete="CASCADE")
    )
    email: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ExaminerCollege(CreatedAt, Base):
    """An examiner's assignment to a college type: examiners see only assigned colleges."""

    __tablename__ = "examiner_colleges"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    college_type: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("college_types.code", onupdate="CASCADE", ondelete="CASCADE"),
        primary_key=True,
    )


class LoginThrottle(Timestamps, Base):
    """Failed sign-ins of one account (``user:<id>``) or client address (``ip:<addr>``)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
