from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, Timestamps
from newspeech.models.enums import ConfigValueType, enum_column


class ConfigEntry(Timestamps, Base):
    """A typed, admin-editable setting stored as text (seed's ``configuration`` table)."""

    __tablename__ = "configuration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The unique constraint's index serves the seed's idx_config_key.
    config_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    config_value: Mapped[str | None] = mapped_column(Text)
    value_type: Mapped[ConfigValueType] = mapped_column(
        enum_column(ConfigValueType, "config_value_type"),
        default=ConfigValueType.STRING,
        nullable=False,
    )
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
