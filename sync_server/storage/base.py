"""What the routes need from a database, as one interface.

Routes and the CLI talk to :class:`Storage` only; SQLite is the embedded default and a PostgreSQL
implementation can be added beside it without touching them. The interface is split by area
(``sync_server.storage.areas``: units, officers, surveys, fleet, people); this module holds the
protocol core. Implementations must make :meth:`Storage.store_batch` one transaction that commits
before it returns (acknowledge after commit) and keep one row per response id (idempotency).
"""

from __future__ import annotations

from abc import abstractmethod

from sync_server.storage.areas import AlertsArea, CommentsArea, RelayArea
from sync_server.storage.areas import (DossiersArea, DutiesArea, FleetArea, OfficersArea, PeopleArea, PhoneArea, PromptsArea,
                                       ReleasesArea, ResultsArea, SitesArea, SurveysArea, UnitsArea)
from sync_server.storage.types import (Device, EnrollRefused, ImportReport, PreparedResponse, Session, StorageRefused,
                                       UnitRelease, User)

__all__ = ["Device", "EnrollRefused", "ImportReport", "PreparedResponse", "Session", "Storage", "StorageRefused",
           "UnitRelease", "User"]


class Storage(UnitsArea, OfficersArea, SurveysArea, FleetArea, PeopleArea, PhoneArea, ResultsArea, DutiesArea, PromptsArea,
              SitesArea, DossiersArea, ReleasesArea, AlertsArea, CommentsArea, RelayArea):
    """The server's database."""

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema and seed the unit registry and default questionnaire."""

    @abstractmethod
    def close(self) -> None: ...

    # responses
    @abstractmethod
    def store_batch(self, device: Device | None, items: list[PreparedResponse], received_at: str,
                    clock_offset_s: float | None, boot: tuple[str, int] | None = None,
                    dossiers: dict[str, tuple[str, bool]] | None = None,
                    relayed: dict[str, str | None] | None = None) -> list[tuple[str, str | None]]:
        """Store the batch in one committed transaction (with ``boot``: the sending boot's
        ``(boot_id, anchor_ms)``, kept for the device).

        ``dossiers`` maps a response id to ``(normalised dossier code, may claim)``: a new response
        keeps the code; it claims the dossier (its rating is the one that counts) when it may and no
        other response claimed it first, else, when another did, it is marked ``dossier_repeat``, in
        the same transaction (issue 14).

        ``relayed`` (a batch from a relay, issue 17; ``device`` is then the relay) maps a response id to
        the id of the kiosk it was given on at the relay (None: the relay's phone form): new rows keep it
        as their ``device_id`` and name the relay in ``relay_id``.

        Returns one ``(status, error_message)`` per item, in order, with status ``accepted``, ``duplicate`` or
        ``conflict``. A conflict keeps the original row and files the new content for review.
        """

    @abstractmethod
    def note_boot(self, device_id: str, boot_id: str, anchor_ms: int, seen_at: str) -> None:
        """Keep a boot's anchor (server ms minus its monotonic clock), e.g. from a heartbeat."""

    @abstractmethod
    def boot_anchors(self, device_id: str) -> dict[str, int]:
        """``{boot_id: anchor_ms}`` known for the device."""

    @abstractmethod
    def answers_per_unit(self) -> dict[str, int]: ...

    @abstractmethod
    def answers_per_site(self) -> dict[tuple[str, int | None], int]:
        """``{(unit code, site id): answers}``; the site tells which version of a reused code an answer belongs to."""

    @abstractmethod
    def response_count(self) -> int: ...

    @abstractmethod
    def conflicts(self) -> list[dict]: ...

    # conflicts review
    @abstractmethod
    def conflict_rows(self, reviewed: bool | None = False, limit: int = 50, offset: int = 0) -> list[dict]:
        """Filed conflicts, newest first (``reviewed``: False = not yet, True = done, None = all), each with
        ``id, response_id, device_id, record`` (the new content's JSON), ``received_at``, ``reviewed_at,
        reviewed_by, review_note``, the sending device's ``device_name, device_unit_code`` and the stored
        response's columns prefixed ``stored_`` (all None when that row is gone)."""

    @abstractmethod
    def conflict_count(self, reviewed: bool | None = False) -> int: ...

    @abstractmethod
    def conflict_row(self, conflict_id: int) -> dict | None:
        """One conflict in the :meth:`conflict_rows` shape, or None."""

    @abstractmethod
    def review_conflict(self, conflict_id: int, at: str, by: str, note: str | None) -> bool:
        """Mark a conflict reviewed; False when it is unknown or already reviewed (the first review stands)."""
