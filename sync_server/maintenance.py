"""The periodic duties, written once: ``hailong-server maintain`` (run by the systemd timer the
installer ships), the server's own schedule (``maintain_every_s``), and tests.

Duties: counting new answers into the results rollups; deleting call-back numbers past their
retention (contract 9), comments whose kiosk answer never arrived, and old abuse bookkeeping;
sending the dashboard's alerts through the delivery channels (``alert_delivery``, issue 15).
Each run is recorded in the ``duties`` table (started, done, last error, what it did). With
several processes, the schedule claims a duty in one transaction, so one run happens per interval.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

from hailong_core.timeutil import format_rfc3339
from sync_server import alert_delivery, phone
from sync_server.days import offset_ms
from sync_server.indexes import ServerState
from sync_server.results import rollups

log = logging.getLogger("sync_server.maintenance")


def _rollups(storage, settings, now: datetime) -> dict:
    done = rollups.refresh(storage, offset_ms(settings))
    out = {"folded": done.folded, "behind": done.behind}
    if done.skipped:
        out["skipped_server_seq"] = done.skipped[:100]
        out["skipped"] = len(done.skipped)
    return out


def _purge(storage, settings, now: datetime) -> dict:
    return phone.purge(storage, settings, now)


def _alerts(storage, settings, now: datetime) -> dict:
    return alert_delivery.run(ServerState(settings, storage), now=now)


DUTIES: dict[str, Callable] = {"rollups": _rollups, "purge": _purge, "alerts": _alerts}


def run(storage, settings, *, now: datetime | None = None, every_s: float | None = None,
        only: list[str] | None = None) -> dict[str, dict]:
    """Run each duty once; with ``every_s``, only those no process started within that many seconds.

    Returns ``{duty: what it did}``; a failing duty is logged and recorded, and the others still run.
    """
    moment = now or datetime.now(timezone.utc)
    stamp = format_rfc3339(moment.astimezone(timezone.utc))
    not_before = None if every_s is None else format_rfc3339((moment - timedelta(seconds=every_s * 0.9)).astimezone(timezone.utc))
    out: dict[str, dict] = {}
    for name, duty in DUTIES.items():
        if only and name not in only:
            continue
        if not storage.claim_duty(name, stamp, not_before):
            continue
        try:
            result = duty(storage, settings, moment)
        except Exception as exc:  # noqa: BLE001 - one duty's failure must not stop the others
            log.exception("duty %s failed", name)
            storage.finish_duty(name, format_rfc3339(datetime.now(timezone.utc)), f"{type(exc).__name__}: {exc}", None)
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        storage.finish_duty(name, format_rfc3339(datetime.now(timezone.utc)), None, json.dumps(result, ensure_ascii=False))
        out[name] = result
    return out


class Schedule:
    """Runs :func:`run` every ``every_s`` seconds in a daemon thread, until :meth:`stop`."""

    def __init__(self, storage, settings, every_s: float):
        self._storage = storage
        self._settings = settings
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hailong-maintain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                run(self._storage, self._settings, every_s=self._every)
            except Exception:  # noqa: BLE001 - e.g. the database is down: try again next time
                log.exception("scheduled maintenance failed; retrying in %.0f s", self._every)
