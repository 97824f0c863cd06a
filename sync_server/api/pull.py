"""Pull API for province systems: a cursor-paged feed of answers and an aggregates endpoint.

A client system holds a read-only API token (``hailong-server api-tokens add``), scoped like a
user: the whole province, or a unit's subtree (with the units merged into it). The feed's cursor
is the server sequence (``server_seq``), not a time: a page is "everything after N", so answers
that arrive while a client pages (even ones created earlier by an offline kiosk) come later in the
feed, and none is returned twice or skipped. On SQLite, server_seq is assigned in commit order.

A token reads what a person of its unit would: a province token or one scoped to a district gets
``officer_id`` with each answer (their viewers see officer results); a token scoped to a commune
or a point gets answers without the ``officer_id`` key (see docs/results.md).

Aggregates count answers whose follow-ups were left (flag ``incomplete``) like any other; each unit
says how many there were (``followups_left``). ``include=incomplete`` is still accepted and changes
nothing, and ``left_out`` keeps its ``incomplete`` key (always 0) for the clients that read it.

``/comments`` (issue 15) hands on citizens' visible comments of a window, as the page lists them; hidden
ones are left out and counted, officer names only for tokens whose people see officers.

Each unit also lists its own service points (``points``, issue 13): the sites where its own answers
were given (a district's one-stop counter, the centre's points, a commune's point), each ranked
among every point of the token's scope. Fields are only ever added.

``history`` (issue 13) is the pages' history view: a unit's figures add its predecessors' answers
and each unit lists them; by default a unit's figures are its own (docs/results.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from sync_server import comments, security
from sync_server.api.models import ErrorBody
from sync_server.accounts import OFFICER_ROLES, scope_codes
from sync_server.results import official, official_privacy
from sync_server.scopes import answers_in_scope, read_codes
from sync_server.errors import ApiError
from sync_server.results.model import Filters
from sync_server.results.report import Report, WindowError, resolve_window
from sync_server.storage import User
from sync_server.access_rules import rule

router = APIRouter(prefix="/api/v1/pull", tags=["pull"])
MAX_PAGE = 5000
ERRORS = {status: {"model": ErrorBody} for status in (401, 403, 422, 500)}


def token_role(storage, client: dict) -> str:
    """The role a person of the token's unit would have (what the token may see, officer ids included)."""
    if not client["unit_code"]:
        return "province_analyst"
    unit = storage.unit(client["unit_code"])
    return "district_viewer" if unit is not None and unit["level"] in ("province", "district") else "commune_viewer"


def client_scope(request: Request) -> tuple[dict, set[str] | None]:
    """The API token's client and the unit codes it may read (None = the province); 401/403 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("missing_token", "this call needs 'Authorization: Bearer <API token>'", headers={"WWW-Authenticate": "Bearer"})
    storage = request.app.state.hailong.storage
    client = storage.api_token_by_hash(security.digest(token.strip()))
    if client is None:
        raise ApiError("invalid_token", "the API token is not known", headers={"WWW-Authenticate": "Bearer"})
    if client["revoked_at"]:
        raise ApiError("api_token_revoked")
    as_user = User(0, client["name"], token_role(storage, client), client["unit_code"], True)
    client = {**client, "role": as_user.role}
    return client, scope_codes(storage, as_user)


def _record(a: dict, officers: bool) -> dict:
    out = {"server_seq": a["server_seq"], "id": a["id"], "unit_code": a["unit_code"], "officer_id": a["officer_id"],
           "questionnaire": {"id": a["questionnaire_id"], "version": a["questionnaire_version"]}, "channel": a["channel"],
           "seq": a["seq"], "created_at": a["created_at"], "received_at": a["received_at"], "clock_suspect": a["clock_suspect"],
           "answers": a["answers"], "flags": a["flags"], "procedure_group": a["procedure_group"], "site_id": a["site_id"]}
    if not officers:
        del out["officer_id"]  # absent, not null: null means "no officer signed in"
    return out


def _window(state, campaign, date_from, date_to, include=(), channel=None):
    """The window the aggregates, officers and comments calls read, after the same checks; 422 for bad
    input. ``include=incomplete`` is a fixed part of the interface: accepted, a no-op (those answers count)."""
    if channel not in (None, "kiosk", "qr") or not set(include) <= {"misuse", "incomplete"}:
        raise ApiError("invalid_body", "channel is kiosk or qr; include is misuse and/or incomplete")
    try:
        return resolve_window(state.storage, state.settings, campaign, date_from, date_to)
    except WindowError as exc:
        raise ApiError("invalid_body", str(exc)) from None


def _report(state, allowed, campaign, date_from, date_to, include, channel, history: bool = False):
    """The window and the complete report the aggregates and officers calls read; 422 for bad input."""
    window = _window(state, campaign, date_from, date_to, include, channel)
    return window, Report.build(state, allowed, window, Filters("misuse" in include, channel, history), complete=True)


def _point(p: dict) -> dict:
    """One service point of a unit in the aggregates: its site, counts and rank among the scope's points."""
    s = p["score"]
    return {"site_id": p["site_id"], "name": p["name"], "unit_code": p["stored_code"], "closed": p["closed"],
            "answers": s.n, "satisfied": s.satisfied, "share_satisfied": s.headline_share, "index": s.index,
            "comparable_index": s.comparable_index,
            "wilson_low": s.low, "wilson_high": s.high, "enough_answers": p["enough"], "rank": p["rank"],
            "left_out": {"incomplete": 0, **s.left_out}, "followups_left": s.followups_left}


def _predecessor(p: dict) -> dict:
    """One old unit that went into a unit (the history view): its version, whether it was split and counted here."""
    s = p["score"]
    return {"code": p["code"], "name": p["name"], "valid_from": p["valid_from"], "valid_to": p["valid_to"],
            "partial": p["partial"], "counted": p["counted"], "also": p["also"], "answers": s.n, "satisfied": s.satisfied,
            "share_satisfied": s.headline_share, "index": s.index}


@router.get("/answers", responses=ERRORS, summary="Answers after a server sequence number, oldest first (cursor paging)")
@rule("api_client")
def pull_answers(request: Request, since: Annotated[int, Query(ge=0, le=2**62)] = 0,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000) -> dict:
    """``{"items": [...], "next_since": N, "has_more": bool}``: call again with ``since=next_since``.
    Each item carries ``site_id``: the service point it was given at (null when none was recorded).
    A page may hold fewer than ``limit`` items (answers of a reused code's other meaning are read
    and left out) while ``has_more`` is true."""
    client, allowed = client_scope(request)
    rows, last = answers_in_scope(request.app.state.hailong.storage, allowed, since, limit)
    more = last is not None and bool(request.app.state.hailong.storage.answers_after(last, 1, read_codes(allowed)))
    officers = client["role"] in OFFICER_ROLES
    return {"items": [_record(a, officers) for a in rows], "next_since": last if last is not None else since, "has_more": more}


@router.get("/aggregates", responses=ERRORS, summary="Indices, shares satisfied and Wilson bounds per unit over a window")
@rule("api_client")
def pull_aggregates(request: Request, campaign: Annotated[int | None, Query(ge=1, le=2**62)] = None, date_from: Annotated[str | None, Query(alias="from")] = None,
                    date_to: Annotated[str | None, Query(alias="to")] = None, include: Annotated[list[str], Query()] = [],
                    channel: str | None = None, history: Annotated[bool, Query()] = False) -> dict:
    """Per unit (``units``): its subtree's pooled answers (``answers``, ``satisfied``, ``share_satisfied``,
    ``index``, ``comparable_index`` (the headline question's index, which every kiosk asks: what
    recognition judges on), ``wilson_low``, ``wilson_high``, ``enough_answers``, ``left_out``, ``followups_left``,
    ``criteria``) and ``points``: its own service points (sites, without its subtree), each with
    ``site_id``, ``name``, ``unit_code`` (the stored code it belongs to), ``closed``, the same counts and
    ``rank`` among every point of the token's scope (null: fewer answers than ``min_answers``).
    ``procedure_groups``: the token's top unit by procedure group.

    ``history=true`` (or 1; issue 13): every unit's figures add its predecessors' answers (the
    history view), and each unit gains ``predecessors``: the old units that went into it, each
    ``{code, name, valid_from, valid_to, partial, counted, also, answers, satisfied, share_satisfied,
    index}`` (a partial one is shown whole and not counted). ``structure``: which unit structure the
    report uses when the window spans a reorganisation or lies before one (else null)."""
    client, allowed = client_scope(request)
    state = request.app.state.hailong
    window, report = _report(state, allowed, campaign, date_from, date_to, include, channel, history)
    units = []
    for code in report.tree.order:
        if not report.visible(code):
            continue
        row = report.unit_row(code)
        s = row["score"]
        units.append({"code": code, "name": row["name"], "level": row["level"], "parent_code": row["parent_code"],
                      "answers": s.n, "satisfied": s.satisfied, "share_satisfied": s.headline_share, "index": s.index,
                      "comparable_index": s.comparable_index, "wilson_low": s.low, "wilson_high": s.high, "enough_answers": s.n >= state.settings.report_min_answers,
                      "left_out": {"incomplete": 0, **s.left_out}, "followups_left": s.followups_left,
                      "criteria": {c["id"]: {"index": c["index"], "share_satisfied": c["share"]} for c in s.criteria},
                      "points": [_point(p) for p in report.own_points(code)]})
        if history:
            units[-1]["predecessors"] = [_predecessor(p) for p in report.history(code)["rows"]]
    roots = report.roots(client["unit_code"])
    groups = [{"code": g["code"], "label": g["label"], "answers": g["score"].n, "satisfied": g["score"].satisfied,
               "share_satisfied": g["score"].headline_share, "index": g["score"].index, "wilson_low": g["score"].low,
               "wilson_high": g["score"].high} for g in report.procedure_groups(roots[0])] if roots else []
    structure = report.structure()
    return {"window": {"from": window.start.isoformat(), "to": window.end.isoformat(),
                       "campaign": window.campaign["id"] if window.campaign else None},
            "history": history,
            "structure": {"since": structure["since"], "spans": structure["spans"], "before": structure["before"],
                          "text": {"vi": structure["text"].vi, "en": structure["text"].en}} if structure else None,
            "min_answers": state.settings.report_min_answers, "units": units,
            "procedure_groups": {"unit_code": roots[0] if roots else None, "groups": groups}}


@router.get("/official", responses=ERRORS, summary="The official satisfaction measure (QĐ 766, item 5.4) per unit over a window")
@rule("api_client")
def pull_official(request: Request, campaign: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                  date_from: Annotated[str | None, Query(alias="from")] = None,
                  date_to: Annotated[str | None, Query(alias="to")] = None) -> dict:
    """The ``hailong-server official --json`` document for the token's unit (its subtree in the structure
    in force on the window's last day) or the whole province: per unit ``dossiers, late, rated,
    dislikes, complaints, ratio, points`` first, then the shares, the ratings without a dossier, the
    figures by site, field and month, and the reconciliation (register against ratings per counter);
    ``total`` for the selection. Counts only: no dossier code, officer or answer (docs/dossiers.md).
    An API token reads as a province analyst at most, so the minimum-count rule always applies: a figure
    resting on fewer than ``min_cell`` dossier-tied ratings (or one that would give such a figure away)
    has ``suppressed: true`` and null where it rests on ratings. Nothing is measured before 1 July 2025
    (``notes`` says so)."""
    client, _ = client_scope(request)
    state = request.app.state.hailong
    try:
        window = resolve_window(state.storage, state.settings, campaign, date_from, date_to)
        found = official_privacy.measure_for(state.storage, state.settings, window.start, window.end,
                                             client["unit_code"] or None, client["role"])
    except (WindowError, official.OfficialError) as exc:
        raise ApiError("invalid_body", str(exc)) from None
    return official.as_json(found)


@router.get("/officers", responses=ERRORS, summary="Officers ranked within the token's scope over a window (officer access only)")
@rule("api_client")
def pull_officers(request: Request, campaign: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                  date_from: Annotated[str | None, Query(alias="from")] = None,
                  date_to: Annotated[str | None, Query(alias="to")] = None, include: Annotated[list[str], Query()] = [],
                  channel: str | None = None) -> dict:
    """Every officer with answers in the token's scope: ``officer_id``, ``name``, ``unit_code``, ``answers``,
    ``satisfied``, ``share_satisfied``, ``index``, ``wilson_low``, ``wilson_high``, ``enough_answers``,
    ``rank`` (among every officer of the scope; null under ``min_answers``) and ``ranked``: how many are
    ranked. The same ranking as the results pages and the XLSX ("Cán bộ"). Only for a token whose
    people see officer results (province or district): 403 ``officer_results_forbidden`` otherwise."""
    client, allowed = client_scope(request)
    if client["role"] not in OFFICER_ROLES:
        raise ApiError("officer_results_forbidden")
    state = request.app.state.hailong
    window, report = _report(state, allowed, campaign, date_from, date_to, include, channel)
    roots = report.roots(client["unit_code"])
    rows = [o for root in roots for o in report.officers(root)]
    _, ranked = report.officer_ranks()
    return {"window": {"from": window.start.isoformat(), "to": window.end.isoformat(),
                       "campaign": window.campaign["id"] if window.campaign else None},
            "min_answers": state.settings.report_min_answers, "ranked": ranked,
            "officers": [{"officer_id": o["code"], "name": o["name"], "unit_code": o["unit_code"], "answers": o["score"].n,
                          "satisfied": o["score"].satisfied, "share_satisfied": o["score"].headline_share,
                          "index": o["score"].index, "comparable_index": o["score"].comparable_index,
                          "wilson_low": o["score"].low, "wilson_high": o["score"].high,
                          "enough_answers": o["enough"], "rank": o["rank"]} for o in rows]}


@router.get("/comments", responses=ERRORS, summary="Citizens' visible comments within the token's scope over a window")
@rule("api_client")
def pull_comments(request: Request, campaign: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                  date_from: Annotated[str | None, Query(alias="from")] = None,
                  date_to: Annotated[str | None, Query(alias="to")] = None,
                  source: Annotated[Literal["form", "link"] | None, Query()] = None) -> dict:
    """The comments of the window (the same window and checks as ``/aggregates``) within the token's
    scope, newest first, as the results page "Ý kiến" lists them (``sync_server.comments``). Hidden
    comments (moderation) are left out; ``hidden_left_out`` says how many. Each item: ``response_id``,
    ``question`` ("" for a comment written through a kiosk answer's thank-you QR), ``source`` (``form``:
    the phone form; ``link``: after a kiosk answer), ``created_at`` (RFC 3339, the province's offset),
    ``unit_code``, ``unit_name``, ``site_name``, ``level`` (the headline level of its answer, or null),
    ``text``; and ``officer_name`` only for a token whose people see officer results (province or
    district): absent otherwise. No officer id is ever given."""
    client, allowed = client_scope(request)
    state = request.app.state.hailong
    window = _window(state, campaign, date_from, date_to)
    officers = client["role"] in OFFICER_ROLES
    found = comments.export_comments(state.storage, state.settings, state.questionnaires(), role=client["role"], scope=allowed,
                                     day_from=window.start, day_to=window.end, source=source)
    items = []
    for c in found.items:
        item = {"response_id": c.response_id, "question": c.question, "source": c.source,
                "created_at": comments.created_at(state.settings, c.created_ms), "unit_code": c.unit_code,
                "unit_name": c.unit_name, "site_name": c.site_name, "level": c.level, "text": c.text}
        if officers:
            item["officer_name"] = c.officer_name
        items.append(item)
    return {"window": {"from": window.start.isoformat(), "to": window.end.isoformat(),
                       "campaign": window.campaign["id"] if window.campaign else None},
            "hidden_left_out": found.hidden, "items": items}
