from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, Timestamps


class CollegeType(Timestamps, Base):
    """A kind of college whose students sit vivas (medical, law, ...).

    Data rather than a closed enum in code, so an admin can add one. The seed stored college type
    as a bare string on users, sessions, question_banks and results; those columns keep the seed's
    name and type and reference this table's ``code``.
    """

    __tablename__ = "college_types"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
