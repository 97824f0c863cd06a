"""Bringing the results rollups up to date: the one use case behind ``hailong-server maintain``,
``refresh-results``, the in-process schedule and the bounded catch-up of a page view.

Rows are read and folded *outside* any write transaction (ingest keeps its pace); each chunk's
counts are then added in one short transaction that moves the watermark only if no other process
moved it first (``storage.add_rollups``), so any number of processes refreshing at once count
every answer exactly once (contract 12). A row that cannot be read is skipped, logged with its
``server_seq`` and id, and never stops the rest (contract 13: one record cannot break a report).

What the fold writes is versioned (:data:`FOLD_VERSION`, kept in ``server_config``, so no schema
step is needed): rollups written by an older fold are emptied and rebuilt from the responses, which
stay the source of truth, the same way a change of the province's UTC offset rebuilds them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hailong_core.questionnaire import CHANNELS
from sync_server.results.fold import Fold, coarser

log = logging.getLogger("sync_server.results")
CHUNK = 50_000
# 2 (issue 12): choice questions by channel in rollup_day, with the follow-ups shown but not answered;
# rollup_choice is no longer written or read. 3 (issue 13): rollup_day and rollup_month keyed by site too
# (schema step 10), so a unit's own points are counted apart from its subtree.
# 4 (issue 15): answers flagged ``demo`` are a class of their own, never counted.
# 5 (issue 15): choice questions (the reasons) in rollup_officer too, for the officer's page.
FOLD_VERSION = 6  # 6 (issue 13): officers, weekday × hour and procedure groups keyed by site too (schema step 18)
FOLD_KEY = "results_fold_version"


@dataclass
class RefreshReport:
    folded: int = 0
    skipped: list[int] = field(default_factory=list)  # server_seq of rows that could not be counted
    behind: int = 0  # about how many stored answers are not counted yet (0: current)


def question_kinds(storage) -> dict[tuple[str, int], tuple[dict[str, str], str | None, dict[str, tuple]]]:
    """``(id, version) → ({question: kind}, headline question id, follow-ups)`` of the published
    questionnaires; follow-ups are the choice questions with ``show_if``:
    ``{question: (target question, values that show it, channels that ask it)}``."""
    out = {}
    for key, doc in storage.questionnaires().items():
        questions = doc.get("questions") or []
        kinds = {q["id"]: q["kind"] for q in questions}
        headline = next((q["id"] for q in questions if q["kind"] == "scale" and "show_if" not in q), None)
        followups = {q["id"]: (q["show_if"]["question"], tuple(q["show_if"]["in"]), tuple(q.get("channels") or CHANNELS))
                     for q in questions if q["kind"] in ("single", "multi") and q.get("show_if")}
        out[key] = (kinds, headline, followups)
    return out


def current(storage, offset_ms: int) -> bool:
    """Whether the rollups were written with this offset by this fold (else they are rebuilt)."""
    state = storage.rollup_state()
    return state is not None and state[1] == offset_ms and storage.get_config(FOLD_KEY) == FOLD_VERSION


def behind(storage, offset_ms: int) -> int:
    """About how many stored answers the rollups do not count yet (server_seq distance)."""
    state = storage.rollup_state()
    top = storage.top_seq()
    if state is None or state[1] != offset_ms or storage.get_config(FOLD_KEY) != FOLD_VERSION:
        return top
    return max(0, top - state[0])


def refresh(storage, offset_ms: int, *, chunk: int = CHUNK, max_rows: int | None = None) -> RefreshReport:
    """Fold answers stored since the watermark, ``chunk`` rows at a time, at most ``max_rows`` (None: all)."""
    report = RefreshReport()
    if not current(storage, offset_ms):
        # First run, the province's offset changed, or an older fold wrote them: rebuild. Two processes
        # may both reset; the conditional watermark (add_rollups) keeps the counts exact either way.
        storage.reset_rollups(offset_ms)
        storage.set_config(FOLD_KEY, FOLD_VERSION)
    kinds = question_kinds(storage)
    while max_rows is None or report.folded + len(report.skipped) < max_rows:
        last = storage.rollup_state()[0]
        limit = chunk if max_rows is None else min(chunk, max_rows - report.folded - len(report.skipped))
        rows = storage.rows_to_fold(last, limit)
        if not rows:
            break
        fold = Fold(offset_ms, kinds)
        add = fold.add
        skipped = []
        for r in rows:
            try:
                add(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13])
            except (ValueError, TypeError, OverflowError, KeyError) as exc:
                skipped.append(r[0])
                log.warning("results: answer server_seq=%s cannot be counted and is skipped (%s: %s)",
                            r[0], type(exc).__name__, exc)
        if storage.add_rollups(last, rows[-1][0], offset_ms, counts_of(fold)):
            report.folded += len(rows) - len(skipped)
            report.skipped.extend(skipped)
        if len(rows) < limit:
            break
    report.behind = behind(storage, offset_ms)
    return report


def counts_of(fold: Fold) -> dict[str, list[tuple]]:
    """The rows to add, per rollup table."""
    month, total, group_month = coarser(fold)
    wide = lambda table: [k + tuple(v) for k, v in table.items()]  # noqa: E731
    return {
        "rollup_day": wide(fold.day), "rollup_officer": wide(fold.officer), "rollup_hour": wide(fold.hour),
        "rollup_group_day": wide(fold.group), "rollup_group_month": wide(group_month), "rollup_month": wide(month),
        "rollup_total_day": wide(total),
    }
