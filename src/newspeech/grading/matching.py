"""Finding a question's key concepts in an answer.

A concept (a :class:`~newspeech.grading.protocols.Keyword`) is said when any of its forms (term
or synonym) occurs in the answer and is not denied:

- Forms and answers are compared as Snowball stems after the same normalisation
  (:mod:`newspeech.grading.text`), so "delaying reperfusion" meets "delay reperfusion" and "V4R"
  meets "v4r" as a whole token, whatever its case.
- Multi-word forms match as phrases, in order. Between two of the form's content words the
  answer may put one extra word, plus as many as the form itself had function words there
  ("intention to create legal relations" ~ "intention to create any legal relations"); function
  words of the form are optional. A form of one content word plus function words ("I have
  control") is a fixed phrase: all its words are needed, so "control" alone is not enough.
  A phrase never runs across a sentence end, nor across a negation cue it does not contain.
- ASR slips: a content word of 5+ letters matches a word with the same first letter within one
  edit (two from 9 letters), so "vapor" ~ "vapour" and "hydroscopic" ~ "hygroscopic". Numbers,
  short words and abbreviations ("MI", "ECG") must match exactly; words differing in a
  contrastive prefix (hypo-/hyper-, intra-/inter-, pre-/post-) never match.
- Negation: an occurrence preceded within :data:`NEGATION_WINDOW` words by a negation cue
  ("not the left atrium", "I would never give nitrates", "ruled out an MI") is denied, unless
  punctuation or a contrastive word ("but", "because") comes between, or an "and" after which
  the occurrence is the subject of a new clause (an auxiliary or modal right after it): in
  "without warning and tailplane icing can cause a pitch", speech recognition having dropped
  the comma, "without" ends at "warning" (while "without warning and tailplane icing" is
  still denied whole). Forms that contain a cue
  themselves ("reperfusion not delayed") match the cue as written, any cue standing for any
  other. When the model answer itself names a concept under negation ("rule out a connection
  leak"), negation is how the concept is meant to be said, so it does not deny it.
- A cue split off a term is no cue: speech recognition writes "noradrenaline" as "no
  adrenaline" or "nor adrenaline". A one-word cue that, joined to the next word, is (or is an
  ASR slip of) a word of the question's keywords, synonyms or model answer is read as that
  term (:meth:`ConceptMatcher.tokens`), so it neither denies what follows nor hides the term.
  Unless the next word is itself one of those words: then the answer may really deny it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from newspeech.grading.protocols import GradingQuestion, Keyword
from newspeech.grading.text import (
    AUXILIARIES,
    FUNCTION_WORDS,
    NEGATION_CUES,
    SCOPE_TERMINATORS,
    Analyser,
    Token,
)

NEGATION_WINDOW = 4
"""Words before a concept searched for a negation cue (NegEx-style scope, kept short)."""

_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
CONTRASTIVE_PREFIXES = (("hypo", "hyper"), ("intra", "inter"), ("pre", "post"), ("sub", "super"))


@dataclass(frozen=True, slots=True)
class Pattern:
    """One form of a concept, compiled."""

    form: str
    stems: tuple[str, ...]
    gaps: tuple[int, ...]
    """``gaps[i]``: most answer words allowed between ``stems[i-1]`` and ``stems[i]``."""
    negated: bool
    """The form contains a negation cue ("reperfusion not delayed")."""


@dataclass(frozen=True)
class Concept:
    keyword: Keyword
    patterns: tuple[Pattern, ...]
    negation_allowed: bool


@dataclass(frozen=True)
class CompiledQuestion:
    question: GradingQuestion
    concepts: tuple[Concept, ...]
    fuzzy_vocabulary: tuple[str, ...]
    """Stems of the forms that may match an answer word fuzzily."""
    term_vocabulary: frozenset[str] = frozenset()
    """Stems of the words of the forms and the model answer (five letters or more): the terms
    a negation cue may have been split off."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    form: str
    positions: tuple[int, ...]
    similarity: float
    """1.0 when every word matched exactly; lower when an ASR slip was forgiven."""
    negated: bool
    owns_cue: bool = False
    """The form contains a negation cue, matched here ("interests not positions")."""


@dataclass(frozen=True)
class ConceptMatch:
    keyword: Keyword
    occurrences: tuple[Occurrence, ...]
    negation_allowed: bool

    @property
    def counted(self) -> tuple[Occurrence, ...]:
        """Occurrences that state the concept (not denied)."""
        return tuple(o for o in self.occurrences if self.negation_allowed or not o.negated)

    @property
    def matched(self) -> bool:
        return bool(self.counted)

    @property
    def denied(self) -> bool:
        """Said only under negation."""
        return bool(self.occurrences) and not self.counted


Candidates = Callable[[str], Sequence[tuple[int, float]]]


class ConceptMatcher:
    """Compiles questions and finds their concepts in token lists; stateless after building."""

    def __init__(self, analyser: Analyser) -> None:
        self.analyser = analyser

    def compile(self, question: GradingQuestion) -> CompiledQuestion:
        raw = [
            (keyword, tuple(p for form in keyword.forms for p in self._patterns(form)))
            for keyword in question.keywords
        ]
        vocabulary = sorted(
            {
                stem
                for _, patterns in raw
                for pattern in patterns
                for stem in pattern.stems
                if _fuzzy_eligible(stem)
            }
        )
        provisional = CompiledQuestion(
            question,
            tuple(Concept(keyword, patterns, negation_allowed=False) for keyword, patterns in raw),
            tuple(vocabulary),
        )
        model_tokens = self.analyser.tokens(question.model_answer)
        in_model = self.match(provisional, model_tokens)
        concepts = tuple(
            Concept(keyword, patterns, any(o.negated for o in found.occurrences))
            for (keyword, patterns), found in zip(raw, in_model, strict=True)
        )
        form_tokens = [
            t for k in question.keywords for f in k.forms for t in self.analyser.tokens(f)
        ]
        terms = frozenset(
            t.stem for t in [*form_tokens, *model_tokens] if not t.neg and _fuzzy_eligible(t.stem)
        )
        return CompiledQuestion(question, concepts, tuple(vocabulary), terms)

    def tokens(self, compiled: CompiledQuestion, answer: str) -> list[Token]:
        """``answer``'s tokens, with each negation cue that was split off one of the question's
        terms joined back to it ("no adrenaline" -> "noadrenaline", an ASR slip of
        "noradrenaline")."""
        tokens = self.analyser.tokens(answer)
        joined: list[Token] = []
        i = 0
        while i < len(tokens):
            if i + 1 < len(tokens) and self._split_off_term(tokens[i], tokens[i + 1], compiled):
                joined.append(self.analyser.joined(tokens[i], tokens[i + 1]))
                i += 2
            else:
                joined.append(tokens[i])
                i += 1
        return joined

    def _split_off_term(self, cue: Token, word: Token, compiled: CompiledQuestion) -> bool:
        """Whether ``cue`` is no negation but the start of a term the ASR wrote as two words."""
        if not cue.neg or " " in cue.text or word.brk or word.neg or word.text in FUNCTION_WORDS:
            return False
        if word.stem in compiled.term_vocabulary:
            return False  # "no adrenaline" where adrenaline is a term too: it may be denied
        whole = cue.text + word.text
        if whole in NEGATION_CUES or whole in FUNCTION_WORDS:
            return False  # "no body" -> "nobody" would be a cue again
        stem = self.analyser.stemmer.stem(whole)
        near = process.extract(
            stem, compiled.term_vocabulary, scorer=Levenshtein.distance, score_cutoff=2, limit=None
        )
        # Two short words joined come within an edit of a short term too easily ("no men" and
        # "nominal", stem "nomin"): a joined word may differ from a term only from 9 letters.
        return any(
            _slip(term, stem, int(distance)) and (distance == 0 or len(term) >= 9)
            for term, distance, _ in near
        )

    def _patterns(self, form: str) -> list[Pattern]:
        patterns = [self._pattern(form)]
        # ASR writes compounds either way: "lockout" / "lock out", "goaround" / "go-around".
        if "-" in form:
            patterns.append(self._pattern(_HYPHEN.sub("", form)))
        elif len(form.split()) == 2:
            patterns.append(self._pattern("".join(form.split())))
        return [p for p in patterns if p.stems]

    def _pattern(self, form: str) -> Pattern:
        tokens = self.analyser.tokens(form)
        core = [i for i, t in enumerate(tokens) if t.neg or not t.optional]
        if len(core) <= 1 and len(core) < len(tokens):
            core = list(range(len(tokens)))  # a fixed phrase: every word is needed
        gaps = tuple(0 if n == 0 else 1 + core[n] - core[n - 1] - 1 for n in range(len(core)))
        return Pattern(
            form=form,
            stems=tuple(tokens[i].stem for i in core),
            gaps=gaps,
            negated=any(t.neg for t in tokens),
        )

    def match(
        self, compiled: CompiledQuestion, tokens: Sequence[Token]
    ) -> tuple[ConceptMatch, ...]:
        candidates = _Index(tokens, compiled.fuzzy_vocabulary).candidates
        found = [
            [
                occurrence
                for pattern in concept.patterns
                for occurrence in _occurrences(pattern, tokens, candidates)
            ]
            for concept in compiled.concepts
        ]
        return tuple(
            ConceptMatch(concept.keyword, _cues_taken(n, found, tokens), concept.negation_allowed)
            for n, (concept, occurrences) in enumerate(zip(compiled.concepts, found, strict=True))
        )


class _Index:
    """Where each stem occurs in an answer, exactly or as a forgivable ASR slip."""

    def __init__(self, tokens: Sequence[Token], vocabulary: Sequence[str]) -> None:
        self.positions: dict[str, list[int]] = {}
        for i, token in enumerate(tokens):
            self.positions.setdefault(token.stem, []).append(i)
        answer_vocabulary = [s for s in self.positions if _fuzzy_eligible(s)]
        self.similar: dict[str, list[tuple[str, float]]] = {}
        for stem in vocabulary:
            for other, distance, _ in process.extract(
                stem, answer_vocabulary, scorer=Levenshtein.distance, score_cutoff=2, limit=None
            ):
                if distance and _slip(stem, other, int(distance)):
                    similarity = 1.0 - distance / max(len(stem), len(other))
                    self.similar.setdefault(stem, []).append((other, similarity))
        self._cache: dict[str, list[tuple[int, float]]] = {}

    def candidates(self, stem: str) -> Sequence[tuple[int, float]]:
        found = self._cache.get(stem)
        if found is None:
            found = [(p, 1.0) for p in self.positions.get(stem, ())]
            for other, similarity in self.similar.get(stem, ()):
                found.extend((p, similarity) for p in self.positions[other])
            found.sort()
            self._cache[stem] = found
        return found


def _cues_taken(
    concept: int, found: Sequence[Sequence[Occurrence]], tokens: Sequence[Token]
) -> tuple[Occurrence, ...]:
    """The concept's occurrences, each denied only by a cue no other concept has taken: in
    "no binding contract fresh offer" the "no" belongs to the form "no binding contract" and
    does not reach "fresh offer" (speech recognition often leaves out the comma between)."""
    taken = [
        o.positions
        for n, occurrences in enumerate(found)
        if n != concept
        for o in occurrences
        if o.owns_cue
    ]
    kept = []
    for occurrence in found[concept]:
        if occurrence.negated:
            cue = negation_cue(tokens, occurrence.positions)
            if cue is not None and any(cue in positions for positions in taken):
                occurrence = replace(occurrence, negated=False)
        kept.append(occurrence)
    return tuple(kept)


def _fuzzy_eligible(stem: str) -> bool:
    return len(stem) >= 5 and stem.isalpha()


def _slip(a: str, b: str, distance: int) -> bool:
    """Whether ``b`` may be an ASR misspelling of ``a`` at this edit distance."""
    shorter = min(len(a), len(b))
    allowed = 0 if shorter < 5 else 1 if shorter < 9 else 2
    if distance > allowed or a[0] != b[0]:
        return False
    return not any(
        (a.startswith(x) and b.startswith(y)) or (a.startswith(y) and b.startswith(x))
        for x, y in CONTRASTIVE_PREFIXES
    )


def _occurrences(
    pattern: Pattern, tokens: Sequence[Token], candidates: Candidates
) -> list[Occurrence]:
    found: list[Occurrence] = []
    last_end = -1
    for start, similarity in candidates(pattern.stems[0]):
        if start <= last_end:
            continue
        chain = _extend(pattern, tokens, candidates, [start], similarity)
        if chain is None:
            continue
        positions, worst = chain
        negated = not pattern.negated and negation_cue(tokens, positions) is not None
        found.append(Occurrence(pattern.form, positions, worst, negated, pattern.negated))
        last_end = positions[-1]
    return found


def _extend(
    pattern: Pattern,
    tokens: Sequence[Token],
    candidates: Candidates,
    chain: list[int],
    worst: float,
) -> tuple[tuple[int, ...], float] | None:
    n = len(chain)
    if n == len(pattern.stems):
        return tuple(chain), worst
    previous = chain[-1]
    for position, similarity in candidates(pattern.stems[n]):
        if position <= previous:
            continue
        if position > previous + 1 + pattern.gaps[n]:
            break
        between = tokens[previous + 1 : position + 1]
        if any(t.brk == 2 for t in between):
            break
        if not pattern.negated and any(t.neg for t in between[:-1]):
            break
        result = _extend(pattern, tokens, candidates, [*chain, position], min(worst, similarity))
        if result is not None:
            return result
    return None


def negation_cue(tokens: Sequence[Token], positions: Sequence[int]) -> int | None:
    """Index of a negation cue shortly before the occurrence at ``positions`` that reaches it."""
    j = positions[0]
    after_and = False
    for _ in range(NEGATION_WINDOW):
        if tokens[j].brk or j == 0:
            return None
        j -= 1
        if tokens[j].neg:
            return None if after_and and _opens_clause(tokens, positions[-1]) else j
        if tokens[j].text in SCOPE_TERMINATORS:
            return None
        after_and = after_and or tokens[j].text == "and"
    return None


def _opens_clause(tokens: Sequence[Token], last: int) -> bool:
    """Whether the words ending at ``last`` are a clause's subject: its verb comes next."""
    following = last + 1
    return (
        following < len(tokens)
        and not tokens[following].brk
        and tokens[following].text in AUXILIARIES
    )
