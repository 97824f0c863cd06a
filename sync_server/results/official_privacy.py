"""Who may see a small QĐ 766 figure (issue 14, docs/dossiers.md "Privacy"): the minimum-count rule
and its complementary suppression, applied to :class:`sync_server.results.official.OfficialMeasure`.

A commune viewer who asks for a one-day window with one known dossier would otherwise read "1
dossier, 100 % dislike" and know how that citizen rated. So, for every viewer below province admin
(pages, XLSX, pull API; the CLI is an operator with the database and is not limited):

- **Primary**: a group of dossiers with fewer than ``official_min_cell`` dossier-tied ratings
  (``rated``) shows what rests on ratings as "ít hơn k": rated, dislikes, dislike-or-complaint and
  their shares, the ratio, the points. What the register alone says (dossiers, late, complaints)
  stays: it is the one-stop system's own data and gives no rating away.
- **Complementary**: a hidden figure must not come back by subtraction. Every total and the groups
  it adds up to form one table (the province and its units, a unit's subtree and its units, a unit and
  its sites, fields, months, counters, where its ratings were given); when exactly one member of a
  table is hidden, the visible member with the fewest ratings is hidden too (the total itself when
  no other member is left), until no table has exactly one.
- **Whole province, always**: the tables are settled over the whole structure and then cut to the
  viewer's unit, so two viewers' pages (or one viewer's commune and district pages) never hide
  different members of one table and together give the figure away.

Not guarded (docs/dossiers.md says so): differences between two windows that differ by one day.
"""

from __future__ import annotations

from datetime import date

from sync_server.results import official
from sync_server.results.official import Figures, OfficialMeasure, UnitMeasure

#: Who sees every QĐ 766 figure: the province admin (and the CLI, an operator holding the database).
SEES_SMALL_CELLS = frozenset(("province_admin",))


def sees_small_cells(role: str | None) -> bool:
    return role in SEES_SMALL_CELLS


def measure_for(storage, settings, date_from: date, date_to: date, unit: str | None, role: str | None, *,
                refresh: bool = True, today: date | None = None) -> OfficialMeasure:
    """:func:`official.measure` as ``role`` may see it: whole for the province admin, else with the
    minimum-count rule (``official_min_cell``) settled over the whole province and cut to ``unit``.
    Raises :class:`official.OfficialError` as the measure does."""
    if sees_small_cells(role):
        return official.measure(storage, settings, date_from, date_to, unit, today=today, refresh=refresh)
    whole = official.measure(storage, settings, date_from, date_to, None, today=today, refresh=refresh)
    if unit is not None and unit not in whole.structure:
        raise official.OfficialError(f"unit {unit!r} is not in the structure in force on {date_to.isoformat()}")
    subtotals = protect(whole, settings.official_min_cell)
    return whole if unit is None else _cut(whole, unit, subtotals[unit])


def protect(m: OfficialMeasure, k: int) -> dict[str, Figures]:
    """Mark hidden figures in ``m`` (``Figures.hidden``, ``UnitMeasure.rated_at_hidden``) for a minimum of
    ``k`` ratings; ``m`` must be the whole province. Returns each structure unit's subtree total, marked
    alike (a unit's page shows its subtree's total)."""
    m.min_cell = k
    own = {u.code: u for u in m.units}
    children: dict[str, list[str]] = {}
    for code, parent in m.structure.items():
        if parent in m.structure:
            children.setdefault(parent, []).append(code)
    roots = [c for c, p in m.structure.items() if p not in m.structure]
    members: dict[str, list[str]] = {}  # a structure unit -> the units of its subtree, tree order

    def walk(code: str) -> list[str]:
        found = [code]
        for child in children.get(code, ()):
            found += walk(child)
        members[code] = found
        return found
    for root in roots:
        walk(root)
    subtotals: dict[str, Figures] = {}
    for code, codes in members.items():
        if len(codes) == 1:
            subtotals[code] = own[code].figures  # a leaf's total is its own figure: one cell, not two
        elif len(roots) == 1 and code == roots[0]:
            subtotals[code] = m.total.figures    # the province: every unit, those outside the structure too
        else:
            subtotals[code] = _pool(own[c].figures for c in codes)
    outside = [u.figures for u in m.units if u.code not in m.structure]
    # Deepest tables first (``members`` is in post-order): a complement chosen low in the tree also
    # settles the tables above it, so fewer figures are hidden than top-down.
    tables: list[tuple[Figures, list[Figures]]] = []
    for code, codes in members.items():
        if len(codes) == 1:
            continue
        top = subtotals[code] is m.total.figures
        if not top:  # the province's flat table (every unit, outside ones too) is added below
            tables.append((subtotals[code], [own[c].figures for c in codes]))
        tables.append((subtotals[code], [own[code].figures] + [subtotals[c] for c in children.get(code, ())]
                       + (outside if top else [])))
    tables.append((m.total.figures, [u.figures for u in m.units]))
    proxies: dict[tuple, Figures] = {}
    for u in m.units:
        for part in (u.by_site, u.by_field, u.by_month, u.by_counter):
            if part:
                tables.append((u.figures, list(part.values())))
        if u.rated_at:
            for key, n in u.rated_at.items():
                proxies[(u.code, key)] = Figures(dossiers=n, rated=n)
            tables.append((u.figures, [proxies[(u.code, key)] for key in u.rated_at]))
    cells = {id(f): f for parent, group in tables for f in (parent, *group)}
    for f in cells.values():
        f.hidden = 0 < f.dossiers and f.rated < k
    changed = True
    while changed:
        changed = False
        for parent, group in tables:
            present = [f for f in group if f.dossiers]
            hidden = [f for f in (parent, *present) if f.hidden]
            if len(hidden) != 1:
                continue
            visible = [f for f in present if not f.hidden]
            pick = min(visible, key=lambda f: f.rated) if visible else parent  # first of the fewest: stable
            if pick.hidden:
                continue  # nothing left to hide with it: the table is one figure
            pick.hidden = changed = True
    for (code, key), f in proxies.items():
        if f.hidden:
            own[code].rated_at_hidden.add(key)
    return subtotals


def _pool(figures) -> Figures:
    total = Figures()
    for f in figures:
        total.add(f)
    return total


def _cut(m: OfficialMeasure, unit: str, subtotal: Figures) -> OfficialMeasure:
    """The whole-province measure ``m`` cut to ``unit``'s subtree, as :func:`official.measure` with ``unit``
    would give it, its total marked as the tables settled it."""
    keep = {unit}
    changed = True
    while changed:
        grown = keep | {c for c, p in m.structure.items() if p in keep}
        changed, keep = grown != keep, grown
    units = [u for u in m.units if u.code in keep]
    name = next((u.name for u in units if u.code == unit), unit)
    total = UnitMeasure(unit, name, None, None, figures=subtotal)
    for u in units:
        for attr in ("without_dossier", "not_in_register"):
            for channel, n in getattr(u, attr).items():
                getattr(total, attr)[channel] = getattr(total, attr).get(channel, 0) + n
    return OfficialMeasure(m.date_from, m.date_to, m.measured_from, unit, m.points_max, m.full_ratio, units, total, m.sites,
                           list(m.notes), m.rollups_behind, {c: p for c, p in m.structure.items() if c in keep}, m.min_cell)
