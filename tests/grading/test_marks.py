"""The default grader's marks on the 0-10 scale (real MiniLM, the shipped mark model): the model
answer is worth full marks, fluent paraphrases nearly so, the stuffing guard leaves them alone,
and a fixed SAF sample stays as close to the tutors' marks as the fit promised."""

from __future__ import annotations

import pytest

from newspeech.grading import ReviewReason
from newspeech.grading import saf as saf_data
from newspeech.grading.agreement import agreement
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.hybrid import HybridGrader
from newspeech.grading.text import Analyser
from newspeech.models.enums import FeedbackType
from tests.grading.cases import bank_questions

BANK = bank_questions()
PARAPHRASES = {
    ("medical", 2, 3): (
        "In the first hour I'd give oxygen if she needs it and get broad-spectrum antibiotics "
        "in intravenously, following the local guidelines. I'd give fluid boluses of "
        "crystalloid, up to about thirty mls per kilo, checking her after each one, and put in "
        "a catheter to watch her urine output. If her pressure is still low after enough fluid "
        "I'd call critical care and start noradrenaline as a vasopressor to keep the mean "
        "arterial pressure at sixty-five or more, and look for the source to control it."
    ),
    ("law", 1, 1): (
        "For a contract you need an offer and an acceptance that matches it without conditions, "
        "consideration, and an intention to create legal relations, and the terms have to be "
        "certain enough. Tom's reply offering eight thousand wasn't an acceptance, it was a "
        "counter-offer, and a counter-offer counts as a rejection that kills the original "
        "offer, like in Hyde v Wrench, so Priya's offer wasn't open any more."
    ),
    ("aviation", 3, 2): (
        "There are 140 miles left and we're doing about 100 knots over the ground, so that's "
        "roughly 84 minutes, which needs about 50 litres. I've got 70 litres remaining, so I'd "
        "land with around 20, barely above the 18 litre final reserve and nothing spare for a "
        "stronger headwind or a go-around. So no, I'd divert and refuel on the way."
    ),
    ("automobile", 2, 2): (
        "I'd warm the engine up and see if the fan comes on, and turn on the air conditioning "
        "because that should command the fan on most cars. Then I'd check the fuse and the "
        "relay, and give the fan motor 12 volts of direct power to see if it spins. I'd also "
        "plug in a scan tool for fault codes and the live data from the coolant temperature "
        "sensor, to see if the fan is actually being told to run."
    ),
    ("engineering", 1, 1): (
        "It's most likely overloading because of a change of use: archive shelving puts far "
        "more load on the beam than the office load it was designed for. A deflection of 30 "
        "millimetres is excessive, well past serviceability limits like span over 360, which "
        "is about 17 millimetres, and it suggests the bending stresses could be getting near "
        "yield, so the ultimate limit state needs checking urgently."
    ),
    ("management", 2, 1): (
        "It began as a task conflict over the architecture, which can be healthy, but it has "
        "escalated into a relationship conflict, with sarcasm and people refusing code reviews. "
        "It's costing productivity, you can see that in the missed deadlines, it has damaged "
        "psychological safety because the quieter people have stopped speaking up, and there's "
        "a risk of attrition, since the junior developer has asked for a transfer."
    ),
}
SAF_PARAPHRASES = {
    "1.2": (
        "I would use a connectionless service. While refining the search I talk to lots of "
        "different websites, each only briefly, so setting up and tearing down a connection "
        "for every site I skim would add a lot of overhead for very little data each time."
    ),
    "2.2_DLL": (
        "In asynchronous mode each character is sent on its own, framed by a start bit and a "
        "stop bit; that is simple and cheap but the transmission rate is low. In synchronous "
        "mode many characters are grouped into a continuous stream of frames marked by a SYN "
        "or flag pattern; it is more complex and the sender and receiver must be kept "
        "synchronised, but the transmission rate is higher."
    ),
    "4.1_LM_v1.0": (
        "The collision domain diameter shrinks by a factor of ten, for example from about 300 "
        "metres down to about 30 metres."
    ),
    "6.1_IPP": (
        "IPv6 aims to support billions of end systems, to make routing tables smaller, to "
        "simplify protocol processing with a simpler header and to improve security. It also "
        "aims to support real-time traffic with quality of service through the flow label and "
        "traffic class, to provide multicast, to support mobile hosts that roam, to stay open "
        "to future change with extension headers, and to coexist with existing protocols."
    ),
}
"""Paraphrases written for a sample of SAF questions (training and unseen questions)."""
SAMPLE_EVERY = 8
"""The calibration guard's sample: every 8th answer of SAF's two test splits (about 100)."""


@pytest.fixture(scope="module")
def grader() -> HybridGrader:
    return HybridGrader(MiniLMEmbedder())


@pytest.mark.parametrize("key", sorted(BANK), ids=lambda key: "-".join(map(str, key)))
def test_a_bank_questions_model_answer_read_back_scores_full_marks(
    grader: HybridGrader, key: tuple[str, int, int]
) -> None:
    question = BANK[key]
    grade = grader.grade(question, question.model_answer)
    assert (grade.score, grade.feedback_type) == (10, FeedbackType.CORRECT), grade.details
    assert ReviewReason.KEYWORD_STUFFING not in grade.review_reasons


@pytest.mark.parametrize("key", sorted(PARAPHRASES), ids=lambda key: "-".join(map(str, key)))
def test_a_fluent_paraphrase_of_the_model_answer_scores_at_least_8(
    grader: HybridGrader, key: tuple[str, int, int]
) -> None:
    grade = grader.grade(BANK[key], PARAPHRASES[key])
    assert grade.score >= 8, grade.details["features"]
    assert grade.feedback_type is FeedbackType.CORRECT
    assert ReviewReason.KEYWORD_STUFFING not in grade.review_reasons


def test_every_saf_model_answer_read_back_scores_full_marks(grader: HybridGrader) -> None:
    analyser = Analyser()
    for split in (saf_data.TRAINING, saf_data.UNSEEN_QUESTIONS):
        for question in saf_data.load_split(split):
            grade = grader.grade(question.grading_question(analyser), question.reference)
            assert grade.score == 10, (question.id, grade.details["features"])
            assert ReviewReason.KEYWORD_STUFFING not in grade.review_reasons, question.id


@pytest.mark.parametrize("question_id", sorted(SAF_PARAPHRASES))
def test_a_fluent_paraphrase_of_a_saf_model_answer_scores_at_least_8(
    grader: HybridGrader, question_id: str
) -> None:
    questions = {
        q.id: q
        for split in (saf_data.TRAINING, saf_data.UNSEEN_QUESTIONS)
        for q in saf_data.load_split(split)
    }
    grading = questions[question_id].grading_question(Analyser())
    grade = grader.grade(grading, SAF_PARAPHRASES[question_id])
    assert grade.score >= 8, grade.details["features"]
    assert grade.feedback_type is FeedbackType.CORRECT
    assert ReviewReason.KEYWORD_STUFFING not in grade.review_reasons


def test_a_fixed_saf_sample_stays_as_close_to_the_tutors_as_the_fit_promised(
    grader: HybridGrader,
) -> None:
    """A regression guard on the shipped model: the floors (:data:`CALIBRATION`) sit below what
    the full test splits measured with it (see docs/grading.md, "Measured")."""
    analyser = Analyser()
    marks: list[float] = []
    humans: list[float] = []
    for split in (saf_data.UNSEEN_ANSWERS, saf_data.UNSEEN_QUESTIONS):
        for question in saf_data.load_split(split):
            grading = question.grading_question(analyser)
            for answer in question.answers[::SAMPLE_EVERY]:
                marks.append(grader.grade(grading, answer.text).score)
                humans.append(answer.mark)
    found = agreement(marks, humans)
    assert found["answers"] > 90
    assert found["qwk"] >= CALIBRATION["qwk"], found
    assert found["within_one"] >= CALIBRATION["within_one"], found
    assert found["pearson_r"] >= CALIBRATION["pearson_r"], found
    assert abs(found["mean_mark"] - found["human_mean_mark"]) <= CALIBRATION["mean_gap"], found


CALIBRATION = {"qwk": 0.3, "within_one": 0.4, "pearson_r": 0.3, "mean_gap": 1.0}
"""Floors set below the full test splits' measured values (bench/results/grading-saf.json:
QWK 0.40 / 0.62, within one 0.58 / 0.54, r 0.41 / 0.61, mean gap 0.21 / 0.46 on unseen answers /
unseen questions), with a margin for the smaller sample."""
