"""Examiner text is rewritten as it is said before synthesis: numerals and units."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from newspeech.voice.spoken import spoken_form


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "Give prednisolone 40 to 50 mg orally or IV hydrocortisone.",
            "Give prednisolone 40 to 50 milligrams orally or I V hydrocortisone.",
        ),
        ("ST elevation in leads II, III and aVF.", "ST elevation in leads two, three and aVF."),
        ("IV magnesium 1.2 to 2 g over 20 minutes", "I V magnesium 1.2 to 2 grams over 20 minutes"),
        ("a MAP of at least 65 mmHg", "a MAP of at least 65 millimetres of mercury"),
        ("30 ml/kg of crystalloid", "30 millilitres per kilogram of crystalloid"),
        (
            "1 mg of adrenaline, 5mg salbutamol",
            "1 milligram of adrenaline, 5 milligrams salbutamol",
        ),
        ("Type II diabetes, stage IV disease", "Type two diabetes, stage four disease"),
        ("insulin at 0.1 units/kg/h", "insulin at 0.1 units/kg/h"),  # no number before kg
        ("a 2.5 mm2 cable, 400 volts", "a 2.5 mm2 cable, 400 volts"),  # mm2 is not mm
        ("I think it is VIP and MI", "I think it is VIP and MI"),  # not numerals
    ],
)
def test_numerals_and_units_are_written_as_they_are_said(written: str, said: str) -> None:
    assert spoken_form(written) == said


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_voices_phonemizer_no_longer_reads_intravenous_as_roman_four() -> None:
    def phonemes(text: str) -> str:
        run = subprocess.run(
            ["espeak-ng", "-q", "-x", text], capture_output=True, text=True, check=True
        )
        return run.stdout

    written = "Start IV fluids; ST elevation in leads II, III and aVF; 65 mmHg."
    assert "r,oUm@n" in phonemes(written)  # what Piper's phonemizer did with the bank's text
    assert "r,oUm@n" not in phonemes(spoken_form(written))
    assert "dZ'i:" not in phonemes(spoken_form(written)).split("s'Iksti f'aIv")[-1]
