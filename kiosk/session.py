"""The officer on duty: sign-in with a PIN, sign-out, and the automatic end of day. No Qt.

The session lives in the store's meta (``officer_session`` = ``{"officer_id", "name",
"signed_in_at"}``), so it survives a restart of the kiosk during the day. It ends when the officer
signs out, or by itself at the end of the day it began: at the office's closing time when the
config has office hours, else at local midnight. Answers carry the officer's id while a session
is open, else ``officer_id`` null (the kiosk works without anyone signed in).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from hailong_core.config import kiosk_settings
from hailong_core.timeutil import format_rfc3339, now_local, parse_rfc3339
from kiosk.hours import closing_time
from kiosk.pins import PinGuard, verify_pin
from kiosk.store import Store

log = logging.getLogger(__name__)

META_KEY = "officer_session"


def roster(config: dict | None) -> list[dict]:
    """The unit's officers from config (``id``, ``name``, ``title``, ``photo``, ``pin_hash``)."""
    officers = (config or {}).get("officers") or []
    return [o for o in officers if isinstance(o, dict) and o.get("id") and o.get("name")]


def session_end(signed_in_at: datetime, office_hours: dict | None) -> datetime:
    """When a session begun at ``signed_in_at`` ends by itself (closing time, else midnight)."""
    midnight = (signed_in_at + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    closing = closing_time(office_hours, signed_in_at)
    if closing is not None and closing > signed_in_at:
        return min(closing, midnight)
    return midnight


class OfficerSessions:
    """Sign officers in and out against the config's roster; reads and writes the store."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = now_local, guard: PinGuard | None = None):
        self.store = store
        self.clock = clock
        self.guard = guard or PinGuard()

    def _config(self) -> dict:
        return self.store.get_meta("config") or {}

    def roster(self) -> list[dict]:
        return roster(self._config())

    def sign_in(self, officer_id: str, pin: str) -> dict | None:
        """Open a session for ``officer_id`` when ``pin`` matches; return it, or None.

        A wrong PIN (or a locked pad, see :class:`kiosk.pins.PinGuard`) changes nothing.
        Signing in replaces whoever was signed in before.
        """
        officer = next((o for o in self.roster() if o["id"] == officer_id), None)
        if officer is None:
            return None
        if not self.guard.check(lambda: verify_pin(officer.get("pin_hash"), pin)):
            log.info("officer sign-in refused for %s", officer_id)
            return None
        session = {"officer_id": officer["id"], "name": officer["name"], "signed_in_at": format_rfc3339(self.clock())}
        self.store.set_meta(**{META_KEY: session})
        log.info("officer %s signed in", officer_id)
        return session

    def sign_out(self, officer_id: str | None = None, pin: str | None = None) -> bool:
        """End the session. With ``pin``, only when it is the signed-in officer's PIN."""
        session = self.store.get_meta(META_KEY)
        if session is None:
            return False
        if pin is not None:
            officer = next((o for o in self.roster() if o["id"] == session["officer_id"]), None)
            if officer is None or not self.guard.check(lambda: verify_pin(officer.get("pin_hash"), pin)):
                return False
        self.store.set_meta(**{META_KEY: None})
        log.info("officer %s signed out", session.get("officer_id"))
        return True

    def current(self, config: dict | None = None) -> dict | None:
        """The open session, or None; ends (and clears) a session whose day is over.

        Also ends a session whose officer left the roster (removed by the province). ``config``
        saves re-reading it when the caller holds it already.
        """
        session = self.store.get_meta(META_KEY)
        if not session:
            return None
        config = config if config is not None else self._config()
        try:
            began = parse_rfc3339(session["signed_in_at"])
        except (KeyError, TypeError, ValueError):
            began = None
        now = self.clock()
        ended = began is None or now >= session_end(began, kiosk_settings(config)["office_hours"])
        if ended or session.get("officer_id") not in {o["id"] for o in roster(config)}:
            self.store.set_meta(**{META_KEY: None})
            log.info("officer %s signed out automatically", session.get("officer_id"))
            return None
        return session
