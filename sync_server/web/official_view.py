"""The QĐ 766 card of a results page (issue 14): what :func:`sync_server.results.official.measure`
counts for the page's unit and window, as rows a template shows. Counts only: no dossier code, no
officer, no answer (docs/dossiers.md), so every role that sees the unit's results sees the card."""

from __future__ import annotations

from sync_server.results import official


def _row(code: str, name: str, f: official.Figures, m: official.OfficialMeasure) -> dict:
    pct = (lambda n: 100.0 * n / f.dossiers) if f.dossiers else (lambda n: None)
    return {"code": code, "name": name, "dossiers": f.dossiers, "late": f.late, "late_pct": pct(f.late),
            "bad": f.disliked_or_complained, "bad_pct": pct(f.disliked_or_complained), "dislikes": f.dislikes,
            "complaints": f.complaints, "rated": f.rated, "rated_pct": f.rated_share, "ratio": f.ratio,
            "points": f.points(m.points_max, m.full_ratio), "full": f.ratio is not None and f.ratio >= m.full_ratio}


def official_card(state, report, focus: str) -> dict | None:
    """The card for ``focus`` over the report's window; None when the measure cannot be asked there
    (a unit outside the structure it uses)."""
    unit = None if focus == report.tree.root() else focus
    try:
        m = official.measure(state.storage, state.settings, report.window.start, report.window.end, unit, refresh=False)
    except official.OfficialError:
        return None
    units = [u for u in m.units if u.figures.dossiers]
    mine = next((u for u in m.units if u.code == focus), None)
    below = sorted((_row(u.code, u.name, u.figures, m) for u in units if u.code != focus),
                   key=lambda r: (r["ratio"] is None, r["ratio"] if r["ratio"] is not None else 0, r["code"]))
    counters = []
    if mine is not None:
        for (site, counter), f in sorted(mine.by_counter.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or 0, kv[0][1] or "")):
            counters.append({"site": m.sites.get(site, "") if site is not None else "", "counter": counter or "",
                             "dossiers": f.dossiers, "rated": f.rated, "rated_pct": f.rated_share})
    without = sum(m.total.without_dossier.values())
    return {"measure": m, "total": _row(focus, "", m.total.figures, m), "below": below, "counters": counters,
            "without": without, "without_by_channel": dict(m.total.without_dossier),
            "not_in_register": sum(m.total.not_in_register.values()), "before": m.date_from < official.MEASURED_FROM,
            "measured": m.measured_from is not None}
