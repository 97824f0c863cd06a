"""What the routes need from a database, as one interface.

Routes and the CLI talk to :class:`Storage` only; SQLite is the embedded default and a PostgreSQL
implementation can be added beside it without touching them. The interface is split by area
(``sync_server.storage.areas``: units, officers, surveys, fleet, people); this module holds the
protocol core. Implementations must make :meth:`Storage.store_batch` one transaction that commits
before it returns (acknowledge after commit) and keep one row per response id (idempotency).
"""

from __future__ import annotations

from abc import abstractmethod

from sync_server.storage.areas import FleetArea, OfficersArea, PeopleArea, PhoneArea, ResultsArea, SurveysArea, UnitsArea
from sync_server.storage.types import (Device, EnrollRefused, ImportReport, PreparedResponse, Session, StorageRefused,
                                       UnitRelease, User)

__all__ = ["Device", "EnrollRefused", "ImportReport", "PreparedResponse", "Session", "Storage", "StorageRefused",
           "UnitRelease", "User"]


class Storage(UnitsArea, OfficersArea, SurveysArea, FleetArea, PeopleArea, PhoneArea, ResultsArea):
    """The server's database."""

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema and seed the unit registry and default questionnaire."""

    @abstractmethod
    def close(self) -> None: ...

    # responses
    @abstractmethod
    def store_batch(self, device: Device | None, items: list[PreparedResponse], received_at: str,
                    clock_offset_s: float | None) -> list[tuple[str, str | None]]:
        """Store the batch in one committed transaction.

        Returns one ``(status, error_message)`` per item, in order, with status ``accepted``, ``duplicate`` or
        ``conflict``. A conflict keeps the original row and files the new content for review.
        """

    @abstractmethod
    def answers_per_unit(self) -> dict[str, int]: ...

    @abstractmethod
    def response_count(self) -> int: ...

    @abstractmethod
    def conflicts(self) -> list[dict]: ...
