"""Word error rate for judging transcripts against known references.

Both sides are normalised the same way before comparing, so that a transcript is not blamed for
formatting choices Whisper makes freely: case, punctuation, and writing "1, 2, 3" for "one two
three" (numbers become words).
"""

from __future__ import annotations

import re

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000, "million"), (1_000, "thousand"), (100, "hundred"))


def number_words(value: int) -> list[str]:
    """A non-negative integer spelled out as English words ("21" -> "twenty one")."""
    if value < 20:
        return [_ONES[value]]
    if value < 100:
        tens, ones = divmod(value, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    for scale, name in _SCALES:
        if value >= scale:
            high, low = divmod(value, scale)
            return number_words(high) + [name] + (number_words(low) if low else [])
    raise AssertionError("unreachable: every value >= 100 matches a scale")


def normalize(text: str) -> list[str]:
    """Lower-case words without punctuation; digits spelled out, "%" read as "percent"."""
    text = text.lower().replace("%", " percent ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # "1,000" is one number
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    words: list[str] = []
    for token in text.split():
        if token.isdigit():
            words.extend(number_words(int(token)))
        else:
            words.append(token)
    return words


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # reference word deleted
                    current[j - 1] + 1,  # hypothesis word inserted
                    previous[j - 1] + (ref_word != hyp_word),
                )
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edits needed to turn the normalised hypothesis into the normalised reference, per
    reference word."""
    ref = normalize(reference)
    if not ref:
        raise ValueError("the reference transcript has no words")
    return edit_distance(ref, normalize(hypothesis)) / len(ref)
