"""Examiner text cut into clauses, so speech can start before the whole text is synthesized.

Piper and espeak-ng phonemize everything they are given before the first sample comes out, so
the first clause should be short; but a cut in the wrong place breaks the prosody. The rules
therefore prefer not to cut: a missed cut costs a little latency, a wrong cut sounds wrong.

- Sentences end at ``.``, ``!`` or ``?`` followed by a space, except after titles ("Dr.",
  "Mr."), "e.g.", "i.e.", "vs.", capital initials ("J.", "U.S.") and "No."/"Fig." before a
  number; a period followed by a lower-case word ("5 mg. daily") never ends one. Decimals and
  thousands ("7.5", "1,000") have no space after their point, so they are never cut.
- Sentences are cut into clauses after ``,`` ``;`` ``:`` and dashes.
- A clause still longer than :data:`LONG_CLAUSE_WORDS` is cut before a conjunction ("and",
  "but", "because" ...), never inside a number ("one hundred and twenty") or a "between ... and".
- No clause inside a sentence has fewer than :data:`MIN_WORDS` words: short pieces join their
  neighbours. A whole short sentence ("Correct.", "Well done.") stands alone: it is spoken with
  its own falling intonation and, said first, gets audio out at once.
- The first clause of the text is the one the listener waits for, so when it is longer than
  :data:`LEAD_TRIGGER_WORDS` it is cut once more, before a preposition, relative word or conjunction
  ("A fifty-eight year old man presents | with crushing chest pain ..."), if one sits early
  enough. Piper needs about 50 ms per second of speech, so a lead of a few words starts in
  well under 100 ms.
"""

from __future__ import annotations

import re

MIN_WORDS = 3
"""Fewest words in a clause; 1-2 word fragments sound clipped when synthesized alone."""

LONG_CLAUSE_WORDS = 12
"""A clause with more words than this is also cut before a conjunction."""

LEAD_WORDS = 6
"""Most words in the lead cut off a long first clause."""

LEAD_TRIGGER_WORDS = 9
"""A first clause longer than this gets a lead cut off; shorter ones start fast enough whole
and keep their prosody."""


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_TITLES = _vocabulary(
    "dr mr mrs ms mx prof rev hon sen rep gov gen col capt lt sgt st mt vs cf viz approx e.g i.e"
)
"""Abbreviations that never end a sentence (compared lower-case, without the final period)."""

_BEFORE_NUMBERS = _vocabulary("no nos fig figs vol p pp ch sec eq art ref")
"""Abbreviations that do not end a sentence when a number follows ("No. 5", "Fig. 2")."""

_CONJUNCTIONS = _vocabulary("and but or because although though whereas while unless")
_LEAD_BREAKS = _CONJUNCTIONS | _vocabulary(
    "with without that which who whom whose when where after before since until from for "
    "in on at to of by about into during against"
)
"""Words a lead-in may be cut before: the phrase after them stands on its own."""

_NUMBER_WORDS = _vocabulary(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million billion half quarter point"
)
_MAGNITUDES = _vocabulary("hundred thousand million billion")
"""An "and" after these is inside a number ("one hundred and twenty")."""
_PAIRING_WORDS = _vocabulary("between both either")
"""Words whose "and"/"or" binds a pair that must stay in one clause ("between five and ten")."""

_CLOSERS = "\"')]}\u2019\u201d\u00bb"
_DASHES = ("\u2014", "\u2013", "--")
_INITIALISM = re.compile(r"(?:[A-Z]\.)+")
_WORD = re.compile(r"\w")
_ATTACHED_DASH = re.compile(r"\s*(\u2014|\s\u2013\s|\s--\s)\s*")
_PARAGRAPH = re.compile(r"\n\s*\n")


def split_clauses(text: str) -> list[str]:
    """Cut ``text`` into clauses to synthesize one after another, in order.

    Whitespace is collapsed to single spaces and every dash gets a space on both sides;
    otherwise joining the clauses with spaces gives back the text.
    """
    pieces: list[list[str]] = []
    for paragraph in _PARAGRAPH.split(text):
        tokens = _ATTACHED_DASH.sub(lambda match: f" {match.group(1).strip()} ", paragraph).split()
        for sentence in _sentences(tokens):
            clauses = [
                piece for clause in _at_punctuation(sentence) for piece in _at_conjunctions(clause)
            ]
            merged = [sentence] if _words(sentence) < MIN_WORDS else _merge_short(clauses)
            pieces.extend(merged)
    pieces = _merge_wordless(pieces)
    if pieces:
        pieces[:1] = _lead_in(pieces[0])
    return [" ".join(piece) for piece in pieces]


def _words(tokens: list[str]) -> int:
    return sum(1 for token in tokens if _WORD.search(token))


def _core(token: str) -> str:
    """The token without closing quotes or brackets ("well.)" -> "well.")."""
    return token.rstrip(_CLOSERS)


def _ends_sentence(token: str, following: str | None) -> bool:
    core = _core(token)
    if following is None or not core or core[-1] not in ".!?\u2026":
        return False
    if core[-1] in "!?":
        return True
    if following[0].islower():
        return False
    bare = core.rstrip(".\u2026").lstrip("\"'([{\u2018\u201c").lower()
    if bare in _TITLES:
        return False
    if bare in _BEFORE_NUMBERS and following[0].isdigit():
        return False
    # Capital initials: "J. Smith", "the U.S. Army"; cutting there would be worse than not.
    return not _INITIALISM.fullmatch(core.lstrip("\"'([{\u2018\u201c"))


def _sentences(tokens: list[str]) -> list[list[str]]:
    sentences: list[list[str]] = []
    current: list[str] = []
    for index, token in enumerate(tokens):
        current.append(token)
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if _ends_sentence(token, following):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _at_punctuation(sentence: list[str]) -> list[list[str]]:
    clauses: list[list[str]] = []
    current: list[str] = []
    for token in sentence:
        current.append(token)
        core = _core(token)
        if token in _DASHES or (core and core[-1] in ",;:"):
            clauses.append(current)
            current = []
    if current:
        clauses.append(current)
    return clauses


def _conjunction_cut_allowed(clause: list[str], index: int) -> bool:
    """Whether ``clause`` may be cut just before ``clause[index]``."""
    word = clause[index].lower()
    if word not in _CONJUNCTIONS:
        return False
    if _words(clause[:index]) < MIN_WORDS or _words(clause[index:]) < MIN_WORDS:
        return False
    if word in ("and", "or"):
        before = clause[index - 1].lower().rstrip(_CLOSERS)
        after = [token.lower() for token in clause[index + 1 : index + 3]]
        if before in _MAGNITUDES or (_is_number(before) and _starts_number(after)):
            return False
        window = {token.lower() for token in clause[max(0, index - 4) : index]}
        if window & _PAIRING_WORDS:
            return False
    return True


def _is_number(word: str) -> bool:
    return word in _NUMBER_WORDS or word[-1:].isdigit()


def _starts_number(words: list[str]) -> bool:
    """Whether ``words`` begin a number: "ten", "5", "a half" (as in "two or three", "two and
    a half")."""
    if not words:
        return False
    if words[0] == "a" and len(words) > 1:
        return words[1] in ("half", "quarter")
    return words[0][:1].isdigit() or words[0] in _NUMBER_WORDS


def _at_conjunctions(clause: list[str]) -> list[list[str]]:
    """Cut a long clause before the conjunction nearest its middle, recursively."""
    if _words(clause) <= LONG_CLAUSE_WORDS:
        return [clause]
    candidates = [i for i in range(1, len(clause)) if _conjunction_cut_allowed(clause, i)]
    if not candidates:
        return [clause]
    middle = len(clause) / 2
    cut = min(candidates, key=lambda i: abs(i - middle))
    return _at_conjunctions(clause[:cut]) + _at_conjunctions(clause[cut:])


def _lead_in(clause: list[str]) -> list[list[str]]:
    """Cut a long first clause before the latest break word that leaves a lead of at most
    LEAD_WORDS words and at least MIN_WORDS on both sides."""
    if _words(clause) <= LEAD_TRIGGER_WORDS:
        return [clause]
    cuts = [
        index
        for index in range(1, len(clause))
        if clause[index].lower() in _LEAD_BREAKS
        and MIN_WORDS <= _words(clause[:index]) <= LEAD_WORDS
        and _words(clause[index:]) >= MIN_WORDS
        and _conjunction_safe(clause, index)
    ]
    if not cuts:
        return [clause]
    return [clause[: cuts[-1]], clause[cuts[-1] :]]


def _conjunction_safe(clause: list[str], index: int) -> bool:
    """A cut before a conjunction must pass the same number and pairing rules as any other."""
    if clause[index].lower() not in _CONJUNCTIONS:
        return True
    return _conjunction_cut_allowed(clause, index)


def _merge_wordless(pieces: list[list[str]]) -> list[list[str]]:
    """Attach punctuation-only pieces ("...") to the piece before them, or drop them."""
    merged: list[list[str]] = []
    for piece in pieces:
        if _words(piece) == 0:
            if merged:
                merged[-1] = merged[-1] + piece
            continue
        merged.append(piece)
    return merged


def _merge_short(pieces: list[list[str]]) -> list[list[str]]:
    """Join every piece of fewer than MIN_WORDS words to the following one (the last to the
    one before it)."""
    merged: list[list[str]] = []
    pending: list[str] = []
    for piece in pieces:
        pending = pending + piece
        if _words(pending) >= MIN_WORDS:
            merged.append(pending)
            pending = []
    if pending:
        if merged:
            merged[-1] = merged[-1] + pending
        else:
            merged.append(pending)
    # Only a text without a single word ("...") leaves a wordless piece: nothing to say.
    return [piece for piece in merged if _words(piece) > 0]
