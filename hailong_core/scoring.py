"""Scoring as DESIGN.md sets it: share satisfied, 0–100 index, Wilson lower bound.

Pure functions over counts, so the server's SQL aggregates and the tests' hand-computed
fixtures can be checked against one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hailong_core.questionnaire import Question

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class QuestionScore:
    answers: int
    satisfied: int
    score_sum: float

    @property
    def share_satisfied(self) -> float | None:
        return self.satisfied / self.answers if self.answers else None

    @property
    def index(self) -> float | None:
        """Mean of level scores, 0–100."""
        return self.score_sum / self.answers if self.answers else None


def score_answers(question: Question, values: list[int]) -> QuestionScore:
    """Score a scale question's answers (level numbers 1..N)."""
    satisfied = 0
    total = 0.0
    for v in values:
        level = question.level(v)
        if level is None:
            raise ValueError(f"{v!r} is not a level of {question.id}")
        satisfied += level.satisfied
        total += level.score
    return QuestionScore(len(values), satisfied, total)


def wilson_lower_bound(successes: int, n: int, z: float = Z_95) -> float:
    """Lower bound of the Wilson score interval for a proportion; 0.0 when n is 0."""
    if n <= 0:
        return 0.0
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def mean(values: list[float]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
