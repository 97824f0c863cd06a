"""The phone (QR) form: ``/s/<unit>`` for citizens (public, no login, no JavaScript needed) and the
call-back list for the province admin. The rules live in :mod:`sync_server.phone`.

One page, not a multi-step form: the overall question, its follow-ups (hidden by a few lines of
inline JavaScript until they apply; shown with a plain "only if" hint without it) and a send button,
then the optional questions, comment and contact with a second send button. One round trip on a slow
network, nothing held between pages, and nothing lost when a citizen stops after the first tap.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from hailong_core import procedure_groups
from hailong_core.ids import is_uuid
from hailong_core.questionnaire import TEXT_MAX_CHARS
from sync_server import days, phone, security
from sync_server.errors import CATALOGUE, error_body
from sync_server.web.access import Pages, client_ip, scope
from sync_server.web.i18n import request_lang
from sync_server.web.render import render, when
from hailong_core.dossier import matches_pattern, normalise_dossier_code
from sync_server.kiosk_config import unit_dossier_pattern
from sync_server.web.sites_view import pick_site

pages = Pages()
BROWSER_COOKIE = "hl_b"
COOKIE_PATH = "/s/"
COOKIE_MAX_AGE = 400 * 86400


def _state(request: Request):
    return request.app.state.hailong


def _now(request: Request) -> datetime:
    """Now, from the app's clock when one is set (``app.state.clock``: tests move time instead of waiting)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(timezone.utc)


def _secret(request: Request) -> str:
    app_state = request.app.state
    secret = getattr(app_state, "phone_secret", None)
    if secret is None:
        secret = app_state.phone_secret = _state(request).storage.phone_secret()
    return secret


def _point(request: Request, code: str) -> dict | None:
    """The unit when it is an open one-stop point (not the province row, not a closed unit)."""
    storage = _state(request).storage
    unit = storage.unit(code)
    if unit is None or unit["valid_to"] is not None or unit["level"] == "province":
        return None
    parent = storage.unit(unit["parent_code"]) if unit["parent_code"] else None
    unit["parent_name"] = parent["name"] if parent else None
    return unit


def _site(request: Request, code: str, value) -> dict | None:
    """The site the link names (``?site=<id>``, an open site of this unit today), else the unit's first site."""
    state = _state(request)
    return pick_site(state.storage, code, value, days.province_now(state.settings, _now(request)).date().isoformat())


def _questionnaire(request: Request, code: str, qid: str | None = None, version: str | None = None):
    """The questionnaire the form was drawn with (immutable once published), else the point's active one."""
    state = _state(request)
    index = state.questionnaires()
    if qid and version and version.isdigit():
        found = index.get((qid, int(version)))
        if found is not None:
            return found
    day = days.province_now(state.settings, _now(request)).date().isoformat()
    doc = state.storage.active_questionnaire(code, day)
    return index.get((doc["id"], doc["version"]))


def _message(request: Request, key: str, status: int, code: str | None = None, browser_id: str | None = None, **extra):
    response = render(request, "phone_message.html", status_code=status, key=key, code=code, **extra)
    return _with_browser(request, response, browser_id)


def _with_browser(request: Request, response, browser_id: str | None):
    if browser_id and request.cookies.get(BROWSER_COOKIE) != browser_id:
        response.set_cookie(BROWSER_COOKIE, browser_id, max_age=COOKIE_MAX_AGE, path=COOKIE_PATH, httponly=True,
                            samesite="lax", secure=bool(_state(request).settings.cookie_secure))
    return response


def _dossier(request: Request, code: str, value) -> str | None:
    """The receipt's dossier code a link or form carries, normalised, if it is one this unit's
    receipts print (its ``dossier_pattern``); else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    state = _state(request)
    dossier = normalise_dossier_code(value)
    return dossier if matches_pattern(dossier, unit_dossier_pattern(state.storage, state.settings, code)) else None


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _officer(request: Request, code: str, officer_id: str | None) -> str | None:
    """A poster or link may name the counter's officer (``?o=``); ignored unless active at this point."""
    if not officer_id:
        return None
    officer = _state(request).storage.officer(officer_id)
    return officer_id if officer and officer["active"] and officer["unit_code"] == code else None


def _group(request: Request, value: str | None, officer: str | None) -> str | None:
    """The procedure group the citizen chose (a catalogue code), else the named officer's usual one."""
    if value in procedure_groups.codes():
        return value
    if officer and value is None:
        found = _state(request).storage.officer(officer)
        return found.get("procedure_group") if found else None
    return None


def _form(request: Request, unit: dict, questionnaire, browser_id: str, *, values: dict | None = None, officer: str | None = None,
          token: str | None = None, error: str | None = None, status: int = 200, phone_text: str = "", consent: bool = False,
          group: str | None = None, site: dict | None = None, dossier: str | None = None, note: str | None = None):
    lang_code = request_lang(request)
    questions = phone.phone_questions(questionnaire)
    first = [q for q in questions if phone.depends_on_overall(questionnaire, q)]
    rest = [q for q in questions if q not in first]
    show_if = {q.id: {"q": q.show_if.question, "in": list(q.show_if.values)} for q in questions if q.show_if}
    hints = {}
    for q in questions:
        if q.show_if:
            target = questionnaire.question(q.show_if.question)
            if target.kind == "scale":
                hints[q.id] = ", ".join(target.level(v).label.get(lang_code) for v in q.show_if.values)
            else:
                hints[q.id] = ", ".join(o.label.get(lang_code) for o in target.options if o.id in q.show_if.values)
    response = render(request, "phone_form.html", status_code=status, unit=unit, site=site, questionnaire=questionnaire,
                      first=first, rest=rest, show_if_json=json.dumps(show_if).replace("<", "\\u003c"), hints=hints, values=values or {},
                      csrf=phone.form_token(_secret(request), browser_id, f"answer|{unit['code']}", _now(request).timestamp()),
                      officer=officer,
                      token=token, error=error, overall_id=questionnaire.overall.id, phone_text=phone_text, consent=consent,
                      group=group if group is not None else _group(request, None, officer), dossier=dossier, note=note)
    return _with_browser(request, response, browser_id)


@pages.get("/s/{code}", access="public")
def phone_form(request: Request, code: str, r: str | None = None, t: str | None = None, o: str | None = None,
               site: str | None = None, d: str | None = None):
    """The point's form; with ``r`` the comment form for that kiosk answer; with ``t`` a dossier token;
    ``site`` names one of the unit's sites (a poster's), else the answer goes to its first site; ``d``
    the dossier code of the receipt's QR (issue 14): the form says it rates that dossier. A code that is
    not a receipt's is dropped with a polite note: the citizen can still rate."""
    unit = _point(request, code)
    browser_id = request.cookies.get(BROWSER_COOKIE) or phone.new_browser_id()
    if unit is None:
        return _message(request, "phone_err_unit", 404, browser_id=browser_id)
    state = _state(request)
    if r is not None:
        problem = phone.comment_target_problem(state.storage, state.settings, code, r, _now(request))
        if problem:
            return _message(request, f"phone_comment_{problem}", 410 if problem == "expired" else 409 if problem == "done" else 404,
                            code=code, browser_id=browser_id)
        response = render(request, "phone_comment.html", unit=unit, response_id=r,
                          csrf=phone.form_token(_secret(request), browser_id, f"comment|{r}", _now(request).timestamp()),
                          error=None, text="",
                          phone_text="", consent=False)
        return _with_browser(request, response, browser_id)
    if t:
        found = state.storage.dossier_token(security.digest(security.normalise_code(t)))
        now_ms = int(_now(request).timestamp() * 1000)
        problem = ("unknown" if found is None else "used" if found["used_ms"] is not None
                   else "expired" if found["expires_ms"] <= now_ms else "other_unit" if found["unit_code"] != code else None)
        if problem:
            return _message(request, f"phone_token_{problem}", 403, code=code, browser_id=browser_id)
    questionnaire = _questionnaire(request, code)
    dossier = _dossier(request, code, d)
    return _form(request, unit, questionnaire, browser_id, officer=_officer(request, code, o), token=t or None,
                 site=_site(request, code, site), dossier=dossier,
                 note="phone_dossier_refused" if d is not None and d.strip() and dossier is None else None)


@pages.post("/s/{code}", access="public")
async def phone_submit(request: Request, code: str):
    state = _state(request)
    unit = _point(request, code)
    browser_id = request.cookies.get(BROWSER_COOKIE)
    if unit is None:
        return _message(request, "phone_err_unit", 404)
    form = await request.form()
    now = _now(request)
    if not phone.check_form_token(_secret(request), browser_id, f"answer|{code}", form.get("csrf"), now.timestamp()):
        return _message(request, "phone_err_csrf", 403, code=code, browser_id=browser_id or phone.new_browser_id())
    questionnaire = _questionnaire(request, code, form.get("qid"), form.get("qver"))
    answers = phone.answers_from_form(questionnaire, form)
    officer = _officer(request, code, form.get("o"))
    token = (form.get("t") or "").strip() or None
    dossier = _dossier(request, code, form.get("d"))
    phone_text = form.get("phone") or ""
    consent = form.get("consent") == "yes"
    group = _group(request, form.get("g") or "", officer)
    site = _site(request, code, form.get("site"))
    if questionnaire.overall.id not in answers:
        return _form(request, unit, questionnaire, browser_id, values=answers, officer=officer, token=token,
                     error="phone_err_overall", status=400, phone_text=phone_text, consent=consent, group=group or "",
                     site=site, dossier=dossier)
    outcome = await run_in_threadpool(
        phone.submit_answer, state.storage, state.settings, state.questionnaires(), questionnaire, code, answers,
        secret=_secret(request), browser_id=browser_id, ip=client_ip(request), officer_id=officer, token=token,
        phone=phone_text, consent=consent, procedure_group=group, site_id=site["id"] if site else None, now=now,
        dossier_code=dossier)
    if outcome.status == "rate_limited":
        retry = {"Retry-After": str(int(state.settings.phone_rate_window_min * 60))}
        if _wants_json(request):
            return JSONResponse(error_body("rate_limited", CATALOGUE["rate_limited"][1]), status_code=429, headers=retry)
        response = _message(request, "phone_err_rate", 429, code=code)
        response.headers.update(retry)
        return response
    if outcome.status == "token_refused":
        # The answers come back so the citizen can send them without the token (then unbound).
        return _form(request, unit, questionnaire, browser_id, values=answers, officer=officer, token=None,
                     error=f"phone_token_{outcome.token_problem}", status=403, phone_text=phone_text, consent=consent,
                     group=group or "", site=site, dossier=dossier)
    if _wants_json(request):
        return JSONResponse({"id": outcome.response_id, "status": "accepted", "flags": outcome.flags}, status_code=201)
    # The thank-you names the site; the unit's first site needs no parameter (as on its poster).
    first = _site(request, code, None)
    query = [f"site={site['id']}"] if site and first and site["id"] != first["id"] else []
    query += [f"c={outcome.contact}"] if outcome.contact else []
    target = f"/s/{code}/thanks" + ("?" + "&".join(query) if query else "")
    return RedirectResponse(target, status_code=303)


@pages.get("/s/{code}/thanks", access="public")
def phone_thanks(request: Request, code: str, c: str | None = None, site: str | None = None):
    unit = _point(request, code)
    if unit is None:
        return _message(request, "phone_err_unit", 404)
    contact = c if c in ("saved", "no_consent", "invalid") else None
    return render(request, "phone_thanks.html", unit=unit, contact=contact, site=_site(request, code, site))


@pages.post("/s/{code}/comment", access="public")
async def phone_comment(request: Request, code: str):
    state = _state(request)
    unit = _point(request, code)
    if unit is None:
        return _message(request, "phone_err_unit", 404)
    form = await request.form()
    rid = form.get("r") or ""
    browser_id = request.cookies.get(BROWSER_COOKIE)
    now = _now(request)
    if not is_uuid(rid) or not phone.check_form_token(_secret(request), browser_id, f"comment|{rid}", form.get("csrf"),
                                                      now.timestamp()):
        return _message(request, "phone_err_csrf", 403, code=code, browser_id=browser_id or phone.new_browser_id())
    text = (form.get("comment") or "").strip().replace("\r\n", "\n")[:TEXT_MAX_CHARS]
    phone_text, consent = form.get("phone") or "", form.get("consent") == "yes"
    if not text:
        response = render(request, "phone_comment.html", status_code=400, unit=unit, response_id=rid, error="phone_err_comment",
                          csrf=phone.form_token(_secret(request), browser_id, f"comment|{rid}", now.timestamp()), text="",
                          phone_text=phone_text, consent=consent)
        return response
    row_id, _, same_address, _ = await run_in_threadpool(phone.note, state.storage, state.settings, _secret(request), code,
                                                         browser_id, client_ip(request), now, "comment")
    if same_address >= state.settings.phone_rate_refuse_after:
        state.storage.settle_phone_submission(row_id, "refused_rate", None)
        return _message(request, "phone_err_rate", 429, code=code)
    problem = phone.comment_target_problem(state.storage, state.settings, code, rid, now)
    stored = problem is None and state.storage.add_phone_comment(rid, code, text, int(now.timestamp() * 1000))
    state.storage.settle_phone_submission(row_id, "comment" if stored else "refused_comment", None)
    if not stored:
        problem = problem or "done"
        return _message(request, f"phone_comment_{problem}", 410 if problem == "expired" else 409 if problem == "done" else 404,
                        code=code)
    contact = phone.save_contact(state.storage, code, rid, phone_text, consent, int(now.timestamp() * 1000))
    return render(request, "phone_thanks.html", unit=unit, contact=contact, comment=True)


@pages.get("/admin/callbacks", access="admin")
def callbacks(request: Request):
    """Call-back requests (phone numbers given with consent): province admins only, until purged."""
    storage = _state(request).storage
    names = {u["code"]: u["name"] for u in storage.units()}
    rows = [dict(r, at=_ms_text(r["created_ms"])) for r in storage.phone_contacts(scope(request))]
    comments = [dict(r, at=_ms_text(r["created_ms"])) for r in storage.phone_comments(scope(request))]
    return render(request, "callbacks.html", rows=rows, comments=comments, names=names,
                  retention=_state(request).settings.contact_retention_days)


def _ms_text(ms: int) -> str:
    return when(datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat())
