"""Examiner text as it should be *said*: the words a clinician or engineer would read aloud.

Piper and espeak-ng read text with espeak-ng's rules, which are made for general English, not
for exam banks: "IV hydrocortisone" comes out as "roman four hydrocortisone", "leads II, III"
as "roman two, roman three", "5 mg" as "five em gee" and "65 mmHg" as "em em aitch gee". The
student then hears a question or a model answer that no examiner would say. Before synthesis
the text is rewritten (the caption keeps the written form):

- roman numerals: ``IV`` is "I V" (intravenous) unless a word that counts things comes before
  it ("lead", "type", "class", "stage", "grade", "chapter" ...), where it and every other
  numeral is the number ("leads two, three and aVF", "type two");
- a unit written after a number is said in full ("5 mg/kg" -> "5 milligrams per kilogram").
"""

from __future__ import annotations

import re

from newspeech.voice.text import split_clauses

_ROMAN = {"II": 2, "III": 3, "IV": 4, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "XI": 11, "XII": 12}
_NUMBER_WORDS = {
    2: "two", 3: "three", 4: "four", 6: "six", 7: "seven", 8: "eight", 9: "nine", 11: "eleven",
    12: "twelve",
}  # fmt: skip
_COUNTING_WORDS = frozenset(
    [
        "lead",
        "leads",
        "type",
        "types",
        "class",
        "classes",
        "stage",
        "stages",
        "grade",
        "grades",
        "phase",
        "phases",
        "chapter",
        "chapters",
        "part",
        "parts",
        "section",
        "sections",
        "schedule",
        "schedules",
        "article",
        "articles",
        "level",
        "levels",
        "category",
        "categories",
        "group",
        "groups",
        "cranial",
        "nerve",
        "nerves",
        "factor",
        "degree",
        "tier",
        "volume",
        "appendix",
        "annex",
        "henry",
        "war",
    ]
)
"""Words after which a roman numeral is a number, never an abbreviation."""

_UNITS = {
    "mg": "milligrams", "mcg": "micrograms", "µg": "micrograms", "g": "grams",
    "kg": "kilograms", "ml": "millilitres", "mL": "millilitres", "l": "litres", "L": "litres",
    "mmol": "millimoles", "mmHg": "millimetres of mercury", "mm": "millimetres",
    "cm": "centimetres", "km": "kilometres", "kPa": "kilopascals", "Nm": "newton metres",
    "kW": "kilowatts", "kV": "kilovolts", "mA": "milliamps", "ms": "milliseconds",
}  # fmt: skip
_UNIT = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
_AMOUNT = re.compile(
    rf"(?<![\w.])(\d+(?:\.\d+)?)\s?({_UNIT})(?:/({_UNIT}|min|h|hr|day|dose))?(?![\w/])"
)
_PER = {"min": "minute", "h": "hour", "hr": "hour", "day": "day", "dose": "dose"}
_SINGULAR = {"millimetres of mercury": "millimetre of mercury"}
_NUMERAL = re.compile(r"\b(" + "|".join(sorted(_ROMAN, key=len, reverse=True)) + r")\b")


def spoken_clauses(text: str) -> list[str]:
    """What a voice says for ``text``, clause by clause: the spoken form, split where a
    speaker pauses. Every engine (Piper, espeak, a remote speech server) speaks this; captions
    keep the written text."""
    return split_clauses(spoken_form(text))


def spoken_form(text: str) -> str:
    """``text`` with roman numerals and units written as a speaker says them."""
    return _NUMERAL.sub(_numeral, _AMOUNT.sub(_amount, text))


def _amount(match: re.Match[str]) -> str:
    number, unit, per = match.group(1), match.group(2), match.group(3)
    said = _UNITS[unit]
    if number == "1":
        said = _SINGULAR.get(said, said.removesuffix("s"))
    if per is not None:
        per_said = _PER.get(per) or _UNITS[per]
        said += f" per {_SINGULAR.get(per_said, per_said.removesuffix('s'))}"
    return f"{number} {said}"


def _numeral(match: re.Match[str]) -> str:
    numeral = match.group(1)
    before = match.string[: match.start()]
    # The word before this numeral, skipping other numerals of a list ("leads II, III and").
    words = re.findall(r"[A-Za-z]+", before)
    while words and (words[-1] in _ROMAN or words[-1].lower() in ("and", "or", "to")):
        words.pop()
    counting = bool(words) and words[-1].lower() in _COUNTING_WORDS
    if numeral == "IV" and not counting:
        return "I V"  # intravenous
    return _NUMBER_WORDS[_ROMAN[numeral]]
