"""What a short spoken turn asks for, when it is a request rather than an answer.

Matching is deliberately narrow: the whole (normalised) utterance must be a request, so an answer
that merely uses the word ("I would repeat the ECG", "stop the bleeding", "skip the antibiotics")
stays an answer. Politeness and fillers around a request ("sorry, could you repeat the question
please") are allowed; anything else around it is not.
"""

from __future__ import annotations

import enum
import re

MAX_REQUEST_WORDS = 12
"""A request is short; a longer turn is an answer even if it contains a request's words."""


MAX_REPLY_PHRASE_WORDS = 6
"""A reply without "yes" or "no" ("that's me", "it is") is one only when it is this short."""


class Intent(enum.StrEnum):
    REPEAT = "repeat"
    SKIP = "skip"
    END = "end"


class Reply(enum.StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


_FILLERS = (
    r"(?:um+|uh+|er+m?|hm+|ah+|oh|so|okay|ok|well|sorry|excuse me|pardon me|please|actually|"
    r"examiner|sir|madam|ma'am|doctor|yeah|right|hmm)"
)
_ASK = (
    r"(?:(?:could|can|would|will) you(?: please)?|(?:i'd|i would) like (?:you )?to|"
    r"(?:i|we) (?:want|need) (?:you )?to|may i|can i|could i|can we|could we|let's|let us)"
)
_QUESTION = r"(?:(?:the|that|this|your|last) )?(?:question|one|last part|bit|part)"
_OBJECT = rf"(?:{_QUESTION}|that|it|this)"

_PATTERNS: dict[Intent, tuple[str, ...]] = {
    Intent.REPEAT: (
        rf"(?:{_ASK} )?(?:repeat|say|read|ask) {_OBJECT}(?: again| once more| one more time)?",
        rf"(?:{_ASK} )?repeat",
        rf"(?:{_ASK} )?(?:go|come) (?:over {_OBJECT} )?again",
        r"(?:what|which) (?:was|is) the question(?: again)?",
        r"(?:i )?(?:didn't|did not|couldn't|could not) (?:hear|catch|understand) "
        rf"(?:{_OBJECT}|you)",
        r"pardon|come again|one more time|again",
    ),
    Intent.SKIP: (
        rf"(?:{_ASK} )?(?:skip|pass(?: on)?) {_OBJECT}",
        rf"(?:{_ASK} )?(?:skip|pass)",
        rf"(?:{_ASK} )?(?:go|move) on(?: to the next(?: question| one)?)?",
        r"next(?: question| one)?(?: please)?",
        rf"(?:i )?(?:don't|do not) know (?:{_ASK} )?(?:skip|pass|next)(?: {_OBJECT})?",
    ),
    Intent.END: (
        rf"(?:{_ASK} )?(?:stop|end|finish|quit|terminate|leave) "
        r"(?:the |this |my )?(?:exam|examination|test|viva|session|interview)(?: now| here)?",
        rf"(?:{_ASK} )?(?:stop|end|finish|quit) (?:here|now|it here)",
        r"(?:i )?(?:want|wanna|would like|need) to (?:stop|quit|finish|end|give up)",
        r"(?:i'd|i would) like to (?:stop|quit|finish|end|give up)",
        r"i (?:quit|give up)",
        r"(?:that's|that is) (?:it|enough),? (?:i'm|i am) (?:done|finished)",
        r"(?:i'm|i am) (?:done|finished) (?:with the (?:exam|test|viva))",
    ),
}
_COMPILED = {
    intent: re.compile(
        rf"(?:{_FILLERS} )*(?:{'|'.join(patterns)})(?: {_FILLERS})*(?: thank you| thanks)?"
    )
    for intent, patterns in _PATTERNS.items()
}

_YES_WORDS = frozenset(
    ["yes", "yeah", "yep", "yup", "correct", "right", "affirmative", "sure", "indeed", "speaking"]
)
_NO_WORDS = frozenset(["no", "nope", "nah", "wrong", "incorrect"])
_LEAD = rf"^(?:{_FILLERS} )*"
_YES_PHRASES = re.compile(
    _LEAD + r"(?:that's me|that is me|it's me|it is me|this is me|i am|i'm|that's right|"
    r"that is right|that's correct|that is correct|it is|speaking|of course|absolutely|"
    r"certainly)\b"
)
_NO_PHRASES = re.compile(
    _LEAD + r"(?:not me|i'm not|i am not|that's not|that is not|it's not|it is not|"
    r"this is not|it isn't|that isn't|wrong person|(?:it's |it is )?(?:someone|somebody) else)"
    r"\b"
)


_FIRST_WORD = re.compile(r"^(?:(?:um+|uh+|er+m?|hm+|ah+|oh|well|sorry|so|okay|ok) )*")


def normalise(text: str) -> str:
    """Lower case, ASR punctuation dropped (apostrophes kept), whitespace collapsed."""
    lowered = text.lower().replace("\u2019", "'")
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", lowered).split())


def detect_intent(transcript: str) -> Intent | None:
    """The request a whole short utterance makes, or ``None`` for an answer."""
    text = normalise(transcript)
    if not text or len(text.split()) > MAX_REQUEST_WORDS:
        return None
    for intent in (Intent.END, Intent.SKIP, Intent.REPEAT):
        if _COMPILED[intent].fullmatch(text):
            return intent
    return None


def yes_or_no(transcript: str) -> Reply:
    """A confirmation: "yes, that's me" / "no, I'm not" / anything else is unclear. Only the
    start of the reply counts, so an answer that happens to contain "it is" is no "yes"."""
    text = normalise(transcript)
    words = text.split()
    if not words or len(words) > MAX_REQUEST_WORDS:
        return Reply.UNCLEAR
    first = _FIRST_WORD.sub("", text).split(" ", 1)[0]
    short = len(words) <= MAX_REPLY_PHRASE_WORDS
    if first in _NO_WORDS or (short and _NO_PHRASES.search(text)):
        return Reply.NO
    if first in _YES_WORDS or (short and _YES_PHRASES.search(text)):
        return Reply.YES
    return Reply.UNCLEAR
