"""A question's terms read back into what whisper tiny.en misheard (newspeech.voice.terms),
on text and on the real engines with the two candidate voices."""

from __future__ import annotations

from pathlib import Path

import pytest

from newspeech.grading.protocols import GradingQuestion, Keyword
from newspeech.questions.banks import load_banks
from newspeech.voice.audio import decode_audio
from newspeech.voice.bias import bias_terms, decoder_bias
from newspeech.voice.pool import InferencePool
from newspeech.voice.protocols import Word
from newspeech.voice.stt import WhisperSpeechToText
from newspeech.voice.terms import EspeakPhonetics, TermCorrector, fold
from tests.fixtures.voices import CandidateVoices

AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"
JFK = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def _questions() -> dict[str, GradingQuestion]:
    return {
        f"{bank.college_type}/{scenario.scenario_id}.{q.question_number}": GradingQuestion(
            q.question,
            tuple(Keyword(k.term, tuple(k.synonyms), k.weight) for k in q.keywords),
            q.model_answer,
        )
        for bank in load_banks()
        for scenario in bank.scenarios
        for q in scenario.questions
    }


QUESTIONS = _questions()


def _forms(question: GradingQuestion) -> list[str]:
    return [form for keyword in question.keywords for form in keyword.forms]


def _question_with(term: str) -> GradingQuestion:
    return next(q for q in QUESTIONS.values() if term in _forms(q))


@pytest.fixture(scope="module")
def corrector() -> TermCorrector:
    return TermCorrector(EspeakPhonetics())


def _unsure(text: str, probability: float = 0.3) -> list[Word]:
    """``text`` as decoder words it was unsure of (misheard terms come out so)."""
    return [Word(w, 0.0, 0.0, probability) for w in text.split()]


def _correct(corrector: TermCorrector, question: GradingQuestion, text: str) -> str:
    fixed = corrector.correct(
        text, _forms(question), vocabulary=(question.text,), words=_unsure(text)
    )
    assert fixed.raw == text
    return fixed.text


def test_folds_sounds_whisper_confuses_together() -> None:
    assert fold("ɛsdiː") == fold("ɛstiː")  # "SD" / "ST"
    assert fold("kætaɪniːmiə") == fold("kɛtəniːmiə")  # "catinemia" / "ketonaemia"


@pytest.mark.parametrize(
    ("heard", "term", "expected"),
    [
        ("Give aspirin and tick a griller now.", "ticagrelor", "Give aspirin and ticagrelor now."),
        ("The ECG shows SD elevation.", "st elevation", "The ECG shows st elevation."),
        ("There is Katanemia.", "ketonaemia", "There is ketonaemia."),
        ("Start no adrenaline.", "noradrenaline", "Start noradrenaline."),
    ],
)
def test_reads_a_misheard_term_back_in(
    corrector: TermCorrector, heard: str, term: str, expected: str
) -> None:
    question = _question_with(term)
    fixed = corrector.correct(
        heard, _forms(question), vocabulary=(question.text,), words=_unsure(heard)
    )
    assert fixed.text == expected
    assert fixed.raw == heard
    assert [c.term for c in fixed.corrections] == [term]
    assert (
        heard[fixed.corrections[0].start : fixed.corrections[0].end] == fixed.corrections[0].heard
    )


def test_leaves_a_term_that_was_said_and_the_words_around_it(corrector: TermCorrector) -> None:
    question = _question_with("ticagrelor")
    for text in (
        "Give aspirin and ticagrelor, then arrange primary PCI.",
        "There is left ventricular failure.",
        "Ticket growl is given.",
    ):
        assert _correct(corrector, question, text).split()[-1] == text.split()[-1]
    assert _correct(corrector, question, "Give aspirin and ticagrelor.") == (
        "Give aspirin and ticagrelor."
    )


def test_words_heard_with_confidence_stay_unless_they_sound_the_same(
    corrector: TermCorrector,
) -> None:
    question = _question_with("ketonaemia")
    sure = "There is Katanemia."
    assert _correct(corrector, question, sure) == "There is ketonaemia."
    fixed = corrector.correct(sure, _forms(question), words=_unsure(sure, 0.95))
    assert fixed.text == "There is ketonaemia."  # sounds exactly like the term
    near = "There is cantonemia."
    assert corrector.correct(near, _forms(question), words=_unsure(near, 0.95)).text == near
    assert corrector.correct(near, _forms(question)).text == near  # probabilities unknown


def test_never_fires_on_answers_to_other_questions(corrector: TermCorrector) -> None:
    """Every model answer, and a real speech, corrected towards another college's question
    (as text, without the decoder's probabilities: ``scripts/bench terms`` measures false
    corrections on real transcripts): nothing in them sounds exactly like its terms."""
    keys = list(QUESTIONS)
    for n, key in enumerate(keys):
        other = QUESTIONS[keys[(n + len(keys) // 6) % len(keys)]]
        answer = QUESTIONS[key].model_answer
        fixed = corrector.correct(
            answer, _forms(other), vocabulary=(other.text, other.model_answer)
        )
        assert fixed.corrections == (), (key, fixed.corrections)
        jfk = corrector.correct(JFK, _forms(other), vocabulary=(other.text,))
        assert jfk.corrections == ()


def test_an_initialism_said_letter_by_letter_is_read_as_the_initialism(
    corrector: TermCorrector,
) -> None:
    """ "I see you" is how tiny.en writes ICU spoken letter by letter; however sure it was,
    no other reading of those three words sounds like the letters' names."""
    question = _question_with("ICU")
    heard = "I think the key points are urinary catheter and I see you."
    fixed = corrector.correct(heard, _forms(question), words=_unsure(heard, 0.95))
    assert fixed.text == "I think the key points are urinary catheter and ICU."
    assert [(c.heard, c.term) for c in fixed.corrections] == [("I see you", "ICU")]
    for text in (
        "I see your point, so I would escalate.",  # not the letters' names
        "I see, you would escalate.",  # punctuation between: two clauses
        "See you in clinic.",  # two letters are too often two words: not looked for
    ):
        assert corrector.correct(text, _forms(question), words=_unsure(text, 0.95)).text == text


def test_a_term_heard_with_its_letters_spaced_apart_is_joined(corrector: TermCorrector) -> None:
    question = _question_with("airflow sensor")
    heard = "In this case I would mention air leak, air flow sensor, and also fuel pump."
    fixed = corrector.correct(heard, _forms(question), words=_unsure(heard, 0.99))
    assert "airflow sensor" in fixed.text
    # Where both spellings are forms, what was said is kept as said.
    both = _question_with("air flow")
    for text in ("The air flow is low.", "The airflow is low."):
        assert corrector.correct(text, _forms(both), words=_unsure(text, 0.3)).text == text


def test_never_puts_in_another_term_of_the_same_field(corrector: TermCorrector) -> None:
    """Every model answer corrected towards the next question of its own college (as text,
    without the decoder's probabilities): a term of the same field is put in only where the
    answer says it."""
    keys = list(QUESTIONS)
    for key in keys:
        bank = [k for k in keys if k.split("/")[0] == key.split("/")[0]]
        other = QUESTIONS[bank[(bank.index(key) + 1) % len(bank)]]
        answer = QUESTIONS[key].model_answer
        fixed = corrector.correct(
            answer, _forms(other), vocabulary=(other.text, other.model_answer)
        )
        put_in = [c for c in fixed.corrections if c.term.lower() not in answer.lower()]
        assert put_in == [], (key, put_in)


@pytest.mark.parametrize(
    ("heard", "term"),
    [
        # Whisper tiny.en's transcripts of answers to the question before, unsure of these
        # words (``scripts/bench terms``): one edit from the term on the folded key, but
        # with other vowels.
        ("Intent to cause bodily harm is needed.", "battery"),
        ("The load was fully reversed at each cycle.", "fillet radius"),
    ],
)
def test_words_with_other_vowels_are_not_read_as_a_term(
    corrector: TermCorrector, heard: str, term: str
) -> None:
    question = _question_with(term)
    assert _correct(corrector, question, heard) == heard
    loose = TermCorrector(corrector.phonetics, vowel_distance=None)
    assert term in _correct(loose, question, heard)  # what the vowels keep out


@pytest.mark.parametrize(
    ("heard", "term"),
    [
        ("Give a thrombolic now.", "thrombolytic"),
        ("There is ketonemia.", "ketonaemia"),
        ("A crack seen on photography.", "fractography"),
    ],
)
def test_a_term_misheard_with_other_vowels_in_part_is_still_read_back(
    corrector: TermCorrector, heard: str, term: str
) -> None:
    assert term in _correct(corrector, _question_with(term), heard)


def test_a_term_run_together_into_fewer_words_of_the_same_sounds_is_read_back(
    corrector: TermCorrector,
) -> None:
    """tiny.en on espeak's voice (``scripts/bench terms``): "static port icing" came back as
    "static portizing", "omitted insulin" as "omididinsulin", both unsure."""
    for heard, term in (
        ("I think the key point is static portizing.", "static port icing"),
        ("The key points are high glucose and omididinsulin.", "omitted insulin"),
    ):
        question = _question_with(term)
        assert term in _correct(corrector, question, heard)
        sure = corrector.correct(heard, _forms(question), words=_unsure(heard, 0.95))
        assert sure.text == heard  # heard with confidence: taken as said
    blue_line = GradingQuestion("What is it?", (Keyword("blue line"),), "A blue line.")
    assert _correct(corrector, blue_line, "The water was boiling.") == "The water was boiling."


def test_bias_puts_every_term_before_the_synonyms() -> None:
    question = _question_with("ticagrelor")
    prompt, hotwords = decoder_bias(question.text, [k.forms for k in question.keywords])
    assert prompt == question.text
    terms = [k.term for k in question.keywords]
    assert list(hotwords[: len(terms)]) == [f"{term}," for term in terms]
    assert {h.rstrip(",") for h in hotwords} == set(_forms(question))
    assert bias_terms([["ECG", "ecg"], ["x"]]) == ("ECG", "x")


# Misheard by tiny.en decoding greedily (NEWSPEECH_WHISPER_BEAM_SIZE=1; the question as prompt,
# its terms and then synonyms as hotwords) and heard after correction: sentences of `scripts/bench
# terms`. The product's beam of 5 hears some of them right in the first place.
# Which of them tiny.en mishears, and how, depends on the CPU: CTranslate2's int8 kernels
# differ between instruction sets (AVX2, AVX-512, VNNI). On the machine where the list was made
# every one was misheard and corrected; on another "fractography" came back as "photography", a
# confident real word that is rightly left alone. So the decodes are judged together.
MISHEARD = [
    ("piper", "I think the key points are pyelonephritis, organ failure and low blood pressure.",
     "pyelonephritis"),
    ("piper", "I think the key point is Goodman.", "Goodman"),
    ("piper", "I think the key point is hypercapnia.", "hypercapnia"),
    ("espeak", "In this case I would mention full table scan.", "full table scan"),
    ("espeak", "In this case I would mention coolant pump.", "coolant pump"),
    ("espeak", "I think the key point is hypercapnia.", "hypercapnia"),
    ("espeak", "In this case I would mention acidaemia.", "acidaemia"),
    ("espeak", "In this case I would mention fractography, material testing, and also reversed "
     "bending.", "fractography"),
]  # fmt: skip
MIN_MENDED = 5
"""Of the eight misheard terms, at least this many are heard after correction on any CPU (6 on the
machines before 2026-12-07, 5 on that day's AMD EPYC: decodes differ by CPU)."""


async def test_misheard_terms_are_heard_after_correction(
    tiny: WhisperSpeechToText,
    pool: InferencePool,
    voices: CandidateVoices,
    corrector: TermCorrector,
) -> None:
    greedy = WhisperSpeechToText(tiny.model, pool, beam_size=1)
    mended, outcomes = 0, []
    for voice, said, term in MISHEARD:
        question = _question_with(term)
        pcm = voices.piper(said) if voice == "piper" else voices.espeak(said)
        prompt, hotwords = decoder_bias(question.text, [k.forms for k in question.keywords])
        transcript = await greedy.transcribe(pcm, prompt=prompt, hotwords=hotwords)
        fixed = corrector.correct(
            transcript.text,
            _forms(question),
            vocabulary=(question.text, question.model_answer),
            words=transcript.words,
        )
        outcomes.append((term, transcript.text, fixed.corrections))
        # A correction only ever puts in the term that was said.
        assert [c.term for c in fixed.corrections] in ([], [term]), outcomes[-1]
        if term.lower() not in transcript.text.lower() and term.lower() in fixed.text.lower():
            mended += 1
    assert mended >= MIN_MENDED, outcomes


async def test_a_real_recording_is_left_as_heard(
    tiny: WhisperSpeechToText, corrector: TermCorrector
) -> None:
    """Decoded as an answer to each question in turn (biased towards its terms), a speech
    that says none of them keeps its words."""
    pcm = decode_audio((AUDIO / "whisper_jfk.flac").read_bytes(), max_seconds=60)
    for question in list(QUESTIONS.values())[::12]:
        prompt, hotwords = decoder_bias(question.text, [k.forms for k in question.keywords])
        transcript = await tiny.transcribe(pcm, prompt=prompt, hotwords=hotwords)
        fixed = corrector.correct(
            transcript.text,
            _forms(question),
            vocabulary=(question.text, question.model_answer),
            words=transcript.words,
        )
        assert fixed.corrections == (), (transcript.text, fixed.corrections)
        assert "country" in transcript.text.lower()


# Heard by tiny.en on both voices as "I see you" and "air flow sensor" (the product's decoding;
# sentences of `scripts/bench terms`): read back by the two exact rules.
SPELLED_OR_SPLIT = [
    ("I think the key points are MAP, urinary catheter and ICU.", "ICU"),
    ("I think the key points are prednisolone, magnesium sulphate and ICU.", "ICU"),
    ("In this case I would mention air leak, airflow sensor, and also fuel pump.",
     "airflow sensor"),
]  # fmt: skip


@pytest.mark.parametrize("voice", ["piper", "espeak"])
async def test_an_initialism_or_a_split_term_is_heard_after_correction(
    tiny: WhisperSpeechToText, voices: CandidateVoices, corrector: TermCorrector, voice: str
) -> None:
    for said, term in SPELLED_OR_SPLIT:
        question = _question_with(term)
        pcm = voices.piper(said) if voice == "piper" else voices.espeak(said)
        prompt, hotwords = decoder_bias(question.text, [k.forms for k in question.keywords])
        transcript = await tiny.transcribe(pcm, prompt=prompt, hotwords=hotwords)
        fixed = corrector.correct(
            transcript.text,
            _forms(question),
            vocabulary=(question.text, question.model_answer),
            words=transcript.words,
        )
        outcome = (transcript.text, fixed.corrections)
        assert term in fixed.text, outcome
        # A correction only ever puts in a term that was said.
        assert all(c.term.lower() in said.lower() for c in fixed.corrections), outcome


# Missed by tiny.en on the espeak voice when it decoded greedily with a 64-token hotword budget
# (the product's decoding before), even after correction, and heard with beam 5 and 96 tokens
# (`scripts/bench terms --voices espeak --decoding greedy` / `beam5hot96`). "tachypnoea" and
# "peening" need both: beam 5 alone still missed them (their synonyms were past the 64 tokens).
HEARD_WITH_BEAM = [
    ("In this case I would mention tachypnoea, tachycardia, and also life-threatening features.",
     "tachypnoea"),
    ("My answer includes radiused corner, sled runner keyway, as well as peening.", "peening"),
    ("I think the key points are increased weight, blocked pitot and tailplane icing.",
     "blocked pitot"),
    ("In this case I would mention quash, remitted, and also injunction.", "quash"),
    ("I think the key point is chase debtors.", "chase debtors"),
    ("My answer includes ticagrelor, thrombolysis, as well as right ventricular infarct.",
     "ticagrelor"),
    ("I think the key points are diabetic ketoacidosis, ketonaemia and metabolic acidosis.",
     "diabetic ketoacidosis"),
    ("In this case I would mention RV infarction, angioplasty, and also prasugrel.",
     "RV infarction"),
]  # fmt: skip
MIN_HEARD_WITH_BEAM = 6
"""Of the eight, at least this many are heard in the product's decoding (all eight on the
machine where they were found; greedy with 64 tokens heard none there). Decodes differ by CPU."""


async def test_terms_greedy_decoding_missed_are_heard_in_the_products_decoding(
    tiny: WhisperSpeechToText, voices: CandidateVoices, corrector: TermCorrector
) -> None:
    assert tiny.beam_size == 5  # the product's default (NEWSPEECH_WHISPER_BEAM_SIZE)
    heard, outcomes = 0, []
    for said, term in HEARD_WITH_BEAM:
        question = _question_with(term)
        prompt, hotwords = decoder_bias(question.text, [k.forms for k in question.keywords])
        transcript = await tiny.transcribe(voices.espeak(said), prompt=prompt, hotwords=hotwords)
        fixed = corrector.correct(
            transcript.text,
            _forms(question),
            vocabulary=(question.text, question.model_answer),
            words=transcript.words,
        )
        outcomes.append((term, transcript.text, fixed.corrections))
        assert all(c.term.lower() in said.lower() for c in fixed.corrections), outcomes[-1]
        heard += term.lower() in fixed.text.lower()
    assert heard >= MIN_HEARD_WITH_BEAM, outcomes
