"""Citizens' written comments (issue 15): ``/results/comments?unit=&from=&to=&source=&visible=&page=``.

Every signed-in role reads the comments of its scope (the use case :mod:`sync_server.comments` filters
them and decides what each role sees: officer names only for the roles with officer access); the
province admin hides abusive text with a reason (kept for audit) and can show it again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode

from fastapi import Form, Request

from hailong_core.timeutil import parse_day
from sync_server import comments
from sync_server.accounts import OFFICER_ROLES
from sync_server.days import local_today
from sync_server.web.access import Pages, client_ip, scope, viewer
from sync_server.web.i18n import request_lang
from sync_server.web.render import done, render

pages = Pages()
PATH = "/results/comments"
DEFAULT_DAYS = 30


def _day(text: str | None, default: date) -> tuple[date, bool]:
    """The day typed (dd/mm/yyyy or ISO), else ``default``; the flag says whether it was unreadable."""
    if not text or not text.strip():
        return default, False
    try:
        return parse_day(text), False
    except ValueError:
        return default, True


def _units(storage, view) -> list[dict]:
    """The units a viewer may filter by: those in force within their scope, by level then name."""
    order = {"province": 0, "centre": 1, "district": 2, "commune": 3}
    units = [u for u in storage.units() if u["valid_to"] is None and (view is None or u["code"] in view)]
    return sorted(units, key=lambda u: (order.get(u["level"], 9), u["name"]))


def _page(request: Request, params: dict, *, error: str | None = None, status: int = 200):
    state = request.app.state.hailong
    role = viewer(request).user.role
    view = scope(request)
    today = local_today(state.settings)
    day_to, bad_to = _day(params.get("to"), today)
    day_from, bad_from = _day(params.get("from"), day_to - timedelta(days=DEFAULT_DAYS - 1))
    unit = (params.get("unit") or "").strip() or None
    source = params.get("source") if params.get("source") in comments.SOURCES else None
    only_visible = params.get("visible") == "1"
    page_no = int(params["page"]) if str(params.get("page") or "").isdigit() else 1
    if bad_from or bad_to:
        error, status = error or "cmt_err_day", 400
    result = None
    try:
        result = comments.list_comments(state.storage, state.settings, state.questionnaires(), role=role, scope=view,
                                        day_from=day_from, day_to=day_to, unit=unit, source=source,
                                        only_visible=only_visible, page=page_no, lang=request_lang(request))
    except comments.CommentsError as exc:
        error, status = f"cmt_err_{exc.code}", 403 if exc.code == "scope" else 400
    query = {"unit": unit or "", "from": day_from.isoformat(), "to": day_to.isoformat(), "source": source or "",
             "visible": "1" if only_visible else ""}
    return render(request, "comments.html", status_code=status, result=result, error=error, units=_units(state.storage, view),
                  unit=unit, day_from=day_from, day_to=day_to, source=source, only_visible=only_visible,
                  moderator=comments.is_moderator(role), officers=role in OFFICER_ROLES, query=urlencode(query),
                  hidden_text=comments.HIDDEN_TEXT.get(request_lang(request)))


@pages.get(PATH, access="user")
def comments_page(request: Request):
    return _page(request, dict(request.query_params))


@pages.post(PATH + "/moderate", access="admin")
def comments_moderate(request: Request, key: str = Form(""), action: str = Form(""), reason: str = Form(""),
                      confirm: str = Form(""), back: str = Form("")):
    """Hide (``action=hide``) or show again (``unhide``) one comment: a reason and the confirmation box
    are required; the text itself is never changed."""
    state = request.app.state.hailong
    # Back to the same filters (only the page's own fields: the redirect stays on this page).
    params = {k: v for k, v in parse_qsl(back) if k in ("unit", "from", "to", "source", "visible", "page")}
    response_id, _, question = key.partition("/")
    if action not in ("hide", "unhide"):
        return _page(request, params, error="cmt_err_action", status=400)
    if confirm != "yes":
        return _page(request, params, error="cmt_err_confirm", status=400)
    try:
        comments.set_hidden(state.storage, state.questionnaires(), viewer(request).user, response_id, question,
                            action == "hide", reason, datetime.now(timezone.utc), client_ip(request))
    except comments.CommentsError as exc:
        return _page(request, params, error=f"cmt_err_{exc.code}", status=404 if exc.code == "not_found" else 400)
    return done(PATH + ("?" + urlencode(params) if params else ""), "ok_comment_hidden" if action == "hide" else "ok_comment_shown")
