"""What the server keeps parsed in memory between requests, and reloads when the data changes:
published questionnaires and each unit's officer roster. Used by the web app, the CLI and tests
alike (:class:`ServerState`), so none of them needs the other.
"""

from __future__ import annotations

import threading
import time

from hailong_core.questionnaire import Questionnaire, parse_questionnaire


class QuestionnaireIndex:
    """Published questionnaires, parsed once; an unknown ``(id, version)`` reloads from storage.

    Publishing happens rarely and possibly in another process (the CLI), so instead of asking the
    database on every upload, a miss refreshes the index (at most once a second: a flood of
    made-up versions must not become a flood of reloads).
    """

    def __init__(self, storage: Storage):
        self._storage = storage
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, int], Questionnaire] = {}
        self._loaded_at = float("-inf")

    def _reload(self) -> None:
        self._parsed = {key: parse_questionnaire(doc) for key, doc in self._storage.questionnaires().items()}
        self._loaded_at = time.monotonic()

    def get(self, key, default=None):
        found = self._parsed.get(key)
        if found is None:
            with self._lock:
                if time.monotonic() - self._loaded_at >= 1.0:
                    self._reload()
                found = self._parsed.get(key)
        return found if found is not None else default

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")
            self._reload()


class RosterIndex:
    """The officer ids of each unit (active or not: an answer recorded before a deactivation is
    still theirs; officers are never deleted), to bound an answer's ``officer_id`` by its device's
    unit (contract 13).

    Cached for ``ttl_s``; an id not found reloads that unit at once, since a rejection is final
    for the kiosk: an officer added a moment ago in another process must be known to the next
    upload. (A miss costs one indexed query; the roster of a unit is small.)
    """

    def __init__(self, storage, ttl_s: float = 30.0):
        self._storage = storage
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._units: dict[str, tuple[float, frozenset[str]]] = {}

    def _load(self, unit_code: str) -> frozenset[str]:
        ids = frozenset(self._storage.officer_ids(unit_code))
        self._units[unit_code] = (time.monotonic(), ids)
        return ids

    def knows(self, unit_code: str, officer_id: str) -> bool:
        with self._lock:
            found = self._units.get(unit_code)
            if found is not None and time.monotonic() - found[0] < self._ttl and officer_id in found[1]:
                return True
            return officer_id in self._load(unit_code)


class ServerState:
    """Settings, storage, and the parsed indexes: what a use case needs, with or without the web app."""

    def __init__(self, settings, storage):
        self.settings = settings
        self.storage = storage
        self.index = QuestionnaireIndex(storage)
        self.rosters = RosterIndex(storage)

    def questionnaires(self) -> QuestionnaireIndex:
        return self.index
