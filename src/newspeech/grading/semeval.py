"""SemEval-2013 Task 7 (2-way): short student answers labelled correct or incorrect.

    uv run python -m newspeech.grading.semeval [DATA_DIR]    # the split table

Data: ``../shared/research-data/semeval2013-task7-2way`` beside the checkout (SOURCE.txt there
gives the provenance), or any folder given as ``root``/``DATA_DIR``. It is not shipped.
One XML file per question: ``<questionText>``, ``<referenceAnswers>`` (one for SciEntsBank,
several alternatives for Beetle) and ``<studentAnswers>`` with ``accuracy="correct|incorrect"``.
Training files sit directly in ``training/2way/<corpus>/``; test files in
``test/2way/<corpus>/<split>/`` where split is ``test-unseen-answers`` (new answers to training
questions), ``test-unseen-questions`` (new questions, same domains) or, for SciEntsBank only,
``test-unseen-domains`` (new science domains).

Used by :mod:`newspeech.grading.fit` (the hybrid grader's weights are fitted on ``training``
only) and by ``bench.grading`` (which reports on the test splits).

Keywords for a reference answer come from :func:`~newspeech.grading.derive.derive_keywords`
(the data has none), as for any question imported without keywords.

Each reference answer becomes its own :class:`GradingQuestion`; an answer's score is its best
score against any of them (Beetle's references are alternatives, not parts of one answer).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from newspeech.grading import GradingQuestion
from newspeech.grading.derive import derive_keywords
from newspeech.grading.text import Analyser

DATA = Path(__file__).resolve().parents[4] / "shared" / "research-data" / "semeval2013-task7-2way"
"""Where a checkout at ``<work>/<checkout>`` finds the shared copy."""
TRAINING = "training"
SPLITS: dict[str, tuple[str, ...]] = {
    "beetle": (TRAINING, "test-unseen-answers", "test-unseen-questions"),
    "sciEntsBank": (
        TRAINING,
        "test-unseen-answers",
        "test-unseen-questions",
        "test-unseen-domains",
    ),
}


@dataclass(frozen=True)
class ReferenceAnswer:
    id: str
    text: str
    category: str
    """Beetle's BEST / GOOD / MINIMAL; empty for SciEntsBank."""


@dataclass(frozen=True)
class StudentAnswer:
    id: str
    text: str
    correct: bool


@dataclass(frozen=True)
class SemEvalQuestion:
    id: str
    module: str
    text: str
    references: tuple[ReferenceAnswer, ...]
    answers: tuple[StudentAnswer, ...]


def split_dir(corpus: str, split: str, root: Path = DATA) -> Path:
    if split == TRAINING:
        return root / "training" / "2way" / corpus
    return root / "test" / "2way" / corpus / split


def _text(element: ET.Element | None) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def parse_question(path: Path) -> SemEvalQuestion:
    root = ET.parse(path).getroot()
    return SemEvalQuestion(
        id=root.get("id", path.stem),
        module=root.get("module", ""),
        text=_text(root.find("questionText")),
        references=tuple(
            ReferenceAnswer(r.get("id", ""), _text(r), r.get("category", ""))
            for r in root.iterfind("referenceAnswers/referenceAnswer")
        ),
        answers=tuple(
            StudentAnswer(a.get("id", ""), _text(a), a.get("accuracy") == "correct")
            for a in root.iterfind("studentAnswers/studentAnswer")
        ),
    )


def load_split(corpus: str, split: str, root: Path = DATA) -> list[SemEvalQuestion]:
    """Every question of one corpus split, in file-name order."""
    if split not in SPLITS.get(corpus, ()):
        raise ValueError(f"unknown split {corpus}/{split}")
    folder = split_dir(corpus, split, root)
    files = sorted(folder.glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no SemEval XML files in {folder}")
    return [parse_question(path) for path in files]


def grading_questions(question: SemEvalQuestion, analyser: Analyser) -> list[GradingQuestion]:
    """One grading question per reference answer."""
    return [
        GradingQuestion(
            text=question.text,
            keywords=derive_keywords(question.text, reference.text, analyser),
            model_answer=reference.text,
        )
        for reference in question.references
    ]


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    print(f"{'corpus':<12} {'split':<22} {'questions':>9} {'answers':>8} {'correct':>8}")
    for corpus, splits in SPLITS.items():
        for split in splits:
            questions = load_split(corpus, split, root)
            answers = [a for q in questions for a in q.answers]
            correct = sum(a.correct for a in answers)
            print(f"{corpus:<12} {split:<22} {len(questions):>9} {len(answers):>8} {correct:>8}")


if __name__ == "__main__":
    main()
