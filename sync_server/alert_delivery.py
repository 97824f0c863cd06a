"""Alerts that reach people (issue 15): the dashboard's alerts, sent through delivery channels.

A province admin configures channels (the page ``/admin/alerts``, ``hailong-server alert-channels``):

- a **Telegram bot**: Bot API ``POST <alert_telegram_api_url>/bot<token>/sendMessage`` with
  ``{chat_id, text}``; the answer is ``{"ok": true, ...}``, or an HTTP error with ``description``
  (429 carries ``parameters.retry_after``);
- a **Zalo Official Account**: OA API v3 ``POST <alert_zalo_api_url>/v3.0/oa/message/cs`` with the
  header ``access_token`` and ``{"recipient": {"user_id"}, "message": {"text"}}``; Zalo answers HTTP 200
  with ``{"error": 0, ...}`` on success and a non-zero ``error`` with a ``message`` otherwise;
- a **generic webhook**: ``POST`` of a JSON body (:func:`webhook_body`), signed when the channel has a
  key: ``X-HaiLong-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`` with the
  ``X-HaiLong-Timestamp`` (Unix seconds) it covers; ``X-HaiLong-Delivery`` lets a receiver drop a repeat.

Each channel covers the province or a unit's subtree (as a viewer of that unit sees it:
:func:`sync_server.scopes.viewer_scope`) and says whether its recipients may see officer results;
without that, officer alerts are not sent to it and its unit alerts never name officers. Like the
viewers' roles, only a province or district channel may have officer results.

:func:`run` is the ``alerts`` duty of :mod:`sync_server.maintenance` (its schedule, ``hailong-server
maintain``): find the alerts (:func:`sync_server.results.report.alerts`), queue one delivery per
channel in scope (the delivery log is keyed by channel, alert and window, so any number of server
processes queue it once: contract 12), fold what the hourly limit held back into one summary, and send
what is due (:func:`deliver`): a 5xx, a 429 or no answer is retried with a doubling wait, any other 4xx
is recorded as failed with its reason. :func:`send_test` sends a test message now. Secrets are
stored but never shown back, never logged and never put into a recorded error. docs/server-admin.md
tells the admin how to set each channel up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

import requests

from hailong_core.timeutil import format_rfc3339
from sync_server.results.report import alerts
from sync_server.scopes import viewer_scope
from sync_server.storage import StorageRefused, User

log = logging.getLogger("sync_server.alerts")

KINDS = ("telegram", "zalo", "webhook")
SIGNATURE_HEADER = "X-HaiLong-Signature"
TIMESTAMP_HEADER = "X-HaiLong-Timestamp"
DELIVERY_HEADER = "X-HaiLong-Delivery"
EVENT_HEADER = "X-HaiLong-Event"
TELEGRAM_MAX_TEXT = 4096  # Bot API sendMessage: 1-4096 characters
ZALO_MAX_TEXT = 2000  # OA message v3 text
SUMMARY_LINES = 15  # alerts named one by one in a summary; the rest are counted
PER_RUN = 100  # deliveries one run sends at most: the duty stays bounded, the next run goes on
MAX_WAIT_S = 3600.0
_TOKEN_RE = re.compile(r"^[0-9]{3,20}:[A-Za-z0-9_-]{20,100}$")
_CHAT_RE = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,64})$")
_ZALO_USER_RE = re.compile(r"^[0-9]{3,40}$")


# --- errors -----------------------------------------------------------------------------------------

class ChannelError(ValueError):
    """A channel's settings were refused; ``reason`` is a stable key (the page shows ``alerts_err_<reason>``)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class DeliveryError(Exception):
    """A message did not go through; ``reason`` says why, without secrets; ``status`` is the HTTP status if any."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TemporaryDeliveryError(DeliveryError):
    """Try again later: a 5xx or 429 answer, a timeout, no connection (``retry_after_s``: what the API asked)."""

    def __init__(self, reason: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(reason, status)
        self.retry_after_s = retry_after_s


class RejectedDeliveryError(DeliveryError):
    """The API refused the message (a 4xx, a Zalo error code): sending it again would not help."""


# --- channels ---------------------------------------------------------------------------------------

def _clean(value) -> str:
    return (value or "").strip()


def check_channel(storage, kind: str, name: str, target: str, secret: str | None, unit_code: str | None,
                  officer_results: bool) -> tuple[str, str, str, str | None, str | None]:
    """``(kind, name, target, secret, unit_code)`` checked and trimmed, or :class:`ChannelError`."""
    kind, name, target = _clean(kind), _clean(name), _clean(target)
    secret, unit_code = _clean(secret) or None, _clean(unit_code) or None
    if kind not in KINDS:
        raise ChannelError("kind", f"kind must be one of {', '.join(KINDS)}")
    if not 1 <= len(name) <= 80:
        raise ChannelError("name", "a channel needs a name of 1 to 80 characters")
    if kind == "telegram":
        if not _CHAT_RE.match(target):
            raise ChannelError("chat_id", "a Telegram chat id is a number (groups: negative, e.g. -1001234567890) or @channelname")
        if not secret or not _TOKEN_RE.match(secret):
            raise ChannelError("bot_token", "a Telegram bot token looks like 123456789:AAE… (from @BotFather)")
    elif kind == "zalo":
        if not _ZALO_USER_RE.match(target):
            raise ChannelError("user_id", "a Zalo user id (of a follower of the Official Account) is a number")
        if not secret or not 8 <= len(secret) <= 4096 or any(ch.isspace() for ch in secret):
            raise ChannelError("access_token", "the Official Account's access token is needed (no spaces)")
    else:
        parts = urlsplit(target)
        if parts.scheme not in ("https", "http") or not parts.hostname or len(target) > 2000:
            raise ChannelError("url", "a webhook address starts with https:// (or http://) and names a host")
        if secret is not None and not 16 <= len(secret) <= 256:
            raise ChannelError("signing_key", "a signing key has 16 to 256 characters (or none: unsigned)")
    if unit_code is not None:
        unit = storage.unit(unit_code)
        if unit is None or unit["valid_to"] is not None:
            raise ChannelError("unit", f"{unit_code!r} is not a unit in force (see 'hailong-server units')")
        if unit["level"] == "province":
            unit_code = None
        elif officer_results and unit["level"] != "district":
            # As the viewers' roles: officer results go to the province and the districts, not lower.
            raise ChannelError("officer_scope", "only a province or district channel may receive officer results")
    return kind, name, target, secret, unit_code


def add_channel(storage, *, kind: str, name: str, target: str, secret: str | None = None, unit_code: str | None = None,
                officer_results: bool = False, user: User | None = None, ip: str | None = None,
                now: datetime | None = None) -> int:
    """Add a channel (audited, without its secret); its id. Refusals: :class:`ChannelError`."""
    kind, name, target, secret, unit_code = check_channel(storage, kind, name, target, secret, unit_code, officer_results)
    try:
        return storage.add_alert_channel(name, kind, target, secret, unit_code, bool(officer_results),
                                         now or datetime.now(timezone.utc), user, ip)
    except StorageRefused:
        raise ChannelError("name_taken", f"a channel named {name!r} exists") from None


def _existing(storage, channel_id) -> dict:
    try:
        channel = storage.alert_channel(int(channel_id))
    except (TypeError, ValueError):
        channel = None
    if channel is None or channel["removed_at"] is not None:
        raise ChannelError("unknown", f"no channel {channel_id!r} (see 'hailong-server alert-channels list')")
    return channel


def update_channel(storage, channel_id, *, secret: str | None = None, active: bool | None = None,
                   user: User | None = None, ip: str | None = None, now: datetime | None = None) -> dict:
    """Replace a channel's secret (e.g. a renewed Zalo access token) and/or switch it on or off; audited."""
    channel = _existing(storage, channel_id)
    fields: dict = {}
    if _clean(secret):
        check_channel(storage, channel["kind"], channel["name"], channel["target"], secret, channel["unit_code"],
                      channel["officer_results"])
        fields["secret"] = _clean(secret)
    if active is not None and bool(active) != channel["active"]:
        fields["active"] = bool(active)
    if fields:
        storage.update_alert_channel(channel["id"], now or datetime.now(timezone.utc), user, ip, **fields)
    return storage.alert_channel(channel["id"])


def remove_channel(storage, channel_id, *, user: User | None = None, ip: str | None = None,
                   now: datetime | None = None) -> dict:
    """Remove a channel (its log stays; its secret and waiting messages go); audited. The channel as it was."""
    channel = _existing(storage, channel_id)
    storage.remove_alert_channel(channel["id"], now or datetime.now(timezone.utc), user, ip)
    return channel


def shown_target(channel: dict) -> str:
    """What the page and the CLI show of a channel's target: a webhook's address only up to its host,
    because many services put their key in the path or the query."""
    if channel["kind"] != "webhook":
        return channel["target"]
    parts = urlsplit(channel["target"])
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


# --- messages ---------------------------------------------------------------------------------------

def _link(settings, path: str) -> str | None:
    base = settings.public_base_url
    return f"{base.rstrip('/')}{path}" if base else None


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def alert_payload(storage, settings, alert: dict) -> dict:
    """What a channel is sent about one alert: ``text`` (Vietnamese), ``line`` (for a summary), ``url``
    and the ``alert`` itself for webhooks. An officer's alert names the officer; a unit's never does."""
    unit = storage.unit(alert["unit_code"])
    unit_name = unit["name"] if unit else alert["unit_code"]
    minutes = f"{settings.alert_window_min:g}"
    counts = f"{alert['unsatisfied']}/{alert['n']} phiếu chưa hài lòng"
    data = {"kind": alert["kind"], "unit_code": alert["unit_code"], "unit_name": unit_name, "n": alert["n"],
            "unsatisfied": alert["unsatisfied"], "share": round(alert["share"], 4), "window_min": settings.alert_window_min}
    if alert["kind"] == "officer":
        who = f"Cán bộ {alert['name'] or alert['id']} ({unit_name})"
        url = _link(settings, f"/results/officers/{quote(alert['id'], safe='')}")
        ask = "Kính đề nghị lãnh đạo đơn vị quan tâm, trao đổi với cán bộ và có biện pháp khắc phục kịp thời."
        data.update(officer_id=alert["id"], officer_name=alert["name"])
    else:
        who = unit_name
        url = _link(settings, f"/results/units/{quote(alert['unit_code'], safe='')}")
        ask = "Kính đề nghị lãnh đạo đơn vị quan tâm, kiểm tra tình hình tại bộ phận một cửa và có biện pháp khắc phục kịp thời."
    lines = ["⚠ Hài Lòng – cảnh báo mức độ hài lòng",
             f"{who}: {counts} trong {minutes} phút gần đây ({_pct(alert['share'])}).", ask]
    if url:
        lines.append(f"Xem kết quả: {url}")
    return {"text": "\n".join(lines), "line": f"{who}: {counts} ({_pct(alert['share'])})", "url": url, "alert": data}


def summary_payload(settings, held: list[dict]) -> dict:
    """One message for the alerts a channel's hourly limit held back."""
    lines = ["Hài Lòng – tổng hợp cảnh báo",
             f"Kênh này đã nhận đủ {settings.alert_channel_max_per_hour} tin trong một giờ; "
             f"{len(held)} cảnh báo sau đó được gộp vào tin này:"]
    lines += [f"• {d['payload']['line']}" for d in held[:SUMMARY_LINES]]
    if len(held) > SUMMARY_LINES:
        lines.append(f"… và {len(held) - SUMMARY_LINES} cảnh báo khác.")
    url = _link(settings, "/results")
    if url:
        lines.append(f"Xem kết quả: {url}")
    return {"text": "\n".join(lines), "url": url, "alerts": [d["payload"]["alert"] for d in held]}


def trial_payload(channel: dict) -> dict:
    return {"text": f"Hài Lòng – tin nhắn thử của kênh «{channel['name']}». Nếu quý vị nhận được tin này, kênh đã được "
                    "cấu hình đúng; các cảnh báo về mức độ hài lòng sẽ được gửi tới đây. Trân trọng cảm ơn.",
            "url": None}


def webhook_body(delivery: dict, now: datetime) -> bytes:
    """The JSON a webhook is sent: ``event`` (alert, summary, test), ``delivery_id``, ``sent_at``, ``text``,
    ``url`` and ``alert`` (or, for a summary, ``alerts``) with the unit's code and name and the counts."""
    payload = delivery["payload"]
    body = {"event": delivery["kind"], "delivery_id": delivery["id"], "sent_at": format_rfc3339(now),
            "text": payload["text"], "url": payload.get("url")}
    for key in ("alert", "alerts"):
        if key in payload:
            body[key] = payload[key]
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-HaiLong-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (constant time); it should also refuse an old timestamp."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


# --- sending ----------------------------------------------------------------------------------------

class _HidePaths(logging.Filter):
    """urllib3 logs each request's path at DEBUG: a Telegram bot token is in it, a webhook's path may be
    a key. The filter hides them from every log record it writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 5 and str(record.msg).startswith('%s://%s:%s "%s %s'):
            path = str(args[4])
            shown = re.sub(r"^/bot[^/]*/", "/bot***/", path) if path.startswith("/bot") else "/…"
            record.args = (*args[:4], shown.split("?")[0], *args[5:])
        return True


def _hide_paths_in_urllib3_log() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _HidePaths) for f in logger.filters):
        logger.addFilter(_HidePaths())


def _secrets_of(channel: dict) -> list[str]:
    hidden = [channel["secret"]] if channel.get("secret") else []
    if channel["kind"] == "webhook":
        parts = urlsplit(channel["target"])
        hidden += [channel["target"], parts.path + (f"?{parts.query}" if parts.query else "")]
    return [h for h in hidden if h and len(h) > 1]


def scrub(text: str, channel: dict) -> str:
    """``text`` without the channel's secret (and a webhook's path), cut to 300 characters."""
    for hidden in sorted(_secrets_of(channel), key=len, reverse=True):
        text = text.replace(hidden, "***")
    text = re.sub(r"/bot[0-9]+:[A-Za-z0-9_-]+", "/bot***", text)
    return text[:300]


def _retry_after(resp, data) -> float | None:
    value = None
    if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
        value = data["parameters"].get("retry_after")
    value = value if value is not None else resp.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _json(resp):
    try:
        return resp.json()
    except ValueError:
        return None


def send(settings, delivery: dict, session, now: datetime) -> int:
    """Send one claimed delivery (its ``channel`` with the secret); the HTTP status on success, else
    :class:`TemporaryDeliveryError` or :class:`RejectedDeliveryError` (reasons without secrets)."""
    _hide_paths_in_urllib3_log()
    channel = delivery["channel"]
    kind, text = channel["kind"], delivery["payload"]["text"]
    headers = {"User-Agent": "HaiLong-alerts/1"}
    if kind == "telegram":
        url = f"{settings.alert_telegram_api_url.rstrip('/')}/bot{channel['secret']}/sendMessage"
        body = json.dumps({"chat_id": channel["target"], "text": text[:TELEGRAM_MAX_TEXT], "disable_web_page_preview": True},
                          ensure_ascii=False).encode("utf-8")
    elif kind == "zalo":
        url = f"{settings.alert_zalo_api_url.rstrip('/')}/v3.0/oa/message/cs"
        headers["access_token"] = channel["secret"]
        body = json.dumps({"recipient": {"user_id": channel["target"]}, "message": {"text": text[:ZALO_MAX_TEXT]}},
                          ensure_ascii=False).encode("utf-8")
    else:
        url = channel["target"]
        body = webhook_body(delivery, now)
        headers[DELIVERY_HEADER] = str(delivery["id"])
        headers[EVENT_HEADER] = delivery["kind"]
        if channel.get("secret"):
            stamp = str(int(now.timestamp()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(channel["secret"], stamp, body)
    headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        resp = session.post(url, data=body, headers=headers, timeout=settings.alert_http_timeout_s, allow_redirects=False)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TemporaryDeliveryError(scrub(f"{type(exc).__name__}: {exc}", channel)) from None
    except requests.RequestException as exc:
        raise RejectedDeliveryError(scrub(f"{type(exc).__name__}: {exc}", channel)) from None
    data = _json(resp)
    detail = ""
    if isinstance(data, dict):
        detail = str(data.get("description") or data.get("message") or "")
    elif resp.text:
        detail = resp.text.strip().splitlines()[0] if resp.text.strip() else ""
    reason = scrub(f"HTTP {resp.status_code}" + (f": {detail}" if detail else ""), channel)
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TemporaryDeliveryError(reason, resp.status_code, _retry_after(resp, data))
    if resp.status_code >= 300:
        raise RejectedDeliveryError(reason, resp.status_code)
    if kind == "telegram" and not (isinstance(data, dict) and data.get("ok") is True):
        if data is None:
            raise TemporaryDeliveryError(f"HTTP {resp.status_code}: the answer is not Bot API JSON", resp.status_code)
        raise RejectedDeliveryError(reason, resp.status_code)
    if kind == "zalo":
        if not isinstance(data, dict):
            raise TemporaryDeliveryError(f"HTTP {resp.status_code}: the answer is not Zalo API JSON", resp.status_code)
        if data.get("error") not in (0, "0"):
            raise RejectedDeliveryError(scrub(f"Zalo error {data.get('error')}: {data.get('message', '')}", channel),
                                        resp.status_code)
    return resp.status_code


def _wait_s(settings, attempts: int, asked: float | None) -> float:
    wait = settings.alert_retry_base_s * (2 ** max(attempts - 1, 0))
    return min(max(wait, asked or 0.0), MAX_WAIT_S)


def deliver(state, *, now: datetime | None = None, session=None, ids: list[int] | None = None) -> dict[str, int]:
    """Send the deliveries that are due (or just ``ids``), one claim at a time, at most :data:`PER_RUN`;
    returns ``{sent, retry, failed}``."""
    if session is None:
        with requests.Session() as own:
            return deliver(state, now=now, session=own, ids=ids)
    settings, storage = state.settings, state.storage
    now = now or datetime.now(timezone.utc)
    start, started = int(now.timestamp() * 1000), time.monotonic()
    # Long enough for one HTTP call with its timeout: a sender that stops mid-call frees the row after it.
    lease_ms = int((settings.alert_http_timeout_s * 3 + 30) * 1000)
    out = {"sent": 0, "retry": 0, "failed": 0}
    for _ in range(PER_RUN if ids is None else len(ids)):
        now_ms = start + int((time.monotonic() - started) * 1000)  # the injected moment, moved on by the real time spent
        claimed = storage.claim_alert_deliveries(now_ms, lease_ms, 1, ids)
        if not claimed:
            break
        d = claimed[0]
        channel = d["channel"]
        if d["attempts"] > settings.alert_retry_max:
            storage.finish_alert_delivery(d["id"], d["attempts"], "failed", now,
                                          error="the sending process stopped mid-call; not tried again")
            out["failed"] += 1
            continue
        try:
            status = send(settings, d, session, now)
        except TemporaryDeliveryError as exc:
            if d["attempts"] >= settings.alert_retry_max:
                storage.finish_alert_delivery(d["id"], d["attempts"], "failed", now, http_status=exc.status,
                                              error=f"after {d['attempts']} attempts: {exc.reason}")
                out["failed"] += 1
                log.warning("alert delivery %s to channel %r failed after %d attempts: %s", d["id"], channel["name"],
                            d["attempts"], exc.reason)
            else:
                wait = _wait_s(settings, d["attempts"], exc.retry_after_s)
                storage.finish_alert_delivery(d["id"], d["attempts"], "retry", now, next_try_ms=now_ms + int(wait * 1000),
                                              error=exc.reason, http_status=exc.status)
                out["retry"] += 1
                log.info("alert delivery %s to channel %r: %s; retrying in %.0f s", d["id"], channel["name"], exc.reason, wait)
        except RejectedDeliveryError as exc:
            storage.finish_alert_delivery(d["id"], d["attempts"], "failed", now, error=exc.reason, http_status=exc.status)
            out["failed"] += 1
            log.warning("alert delivery %s to channel %r refused: %s", d["id"], channel["name"], exc.reason)
        else:
            storage.finish_alert_delivery(d["id"], d["attempts"], "sent", now, http_status=status)
            out["sent"] += 1
    return out


# --- the duty ---------------------------------------------------------------------------------------

def _rows(state, channels: list[dict], found: list[dict], now_ms: int) -> list[dict]:
    """One delivery row per (channel, alert) the channel may receive."""
    settings, storage = state.settings, state.storage
    window = now_ms // int(settings.alert_repeat_min * 60_000)
    scopes: dict[str, frozenset] = {}
    payloads: dict[str, dict] = {}
    rows = []
    for channel in channels:
        code = channel["unit_code"]
        if code is not None and code not in scopes:
            scopes[code] = viewer_scope(storage, code, datetime.fromtimestamp(now_ms / 1000, timezone.utc),
                                        settings.utc_offset_h)
        for alert in found:
            if alert["kind"] == "officer" and not channel["officer_results"]:
                continue  # officer results only to recipients allowed to see them
            if code is not None and alert["unit_code"] not in scopes[code]:
                continue
            if alert["key"] not in payloads:
                payloads[alert["key"]] = alert_payload(storage, settings, alert)
            rows.append({"channel_id": channel["id"], "alert_key": alert["key"], "window_no": window, "kind": "alert",
                         "unit_code": alert["unit_code"], "payload": payloads[alert["key"]]})
    return rows


def _summarise(state, now_ms: int) -> int:
    settings, storage = state.settings, state.storage
    held: dict[int, list[dict]] = {}
    for d in storage.held_alert_deliveries():
        held.setdefault(d["channel_id"], []).append(d)
    made = 0
    for channel_id, rows in held.items():
        if storage.alert_channel_usage(channel_id, now_ms) >= settings.alert_channel_max_per_hour:
            continue  # the hour is still full: the summary waits for a free slot
        if storage.queue_alert_summary(channel_id, [d["id"] for d in rows], summary_payload(settings, rows), now_ms,
                                       settings.alert_channel_max_per_hour) is not None:
            made += 1
    return made


def run(state, *, now: datetime | None = None, session=None) -> dict[str, int]:
    """The ``alerts`` duty: queue what the current alerts mean for each active channel, summarise what
    the hourly limit held, send what is due, and forget finished deliveries past ``alert_log_days``."""
    settings, storage = state.settings, state.storage
    now = now or datetime.now(timezone.utc)
    now_ms = int(now.timestamp() * 1000)
    channels = [c for c in storage.alert_channels() if c["active"]]
    out = {"channels": len(channels), "alerts": 0, "queued": 0, "held": 0, "summaries": 0}
    if channels:
        found = alerts(state, None, now_ms=now_ms)
        out["alerts"] = len(found)
        rows = _rows(state, channels, found, now_ms)
        if rows:
            done = storage.queue_alert_deliveries(rows, now_ms, int(settings.alert_repeat_min * 60_000),
                                                  settings.alert_channel_max_per_hour)
            out["queued"], out["held"] = done["queued"], done["held"]
            if done["held"]:
                log.warning("%d alert message(s) held back by alert_channel_max_per_hour=%d; they go out later as one summary",
                            done["held"], settings.alert_channel_max_per_hour)
        out["summaries"] = _summarise(state, now_ms)
    out.update(deliver(state, now=now, session=session))
    purged = storage.purge_alert_deliveries(now_ms - int(settings.alert_log_days * 86_400_000))
    if purged:
        out["purged"] = purged
    return out


def send_test(state, channel_id, *, now: datetime | None = None, session=None, user: User | None = None,
                 ip: str | None = None) -> dict:
    """Send a test message through one channel now (audited); the delivery as recorded afterwards
    (``status`` sent, retry or failed, ``last_error``)."""
    storage = state.storage
    channel = _existing(storage, channel_id)
    if not channel["active"]:
        raise ChannelError("inactive", f"channel {channel['name']!r} is switched off")
    now = now or datetime.now(timezone.utc)
    now_ms = int(now.timestamp() * 1000)
    did = storage.add_alert_test(channel["id"], f"test:{now_ms}:{secrets.token_hex(4)}", trial_payload(channel), now_ms, user, ip)
    deliver(state, now=now, session=session, ids=[did])
    return storage.alert_delivery(did)
