"""The hybrid grader: a mark model shipped as data, gaming caps kept, review on doubt."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from newspeech.errors import ConfigurationError
from newspeech.grading import ReviewReason
from newspeech.grading.embeddings import MiniLMEmbedder
from newspeech.grading.fit import Rows, fit, fit_ridge, isotonic
from newspeech.grading.hybrid import FEATURES, SIGNALS_DISAGREE, HybridGrader
from newspeech.grading.marks import MarkModel
from newspeech.models.enums import EvaluatorType, FeedbackType
from tests.grading.cases import GamingCase, bank_question, load_cases

CASES = load_cases()
STEMI = bank_question("medical", 1, 1)


@pytest.fixture
def grader(minilm: MiniLMEmbedder) -> HybridGrader:
    return HybridGrader(minilm)


def test_shipped_model_says_where_it_came_from() -> None:
    model = MarkModel.load()
    assert set(model.features) <= set(FEATURES)
    provenance = model.provenance
    assert "SAF" in provenance["data"]
    assert "training" in provenance["data"]
    assert provenance["command"] == "uv run python -m newspeech.grading.fit"
    assert provenance["answers"] > 2000
    assert provenance["training_grouped_cv"]["within_one"] > 0.4


def test_a_malformed_model_is_refused(tmp_path: Path) -> None:
    shipped = resources.files("newspeech.grading").joinpath("mark_model.json")
    data = json.loads(shipped.read_text(encoding="utf-8"))
    data["calibration"]["marks"] = list(reversed(data["calibration"]["marks"]))
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="non-decreasing"):
        MarkModel.load(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        MarkModel.load(tmp_path / "missing.json")


def test_more_evidence_never_lowers_the_mark() -> None:
    model = MarkModel.load()
    # Two standard deviations below and above the training answers' mean, feature by feature.
    spread = list(zip(model.features, model.mean, model.scale, strict=True))
    low = {name: mean - 2 * scale for name, mean, scale in spread}
    high = {name: mean + 2 * scale for name, mean, scale in spread}
    assert model.fraction(high) > model.fraction(low)
    assert model.fraction(dict.fromkeys(model.features, 1.0)) == 1.0


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hybrid_keeps_within_the_gaming_suites_bounds(
    grader: HybridGrader, case: GamingCase
) -> None:
    grade = grader.grade(case.grading_question(), case.transcript)
    assert case.acceptable(grade.score), (grade.score, grade.details["features"])


def test_model_answer_is_correct_and_off_topic_is_not(grader: HybridGrader) -> None:
    good = grader.grade(STEMI, STEMI.model_answer)
    bad = grader.grade(STEMI, "I enjoy playing football with my friends at the weekend.")
    assert good.evaluator is EvaluatorType.HYBRID
    assert good.feedback_type is FeedbackType.CORRECT
    assert good.score >= 8
    assert bad.feedback_type is FeedbackType.INCORRECT
    assert bad.score <= 2
    assert set(good.details["features"]) == set(FEATURES)
    assert good.matched
    assert not bad.matched


def test_low_asr_confidence_goes_to_review(grader: HybridGrader) -> None:
    grade = grader.grade(STEMI, STEMI.model_answer, asr_confidence=0.2)
    assert ReviewReason.LOW_ASR_CONFIDENCE in grade.review_reasons
    assert grade.confidence < grader.grade(STEMI, STEMI.model_answer).confidence
    assert "misheard" in grade.spoken_feedback


def test_disagreeing_signals_go_to_review(grader: HybridGrader) -> None:
    # Every key term, each denied: keyword credit 0, but it reads like the model answer.
    denied = (
        "This is not an inferior STEMI: there is no ST elevation in II, III and aVF, no "
        "reciprocal depression in I and aVL, the right coronary artery is not involved and "
        "he has no risk factors."
    )
    grade = grader.grade(STEMI, denied)
    assert grade.score <= 3
    if grade.details["features"]["similarity"] > 0.6:
        assert SIGNALS_DISAGREE in grade.review_reasons


def test_llm_fraction_is_blended_and_still_capped_by_stuffing(grader: HybridGrader) -> None:
    stuffing = next(c for c in CASES if c.id == "medical-1-1-stuffing")
    offline = grader.grade(STEMI, stuffing.transcript)
    blended = grader.grade_with(STEMI, stuffing.transcript, llm_fraction=1.0)
    assert blended.score <= stuffing.max_score  # type: ignore[operator]
    assert blended.fraction <= offline.details["keyword"]["fraction_before_caps"] + 1e-9
    honest = grader.grade_with(STEMI, STEMI.model_answer, llm_fraction=0.0)
    assert SIGNALS_DISAGREE in honest.review_reasons
    assert honest.details["llm_fraction"] == 0.0


def test_fitter_recovers_a_known_linear_model() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 3))
    truth = np.array([2.0, -1.0, 0.0])
    y = x @ truth + 0.5 + rng.normal(scale=0.1, size=4000)
    mean, scale, coef, intercept = fit_ridge(x, y, l2=0.0)
    assert np.allclose(coef / scale, truth, atol=0.05)
    assert abs(intercept - float(mean @ (coef / scale)) - 0.5) < 0.05


def test_a_mark_model_can_be_fitted_on_any_named_features() -> None:
    rng = np.random.default_rng(11)
    x = rng.uniform(size=(600, 3))
    y = np.clip(x @ np.array([0.6, 0.3, 0.0]) + rng.normal(scale=0.05, size=600), 0.0, 1.0)
    groups = [f"q{i % 12}" for i in range(600)]
    anchors = np.ones((12, 3))
    model = fit(Rows(x, y, groups, anchors), ("keyword", "coverage", "length_ratio"))
    assert model.features == ("keyword", "coverage", "length_ratio")
    assert abs(model.coef[2]) < 0.1 * abs(model.coef[0])
    low = model.fraction({"keyword": 0.1, "coverage": 0.1, "length_ratio": 0.5})
    high = model.fraction({"keyword": 0.9, "coverage": 0.9, "length_ratio": 0.5})
    assert high > low
    assert model.fraction(dict.fromkeys(model.features, 1.0)) == 1.0


def test_isotonic_calibration_is_monotone_and_fits_a_step() -> None:
    x = np.linspace(0, 1, 200)
    y = (x > 0.5).astype(float)
    calibrated = isotonic(x[::-1], y[::-1])(np.array([0.0, 0.25, 0.75, 1.0]))
    assert list(calibrated) == [0.0, 0.0, 1.0, 1.0]


def test_preparing_a_question_does_not_change_its_grades(minilm: MiniLMEmbedder) -> None:
    question = bank_question("aviation", 1, 1)
    answer = "I would divert to the nearest suitable aerodrome and declare an emergency."
    cold = HybridGrader(minilm).grade(question, answer)
    prepared = HybridGrader(minilm)
    prepared.prepare(question)
    warm = prepared.grade(question, answer)
    assert (warm.score, warm.fraction) == (cold.score, cold.fraction)
