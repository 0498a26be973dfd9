"""Item and test statistics over plain data (no database): the numbers Moodle's quiz statistics
report gives examiners, for spoken answers.

Definitions (n = candidates):

- facility index of a question = mean score / max score, over the candidates who answered it;
- standard deviation of a question's scores in points, sample form (divide by n - 1);
- discrimination index = Pearson correlation of the question's score with the rest of the test
  (the candidate's total minus this question), over the candidates who answered it;
- Cronbach's alpha = k / (k - 1) * (1 - sum of item variances / variance of totals), over every
  candidate, an unanswered question counting 0 (as it does in the result);
- score distribution = counts of candidates per equal-width band of the percentage 0-100.

Anything undefined for the data (one candidate, a question everybody scored the same on, one
question) is ``None``, never NaN.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

Period = Literal["week", "month"]
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class CandidateScores(Generic[K]):
    """One sitting: points per question (by any key, e.g. the bank question id)."""

    candidate: Hashable
    scores: Mapping[K, float]

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))


@dataclass(frozen=True)
class ItemStatistics(Generic[K]):
    item: K
    attempts: int
    max_score: float
    mean: float | None
    facility: float | None
    std_dev: float | None
    discrimination: float | None


@dataclass(frozen=True)
class ScoreBin:
    lower: float
    upper: float
    count: int


@dataclass(frozen=True)
class ExamStatistics:
    candidates: int
    items: int
    mean: float | None
    median: float | None
    std_dev: float | None
    cronbach_alpha: float | None
    distribution: tuple[ScoreBin, ...]


@dataclass(frozen=True)
class PassRate:
    college_type: str
    period_start: dt.date
    attempts: int
    passes: int

    @property
    def rate(self) -> float:
        return self.passes / self.attempts


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sample_std(values: Sequence[float]) -> float | None:
    return statistics.stdev(values) if len(values) >= 2 else None


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; ``None`` with fewer than two pairs or when either side does not vary."""
    if len(xs) != len(ys):
        raise ValueError("pearson needs pairs: the sequences differ in length")
    if len(xs) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mean_x) ** 2 for x in xs)
    syy = sum((y - mean_y) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return _finite(sxy / math.sqrt(sxx * syy))


def item_statistics(
    candidates: Sequence[CandidateScores[K]], max_scores: Mapping[K, float]
) -> list[ItemStatistics[K]]:
    """Facility, standard deviation and discrimination of every item in ``max_scores``."""
    out = []
    for item, top in max_scores.items():
        answered = [c for c in candidates if item in c.scores]
        scores = [float(c.scores[item]) for c in answered]
        rest = [c.total - float(c.scores[item]) for c in answered]
        mean = statistics.fmean(scores) if scores else None
        out.append(
            ItemStatistics(
                item=item,
                attempts=len(scores),
                max_score=top,
                mean=mean,
                facility=None if mean is None or top <= 0 else mean / top,
                std_dev=sample_std(scores),
                discrimination=pearson(scores, rest),
            )
        )
    return out


def cronbach_alpha(candidates: Sequence[CandidateScores[K]], items: Iterable[K]) -> float | None:
    keys = list(items)
    if len(keys) < 2 or len(candidates) < 2:
        return None
    matrix = [[float(c.scores.get(key, 0.0)) for key in keys] for c in candidates]
    totals = [sum(row) for row in matrix]
    total_variance = statistics.variance(totals)
    if total_variance == 0:
        return None
    item_variance = sum(statistics.variance(column) for column in zip(*matrix, strict=True))
    k = len(keys)
    return _finite(k / (k - 1) * (1 - item_variance / total_variance))


def score_distribution(percentages: Iterable[float], bins: int = 10) -> tuple[ScoreBin, ...]:
    """Counts per band of width 100 / ``bins``; each band includes its lower edge, the last
    also 100."""
    if bins < 1:
        raise ValueError("a distribution needs at least one bin")
    width = 100.0 / bins
    counts = [0] * bins
    for value in percentages:
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"percentage {value} is outside 0..100")
        counts[min(int(value // width), bins - 1)] += 1
    return tuple(ScoreBin(i * width, (i + 1) * width, n) for i, n in enumerate(counts))


def exam_statistics(
    candidates: Sequence[CandidateScores[K]],
    max_scores: Mapping[K, float],
    *,
    bins: int = 10,
    test_max: float | None = None,
) -> ExamStatistics:
    """Mean, median and spread of totals (points), Cronbach's alpha, and the histogram of
    percentages of ``test_max`` (default: the items' maxima summed)."""
    totals = [c.total for c in candidates]
    test_max = float(sum(max_scores.values())) if test_max is None else test_max
    percentages = [min(100.0, 100.0 * t / test_max) for t in totals] if test_max > 0 else []
    return ExamStatistics(
        candidates=len(candidates),
        items=len(max_scores),
        mean=statistics.fmean(totals) if totals else None,
        median=float(statistics.median(totals)) if totals else None,
        std_dev=sample_std(totals),
        cronbach_alpha=cronbach_alpha(candidates, max_scores),
        distribution=score_distribution(percentages, bins),
    )


def period_start(moment: dt.datetime | dt.date, period: Period) -> dt.date:
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    if period == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day.replace(day=1)


def pass_rates(
    results: Iterable[tuple[str, dt.datetime, bool]], period: Period = "month"
) -> list[PassRate]:
    """``(college_type, when, passed)`` rows -> attempts and passes per college per period,
    ordered by college then period; periods without results are left out."""
    counts: dict[tuple[str, dt.date], list[int]] = {}
    for college, when, passed in results:
        entry = counts.setdefault((college, period_start(when, period)), [0, 0])
        entry[0] += 1
        entry[1] += bool(passed)
    return [
        PassRate(college, start, attempts, passes)
        for (college, start), (attempts, passes) in sorted(counts.items())
    ]
