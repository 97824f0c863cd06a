"""The official satisfaction measure the province is judged by: QĐ 766/QĐ-TTg, item 5.4, "tỷ lệ hài
lòng trong tiếp nhận, giải quyết TTHC", over the dossier register (issue 14).

    ratio = 100 % − (% of dossiers resolved late + % of dossiers with a complaint (PAKN) or a dislike)
    points = Pmax when ratio ≥ 90 %, else ratio × Pmax ÷ 90 %          (Pmax and 90: settings)

One use case (:func:`measure`) behind ``hailong-server official``, the results pages, the XLSX sheet
and the pull API; the counting is here, the SQL in ``storage/sql/dossiers.py``. Decisions (the rule
leaves them open; docs/dossiers.md says why):

- Which unit: the dossier's unit in the register. ``--unit`` selects that unit and its subtree in the
  structure in force on the window's last day.
- Which dossiers a window ``[from, to]`` holds: those returned (``ngay_tra``) on a day in it, and
  those not returned whose due day (``ngay_hen_tra``) is in it and has passed (before the province's
  today). Each dossier is in one window only: a late one not yet returned counts where it fell due,
  and moves to the window of its return once the register says it was returned.
- Late: returned after the due date (by day; by time when both have one), or due and not returned.
- Rated: the dossier's counted rating (the first received without a misuse flag; ingest and
  storage settle it). Dislike: that rating's headline level is a dislike (``Level.dislike``).
  A dossier late *and* disliked counts in both shares, as the formula adds them; a dossier with a
  dislike and a complaint counts once in the second. The ratio is never below 0.
- Ratings without a dossier code (kiosk, phone) are counted apart, by the answer's unit and the
  window the results place them in; ratings whose code is not in the register likewise.
- Before 1 July 2025 (:data:`MEASURED_FROM`) nothing is measured: no rule for those days can be
  cited here (Decree 118/2025 and the two-tier structure start then; whether item 5.4 applied in this
  form before is not verified). A window reaching back is measured from that day, and says so.

Everything is counts: no dossier code, officer or answer leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import orjson

from hailong_core.questionnaire import Questionnaire, QuestionnaireError, parse_questionnaire
from sync_server.days import DAY_MS, day_number, local_today, offset_ms as province_offset
from sync_server.dossiers import before
from sync_server.results import rollups
from sync_server.results.model import COUNTED

RULE = "QĐ 766/QĐ-TTg, 5.4"
MEASURED_FROM = date(2025, 7, 1)
#: The keys every unit of ``official --json`` carries (a fixed interface); more may follow them.
KEYS = ("dossiers", "late", "rated", "dislikes", "complaints", "ratio", "points")
CHANNELS = ("kiosk", "qr")
NOTE_BEFORE = ("Không tính trước ngày 01/07/2025: chưa có quy định dẫn được cho giai đoạn này / "
               "nothing is measured before 1 July 2025: no rule for those days can be cited")
NOTE_PMAX = "Pmax chưa được xác minh (cài đặt official_points_max) / Pmax is unverified (setting official_points_max)"


#: The additive counts of :class:`Figures`.
COUNTS = ("dossiers", "late", "late_open", "rated", "dislikes", "complaints", "disliked_or_complained")


class OfficialError(ValueError):
    """A window or unit the measure cannot be asked for (the message says why)."""


@dataclass
class Figures:
    """The 766 counts of a group of dossiers; the ratio and points are computed, never stored rounded."""

    dossiers: int = 0
    late: int = 0
    late_open: int = 0      # of ``late``: due in the window, not returned by its end
    rated: int = 0
    dislikes: int = 0
    complaints: int = 0
    disliked_or_complained: int = 0  # dossiers with a dislike or a complaint, each once
    #: Shown to this viewer without what rests on ratings (``official_privacy``: too few, or it would
    #: give away a hidden figure); never set by :func:`measure`.
    hidden: bool = field(default=False, compare=False)

    def add(self, other: "Figures") -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def ratio(self) -> float | None:
        """Percent; None without dossiers."""
        if not self.dossiers:
            return None
        return max(0.0, 100.0 * (self.dossiers - self.late - self.disliked_or_complained) / self.dossiers)

    def points(self, points_max: float, full_ratio: float) -> float | None:
        ratio = self.ratio
        if ratio is None:
            return None
        return points_max if ratio >= full_ratio else ratio * points_max / full_ratio

    @property
    def rated_share(self) -> float | None:
        return 100.0 * self.rated / self.dossiers if self.dossiers else None


@dataclass
class UnitMeasure:
    code: str
    name: str
    level: str | None
    parent_code: str | None
    figures: Figures = field(default_factory=Figures)
    by_site: dict = field(default_factory=dict)      # register site id (None: not given) -> Figures
    by_field: dict = field(default_factory=dict)     # lĩnh vực (None: not given) -> Figures
    by_month: dict = field(default_factory=dict)     # "YYYY-MM" -> Figures
    by_counter: dict = field(default_factory=dict)   # (register site id, counter) -> Figures: the reconciliation
    rated_at: dict = field(default_factory=dict)     # (channel, site id, kiosk counter) -> counted dossier ratings
    without_dossier: dict = field(default_factory=dict)       # channel -> counted ratings with no dossier code
    not_in_register: dict = field(default_factory=dict)       # channel -> counted ratings whose code is not in the register
    rated_at_hidden: set = field(default_factory=set)         # keys of ``rated_at`` shown as "fewer than" (official_privacy)


@dataclass
class OfficialMeasure:
    date_from: date
    date_to: date
    measured_from: date | None  # None: nothing of the window can be measured
    unit: str | None
    points_max: float
    full_ratio: float
    units: list[UnitMeasure]
    total: UnitMeasure
    sites: dict[int, str]
    notes: list[str]
    rollups_behind: int = 0
    structure: dict = field(default_factory=dict)  # the structure in force on ``date_to``: code -> parent code
    min_cell: int = 0  # > 0: figures resting on fewer dossier-tied ratings are hidden (official_privacy)


def measure(storage, settings, date_from: date, date_to: date, unit: str | None = None, *, today: date | None = None,
            refresh: bool = True) -> OfficialMeasure:
    """The 766 item per unit (and per site, field, month, counter) over ``[date_from, date_to]``.

    ``unit``: that unit and its subtree in the structure in force on ``date_to`` (None: the province, and
    any register unit outside that structure). ``today`` is the province's today (default: the clock).
    ``refresh`` brings the results rollups up to date first (ratings without a dossier are counted from them).
    """
    if date_to < date_from:
        raise OfficialError("the window ends before it starts")
    today = today or local_today(settings)
    tree = {u["code"]: u for u in storage.units_as_of(date_to.isoformat())}
    if unit is not None and unit not in tree:
        raise OfficialError(f"unit {unit!r} is not in the structure in force on {date_to.isoformat()}")
    selection = _subtree(tree, unit) if unit is not None else None
    start = max(date_from, MEASURED_FROM)
    notes = [NOTE_PMAX]
    if date_from < MEASURED_FROM:
        notes.insert(0, NOTE_BEFORE)
    order = [c for c in tree if selection is None or c in selection]
    units: dict[str, UnitMeasure] = {c: _unit(tree[c]) for c in order}
    total = UnitMeasure(unit or "", tree[unit]["name"] if unit else "", None, None)
    result = OfficialMeasure(date_from, date_to, start if start <= date_to else None, unit, settings.official_points_max,
                             settings.official_full_points_ratio, [], total, {}, notes,
                             structure={c: tree[c].get("parent_code") for c in order})
    if result.measured_from is None:
        result.units = list(units.values())
        return result
    book = _Book(storage)
    due_to = min(date_to, today - timedelta(days=1))  # a due date has passed once its day is over
    rows = storage.dossier_measure_rows(start.isoformat(), (date_to + timedelta(days=1)).isoformat(), start.isoformat(),
                                        due_to.isoformat(), selection)
    for row in rows:
        code = row["unit_code"]
        if code not in units:
            units[code] = _unit(storage.unit(code) or {"code": code, "name": code})
        _count(units[code], row, book)
    _ratings(storage, settings, units, start, date_to, selection, refresh, result)
    for u in units.values():
        total.figures.add(u.figures)
        for name in ("without_dossier", "not_in_register"):
            for channel, n in getattr(u, name).items():
                getattr(total, name)[channel] = getattr(total, name).get(channel, 0) + n
    result.units = list(units.values())
    result.sites = {s["id"]: s["name"] for s in storage.sites(include_closed=True)}
    return result


def _subtree(tree: dict[str, dict], code: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for c, u in tree.items():
        if u.get("parent_code"):
            children.setdefault(u["parent_code"], []).append(c)
    found, stack = {code}, [code]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _unit(u: dict) -> UnitMeasure:
    return UnitMeasure(u["code"], u.get("name") or u["code"], u.get("level"), u.get("parent_code"))


class _Book:
    """Published questionnaires, parsed once: whether an answer's headline level is a dislike."""

    def __init__(self, storage):
        self._docs = storage.questionnaires()
        self._parsed: dict[tuple, Questionnaire | None] = {}

    def dislike(self, qid: str, version: int, answers: str) -> bool:
        key = (qid, version)
        if key not in self._parsed:
            try:
                self._parsed[key] = parse_questionnaire(self._docs[key]) if key in self._docs else None
            except QuestionnaireError:
                self._parsed[key] = None
        q = self._parsed[key]
        if q is None:
            return False
        try:
            value = orjson.loads(answers).get(q.overall.id)
        except (orjson.JSONDecodeError, AttributeError):
            return False  # an unreadable row counts nowhere (the rollups skip it too)
        level = q.overall.level(value) if type(value) is int else None
        return bool(level and level.dislike)


def _count(u: UnitMeasure, row: dict, book: _Book) -> None:
    one = Figures(dossiers=1)
    returned, due = row["returned_on"], row["due_on"]
    if returned is None:
        one.late = one.late_open = 1  # due in the window, passed, not returned
    elif before(due, returned):
        one.late = 1
    disliked = False
    if row["questionnaire_id"] is not None:
        one.rated = 1
        disliked = book.dislike(row["questionnaire_id"], row["questionnaire_version"], row["answers"])
        key = (row["rating_channel"], row["rating_site_id"], row["rating_counter"])
        u.rated_at[key] = u.rated_at.get(key, 0) + 1
    one.dislikes = int(disliked)
    one.complaints = int(bool(row["complaint"]))
    one.disliked_or_complained = int(disliked or bool(row["complaint"]))
    u.figures.add(one)
    month = (returned or due)[:7]
    for table, key in ((u.by_site, row["site_id"]), (u.by_field, row["field"]), (u.by_month, month),
                       (u.by_counter, (row["site_id"], row["counter"]))):
        table.setdefault(key, Figures()).add(one)


def _ratings(storage, settings, units: dict[str, UnitMeasure], start: date, end: date, selection, refresh: bool,
             result: OfficialMeasure) -> None:
    """Counted ratings with no dossier code, and with one not in the register, per unit and channel:
    the results' counted answers of the window (rollups) less its counted dossier ratings."""
    offset = province_offset(settings)
    if refresh:
        rollups.refresh(storage, offset)
    state = storage.rollup_state()
    result.rollups_behind = rollups.behind(storage, offset)
    if state is None or not rollups.current(storage, offset):
        return
    day_from, day_to = day_number(start), day_number(end)
    counted: dict[tuple[str, str], int] = {}
    for unit, channel, _qid, _ver, question, fc, n, *_ in storage.rollup_counts(day_from, day_to, selection,
                                                                               by=("unit_code", "channel"), questions=[""]):
        if question == "" and fc in COUNTED:
            counted[(unit, channel)] = counted.get((unit, channel), 0) + n
    ms_from, ms_to = day_from * DAY_MS - offset, (day_to + 1) * DAY_MS - offset
    tied: dict[tuple[str, str], int] = {}
    for unit, channel, in_register, n in storage.dossier_rating_counts(ms_from, ms_to, state[0], selection):
        tied[(unit, channel)] = tied.get((unit, channel), 0) + n
        if not in_register and unit in units:
            units[unit].not_in_register[channel] = units[unit].not_in_register.get(channel, 0) + n
    for (unit, channel), n in counted.items():
        if unit in units:
            units[unit].without_dossier[channel] = max(0, n - tied.get((unit, channel), 0))


# --- presentation ----------------------------------------------------------------------------------

#: What a hidden figure does not show: everything that rests on the ratings.
HIDDEN_KEYS = ("rated", "dislikes", "ratio", "points", "disliked_or_complained", "disliked_or_complained_share", "rated_share")


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def figures_json(f: Figures, points_max: float, full_ratio: float, min_cell: int = 0) -> dict:
    """The fixed keys first (:data:`KEYS`), then the shares; percentages to one decimal, points to two.
    With ``min_cell`` (a measure cut for a viewer, ``official_privacy``) a ``suppressed`` key follows, and a
    hidden figure gives null for what rests on ratings (rated, dislikes, ratio, points and their shares)."""
    points = f.points(points_max, full_ratio)
    out = {"dossiers": f.dossiers, "late": f.late, "rated": f.rated, "dislikes": f.dislikes, "complaints": f.complaints,
           "ratio": _pct(f.ratio), "points": None if points is None else round(points, 2),
           "late_open": f.late_open, "disliked_or_complained": f.disliked_or_complained,
           "late_share": _pct(100.0 * f.late / f.dossiers) if f.dossiers else None,
           "disliked_or_complained_share": _pct(100.0 * f.disliked_or_complained / f.dossiers) if f.dossiers else None,
           "rated_share": _pct(f.rated_share)}
    if min_cell:
        if f.hidden:
            out.update(dict.fromkeys(HIDDEN_KEYS))
        out["suppressed"] = f.hidden
    return out


def _channels(counts: dict) -> dict:
    return {ch: counts.get(ch, 0) for ch in CHANNELS} | {ch: n for ch, n in counts.items() if ch not in CHANNELS}


def unit_json(u: UnitMeasure, m: OfficialMeasure) -> dict:
    fj = lambda f: figures_json(f, m.points_max, m.full_ratio, m.min_cell)  # noqa: E731
    hide = (lambda f: {"rated": None, "rated_share": None} if f.hidden else {}) if m.min_cell else (lambda f: {})  # noqa: E731
    mark = (lambda hidden: {"suppressed": hidden}) if m.min_cell else (lambda hidden: {})  # noqa: E731
    key = lambda v: (v is None, v if v is not None else "")  # noqa: E731 - "not given" last
    return {"code": u.code, "name": u.name, "level": u.level, "parent_code": u.parent_code, **fj(u.figures),
            "ratings_without_dossier": _channels(u.without_dossier),
            "rated_not_in_register": sum(u.not_in_register.values()),
            "by_site": [{"site_id": s, "site_name": m.sites.get(s) if s is not None else None, **fj(f)}
                        for s, f in sorted(u.by_site.items(), key=lambda kv: key(kv[0]))],
            "by_field": [{"field": k, **fj(f)} for k, f in sorted(u.by_field.items(), key=lambda kv: key(kv[0]))],
            "by_month": [{"month": k, **fj(f)} for k, f in sorted(u.by_month.items())],
            "reconciliation": [{"site_id": s, "counter": c, "dossiers": f.dossiers, "rated": f.rated,
                                "rated_share": _pct(f.rated_share), **hide(f), **mark(f.hidden)}
                               for (s, c), f in sorted(u.by_counter.items(), key=lambda kv: (key(kv[0][0]), key(kv[0][1])))],
            "rated_at": [{"channel": ch, "site_id": s, "counter": c,
                          "rated": None if (ch, s, c) in u.rated_at_hidden else n, **mark((ch, s, c) in u.rated_at_hidden)}
                         for (ch, s, c), n in sorted(u.rated_at.items(), key=lambda kv: tuple(key(v) for v in kv[0]))]}


def as_json(m: OfficialMeasure) -> dict:
    """The ``official --json`` document (docs/dossiers.md): the window, the rule's settings, one entry per
    unit with :data:`KEYS` first, and the selection's total."""
    total = m.total
    return {"rule": RULE, "from": m.date_from.isoformat(), "to": m.date_to.isoformat(),
            "measured_from": m.measured_from.isoformat() if m.measured_from else None,
            "structure_on": m.date_to.isoformat(), "unit": m.unit,
            "points_max": m.points_max, "points_max_verified": False, "full_points_ratio": m.full_ratio,
            "notes": list(m.notes), "rollups_behind": m.rollups_behind,
            "units": [unit_json(u, m) for u in m.units],
            "total": {**figures_json(total.figures, m.points_max, m.full_ratio, m.min_cell),
                      "ratings_without_dossier": _channels(total.without_dossier),
                      "rated_not_in_register": sum(total.not_in_register.values())},
            **({"min_cell": m.min_cell} if m.min_cell else {})}


def as_text(m: OfficialMeasure) -> str:
    """A plain table for the terminal."""
    lines = [f"{RULE}: {m.date_from.isoformat()} – {m.date_to.isoformat()}"
             + (f" (tính từ / measured from {m.measured_from.isoformat()})" if m.measured_from and m.measured_from != m.date_from else ""),
             *m.notes,
             f"{'đơn vị':>8}  {'hồ sơ':>7} {'trễ':>6} {'đ.giá':>6} {'k.hài':>6} {'PAKN':>5} {'tỷ lệ %':>8} {'điểm':>6}  tên"]
    rows = [(u.code, u.figures, u.name) for u in m.units if u.figures.dossiers] + [("tổng", m.total.figures, m.total.name)]
    for code, f, name in rows:
        ratio, points = f.ratio, f.points(m.points_max, m.full_ratio)
        lines.append(f"{code:>8}  {f.dossiers:>7} {f.late:>6} {f.rated:>6} {f.dislikes:>6} {f.complaints:>5} "
                     f"{'' if ratio is None else f'{ratio:.1f}':>8} {'' if points is None else f'{points:.2f}':>6}  {name}")
    return "\n".join(lines)
