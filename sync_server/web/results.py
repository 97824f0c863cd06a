"""Results pages: province overview, drill-down to a district, a commune, an officer; recognition
list; XLSX/CSV exports. Everything is filtered by the viewer's scope and rendered on the server
(SVG charts from :mod:`sync_server.web.charts`, no script).

``history=1`` (the checkbox "Gồm số liệu các đơn vị trước sắp xếp", kept in every link through
``Filters.query``) adds the predecessors' answers to a unit's figures and trend and lists them
(issue 13); a window that spans a reorganisation says which structure it uses.

Answers whose follow-ups were left count everywhere; the query string's ``include=incomplete``
(old links, other programs) is accepted and changes nothing. Only ``include=misuse`` is a choice.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from hailong_core.questionnaire import Text
from sync_server.accounts import OFFICER_ROLES
from sync_server.results import export
from sync_server.results.model import Filters, Window, day_number
from sync_server.days import province_now
from sync_server.results.report import (NO_REASON, RECOGNITION_STATUS, Report, WindowError, alerts, recognition_status,
                                     resolve_window)
from sync_server.web import charts
from sync_server.web.access import Forbidden, FormError, Pages, PageNotFound, ensure_scope, scope, viewer
from sync_server.web.i18n import request_lang, translator
from sync_server.web.official_view import official_card
from sync_server.web.render import render

pages = Pages()
SHARE_FMT = "{:.1f} %"  # a bar of the share satisfied: its figure as the pages write it (87,5 %)
WEEKDAYS = {"vi": ["T2", "T3", "T4", "T5", "T6", "T7", "CN"], "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
# Texts of issue 12 (what the citizen meant), used by the results templates as ``rtext.<name>.get(lang)``.
# They replace the catalogue's res_incomplete / res_include_incomplete / res_method until those are edited.
TEXTS = {
    "followups_left": Text("Phiếu bỏ dở phần hỏi thêm", "Answers with follow-ups left"),
    "followups_left_note": Text("vẫn tính câu đã trả lời", "answered questions still count"),
    "reason": Text("Lý do", "Reason"),
    "answers": Text("Số phiếu", "Answers"),
    "no_reason": NO_REASON,
    "no_reason_help": Text("Không nêu lý do: phiếu được hỏi lý do (theo mức đánh giá ở câu hỏi chính) nhưng không "
                           "chọn lý do nào, trên kiosk cũng như trên điện thoại.",
                           "No reason given: answers that were asked why (by their headline level) and chose no "
                           "reason, on the kiosk as on the phone."),
    # Points (issue 13): a unit's own service points apart from its subtree, and every point ranked.
    "own_points": Text("Điểm tiếp nhận của đơn vị", "The unit's own service points"),
    "own_points_help": Text("Chỉ tính phiếu tại điểm tiếp nhận của chính {name} (bộ phận một cửa của đơn vị), không gồm "
                            "đơn vị cấp dưới. Hạng: thứ hạng trong bảng xếp hạng điểm tiếp nhận của {root}.",
                            "Only the answers given at {name}'s own service points (its one-stop counter), without the "
                            "units below it. Rank: the place in the service points ranking of {root}."),
    "own_sum": Text("Cộng các điểm của đơn vị", "All the unit's points"),
    "pooled": Text("Các số liệu trên là của {name} gộp mọi điểm tiếp nhận trong địa bàn: điểm của đơn vị và của các "
                   "đơn vị cấp dưới.", "The figures above are {name}'s pooled over every service point in its area: "
                   "its own and those of the units below it."),
    "point": Text("Điểm tiếp nhận", "Service point"),
    "rank_among": Text("Hạng trong các điểm", "Rank among points"),
    "level": Text("Cấp", "Level"),
    "closed": Text("đã đóng", "closed"),
    # Beside a district's (or the province's) own point in a ranking: it is not the pooled district.
    "own_only": Text("điểm của đơn vị, không gồm cấp dưới", "the unit's own point, without the units below"),
    "points_ranking": Text("Xếp hạng điểm tiếp nhận", "Service points ranking"),
    "points_help": Text("Mỗi điểm tiếp nhận được xếp hạng riêng theo phiếu nhận tại điểm đó: điểm của xã, phường, thị "
                        "trấn; bộ phận một cửa cấp huyện; các điểm của Trung tâm Phục vụ hành chính công.",
                        "Each service point is ranked on the answers given there: commune points, the district "
                        "one-stop counters, the points of the Public Administration Service Centre."),
    # History across the reform (issue 13): the history view (``history=1``) and its list of predecessors.
    "history": Text("Gồm số liệu các đơn vị trước sắp xếp", "Include the units before the reorganisation"),
    "history_title": Text("Số liệu các đơn vị trước sắp xếp", "Figures of the units before the reorganisation"),
    "history_own": Text("Của chính đơn vị (cơ cấu hiện hành)", "The unit's own (current structure)"),
    "history_period": Text("Thời gian tồn tại", "In existence"),
    "history_added": Text("Cộng vào số liệu", "Added to the figures"),
    "history_yes": Text("có", "yes"),
    "history_partial": Text("một phần", "in part"),
    "history_partial_no": Text("không cộng", "not added"),
    "history_also": Text("cũng sáp nhập vào: {names}", "also went into: {names}"),
    "history_outside": Text("một phần thuộc nơi khác", "partly went elsewhere"),
    "history_below": Text("Các đơn vị cũ khác, cộng qua đơn vị trực thuộc ({n} đơn vị)",
                          "Other former units, added through the units below ({n} units)"),
    "history_total": Text("Cộng (gồm các đơn vị trước sắp xếp)", "Total (with the units before the reorganisation)"),
    "history_none": Text("Không có đơn vị tiền thân.", "No predecessor units."),
    "history_help": Text("Phiếu của một đơn vị cũ được cộng vào đơn vị hiện nay mà toàn bộ đơn vị cũ đã nhập vào. Đơn vị cũ "
                         "chỉ nhập một phần (bị chia cho nhiều đơn vị) không tách được phiếu theo phần: số liệu của nó "
                         "được hiển thị nguyên vẹn nhưng không cộng vào từng đơn vị mới (sẽ bị tính hai lần), mà chỉ "
                         "cộng vào cấp trên có đủ các đơn vị mới đó.",
                         "A former unit's answers are added to the present unit it went into whole. A former unit "
                         "that went in only in part (split among several units) cannot have its answers divided: "
                         "its figures are shown whole but not added to each new unit (they would count twice), "
                         "only to the level above that holds all of them."),
    "method": Text("Cách tính: chỉ số = trung bình điểm các mức (0–100) theo câu hỏi, rồi theo tiêu chí, rồi theo "
                   "đơn vị; xếp hạng theo cận dưới khoảng tin cậy Wilson 95% của tỷ lệ hài lòng ở câu hỏi chính; "
                   "đơn vị dưới {n} phiếu không xếp hạng. Phiếu lạm dụng không tính trừ khi chọn; phiếu bỏ dở "
                   "phần hỏi thêm vẫn tính mọi câu đã trả lời.",
                   "Method: index = mean level score (0–100) per question, then per criterion, then per unit; "
                   "ranking by the lower bound of the 95% Wilson interval of the share satisfied on the headline "
                   "question; units under {n} answers are not ranked. Misuse-flagged answers are left out unless "
                   "chosen; answers whose follow-ups were left count for every question they answered."),
}


def _filters(request: Request) -> Filters:
    include = set(request.query_params.getlist("include"))  # "incomplete" may be there: it always counts now
    channel = request.query_params.get("channel") or None
    if channel not in (None, "kiosk", "qr"):
        raise FormError("channel: kiosk or qr")
    return Filters("misuse" in include, channel, history_switch(request.query_params.get("history")))


def history_switch(value: str | None) -> bool:
    """The history view's switch in a query string (pages, exports, the pull API): ``history=1``."""
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


def _window(request: Request):
    q = request.query_params
    campaign = q.get("campaign") or None
    try:
        return resolve_window(request.app.state.hailong.storage, request.app.state.hailong.settings,
                              int(campaign) if campaign else None, q.get("from") or None, q.get("to") or None)
    except (WindowError, ValueError) as exc:
        raise FormError(str(exc)) from None


def _report(request: Request, focus: str | None = None, complete: bool = False) -> Report:
    return Report.build(request.app.state.hailong, scope(request), _window(request), _filters(request), focus=focus,
                        complete=complete)


def _query(report: Report, **extra) -> str:
    parts = [report.window.query(), report.filters.query()] + [f"{k}={quote(str(v))}" for k, v in extra.items() if v]
    return "&".join(p for p in parts if p)


def _focus(request: Request, report: Report, code: str | None) -> str:
    if code is None:
        roots = report.roots(viewer(request).user.unit_code)
        if not roots:
            raise PageNotFound()
        return roots[0]
    ensure_scope(request, code)
    if code not in report.tree.units:
        raise PageNotFound()
    return code


def _pct(v):
    return None if v is None else v * 100


def _bar_rows(rows: list[dict], href=None) -> list[dict]:
    """Bars of the share satisfied (%) with its own Wilson interval as the whisker: one meaning per mark
    (issue 15: the bar was the index, the whisker the share's interval). The index is in the tables."""
    return [{"label": r.get("name") or r["label"], "value": _pct(r["score"].headline_share), "low": r["score"].low * 100,
             "high": r["score"].high * 100, "note": f"n={r['score'].n}", "href": href(r) if href else None} for r in rows]


def extremes(rows: list[dict], k: int = 5) -> tuple[list[dict], list[dict]]:
    """The best and the worst ``k`` of ranked rows (rank order, as :meth:`Report.ranked` gives them), worst
    first in the second list. Never empty while one row is ranked: with fewer than ``2 k`` ranked the
    two lists share rows (the worst of three is the third)."""
    enough = [r for r in rows if r["enough"]]
    return enough[:k], list(reversed(enough[-k:]))


def previous_window(storage, window: Window) -> Window | None:
    """What a window is compared with: the campaign that started last before its campaign (None when
    there is none); a window of days, the days of equal length just before it."""
    campaign = window.campaign
    if campaign is None:
        span = window.day_to - window.day_from + 1
        return Window(window.day_from - span, window.day_from - 1)
    before = [c for c in storage.campaigns() if c["starts_on"] < campaign["starts_on"]]
    if not before:
        return None
    c = max(before, key=lambda c: (c["starts_on"], c["id"]))
    return Window(day_number(c["starts_on"]), day_number(c["ends_on"]), c)


def _shown(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.1f}")


def _change(now: float | None, before: float | None) -> float | None:
    """The change as a reader checks it: between the two figures as shown (one decimal)."""
    return None if now is None or before is None else round(_shown(now) - _shown(before), 1)


def headline(state, report: Report, focus: str) -> dict:
    """``focus``'s headline beside its target and the window before (:func:`previous_window`), from the
    same report model (the earlier window is read on this report's tree, scope and filters).

    ``index`` is the comparable index (the headline question's, what recognition judges); ``status``
    is recognition's verdict on it (passed, low_index, not_enough) with ``target`` and ``min_answers``
    the recognition thresholds; ``before`` the earlier window's figures (None without one); the
    changes are in index points, percentage points and answers."""
    settings = state.settings
    s = report.score(focus)
    share = _pct(s.headline_share)
    out = {"score": s, "index": s.comparable_index, "share": share, "status": recognition_status(s, settings),
           "target": settings.recognition_min_index, "min_answers": settings.recognition_min_answers,
           "gap": _change(s.comparable_index, settings.recognition_min_index), "before": None,
           "index_change": None, "share_change": None, "n_change": None}
    window = previous_window(state.storage, report.window)
    if window is None or window.day_to < window.day_from:
        return out
    b = Report.build(state, report.scope, window, report.filters, tree=report.tree, focus=focus, catch_up=False).score(focus)
    out["before"] = {"window": window, "score": b, "index": b.comparable_index, "share": _pct(b.headline_share),
                     "enough": b.n >= settings.report_min_answers}
    out["index_change"] = _change(s.comparable_index, b.comparable_index)
    out["share_change"] = _change(share, out["before"]["share"])
    out["n_change"] = s.n - b.n
    return out


def _reason_rows(r: dict, lang: str) -> list[dict]:
    """The reasons of one choice question as table rows: the options chosen, then "Không nêu lý do"."""
    rows = [{"label": o["label"].get(lang) if o["label"] else o["id"], "n": o["n"], "no_reason": False} for o in r["options"]]
    if r["no_reason"] is not None:
        rows.append({"label": NO_REASON.get(lang), "n": r["no_reason"], "no_reason": True})
    return rows


def _reason_chart(r: dict, rows: list[dict], lang: str):
    return charts.bars([{"label": row["label"], "value": row["n"], "note": "", "colour": charts.MUTED if row["no_reason"] else None}
                        for row in rows], label=r["text"].get(lang), scale_max=max(row["n"] for row in rows) or 1,
                       fmt="{:.0f}", label_width=250)


def _page(request: Request, code: str | None):
    state = request.app.state.hailong
    lang = request_lang(request)
    t = translator(lang)
    if code is not None:
        ensure_scope(request, code)
    report = _report(request, code or viewer(request).user.unit_code)
    focus = _focus(request, report, code)
    row = report.unit_row(focus)
    level = row["level"]
    query = _query(report)

    def href(r):
        return f"/results/units/{r['code']}?{query}"
    children = report.ranked(report.children(focus))
    communes = report.ranked(report.level_rows("commune", focus)) if level in ("province", "district") else []
    best, worst = extremes(communes)
    timeline = report.timeline(focus)
    fmt = {"day": "%d/%m", "week": "%d/%m", "month": "%m/%Y"}[timeline["unit"]]
    points = [{"start": p["start"], "n": p["score"].responses, "share": p["score"].headline_share} for p in timeline["points"]]
    heat = report.heatmap(focus)
    cells = {k: {"n": s.n, "share": s.headline_share or 0.0} for k, s in heat["cells"].items()}
    reasons = report.reasons(focus)
    groups = [g for g in report.procedure_groups(focus) if g["score"].responses or g["score"].n]
    role = viewer(request).user.role
    officers = report.officers(focus) if role in OFFICER_ROLES and level in ("district", "commune", "centre") else None
    charts_ = {
        "children": charts.bars(_bar_rows(children, href), label=t("res_children"), fmt=SHARE_FMT) if children else None,
        "histogram": charts.histogram([c["score"].index for c in communes if c["enough"] and c["score"].index is not None],
                                      label=t("res_distribution"), axis_label=t("res_index")) if communes else None,
        "timeline": charts.timeline(points, label=t("res_over_time"), fmt_date=lambda d: d.strftime(fmt),
                                    count_label=t("res_answers_counted"), share_label=t("res_share_satisfied")),
        "heatmap": charts.heatmap(cells, heat["hours"], WEEKDAYS[lang], label=t("res_heatmap"), legend=t("res_heatmap_legend")),
        "groups": charts.bars(_bar_rows([{"label": g["label"][lang], "score": g["score"]} for g in groups]),
                              label=t("res_groups"), label_width=250, fmt=SHARE_FMT) if groups else None,
        "reasons": [(r, _reason_chart(r, rows, lang), rows) for r in reasons if r["options"] or r["no_reason"]
                    for rows in [_reason_rows(r, lang)]],
    }
    names = {u: report.tree.units[u]["name"] for u in report.tree.units}
    own = report.own_points(focus)
    tops = report.roots(viewer(request).user.unit_code)
    points = {
        "own": own, "total": report.own_total(focus) if len(own) > 1 else None,
        "ranking": report.points(focus) if level in ("province", "district") else [],
        "root": names.get(tops[0], "") if tops else "", "pooled": bool(report.tree.children.get(focus)),
    }
    history = report.history(focus) if report.filters.history else None
    found = alerts(state, scope(request), report.codes_for(focus))
    if role not in OFFICER_ROLES:
        found = [a for a in found if a["kind"] != "officer"]  # an officer's alert is officer results too
    return render(request, "results.html", report=report, focus=row, level=level, children=children, communes=communes,
                  best=best, worst=worst, unranked=sum(1 for c in communes if not c["enough"]), charts=charts_, groups=groups, timeline_unit=timeline["unit"], officers=officers, names=names,
                  channels=report.channels(focus), alerts=found,
                  crumbs=[(c, names[c]) for c in report.tree.path(focus) if report.visible(c)], query=query,
                  campaigns=state.storage.campaigns(), pct=_pct, export_query=_query(report, unit=focus),
                  min_answers=state.settings.report_min_answers, rtext=TEXTS, points=points, history=history,
                  structure=report.structure(), official=official_card(state, report, focus, role),
                  head=headline(state, report, focus),  # the landing page's headline: target and change (issue 15)
                  coverage={q["id"]: q for q in report.question_coverage(focus)})  # "Hỏi tại" N/M per question


@pages.get("/results", access="user")
def results_home(request: Request):
    return _page(request, None)


@pages.get("/results/units/{code}", access="user")
def results_unit(request: Request, code: str):
    return _page(request, code)


@pages.get("/results/officers/{officer_id}", access="user")
def results_officer(request: Request, officer_id: str):
    state = request.app.state.hailong
    officer = state.storage.officer(officer_id)
    if officer is None:
        raise PageNotFound()
    ensure_scope(request, officer["unit_code"])
    if viewer(request).user.role not in OFFICER_ROLES:
        raise Forbidden()
    report = _report(request)
    lang = request_lang(request)
    t = translator(lang)
    home = officer["unit_code"] if officer["unit_code"] in report.tree.units else None
    rows = [o for o in report.officers(home) if o["code"] == officer_id] if home else []
    if not rows:
        rows = [o for o in _officer_anywhere(report, officer_id)]
        home = report.tree.root() if rows else home
    tops = report.roots(None)
    scope_name = ", ".join(report.tree.units[c]["name"] for c in tops) if tops else ""
    # Reasons and trend from the same officer counts as the score above (Report.officer_tally).
    reasons = [(r, _reason_chart(r, rr, lang), rr) for r in (report.officer_reasons(home, officer_id) if rows else [])
               if r["options"] or r["no_reason"] for rr in [_reason_rows(r, lang)]]
    trend = report.officer_trend(home, officer_id) if rows else None
    chart = None
    if trend and any(p["score"].n for p in trend["periods"]):
        chart = charts.timeline([{"start": p["start"], "n": p["score"].n, "share": p["score"].headline_share}
                                 for p in trend["periods"]], label=t("res_off_trend"),
                                fmt_date=lambda d: d.strftime("%d/%m" if trend["unit"] == "week" else "%m/%Y"),
                                count_label=t("res_answers_counted"), share_label=t("res_share_satisfied"))
    return render(request, "results_officer.html", officer=officer, row=rows[0] if rows else None, report=report,
                  query=_query(report), unit=state.storage.unit(officer["unit_code"]), pct=_pct,
                  min_answers=state.settings.report_min_answers, rtext=TEXTS, campaigns=state.storage.campaigns(),
                  scope_name=scope_name, reasons=reasons, trend=trend, trend_chart=chart)


def _officer_anywhere(report: Report, officer_id: str) -> list[dict]:
    root = report.tree.root()
    return [o for o in report.officers(root) if o["code"] == officer_id] if root and report.scope is None else []


def _recognition(request: Request, report: Report):
    campaign = report.window.campaign
    if campaign is None:
        return None
    earlier = report.earlier_campaigns(request.app.state.hailong, campaign)
    return report.recognition(campaign, earlier)


@pages.get("/results/recognition", access="user")
def results_recognition(request: Request):
    state = request.app.state.hailong
    report = _report(request)
    rows = _recognition(request, report)
    tops = report.roots(viewer(request).user.unit_code)
    coverage = report.question_coverage(tops[0]) if rows is not None and tops else []  # comparability per question
    return render(request, "results_recognition.html", report=report, rows=rows, campaigns=state.storage.campaigns(),
                  coverage=coverage, coverage_unit=report.tree.units[tops[0]]["name"] if coverage else "",
                  query=_query(report), min_index=state.settings.recognition_min_index,
                  min_answers=state.settings.recognition_min_answers, names={u: report.tree.units[u]["name"] for u in report.tree.units},
                  rtext=TEXTS, structure=report.structure(), frame=export.frame_texts(report, province_now(state.settings)),
                  statuses=RECOGNITION_STATUS)


def _export_focus(request: Request, report: Report) -> str:
    return _focus(request, report, request.query_params.get("unit") or None)


def _filename(report: Report, focus: str, ext: str) -> str:
    w = report.window
    return f"hailong-{focus}-{w.start:%Y%m%d}-{w.end:%Y%m%d}.{ext}"


@pages.get("/results/export.xlsx", access="user")
def results_xlsx(request: Request):
    report = _report(request, complete=True)  # a report handed upward counts every answer received
    focus = _export_focus(request, report)
    body = export.build_xlsx(request.app.state.hailong, report, focus, viewer(request).user.role)
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(report, focus, "xlsx")}"',
                             "Cache-Control": "no-store"})


@pages.get("/results/export.csv", access="user")
def results_csv(request: Request, format: str = ""):
    """The report as CSV for Excel in a Vietnamese locale (``;``, BOM, decimal commas); ``format=machine``
    the plain form for programs (``,``, decimal points, level codes)."""
    report = _report(request, complete=True)
    focus = _export_focus(request, report)
    return Response(export.report_csv(report, focus, machine=format == "machine"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(report, focus, "csv")}"',
                             "Cache-Control": "no-store"})


@pages.get("/results/answers.csv", access="user")
def results_answers_csv(request: Request):
    """Raw answers within scope; with the page's window (``campaign`` or ``from``/``to``), only the answers
    given on its days (issue 15: the file followed no dates)."""
    officers = viewer(request).user.role in OFFICER_ROLES
    params = request.query_params
    window = None
    if params.get("campaign") or params.get("from") or params.get("to"):
        window = _window(request)
    stamp = f"{window.start:%Y%m%d}-{window.end:%Y%m%d}" if window else datetime.now(timezone.utc).strftime("%Y%m%d")
    days = (window.start.isoformat(), window.end.isoformat()) if window else None
    return StreamingResponse(export.answers_csv_chunks(request.app.state.hailong.storage, scope(request), officers=officers,
                                                       days=days),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="hailong-answers-{stamp}.csv"',
                                      "Cache-Control": "no-store"})


__all__ = ["pages", "OFFICER_ROLES", "date"]


def _num(value, digits: int = 1) -> str:
    """A number as the province writes it: comma for decimals (Vietnamese), "—" for none."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")


def _share(value, digits: int = 1) -> str:
    return "—" if value is None else _num(value * 100, digits) + " %"


templates_env = __import__("sync_server.web.render", fromlist=["templates"]).templates.env
templates_env.filters["num"] = _num
templates_env.filters["share"] = _share
