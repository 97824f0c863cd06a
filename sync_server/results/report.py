"""A report over a window, for one viewer's scope: what pages, exports and the pull API show.

Every query reads the rollups (brought up to date first: cheap when little is new); nothing here
scans raw answers except :func:`alerts`, which reads only the answers received in its short window.

Answers whose follow-ups were left (flag ``incomplete``) count in every figure here, as the answers
they are; only misuse is left out by default (:mod:`sync_server.results.model`).

Service points (issue 13): the one rollup query is grouped by unit, site and channel, so a report
holds each site's counts (``by_point``) beside each unit's (their sum). A unit's own points
(:meth:`Report.own_points`: a district's one-stop counter, the centre's sites) are scored apart from
its pooled subtree, and every point of the scope is ranked (:meth:`Report.points`); docs/results.md.

History across a reform (issue 13): an answer belongs to the unit version whose site it was given at
(:mod:`sync_server.results.lineage`), so counts are grouped by version (``by_version``), not by
code. By default a unit carries its own versions; with ``Filters.history`` also its predecessors
(:meth:`Report.history` lists them), and :meth:`Report.structure` says which structure a window
that spans a reorganisation uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from hailong_core import procedure_groups as groups_catalogue
from hailong_core.questionnaire import Text
from hailong_core.timeutil import format_day, parse_day
from sync_server.days import local_today, offset_ms
from sync_server.results import recognition, rollups
from sync_server.results.fold import flag_class
from sync_server.scopes import Scope, covers_version, read_codes
from sync_server.results.model import Book, Filters, Score, Tally, Tree, Window, day_number, day_of, rank, score

NO_REASON = Text("Không nêu lý do", "No reason given")
# Which structure a report uses (Report.structure), joined with "; ".
STRUCTURE = {
    "current": Text("Báo cáo theo cơ cấu đơn vị hành chính hiện hành (từ {since})",
                    "Report on the current administrative structure (since {since})"),
    "before": Text("Báo cáo theo cơ cấu đơn vị hành chính trước sắp xếp ngày {before} (áp dụng từ {since})",
                   "Report on the administrative structure before the reorganisation of {before} (in force since {since})"),
    "added": Text("số liệu trước đó được cộng theo các đơn vị tiền thân",
                  "figures from before are added to the units that succeeded them"),
    "own": Text("mỗi đơn vị chỉ gồm phiếu tại các điểm tiếp nhận của chính đơn vị, phiếu trước ngày {since} của các đơn vị "
                "tiền thân không được cộng (chọn “Gồm số liệu các đơn vị trước sắp xếp” để cộng)",
                "each unit holds only the answers given at its own service points; its predecessors' answers from "
                "before {since} are not added (tick “Include the units before the reorganisation” to add them)"),
}
ALERT_LAG_MS = 300_000  # answers created in the window may be received up to this much later (clock tolerance)
WEEKDAYS = 7


class WindowError(ValueError):
    pass


def resolve_window(storage, settings, campaign: int | None = None, day_from: str | None = None,
                   day_to: str | None = None) -> Window:
    """A campaign's window; or ``from``–``to``; else the newest campaign already started; else the last 30 days."""
    if campaign is not None:
        found = storage.campaign(campaign)
        if found is None:
            raise WindowError(f"no campaign {campaign}")
        return Window(day_number(found["starts_on"]), day_number(found["ends_on"]), found)
    today = local_today(settings)
    if day_from or day_to:
        try:
            start = parse_day(day_from) if day_from else today - timedelta(days=29)
            end = parse_day(day_to) if day_to else today
        except ValueError:
            raise WindowError("dates are DD/MM/YYYY (or YYYY-MM-DD)") from None
        if end < start:
            raise WindowError("the window ends before it starts")
        return Window(day_number(start), day_number(end))
    started = [c for c in storage.campaigns() if c["starts_on"] <= today.isoformat()]
    if started:
        c = max(started, key=lambda c: (c["starts_on"], c["id"]))
        return Window(day_number(c["starts_on"]), day_number(c["ends_on"]), c)
    return Window(day_number(today) - 29, day_number(today))


@dataclass
class Report:
    """Scores of every unit of the tree in force at the window's end, within ``scope``."""

    storage: object
    settings: object
    book: Book
    window: Window
    filters: Filters
    scope: set[str] | None
    tree: Tree
    by_version: dict[tuple[str, str], Tally]  # unit version (code, valid_from) → counts, on the channel filtered for
    channel_rows: list[tuple]  # (unit_code, site_id, channel, questionnaire, version, question, class, n, c1..c5)
    by_point: dict[tuple[str, int], Tally]  # (stored unit code, site id or 0) → counts, on the channel filtered for

    @classmethod
    def build(cls, state, scope: set[str] | None, window: Window, filters: Filters, *, tree: Tree | None = None,
              focus: str | None = None, complete: bool = False, catch_up: bool = True) -> "Report":
        """Scores within ``scope``; with ``focus``, only that unit's subtree is read (a commune's page
        need not aggregate the province).

        A page catches up a bounded step only (``maintain`` and its schedule do the rest), so a page
        view after a bulk upload stays fast and says how many answers are not counted yet
        (``behind``). With ``complete`` (exports, the pull API: what is handed upward) every answer
        received so far is counted first. ``catch_up=False``: a second report of the same view (an
        earlier window to compare with) counts nothing more, so one page view folds one bounded step.
        """
        storage, settings = state.storage, state.settings
        rows_now = 0 if not catch_up else None if complete else settings.results_page_fold_rows
        step = rollups.refresh(storage, offset_ms(settings), max_rows=rows_now)
        tree = tree or Tree.load(storage, window.end, history=filters.history)
        codes = read_codes(scope)
        if focus is not None and focus in tree.units and focus != tree.root():
            read = set(tree.read_codes(focus))
            codes = read if scope is None else read & codes
        rows = _covered(storage.rollup_counts(window.day_from, window.day_to, codes, by=("unit_code", "site_id", "channel")),
                        tree, scope)
        by_point = _tally_by_point(rows, filters)
        by_version: dict[tuple[str, str], list[Tally]] = {}
        for (unit, site), tally in by_point.items():
            key = tree.version_of(unit, site)
            if key is not None:
                by_version.setdefault(key, []).append(tally)
        report = cls(storage, settings, Book(state.index.get), window, filters, scope, tree,
                     {key: Tally.union(tallies) for key, tallies in by_version.items()}, rows, by_point)
        report._present = {(row[0], row[1]) for row in rows}  # (code, site) with answers in the window, any channel
        report._scores = {}
        report._by_channel = {}
        report._point_scores = {}
        report._tally_scores = {}  # id(tally) → (tally, its score): the tally is kept so the id stays its own
        report._read = codes  # the stored codes read (None: all): a page's focus reads only its subtree
        report.behind = step.behind
        return report

    # --- units -------------------------------------------------------------------------------

    def visible(self, code: str) -> bool:
        """A unit of the tree in use is the viewer's (the version of it this tree holds)."""
        return self.scope is None or covers_version(self.scope, code, self.tree.current[code][1] if code in self.tree.current else None)

    def codes_for(self, code: str) -> set[str] | None:
        """Stored codes that count for ``code`` within scope; None means "no filter" (the whole province,
        when no answer of the window belongs to a version it does not carry)."""
        if self.scope is None and code == self.tree.root() and self.tree.exact(code, self._present):
            return None
        codes = set(self.tree.stored_codes(code))
        return codes if self.scope is None else codes & read_codes(self.scope)

    def _placed(self, code: str, read) -> list[tuple]:
        """Rows of a rollup read for ``code`` (heatmap, procedure groups, officers) by
        ``read(codes, by_site)``: by :meth:`codes_for` alone, unless another version of one of its codes
        has answers in the window (a reused code); then led by unit and site as well, each row kept when
        its site's unit version counts for ``code``, and returned without those two columns."""
        codes = self.codes_for(code)
        if self.tree.exact(code, self._present):
            return read(codes, False)
        counted, version_of = self.tree.counted(code), self.tree.version_of
        return [r[2:] for r in read(codes, True) if version_of(r[0], r[1]) in counted]

    def tally_of(self, versions) -> Tally:
        """The counts of the given unit versions (read-only when it is a single version's)."""
        return Tally.union(self.by_version.get(k) for k in versions)

    def score(self, code: str) -> Score:
        found = self._scores.get(code)
        if found is None:
            found = self._scores[code] = self._score_of(self.tally_of(self.tree.counted(code)))
        return found

    def _score_of(self, tally: Tally) -> Score:
        """The score of a tally held by this report, computed once: a commune with one site and one
        code has one tally, for the unit and for its point alike."""
        found = self._tally_scores.get(id(tally))
        if found is None or found[0] is not tally:
            found = self._tally_scores[id(tally)] = (tally, score(tally, self.book, self.filters))
        return found[1]

    def unit_row(self, code: str) -> dict:
        u = self.tree.units[code]
        return {"code": code, "name": u["name"], "level": u["level"], "parent_code": u["parent_code"], "score": self.score(code)}

    def roots(self, user_unit: str | None) -> list[str]:
        """Where the viewer's report starts: the province, or their own unit (else the visible tops)."""
        if self.scope is None:
            root = self.tree.root()
            return [root] if root else []
        if user_unit in self.tree.units:
            return [user_unit]
        return [c for c in self.tree.order if self.visible(c) and not (self.tree.parent(c) and self.visible(self.tree.parent(c)))]

    def children(self, code: str) -> list[dict]:
        return [self.unit_row(c) for c in self.tree.children.get(code, []) if self.visible(c)]

    def level_rows(self, level: str, under: str | None = None) -> list[dict]:
        codes = self.tree.descendants(under) if under else self.tree.order
        return [self.unit_row(c) for c in codes if self.tree.units[c]["level"] == level and self.visible(c)]

    def ranked(self, rows: list[dict]) -> list[dict]:
        return rank(rows, self.settings.report_min_answers)

    def channel_tallies(self, code: str) -> dict[str, Tally]:
        """The unit's counts per channel (every channel, whatever the filter); computed once per unit."""
        found = self._by_channel.get(code)
        if found is None:
            counted = self.tree.counted(code)
            keys = getattr(self, "_row_versions", None)
            if keys is None:  # each row's unit version, found once for every unit asked
                keys = self._row_versions = [self.tree.version_of(r[0], r[1]) for r in self.channel_rows]
            found = self._by_channel[code] = {}
            for key, row in zip(keys, self.channel_rows):
                if key in counted:
                    found.setdefault(row[2], Tally()).add(tuple(row[3:7]), row[7:13])
        return found

    def channels(self, code: str) -> dict[str, Score]:
        return {ch: score(t, self.book, Filters(self.filters.include_misuse))
                for ch, t in sorted(self.channel_tallies(code).items())}

    # --- points (sites, điểm tiếp nhận) ---------------------------------------------------------

    def _listed(self, code: str, site: dict, tally: Tally | None) -> bool:
        """A site is one of ``code``'s points when answers were given at it in the window, or when it is a
        site of the unit version in force at the window's end, open then (the province's own site only
        with answers: it is no counter)."""
        if tally is not None and any(v[0] for (_q, _v, question, _fc), v in tally.counts.items() if question == ""):
            return True
        unit = self.tree.units[code]
        closed = site["closed_at"]
        return (unit["level"] != "province" and site["unit_code"] == code and site["unit_valid_from"] == unit.get("valid_from")
                and (closed is None or closed[:10] > self.window.end.isoformat()))

    def _collect_points(self, code: str, by_point: dict, cache: dict, subtree: bool, seen: set | None = None) -> list[dict]:
        """Point rows of ``code`` (its own versions' sites; with ``subtree``, its visible descendants' too)."""
        units = [code] + [u for u in self.tree.descendants(code) if self.visible(u)] if subtree else [code]
        seen = set() if seen is None else seen
        rows = []
        for unit in units:
            for key in sorted(self.tree.own_versions[unit], key=lambda k: (k[0] != unit, k)):
                for site in self.tree.sites_of.get(key, ()):
                    tally = by_point.get((site["unit_code"], site["id"]))
                    if site["id"] not in seen and self._listed(unit, site, tally):
                        seen.add(site["id"])
                        found = cache.get(site["id"])
                        if found is None:
                            found = cache[site["id"]] = (self._score_of(tally) if tally is not None and by_point is self.by_point
                                                         else score(tally or Tally(), self.book, self.filters))
                        u = self.tree.units[unit]
                        rows.append({"code": unit, "site_id": site["id"], "name": site["name"], "unit_name": u["name"],
                                     "level": u["level"], "parent_code": u["parent_code"], "stored_code": site["unit_code"],
                                     "closed": site["closed_at"] is not None, "below": bool(self.tree.children.get(unit)),
                                     "score": found, "tally": tally})
        return rows

    def own_points(self, code: str) -> list[dict]:
        """``code``'s own points: the sites of its own versions (not its subtree's nor its predecessors'), in
        site order, each with its score, ``enough`` and ``rank``: its rank among every point of the
        report's scope (:meth:`point_ranks`). Answers given at no recorded site (a code that had no
        site when they arrived) count in the unit but at no point."""
        rows = self._collect_points(code, self.by_point, self._point_scores, subtree=False)
        ranks = self.point_ranks() if rows else {}
        for row in rows:
            row["rank"] = ranks.get(row["site_id"])
            row["enough"] = row["score"].n >= self.settings.report_min_answers
        return rows

    def own_total(self, code: str) -> Score:
        """The sum of ``code``'s own points: its own answers at its sites, without its subtree."""
        return score(Tally.union(p["tally"] for p in self.own_points(code)), self.book, self.filters)

    def points(self, code: str) -> list[dict]:
        """Every point of ``code``'s subtree within scope (its own, then its descendants'), ranked among
        themselves as units are (``rank``, ``enough``); a site two units carry (a split) comes once."""
        return self.ranked(self._collect_points(code, self.by_point, self._point_scores, subtree=True))

    def point_ranks(self) -> dict[int, int | None]:
        """Site id → rank among every point of the report's scope (the province, or the viewer's
        subtree), computed once. A page that read only its focus's subtree reads the headline counts
        of the whole scope (what a rank needs) in one more query."""
        found = getattr(self, "_ranks", None)
        if found is not None:
            return found
        if self._read == self.scope:
            by_point, cache = self.by_point, self._point_scores
        else:
            rows = _covered(self.storage.rollup_counts(self.window.day_from, self.window.day_to, read_codes(self.scope),
                                                       by=("unit_code", "site_id", "channel"), questions=[""] + self.headline_ids()),
                            self.tree, self.scope)
            by_point, cache = _tally_by_point(rows, self.filters), {}
        seen: set[int] = set()
        rows = [r for root in self.roots(None) for r in self._collect_points(root, by_point, cache, subtree=True, seen=seen)]
        self._ranks = {r["site_id"]: r["rank"] for r in self.ranked(rows)}
        return self._ranks

    # --- history across a reform (issue 13) -----------------------------------------------------------

    def own_score(self, code: str) -> Score:
        """``code``'s figures without the history view: the answers at its area's own versions' sites."""
        return score(self.tally_of(self.tree.own_area(code)), self.book, self.filters)

    def history(self, code: str) -> dict:
        """What the history view adds to ``code``: ``own`` (its figures without the view), ``rows``
        (the old units that went into it itself: :meth:`Tree.predecessors` with ``score`` and
        ``also_names``; a ``partial`` one shown whole, not added), ``below`` (``units`` and ``score`` of
        the old units added through the units below it, or None) and ``total`` (its figures in the
        view: ``own`` + the counted rows + ``below``)."""
        names = {c: u["name"] for c, u in self.tree.units.items()}
        rows = []
        for p in self.tree.predecessors(code):
            if not self.visible(p["code"]):
                continue
            rows.append(dict(p, score=score(self.tally_of([p["key"]]), self.book, self.filters),
                             also_names=[names.get(c, c) for c in p["also"]]))
        direct = {p["key"] for p in rows if p["counted"]}
        below = [k for k in self.tree.counted(code) - self.tree.own_area(code) - direct if k in self.by_version]
        return {"own": self.own_score(code), "rows": rows, "total": self.score(code),
                "below": {"units": len(below), "score": score(self.tally_of(below), self.book, self.filters)} if below else None}

    def structure(self) -> dict | None:
        """Which unit structure the report uses, when it matters: the window spans a reorganisation
        (``spans``: the days inside it), or a later one changed the tree (``before``: its day).
        ``text`` says so (:data:`STRUCTURE`); None when the window lies wholly in today's structure."""
        changes = self.tree.changes()
        start, end = self.window.start.isoformat(), self.window.end.isoformat()
        inside = [d for d in changes if start < d <= end]
        after = [d for d in changes if d > end]
        if not inside and not after:
            return None
        earlier = [d for d in changes if d <= end]
        since = earlier[-1] if earlier else min(k[1] for k in self.tree.versions)
        fmt = {"since": format_day(since), "before": format_day(after[0]) if after else ""}
        parts = [STRUCTURE["before" if after else "current"]]
        if inside:
            parts.append(STRUCTURE["added" if self.filters.history else "own"])
        text = Text("; ".join(p.vi for p in parts).format(**fmt) + ".", "; ".join(p.en for p in parts).format(**fmt) + ".")
        return {"text": text, "since": since, "spans": inside, "before": after[0] if after else None,
                "history": self.filters.history}

    # --- detail for one unit ---------------------------------------------------------------------

    def headline_ids(self) -> list[str]:
        ids = set()
        for key in self.storage.questionnaires():
            q = self.book.get(*key)
            if q is not None:
                ids.add(q.overall.id)
        return sorted(ids)

    def timeline(self, code: str) -> dict:
        """Answers and share satisfied per day, week or month (by the window's length); in the history
        view the predecessors' answers continue the line before the reform."""
        questions = [""] + self.headline_ids()
        if self.tree.exact(code, self._present):
            rows = self.storage.rollup_counts(self.window.day_from, self.window.day_to, self.codes_for(code), by=("day", "channel"),
                                              questions=questions)
        else:  # another version of one of its codes has answers in the window: tell them apart by site
            counted, version_of = self.tree.counted(code), self.tree.version_of
            rows = [(r[0],) + tuple(r[3:]) for r in self.storage.rollup_counts(
                        self.window.day_from, self.window.day_to, self.codes_for(code), by=("day", "unit_code", "site_id", "channel"),
                        questions=questions) if version_of(r[1], r[2]) in counted]
        span = self.window.day_to - self.window.day_from + 1
        unit = "day" if span <= 62 else "week" if span <= 400 else "month"

        def bucket(day: int) -> date:
            d = day_of(day)
            if unit == "week":
                return d - timedelta(days=d.weekday())
            if unit == "month":
                return d.replace(day=1)
            return d
        tallies: dict[date, Tally] = {}
        for row in rows:
            if self.filters.channel and row[1] != self.filters.channel:
                continue
            tallies.setdefault(bucket(row[0]), Tally()).add(tuple(row[2:6]), row[6:12])
        points = [{"start": b, "score": score(t, self.book, self.filters)} for b, t in sorted(tallies.items())]
        return {"unit": unit, "points": points}

    def reasons(self, code: str) -> list[dict]:
        """Choice questions (the "why" follow-up) with their options' counts, most chosen first, on
        the channel filtered for.

        Each entry: ``id``, ``text``, ``options`` (``id``, ``label``, ``n``), ``answered`` (counted
        answers that gave the question) and, for a follow-up (``show_if``), ``no_reason``: counted
        answers to which it was shown (the headline level asked why) but that gave none, the same
        rule on the kiosk and the phone form; None for a question that is not a follow-up.
        """
        return self._reasons_of(self._unit_tally(code))

    def _reasons_of(self, tally: Tally) -> list[dict]:
        """:meth:`reasons` of any tally (a unit's, an officer's)."""
        out: dict[str, dict] = {}
        classes = self.filters.classes
        for (qid, version, key, fc), counts in tally.counts.items():
            if not key or fc not in classes:
                continue
            question, option_key, option = key.partition(":")
            qn = self.book.get(qid, version)
            q = qn.question(question) if qn else None
            if q is None or q.kind not in ("single", "multi"):
                continue
            entry = out.get(question)
            if entry is None:
                entry = out[question] = {"id": question, "text": q.text, "options": {}, "answered": 0, "no_reason": None}
            if q.show_if is not None and entry["no_reason"] is None:
                entry["no_reason"] = 0
            if option_key:
                label = next((o.label for o in q.options if o.id == option), None)
                opt = entry["options"].setdefault(option, {"id": option, "label": label, "n": 0})
                opt["n"] += counts[0]
            else:
                entry["answered"] += counts[0]
                if entry["no_reason"] is not None:
                    entry["no_reason"] += counts[1]
        for entry in out.values():
            entry["options"] = sorted(entry["options"].values(), key=lambda o: (-o["n"], o["id"]))
        return list(out.values())

    def heatmap(self, code: str) -> dict:
        """Weekday × hour of the headline question over the months the window touches."""
        start, end = day_of(self.window.day_from), day_of(self.window.day_to)
        rows = self._placed(code, lambda codes, by_site: self.storage.rollup_hour_counts(
            start.year * 100 + start.month, end.year * 100 + end.month, codes, self.filters.channel, by_site=by_site))
        cells: dict[tuple[int, int], Tally] = {}
        for weekday, hour, qid, version, fc, *counts in rows:
            headline = self.book.get(qid, version)
            if headline is None:
                continue
            cells.setdefault((weekday, hour), Tally()).add((qid, version, headline.overall.id, fc), counts)
        scored = {k: score(t, self.book, self.filters) for k, t in cells.items()}
        hours = sorted({h for _, h in scored}) or list(range(7, 18))
        return {"hours": list(range(min(hours), max(hours) + 1)), "cells": scored}

    def procedure_groups(self, code: str) -> list[dict]:
        """Scores by procedure group (lĩnh vực): the catalogue's groups in order, then unknown codes,
        then the answers that named none ("not stated": the unit's tally less the named ones)."""
        w = self.window
        rows = self._placed(code, lambda codes, by_site: self.storage.rollup_group_counts(
            w.day_from, w.day_to, codes, self.filters.channel, by_site=by_site))
        tallies: dict[str, Tally] = {}
        for group, *rest in rows:
            tallies.setdefault(group, Tally()).add(tuple(rest[:4]), rest[4:10])
        named = Tally.union(tallies.values()) if tallies else Tally()
        rest_tally = Tally()
        for key, values in self._unit_tally(code).counts.items():
            taken = named.counts.get(key)
            left = [max(0, v - (taken[i] if taken else 0)) for i, v in enumerate(values)]
            if any(left):
                rest_tally.add(key, left)
        order = list(groups_catalogue.codes())
        out = []
        for group in order + sorted(g for g in tallies if g not in order):
            out.append({"code": group, "label": {lang: groups_catalogue.label(group, lang) for lang in ("vi", "en")},
                        "score": score(tallies.get(group) or Tally(), self.book, self.filters)})
        out.append({"code": None, "label": dict(groups_catalogue.NOT_STATED), "score": score(rest_tally, self.book, self.filters)})
        return out

    def _unit_tally(self, code: str) -> Tally:
        """Every count of the unit's subtree within scope, on the channel filtered for."""
        out = Tally()
        for channel, tally in self.channel_tallies(code).items():
            if not self.filters.channel or channel == self.filters.channel:
                out.merge(tally)
        return out

    def officers(self, code: str) -> list[dict]:
        """Officers of the unit's subtree, each with ``rank`` among every officer of the report's scope
        (:meth:`officer_ranks`: one definition, the same on the page, in the XLSX and in the pull API)
        and ``of``, how many officers of the scope are ranked; in rank order, the unranked last."""
        rows = self.ranked(self._officer_rows(code))
        ranks, total = self.officer_ranks()
        for r in rows:
            r["rank"], r["of"] = ranks.get(r["code"]), total
        return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, -r["score"].n, r["code"]))

    def officer_ranks(self) -> tuple[dict[str, int], int]:
        """Officer id → rank among every officer of the scope (the province, or the viewer's top units),
        ranked as units are (Wilson lower bound of the headline; only above the minimum count); and
        how many are ranked. Computed once."""
        found = getattr(self, "_officer_ranks", None)
        if found is None:
            rows = [r for root in self.roots(None) for r in self._officer_rows(root)]
            ranked = [r for r in self.ranked(rows) if r["rank"] is not None]
            found = self._officer_ranks = ({r["code"]: r["rank"] for r in ranked}, len(ranked))
        return found

    def officer_tally(self, code: str, officer_id: str, day_from: int | None = None, day_to: int | None = None) -> Tally:
        """Every count of one officer in ``code``'s subtree (the rows :meth:`_officer_rows` scores), within
        the window or the days ``day_from``–``day_to`` inside it: scale questions and the reasons."""
        lo = self.window.day_from if day_from is None else max(self.window.day_from, day_from)
        hi = self.window.day_to if day_to is None else min(self.window.day_to, day_to)
        out = Tally()
        if lo > hi:
            return out
        for _officer, _unit, *rest in self._placed(code, lambda codes, by_site: self.storage.rollup_officer_counts(
                lo, hi, codes, officer_id=officer_id, by_site=by_site)):
            out.add(tuple(rest[:4]), rest[4:10])
        return out

    def officer_reasons(self, code: str, officer_id: str) -> list[dict]:
        """The reasons citizens gave for the officer (the "why" follow-up), as :meth:`reasons` gives a unit's."""
        return self._reasons_of(self.officer_tally(code, officer_id))

    def officer_trend(self, code: str, officer_id: str) -> dict:
        """The officer's headline per week (windows up to 92 days) or per month over the window: each period
        ``start``, ``end`` (clipped to the window) and ``score`` (``n``, ``headline_share``, ``low``, ``high``)."""
        span = self.window.day_to - self.window.day_from + 1
        unit = "week" if span <= 92 else "month"
        periods, day = [], self.window.day_from
        while day <= self.window.day_to:
            d = day_of(day)
            if unit == "week":
                nxt = day_number(d - timedelta(days=d.weekday()) + timedelta(days=7))
            else:
                nxt = day_number(date(d.year + d.month // 12, d.month % 12 + 1, 1))
            end = min(nxt - 1, self.window.day_to)
            periods.append({"start": day_of(day), "end": day_of(end),
                            "score": score(self.officer_tally(code, officer_id, day, end), self.book, self.filters)})
            day = nxt
        return {"unit": unit, "periods": periods}

    def _officer_rows(self, code: str) -> list[dict]:
        """Each officer with answers in ``code``'s subtree and the window: id, name, title, unit, score."""
        w = self.window
        rows = self._placed(code, lambda codes, by_site: self.storage.rollup_officer_counts(
            w.day_from, w.day_to, codes, by_site=by_site))
        tallies: dict[str, Tally] = {}
        units: dict[str, str] = {}
        for officer_id, unit_code, *rest in rows:
            tallies.setdefault(officer_id, Tally()).add(tuple(rest[:4]), rest[4:10])
            units.setdefault(officer_id, unit_code)
        known = {o["id"]: o for o in self.storage.officers(set(self.tree.stored_codes(code)))}
        out = []
        for officer_id, tally in tallies.items():
            o = known.get(officer_id)
            if o is None and officer_id not in known and self.scope is not None and units[officer_id] not in self.scope:
                continue
            out.append({"code": officer_id, "name": o["name"] if o else officer_id, "title": o.get("title") if o else None,
                        "unit_code": o["unit_code"] if o else units[officer_id], "score": score(tally, self.book, self.filters)})
        return out

    # --- comparability (issue 15) ------------------------------------------------------------

    def question_coverage(self, code: str) -> list[dict]:
        """Per scale question of ``code``'s figures: its ``answers`` (n), ``index``, ``share`` and at how
        many of the unit's points with counted answers it was asked (``points`` of ``of``): a question
        some kiosks do not ask (the criteria questions, kiosk setting ``ask_criteria``) is
        ``comparable`` across the unit's points only when asked at all of them. The headline question
        (``headline``) comes first; it is what the comparable index and the rankings use."""
        counted, version_of, classes = self.tree.counted(code), self.tree.version_of, self.filters.classes
        points, asked = 0, {}
        for (unit, site), tally in self.by_point.items():
            if version_of(unit, site) not in counted:
                continue
            answered = {question for (_q, _v, question, fc), v in tally.counts.items() if fc in classes and v[0]}
            if "" in answered:
                points += 1
                for question in answered - {""}:
                    asked[question] = asked.get(question, 0) + 1
        headlines = set(self.headline_ids())
        rows = [{"id": q.id, "label": q.label, "criterion": q.criterion, "answers": q.answers, "index": q.index,
                 "share": q.share, "points": asked.get(q.id, 0), "of": points, "headline": q.id in headlines,
                 "comparable": points > 0 and asked.get(q.id, 0) == points}
                for q in self.score(code).questions.values()]
        return sorted(rows, key=lambda r: not r["headline"])

    # --- recognition -------------------------------------------------------------------------

    def recognition_score(self, code: str) -> tuple[Score, int, int]:
        """The commune's score as recognition judges it: ``(score, P tokenless phone answers, m counted)``
        (``sync_server.results.recognition``: one phone cannot set a commune's recognition)."""
        tokens = getattr(self, "_tokens", None)
        if tokens is None:
            tokens = self._tokens = recognition.token_tallies(self.storage, self.window, offset_ms(self.settings), self.scope)
        counted, version_of = self.tree.counted(code), self.tree.version_of
        mine = Tally.union(t for (unit, site), t in tokens.items() if version_of(unit, site) in counted) or Tally()
        return recognition.weigh(self.channel_tallies(code), mine, self.book, self.filters,
                                 self.settings.recognition_phone_without_token, self.settings.recognition_phone_share)

    def recognition(self, campaign: dict, earlier: list["Report"] | None = None) -> list[dict]:
        """Each commune the campaign covers, within scope: pass when index and count meet the thresholds."""
        covered = set(campaign.get("units") or [])
        rows = []
        for code in self.tree.order:
            u = self.tree.units[code]
            if u["level"] != "commune" or not self.visible(code):
                continue
            if covered and not covered.intersection(self.tree.path(code)):
                continue
            s, untokened, counted = self.recognition_score(code)
            status = recognition_status(s, self.settings)
            ok = status == "passed"
            trend = []
            for r in earlier or []:
                past = r.recognition_score(code)[0]
                trend.append({"campaign": r.window.campaign, "index": past.comparable_index, "n": past.n})
            rows.append({"code": code, "name": u["name"], "parent_code": u["parent_code"],
                         "parent": self.tree.units.get(u["parent_code"], {}).get("name"), "score": s, "passes": ok, "trend": trend,
                         "status": status, "reason": recognition_reason(status, s, self.settings),
                         "phone_without_token": untokened, "phone_counted": counted})
        # By result: passed, then not passed, then not enough answers to judge; each best first.
        order = {"passed": 0, "low_index": 1, "not_enough": 2}
        rows.sort(key=lambda r: (order[r["status"]], -(r["score"].comparable_index or 0) if r["status"] != "not_enough" else -r["score"].n,
                                 r["code"]))
        return rows

    def earlier_campaigns(self, state, campaign: dict) -> list["Report"]:
        """Reports of the campaigns before ``campaign``, oldest first, on this report's tree (merged units included)."""
        before = sorted((c for c in self.storage.campaigns() if c["starts_on"] < campaign["starts_on"]), key=lambda c: c["starts_on"])
        return [Report.build(state, self.scope, Window(day_number(c["starts_on"]), day_number(c["ends_on"]), c), self.filters,
                             tree=self.tree, catch_up=False) for c in before]  # this report caught up already


RECOGNITION_STATUS = {"passed": Text("Đạt", "Passed"), "low_index": Text("Không đạt", "Not passed"),
                      "not_enough": Text("Chưa đủ số phiếu để đánh giá", "Not enough answers to judge")}


def recognition_status(s: Score, settings) -> str:
    """``passed`` (index and count meet the thresholds), ``not_enough`` (fewer counted answers than the
    threshold: not judged, whatever the index), or ``low_index`` (enough answers, index under the threshold).

    The index is the comparable one (:attr:`Score.comparable_index`: the headline question's, which
    every kiosk asks), so a commune's recognition does not depend on its kiosks' ``ask_criteria``."""
    if s.n < settings.recognition_min_answers or s.comparable_index is None:
        return "not_enough"
    return "passed" if s.comparable_index >= settings.recognition_min_index else "low_index"


def recognition_reason(status: str, s: Score, settings) -> Text:
    """Why, with the thresholds: what a commune is told."""
    fmt = (lambda v: f"{v:.1f}".replace(".", ",")) if s.comparable_index is not None else (lambda v: "—")
    idx, n = fmt(s.comparable_index), s.n
    t_idx, t_n = f"{settings.recognition_min_index:g}".replace(".", ","), settings.recognition_min_answers
    if status == "passed":
        return Text(f"Chỉ số {idx} ≥ {t_idx} và {n} phiếu ≥ {t_n}", f"Index {idx} ≥ {t_idx} and {n} answers ≥ {t_n}")
    if status == "low_index":
        return Text(f"Chỉ số {idx} dưới ngưỡng {t_idx}", f"Index {idx} below the threshold {t_idx}")
    return Text(f"{n} phiếu, cần ít nhất {t_n}", f"{n} answers, at least {t_n} needed")


def _covered(rows: list[tuple], tree: Tree, scope) -> list[tuple]:
    """Rollup rows (unit code, site id, …) of the unit versions ``scope`` covers: a code reused with
    another meaning is read (the query is by code) and dropped here by the version of its site."""
    if not isinstance(scope, Scope):
        return rows
    keys = {(row[0], row[1]) for row in rows}
    kept = {k for k in keys if tree.version_of(*k) in scope.versions}
    return [row for row in rows if (row[0], row[1]) in kept]


def _tally_by_point(rows, filters: Filters) -> dict[tuple[str, int], Tally]:
    """``rollup_counts`` rows grouped by ``(unit_code, site_id, channel)`` as tallies per (unit, site),
    on the channel filtered for."""
    out: dict[tuple[str, int], Tally] = {}
    channel = filters.channel
    for row in rows:
        if channel and row[2] != channel:
            continue
        key = (row[0], row[1])
        tally = out.get(key)
        if tally is None:
            tally = out[key] = Tally()
        tally.add(tuple(row[3:7]), row[7:13])
    return out


def alerts(state, scope: set[str] | None, codes: set[str] | None = None, now_ms: int | None = None) -> list[dict]:
    """Units and officers whose share unsatisfied in the recent window reaches the threshold (misuse left out).

    Each alert: ``kind`` (``unit`` or ``officer``), ``id`` (unit code or officer id), ``key`` (``kind:id``,
    stable across runs: the delivery log keys on it), ``n``, ``unsatisfied``, ``share``, ``name`` (the
    unit's or the officer's; None when unknown) and ``unit_code`` (the unit itself, or the officer's
    unit). An officer's alert is officer results: callers show it only to roles with officer access.
    """
    settings = state.settings
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    since = now_ms - int(settings.alert_window_min * 60_000)
    groups: dict[tuple[str, str], list[int]] = {}
    officer_units: dict[str, str] = {}
    for a in state.storage.recent_answers(since, ALERT_LAG_MS):
        if (scope is not None and a["unit_code"] not in scope) or (codes is not None and a["unit_code"] not in codes):
            continue
        if flag_class(a["flags"]) == "misuse":
            continue
        qn = state.index.get((a["questionnaire_id"], a["questionnaire_version"]))
        if qn is None:
            continue
        level = qn.overall.level(a["answers"].get(qn.overall.id)) if isinstance(a["answers"].get(qn.overall.id), int) else None
        if level is None:
            continue
        keys = [("unit", a["unit_code"])] + ([("officer", a["officer_id"])] if a["officer_id"] else [])
        if a["officer_id"]:
            officer_units[a["officer_id"]] = a["unit_code"]
        for key in keys:
            g = groups.setdefault(key, [0, 0])
            g[0] += 1
            g[1] += 0 if level.satisfied else 1
    out = []
    for (kind, ident), (n, unhappy) in groups.items():
        if n >= settings.alert_min_answers and unhappy / n >= settings.alert_unsatisfied_share:
            if kind == "unit":
                unit = state.storage.unit(ident)
                name, unit_code = (unit["name"] if unit else None), ident
            else:
                officer = state.storage.officer(ident)
                name = officer["name"] if officer else None
                unit_code = officer_units[ident]  # where the answers were given (contract 13: the officer's unit then)
            out.append({"kind": kind, "id": ident, "key": f"{kind}:{ident}", "n": n, "unsatisfied": unhappy,
                        "share": unhappy / n, "name": name, "unit_code": unit_code})
    return sorted(out, key=lambda a: (-a["share"], -a["n"], a["id"]))
