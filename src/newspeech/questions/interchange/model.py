"""The format-neutral shape every importer produces and every exporter consumes.

A :class:`BankQuestion` is one ``question_banks`` row as data. Keywords reuse the bank files'
validated :class:`~newspeech.questions.banks.KeywordSpec`. ``scenario_id`` and ``question_number``
may be ``None`` after parsing a file that does not carry them; the import service assigns them
against what is already stored.

Keywords travel as one line of text in every format (a CSV cell, a Moodle grader-information
line, a GIFT comment)::

    inferior stemi (3) = STEMI | inferior MI; troponin (2); right coronary artery = RCA

``;`` separates keywords, ``=`` starts a keyword's synonyms, ``|`` separates synonyms and a
trailing ``(n)`` is the weight (1-3, default 1). Those five characters may not occur in a term.
A keyword derived from the model answer (not yet edited by an examiner) carries ``[derived]``
after its term and weight (``collision [derived]; not connected [derived]``), so a bank
exported and imported again keeps telling the examiner which keywords nobody has checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from newspeech.enums import Difficulty
from newspeech.grading.derive import derive_keywords
from newspeech.kit.ids import MAX_INT32
from newspeech.kit.text import check_plain_text, forbidden_character
from newspeech.questions.banks import KeywordSpec

COLLEGE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,49}$")
_RESERVED = re.compile(r"[;=|()]")
_TEXT_FIELDS = (
    "scenario_name",
    "scenario_description",
    "question_text",
    "category",
    "model_answer",
    "guidelines",
)
_STRIPPED = ("scenario_name", "question_text")
_CLEANED = ("scenario_description", "category", "model_answer", "guidelines")
_WEIGHT = re.compile(r"^(?P<term>.*?)\s*\((?P<weight>\d+)\)$")
_DERIVED = re.compile(r"\s*\[derived\]$", re.IGNORECASE)
DERIVED_MARK = "[derived]"
NOTHING_TO_GRADE_AGAINST = (
    "no keywords and no model answer: nothing to grade an answer against (add a model "
    "answer, in Moodle the general feedback, or keywords)"
)


class ImportFormat(StrEnum):
    GIFT = "gift"
    MOODLE_XML = "moodle-xml"
    CSV = "csv"


def check_keyword_text(text: str) -> str:
    """A keyword term or synonym as every write path takes it: one line of plain text without
    the characters the one-line keyword form uses (``; = | ( )``)."""
    if _RESERVED.search(text):
        raise ValueError(f"keyword {text!r} may not contain any of ; = | ( )")
    check_plain_text(text)
    return text


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


class BankQuestion(BaseModel):
    """One question as it travels between NewSpeech and a question-bank file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    college_type: str = Field(pattern=COLLEGE_CODE.pattern)
    scenario_id: int | None = Field(default=None, ge=1, le=MAX_INT32)
    scenario_name: str = Field(min_length=1, max_length=255)
    scenario_description: str | None = None
    question_number: int | None = Field(default=None, ge=1, le=MAX_INT32)
    question_text: str = Field(min_length=1)
    category: str | None = Field(default=None, max_length=100)
    difficulty: Difficulty = Difficulty.MEDIUM
    keywords: tuple[KeywordSpec, ...] = ()
    model_answer: str | None = None
    guidelines: str | None = None
    max_score: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _strip(cls, data: Any) -> Any:
        """Text without surrounding space; optional text that is only space is not given.
        One call per question (a validator per field was a fifth of a CSV import's parse)."""
        if not isinstance(data, dict):
            return data
        stripped = dict(data)
        for name in _STRIPPED:
            value = stripped.get(name)
            if isinstance(value, str):
                stripped[name] = value.strip()
        for name in _CLEANED:
            value = stripped.get(name)
            if isinstance(value, str):
                stripped[name] = _clean(value)
        return stripped

    @field_validator("keywords")
    @classmethod
    def _plain_keywords(cls, value: tuple[KeywordSpec, ...]) -> tuple[KeywordSpec, ...]:
        # One search over every term and synonym (the usual, clean case), then the one to blame.
        texts = "\n".join(text for keyword in value for text in (keyword.term, *keyword.synonyms))
        if _RESERVED.search(texts) is None and forbidden_character(texts) is None:
            return value
        for keyword in value:
            for text in (keyword.term, *keyword.synonyms):
                check_keyword_text(text)
        return value

    @model_validator(mode="after")
    def _plain_text(self) -> BankQuestion:
        texts = [(name, getattr(self, name)) for name in _TEXT_FIELDS]
        # One search over all the text (the usual, clean case), then the field to blame.
        if forbidden_character("\n".join(value for _name, value in texts if value)) is None:
            return self
        for name, value in texts:
            if value and (problem := forbidden_character(value)) is not None:
                raise ValueError(f"{name} {problem}")
        return self

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        return (self.college_type, self.scenario_id, self.question_number)

    def row(self) -> dict[str, Any]:
        """Values for the ``question_banks`` table (numbers must have been assigned)."""
        if self.scenario_id is None or self.question_number is None:
            raise ValueError("scenario_id and question_number must be assigned before storing")
        return self.row_at(self.scenario_id, self.question_number)

    def row_at(self, scenario_id: int, question_number: int) -> dict[str, Any]:
        """Values for the ``question_banks`` table, placed at the scenario and number given."""
        return {
            "college_type": self.college_type,
            "scenario_id": scenario_id,
            "scenario_name": self.scenario_name,
            "scenario_description": self.scenario_description,
            "question_number": question_number,
            "question_text": self.question_text,
            "category": self.category,
            "difficulty_level": self.difficulty,
            "keywords": [keyword.stored() for keyword in self.keywords],
            "expected_keywords": [keyword.term for keyword in self.keywords],
            "model_answer": self.model_answer,
            "answer_guidelines": self.guidelines,
            "max_score": self.max_score,
            "min_score": 0,
        }

    @classmethod
    def from_row(cls, row: Any) -> BankQuestion:
        """From a stored ``Question`` (or anything with its attributes)."""
        return cls(
            college_type=row.college_type,
            scenario_id=row.scenario_id,
            scenario_name=row.scenario_name,
            scenario_description=row.scenario_description,
            question_number=row.question_number,
            question_text=row.question_text,
            category=row.category,
            difficulty=row.difficulty_level,
            keywords=tuple(KeywordSpec.model_validate(k) for k in row.keywords or ()),
            model_answer=row.model_answer,
            guidelines=row.answer_guidelines,
            max_score=row.max_score,
        )


class IssueKind(StrEnum):
    ERROR = "error"
    SKIPPED = "skipped"
    WARNING = "warning"


@dataclass(frozen=True)
class ImportIssue:
    """Something about one item of the file; ``line`` is 1-based in the source file."""

    line: int
    kind: IssueKind
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind.value}: {self.message}"


@dataclass(frozen=True)
class ParsedQuestion:
    line: int
    question: BankQuestion


@dataclass
class ParseResult:
    """Every question a file yielded, and every problem, each with its line."""

    questions: list[ParsedQuestion] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[ImportIssue]:
        return [i for i in self.issues if i.kind is IssueKind.ERROR]

    @property
    def skipped(self) -> list[ImportIssue]:
        return [i for i in self.issues if i.kind is IssueKind.SKIPPED]

    def error(self, line: int, message: str) -> None:
        self.issues.append(ImportIssue(line, IssueKind.ERROR, message))

    def skip(self, line: int, message: str) -> None:
        self.issues.append(ImportIssue(line, IssueKind.SKIPPED, message))

    def warn(self, line: int, message: str) -> None:
        self.issues.append(ImportIssue(line, IssueKind.WARNING, message))

    def add(self, line: int, values: dict[str, Any]) -> None:
        """Validate ``values`` as a question; a failure becomes an error on ``line``."""
        try:
            question = BankQuestion.model_validate(values)
        except ValidationError as exc:
            self.error(line, describe_validation(exc))
            return
        if not question.keywords:
            if not question.model_answer:
                # Refused by the import unless the bank already holds it with either.
                self.warn(line, NOTHING_TO_GRADE_AGAINST)
                self.questions.append(ParsedQuestion(line, question))
                return
            derived = derived_keyword_specs(question.question_text, question.model_answer)
            question = question.model_copy(update={"keywords": derived})
            self.warn(
                line,
                f"no keywords: {len(derived)} derived from the model answer and marked "
                "[derived]; check them in the question editor",
            )
        self.questions.append(ParsedQuestion(line, question))


def derived_keyword_specs(question_text: str, model_answer: str) -> tuple[KeywordSpec, ...]:
    """Key concepts of ``model_answer`` (:func:`~newspeech.grading.derive.derive_keywords`),
    marked derived, within the interchange format's limits (no reserved characters)."""
    specs: dict[str, KeywordSpec] = {}
    for keyword in derive_keywords(question_text, model_answer):
        term = _RESERVED.sub(" ", keyword.term).strip()[:100]
        if term and term not in specs:
            specs[term] = KeywordSpec(term=term, derived=True)
    return tuple(specs.values())


def describe_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'question'}: {err['msg']}"
        for err in exc.errors()
    )


def format_keywords(keywords: tuple[KeywordSpec, ...] | list[KeywordSpec]) -> str:
    parts = []
    for keyword in keywords:
        text = keyword.term if keyword.weight == 1 else f"{keyword.term} ({keyword.weight})"
        if keyword.derived:
            text += f" {DERIVED_MARK}"
        if keyword.synonyms:
            text += " = " + " | ".join(keyword.synonyms)
        parts.append(text)
    return "; ".join(parts)


def parse_keywords(text: str) -> list[dict[str, Any]]:
    """The inverse of :func:`format_keywords`; raises ``ValueError`` on a malformed entry."""
    keywords: list[dict[str, Any]] = []
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        head, _, tail = entry.partition("=")
        head = head.strip()
        # The regular expressions only when the text can match them ("[derived]", "(n)").
        derived = "[" in head and _DERIVED.search(head) is not None
        if derived:
            head = _DERIVED.sub("", head)
        weight = 1
        match = _WEIGHT.match(head) if head.endswith(")") else None
        if match:
            head, weight = match["term"].strip(), int(match["weight"])
        if not head or "(" in head or ")" in head:
            raise ValueError(f"malformed keyword {entry!r}; expected 'term (weight) = syn | syn'")
        synonyms = [s.strip() for s in tail.split("|") if s.strip()] if tail else []
        keyword: dict[str, Any] = {"term": head, "synonyms": synonyms, "weight": weight}
        if derived:
            keyword["derived"] = True
        keywords.append(keyword)
    return keywords


# Moodle accepts only these answer grades (question_bank::fraction_options_full), as percentages.
_MOODLE_GRADES = (
    100.0, 90.0, 83.33333, 80.0, 75.0, 70.0, 66.66667, 60.0, 50.0, 40.0, 33.33333, 30.0, 25.0,
    20.0, 16.66667, 14.28571, 12.5, 11.11111, 10.0, 5.0, 0.0,
)  # fmt: skip


def check_moodle_grade(percent: float) -> str | None:
    """``None`` when ``percent`` is an allowed Moodle answer grade (or its negative), else why."""
    if any(abs(abs(percent) - allowed) < 0.01 for allowed in _MOODLE_GRADES):
        return None
    return (
        f"answer grade {percent:g}% is not an allowed Moodle grade "
        "(allowed: 100, 90, 83.33333, 80, 75, 70, 66.66667, 60, 50, 40, 33.33333, 30, 25, 20, "
        "16.66667, 14.28571, 12.5, 11.11111, 10, 5, 0 and their negatives)"
    )


@dataclass(frozen=True)
class CategoryTarget:
    college_type: str | None
    scenario_id: int | None
    scenario_name: str


_CONTEXT = re.compile(r"^\$(course|system|module|cat\d*)\$$")
_NUMBERED = re.compile(r"^(?P<id>\d+)\.\s+(?P<name>.+)$")
DEFAULT_SCENARIO = "General"


def map_category(path: str, college: str | None) -> CategoryTarget:
    """Moodle category path -> college and scenario.

    ``$course$/medical/2. Chest pain``: the context (``$course$``, ``$system$`` ...) is dropped;
    the first level is the college code unless ``college`` is given (then a first level equal to
    it is dropped and everything else is the scenario); the remaining levels, joined with
    `` / ``, name the scenario; a leading ``N. `` gives its id. No levels left: "General".
    """
    levels = [level.strip() for level in path.split("/") if level.strip()]
    if levels and _CONTEXT.match(levels[0]):
        levels = levels[1:]
    target_college = college
    if college is None:
        target_college = levels[0].lower() if levels else None
        levels = levels[1:]
    elif levels and levels[0].lower() == college:
        levels = levels[1:]
    name = " / ".join(levels) or DEFAULT_SCENARIO
    match = _NUMBERED.match(name)
    if match:
        return CategoryTarget(target_college, int(match["id"]), match["name"].strip())
    return CategoryTarget(target_college, None, name)


def college_problem(target: CategoryTarget, path: str) -> str | None:
    """Why the category gives no usable college, or ``None`` when it does."""
    if not target.college_type:
        return "no college: use a category $course$/<college>/... or --college"
    if not COLLEGE_CODE.match(target.college_type):
        return (
            f"category {path!r}: {target.college_type!r} is not a college code; "
            "use a category $course$/<college>/... or --college"
        )
    return None


def category_path(question: BankQuestion) -> str:
    """The category an exporter writes; :func:`map_category` reads it back unchanged."""
    prefix = f"{question.scenario_id}. " if question.scenario_id is not None else ""
    return f"$course$/{question.college_type}/{prefix}{question.scenario_name.replace('/', '-')}"


_NAME_NUMBER = re.compile(r"^Q(?P<n>\d+)\b")


def question_name(question: BankQuestion) -> str:
    """The Moodle question name an exporter writes: ``Q<number> <start of the text>``."""
    words = question.question_text.split()
    short = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
    return f"Q{question.question_number} {short}" if question.question_number else short


def number_from_name(name: str | None) -> int | None:
    match = _NAME_NUMBER.match(name.strip()) if name else None
    return int(match["n"]) if match else None


def shortanswer_values(answers: list[tuple[str, float]]) -> dict[str, Any]:
    """Moodle short-answer alternatives -> one keyword with synonyms.

    Answers worth more than 0 % are accepted alternatives; the first of the best becomes the term
    and the rest its synonyms. Partial credit has no equivalent in keyword grading, so it is kept
    as text in the guidelines. Catch-all wildcards (``*``) and 0 % answers are dropped.
    """
    accepted = [(text.strip(), grade) for text, grade in answers if grade > 0 and text.strip()]
    accepted = [(text, grade) for text, grade in accepted if "*" not in text]
    if not accepted:
        return {"keywords": ()}
    best = max(grade for _text, grade in accepted)
    term = next(text for text, grade in accepted if grade == best)
    synonyms = [text for text, _grade in accepted if text != term]
    values: dict[str, Any] = {"keywords": ({"term": term, "synonyms": synonyms, "weight": 1},)}
    if any(grade < 100 for _text, grade in accepted):
        credit = ", ".join(f"{text} {grade:g}%" for text, grade in accepted)
        values["guidelines"] = f"Moodle answer credit: {credit}."
    return values
