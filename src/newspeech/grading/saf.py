"""SAF (Short Answer Feedback, English, v2.0): exam answers marked with partial credit.

    uv run python -m newspeech.grading.saf [DATA_DIR]    # the split table

Data: ``../shared/research-data/saf-english`` beside the checkout (SOURCE.txt there gives the
provenance and licence), or any folder given as ``root``/``DATA_DIR``. It is not shipped.
One XML file per question: ``<questionText>``, one ``<referenceAnswer>`` and
``<studentAnswers>`` with ``<response>`` and ``<score>`` (points, partial credit).
Splits: ``training`` (26 questions), ``unseen_answers`` (new answers to those questions) and
``unseen_questions`` (5 questions not in training).

The maximum points are not in the files. SOURCE.txt lists them: 1 point, except for the seven
questions of :data:`MAX_POINTS`. A mark on NewSpeech's 0-10 scale is
``score / max points x 10`` (:attr:`SafAnswer.mark`).

Used by :mod:`newspeech.grading.fit` (the mark model is fitted on ``training`` only) and by
``bench.grading`` (which reports on ``unseen_answers`` and ``unseen_questions``).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from newspeech.grading.derive import derive_keywords
from newspeech.grading.protocols import GradingQuestion
from newspeech.grading.text import Analyser

DATA = Path(__file__).resolve().parents[4] / "shared" / "research-data" / "saf-english"
"""Where a checkout at ``<work>/<checkout>`` finds the shared copy."""
TRAINING = "training"
UNSEEN_ANSWERS = "unseen_answers"
UNSEEN_QUESTIONS = "unseen_questions"
SPLITS = (TRAINING, UNSEEN_ANSWERS, UNSEEN_QUESTIONS)
MAX_POINTS: dict[str, float] = {
    "1.2": 2.0,
    "1.6": 2.5,
    "2.4": 3.5,
    "4.3": 0.5,
    "5.7": 2.5,
    "5.11": 0.5,
    "5.12": 1.5,
}
"""The questions not marked out of 1 point (SOURCE.txt, "SCORE SCALE")."""


@dataclass(frozen=True)
class SafAnswer:
    id: str
    text: str
    score: float
    """Points as given by the tutor."""
    fraction: float
    """``score`` over the question's maximum points, 0..1."""

    @property
    def mark(self) -> float:
        """The tutor's mark on the 0-10 scale (unrounded: SAF has quarter and eighth points)."""
        return 10.0 * self.fraction


@dataclass(frozen=True)
class SafQuestion:
    id: str
    text: str
    reference: str
    answers: tuple[SafAnswer, ...]

    def grading_question(self, analyser: Analyser) -> GradingQuestion:
        """The question as a bank would hold it, keywords derived from the reference."""
        return GradingQuestion(
            text=self.text,
            keywords=derive_keywords(self.text, self.reference, analyser),
            model_answer=self.reference,
        )


def _text(element: ET.Element | None) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def parse_question(path: Path) -> SafQuestion:
    root = ET.parse(path).getroot()
    question_id = root.get("id", path.stem)
    maximum = MAX_POINTS.get(question_id, 1.0)
    answers = []
    for element in root.iterfind("studentAnswers/studentAnswer"):
        score = float(_text(element.find("score")) or 0.0)
        answers.append(
            SafAnswer(
                id=element.get("id", ""),
                text=_text(element.find("response")),
                score=score,
                fraction=min(max(score / maximum, 0.0), 1.0),
            )
        )
    return SafQuestion(
        id=question_id,
        text=_text(root.find("questionText")),
        reference=_text(root.find("referenceAnswers/referenceAnswer")),
        answers=tuple(a for a in answers if a.text),
    )


def load_split(split: str, root: Path = DATA) -> list[SafQuestion]:
    """Every question of one split, in file-name order."""
    if split not in SPLITS:
        raise ValueError(f"unknown SAF split {split}")
    files = sorted((root / split).glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no SAF XML files in {root / split}")
    return [parse_question(path) for path in files]


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    print(f"{'split':<18} {'questions':>9} {'answers':>8} {'mean mark':>9}")  # noqa: T201
    for split in SPLITS:
        questions = load_split(split, root)
        marks = [a.mark for q in questions for a in q.answers]
        mean = sum(marks) / len(marks)
        print(f"{split:<18} {len(questions):>9} {len(marks):>8} {mean:>9.2f}")  # noqa: T201


if __name__ == "__main__":
    main()
