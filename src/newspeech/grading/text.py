"""Spoken-answer text turned into tokens a keyword matcher can compare.

Transcripts and keyword forms go through the same steps, so whatever the normalisation does to
one it does to the other:

- Unicode NFKC, lower case, curly quotes made straight; initialisms lose their dots ("E.C.G." ->
  "ecg"); contractions are expanded ("isn't" -> "is not", "it's" -> "it is"); possessive "'s"
  goes; "%" and "per cent" become "percent"; thousands separators go ("4,000" -> "4000").
- "no-" compounds are joined ("no-fault" -> "nofault"): they name a thing, they deny nothing.
- Hyphens, slashes and other symbols split words ("right-sided" -> "right sided").
- Number words become digits ("one hundred and twenty" -> "120", "two point five" -> "2.5",
  "two and a half" -> "2.5"), so the spoken and the written number meet.
- Multi-word negation cues ("rule out", "rather than") become one negation token; phrases that
  only look negative ("not only", "no doubt") do not count as negation.
- Every word gets its Snowball English stem (cached, thread-safe) and its role: negation cue,
  clause-building function word, list glue, or a word a phrase may leave out.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import snowballstemmer  # type: ignore[import-untyped]


def _split(words: str) -> list[str]:
    return words.split()


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


NEGATION_CUES = _vocabulary(
    "not no never without none neither nor nothing nobody exclude excludes excluded excluding"
)
MULTIWORD_NEGATION_CUES: tuple[tuple[str, ...], ...] = (
    ("rule", "out"),
    ("rules", "out"),
    ("ruled", "out"),
    ("ruling", "out"),
    ("rather", "than"),
    ("instead", "of"),
    ("other", "than"),
)
PSEUDO_NEGATIONS: tuple[tuple[str, ...], ...] = (
    ("not", "only"),
    ("not", "just"),
    ("not", "to", "mention"),
    ("not", "sure"),
    ("no", "doubt"),
    ("no", "matter"),
    ("without", "doubt"),
    ("nothing", "but"),
)
"""Cue words that do not deny what follows ("not only X but Y" asserts X)."""

_PRONOUNS = "i me my mine we us our you your he him his she her it its they them their there"
_AUXILIARIES = (
    "is are was were be been being am do does did done have has had having will would shall "
    "should can could may might must ought"
)
_PREPOSITIONS = (
    "of in on at to for with by from into onto about over under above below between through "
    "after before during against towards toward until within via per across along around upon"
)
_SUBORDINATORS = (
    "because since so if when whenever while although though unless whether that which who but yet "
    "whom whose where why how what than as once"
)
AUXILIARIES = frozenset(_AUXILIARIES.split())
"""Auxiliaries and modals: a finite verb right after a noun makes that noun a clause's subject."""
CLAUSE_WORDS = (
    frozenset(f"{_PRONOUNS} {_AUXILIARIES} {_PREPOSITIONS} {_SUBORDINATORS}".split())
    | NEGATION_CUES
)
"""Function words that build clauses: pronouns, auxiliaries and modals, prepositions,
subordinators, negation. Sentences need them; a bare list of terms has almost none."""

GLUE_WORDS = _vocabulary(
    "a an the this these those some any each every all both either and or plus also then too "
    "well yes yeah okay ok um uh er erm hmm like just really very basically"
)
"""Determiners, coordinators and fillers: a list can be strung together with these alone."""

FUNCTION_WORDS = CLAUSE_WORDS | GLUE_WORDS

OPTIONAL_IN_PHRASES = _vocabulary(
    "a an the of to in on at for with by from as and or is are be was were been has have had "
    "i we you he she it they his her its their my our your this that these those"
)
"""Words a multi-word concept may drop or change ("intention to create legal relations" ~
"intention of creating legal relations"). Words that carry meaning in a phrase (below, above,
over, without, more, less) are not optional."""

SCOPE_TERMINATORS = _vocabulary(
    "but however although though yet whereas while except because so which who"
)
"""Words that end a negation's scope: in "not X but Y" the "not" does not reach Y."""

NEGATION = "<not>"
"""Stem given to every negation cue: in a keyword form, it stands for any cue."""

_UNITS = {
    word: value
    for value, word in enumerate(
        _split(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    word: 10 * value
    for value, word in enumerate(
        _split("twenty thirty forty fifty sixty seventy eighty ninety"), start=2
    )
}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}

_CONTRACTIONS = (
    (re.compile(r"\b(?:can't|cannot)\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"\b(it|that|there|here|what|who|he|she|where|how)'s\b"), r"\1 is"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"'s\b"), ""),
)
_INITIALISM = re.compile(r"\b(?:[a-z]\.){2,}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NO_COMPOUND = re.compile(r"\bno-(?=[a-z])")
_PERCENT = re.compile(r"%|\bper cent\b")
_TOKEN = re.compile(
    r"(?P<word>[a-z0-9]+(?:\.[0-9]+)?)|(?P<strong>[.!?;\n])|(?P<weak>[,:()\u2013\u2014]|\s-\s)"
)


@dataclass(frozen=True, slots=True)
class Token:
    """One word of normalised text."""

    text: str
    stem: str
    brk: int
    """Punctuation just before this word: 0 none, 1 comma-like, 2 sentence end."""
    neg: bool
    clause: bool
    glue: bool
    optional: bool


IRREGULAR_PLURALS: dict[str, str] = dict(
    pair.split(":", 1)
    for pair in _split(
        "gases:gas buses:bus lenses:lens stimuli:stimulus criteria:criterion "
        "analyses:analysis diagnoses:diagnosis children:child feet:foot women:woman men:man "
        "teeth:tooth mice:mouse axes:axis indices:index vertices:vertex matrices:matrix "
        "leaves:leaf halves:half knives:knife shelves:shelf radii:radius nuclei:nucleus "
        "bacteria:bacterium phenomena:phenomenon"
    )
)
"""Plurals Snowball does not bring back to their singular's stem ("gases" -> "gase")."""


class Stemmer:
    """Snowball English stems with a cache. Safe to share between threads: the Snowball
    object keeps per-call state, so stemming runs under a lock, and cache hits skip it."""

    def __init__(self, cache_limit: int = 100_000) -> None:
        self._stemmer = snowballstemmer.stemmer("english")
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._cache_limit = cache_limit

    def stem(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        singular = IRREGULAR_PLURALS.get(word, word)
        if len(singular) <= 3 or not singular.isalpha():
            result = singular
        else:
            with self._lock:
                result = str(self._stemmer.stemWord(singular))
        if len(self._cache) < self._cache_limit:
            self._cache[word] = result
        return result


def normalise(text: str) -> str:
    """Lower-cased text with contractions, initialisms, percent signs and separators evened."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _INITIALISM.sub(lambda m: m.group().replace(".", ""), text)
    text = _THOUSANDS.sub("", text)
    text = _NO_COMPOUND.sub("no", text)  # "no-fault", "no-go" are compounds, not negation
    text = _PERCENT.sub(" percent ", text)
    text = text.replace("&", " and ")
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[tuple[str, int]]:
    """``(word, break before it)`` pairs of normalised ``text``, numbers spelled as digits."""
    pairs: list[tuple[str, int]] = []
    pending = 0
    for match in _TOKEN.finditer(normalise(text)):
        if match.lastgroup == "word":
            pairs.append((match.group(), pending))
            pending = 0
        else:
            pending = max(pending, 2 if match.lastgroup == "strong" else 1)
    return _numbers_as_digits(pairs)


def _numbers_as_digits(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(pairs):
        parsed = _parse_number([word for word, _ in pairs[i : i + 12]])
        if parsed is None:
            out.append(pairs[i])
            i += 1
            continue
        value, used = parsed
        out.append((value, pairs[i][1]))
        i += used
    return out


def _parse_number(ahead: Sequence[str]) -> tuple[str, int] | None:
    """The number spelled at the start of ``ahead`` as digits, and how many words it used."""
    total, current, last, j = 0, 0, "", 0
    if len(ahead) > 1 and ahead[0] == "a" and ahead[1] in {"hundred", *_SCALES}:
        current, last, j = 1, "unit", 1
    while j < len(ahead):
        word = ahead[j]
        nxt = ahead[j + 1] if j + 1 < len(ahead) else ""
        if word in _UNITS:
            if last in {"unit", "teen"} or (last == "tens" and _UNITS[word] >= 10):
                break
            current += _UNITS[word]
            last = "teen" if _UNITS[word] >= 10 else "unit"
        elif word in _TENS:
            if last in {"unit", "teen", "tens"}:
                break
            current += _TENS[word]
            last = "tens"
        elif word == "hundred" and last in {"unit", "teen"}:
            current *= 100
            last = "hundred"
        elif word in _SCALES and last in {"unit", "teen", "tens", "hundred"}:
            total += current * _SCALES[word]
            current, last = 0, "scale"
        elif word == "and" and last in {"hundred", "scale"} and (nxt in _UNITS or nxt in _TENS):
            last = "and"
        else:
            break
        j += 1
    if j == 0 or last in {"", "and"}:
        return None
    digits = str(total + current)
    rest = ahead[j:]
    if len(rest) >= 2 and rest[0] == "point" and rest[1] in _UNITS and _UNITS[rest[1]] < 10:
        k = 1
        while k < len(rest) and rest[k] in _UNITS and _UNITS[rest[k]] < 10:
            k += 1
        return f"{digits}.{''.join(str(_UNITS[w]) for w in rest[1:k])}", j + k
    for half in (("and", "a", "half"), ("a", "half")):
        if tuple(rest[: len(half)]) == half:
            return f"{digits}.5", j + len(half)
    return digits, j


class Analyser:
    """Turns text into :class:`Token` lists; one per grader, shared by its threads."""

    def __init__(self, stemmer: Stemmer | None = None) -> None:
        self.stemmer = stemmer or Stemmer()

    def tokens(self, text: str) -> list[Token]:
        pairs = words(text)
        tokens: list[Token] = []
        i = 0
        while i < len(pairs):
            word, brk = pairs[i]
            ahead = tuple(w for w, _ in pairs[i : i + 3])
            pseudo = any(ahead[: len(p)] == p for p in PSEUDO_NEGATIONS)
            cue = next((c for c in MULTIWORD_NEGATION_CUES if ahead[: len(c)] == c), None)
            if cue is not None:
                tokens.append(self._token(" ".join(cue), brk, neg=True))
                i += len(cue)
                continue
            tokens.append(self._token(word, brk, neg=word in NEGATION_CUES and not pseudo))
            i += 1
        return tokens

    def joined(self, first: Token, second: Token) -> Token:
        """One word made of two that speech recognition split ("no" "adrenaline")."""
        return self._token(first.text + second.text, first.brk, neg=False)

    def _token(self, word: str, brk: int, *, neg: bool) -> Token:
        return Token(
            text=word,
            stem=NEGATION if neg else self.stemmer.stem(word),
            brk=brk,
            neg=neg,
            clause=neg or word in CLAUSE_WORDS,
            glue=word in GLUE_WORDS,
            optional=word in OPTIONAL_IN_PHRASES,
        )
