"""What the routes need from a database, as one interface.

Routes and the CLI talk to :class:`Storage` only; SQLite is the embedded default and a PostgreSQL
implementation can be added beside it without touching them. Implementations must make
:meth:`Storage.store_batch` one transaction that commits before it returns (acknowledge after
commit) and keep one row per response id (idempotency).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True)
class Device:
    id: str
    unit_code: str
    name: str | None
    revoked: bool


class PreparedResponse(NamedTuple):
    """One validated response, ready to store (a tuple: this is built per item on the hot path).

    ``values`` are, in order: unit_code, officer_id, questionnaire_id, questionnaire_version,
    channel, seq, created_at (as sent), created_ms (UTC epoch milliseconds), answers (JSON),
    flags (JSON), clock_suspect (0/1).
    """

    id: str
    content_hash: str
    values: tuple
    record_json: bytes  # canonical JSON; decoded only when filed as a conflict


class EnrollRefused(Exception):
    """An enrolment code is unknown, used or expired (the message says which)."""


class Storage(ABC):
    """The server's database."""

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema and seed the unit registry and default questionnaire."""

    @abstractmethod
    def close(self) -> None: ...

    # units and questionnaires
    @abstractmethod
    def units(self) -> list[dict]:
        """Every unit: ``code, name, level, parent_code, valid_from, valid_to``."""

    @abstractmethod
    def unit(self, code: str) -> dict | None: ...

    @abstractmethod
    def questionnaires(self) -> dict[tuple[str, int], dict]:
        """Published questionnaire documents by ``(id, version)``."""

    @abstractmethod
    def active_questionnaire(self, unit_code: str) -> dict:
        """The questionnaire document kiosks of this unit should ask."""

    # devices
    @abstractmethod
    def create_enroll_code(self, unit_code: str, code_hash: str, expires_at: datetime) -> None: ...

    @abstractmethod
    def redeem_enroll_code(self, code_hash: str, now: datetime, device_id: str, token_hash: str, name: str | None) -> Device:
        """Use a code once: create the device bound to the code's unit; raise :class:`EnrollRefused`."""

    @abstractmethod
    def device_by_token(self, token_hash: str) -> Device | None: ...

    @abstractmethod
    def revoke_device(self, device_id: str, now: datetime) -> bool: ...

    @abstractmethod
    def record_heartbeat(self, device_id: str, now: datetime, info: dict) -> None: ...

    @abstractmethod
    def devices(self) -> list[dict]: ...

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
