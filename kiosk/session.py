"""The officer on duty: sign-in with a PIN, hand-over, sign-out, and the automatic end of day. No Qt.

The session lives in the store's meta (``officer_session`` = ``{"officer_id", "name",
"signed_in_at"}``, plus ``counter`` when the roster gives the officer one, and
``handed_over_from`` when the session began as a hand-over), so it survives a restart of the
kiosk during the day. It ends when the officer signs out, when another officer takes over
(:meth:`OfficerSessions.hand_over`: lunch, a change of shift, in one step and with the new
officer's PIN only), or by itself at the end of the day it began: at the office's closing time
when the config has office hours, else at local midnight. Answers carry the officer's id while a
session is open, else ``officer_id`` null (the kiosk works without anyone signed in).

PINs are checked per officer (:class:`kiosk.pins.PinGuard`, kept in the store's meta
``pin_guard``: a reboot does not end a lock-out). The UI runs the slow Argon2 part off its thread
(:meth:`OfficerSessions.pin_check` → :class:`kiosk.pins.PinCheck`) and passes the resulting
:class:`kiosk.pins.PinVerdict` where a PIN is expected.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from hailong_core.config import kiosk_settings
from hailong_core.timeutil import format_rfc3339, now_local, parse_rfc3339
from kiosk.hours import closing_time
from kiosk.pins import PinCheck, PinGuard, PinVerdict, officer_check, officer_key
from kiosk.store import Store, StoreError

log = logging.getLogger(__name__)

META_KEY = "officer_session"
GUARD_META_KEY = "pin_guard"


def roster(config: dict | None) -> list[dict]:
    """The unit's officers from config (``id``, ``name``, ``title``, ``photo``, ``pin_hash``, and
    optionally ``procedure_group`` and ``counter``, the desk they sit at)."""
    officers = (config or {}).get("officers") or []
    return [o for o in officers if isinstance(o, dict) and o.get("id") and o.get("name")]


def counter_of(officer: dict) -> str | None:
    """The officer's counter (quầy) as text, or None when the roster gives none."""
    counter = officer.get("counter")
    if isinstance(counter, bool) or not isinstance(counter, (str, int)):
        return None
    text = str(counter).strip()
    return text or None


def session_end(signed_in_at: datetime, office_hours: dict | None) -> datetime:
    """When a session begun at ``signed_in_at`` ends by itself (closing time, else midnight)."""
    midnight = (signed_in_at + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    closing = closing_time(office_hours, signed_in_at)
    if closing is not None and closing > signed_in_at:
        return min(closing, midnight)
    return midnight


def stored_guard(store: Store, wall: Callable[[], float]) -> PinGuard:
    """A :class:`PinGuard` whose state lives in the store's meta ``pin_guard``.

    A failed read starts empty and a failed write keeps the state in memory (logged): the pad must
    keep working on a full disk, and the next change writes the whole state again.
    """
    try:
        state = store.get_meta(GUARD_META_KEY)
    except StoreError:
        log.exception("could not read the PIN guard; starting without lock-outs")
        state = None

    def save(data: dict) -> None:
        try:
            store.set_meta(**{GUARD_META_KEY: data})
        except StoreError:
            log.exception("could not store the PIN guard; it is kept in memory")

    return PinGuard(boot_clock=store.boot_clock, wall=wall, save=save, state=state if isinstance(state, dict) else None)


class OfficerSessions:
    """Sign officers in, over and out against the config's roster; reads and writes the store."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = now_local, guard: PinGuard | None = None):
        self.store = store
        self.clock = clock
        self.guard = guard or stored_guard(store, wall=lambda: self.clock().timestamp())

    def _config(self) -> dict:
        return self.store.get_meta("config") or {}

    def roster(self) -> list[dict]:
        return roster(self._config())

    def officer(self, officer_id: str | None) -> dict | None:
        """The roster entry of ``officer_id``, or None."""
        return next((o for o in self.roster() if o["id"] == officer_id), None)

    def pin_check(self, officer_id: str | None) -> PinCheck | None:
        """The check of ``officer_id``'s PIN, to run on any thread; None when not on the roster."""
        officer = self.officer(officer_id)
        return officer_check(officer) if officer is not None else None

    def _admit(self, officer: dict, pin: str | PinVerdict) -> bool:
        """Is ``pin`` (typed, or a verdict from :meth:`pin_check`) ``officer``'s PIN? Counted by the guard."""
        key = officer_key(officer["id"])
        if isinstance(pin, PinVerdict):
            # A verdict about another officer's PIN proves nothing here (and counts nothing).
            return pin.key == key and self.guard.admit(pin)
        return self.guard.check(key, lambda: officer_check(officer).run(pin).ok)

    def hand_over(self, to_officer_id: str, pin: str | PinVerdict) -> dict | None:
        """``to_officer_id`` takes the kiosk in one step, with their own PIN; return the new session.

        Whoever was on duty is signed out by the same write, and the new session records them in
        ``handed_over_from`` (the officer who left for lunch needs no PIN: the one taking over
        proves who they are). With nobody on duty this is a plain sign-in. A wrong PIN, a locked
        officer or an id not on the roster changes nothing and returns None. The officer already
        on duty keeps their session as it is.
        """
        officer = self.officer(to_officer_id)
        if officer is None:
            return None
        if not self._admit(officer, pin):
            log.info("officer sign-in refused for %s", to_officer_id)
            return None
        previous = self.current()
        if previous is not None and previous.get("officer_id") == officer["id"]:
            return previous
        session = {"officer_id": officer["id"], "name": officer["name"], "signed_in_at": format_rfc3339(self.clock())}
        if counter_of(officer):
            session["counter"] = counter_of(officer)
        if previous is not None:
            session["handed_over_from"] = previous.get("officer_id")
        self.store.set_meta(**{META_KEY: session})
        if previous is not None:
            log.info("officer %s handed over to %s", previous.get("officer_id"), officer["id"])
        else:
            log.info("officer %s signed in", officer["id"])
        return session

    def sign_in(self, officer_id: str, pin: str | PinVerdict) -> dict | None:
        """Open a session for ``officer_id`` when ``pin`` matches; return it, or None.

        A wrong PIN (or a locked officer, see :class:`kiosk.pins.PinGuard`) changes nothing.
        Signing in while another officer is on duty is a hand-over (:meth:`hand_over`).
        """
        return self.hand_over(officer_id, pin)

    def sign_out(self, officer_id: str | None = None, pin: str | PinVerdict | None = None) -> bool:
        """End the session. With ``officer_id``, only when that officer is on duty; with ``pin``,
        only when it is the signed-in officer's PIN (typed, or a verdict from :meth:`pin_check`)."""
        session = self.store.get_meta(META_KEY)
        if session is None:
            return False
        if officer_id is not None and session.get("officer_id") != officer_id:
            return False
        if pin is not None:
            officer = self.officer(session.get("officer_id"))
            if officer is None or not self._admit(officer, pin):
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
