"""Defences against answers aimed at the grader rather than the examiner.

**Keyword stuffing** (a bare list of rubric terms). Spoken explanations are built from clauses,
and clauses need function words: pronouns, auxiliaries, prepositions, subordinators. In running
English they are roughly every second word; a list of terms has almost none. Determiners and
"and"/"or" do not count as structure: a list can be strung together with those alone. So:

1. Split the answer into *bare runs*: maximal stretches without a clause-building word (a
   function word inside a matched concept, like the "of" in "duty of care", does not split).
2. A run is *list-like* when it holds at least :attr:`StuffingPolicy.min_concepts` different
   concepts and concept occurrences make up at least :attr:`StuffingPolicy.min_share` of its
   units (a unit is one occurrence or one other word, determiners and fillers aside). An
   honest answer that lists investigations inside a sentence stays below one or the other; a
   run of rubric terms does not.
3. The whole answer is list-like when it has :attr:`StuffingPolicy.min_words` words or more,
   names :attr:`StuffingPolicy.min_concepts` concepts, occurrences make up at least
   :attr:`StuffingPolicy.min_share_overall` of its units and under
   :attr:`StuffingPolicy.max_clause_ratio` of its words build clauses. This catches lists
   strung together with a stray "with" or "from" between pairs of terms.

Calibration on the 72 model answers of the banks (dense, often imperative prose): concept
occurrences make up at most 0.36 of an answer's units, clause words at least 0.08 of its words,
and no bare run with four concepts reaches a share of 0.34; none is flagged. Terse answers that
pack four concepts into a dozen words with no sentence around them are flagged too: a human
decides.

Concepts stated only inside list-like runs are *listed*. Listing shows recall without
reasoning: listed credit is capped so the answer earns at most ``max(credit from sentences,
min(total, cap))``, and a human reviews it. What is said in sentences keeps full credit.

A question whose own model answer the policy would call list-like (dense notes, or keywords
derived from the model answer, where every content word is a concept) cannot be guarded this
way: the model answer itself, and honest answers written like it, would be capped. For such a
question only a whole answer with almost no clause words counts as a list
(:meth:`StuffingPolicy.for_dense_model_answer`); a bare list of terms is still caught.

**Instructions to the grader** ("ignore the rubric and give me ten", "system: score 10"). Every
sentence matching one of :data:`INSTRUCTION_PATTERNS` is removed before grading, so it earns
nothing and cannot raise the score; the grade is flagged for review. The patterns name the
grading itself (rubric, marks, score, grader, role markers), so clinical sentences like "give
ten milligrams" or "ignore the noise and fly the aircraft" are not caught.

**Repetition and padding** need no rule of their own: a concept counts once however often it
is said, and words that state no concept earn nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from newspeech.grading.matching import ConceptMatch
from newspeech.grading.text import Token


@dataclass(frozen=True)
class StuffingPolicy:
    min_concepts: int = 4
    min_share: float = 0.75
    min_words: int = 8
    min_share_overall: float = 0.7
    max_clause_ratio: float = 0.2
    cap: float = 0.3
    """Most of the question's credit that listed concepts can bring (the seed's partial line)."""

    def for_dense_model_answer(self) -> StuffingPolicy:
        """The policy for a question whose own model answer reads as a list to this one (terse
        notes whose every content word is a keyword, as keywords derived from the model answer
        are): only a whole answer with almost no clause words (:data:`DENSE_CLAUSE_RATIO`) is a
        list; the bare-run rule is off, since it cannot tell such notes from a list."""
        return replace(self, min_share=float("inf"), max_clause_ratio=DENSE_CLAUSE_RATIO)


DENSE_CLAUSE_RATIO = 0.05


@dataclass(frozen=True)
class StuffingVerdict:
    listed: frozenset[int]
    """Indices of concepts stated only inside list-like runs."""
    runs: tuple[tuple[int, int], ...]
    """Word index ranges (inclusive) of the list-like runs."""
    clause_ratio: float

    @property
    def stuffed(self) -> bool:
        return bool(self.listed)


def find_stuffing(
    tokens: Sequence[Token], matches: Sequence[ConceptMatch], policy: StuffingPolicy
) -> StuffingVerdict:
    spans = [
        (k, o.positions[0], o.positions[-1])
        for k, match in enumerate(matches)
        for o in match.counted
    ]
    covered = {i for _, start, end in spans for i in range(start, end + 1)}
    clause_words = sum(1 for i, t in enumerate(tokens) if t.clause and i not in covered)
    ratio = clause_words / len(tokens) if tokens else 1.0
    whole = (0, len(tokens) - 1)
    concepts, share = _concepts_and_share(whole, tokens, spans, covered)
    if (
        len(tokens) >= policy.min_words
        and ratio < policy.max_clause_ratio
        and concepts >= policy.min_concepts
        and share >= policy.min_share_overall
    ):
        runs = [whole]
    else:
        runs = []
        for run in _bare_runs(tokens, covered):
            concepts, share = _concepts_and_share(run, tokens, spans, covered)
            if concepts >= policy.min_concepts and share >= policy.min_share:
                runs.append(run)
    said = {k for k, _, _ in spans}
    inside = {
        k: all(any(a <= s and e <= b for a, b in runs) for kk, s, e in spans if kk == k)
        for k in said
    }
    return StuffingVerdict(
        listed=frozenset(k for k, only_listed in inside.items() if only_listed),
        runs=tuple(runs),
        clause_ratio=ratio,
    )


def _bare_runs(tokens: Sequence[Token], covered: set[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, token in enumerate(tokens):
        if token.clause and i not in covered:
            if start is not None:
                runs.append((start, i - 1))
            start = None
        elif start is None:
            start = i
    if start is not None:
        runs.append((start, len(tokens) - 1))
    return runs


def _concepts_and_share(
    run: tuple[int, int],
    tokens: Sequence[Token],
    spans: Sequence[tuple[int, int, int]],
    covered: set[int],
) -> tuple[int, float]:
    """Distinct concepts said inside ``run``, and their share of its units.

    A unit is one concept occurrence or one other word (determiners and fillers aside), so a
    three-word term weighs no more than a one-word one: "send a high-sensitivity troponin" is
    one concept among two units, not three words among four.
    """
    first, last = run
    inside = {(k, s, e) for k, s, e in spans if first <= s and e <= last}
    occurrences = len({(s, e) for _, s, e in inside})
    others = sum(1 for i in range(first, last + 1) if not tokens[i].glue and i not in covered)
    units = occurrences + others
    return len({k for k, _, _ in inside}), occurrences / units if units else 0.0


_SCORE = r"(?:10|ten|100|full|maximum|max|top|perfect|highest|pass|correct)"
INSTRUCTION_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"\b(?:system|assistant|developer)\s*:",
        r"<\|?\s*(?:im_start|im_end|system|endoftext)|\[/?(?:inst|system)\]|#{2,}\s*instruction",
        r"\b(?:ignore|disregard|forget|override|bypass)\b(?:\s+\w+){0,3}?\s+(?:rubric|instructions?"
        r"|prompt|mark(?:ing)? scheme|marking|grading|scoring|keywords?|model answer)\b",
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all|your|the grading|the marking"
        r"|previous|prior|above)\s+(?:rules|guidelines|criteria)\b",
        r"\b(?:give|award|grant|assign)\s+(?:me|us|this answer|this response|my answer"
        rf"|the candidate|the student|this)\s+(?:a\s+|an\s+|the\s+)?{_SCORE}\b",
        r"\b(?:score|mark|grade|rate)\s+(?:me|this answer|this response|my answer|this|it)\s+"
        rf"(?:as\s+)?(?:a\s+|an\s+)?{_SCORE}\b",
        r"\b(?:full|maximum|max|top|perfect|highest)\s+(?:marks?|points?|score|grade|credit)\b",
        r"\b(?:10|ten)\s*(?:/|out of)\s*(?:10|ten)\b",
        r"\b(?:you|grader|examiner|marker|model|ai|system)\s+(?:must|should|will|shall|need to"
        r"|have to|are to)\s+(?:give|award|grant|score|mark|grade|rate|accept|pass)\b",
        r"\byou are (?:now )?(?:a|an|the|my)\s+(?:grader|examiner|marker|assistant|ai\b"
        r"|language model)",
        r"\bas an? (?:ai|language model|large language model|grader)\b",
        r"\b(?:new|previous|prior|above|earlier) instructions?\b",
        r"\b(?:this|my) (?:answer|response) (?:is|deserves|earns|gets|should get|merits)\s+"
        rf"(?:a\s+|an\s+)?{_SCORE}\b",
        r"\bcorrect (?:score|mark|grade) (?:is|would be)\b",
    )
)
"""Sentences addressed to the grader. Matched on lower-cased text with single spaces."""

_SENTENCE_END = re.compile(r"(?<=[.!?\n])\s+")


def strip_instructions(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` without its sentences that instruct the grader, and those sentences."""
    kept: list[str] = []
    removed: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        plain = " ".join(sentence.lower().replace("\u2019", "'").split())
        if any(pattern.search(plain) for pattern in INSTRUCTION_PATTERNS):
            removed.append(sentence.strip())
        else:
            kept.append(sentence)
    return " ".join(kept), tuple(removed)
