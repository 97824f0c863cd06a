"""Rendering pages: one Jinja2 environment, the translator, the signed-in person, the CSRF token."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from markupsafe import Markup, escape
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from hailong_core import procedure_groups
from hailong_core.timeutil import format_day
from sync_server.web.access import current_session
from sync_server.web.i18n import request_lang, translator

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
PROVINCE_TZ = timezone(timedelta(hours=7))


def when(value: str | None, with_seconds: bool = False) -> str:
    """An RFC 3339 instant as the province reads it: ``28/11/2026 08:40`` in UTC+7."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(PROVINCE_TZ).strftime("%d/%m/%Y %H:%M:%S" if with_seconds else "%d/%m/%Y %H:%M")


templates.env.filters["when"] = when
templates.env.filters["dmy"] = format_day


def date_input(name: str, value=None, *, id: str | None = None, required: bool = False) -> Markup:
    """A day field typed day first (dd/mm/yyyy), the same in every browser locale; see ``parse_day``."""
    attrs = f' id="{escape(id)}"' if id else ""
    return Markup(f'<input{attrs} type="text" name="{escape(name)}" value="{escape(format_day(value))}" inputmode="numeric" '
                  f'placeholder="dd/mm/yyyy" pattern="[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}}|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}" '
                  f'autocomplete="off" class="day"{" required" if required else ""}>')


templates.env.globals["date_input"] = date_input
# The procedure-group catalogue (lĩnh vực) for forms and labels: group_label(code, lang).
templates.env.globals["procedure_groups"] = procedure_groups.catalogue
templates.env.globals["group_label"] = procedure_groups.label

NAV = (("/", "nav_overview", "user"), ("/results", "nav_results", "user"), ("/admin/units", "nav_units", "user"),
       ("/results/comments", "nav_comments", "user"),
       ("/admin/sites", "nav_sites", "user"), ("/admin/officers", "nav_officers", "user"),
       ("/admin/questionnaires", "nav_questionnaires", "province_read"), ("/admin/fleet", "nav_fleet", "user"),
       ("/admin/enrol-codes", "nav_codes", "admin"), ("/admin/releases", "nav_releases", "admin"),
       ("/admin/upstream", "nav_upstream", "admin"), ("/admin/users", "nav_users", "admin"),
       ("/admin/conflicts", "nav_conflicts", "province_read"), ("/admin/dossiers", "nav_dossiers", "province_read"),
       ("/admin/prompts", "nav_prompts", "province_read"),
       ("/admin/alerts", "nav_alerts", "admin"),
       ("/admin/audit", "nav_audit", "admin"), ("/admin/settings", "nav_settings", "admin"),
       ("/admin/callbacks", "nav_callbacks", "admin"))
# The rarely used administration pages: folded under one "Quản trị ▾" disclosure (<details>, no script) when the
# role sees more than NAV_FLAT_MAX items, so a province admin's 19 fit in two rows at 1366 px (issue 15).
NAV_ADMIN = frozenset(("/admin/enrol-codes", "/admin/releases", "/admin/upstream", "/admin/users", "/admin/conflicts",
                       "/admin/dossiers", "/admin/prompts", "/admin/alerts", "/admin/audit", "/admin/settings",
                       "/admin/callbacks"))
NAV_FLAT_MAX = 12  # an analyst's 11 items stay one flat menu


def menu(role: str | None, path: str) -> dict:
    """The menu ``role`` sees on ``path``: ``main`` and ``more`` (the folded admin items, empty when flat) as
    ``(href, key)`` pairs, ``here`` the item of the current page (the longest href that ``path`` is or lies
    under: ``/results/comments`` is Ý kiến, not Kết quả) or None."""
    from sync_server.web.access import ROLES_FOR

    items = [(href, key) for href, key, rule in NAV if role and role in ROLES_FOR[rule]]
    under = [href for href, _ in items if path == href or (href != "/" and path.startswith(href.rstrip("/") + "/"))]
    here = max(under, key=len, default=None)
    if len(items) <= NAV_FLAT_MAX:
        return {"main": items, "more": [], "here": here, "here_more": None}
    more = [(href, key) for href, key in items if href in NAV_ADMIN]
    return {"main": [i for i in items if i[0] not in NAV_ADMIN], "more": more, "here": here,
            "here_more": next((key for href, key in more if href == here), None)}


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    lang = request_lang(request)
    session = current_session(request)
    role = session.user.role if session else None
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    ok = request.query_params.get("ok")
    base = {"t": translator(lang), "lang": lang, "session": session, "user": session.user if session else None,
            "csrf": session.csrf if session else "", "menu": menu(role, request.url.path), "path": request.url.path,
            "here": quote(here, safe="/"),
            "is_admin": role == "province_admin", "ok": ok if ok and ok.startswith("ok_") else None}
    base.update(context)
    response = templates.TemplateResponse(request, template, base, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def done(path: str, ok: str) -> RedirectResponse:
    """After a successful form: back to ``path`` with a message key (POST → redirect → GET)."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}ok={ok}", status_code=303)
