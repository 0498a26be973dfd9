from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newspeech.db.base import Base, BigIntPK, Timestamps
from newspeech.models.enums import Difficulty, enum_column


class Question(Timestamps, Base):
    """One question of a college's bank, inside a numbered scenario (a short case).

    Seed columns plus ``scenario_description`` (the case the examiner reads before the scenario's
    questions) and ``model_answer`` (what a strong answer says; graders compare against it).
    ``keywords`` holds the structured concepts ``[{"term", "synonyms", "weight"}]``;
    ``expected_keywords`` the flat list of terms the seed's keyword matcher counts.
    """

    __tablename__ = "question_banks"
    __table_args__ = (
        UniqueConstraint("college_type", "scenario_id", "question_number"),
        Index("ix_question_banks_college_type", "college_type"),
        Index("ix_question_banks_scenario_id", "scenario_id"),
        Index("ix_question_banks_difficulty_level", "difficulty_level"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    college_type: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("college_types.code", onupdate="CASCADE", ondelete="RESTRICT"),
        nullable=False,
    )
    scenario_id: Mapped[int] = mapped_column(Integer, nullable=False)
    scenario_name: Mapped[str] = mapped_column(String(255), nullable=False)
    scenario_description: Mapped[str | None] = mapped_column(Text)
    question_number: Mapped[int] = mapped_column(Integer, nullable=False)
    question_text: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str | None] = mapped_column(String(100))
    difficulty_level: Mapped[Difficulty] = mapped_column(
        enum_column(Difficulty, "difficulty_level"), default=Difficulty.MEDIUM, nullable=False
    )
    keywords: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    expected_keywords: Mapped[list[str] | None] = mapped_column(JSON)
    model_answer: Mapped[str | None] = mapped_column(Text)
    max_score: Mapped[int] = mapped_column(Integer, default=10, nullable=False)
    min_score: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    answer_guidelines: Mapped[str | None] = mapped_column(Text)
