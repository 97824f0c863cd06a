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

A Zalo OA access token lives about 25 hours. A Zalo channel given its app's id, the app's secret key and
the OA's refresh token renews it (:func:`renew_zalo_token`, Zalo's OAuth v4 ``POST
<alert_zalo_oauth_url>/v4/oa/access_token``) before it runs out, and once when Zalo refuses it (error
-216 or -124). A refresh token is single-use and each renewal answers a new one: the new pair is stored
by compare-and-set on the channel's secret, behind a lease in that same secret, so of any number of
server processes one renews and the others wait and use its token. When Zalo refuses the refresh token
the channel stops sending and ``/admin/alerts`` asks for new credentials. The channel keeps it all in
its ``secret`` column as JSON (:func:`zalo_credentials`); a plain string there is an access token, as
channels made before renewal have it.

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
_ZALO_APP_RE = re.compile(r"^[0-9]{3,40}$")
ZALO_TOKEN_ERRORS = frozenset({-216, -124})  # OA API: the access token is invalid / has expired
ZALO_RENEW_MARGIN_S = 600  # a token that runs out within this is renewed before sending
ZALO_RENEW_AGAIN_S = 600  # a token renewed less than this ago that Zalo refuses is not renewed again: no loop
_LEASE_KEYS = ("lease_until", "lease_id")


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


class ZaloTokenRefused(RejectedDeliveryError):
    """Zalo answered that the access token is invalid or expired (:data:`ZALO_TOKEN_ERRORS`)."""


class ZaloRenewalRefused(RejectedDeliveryError):
    """Zalo's OAuth refused to renew the token (the refresh token is used up, revoked or expired, or the
    app's id or secret key is wrong): the channel waits for an admin's new credentials. ``detail`` is
    Zalo's answer without secrets."""

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(f"Zalo token renewal refused ({detail}): the channel waits for a new refresh token", status)
        self.detail = detail


# --- channels ---------------------------------------------------------------------------------------

def _clean(value) -> str:
    return (value or "").strip()


def _token_like(value: str, low: int, high: int) -> bool:
    return low <= len(value) <= high and not any(ch.isspace() for ch in value)


def zalo_secret(access_token: str | None, app_id: str | None = None, app_secret: str | None = None,
                refresh_token: str | None = None, stored: str | None = None) -> str:
    """What a Zalo channel stores as its secret: the pasted values checked and laid over the ``stored``
    ones (a field left empty keeps what was stored). Only an access token: that string, as before
    renewal; with the app id, secret key and refresh token: their JSON (:func:`zalo_credentials`)."""
    given = {"access_token": _clean(access_token), "app_id": _clean(app_id), "app_secret": _clean(app_secret),
             "refresh_token": _clean(refresh_token)}
    if given["access_token"] and not _token_like(given["access_token"], 8, 4096):
        raise ChannelError("access_token", "the Official Account's access token has no spaces")
    if given["app_id"] and not _ZALO_APP_RE.match(given["app_id"]):
        raise ChannelError("app_id", "a Zalo app id (developers.zalo.me) is a number")
    if given["app_secret"] and not _token_like(given["app_secret"], 8, 200):
        raise ChannelError("app_secret", "the app's secret key has 8 to 200 characters and no spaces")
    if given["refresh_token"] and not _token_like(given["refresh_token"], 8, 4096):
        raise ChannelError("refresh_token", "the refresh token has no spaces")
    creds = {k: v for k, v in zalo_credentials(stored).items() if k not in (*_LEASE_KEYS, "broken", "broken_at")}
    if given["access_token"]:
        # A pasted token's age is unknown: it is used until Zalo refuses it, then renewed.
        creds.update(access_token=given["access_token"], expires_at=None, renewed_at=None)
    creds.update({k: v for k, v in given.items() if v and k != "access_token"})
    keys = [k for k in ("app_id", "app_secret", "refresh_token") if creds.get(k)]
    if keys and len(keys) < 3:
        raise ChannelError("zalo_renewal", "renewing the access token needs the app id, the app secret key and the refresh token")
    if not keys and not creds.get("access_token"):
        raise ChannelError("access_token", "the Official Account's access token is needed (no spaces), or the app id, "
                                           "the app secret key and a refresh token to get one")
    return _zalo_dump(creds)


def check_channel(storage, kind: str, name: str, target: str, secret: str | None, unit_code: str | None,
                  officer_results: bool, *, zalo: dict | None = None, stored: str | None = None
                  ) -> tuple[str, str, str, str | None, str | None]:
    """``(kind, name, target, secret, unit_code)`` checked and trimmed, or :class:`ChannelError`. A Zalo
    channel's ``zalo`` may hold ``app_id, app_secret, refresh_token`` (:func:`zalo_secret`, over ``stored``)."""
    kind, name, target = _clean(kind), _clean(name), _clean(target)
    secret, unit_code = _clean(secret) or None, _clean(unit_code) or None
    zalo = {k: v for k, v in (zalo or {}).items() if _clean(v)}
    if kind not in KINDS:
        raise ChannelError("kind", f"kind must be one of {', '.join(KINDS)}")
    if zalo and kind != "zalo":
        raise ChannelError("zalo_renewal", "only a Zalo channel takes an app id, a secret key and a refresh token")
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
        secret = zalo_secret(secret, stored=stored, **zalo)
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
                officer_results: bool = False, app_id: str | None = None, app_secret: str | None = None,
                refresh_token: str | None = None, user: User | None = None, ip: str | None = None,
                now: datetime | None = None) -> int:
    """Add a channel (audited, without its secret); its id. A Zalo channel's ``secret`` is its access token,
    and with ``app_id, app_secret, refresh_token`` it renews it (then the access token may be left out).
    Refusals: :class:`ChannelError`."""
    zalo = {"app_id": app_id, "app_secret": app_secret, "refresh_token": refresh_token}
    kind, name, target, secret, unit_code = check_channel(storage, kind, name, target, secret, unit_code, officer_results,
                                                          zalo=zalo)
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
                   app_id: str | None = None, app_secret: str | None = None, refresh_token: str | None = None,
                   user: User | None = None, ip: str | None = None, now: datetime | None = None) -> dict:
    """Replace a channel's secret and/or switch it on or off; audited. For a Zalo channel, the values given
    of ``secret`` (the access token), ``app_id``, ``app_secret``, ``refresh_token`` replace the stored ones
    (the others stay), which also ends a refused renewal's wait."""
    channel = _existing(storage, channel_id)
    fields: dict = {}
    zalo = {k: v for k, v in {"app_id": app_id, "app_secret": app_secret, "refresh_token": refresh_token}.items() if _clean(v)}
    if _clean(secret) or zalo:
        stored = storage.alert_channel_secret(channel["id"]) if channel["kind"] == "zalo" else None
        fields["secret"] = check_channel(storage, channel["kind"], channel["name"], channel["target"], secret,
                                         channel["unit_code"], channel["officer_results"], zalo=zalo, stored=stored)[3]
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
    if channel["kind"] == "zalo":
        # A renewing channel's JSON, and the tokens it held before a renewal during this send.
        for raw in [channel.get("secret"), *channel.get("former_secrets", ())]:
            creds = zalo_credentials(raw)
            hidden += [raw or ""] + [str(creds[k]) for k in ("access_token", "refresh_token", "app_secret") if creds.get(k)]
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
        headers["access_token"] = zalo_credentials(channel["secret"]).get("access_token") or ""
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
            refused = ZaloTokenRefused if _int(data.get("error")) in ZALO_TOKEN_ERRORS else RejectedDeliveryError
            raise refused(scrub(f"Zalo error {data.get('error')}: {data.get('message', '')}", channel), resp.status_code)
    return resp.status_code


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- Zalo: renewing the OA access token -----------------------------------------------------------

def zalo_credentials(raw: str | None) -> dict:
    """A Zalo channel's stored secret as a dict: ``access_token``, and for renewal ``app_id, app_secret,
    refresh_token``, ``expires_at`` and ``renewed_at`` (Unix seconds; None: unknown, e.g. a pasted token),
    while a renewal runs ``lease_until`` (epoch ms) and ``lease_id``, after a refused one ``broken`` (Zalo's
    answer, without secrets) and ``broken_at``. A plain string is an access token (a channel from before)."""
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    return {"access_token": raw}


def _renews(creds: dict) -> bool:
    return all(creds.get(k) for k in ("app_id", "app_secret", "refresh_token"))


def _zalo_dump(creds: dict) -> str:
    if not _renews(creds):
        return creds.get("access_token") or ""  # nothing to renew with: the plain token, as before
    return json.dumps({k: v for k, v in creds.items() if v is not None}, sort_keys=True)


def _renewal_due(creds: dict, now_s: float) -> bool:
    expires = creds.get("expires_at")
    return not creds.get("access_token") or (expires is not None and expires - ZALO_RENEW_MARGIN_S <= now_s)


def credential_state(storage, channel: dict) -> dict | None:
    """What the page and the CLI show of a Zalo channel's token (None for other kinds), never a secret:
    ``renews``, ``expires_at`` and ``renewed_at`` (RFC 3339 or None), and ``error`` with ``failed_at``
    when Zalo refused the last renewal (the channel then waits for new credentials)."""
    if channel["kind"] != "zalo":
        return None
    creds = zalo_credentials(storage.alert_channel_secret(channel["id"]))

    def stamp(key):
        value = creds.get(key)
        return format_rfc3339(datetime.fromtimestamp(value, timezone.utc)) if isinstance(value, (int, float)) else None
    return {"renews": _renews(creds), "expires_at": stamp("expires_at"), "renewed_at": stamp("renewed_at"),
            "error": creds.get("broken"), "failed_at": stamp("broken_at")}


def _oauth_refresh(settings, session, creds: dict, channel: dict) -> dict:
    """One call to Zalo's OAuth v4 with the refresh token: ``{access_token, refresh_token, expires_in}``,
    :class:`TemporaryDeliveryError` (no answer, 5xx, 429, not JSON) or :class:`ZaloRenewalRefused`."""
    hide = {**channel, "secret": json.dumps(creds)}
    url = f"{settings.alert_zalo_oauth_url.rstrip('/')}/v4/oa/access_token"
    form = {"refresh_token": creds["refresh_token"], "app_id": creds["app_id"], "grant_type": "refresh_token"}
    headers = {"User-Agent": "HaiLong-alerts/1", "secret_key": creds["app_secret"]}
    try:
        resp = session.post(url, data=form, headers=headers, timeout=settings.alert_http_timeout_s, allow_redirects=False)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TemporaryDeliveryError(scrub(f"Zalo token renewal: {type(exc).__name__}: {exc}", hide)) from None
    except requests.RequestException as exc:
        raise RejectedDeliveryError(scrub(f"Zalo token renewal: {type(exc).__name__}: {exc}", hide)) from None
    data, status = _json(resp), resp.status_code
    if status == 429 or status >= 500:
        raise TemporaryDeliveryError(scrub(f"Zalo token renewal: HTTP {status}", hide), status, _retry_after(resp, data))
    if not isinstance(data, dict):
        raise TemporaryDeliveryError(f"Zalo token renewal: HTTP {status}: the answer is not Zalo OAuth JSON", status)
    if status == 200 and data.get("access_token") and data.get("refresh_token") and _int(data.get("error") or 0) == 0:
        expires_in = _int(data.get("expires_in")) or 0
        # Zalo says 25 hours (as a string of seconds); a missing value is taken as the shortest the guides give.
        return {"access_token": str(data["access_token"]), "refresh_token": str(data["refresh_token"]),
                "expires_in": expires_in if expires_in > 0 else 3600}
    # Zalo's OAuth reports a refusal as error, error_name, error_reason, error_description (often with HTTP 200).
    parts = [str(data[k]) for k in ("error", "error_name", "error_description", "error_reason", "message")
             if data.get(k) not in (None, "")]
    detail = f"HTTP {status}" + (f": {' '.join(dict.fromkeys(parts))}" if parts else ": no new token in the answer")
    raise ZaloRenewalRefused(scrub(detail, hide), status)


def renew_zalo_token(state, channel: dict, used_token: str | None, session, now: datetime) -> str:
    """A Zalo channel's secret with a renewed access token, ``used_token`` being the one found expired or
    refused. When the stored token is no longer ``used_token`` another sender renewed it: that one is used.
    Otherwise this sender takes a lease inside the stored secret (compare-and-set), so no other renews with
    the same single-use refresh token meanwhile; they wait for the lease and take the new token. Zalo's new
    access and refresh tokens replace the lease in one transaction, audited ``alert_channel.renew`` (never
    a token). A refusal marks the channel (``broken``, audited ``alert_channel.renew_failed``) and raises
    :class:`ZaloRenewalRefused`; no answer gives the lease back and raises :class:`TemporaryDeliveryError`
    (if Zalo had used the refresh token meanwhile, the next renewal is refused and the admin is asked)."""
    settings, storage = state.settings, state.storage
    cid, name = channel["id"], channel["name"]
    lease_ms = int((settings.alert_http_timeout_s * 2 + 5) * 1000)
    start, started = int(now.timestamp() * 1000), time.monotonic()
    while True:
        now_ms = start + int((time.monotonic() - started) * 1000)
        raw = storage.alert_channel_secret(cid)
        creds = zalo_credentials(raw)
        if not raw:
            raise RejectedDeliveryError("the channel was removed")
        if creds.get("access_token") and creds["access_token"] != used_token:
            return raw  # renewed by another sender (or pasted by an admin) since this one looked
        if creds.get("broken"):
            raise ZaloRenewalRefused(creds["broken"])
        if not _renews(creds):
            raise RejectedDeliveryError("the channel has no refresh token to renew its Zalo access token with")
        if (creds.get("lease_until") or 0) > now_ms:
            if time.monotonic() - started > lease_ms / 1000 + 1:
                raise TemporaryDeliveryError("another sender is renewing the Zalo access token")
            time.sleep(0.05)  # another sender holds the lease: its new token comes within the lease
            continue
        claimed = json.dumps({**creds, "lease_until": now_ms + lease_ms, "lease_id": secrets.token_hex(8)}, sort_keys=True)
        if storage.swap_alert_channel_secret(cid, raw, claimed, now):
            break
    # The refresh token is this sender's alone until the lease ends.
    base = {k: v for k, v in creds.items() if k not in _LEASE_KEYS}
    try:
        got = _oauth_refresh(settings, session, base, channel)
    except ZaloRenewalRefused as exc:
        marked = json.dumps({**base, "broken": exc.detail, "broken_at": int(now.timestamp())}, sort_keys=True)
        storage.swap_alert_channel_secret(cid, claimed, marked, now, "alert_channel.renew_failed",
                                          {"name": name, "error": exc.detail})
        log.warning("Zalo channel %r: renewing the access token was refused (%s); the channel waits for new credentials",
                    name, exc.detail)
        raise
    except DeliveryError:
        storage.swap_alert_channel_secret(cid, claimed, raw, now)  # give the lease back
        raise
    now_s = int(now.timestamp())
    new = {**base, "access_token": got["access_token"], "refresh_token": got["refresh_token"],
           "expires_at": now_s + got["expires_in"], "renewed_at": now_s}
    expected, audit = claimed, {"name": name, "expires_at": format_rfc3339(datetime.fromtimestamp(new["expires_at"], timezone.utc))}
    for _ in range(3):
        if storage.swap_alert_channel_secret(cid, expected, _zalo_dump(new), now, "alert_channel.renew", audit):
            log.info("Zalo channel %r: access token renewed, valid until %s", name, audit["expires_at"])
            return _zalo_dump(new)
        # An admin saved the channel during the call. Their values stand; the new tokens go with them
        # only if the refresh token just used up is still the one stored.
        expected = storage.alert_channel_secret(cid)
        current = zalo_credentials(expected)
        if not expected:
            raise RejectedDeliveryError("the channel was removed")
        if current.get("refresh_token") != base["refresh_token"]:
            return expected
        new = {**{k: v for k, v in current.items() if k not in _LEASE_KEYS}, **{k: new[k] for k in
               ("access_token", "refresh_token", "expires_at", "renewed_at")}}
    raise TemporaryDeliveryError("the channel kept changing while its Zalo token was renewed")


def _send(state, d: dict, session, now: datetime) -> int:
    """:func:`send`, and for a Zalo channel that can renew its token: renewed first when it has run out or
    is about to, and once when Zalo refuses it, then sent once more (never a loop). A channel whose
    renewal was refused sends nothing until an admin saves new credentials."""
    channel = d["channel"]
    creds = zalo_credentials(channel["secret"]) if channel["kind"] == "zalo" else {}
    if not _renews(creds):
        return send(state.settings, d, session, now)
    if creds.get("broken"):
        raise ZaloRenewalRefused(creds["broken"])

    def renewed(used: str | None) -> None:
        secret = renew_zalo_token(state, channel, used, session, now)
        channel.setdefault("former_secrets", []).append(channel["secret"])
        channel["secret"] = secret

    if _renewal_due(creds, now.timestamp()):
        renewed(creds.get("access_token"))
    try:
        return send(state.settings, d, session, now)
    except ZaloTokenRefused:
        used = zalo_credentials(channel["secret"])
        if used.get("renewed_at") and now.timestamp() - used["renewed_at"] < ZALO_RENEW_AGAIN_S:
            raise  # a token just renewed and refused all the same: renewing again would not help
        renewed(used.get("access_token"))
    return send(state.settings, d, session, now)


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
            status = _send(state, d, session, now)
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
