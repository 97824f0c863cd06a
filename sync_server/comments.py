"""Citizens' written comments (issue 15): what they wrote, where, how they rated, and moderation.

Two sources, one list:

- **form**: the text answers of the phone (QR) form, one comment per text question answered, placed
  at the answer's time; identity ``(response id, question id)``.
- **link**: the comment written through the thank-you QR of a kiosk answer (``/s/<unit>?r=<id>``),
  placed at the time it was written; identity ``(response id, "")``. Its answer may not have arrived
  yet (a kiosk syncs later): then it has no level, site or officer until it does.

Who sees what: every signed-in role sees the comments within their scope (an answer belongs to its
site's unit version, as in the results); the officer's *name* goes only to :data:`OFFICER_ROLES`,
and no role gets an officer id. Moderation (province admin only) hides abusive text with a reason:
the text stays where it was stored, for audit; other roles see :data:`HIDDEN_TEXT` in its place; the
hide or unhide and its audit entry commit together. The page, the XLSX export ("Góp ý") and the pull API (``/api/v1/pull/comments``) call these
functions; the exports leave hidden comments out and say how many (:func:`export_comments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from hailong_core.questionnaire import Text
from sync_server import days
from sync_server.accounts import OFFICER_ROLES
from sync_server.scopes import covers_version, read_codes, viewer_scope

SOURCES = ("form", "link")
MODERATOR_ROLES = frozenset(("province_admin",))
HIDDEN_TEXT = Text("đã ẩn", "hidden")
REASON_MAX = 500
PER_PAGE = 50
LINK_QUESTION = ""  # a link comment's question in its identity


class CommentsError(ValueError):
    """A request the use case refuses; ``code``: ``forbidden``, ``scope``, ``not_found``, ``reason_required``,
    ``unchanged``, ``window``."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code


@dataclass(frozen=True)
class Comment:
    """One comment as a viewer may see it (``text`` is None when hidden from them)."""

    response_id: str
    question: str          # "" for a link comment
    source: str            # ``form`` or ``link``
    created_ms: int
    at: str                # province local time, dd/mm/yyyy HH:MM
    unit_code: str
    unit_name: str | None
    site_name: str | None
    question_label: str | None
    level: int | None      # the headline (overall) level of the answer it belongs to
    level_label: str | None
    text: str | None
    hidden: bool
    hidden_reason: str | None  # moderators only
    hidden_by: str | None      # moderators only
    officer_name: str | None   # OFFICER_ROLES only

    @property
    def key(self) -> str:
        """The identity as one form value: ``<response id>/<question>``."""
        return f"{self.response_id}/{self.question}"


@dataclass(frozen=True)
class CommentPage:
    items: list[Comment]
    total: int
    page: int
    pages: int


def is_moderator(role: str | None) -> bool:
    return role in MODERATOR_ROLES


def window_ms(settings, day_from: date, day_to: date) -> tuple[int, int]:
    """``[start, end)`` in UTC ms of the province's days ``day_from`` to ``day_to`` (inclusive)."""
    if day_to < day_from:
        raise CommentsError("window", "the window ends before it starts")
    offset = days.offset_ms(settings)
    return days.day_number(day_from) * days.DAY_MS - offset, (days.day_number(day_to) + 1) * days.DAY_MS - offset


def local_time(settings, ms: int) -> str:
    return days.province_now(settings, datetime.fromtimestamp(ms / 1000, timezone.utc)).strftime("%d/%m/%Y %H:%M")


def _text_questions(storage, questionnaires) -> list[str]:
    """The ids of every published questionnaire's text questions (the only free text an answer holds)."""
    docs = (questionnaires.get(key) for key in storage.questionnaires())
    return sorted({q.id for doc in docs if doc is not None for q in doc.questions if q.kind == "text"})


def _placed_in(scope, row: dict) -> bool:
    """An answer belongs to the unit version of its site (a reused code's other meaning is not the viewer's)."""
    if scope is None:
        return True
    if row.get("site_unit_valid_from") is not None:
        return covers_version(scope, row["unit_code"], row["site_unit_valid_from"])
    return row["unit_code"] in scope


def _level(questionnaires: dict, row: dict, lang: str) -> tuple[int | None, str | None]:
    doc = questionnaires.get((row.get("questionnaire_id"), row.get("questionnaire_version")))
    answers = row.get("answers") or {}
    if doc is None:
        return None, None
    value = answers.get(doc.overall.id)
    level = doc.overall.level(value) if isinstance(value, int) else None
    return (value, level.label.get(lang)) if level is not None else (None, None)


def list_comments(storage, settings, questionnaires: dict, *, role: str, scope, day_from: date, day_to: date,
                  unit: str | None = None, source: str | None = None, only_visible: bool = False, page: int = 1,
                  per_page: int = PER_PAGE, lang: str = "vi", now: datetime | None = None) -> CommentPage:
    """The comments within ``scope`` (None: the province) written in the window, newest first, one page.

    ``unit``: only that unit and the units below it (refused when outside ``scope``); ``source``:
    ``form`` or ``link``; ``only_visible``: leave hidden comments out (else a moderator sees them
    marked, and others see them as :data:`HIDDEN_TEXT`). ``questionnaires``: anything with ``get((id, version))`` (the app's index, or a dict).
    """
    if unit:
        if scope is not None and unit not in scope:
            raise CommentsError("scope", "that unit is outside your scope")
        if storage.unit(unit) is None:
            raise CommentsError("not_found", "unknown unit")
        unit_scope = viewer_scope(storage, unit, now, settings.utc_offset_h)
    else:
        unit_scope = None
    ms_from, ms_to = window_ms(settings, day_from, day_to)
    codes = read_codes(unit_scope if unit_scope is not None else scope)
    if scope is not None and unit_scope is not None:
        codes &= read_codes(scope)
    moderator, officers = is_moderator(role), role in OFFICER_ROLES
    names = {u["code"]: u["name"] for u in storage.units()}
    rows: list[tuple[dict, str, str, str | None]] = []  # (row, source, question, text)
    if source in (None, "form"):
        by_id = {}
        for row in storage.form_comment_rows(ms_from, ms_to, codes, _text_questions(storage, questionnaires)):
            doc = questionnaires.get((row["questionnaire_id"], row["questionnaire_version"]))
            for q in doc.questions if doc is not None else ():
                value = (row["answers"] or {}).get(q.id)
                if q.kind == "text" and isinstance(value, str) and value.strip():
                    rows.append((row, "form", q.id, value))
                    by_id[(row["response_id"], q.id)] = q.text.get(lang)
    if source in (None, "link"):
        rows += [(row, "link", LINK_QUESTION, row["comment"]) for row in storage.link_comment_rows(ms_from, ms_to, codes)]
    items = []
    for row, kind, question, text in rows:
        if not (_placed_in(scope, row) and _placed_in(unit_scope, row)):
            continue
        state = row["moderation"].get(question) or {}
        hidden = bool(state.get("hidden"))
        if hidden and only_visible:
            continue
        level, level_label = _level(questionnaires, row, lang)
        label = by_id.get((row["response_id"], question)) if kind == "form" else None
        items.append(Comment(
            response_id=row["response_id"], question=question, source=kind, created_ms=row["created_ms"],
            at=local_time(settings, row["created_ms"]), unit_code=row["unit_code"], unit_name=names.get(row["unit_code"]),
            site_name=row.get("site_name"), question_label=label, level=level, level_label=level_label,
            text=text if (moderator or not hidden) else None, hidden=hidden,
            hidden_reason=state.get("reason") if moderator and hidden else None,
            hidden_by=state.get("updated_by") if moderator and hidden else None,
            officer_name=row.get("officer_name") if officers else None))
    items.sort(key=lambda c: (c.created_ms, c.response_id, c.question), reverse=True)
    per_page = max(1, per_page)
    pages = max(1, -(-len(items) // per_page))
    page = min(max(1, page), pages)
    return CommentPage(items[(page - 1) * per_page:page * per_page], len(items), page, pages)


@dataclass(frozen=True)
class CommentExport:
    """What an export or the pull API hands on: the visible comments (newest first) and how many hidden
    ones were left out."""

    items: list[Comment]
    hidden: int


def export_comments(storage, settings, questionnaires: dict, *, role: str, scope, day_from: date, day_to: date,
                    unit: str | None = None, source: str | None = None, now: datetime | None = None) -> CommentExport:
    """Every comment of the window within ``scope`` (``unit``: its subtree), as :func:`list_comments` finds
    them, with the hidden ones left out whoever asks (a moderator too: what leaves the server is what a
    reader may see), and counted. Officer names only for :data:`OFFICER_ROLES`, as on the page."""
    found = list_comments(storage, settings, questionnaires, role=role, scope=scope, day_from=day_from, day_to=day_to,
                          unit=unit, source=source, page=1, per_page=10**9, now=now)
    visible = [c for c in found.items if not c.hidden]
    return CommentExport(visible, found.total - len(visible))


def created_at(settings, ms: int) -> str:
    """RFC 3339 in the province's local time (with its offset), to the second."""
    return days.province_now(settings, datetime.fromtimestamp(ms / 1000, timezone.utc)).isoformat(timespec="seconds")


def find_comment(storage, questionnaires: dict, response_id: str, question: str) -> dict | None:
    """``{unit_code, text}`` of the comment with that identity, or None."""
    if question == LINK_QUESTION:
        found = storage.phone_comment(response_id)
        return {"unit_code": found["unit_code"], "text": found["comment"]} if found else None
    brief = storage.response_brief(response_id)
    if brief is None or brief["channel"] != "qr":
        return None
    for row in storage.form_comment_rows(brief["created_ms"], brief["created_ms"] + 1, {brief["unit_code"]}, [question]):
        value = (row["answers"] or {}).get(question)
        if row["response_id"] == response_id and isinstance(value, str) and value.strip():
            return {"unit_code": row["unit_code"], "text": value}
    return None


def set_hidden(storage, questionnaires: dict, user, response_id: str, question: str, hidden: bool, reason: str,
               now: datetime, ip: str | None = None) -> None:
    """Hide (or show again) one comment, with a reason; province admin only. The text is kept."""
    if user is None or not is_moderator(user.role):
        raise CommentsError("forbidden", "only the province admin moderates comments")
    reason = (reason or "").strip()[:REASON_MAX]
    if not reason:
        raise CommentsError("reason_required", "give a reason")
    if find_comment(storage, questionnaires, response_id, question) is None:
        raise CommentsError("not_found", "no such comment")
    if not storage.set_comment_hidden(response_id, question, hidden, reason, now, user, ip):
        raise CommentsError("unchanged", "the comment is already so")


__all__ = ["Comment", "CommentExport", "CommentPage", "CommentsError", "HIDDEN_TEXT", "list_comments", "export_comments",
           "set_hidden", "find_comment", "is_moderator", "window_ms", "created_at", "SOURCES"]
