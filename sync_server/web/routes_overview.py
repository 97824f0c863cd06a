"""The landing page after login: the leader's first screen for the viewer's scope (issue 15).

Headed with the viewer's own unit (the province for province roles, a commune user's commune), it
shows the headline (comparable index and share satisfied) beside the recognition target and the
window before, the best and worst points with their n, every point of the scope in small multiples
(one card per district; no scroll box), and the counts (answers, kiosks, silent kiosks) as a
secondary line. Every figure comes from the results model (:class:`Report`), as on ``/results``.
"""

from __future__ import annotations

from fastapi import Request

from sync_server.web import charts
from sync_server.web.access import Pages, scope, viewer
from sync_server.web.fleet_view import silent_devices
from sync_server.web.render import render
from sync_server.web.results import TEXTS, _query, _report, extremes, headline

pages = Pages()


@pages.get("/", access="user")
def overview(request: Request):
    state = request.app.state.hailong
    storage = state.storage
    allowed = scope(request)
    user = viewer(request).user
    report = _report(request, user.unit_code)
    tops = report.roots(user.unit_code)
    focus = tops[0] if tops else None
    devices = storage.devices(allowed)
    counts = storage.answers_per_unit()
    secondary = {"answers": sum(n for code, n in counts.items() if allowed is None or code in allowed),
                 "devices": len(devices), "silent": len(silent_devices(devices, state.settings.fleet_silent_after_min))}
    own = storage.unit(user.unit_code) if user.unit_code else None
    if focus is None:  # the viewer's unit is not in the window's tree (closed by a reform): say so, under its own name
        return render(request, "overview.html", name=own["name"] if own else None, report=report, head=None, secondary=secondary,
                      query=_query(report), rtext=TEXTS)
    points = report.points(focus)
    best, worst = extremes(points)
    names = {u: report.tree.units[u]["name"] for u in report.tree.units}
    secondary["points"] = len(points)
    return render(request, "overview.html", name=names[focus], focus=focus, level=report.tree.units[focus]["level"],
                  report=report, head=headline(state, report, focus), best=best, worst=worst,
                  unranked=sum(1 for p in points if not p["enough"]), groups=_groups(report, focus, points), names=names,
                  secondary=secondary, query=_query(report), rtext=TEXTS, min_answers=state.settings.report_min_answers,
                  share_bar=charts.share_bar, many=len(points) > 1)


def _groups(report, focus: str, points: list[dict]) -> list[dict]:
    """The small multiples: the points under each child of ``focus`` that has units below it (a district
    of the province), one group for the rest (the centre, a district's own counter, the province's own
    point; or every point when no child has units below it). Rows keep the ranking's order."""
    tree = report.tree
    parents = [c for c in tree.children.get(focus, []) if tree.children.get(c) and report.visible(c)]
    if not parents:
        return [{"code": None, "name": None, "score": None, "rows": points}]
    keyed: dict[str | None, list[dict]] = {}
    for p in points:
        path = tree.path(p["code"])
        child = path[path.index(focus) + 1] if focus in path and p["code"] != focus else None
        keyed.setdefault(child if child in parents else None, []).append(p)
    groups = [{"code": c, "name": tree.units[c]["name"], "score": report.score(c), "rows": keyed[c]} for c in parents if c in keyed]
    if keyed.get(None):
        groups.append({"code": None, "name": None, "score": None, "rows": keyed[None]})
    return groups
