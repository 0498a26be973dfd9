"""What the examiner says and writes after grading, in the seed's pattern: the verdict
("Correct!", "Partially correct", "Incorrect"), then the model answer.

The spoken version has to start fast and end soon: a verdict of at most
:data:`SPOKEN_LEAD_WORDS` words (with at most two missed concepts and, when the answer goes to
review, one short sentence saying so), then the model answer cut to its first sentence, and that
sentence to its last clause boundary within :data:`SPOKEN_MODEL_WORDS` words. The written
version keeps everything: score, covered and missed concepts (most important first), why the
answer goes to review, and the whole model answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from newspeech.enums import FeedbackType
from newspeech.grading.protocols import Grade, ReviewReason

SPOKEN_LEAD_WORDS = 25
SPOKEN_MODEL_WORDS = 25
"""About eight seconds at a calm examiner's pace of ~3 words a second."""
MIN_SUMMARY_WORDS = 6

_VERDICT = {
    FeedbackType.CORRECT: "Correct! That covers the key points.",
    FeedbackType.PARTIAL: "Partially correct.",
    FeedbackType.INCORRECT: "Incorrect, I'm afraid.",
}
_MODEL_INTRO = {
    FeedbackType.CORRECT: "In short:",
    FeedbackType.PARTIAL: "A full answer would say:",
    FeedbackType.INCORRECT: "The answer I was looking for:",
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")
_CLAUSE_END = re.compile(r"[,;:]$")
_CONJUNCTIONS = frozenset(
    ["and", "but", "so", "because", "which", "while", "whereas", "although", "or", "then"]
)


def display_term(term: str, model_answer: str) -> str:
    """``term`` as the model answer writes it ("right-sided ECG", not "right-sided ecg")."""
    found = re.search(re.escape(term), model_answer, flags=re.IGNORECASE)
    return found.group() if found else term


def first_sentence(text: str, max_words: int = SPOKEN_MODEL_WORDS) -> str:
    """The model answer's opening: its first sentence (with the next ones while it has fewer
    than :data:`MIN_SUMMARY_WORDS` words, as in "Probably not."). A longer opening is cut at its
    last clause boundary within ``max_words``: after a comma or semicolon, or before a
    conjunction ("... committed to an aerodrome | and any change ..."), so what is spoken is
    a whole clause, never a clipped phrase."""
    sentences = _SENTENCE.split(" ".join(text.split()))
    taken: list[str] = []
    for sentence in sentences:
        if sentence:
            taken.append(sentence)
        if len(" ".join(taken).split()) >= MIN_SUMMARY_WORDS:
            break
    words = " ".join(taken).split()
    if len(words) <= max_words:
        return " ".join(words)
    for end in range(max_words, MIN_SUMMARY_WORDS - 1, -1):
        if _CLAUSE_END.search(words[end - 1]) or words[end].lower() in _CONJUNCTIONS:
            return " ".join(words[:end]).rstrip(",;:") + "."
    return " ".join(words[:max_words]) + "."


def _lead_in(sentence: str) -> str:
    """``sentence`` to follow a colon: "The cash ..." -> "the cash ...", but "ECG ..." stays."""
    first = sentence.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].islower():
        return sentence[0].lower() + sentence[1:]
    return sentence


def _join(items: Sequence[str], conjunction: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _review_note(reasons: Sequence[str]) -> str:
    if not reasons:
        return ""
    if list(reasons) == [ReviewReason.LOW_ASR_CONFIDENCE]:
        return "I may have misheard you, so an examiner will check the recording."
    return "An examiner will also review this answer."


def spoken_feedback(
    feedback_type: FeedbackType,
    *,
    missing: Sequence[str],
    model_answer: str,
    review_reasons: Sequence[str] = (),
) -> str:
    """Verdict, the most important missed concepts, a review note, then the model answer."""
    verdict = _VERDICT[feedback_type]
    hint = ""
    if feedback_type is FeedbackType.PARTIAL and missing:
        named = [display_term(term, model_answer) for term in missing[:2]]
        hint = f"You did not mention {_join(named, 'or')}."
    note = _review_note(review_reasons)
    if len(f"{verdict} {hint} {note}".split()) > SPOKEN_LEAD_WORDS:
        hint = ""  # long concept names: the written feedback lists them anyway
    parts = [part for part in (verdict, hint, note) if part]
    summary = first_sentence(model_answer)
    if summary:
        parts.extend((_MODEL_INTRO[feedback_type], _lead_in(summary)))
    return " ".join(parts)


def written_feedback(
    feedback_type: FeedbackType,
    *,
    score: int,
    max_score: int,
    matched: Sequence[str],
    missing: Sequence[str],
    model_answer: str,
    denied: Sequence[str] = (),
    review_reasons: Sequence[str] = (),
) -> str:
    """A few lines for the results page: score, covered, missed, review reasons, model answer."""
    verdict = {
        FeedbackType.CORRECT: "Correct",
        FeedbackType.PARTIAL: "Partially correct",
        FeedbackType.INCORRECT: "Incorrect",
    }[feedback_type]
    show = [display_term(term, model_answer) for term in matched]
    lines = [f"{verdict}: {score}/{max_score}."]
    if show:
        lines.append(f"Covered: {', '.join(show)}.")
    if missing:
        missed = ", ".join(display_term(term, model_answer) for term in missing)
        lines.append(f"Missed (most important first): {missed}.")
    if denied:
        said = ", ".join(display_term(term, model_answer) for term in denied)
        lines.append(f"Mentioned only as not applying: {said}.")
    if review_reasons:
        lines.append(f"Sent for examiner review: {', '.join(review_reasons)}.")
    if model_answer.strip():
        lines.append(f"Model answer: {' '.join(model_answer.split())}")
    return "\n".join(lines)


def with_feedback(grade: Grade, model_answer: str, *, denied: Sequence[str] = ()) -> Grade:
    """``grade`` with its spoken and written feedback made from its verdict, score, concepts
    and review reasons (``denied``: concepts the answer denied, named in the written text)."""
    return replace(
        grade,
        spoken_feedback=spoken_feedback(
            grade.feedback_type,
            missing=grade.missing,
            model_answer=model_answer,
            review_reasons=grade.review_reasons,
        ),
        written_feedback=written_feedback(
            grade.feedback_type,
            score=grade.score,
            max_score=grade.max_score,
            matched=grade.matched,
            missing=grade.missing,
            model_answer=model_answer,
            denied=denied,
            review_reasons=grade.review_reasons,
        ),
    )
