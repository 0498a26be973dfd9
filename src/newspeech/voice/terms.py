"""Reading a question's terms back into a transcript that misheard them.

whisper tiny.en writes a rare term as the common words that sound most like it: "ticagrelor" as
"ticket growl", "ketonaemia" as "catinemia", "ST elevation" as "SD elevation". Biasing the
decoder (the question and its terms as the prompt) helps, but not on every voice. What is left
is corrected here: a run of transcript words that *sounds* like one of the question's terms,
and does not already say it, is read as that term.

Sound is compared on a coarse phonetic key. Each word is turned into IPA by espeak-ng (the
phonemizer Piper already ships, so no new engine: its letter-to-sound rules read a misspelt
"catinemia" as it would be said), then folded: stress, length and diacritics dropped, vowels
and diphthongs to one vowel class, voiced and voiceless pairs (t/d, k/g, s/z ...) together.
Two keys are compared by normalised Levenshtein similarity (rapidfuzz).

A correction has to clear every guard, each from a false correction measured on other
questions' answers (``scripts/bench terms``):

- the decoder was unsure of the words that differ (probability below :data:`CONFIDENT`), or
  they sound exactly like a long term ("anesthetist", "full tables can"); without the
  decoder's probabilities only the latter is corrected;
- only the words that differ from the term are judged (a shared "elevation" does not carry
  "left" to "right"); they must sound alike on their own (:data:`MIN_SIMILARITY`, and at most
  :func:`allowed_distance` edits), and be as many words as the term's or more ("boiling" is
  not "blue line"), or fewer only when they sound exactly like a term of 8+ sounds and the
  decoder was unsure ("static portizing", "omididinsulin");
- words that sound only nearly like the term must keep most of its vowels
  (:data:`MAX_VOWEL_DISTANCE`): the coarse key holds one vowel for all, so "bodily" was one edit
  from "battery" and "fully reversed" two from "fillet radius";
- terms with a short key (``MI``, ``RCA``), numbers, and words differing in a contrastive
  prefix (hypo-/hyper- ...) are never corrected: their near neighbours are other real words;
- two exceptions are exact by construction and taken however sure the decoder was: an
  initialism of three or more letters said letter by letter, each heard word a letter's name
  ("I see you" for ICU; two letters are left, "see you" is too common), and a term heard split
  into more words with the same letters ("air flow sensor" for "airflow sensor"). Neither reads
  a run that already says one of the forms as another form;
- a word that is itself one of the question's words (its terms, synonyms, text or model
  answer) is taken as said, not as a mishearing of another term; the run does not start or
  end on a function word ("ticket growl is"), except a negation cue split off a term ("no
  adrenaline").

On the whole term set (3193 key terms said, both voices) this raised recall from 92.3 % to
93.7 % after biasing, with 0 corrections to a term that was not said on the answers' own
questions and 4 on the same transcripts corrected towards another college's question.

Re-measured at 4650754 (biased decoding, whole set): the two exact rules above raised recall after
correction from 95.2 % to 95.4 % (Piper 97.4 -> 97.6 %, espeak 92.9 -> 93.1 %: "I see you" for ICU
four times, "air flow sensor" twice, "l t b" once), with no false correction added on the item's
own question, another college's or the next question of its own college (2, 0 and 6, as before).

Re-measured on the espeak half (``scripts/bench terms --conditions biased --voices espeak``,
decoded on another CPU: 1481 of 1592 terms heard after correction with the rules above, false
corrections 2 own, 2 towards another college, 4 towards the next question of its own college).
The vowel gate (0.4) left recall as it was and took the false corrections to 2, 0 and 1; at 0.3 it
lost three terms ("thrombolic" for thrombolytic is 0.36 apart). Joining fewer words raised
recall to 1483 with no false correction added (with 6 sounds allowed it put "in cloud" for
"include" once). On the whole set (the Piper half decoded too, ``scripts/bench terms
--conditions biased``): recall 95.4 % (Piper 97.7 %, espeak 93.2 %), false corrections 3 own, 0
foreign, 1 near (3, 2 and 6 on the same decodes before).

The raw transcript is never changed: :class:`CorrectedTranscript` keeps it beside the corrected
text and the list of corrections, for the examiner to see.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from piper import voice as piper_voice
from piper.phonemize_espeak import EspeakPhonemizer
from rapidfuzz.distance import Levenshtein

from newspeech.grading.text import FUNCTION_WORDS, NEGATION_CUES
from newspeech.voice.protocols import Word

MIN_SIMILARITY = 0.8
"""Least similarity of the differing words' keys to the term's (0..1)."""
MIN_KEY_LENGTH = 5
"""Terms whose folded key is shorter are never corrected to: too many words sound like them."""
CONFIDENT = 0.6
"""Words the decoder wrote with at least this probability are taken as heard right: whisper
writes a term it misheard as words it was unsure of ("post-bone" 0.13, "catinemia" 0.6), while
a real word in another answer ("boiling", "protection") mostly comes out near 1. At 0.7 two
real words ("oxygen" 0.68, "taken" 0.67) were corrected to a term; at 0.6 two fewer terms were
heard on the whole set and none of those."""
SAME_SOUND_KEY_LENGTH = 6
"""Words that sound exactly like a term with a key this long are read as the term even when
heard with confidence."""
MAX_VOWEL_DISTANCE = 0.4
"""Words that sound only nearly like a term must also keep most of its vowels: at most this
share of edits between the two keys with vowels told apart by class. Measured with ``scripts/bench
terms`` (see the module docstring)."""
JOINED_KEY_LENGTH = 8
"""A term heard as fewer words needs a key this long: "include" sounds exactly like "in
cloud" (6 sounds), "omididinsulin" like "omitted insulin" (13)."""
MAX_EXTRA_WORDS = 2
"""A term of n words may be heard as up to n + 2 words ("ticagrelor" -> "tick a griller")."""
CONTRASTIVE_PREFIXES = (("hypo", "hyper"), ("intra", "inter"), ("pre", "post"), ("sub", "super"))
MIN_SPELLED_LETTERS = 3
"""Initialisms of at least this many letters are looked for as their letters' names said as
words ("I see you" for ICU). Two letters are too often two everyday words ("see you", "a
see")."""
_INITIALISM = re.compile(rf"[A-Z]{{{MIN_SPELLED_LETTERS},5}}")

_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*")
_STRESS_AND_LENGTH = str.maketrans("", "", "ˈˌːˑ‿ʲ'-")
_VOWELS = frozenset("aeiouyæɐɑɒɔəɘɛɜɞɤɨɪʉʊʌʏøœɶɯᵻɚɝ")
_VOWEL_CLASSES = {
    **dict.fromkeys("iɪᵻyʏ", "i"), **dict.fromkeys("eɛæœøɜɞɘ", "e"), **dict.fromkeys("aɑɒɐɶ", "a"),
    **dict.fromkeys("ɔoɤ", "o"), **dict.fromkeys("uʊʉɯ", "u"), **dict.fromkeys("əʌɚɝ", "ə"),
}  # fmt: skip
"""Vowels by rough place (front close, front open, open, back mid, back close, central)."""
_FOLD = {
    "b": "p", "d": "t", "ɡ": "k", "g": "k", "v": "f", "z": "s", "ʒ": "ʃ", "ð": "θ", "ɾ": "t",
    "ʔ": "t", "ɹ": "r", "ɻ": "r", "ŋ": "n", "ɫ": "l", "x": "k", "ç": "ʃ", "w": "", "j": "",
}  # fmt: skip
"""Consonants that whisper confuses (voicing) or that one accent says for another."""


@dataclass(frozen=True)
class Correction:
    """Words of the raw transcript (``start``..``end``, character offsets) read as ``term``."""

    heard: str
    term: str
    start: int
    end: int
    similarity: float
    probability: float | None = None
    """The decoder's least word probability over ``heard`` (None: not known)."""


@dataclass(frozen=True)
class CorrectedTranscript:
    raw: str
    text: str
    corrections: tuple[Correction, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.corrections)


class EspeakPhonetics:
    """Folded phonetic keys of words, from espeak-ng's en-us letter-to-sound rules.

    espeak-ng is one process-wide engine and not thread-safe; Piper drives the same engine for
    the examiner's voice under its module lock, so every call here takes that lock too.
    """

    def __init__(self, voice: str = "en-us", cache_size: int = 50_000) -> None:
        self.voice = voice
        with piper_voice._ESPEAK_PHONEMIZER_LOCK:
            if piper_voice._ESPEAK_PHONEMIZER is None:
                piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer()
            self._phonemizer = piper_voice._ESPEAK_PHONEMIZER
        self.key = functools.lru_cache(maxsize=cache_size)(self._key)
        self.vowel_key = functools.lru_cache(maxsize=cache_size)(self._vowel_key)

    def ipa(self, word: str) -> str:
        lock: threading.Lock = piper_voice._ESPEAK_PHONEMIZER_LOCK
        with lock:
            sentences = self._phonemizer.phonemize(self.voice, word)
        return "".join("".join(s) for s in sentences)

    def sounds(self, word: str) -> str:
        """The IPA of ``word`` without stress and length marks: exact sounds, not folded."""
        return _plain(self.ipa(word))

    def _key(self, word: str) -> str:
        return fold(self.ipa(_as_said(word)))

    def _vowel_key(self, word: str) -> str:
        """The key with its vowels told apart by class (:func:`fold` with ``vowels=True``)."""
        return fold(self.ipa(_as_said(word)), vowels=True)


def _as_said(word: str) -> str:
    if not any(c in "aeiouy" for c in word.lower()):
        return " ".join(word.upper())  # "ST", "SD": said letter by letter, not "street"
    return word


def _plain(ipa: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFD", ipa) if not unicodedata.combining(c)
    ).translate(_STRESS_AND_LENGTH)


def fold(ipa: str, *, vowels: bool = False) -> str:
    """IPA folded to the coarse key described in the module docstring; with ``vowels``, each
    vowel is kept as its class (:data:`_VOWEL_CLASSES`) instead of one vowel for all."""
    key: list[str] = []
    for c in _plain(ipa):
        if c in _VOWELS:
            # An r-coloured vowel (ɚ) is a vowel too: "-lor" is heard as "-ler", "-lo", "-l".
            vowel = _VOWEL_CLASSES.get(c, "ə") if vowels else "a"
            if not key or key[-1] != vowel:
                key.append(vowel)
        elif c.isalpha():
            folded = _FOLD.get(c, c)
            if folded and (not key or key[-1] != folded):
                key.append(folded)
    return "".join(key)


@dataclass(frozen=True)
class _Form:
    text: str
    words: tuple[str, ...]
    key: str
    spelled: str = ""
    """For an initialism ("ICU"): its letters' names, as sounds ("aɪsiːjuː" without marks)."""


@dataclass(frozen=True)
class _Span:
    text: str
    lower: str
    start: int
    end: int
    sentence: int
    probability: float | None = None


class TermCorrector:
    """Corrects transcripts towards one question's terms; stateless apart from caches."""

    def __init__(
        self,
        phonetics: EspeakPhonetics,
        *,
        confident: float = CONFIDENT,
        vowel_distance: float | None = MAX_VOWEL_DISTANCE,
        joined: bool = True,
    ) -> None:
        self.phonetics = phonetics
        self.confident = confident
        self.vowel_distance = vowel_distance
        self.joined = joined
        """Whether a term may be heard as fewer words that sound exactly like it."""

    def correct(
        self,
        text: str,
        terms: Iterable[str],
        *,
        vocabulary: Iterable[str] = (),
        words: Sequence[Word] = (),
    ) -> CorrectedTranscript:
        """``text`` with each run of words that sounds like one of ``terms`` (and says none of
        them) replaced by that term. ``vocabulary`` is text whose words count as said on
        purpose (the question, its model answer); ``words`` are the decoder's words of
        ``text`` with their probabilities (see :data:`CONFIDENT`), when known."""
        spans = _with_probabilities(_spans(text), words)
        forms = self._forms(terms)
        if not spans or not forms:
            return CorrectedTranscript(text, text)
        known = {w.lower() for w in _WORD.findall(" ".join(vocabulary))}
        known.update(w for form in forms for w in form.words)
        candidates = [c for form in forms for c in self._candidates(spans, form, known)]
        candidates += [c for form in self._initialisms(terms) for c in self._spelled(spans, form)]
        # Words that already say one of the forms are never read as another ("air flow" and
        # "airflow" may both be forms).
        said = {form.words for form in forms}
        candidates = [
            c for c in candidates if tuple(s.lower for s in spans[c[1] : c[2] + 1]) not in said
        ]
        chosen: list[Correction] = []
        taken: set[int] = set()
        for similarity, first, last, form in sorted(
            candidates, key=lambda c: (-c[0], -(c[2] - c[1]), c[1])
        ):
            covered = set(range(first, last + 1))
            if covered & taken:
                continue
            taken |= covered
            heard = text[spans[first].start : spans[last].end]
            known_p = [s.probability for s in spans[first : last + 1] if s.probability is not None]
            chosen.append(
                Correction(
                    heard,
                    form.text,
                    spans[first].start,
                    spans[last].end,
                    similarity,
                    min(known_p) if known_p else None,
                )
            )
        chosen.sort(key=lambda c: c.start)
        return CorrectedTranscript(text, _apply(text, chosen), tuple(chosen))

    def _forms(self, terms: Iterable[str]) -> list[_Form]:
        forms: dict[str, _Form] = {}
        for term in terms:
            words = tuple(w.lower() for w in _WORD.findall(term))
            if not words or any(not w.isalpha() for w in words):
                continue
            key = "".join(self.phonetics.key(w) for w in words)
            if len(key) >= MIN_KEY_LENGTH:
                forms.setdefault(" ".join(words), _Form(term.strip(), words, key))
        return list(forms.values())

    def _initialisms(self, terms: Iterable[str]) -> list[_Form]:
        forms: dict[str, _Form] = {}
        for term in terms:
            term = term.strip()
            if _INITIALISM.fullmatch(term) and term.lower() not in forms:
                spelled = "".join(self.phonetics.sounds(letter) for letter in term)
                forms[term.lower()] = _Form(term, (term.lower(),), "", spelled)
        return list(forms.values())

    def _spelled(self, spans: Sequence[_Span], form: _Form) -> list[tuple[float, int, int, _Form]]:
        """Runs of two or more words that are exactly the initialism's letters said one by one
        ("I see you" for ICU): no other spelling of a word sounds like a string of letter names,
        so these are taken however sure the decoder was."""
        found = []
        for first in range(len(spans)):
            heard = ""
            for last in range(first, min(first + len(form.spelled), len(spans))):
                if spans[last].sentence != spans[first].sentence or not spans[last].lower.isalpha():
                    break
                heard += self.phonetics.sounds(spans[last].lower)
                if not form.spelled.startswith(heard):
                    break
                if heard == form.spelled and last > first:
                    found.append((1.0, first, last, form))
        return found

    def _candidates(
        self, spans: Sequence[_Span], form: _Form, known: set[str]
    ) -> list[tuple[float, int, int, _Form]]:
        found = []
        longest = len(form.words) + MAX_EXTRA_WORDS
        for first in range(len(spans)):
            for last in range(first, min(first + longest, len(spans))):
                if spans[last].sentence != spans[first].sentence:
                    break
                similarity = self._similarity(spans[first : last + 1], form, known)
                if similarity is not None:
                    found.append((similarity, first, last, form))
        return found

    def _similarity(self, run: Sequence[_Span], form: _Form, known: set[str]) -> float | None:
        """How alike the words of ``run`` sound to ``form``, judged on the words that differ;
        None when they may not be corrected."""
        heard = tuple(s.lower for s in run)
        if heard == form.words or not all(w.isalpha() for w in heard):
            return None
        # Words both share at the edges are said already: judge only what differs.
        lead = 0
        while lead < min(len(heard), len(form.words)) and heard[lead] == form.words[lead]:
            lead += 1
        tail = 0
        while (
            tail < min(len(heard), len(form.words)) - lead
            and heard[-1 - tail] == form.words[-1 - tail]
        ):
            tail += 1
        said = heard[lead : len(heard) - tail]
        meant = form.words[lead : len(form.words) - tail]
        if len(said) > len(meant) and "".join(said) == "".join(meant):
            return 1.0  # the same letters, split: "air flow sensor" for "airflow sensor"
        fewer = len(said) < len(meant)
        if not said or (fewer and not self.joined):
            # A term is misheard as more words, or as many ("ticket growl", "SD elevation");
            # as fewer only when they sound exactly like it (below): "boiling" is not "blue line".
            return None
        # Without the decoder's word probabilities, words count as heard with confidence.
        confident = all(
            s.probability is None or s.probability >= self.confident
            for s in run[lead : len(run) - tail]
        )
        if any(w in known for w in said):
            return None  # a word of the question's own: said on purpose
        if _contrastive(" ".join(said), " ".join(meant)):
            return None
        said_key = "".join(self.phonetics.key(w) for w in said)
        meant_key = "".join(self.phonetics.key(w) for w in meant)
        if len(meant_key) < MIN_KEY_LENGTH - 2 or not said_key:
            return None
        distance = Levenshtein.distance(said_key, meant_key)
        if fewer and (distance > 0 or confident or len(meant_key) < JOINED_KEY_LENGTH):
            # Fewer words than the term's, the decoder unsure of them and the same sounds: the
            # words of the term run together ("static portizing", "omididinsulin").
            return None
        if distance > allowed_distance(len(meant_key)):
            return None
        edges = said[-1] in FUNCTION_WORDS or (
            said[0] in FUNCTION_WORDS and said[0] not in NEGATION_CUES
        )
        if edges and distance > 0:
            # "ticket growl is": the term does not swallow the words around it, unless they
            # sound exactly like it ("full tables can"). A negation cue may start one: "no
            # adrenaline" is how "noradrenaline" is misheard.
            return None
        if confident and (distance > 0 or len(form.key) < SAME_SOUND_KEY_LENGTH):
            # Heard with confidence: taken as said, unless it sounds exactly like the term
            # ("full tables can", "anesthetist", "alter am"): a spelling, not another word.
            return None
        similarity = 1.0 - distance / max(len(said_key), len(meant_key))
        if similarity < MIN_SIMILARITY:
            return None
        if distance > 0 and self._vowels_differ(said, meant):
            return None
        whole = "".join(self.phonetics.key(w) for w in heard)
        return round(min(similarity, float(Levenshtein.normalized_similarity(whole, form.key))), 3)

    def _vowels_differ(self, said: Sequence[str], meant: Sequence[str]) -> bool:
        """Whether words that sound nearly like a term (not exactly) have other vowels:
        "bodily" for "battery", "fully reversed" for "fillet radius" (see
        :data:`MAX_VOWEL_DISTANCE`)."""
        if self.vowel_distance is None:
            return False
        heard = "".join(self.phonetics.vowel_key(w) for w in said)
        term = "".join(self.phonetics.vowel_key(w) for w in meant)
        return float(Levenshtein.normalized_distance(heard, term)) > self.vowel_distance


def allowed_distance(key_length: int) -> int:
    """Edits a heard key may be from a term's key of ``key_length`` sounds: none below 6
    ("vapour" is not "full power"), one to 8, two to 11 ("ticket growl" for "ticagrelor")..."""
    return max(0, (key_length - 3) // 3)


def _contrastive(a: str, b: str) -> bool:
    return any(
        (a.startswith(x) and b.startswith(y)) or (a.startswith(y) and b.startswith(x))
        for x, y in CONTRASTIVE_PREFIXES
    )


def _spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    sentence = 0
    last_end = 0
    for match in _WORD.finditer(text):
        between = text[last_end : match.start()]
        if any(c in between for c in ".!?;:,()"):
            sentence += 1  # a run of words never crosses punctuation
        spans.append(
            _Span(match.group(), match.group().lower(), match.start(), match.end(), sentence)
        )
        last_end = match.end()
    return spans


def _with_probabilities(spans: list[_Span], words: Sequence[Word]) -> list[_Span]:
    """``spans`` with the probability of the decoder's word each came from, when the words
    split into the same run of words as the text (else without: nothing is known)."""
    probabilities = [w.probability for w in words for _ in _WORD.findall(w.text)]
    if len(probabilities) != len(spans):
        return spans
    return [
        dataclasses.replace(s, probability=p) for s, p in zip(spans, probabilities, strict=True)
    ]


def _apply(text: str, corrections: Sequence[Correction]) -> str:
    parts: list[str] = []
    at = 0
    for c in corrections:
        parts.append(text[at : c.start])
        parts.append(c.term)
        at = c.end
    parts.append(text[at:])
    return "".join(parts)
