"""Counting stored answers into the rollups' keys: the flag classes, where an answer is placed in
time, and the fold of a chunk of rows (:class:`Fold`). No SQL here: :mod:`sync_server.results.rollups`
reads the rows and writes the counts through the storage.

Flag classes describe *why* an answer might not count, not whether it does: ``misuse`` (cool-down,
burst, repeats) is left out of reports by default; ``incomplete`` (the citizen walked away during the
follow-ups) always counts for every question it answered, the headline first (DESIGN.md contract 11:
a headline answer that was given counts). The class is kept so reports can say how many answers
left their follow-ups. ``dossier_repeat`` (issue 14: a further rating of a dossier that already has
its counted rating; the storage adds the mark to the flags it hands the fold) is left out always,
even when misuse is let in: one rating counts per dossier. Reports find how many in
``Score.flagged["dossier_repeat"]`` (it is not one of :data:`FLAG_CLASSES`, so reports that list
those stay as they were).

Choice questions are counted in the ``rollup_day`` grain too, by channel (no schema change), and in the
``rollup_officer`` grain with the same keys (issue 15: an officer's page shows the reasons given): the row
of a choice question ``q`` holds ``n`` = answers that gave ``q`` and ``c1`` = answers to which ``q``
was shown (its ``show_if`` held, on a channel that asks it) but that did not give it: the reasons
table's "Không nêu lý do" row. Rows ``q:<option id>`` count how often each option was chosen
(question ids cannot hold ``:``, so these keys never meet a real question).
"""

from __future__ import annotations

import orjson

from hailong_core.response import FLAG_INCOMPLETE, MISUSE_FLAGS
from sync_server.days import DAY_MS, HOUR_MS, month_of, placeable, utc_ms
from sync_server.storage.sql.dossiers import REPEAT_FLAG

FLAG_CLASSES = ("ok", "incomplete", "misuse")
#: The class of a dossier's repeat rating: never counted (no report's classes hold it).
DOSSIER_REPEAT = REPEAT_FLAG
#: The class of an answer the demo made up (flag ``demo``, tools/demo.py): never counted either, so
#: a demo database's figures are the real answers given at its kiosk and phones only (issue 15).
DEMO = "demo"


def flag_class(flags: list) -> str:
    """``dossier_repeat`` over ``demo`` over ``misuse`` (cooldown, burst, repeat, rate limited) over
    ``incomplete`` over ``ok``; other flags count.

    ``misuse`` is left out by default, ``dossier_repeat`` always; ``incomplete`` (follow-ups left) counts,
    its number is shown apart.
    """
    if not flags:
        return "ok"
    if DOSSIER_REPEAT in flags:
        return DOSSIER_REPEAT
    if DEMO in flags:
        return DEMO
    if MISUSE_FLAGS.intersection(flags):
        return "misuse"
    return "incomplete" if FLAG_INCOMPLETE in flags else "ok"


def place(created_ms: int | None, received_at: str, suspect, placed_ms: int | None = None) -> int:
    """The instant a report counts an answer at (contract 7).

    ``placed_ms`` when ingest decided it (schema step 7 on); else the device's time, unless its clock
    was suspect or the time cannot be placed on a calendar (year 1, year 9999): then receipt time.
    """
    if placeable(placed_ms):
        return placed_ms
    if suspect or not placeable(created_ms):
        return utc_ms(received_at)
    return created_ms


class Fold:
    """Counts of one chunk of responses, keyed as the rollup tables are."""

    def __init__(self, offset_ms: int, kinds: dict):
        self.offset = offset_ms
        self.kinds = kinds
        self.day: dict[tuple, list[int]] = {}
        self.officer: dict[tuple, list[int]] = {}
        self.hour: dict[tuple, list[int]] = {}
        self.group: dict[tuple, list[int]] = {}
        self._months: dict[int, int] = {}

    def month(self, day: int) -> int:
        m = self._months.get(day)
        if m is None:
            m = self._months[day] = month_of(day)
        return m

    def add(self, unit, officer, channel, qid, ver, created_ms, received_at, answers, flags, suspect, group=None,
            placed_ms=None, site=None) -> None:
        """Count one stored response. Raises ValueError (before counting anything) for a row that
        cannot be read, so the caller can skip it and say which.

        ``site`` is the site it was given at (``responses.site_id``); every grain keyed by unit is keyed
        by it too (0 when none was recorded), so a unit's own points are counted apart and a reused
        code's answers are told apart by their site's unit version (issue 13)."""
        # Everything that can fail on a damaged row is read first: a row counts wholly or not at all.
        fc = flag_class(orjson.loads(flags))
        parsed = orjson.loads(answers)
        if not isinstance(parsed, dict):
            raise ValueError("answers is not an object")
        ms = place(created_ms, received_at, suspect, placed_ms)
        local = ms + self.offset
        day = local // DAY_MS
        site = site or 0
        key = (day, unit, site, channel, qid, ver, "", fc)
        row = self.day.get(key)
        if row is None:
            self.day[key] = [1, 0, 0, 0, 0, 0]
        else:
            row[0] += 1
        group_t = self.group
        if group:
            k = (day, unit, site, channel, group, qid, ver, "", fc)
            row = group_t.get(k)
            if row is None:
                group_t[k] = [1, 0, 0, 0, 0, 0]
            else:
                row[0] += 1
        kinds, headline, followups = self.kinds.get((qid, ver), _NO_KINDS)
        # The counting below is written out per table on purpose: it runs for every scale answer of
        # every response (a 5 M-answer rebuild), where a helper call per table costs seconds.
        day_t, officer_t = self.day, self.officer
        for question, value in parsed.items():
            kind = kinds.get(question)
            if kind == "scale":
                if type(value) is not int or not 1 <= value <= 5:
                    continue
                k = (day, unit, site, channel, qid, ver, question, fc)
                row = day_t.get(k)
                if row is None:
                    row = day_t[k] = [0, 0, 0, 0, 0, 0]
                row[0] += 1
                row[value] += 1
                if officer:
                    k = (day, unit, site, officer, qid, ver, question, fc)
                    row = officer_t.get(k)
                    if row is None:
                        row = officer_t[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    row[value] += 1
                if group:
                    k = (day, unit, site, channel, group, qid, ver, question, fc)
                    row = group_t.get(k)
                    if row is None:
                        row = group_t[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    row[value] += 1
                if question == headline:
                    k = (self.month(day), unit, site, channel, (day + 3) % 7, (local % DAY_MS) // HOUR_MS, qid, ver, fc)
                    row = self.hour.get(k)
                    if row is None:
                        row = self.hour[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    row[value] += 1
            elif kind == "single" or kind == "multi":
                options = value if isinstance(value, list) else (value,)
                if not options:
                    continue  # an empty choice is no answer (the protocol refuses one; the kiosk calls it a skip)
                k = (day, unit, site, channel, qid, ver, question, fc)
                row = day_t.get(k)
                if row is None:
                    row = day_t[k] = [0, 0, 0, 0, 0, 0]
                row[0] += 1
                for option in options:
                    k = (day, unit, site, channel, qid, ver, f"{question}:{option}", fc)
                    row = day_t.get(k)
                    if row is None:
                        row = day_t[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                if officer:  # the officer's reasons (issue 15): the same keys in the officer grain
                    k = (day, unit, site, officer, qid, ver, question, fc)
                    row = officer_t.get(k)
                    if row is None:
                        row = officer_t[k] = [0, 0, 0, 0, 0, 0]
                    row[0] += 1
                    for option in options:
                        k = (day, unit, site, officer, qid, ver, f"{question}:{option}", fc)
                        row = officer_t.get(k)
                        if row is None:
                            row = officer_t[k] = [0, 0, 0, 0, 0, 0]
                        row[0] += 1
        for question, (target, values, channels) in followups.items():
            if parsed.get(question) or channel not in channels:
                continue
            given = parsed.get(target)
            if given is None:
                continue
            # ShowIf.holds on the stored value; ``in`` on a tuple compares, so no stored value can raise here.
            if any(v in values for v in given) if isinstance(given, list) else given in values:
                k = (day, unit, site, channel, qid, ver, question, fc)
                row = day_t.get(k)
                if row is None:
                    row = day_t[k] = [0, 0, 0, 0, 0, 0]
                row[1] += 1  # shown, not answered: "không nêu lý do"
                if officer:
                    k = (day, unit, site, officer, qid, ver, question, fc)
                    row = officer_t.get(k)
                    if row is None:
                        row = officer_t[k] = [0, 0, 0, 0, 0, 0]
                    row[1] += 1


_NO_KINDS: tuple[dict, None, dict] = ({}, None, {})


def _add_into(table: dict[tuple, list[int]], key: tuple, counts: list[int]) -> None:
    row = table.get(key)
    if row is None:
        table[key] = list(counts)
    else:
        for i in range(6):
            row[i] += counts[i]


def coarser(fold: Fold) -> tuple[dict, dict, dict]:
    """Month and province-total grains (and groups by month), summed from a chunk's daily counts.

    Day keys are ``(day, unit, site, channel, questionnaire, version, question, flag class)``; the
    month grain keeps unit and site, the province's daily totals drop both."""
    month: dict[tuple, list[int]] = {}
    total: dict[tuple, list[int]] = {}
    for (day, *rest), counts in fold.day.items():
        _add_into(month, (fold.month(day), *rest), counts)
        _add_into(total, (day, *rest[2:]), counts)  # no unit, no site
    group: dict[tuple, list[int]] = {}
    for (day, *rest), counts in fold.group.items():
        _add_into(group, (fold.month(day), *rest), counts)
    return month, total, group


