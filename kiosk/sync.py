"""The kiosk's sync client (requests, no Qt): uploads, heartbeats, config, enrolment.

Exceptions, written down (callers decide by type, never by message):

- :class:`SyncError`: base of everything below.
  - :class:`SyncTemporaryError`: network down, timeout, 5xx, 429, or an answer that is not our
    server's JSON (a captive Wi-Fi portal): retry later with backoff; ``retry_after`` when the
    server said so.
    - :class:`SyncTlsError`: the server's certificate could not be verified (untrusted issuer,
      expired, another name) or is not the pinned one; ``reason`` says which (:data:`kiosk.tls.REASONS`).
      Retried like any temporary error (a renewed certificate or a corrected ``ca_bundle`` heals it
      without a visit); its text starts with what IT staff read on the admin screen, in Vietnamese.
  - :class:`SyncAuthError`: the server refuses this device's token (revoked, unknown): stop
    syncing, keep everything, show it on the admin screen; re-enrolment fixes it.
  - :class:`EnrollError`: an enrolment code was refused.

Acknowledge after commit, mark after acknowledgement: rows are marked sent only for ids the
server answered ``accepted`` or ``duplicate``; progress lives in the store, not in memory.

Each upload body and heartbeat carries, beside ``device_time``, the kiosk's boot stamp of the
moment of sending (``boot_id``, ``mono_ms``): the server learns from it where that boot's
monotonic clock stands in real time, and so places answers whose wall clock was off.

A heartbeat may carry ``diagnostics`` (:mod:`kiosk.diagnostics`); a server that knows them answers
200 with what it asks of the kiosk (``log_request``: upload the log's last lines), an older one
refuses the field (422 ``unknown_field``) and gets heartbeats without it from then on. TLS (CA
bundle, proxy, pin) is the session's business: :func:`kiosk.tls.session_for`.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import requests

from hailong_core.timeutil import format_rfc3339, now_local
from kiosk import __version__, prompts, tls
from kiosk.diagnostics import Diagnostics
from kiosk.store import BootClock, Store

log = logging.getLogger(__name__)

RESULT_STATUSES = frozenset(("accepted", "duplicate", "conflict", "rejected"))


class SyncError(Exception):
    """Base of the sync client's errors."""


class SyncTemporaryError(SyncError):
    """Try again later (network, server busy or broken, not our server answering)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class SyncTlsError(SyncTemporaryError):
    """The server's certificate could not be verified or is not the pinned one; nothing is lost, retried later."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _tls_error(exc: requests.exceptions.SSLError) -> SyncTlsError:
    """The TLS failure in words IT staff can act on, Vietnamese first, the technical text after it."""
    reason = tls.reason_of(str(exc))
    return SyncTlsError(f"network: SSLError: [tls:{reason}] {tls.VI[reason][0]} ({exc})", reason)


class SyncAuthError(SyncError):
    """The server refused the device's token: re-enrol; nothing is retried until then."""


class EnrollError(SyncError):
    """The enrolment code was refused (used, expired or unknown) or the server is unreachable."""


class _BatchRefused(SyncError):
    """The server refused a whole batch as too large or malformed (413/400): split it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: ignore it, our backoff is enough


def _our_error(resp: requests.Response) -> tuple[str, str] | None:
    """``(code, message)`` when the answer is in our error shape, else None."""
    try:
        body = resp.json()
        err = body["error"]
        return str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        return None


def _error_of(resp: requests.Response) -> tuple[str, str]:
    """``(code, message)`` from our error shape, or a description of what came instead."""
    return _our_error(resp) or (f"http_{resp.status_code}", f"HTTP {resp.status_code} without our error shape")


class ServerApi:
    """Protocol v1 over HTTP. The session and timeouts are injected so tests can script failures."""

    def __init__(self, base_url: str, token: str | None = None, *, session: requests.Session | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0), verify: bool = True):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.session = session or requests.Session()
        self.timeout = timeout
        self.verify = verify
        self.send_boot_stamp = True
        """False once this server refused the boot stamp in a body (a server older than the field):
        the stamp is then left out, rather than the whole upload refused and every answer set aside."""
        self.send_diagnostics = True
        """False once this server refused the heartbeat's ``diagnostics`` (a server older than issue 16)."""
        self.refused_diagnostics: set[str] = set()
        """Keys of ``diagnostics`` this server refused by name (a kiosk newer than its server): left out."""
        self.refused_heartbeat_fields: set[str] = set()
        """Other optional heartbeat fields this server refused by name: left out from then on."""

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            resp = self.session.request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                        verify=self.verify, allow_redirects=False, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise _tls_error(exc) from exc
        except requests.RequestException as exc:
            raise SyncTemporaryError(f"network: {exc.__class__.__name__}: {exc}") from exc
        if resp.status_code in (401, 403) and path != "/api/v1/enroll":
            code, message = _error_of(resp)
            raise SyncAuthError(f"{code}: {message}")
        if resp.status_code == 429 or resp.status_code >= 500:
            code, message = _error_of(resp)
            raise SyncTemporaryError(f"server {resp.status_code}: {code}: {message}", _retry_after(resp))
        if 300 <= resp.status_code < 400 and resp.status_code != 304:
            # A captive portal redirects; our server never does.
            raise SyncTemporaryError(f"redirected ({resp.status_code}) to {resp.headers.get('Location', '?')}: not our server")
        return resp

    @staticmethod
    def _json(resp: requests.Response) -> Any:
        if "application/json" not in resp.headers.get("Content-Type", ""):
            raise SyncTemporaryError(f"answer is {resp.headers.get('Content-Type', 'untyped')}, not our server's JSON")
        try:
            return resp.json()
        except ValueError as exc:
            raise SyncTemporaryError("answer is not valid JSON: not our server") from exc

    def enroll(self, code: str, name: str | None = None) -> dict:
        body = {"code": code} if name is None else {"code": code, "name": name}
        try:
            resp = self._request("POST", "/api/v1/enroll", json=body)
        except SyncTemporaryError as exc:
            raise EnrollError(f"server unreachable: {exc}") from exc
        if resp.status_code != 201:
            code_, message = _error_of(resp)
            raise EnrollError(f"{code_}: {message}")
        data = self._json(resp)
        if not isinstance(data, dict) or not {"device_id", "token", "unit_code"} <= set(data):
            raise EnrollError("the server's answer lacks device_id, token or unit_code")
        return data

    def _stamped(self, body: dict, stamp: tuple[str, int] | None) -> dict:
        if stamp is None or not self.send_boot_stamp:
            return body
        return {**body, "boot_id": stamp[0], "mono_ms": stamp[1]}

    def _stamp_refused(self, resp: requests.Response, body: dict) -> bool:
        """True (and the stamp dropped from now on) when the server refused a stamped body's fields."""
        if "boot_id" in body and resp.status_code in (400, 422) and (_our_error(resp) or ("",))[0] == "unknown_field":
            log.warning("the server does not know the boot stamp fields (it is older than them): sending without them")
            self.send_boot_stamp = False
            return True
        return False

    def upload(self, records: list[dict], device_time: str, stamp: tuple[str, int] | None = None) -> dict:
        """POST one gzip batch; return the parsed ``{results, server_time}`` (checked).

        ``stamp`` is the kiosk's ``(boot_id, mono_ms)`` at the moment of sending.
        """
        body = self._stamped({"responses": records, "device_time": device_time}, stamp)
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        resp = self._request("POST", "/api/v1/kiosk/responses", data=gzip.compress(raw, 6),
                             headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        if resp.status_code in (400, 413, 415, 422):
            ours = _our_error(resp)
            if ours is None:
                # A portal or proxy page is no verdict on our answers: splitting the batch down to
                # single items would set every pending answer aside. Retry later instead.
                raise SyncTemporaryError(f"upload answered {resp.status_code} without our error shape: not our server")
            if self._stamp_refused(resp, body):
                return self.upload(records, device_time)
            raise _BatchRefused(*ours)
        if resp.status_code != 200:
            code, message = _error_of(resp)
            raise SyncTemporaryError(f"upload answered {resp.status_code}: {code}: {message}")
        data = self._json(resp)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or not all(
                isinstance(r, dict) and isinstance(r.get("id"), str) and r.get("status") in RESULT_STATUSES for r in results):
            raise SyncTemporaryError("upload answer has no valid per-item results: not our server")
        return data

    # Fields a heartbeat cannot go without: a server refusing one of them is not an older server.
    _HEARTBEAT_REQUIRED = frozenset(("pending", "app_version", "device_time"))

    def _diagnosed(self, payload: dict) -> dict:
        """``payload`` without what this server refused before (diagnostics, their keys, other optional fields)."""
        body = {k: v for k, v in payload.items() if k not in self.refused_heartbeat_fields}
        diagnostics = body.get("diagnostics")
        if diagnostics is None:
            return body
        if not self.send_diagnostics:
            return {k: v for k, v in body.items() if k != "diagnostics"}
        return {**body, "diagnostics": {k: v for k, v in diagnostics.items() if k not in self.refused_diagnostics}}

    def _field_refused(self, resp: requests.Response, body: dict) -> bool:
        """True (and the field dropped from now on) when the server refused an optional heartbeat field by name.

        Our server names it (``unknown field 'diagnostics.time'``); the boot stamp has its own
        fallback (:meth:`_stamp_refused`), for servers that said less.
        """
        if resp.status_code != 422:
            return False
        code, message = _our_error(resp) or ("", "")
        match = re.search(r"unknown field '([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?", message)
        if code != "unknown_field" or match is None:
            return False
        top, sub = match.group(1), match.group(2)
        if top == "diagnostics" and "diagnostics" in body:
            if sub is None:
                log.warning("the server does not know heartbeat diagnostics (it is older than them): sending without them")
                self.send_diagnostics = False
            else:
                log.warning("the server does not know the diagnostics field %r: sending without it", sub)
                self.refused_diagnostics.add(sub)
            return True
        if top in ("boot_id", "mono_ms"):
            return False  # the stamp's own fallback drops both together
        if top in body and top not in self._HEARTBEAT_REQUIRED:
            log.warning("the server does not know the heartbeat field %r: sending without it", top)
            self.refused_heartbeat_fields.add(top)
            return True
        return False

    def heartbeat(self, payload: dict, stamp: tuple[str, int] | None = None) -> dict | None:
        """POST a heartbeat; return what the server asks of the kiosk, or None.

        A server that took ``diagnostics`` answers 200 ``{log_request, server_time}``; one that got
        none (or is older than them) answers 204, and there is nothing to do.
        """
        body = self._diagnosed(self._stamped(payload, stamp))
        for _ in range(8):  # each retry drops one refused field; a handful is the most a server can refuse
            resp = self._request("POST", "/api/v1/kiosk/heartbeat", json=body)
            if resp.status_code in (200, 204):
                break
            if self._field_refused(resp, body):
                body = self._diagnosed(body)
            elif self._stamp_refused(resp, body):
                body = {k: v for k, v in body.items() if k not in ("boot_id", "mono_ms")}
            else:
                break
        if resp.status_code == 204:
            return None
        if resp.status_code != 200:
            code, message = _error_of(resp)
            raise SyncTemporaryError(f"heartbeat answered {resp.status_code}: {code}: {message}")
        data = self._json(resp)
        return data if isinstance(data, dict) else None

    def upload_log(self, request_id: str, lines: list[str], truncated: bool = False) -> bool:
        """POST the log lines a log request asked for (gzip); False when the server no longer wants them."""
        raw = json.dumps({"request_id": request_id, "lines": lines, "truncated": truncated}, ensure_ascii=False,
                         separators=(",", ":")).encode("utf-8")
        resp = self._request("POST", "/api/v1/kiosk/log", data=gzip.compress(raw, 6),
                             headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        if resp.status_code == 204:
            return True
        if resp.status_code == 404 and _our_error(resp) is not None:
            return False  # withdrawn, or answered already: nothing to send again
        code, message = _error_of(resp)
        raise SyncTemporaryError(f"log upload answered {resp.status_code}: {code}: {message}")

    def config(self, etag: str | None) -> tuple[dict | None, str | None]:
        """``(config, etag)``; ``(None, etag)`` when unchanged (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        resp = self._request("GET", "/api/v1/kiosk/config", headers=headers)
        if resp.status_code == 304:
            return None, etag
        if resp.status_code != 200:
            code, message = _error_of(resp)
            raise SyncTemporaryError(f"config answered {resp.status_code}: {code}: {message}")
        data = self._json(resp)
        if not isinstance(data, dict) or not isinstance(data.get("questionnaire"), dict):
            raise SyncTemporaryError("config answer has no questionnaire: not our server")
        return data, resp.headers.get("ETag")


@dataclass
class Backoff:
    """Exponential backoff with full jitter that honours the server's ``Retry-After``."""

    base: float = 2.0
    maximum: float = 600.0
    rng: Callable[[], float] = random.random
    failures: int = 0

    def failure(self, retry_after: float | None = None) -> float:
        """Record a failure; return the delay before the next try."""
        self.failures += 1
        ceiling = min(self.maximum, self.base * (2 ** (self.failures - 1)))
        delay = ceiling / 2 + self.rng() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.maximum))
        return delay

    def success(self) -> None:
        self.failures = 0


@dataclass
class PushResult:
    sent: int = 0
    kept_aside: int = 0
    batches: int = 0


class SyncClient:
    """Moves the store's pending responses to the server, batch by batch.

    ``clock`` gives ``device_time``; ``boot_clock`` the boot stamp sent beside it (by default the
    store's, the same clock that stamped the answers).
    """

    def __init__(self, store: Store, api: ServerApi, *, batch_size: int = 200,
                 clock: Callable[[], Any] = now_local, boot_clock: BootClock | None = None,
                 diagnostics: Callable[[], dict] | None = None):
        self.store = store
        self.api = api
        self.batch_size = batch_size
        self.clock = clock
        self.boot_clock = boot_clock or store.boot_clock
        self.diagnostics = diagnostics
        """Gives the heartbeat's ``diagnostics`` (:meth:`kiosk.diagnostics.Diagnostics.collect`); None sends none."""

    def push_once(self) -> PushResult:
        """Send one batch of the oldest pending responses; per-item results go to the store."""
        records = self.store.take_batch(self.batch_size)
        result = PushResult()
        if records:
            self._send(records, result)
        return result

    def drain(self, max_batches: int | None = None) -> PushResult:
        """Send batches until nothing is pending (or ``max_batches``); errors propagate."""
        total = PushResult()
        while max_batches is None or total.batches < max_batches:
            step = self.push_once()
            if step.batches == 0:
                break
            total.sent += step.sent
            total.kept_aside += step.kept_aside
            total.batches += step.batches
            if step.sent == 0 and step.kept_aside == 0:
                break  # the server answered for none of them: try again later, not in a tight loop
        return total

    def _send(self, records: list[dict], result: PushResult) -> None:
        try:
            answer = self.api.upload(records, format_rfc3339(self.clock()), self.boot_clock())
        except _BatchRefused as exc:
            if len(records) > 1:
                # Too large or one item breaks the whole body: split until the culprit stands alone.
                half = len(records) // 2
                self._send(records[:half], result)
                self._send(records[half:], result)
                return
            self.store.keep_aside(records[0]["id"], f"rejected: {exc.code}: {exc}")
            result.kept_aside += 1
            result.batches += 1
            return
        sent, kept = self.store.apply_results([r["id"] for r in records], answer["results"])
        result.sent += sent
        result.kept_aside += kept
        result.batches += 1

    def heartbeat(self) -> dict | None:
        """Send the kiosk's status (and diagnostics); return what the server asks of it, or None."""
        status = self.store.status()
        payload = {
            "pending": status["pending"],
            "kept_aside": status["kept_aside"],
            "last_sync_at": status["last_sync_at"],
            "last_error": status["last_error"],
            "app_version": __version__,
            "device_time": format_rfc3339(self.clock()),
        }
        if self.diagnostics is not None:
            payload["diagnostics"] = self.diagnostics()
        return self.api.heartbeat(payload, self.boot_clock())

    def refresh_config(self) -> bool:
        """Fetch config if it changed; return True when a new one was stored."""
        config, etag = self.api.config(self.store.get_meta("config_etag"))
        prompts.refresh(self.api, self.store, config)  # recordings first (retried while unchanged); never raises
        if config is None:
            return False
        self.store.set_meta(config=config, config_etag=etag)
        return True


def enroll(store: Store, server_url: str, code: str, name: str | None = None, *,
           session: requests.Session | None = None, timeout: tuple[float, float] = (5.0, 30.0)) -> dict:
    """Trade an enrolment code for a token and remember it (and the first config) in the store."""
    api = ServerApi(server_url, session=session, timeout=timeout)
    data = api.enroll(code, name)
    store.set_meta(server_url=server_url.rstrip("/"), token=data["token"], device_id=data["device_id"],
                   unit_code=data["unit_code"], enrolled_at=format_rfc3339(now_local()), last_error=None,
                   device_name=data.get("name") or name)
    api.token = data["token"]
    try:
        SyncClient(store, api).refresh_config()
    except SyncError as exc:
        store.note_error(f"config after enrolment: {exc}")
    return data


class SyncService:
    """One sync round at a time, with backoff; what the background worker calls.

    ``run_round()`` does whatever is due (upload, heartbeat, config) and returns the seconds to
    wait before the next round. Errors are logged and kept in the store, never raised.
    """

    def __init__(self, store: Store, settings, *, session: requests.Session | None = None,
                 monotonic: Callable[[], float] = time.monotonic, rng: Callable[[], float] = random.random,
                 diagnostics: Diagnostics | None = None, clock: Callable[[], Any] = now_local):
        self.store = store
        self.settings = settings
        self.clock = clock
        """The device time sent with uploads and heartbeats (tests set a clock that is off)."""
        # The kiosk's TLS (CA bundle, proxy, pin) lives in the session; tests inject theirs.
        self.session = session or tls.session_for(settings)
        self.monotonic = monotonic
        self.diagnostics = diagnostics or Diagnostics(store, settings, monotonic=monotonic)
        """Collects the heartbeat's diagnostics and answers the server's log requests."""
        self.backoff = Backoff(settings.backoff_base_s, settings.backoff_max_s, rng)
        self._next_heartbeat = 0.0
        self._next_config = 0.0
        self.auth_failed = False

    def _client(self) -> SyncClient | None:
        url, token = self.store.get_meta("server_url"), self.store.get_meta("token")
        if not url or not token:
            return None
        api = ServerApi(url, token, session=self.session,
                        timeout=(self.settings.connect_timeout_s, self.settings.read_timeout_s),
                        verify=self.settings.verify_tls)
        return SyncClient(self.store, api, batch_size=self.settings.batch_size, clock=self.clock,
                          diagnostics=self.diagnostics.collect)

    def run_round(self, force: bool = False) -> dict:
        """One round; returns ``{"delay": seconds, "sent": n, "kept_aside": n, "config_changed": bool, "error": str|None}``."""
        report = {"delay": self.settings.sync_interval_s, "sent": 0, "kept_aside": 0, "config_changed": False, "error": None}
        client = self._client()
        if client is None:
            report["error"] = "not enrolled"
            return report
        now = self.monotonic()
        try:
            pushed = client.drain(max_batches=50)
            report["sent"], report["kept_aside"] = pushed.sent, pushed.kept_aside
            if force or now >= self._next_config:
                report["config_changed"] = client.refresh_config()
                self._next_config = now + self.settings.config_interval_s
            if force or now >= self._next_heartbeat:
                answer = client.heartbeat()
                self._next_heartbeat = now + self.settings.heartbeat_interval_s
                self._answer_requests(client, answer)
            self.backoff.success()
            self.auth_failed = False
            if pushed.batches >= 50:
                report["delay"] = 0.0  # more to drain: go straight on
        except SyncAuthError as exc:
            self.auth_failed = True
            report["error"] = f"token refused: {exc}"
            report["delay"] = self.settings.backoff_max_s
            self.store.note_error(report["error"])
        except SyncTemporaryError as exc:
            report["error"] = str(exc)
            report["delay"] = self.backoff.failure(exc.retry_after)
            self.store.note_error(report["error"])
        except Exception as exc:  # noqa: BLE001 - an unattended kiosk must keep going; the error is kept
            log.exception("sync round failed")
            report["error"] = f"unexpected: {exc.__class__.__name__}: {exc}"
            report["delay"] = self.backoff.failure()
            self.store.note_error(report["error"])
        return report

    def _answer_requests(self, client: SyncClient, answer: dict | None) -> None:
        """Do what the heartbeat's answer asks: upload the log's last lines (``log_request``)."""
        request = (answer or {}).get("log_request")
        if not isinstance(request, dict) or not isinstance(request.get("id"), str):
            return
        upload = self.diagnostics.log_upload(request)
        taken = client.api.upload_log(upload["request_id"], upload["lines"], upload["truncated"])
        log.info("log request %s: %d lines %s", request["id"], len(upload["lines"]), "sent" if taken else "no longer wanted")


def check_connection(server_url: str, token: str | None = None, *, session: requests.Session | None = None,
                     timeout: tuple[float, float] = (5.0, 10.0), verify: bool = True) -> dict:
    """The admin screen's connection test: ``{"ok": bool, "message": str}``, never raises.

    With this kiosk's token it fetches the config (reachable *and* the token accepted); without
    one it asks for the OpenAPI document (reachable, and it is our server answering).
    """
    url = (server_url or "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        return {"ok": False, "message": "the address must start with http:// or https://"}
    api = ServerApi(url, token, session=session, timeout=timeout, verify=verify)
    started = time.monotonic()
    try:
        if token:
            api.config(None)
            what = "config fetched, token accepted"
        else:
            resp = api._request("GET", "/openapi.json")
            if resp.status_code != 200:
                return {"ok": False, "message": f"HTTP {resp.status_code}: not our server?"}
            data = api._json(resp)
            if not isinstance(data, dict) or "/api/v1/enroll" not in data.get("paths", {}):
                return {"ok": False, "message": "reachable, but it does not speak protocol v1"}
            what = "server reachable"
    except SyncAuthError as exc:
        return {"ok": False, "message": f"reachable, but the token is refused ({exc}): re-enrol"}
    except SyncError as exc:
        return {"ok": False, "message": str(exc)}
    return {"ok": True, "message": f"{what} in {(time.monotonic() - started) * 1000:.0f} ms"}
