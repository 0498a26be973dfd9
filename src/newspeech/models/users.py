from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newspeech.db.base import Base, BigIntPK, Timestamps, UTCDateTime
from newspeech.models.enums import UserRole, UserStatus, enum_column

if TYPE_CHECKING:
    from newspeech.models.exams import ExamSession


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_role", "role"),
        Index("ix_users_college_type", "college_type"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    # The unique constraint's index serves the seed's idx_email.
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(
        enum_column(UserRole, "user_role"), default=UserRole.STUDENT, nullable=False
    )
    college_type: Mapped[str | None] = mapped_column(
        String(50), ForeignKey("college_types.code", onupdate="CASCADE", ondelete="RESTRICT")
    )
    status: Mapped[UserStatus] = mapped_column(
        enum_column(UserStatus, "user_status"), default=UserStatus.ACTIVE, nullable=False
    )
    last_login: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    exam_sessions: Mapped[list[ExamSession]] = relationship(
        back_populates="user", passive_deletes=True
    )


__all__ = ["User"]
