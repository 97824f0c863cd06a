"""Scoring rollup counts as DESIGN.md's "Scoring" sets it, over the unit tree in force.

- Per question (scale questions only): share satisfied = satisfied ÷ answers; index = mean of
  level scores (0–100), with each questionnaire version's own levels.
- Per criterion: the mean of its questions that have answers; per unit: the mean of its criteria.
- A parent unit (district, province) is scored the same way over the *pooled* answers of its
  subtree, so a commune with many answers weighs more than one with few.
- Merged units (issue 13): an answer belongs to the unit version whose site it was given at. By
  default a unit carries its own versions' answers; on request (``Filters.history``) also those of
  its predecessors whose whole reach lies in its area (:mod:`sync_server.results.lineage`), so
  trends continue across a reform.
- Rankings: by the lower bound of the 95 % Wilson interval of the share satisfied on the headline
  question (one answer per citizen, so ``n`` counts people, not questions); ties share a rank;
  fewer counted headline answers than the minimum → "not enough answers", not ranked.
- Flag classes: ``ok`` and ``incomplete`` always count: an answer whose follow-ups were left
  (the citizen walked away after the face) counts for every question it answered, the headline
  first, so the headline does not lean towards the one-tap satisfied answers; reports show how
  many answers left their follow-ups. ``misuse`` is left out unless asked for, and the number left
  out is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hailong_core.questionnaire import Questionnaire, Text
from hailong_core.scoring import Z_95, mean, wilson_lower_bound
from sync_server.days import DAY_MS, day_number, day_of  # noqa: F401 - the one calendar, re-exported here
from sync_server.results.fold import FLAG_CLASSES
from sync_server.results.lineage import Tree  # noqa: F401 - the unit tree, re-exported beside the scoring


def wilson_upper_bound(successes: int, n: int, z: float = Z_95) -> float:
    """Upper bound of the Wilson interval: the lower bound of the failures, mirrored."""
    return 1.0 - wilson_lower_bound(n - successes, n, z) if n > 0 else 1.0


COUNTED = ("ok", "incomplete")  # flag classes every report counts; "misuse" only on request


@dataclass(frozen=True)
class Filters:
    """What counts: the channel (None = both), whether misuse-flagged answers are let in, and
    whether a unit's figures add its predecessors' answers (``history``, the history view).

    There is no choice for ``incomplete`` answers: they always count (``include=incomplete`` is still
    accepted by the pages, the pull API and the CLI, and changes nothing).
    """

    include_misuse: bool = False
    channel: str | None = None
    history: bool = False  # add the predecessors' answers (issue 13; sync_server.results.lineage)

    @property
    def classes(self) -> frozenset[str]:
        return frozenset(COUNTED + (("misuse",) if self.include_misuse else ()))

    def query(self) -> str:
        parts = []
        if self.include_misuse:
            parts.append("include=misuse")
        if self.channel:
            parts.append(f"channel={self.channel}")
        if self.history:
            parts.append("history=1")
        return "&".join(parts)


@dataclass
class Window:
    """A span of local days, inclusive; ``campaign`` when it is a campaign's window."""

    day_from: int
    day_to: int
    campaign: dict | None = None

    @property
    def start(self) -> date:
        return day_of(self.day_from)

    @property
    def end(self) -> date:
        return day_of(self.day_to)

    def query(self) -> str:
        if self.campaign:
            return f"campaign={self.campaign['id']}"
        return f"from={self.start.isoformat()}&to={self.end.isoformat()}"


class Book:
    """Published questionnaires by ``(id, version)``, parsed once per report."""

    def __init__(self, lookup):
        self._lookup = lookup  # (id, version) -> Questionnaire | None
        self._seen: dict[tuple[str, int], Questionnaire | None] = {}

    def get(self, qid: str, version: int) -> Questionnaire | None:
        key = (qid, version)
        if key not in self._seen:
            self._seen[key] = self._lookup(key)
        return self._seen[key]

    def latest(self) -> Questionnaire | None:
        found = [q for q in self._seen.values() if q is not None]
        return max(found, key=lambda q: (q.id == "bg-friendly-gov", q.version)) if found else None


class Tally:
    """Counts of a group of answers: ``(qid, version, question, flag class) → [n, c1..c5]``."""

    __slots__ = ("counts",)

    def __init__(self):
        self.counts: dict[tuple, list[int]] = {}

    def add(self, key: tuple, values) -> None:
        row = self.counts.get(key)
        if row is None:
            self.counts[key] = list(values)
        else:  # unrolled: this runs for every count row of every unit on a page
            row[0] += values[0]
            row[1] += values[1]
            row[2] += values[2]
            row[3] += values[3]
            row[4] += values[4]
            row[5] += values[5]

    def merge(self, other: "Tally") -> None:
        for key, values in other.counts.items():
            self.add(key, values)

    @classmethod
    def union(cls, tallies) -> "Tally":
        """The sum of tallies (None ignored); a single tally is returned as it is (read-only use)."""
        present = [t for t in tallies if t is not None]
        if len(present) == 1:
            return present[0]
        out = cls()
        for t in present:
            out.merge(t)
        return out


@dataclass
class QuestionResult:
    id: str
    criterion: str
    label: Text | None
    answers: int = 0
    satisfied: int = 0
    score_sum: float = 0.0
    levels: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])

    @property
    def share(self) -> float | None:
        return self.satisfied / self.answers if self.answers else None

    @property
    def index(self) -> float | None:
        return self.score_sum / self.answers if self.answers else None


@dataclass
class Score:
    """One unit's (or officer's, or channel's) result over a window."""

    responses: int = 0                                   # responses counted
    flagged: dict[str, int] = field(default_factory=dict)  # responses per flag class (all of them)
    left_out: dict[str, int] = field(default_factory=dict)  # per class not counted
    questions: dict[str, QuestionResult] = field(default_factory=dict)
    criteria: list[dict] = field(default_factory=list)  # id, label, index, share
    index: float | None = None
    share: float | None = None
    n: int = 0            # counted headline answers (people)
    satisfied: int = 0    # of those, satisfied
    low: float = 0.0      # Wilson 95 % interval of satisfied / n
    high: float = 1.0
    headline_sum: float = 0.0  # sum of the counted headline answers' level scores

    @property
    def headline_share(self) -> float | None:
        return self.satisfied / self.n if self.n else None

    @property
    def comparable_index(self) -> float | None:
        """The comparable index (issue 15): the mean level score (0–100) of the headline question only,
        the one question every kiosk (whatever its ``ask_criteria``) and the phone form ask. Recognition
        judges on it; ``index`` (criteria mean) also averages the criteria questions, which only some
        kiosks ask, so it is not comparable across units (docs/results.md, "Chỉ số so sánh được")."""
        return self.headline_sum / self.n if self.n else None

    @property
    def followups_left(self) -> int:
        """Counted responses whose citizen left the follow-ups (flag ``incomplete``)."""
        return self.flagged.get("incomplete", 0)


def score(tally: Tally, book: Book, filters: Filters) -> Score:
    """Score a tally: questions → criteria → unit, headline Wilson interval, counts left out."""
    classes = filters.classes
    out = Score(flagged={c: 0 for c in FLAG_CLASSES})
    criteria_order: list = []
    labels: dict[str, Text] = {}
    for (qid, version, question, fc), counts in tally.counts.items():
        if question == "":
            out.flagged[fc] = out.flagged.get(fc, 0) + counts[0]
            if fc in classes:
                out.responses += counts[0]
            continue
        if fc not in classes:
            continue
        qn = book.get(qid, version)
        if qn is None:
            continue
        q = qn.question(question)
        if q is None or q.kind != "scale":
            continue
        result = out.questions.get(question)
        if result is None:
            result = out.questions[question] = QuestionResult(question, q.criterion, q.text)
        n = counts[0]
        result.answers += n
        for level in q.levels:
            c = counts[level.value]
            result.levels[level.value - 1] += c
            result.score_sum += c * level.score
            if level.satisfied:
                result.satisfied += c
        if question == qn.overall.id:
            out.n += n
            out.satisfied += sum(counts[lv.value] for lv in q.levels if lv.satisfied)
            out.headline_sum += sum(counts[lv.value] * lv.score for lv in q.levels)
        for c in qn.criteria:
            labels.setdefault(c.id, c.label)
            if c.id not in criteria_order:
                criteria_order.append(c.id)
    out.left_out = {c: out.flagged.get(c, 0) for c in FLAG_CLASSES if c not in classes}
    by_criterion: dict[str, list[QuestionResult]] = {}
    for result in out.questions.values():
        by_criterion.setdefault(result.criterion, []).append(result)
    for cid in criteria_order:
        members = by_criterion.get(cid, [])
        out.criteria.append({"id": cid, "label": labels.get(cid), "index": mean([m.index for m in members]),
                             "share": mean([m.share for m in members])})
    out.index = mean([c["index"] for c in out.criteria])
    out.share = mean([c["share"] for c in out.criteria])
    out.low = wilson_lower_bound(out.satisfied, out.n)
    out.high = wilson_upper_bound(out.satisfied, out.n)
    return out


def rank(items: list[dict], min_n: int, key: str = "score") -> list[dict]:
    """Order ``items`` (dicts holding a :class:`Score` under ``key``) for a ranking table.

    Sets ``rank`` (competition ranking: equal Wilson lower bounds share a rank, the next rank
    skips) and ``enough``. Units under ``min_n`` come last, unranked, by count.
    """
    ranked = [i for i in items if i[key].n >= min_n]
    short = [i for i in items if i[key].n < min_n]
    ranked.sort(key=lambda i: (-i[key].low, -i[key].n, i.get("code", "")))
    previous, position = None, 0
    for place, item in enumerate(ranked, 1):
        low = round(item[key].low, 12)
        if low != previous:
            position, previous = place, low
        item["rank"], item["enough"] = position, True
    short.sort(key=lambda i: (-i[key].n, i.get("code", "")))
    for item in short:
        item["rank"], item["enough"] = None, False
    return ranked + short

