"""At the relay: send answers up and bring the config down, whenever the link allows (issue 17).

One loop per relay database (a lease in ``upstream_link``: any number of server processes, one
forwarder). Each turn sends the oldest unsent answers in ``server_seq`` order (gzip), and moves the
cursor only past what the upstream answered: a relay killed between the upstream's commit and its
own resends that batch, and the upstream answers ``duplicate``. Nothing is lost, nothing doubled.

A refused answer (a unit outside the relay's scope, an unknown officer) is kept aside here with
the upstream's reason and the cursor goes on: one bad record never stops the others. While the
upstream cannot be reached the wait doubles from 1 s up to ``relay_backoff_max_s``, with jitter
(fifty relays must not come back in step); a ``Retry-After`` is obeyed; ``relay_bandwidth_kbps``
caps the bytes sent per second; a ``413`` halves the batch. The config (questionnaires, campaigns,
officers, kiosk values) is asked for every ``relay_config_every_s`` with its ETag and applied here,
so the relay's kiosks get it through their own config calls; cut off, they keep the last one.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

import orjson

from hailong_core.timeutil import format_rfc3339
from sync_server.storage import Storage

log = logging.getLogger("sync_server.relay")

LEASE_MS = 30_000


def _now() -> str:
    return format_rfc3339(datetime.now(timezone.utc))


def _dead_holder(owner: str | None) -> str | None:
    """``owner`` when it names a process of this machine that no longer runs (a relay killed and
    started again takes over at once instead of waiting for the dead one's lease to end)."""
    if not owner:
        return None
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return owner
    except PermissionError:
        return None
    return None


class UpstreamError(Exception):
    """The upstream could not take a request now; ``wait_s`` when it said how long to wait."""

    def __init__(self, message: str, wait_s: float | None = None, auth: bool = False):
        super().__init__(message)
        self.wait_s = wait_s
        self.auth = auth


def _error_text(response) -> str:
    try:
        err = response.json()["error"]
        return f"{err['code']}: {err['message']}"
    except Exception:  # noqa: BLE001 - any body: the status says enough
        return response.text[:200].strip() or response.reason or ""


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Forwarder:
    """``run_once()`` does one turn (used by tests and the bench); ``start()`` runs turns in a thread."""

    def __init__(self, storage: Storage, settings, *, session=None, on_config: Callable[[dict], None] | None = None,
                 sleep: Callable[[float], None] | None = None):
        import requests

        self.storage = storage
        self.settings = settings
        self.session = session or requests.Session()
        self.on_config = on_config
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch = settings.relay_batch_items
        self.failures = 0
        self.config_due = 0.0
        self.bytes_sent = 0
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread: threading.Thread | None = None

    # --- one turn -----------------------------------------------------------------------------

    def run_once(self) -> float:
        """One turn; returns how long to wait before the next one (seconds)."""
        link = self.storage.upstream_link()
        if link is None:
            return max(self.settings.relay_idle_s, 5.0)
        if not self.storage.take_forward_lease(self.owner, int(time.time() * 1000), LEASE_MS, _dead_holder(link.get("lease_owner"))):
            return self.settings.relay_idle_s  # another process of this relay forwards
        try:
            if time.monotonic() >= self.config_due and (link["mirror_config"] or link["last_error"] is not None):
                # The config call is also how an idle relay learns that the upstream answers again.
                self.sync_config(link, apply=bool(link["mirror_config"]))
                self.config_due = time.monotonic() + self.settings.relay_config_every_s
                if link["last_error"] is not None:
                    self.storage.note_upstream_error(None, _now())
            sent = self.forward(link)
        except UpstreamError as exc:
            self.failures += 1
            self.storage.note_upstream_error(str(exc), _now())
            return self._backoff(exc)
        self.failures = 0
        return 0.0 if sent >= self.batch else self.settings.relay_idle_s

    def _backoff(self, exc: UpstreamError) -> float:
        cap = self.settings.relay_backoff_max_s
        if exc.wait_s is not None:
            return min(cap, exc.wait_s) * random.uniform(1.0, 1.2)
        if exc.auth:
            return cap
        return min(cap, 2.0 ** min(self.failures - 1, 20)) * random.uniform(0.5, 1.0)

    def _request(self, method: str, link: dict, path: str, **kwargs):
        import requests

        headers = {"Authorization": f"Bearer {link['token']}", **kwargs.pop("headers", {})}
        try:
            response = self.session.request(method, link["url"].rstrip("/") + path, headers=headers,
                                            timeout=self.settings.relay_timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise UpstreamError(f"upstream unreachable: {type(exc).__name__}: {str(exc)[:200]}") from None
        if response.status_code in (401, 403):
            raise UpstreamError(f"the upstream refused this relay ({response.status_code} {_error_text(response)}); "
                                "enrol it again with a new relay code", auth=True)
        if response.status_code in (429, 502, 503, 504) or response.status_code >= 500:
            raise UpstreamError(f"upstream answered {response.status_code} {_error_text(response)}", _retry_after(response))
        return response

    def sync_config(self, link: dict, apply: bool = True) -> bool:
        """Ask for the config (ETag); apply it when it changed (and ``apply``). True when applied."""
        headers = {"If-None-Match": link["config_etag"]} if link.get("config_etag") else {}
        response = self._request("GET", link, "/api/v1/relay/config", headers=headers)
        if response.status_code == 304 or (response.status_code == 200 and not apply):
            return False
        if response.status_code != 200:
            raise UpstreamError(f"config: upstream answered {response.status_code} {_error_text(response)}")
        doc = response.json()
        done = self.storage.apply_upstream_config(doc, response.headers.get("ETag"), _now())
        log.info("config from the upstream applied: %s", done)
        if self.on_config:
            self.on_config(done)
        return True

    def forward(self, link: dict) -> int:
        """Send one batch; returns how many answers the upstream answered for."""
        answers, conflicts = self.storage.unsent(self.batch)
        if not answers and not conflicts:
            return 0
        sites = link["mirror_config"]  # the relay's site ids are the upstream's only when it mirrors them
        items = [{"record": a["record"], "device_id": a["device_id"], "placed_ms": a["placed_ms"],
                  "clock_suspect": a["clock_suspect"], **({"site_id": a["site_id"]} if sites and a["site_id"] is not None else {})}
                 for a in answers]
        items += [{"record": c["record"], "device_id": c["device_id"]} for c in conflicts]
        body = gzip.compress(orjson.dumps({"responses": items, "device_time": _now()}), 6)
        started = time.monotonic()
        response = self._request("POST", link, "/api/v1/relay/responses", data=body,
                                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        self.bytes_sent += len(body)
        if response.status_code == 413 and self.batch > 1:
            self.batch = max(1, self.batch // 2)
            raise UpstreamError(f"upstream: batch too large; now {self.batch} per request", wait_s=0.0)
        if response.status_code != 200:
            raise UpstreamError(f"upstream answered {response.status_code} {_error_text(response)}")
        results = response.json().get("results") or []
        if len(results) != len(items):
            raise UpstreamError(f"upstream answered {len(results)} results for {len(items)} answers")
        refused = []
        for item, kind, result in zip(items, ["answer"] * len(answers) + ["conflict"] * len(conflicts), results):
            if result.get("status") == "rejected":
                error = result.get("error") or {}
                refused.append((item["record"].get("id"), kind, str(error.get("code", "rejected")), str(error.get("message", ""))))
        self.storage.mark_forwarded(answers[-1]["server_seq"] if answers else None,
                                    conflicts[-1]["conflict_id"] if conflicts else None, refused, len(items), _now(),
                                    device_id=link["device_id"])
        if refused:
            log.warning("%d answer(s) refused by the upstream and kept aside (first: %s)", len(refused), refused[0][2])
        self._throttle(len(body), time.monotonic() - started)
        return len(items)

    def _throttle(self, nbytes: int, took_s: float) -> None:
        kbps = self.settings.relay_bandwidth_kbps
        if kbps > 0:
            wait = nbytes * 8 / (kbps * 1000) - took_s
            if wait > 0:
                self._sleep(wait)

    # --- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="hailong-relay-forwarder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception:  # noqa: BLE001 - the database away, a bug: logged, retried, never the end of forwarding
                log.exception("relay forwarding turn failed")
                wait = self.settings.relay_idle_s * 5
            if wait > 0:
                self._stop.wait(wait)
