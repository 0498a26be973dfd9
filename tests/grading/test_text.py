from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from newspeech.grading.text import NEGATION, Analyser, Stemmer, normalise, words


def texts(text: str) -> list[str]:
    return [word for word, _ in words(text)]


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("one hundred and twenty", ["120"]),
        ("a hundred and five days", ["105", "days"]),
        ("two hundred and forty thousand dollars", ["240000", "dollars"]),
        ("4,000 failures", ["4000", "failures"]),
        ("two point five percent", ["2.5", "percent"]),
        ("two and a half percent", ["2.5", "percent"]),
        ("2.5%", ["2.5", "percent"]),
        ("zero to minus ten", ["0", "to", "minus", "10"]),
        ("twenty twenty", ["20", "20"]),
        ("thirty-six over eight", ["36", "over", "8"]),
        ("a dose and a half", ["a", "dose", "and", "a", "half"]),
    ],
)
def test_spoken_numbers_become_digits(spoken: str, digits: list[str]) -> None:
    assert texts(spoken) == digits


def test_normalises_contractions_initialisms_and_possessives() -> None:
    assert normalise("He isn't; it's the E.C.G. and the driver's can't") == (
        "he is not; it is the ecg and the driver can not"
    )
    assert texts("right-sided ECG, ml/kg") == ["right", "sided", "ecg", "ml", "kg"]


def test_records_punctuation_as_breaks_before_words() -> None:
    assert words("Not this. That, then") == [("not", 0), ("this", 0), ("that", 2), ("then", 1)]


def test_multiword_negation_cues_become_one_token() -> None:
    tokens = Analyser().tokens("We ruled out an MI rather than guess")
    assert [t.text for t in tokens if t.neg] == ["ruled out", "rather than"]
    assert all(t.stem == NEGATION for t in tokens if t.neg)


def test_pseudo_negations_and_no_compounds_do_not_negate() -> None:
    tokens = Analyser().tokens("not only a STEMI, no doubt, with a no-fault go-around")
    assert not any(t.neg for t in tokens)


def test_stems_irregular_plurals_like_their_singular() -> None:
    stemmer = Stemmer()
    assert stemmer.stem("gases") == stemmer.stem("gas")
    assert stemmer.stem("criteria") == stemmer.stem("criterion")
    assert stemmer.stem("delaying") == stemmer.stem("delayed") == "delay"


def test_one_stemmer_serves_many_threads() -> None:
    stemmer = Stemmer(cache_limit=0)  # no cache: every call reaches the Snowball object
    vocabulary = ["reperfusion", "feathering", "hygroscopic", "bleeding", "relations"] * 200
    expected = [Stemmer().stem(word) for word in vocabulary]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(stemmer.stem, vocabulary)) == expected
