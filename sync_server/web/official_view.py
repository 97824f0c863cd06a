"""The QĐ 766 card of a results page (issue 14): what :func:`sync_server.results.official.measure`
counts for the page's unit and window, as rows a template shows. Counts only: no dossier code, no
officer, no answer (docs/dossiers.md), so every role that sees the unit's results sees the card; below
the province admin with the minimum-count rule (``official_privacy``): a hidden figure's row carries
``hidden`` and None where it rests on ratings, and the template says "ít hơn k"."""

from __future__ import annotations

from sync_server.results import official, official_privacy


def _row(code: str, name: str, f: official.Figures, m: official.OfficialMeasure) -> dict:
    pct = (lambda n: 100.0 * n / f.dossiers) if f.dossiers else (lambda n: None)
    row = {"code": code, "name": name, "dossiers": f.dossiers, "late": f.late, "late_pct": pct(f.late),
           "bad": f.disliked_or_complained, "bad_pct": pct(f.disliked_or_complained), "dislikes": f.dislikes,
           "complaints": f.complaints, "rated": f.rated, "rated_pct": f.rated_share, "ratio": f.ratio,
           "points": f.points(m.points_max, m.full_ratio), "full": f.ratio is not None and f.ratio >= m.full_ratio,
           "hidden": f.hidden}
    if f.hidden:
        row.update(bad=None, bad_pct=None, dislikes=None, rated=None, rated_pct=None, ratio=None, points=None, full=False)
    return row


def _order(value) -> tuple:
    return (value is None, value if value is not None else "")  # "not given" last


def official_card(state, report, focus: str, role: str | None = None) -> dict | None:
    """The card for ``focus`` over the report's window as ``role`` may see it (None: as the most limited
    viewer); None when the measure cannot be asked there (a unit outside the structure it uses)."""
    unit = None if focus == report.tree.root() else focus
    try:
        m = official_privacy.measure_for(state.storage, state.settings, report.window.start, report.window.end, unit, role,
                                         refresh=False)
    except official.OfficialError:
        return None
    units = [u for u in m.units if u.figures.dossiers]
    mine = next((u for u in m.units if u.code == focus), None)
    below = sorted((_row(u.code, u.name, u.figures, m) for u in units if u.code != focus),
                   key=lambda r: (r["hidden"], r["ratio"] is None, r["ratio"] if r["ratio"] is not None else 0, r["code"]))
    counters, sites, fields, months = [], [], [], []
    if mine is not None:
        for (site, counter), f in sorted(mine.by_counter.items(), key=lambda kv: (_order(kv[0][0]), _order(kv[0][1]))):
            counters.append({"site": m.sites.get(site, "") if site is not None else "", "counter": counter or "",
                             "dossiers": f.dossiers, "rated": None if f.hidden else f.rated,
                             "rated_pct": None if f.hidden else f.rated_share, "hidden": f.hidden})
        sites = [_row("", m.sites.get(s, "") if s is not None else "", f, m)
                 for s, f in sorted(mine.by_site.items(), key=lambda kv: _order(kv[0]))] if any(mine.by_site) else []
        fields = [_row("", k or "", f, m) for k, f in sorted(mine.by_field.items(), key=lambda kv: _order(kv[0]))]
        months = [_row("", f"{k[5:7]}/{k[:4]}", f, m) for k, f in sorted(mine.by_month.items())]
    without = sum(m.total.without_dossier.values())
    return {"measure": m, "total": _row(focus, "", m.total.figures, m), "below": below, "counters": counters,
            "sites": sites, "fields": fields, "months": months, "own": _row(focus, mine.name, mine.figures, m) if mine else None,
            "own_is_total": mine is not None and len(units) <= 1,
            "without": without, "without_by_channel": dict(m.total.without_dossier),
            "not_in_register": sum(m.total.not_in_register.values()), "before": m.date_from < official.MEASURED_FROM,
            "measured": m.measured_from is not None, "min_cell": m.min_cell}
