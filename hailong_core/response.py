"""The response record: one citizen's answer as it travels from kiosk (or phone) to the server.

Both sides build and check records with this module, so they agree byte for byte on what a
record's content is: :func:`content_hash` decides "same id, same content" (a duplicate, harmless)
versus "same id, other content" (a conflict, kept aside).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import orjson

from hailong_core.dossier import valid_dossier_code
from hailong_core.ids import is_uuid
from hailong_core.procedure_groups import valid_code
from hailong_core.questionnaire import TEXT_MAX_CHARS, Question, Questionnaire
from hailong_core.timeutil import parse_rfc3339

FIELDS = ("id", "seq", "unit_code", "officer_id", "questionnaire", "channel", "created_at", "answers", "flags",
          "procedure_group", "boot_id", "mono_ms", "dossier_code")
REQUIRED = frozenset(("id", "seq", "unit_code", "questionnaire", "channel", "created_at", "answers"))
ALLOWED = frozenset(FIELDS)
CHANNELS = frozenset(("kiosk", "qr"))
QREF_KEYS = frozenset(("id", "version"))
MAX_FLAGS = 8
FLAG_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MONO_MS_LIMIT = 2**53  # exact in every JSON reader, and in a PostgreSQL BIGINT

# Flags the kiosk sets; others (of the same form) are accepted for forward compatibility.
FLAG_INCOMPLETE = "incomplete"      # the citizen walked away; what was answered is kept
FLAG_COOLDOWN = "cooldown"          # pressed within the cool-down after the last answer
FLAG_BURST = "burst"                # part of a run of presses flagged for review
FLAG_AFTER_HOURS = "after_hours"    # given outside the unit's office hours
# Flags the server's phone (QR) form sets:
FLAG_REPEAT = "repeat"              # a second answer from the same browser for the same point on the same day
FLAG_RATE_LIMITED = "rate_limited"  # one address sent more than the rate limit allows within its window
FLAG_ADDRESS_REPEAT = "address_repeat"  # beyond the answers one address may add to one point in one day
FLAG_DOSSIER_TOKEN = "dossier_token"  # carried a valid single-use token from a receipt: a real visit (not misuse)
# Misuse: reports leave answers with any of these out by default and say how many (contract 8).
MISUSE_FLAGS = frozenset((FLAG_COOLDOWN, FLAG_BURST, FLAG_REPEAT, FLAG_RATE_LIMITED, FLAG_ADDRESS_REPEAT))


class RecordError(ValueError):
    """One item is invalid. ``code`` is a stable error code; ``field`` names the bad field."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def canonical_json(value: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys: the one serialisation hashes are taken over.

    orjson, not the stdlib: the server serialises every item of every batch, and this is ~10×
    faster (bench/ingest.py).
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_hash(record: dict) -> str:
    """SHA-256 (hex, 32 chars kept) of the record's canonical JSON, id and all."""
    return hash_canonical(canonical_json(record))


def hash_canonical(canonical: bytes) -> str:
    """:func:`content_hash` of a record already serialised by :func:`canonical_json`."""
    return hashlib.sha256(canonical).hexdigest()[:32]


def check_record(item: Any, questionnaires: dict[tuple[str, int], Questionnaire]) -> tuple[dict, datetime]:
    """Validate one record against the protocol and its questionnaire.

    Returns the record as a plain dict with ``officer_id`` and ``flags`` filled in (the optional
    ``procedure_group``, ``boot_id`` and ``mono_ms`` stay as sent, absent when absent), and its
    ``created_at`` parsed. Raises
    :class:`RecordError` naming the first problem found. ``questionnaires`` maps
    ``(id, version)`` to the questionnaires this receiver knows.
    """
    if not isinstance(item, dict):
        raise RecordError("invalid_item", "a response must be a JSON object")
    # Set operations first: this runs for every item of every batch, and the common case passes.
    if not ALLOWED.issuperset(item):
        unknown = sorted(k for k in item if k not in ALLOWED)[0]
        raise RecordError("unknown_field", f"unknown field {unknown!r}", unknown)
    if not REQUIRED.issubset(item):
        missing = sorted(REQUIRED.difference(item))[0]
        raise RecordError("missing_field", f"field {missing!r} is required", missing)
    rid = item["id"]
    if not is_uuid(rid):
        raise RecordError("invalid_field", "id must be a lowercase UUID string", "id")
    seq = item["seq"]
    if type(seq) is not int or not 0 < seq < 2**53:
        raise RecordError("invalid_field", "seq must be a positive integer", "seq")
    unit = item["unit_code"]
    if not isinstance(unit, str) or not 0 < len(unit) <= 32:
        raise RecordError("invalid_field", "unit_code must be a unit code string", "unit_code")
    officer = item.get("officer_id")
    if officer is not None and (not isinstance(officer, str) or not 0 < len(officer) <= 64 or "\x00" in officer):
        raise RecordError("invalid_field", "officer_id must be a string or null", "officer_id")
    group = item.get("procedure_group")
    if group is not None and not valid_code(group):
        raise RecordError("invalid_field", "procedure_group must be a short lowercase code or null", "procedure_group")
    if "dossier_code" in item and not valid_dossier_code(item["dossier_code"]):
        raise RecordError("invalid_field", "dossier_code must be a receipt's code: 1 to 64 letters, digits or . _ / -",
                          "dossier_code")
    check_boot_stamp(item)
    channel = item["channel"]
    if channel not in CHANNELS:
        raise RecordError("invalid_field", "channel must be 'kiosk' or 'qr'", "channel")
    created = item["created_at"]
    try:
        created_moment = parse_rfc3339(created)
    except (TypeError, ValueError):
        raise RecordError("invalid_field", "created_at must be an RFC 3339 time with its UTC offset", "created_at") from None
    flags = item.get("flags", [])
    if not isinstance(flags, list) or (flags and (len(flags) > MAX_FLAGS or not all(isinstance(f, str) and FLAG_RE.match(f) for f in flags))):
        raise RecordError("invalid_field", f"flags must be a list of at most {MAX_FLAGS} short lowercase words", "flags")
    qref = item["questionnaire"]
    if not isinstance(qref, dict) or qref.keys() != QREF_KEYS:
        raise RecordError("invalid_field", "questionnaire must be {id, version}", "questionnaire")
    try:
        questionnaire = questionnaires.get((qref["id"], qref["version"]))
    except TypeError:
        questionnaire = None
    if questionnaire is None:
        raise RecordError("unknown_questionnaire", f"unknown questionnaire {qref.get('id')!r} version {qref.get('version')!r}", "questionnaire")
    check_answers(item["answers"], questionnaire, channel)
    record = dict(item)
    record["officer_id"] = officer
    record["flags"] = flags
    # ``procedure_group``, ``dossier_code``, ``boot_id`` and ``mono_ms`` are left absent when absent: the content hash
    # of records made before the fields existed must not change, or their retries would read as conflicts.
    return record, created_moment


def check_boot_stamp(item: dict, *, integral_floats: bool = False) -> tuple[str, int] | None:
    """Check the optional ``boot_id`` and ``mono_ms`` of a record (or of a body): both or neither.

    ``boot_id`` names the device's boot (a lowercase UUID); ``mono_ms`` is that boot's monotonic
    clock in milliseconds when the record (or the body) was made. A monotonic clock never jumps, so
    the pair lets the server tell, after the fact, a wall clock that was wrong when the answer was
    given. Returns ``(boot_id, mono_ms)``, or None when both are absent; raises :class:`RecordError`.

    ``integral_floats`` takes ``5.0`` as 5, as JSON Schema's "integer" does: for bodies, which the
    OpenAPI document describes. A record stays strict: its content hash is over what was sent.
    """
    has_boot, has_mono = "boot_id" in item, "mono_ms" in item
    if has_boot != has_mono:
        missing = "mono_ms" if has_boot else "boot_id"
        raise RecordError("invalid_field", "boot_id and mono_ms come together: one without the other is refused", missing)
    if not has_boot:
        return None
    boot, mono = item["boot_id"], item["mono_ms"]
    if not is_uuid(boot):
        raise RecordError("invalid_field", "boot_id must be a lowercase UUID string", "boot_id")
    if integral_floats and type(mono) is float and mono.is_integer():
        mono = int(mono)
    if type(mono) is not int or not 0 <= mono < MONO_MS_LIMIT:
        raise RecordError("invalid_field", "mono_ms must be an integer from 0 to 2**53 - 1", "mono_ms")
    return boot, mono


def check_answers(answers: Any, questionnaire: Questionnaire, channel: str) -> None:
    """Check each answer's question id, kind and value; raise :class:`RecordError`."""
    if not isinstance(answers, dict):
        raise RecordError("invalid_field", "answers must be an object {question id: value}", "answers")
    if not answers:
        # A kiosk stores an answer only from its first tap on: an empty one is no answer to count.
        raise RecordError("invalid_field", "answers must hold at least one answer", "answers")
    questions = questionnaire.by_id
    for qid, value in answers.items():
        question = questions.get(qid)
        if question is None:
            raise RecordError("unknown_question", f"questionnaire {questionnaire.id} v{questionnaire.version} has no question {qid!r}",
                              f"answers.{qid}")
        problem = _answer_problem(question, value, channel)
        if problem:
            raise RecordError("invalid_answer", f"answer to {qid!r} {problem}", f"answers.{qid}")


def _answer_problem(question: Question, value: Any, channel: str) -> str | None:
    """What is wrong with ``value`` as an answer to ``question``, or None."""
    if channel not in question.channels:
        return f"is not asked on the {channel} channel"
    kind = question.kind
    if kind == "scale":
        if type(value) is not int or not 1 <= value <= len(question.levels):
            return f"must be a level from 1 to {len(question.levels)}"
    elif kind == "single":
        if not isinstance(value, str) or value not in question.option_set:
            return "must be one of its option ids"
    elif kind == "multi":
        if (not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value)
                or len(set(value)) != len(value) or not question.option_set.issuperset(value)):
            return "must be a list of distinct option ids"
    elif not isinstance(value, str) or len(value) > TEXT_MAX_CHARS or "\x00" in value:
        return f"must be a text of at most {TEXT_MAX_CHARS} characters, without NUL characters"
    return None
