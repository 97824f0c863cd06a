"""Values the storage interface passes in and out (no SQL here, nothing back-end specific)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class Device:
    id: str
    unit_code: str
    name: str | None
    revoked: bool
    site_id: int | None = None  # the site (điểm tiếp nhận) it was enrolled to (issue 13)
    counter: str | None = None
    kind: str = "kiosk"  # or "relay": an office's sync server forwarding for its unit's subtree (issue 17)


# The columns a stored response is inserted with, in order: id, content_hash, device_id,
# received_at, then PreparedResponse.values. Both back ends insert exactly these.
RESPONSE_COLUMNS = ("id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
                    "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect, procedure_group, "
                    "placed_ms, boot_id, mono_ms, site_id")


class PreparedResponse(NamedTuple):
    """One validated response, ready to store (a tuple: this is built per item on the hot path).

    ``values`` are, in order: unit_code, officer_id, questionnaire_id, questionnaire_version,
    channel, seq, created_at (as sent), created_ms (UTC epoch milliseconds), answers (JSON),
    flags (JSON), clock_suspect (0/1), procedure_group (or None), placed_ms (where reports count it,
    UTC epoch ms), boot_id and mono_ms (or None), site_id (the site it was given at):
    :data:`RESPONSE_COLUMNS` after the first four.
    """

    id: str
    content_hash: str
    values: tuple
    record_json: bytes  # canonical JSON; decoded only when filed as a conflict


class EnrollRefused(Exception):
    """An enrolment code is unknown, used or expired (the message says which)."""


class StorageRefused(Exception):
    """A write the data forbids (e.g. editing a published questionnaire); ``code`` is an error-catalogue code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    unit_code: str | None
    active: bool


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_ms: int


@dataclass
class UnitRelease:
    """A whole province's tree as of ``valid_from`` (a JSON export or a CSV), to import.

    ``units``: dicts ``code, name, level, parent_code`` and optionally ``predecessors`` (codes whose
    version ending on ``valid_from`` continues in this unit). ``links``: extra ``(from, to)`` pairs.
    """

    valid_from: str
    units: list[dict]
    source: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def province_code(self) -> str:
        roots = [u["code"] for u in self.units if u["level"] == "province"]
        if len(roots) != 1:
            raise ValueError("a release must hold exactly one province row")
        return roots[0]


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    unchanged: int = 0
    links: int = 0
    reused: list[str] = field(default_factory=list)  # changed codes that now name another unit

    def summary(self) -> str:
        return (f"added {len(self.added)}, changed {len(self.changed)}, closed {len(self.closed)}, "
                f"unchanged {self.unchanged}, successor links {self.links}, reused codes {len(self.reused)}")
