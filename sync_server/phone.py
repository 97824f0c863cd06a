"""The phone (QR) channel's rules, apart from HTTP: answers from a form, abuse flags, tokens, comments, contacts.

How it works (docs/server-admin.md, "The QR channel", says the same for the province):

- **One ingest path.** The server builds the record (id = UUIDv7, ``channel = "qr"``, created_at = the
  server's time in the province's offset) and stores it with :func:`sync_server.ingest.ingest`, device
  None and the unit from the URL, so the phone answer passes the very checks a kiosk answer passes.
- **seq.** The point's web form acts as the point's virtual device: ``seq`` is a per-point counter
  (``phone_seq``). A number drawn for a submission that is then refused leaves a gap; nothing uses
  gaps in the qr channel (kiosks' seq gaps mean lost answers; a phone has no queue to lose).
- **Abuse, stored not dropped.** A browser cookie (random, 400 days) and the client address are kept
  only as keyed hashes. A second answer from one browser for one point on one (province) day gets
  flag ``repeat``. More than ``phone_rate_flag_after`` submissions from one address within
  ``phone_rate_window_min`` get flag ``rate_limited``; more than ``phone_rate_refuse_after`` are
  answered 429 and not stored: they would carry ``rate_limited`` and reports leave flagged answers
  out, so nothing that counts is lost, while a flood cannot fill the disk.
- **A bound per address and day** (contract 13). Dropping the cookie makes every answer look like a new
  phone, so the address is what links a cookie-less sender: per point, per address (an IPv6 address by
  its /64, which one phone can rotate within) and per day, only the first
  ``phone_counted_per_address_day`` answers without a dossier token are stored unflagged; later ones get
  ``address_repeat``. Answers in flight count, and the count and the insert share one write
  transaction, so the cap is exact with many server processes. An answer bound to a dossier token is
  a receipt from a real visit and is not capped (it carries flag ``dossier_token``, not a misuse flag,
  so reports can tell it apart for recognition: ``recognition_phone_without_token``).
- **Dossier tokens** (printed on a receipt, made with ``hailong-server dossier-tokens``): single use,
  bound to their point, expiring. A forged, used, expired or other point's token is refused and the
  citizen's answers come back on the form so they can send them without it (then unbound).
- **Comments on kiosk answers** (``/s/<unit>?r=<id>``): one per answer, within
  ``phone_comment_window_min`` of the id's own time (UUIDv7 carries it), stored apart in
  ``phone_comments``. A kiosk may sync hours later, so a comment on an answer the server has not
  seen yet is kept and becomes linked when the answer arrives (a join on the id and unit).
- **Contacts** only with the separate consent box ticked; stored in ``phone_contacts`` (never in the
  response record, exports or logs), deleted after ``contact_retention_days``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hailong_core.ids import is_uuid, uuid7
from hailong_core.questionnaire import TEXT_MAX_CHARS, Question, Questionnaire
from sync_server.days import province_now
from hailong_core.response import FLAG_ADDRESS_REPEAT, FLAG_DOSSIER_TOKEN, FLAG_RATE_LIMITED, FLAG_REPEAT  # noqa: F401
from hailong_core.timeutil import format_rfc3339
from sync_server import security
from sync_server.ingest import ingest

CHANNEL = "qr"
FORM_TOKEN_TTL_S = 12 * 3600          # a form left open longer asks for a reload
SUBMISSION_KEEP_MS = 3 * 86400 * 1000  # abuse bookkeeping is only needed for a day and a window
PHONE_RE = re.compile(r"^(?:\+84|84|0)[1-9][0-9]{7,9}$")


def keyed_hash(secret: str, kind: str, value: str) -> str:
    """An HMAC of a browser id or an address: comparable, but not reversible without the server's key."""
    return hmac.new(secret.encode(), f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()[:32]


def address_key(ip: str) -> str:
    """What the per-address limits count by: an IPv4 address as it is, an IPv6 address by its /64.

    A phone on IPv6 (most of Việt Nam's 4G) holds a whole /64 and may pick any address in it
    (privacy addresses), so counting full IPv6 addresses would let one phone look like millions.
    """
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


def new_browser_id() -> str:
    return secrets.token_urlsafe(18)


# --- CSRF: a signed token bound to the browser cookie and the point (double submit, no session) ---

def form_token(secret: str, browser_id: str, purpose: str, now_s: float | None = None) -> str:
    issued = int(now_s if now_s is not None else time.time())
    return f"{issued}.{keyed_hash(secret, 'csrf', f'{browser_id}|{purpose}|{issued}')}"


def check_form_token(secret: str, browser_id: str | None, purpose: str, token: str | None, now_s: float | None = None) -> bool:
    if not browser_id or not token or "." not in token:
        return False
    issued_text, _, sig = token.partition(".")
    if not issued_text.isdigit():
        return False
    now = now_s if now_s is not None else time.time()
    if not 0 <= now - int(issued_text) <= FORM_TOKEN_TTL_S:
        return False
    expected = keyed_hash(secret, "csrf", f"{browser_id}|{purpose}|{issued_text}")
    return hmac.compare_digest(expected, sig)


# --- the form ----------------------------------------------------------------------------------

def phone_questions(questionnaire: Questionnaire) -> list[Question]:
    """The questions asked on the phone, in questionnaire order."""
    return [q for q in questionnaire.questions if CHANNEL in q.channels]


def depends_on_overall(questionnaire: Questionnaire, question: Question) -> bool:
    """True for the overall question and follow-ups hanging (directly or not) from it."""
    overall = questionnaire.overall
    seen = set()
    while question is not None and question.id not in seen:
        if question.id == overall.id:
            return True
        seen.add(question.id)
        question = questionnaire.question(question.show_if.question) if question.show_if else None
    return False


def answers_from_form(questionnaire: Questionnaire, form) -> dict:
    """Answers from submitted fields ``q_<id>``; bad values and follow-ups whose ``show_if`` fails are dropped.

    ``form`` is a multi-dict (``getlist``). Follow-ups are judged in questionnaire order against the
    answers before them, as on the kiosk, so a "why" ticked under a good rating (no JavaScript to
    hide it) is not stored.
    """
    answers: dict[str, Any] = {}
    for q in phone_questions(questionnaire):
        raw = [v for v in form.getlist(f"q_{q.id}") if isinstance(v, str)]
        value: Any = None
        if q.kind == "scale":
            if raw and raw[0].isdigit() and 1 <= int(raw[0]) <= len(q.levels):
                value = int(raw[0])
        elif q.kind == "single":
            if raw and raw[0] in q.option_set:
                value = raw[0]
        elif q.kind == "multi":
            chosen = [o.id for o in q.options if o.id in raw]  # option order, distinct
            value = chosen or None
        else:
            text = (raw[0] if raw else "").strip().replace("\r\n", "\n")
            value = text[:TEXT_MAX_CHARS] or None
        if value is None:
            continue
        if q.show_if is not None and not q.show_if.holds(answers):
            continue
        answers[q.id] = value
    return answers


def normalise_phone(text: str | None) -> str | None:
    """A Vietnamese phone number without spaces, dots or dashes, or None when it is not one."""
    digits = re.sub(r"[\s.\-()]", "", text or "")
    return digits if PHONE_RE.match(digits) else None


# --- submitting --------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What became of a submission. ``status``: ``stored``, ``rate_limited`` (refused, 429), ``token_refused``."""

    status: str
    response_id: str | None = None
    flags: list[str] = field(default_factory=list)
    token_problem: str | None = None
    contact: str | None = None  # ``saved``, ``no_consent``, ``invalid`` or None (none given)


def rate_limits(settings) -> tuple[int, int, int]:
    """``(window_ms, flag_after, refuse_after)``."""
    return int(settings.phone_rate_window_min * 60_000), settings.phone_rate_flag_after, settings.phone_rate_refuse_after


def note(storage, settings, secret: str, unit_code: str, browser_id: str | None, ip: str | None, now: datetime,
         kind: str = "answer"):
    """Record a submission of ``kind`` (``answer``, ``token``, ``comment``) and count what came before it:
    ``(row id, same browser today, same address in window, same address at this point today)``."""
    window_ms, _, _ = rate_limits(settings)
    now_ms = int(now.timestamp() * 1000)
    day = province_now(settings, now).date().isoformat()
    return storage.note_phone_submission(unit_code, keyed_hash(secret, "browser", browser_id) if browser_id else None,
                                         keyed_hash(secret, "ip", address_key(ip)) if ip else None, day, now_ms,
                                         now_ms - window_ms, kind)


def submit_answer(storage, settings, questionnaires, questionnaire: Questionnaire, unit_code: str, answers: dict, *,
                  secret: str, browser_id: str | None, ip: str | None, officer_id: str | None = None,
                  token: str | None = None, phone: str | None = None, consent: bool = False,
                  procedure_group: str | None = None, site_id: int | None = None, now: datetime | None = None,
                  dossier_code: str | None = None) -> Outcome:
    """Store one phone answer through the ingest path, with its abuse flags, token and contact.

    ``dossier_code``: the receipt's dossier code from the link (``?d=``), already normalised and
    checked against the province's pattern; the record carries it (one rating counts per dossier:
    the first the server receives, on any channel; docs/dossiers.md). It lifts no abuse cap: anyone
    can type a code into a link.

    ``site_id`` is the site (điểm tiếp nhận) the form was opened for, already checked to be an open
    site of ``unit_code`` (None: ingest takes the unit's first site on the answer's day)."""
    now = now or datetime.now(timezone.utc)
    row_id, same_browser, same_address, same_address_today = note(storage, settings, secret, unit_code, browser_id, ip,
                                                                  now, "token" if token else "answer")
    _, flag_after, refuse_after = rate_limits(settings)
    if same_address >= refuse_after:
        storage.settle_phone_submission(row_id, "refused_rate", None)
        return Outcome("rate_limited")
    flags = []
    if same_browser:
        flags.append(FLAG_REPEAT)
    if same_address >= flag_after:
        flags.append(FLAG_RATE_LIMITED)
    if same_address_today >= settings.phone_counted_per_address_day:  # always 0 with a token
        flags.append(FLAG_ADDRESS_REPEAT)
    now_ms = int(now.timestamp() * 1000)
    rid = uuid7(now_ms)
    if token:
        problem = storage.redeem_dossier_token(security.digest(security.normalise_code(token)), unit_code, rid, now_ms)
        if problem != "ok":
            storage.settle_phone_submission(row_id, "refused_token", None)
            return Outcome("token_refused", token_problem=problem)
        flags.append(FLAG_DOSSIER_TOKEN)
    record = {"id": rid, "seq": storage.next_phone_seq(unit_code), "unit_code": unit_code, "officer_id": officer_id,
              "questionnaire": questionnaire.ref, "channel": CHANNEL, "created_at": format_rfc3339(province_now(settings, now)),
              "answers": answers, "flags": flags}
    if procedure_group:
        record["procedure_group"] = procedure_group
    if dossier_code:
        record["dossier_code"] = dossier_code
    result = ingest(storage, None, {"responses": [record]}, max_items=1, skew_s=settings.clock_skew_s, created_floor=settings.created_at_floor,
                    questionnaires=questionnaires, unit_code=unit_code, now=now, site_id=site_id,
                    utc_offset_h=settings.utc_offset_h)["results"][0]
    if result["status"] != "accepted":
        # The server built this record itself: a refusal is a bug, never the citizen's fault.
        storage.settle_phone_submission(row_id, "failed", None)
        raise RuntimeError(f"phone answer not accepted: {result.get('error')}")
    storage.settle_phone_submission(row_id, "stored_token" if token else "stored", rid)
    return Outcome("stored", rid, flags, contact=save_contact(storage, unit_code, rid, phone, consent, now_ms))


def save_contact(storage, unit_code: str, response_id: str, phone: str | None, consent: bool, now_ms: int) -> str | None:
    """Keep a call-back number apart from the answer, only with consent (contract 9).

    Returns what happened for the thank-you page: ``saved``, ``no_consent``, ``invalid``, or None
    when no number was given.
    """
    if not (phone and phone.strip()):
        return None
    number = normalise_phone(phone)
    if not consent:
        return "no_consent"
    if number is None:
        return "invalid"
    storage.add_phone_contact(response_id, unit_code, number, now_ms)
    return "saved"


def uuid7_ms(response_id: str) -> int | None:
    """The Unix milliseconds inside a UUIDv7 (None for other UUIDs)."""
    if not is_uuid(response_id) or response_id[14] != "7":
        return None
    return int(response_id[:8] + response_id[9:13], 16)


def comment_target_problem(storage, settings, unit_code: str, response_id: str, now: datetime | None = None) -> str | None:
    """Why a comment on ``response_id`` cannot be taken (``invalid``, ``expired``, ``done``), or None."""
    id_ms = uuid7_ms(response_id)
    if id_ms is None:
        return "invalid"
    brief = storage.response_brief(response_id)
    if brief is not None and brief["unit_code"] != unit_code:
        return "invalid"
    now_ms = int((now or datetime.now(timezone.utc)).timestamp() * 1000)
    if id_ms > now_ms + settings.clock_skew_s * 1000:
        return "invalid"  # made "in the future": a forged id or a kiosk clock far off
    if now_ms - id_ms > settings.phone_comment_window_min * 60_000:
        return "expired"
    if storage.phone_comment(response_id) is not None:
        return "done"
    return None


def purge(storage, settings, now: datetime | None = None) -> dict[str, int]:
    """Delete contacts past their retention, comments whose kiosk answer never came, and old abuse
    bookkeeping (start-up and ``purge-contacts``)."""
    now_ms = int((now or datetime.now(timezone.utc)).timestamp() * 1000)
    return storage.purge_phone_data(now_ms - int(settings.contact_retention_days * 86400_000), now_ms - SUBMISSION_KEEP_MS,
                                    now_ms - int(settings.comment_orphan_days * 86400_000))


def new_dossier_tokens(storage, settings, unit_code: str, count: int, now: datetime | None = None) -> list[str]:
    """Make ``count`` single-use tokens for a point; only their hashes are stored."""
    now = now or datetime.now(timezone.utc)
    tokens = [security.new_enroll_code() for _ in range(count)]
    expires_ms = int((now.timestamp() + settings.dossier_token_ttl_days * 86400) * 1000)
    storage.add_dossier_tokens(unit_code, [security.digest(security.normalise_code(t)) for t in tokens], expires_ms,
                               format_rfc3339(now))
    return tokens
