"""The kiosk config document (``GET /api/v1/kiosk/config``): the one shape both sides agree on.

```
{"unit": {"code", "name", "level", "parent_code"},
 "officers": [{"id", "name", "title" | null, "photo" | null, "pin_hash", "procedure_group" | null}],
 "questionnaire": {questionnaire document, see hailong_core.questionnaire},
 "settings": {"cooldown_s", "idle_timeout_s", "burst_count", "burst_window_s",
              "office_hours": {"mon".."sun": [["07:30", "11:30"], ["13:30", "17:00"]]} | null,
              "admin_pin_hash": str | null,
              "time_zone": "Asia/Ho_Chi_Minh", "utc_offset_h": 7.0,
              "public_base_url": "https://…" | null, "hotline": "0204 …" | null,
              "dossier_scan": false, "dossier_pattern": "", "dossier_link_s": 300}}
```
- ``photo`` is a small ``data:image/jpeg;base64,…`` (or png) URL, so a kiosk needs no second fetch.
- ``pin_hash`` and ``admin_pin_hash`` are Argon2id encoded hashes (argon2-cffi); the kiosk checks
  PINs offline and never sees a PIN in clear.
- ``procedure_group`` is the field of procedures the officer usually receives (lĩnh vực, see
  :mod:`hailong_core.procedure_groups`); answers given while they are signed in carry it.
- ``office_hours`` null means always open; a day missing from the map means closed that day.
- ``time_zone`` (IANA) is the zone of every kiosk time rule (:mod:`kiosk.clock`); ``utc_offset_h``
  is its fixed-offset fallback where the system has no zone database.
- ``public_base_url`` is the address citizens' phones can reach (the kiosk's own server address is
  often on the government network only): the thank-you QR link is built on it, and there is no QR
  without it. ``hotline`` is the unit's phone number, shown with the apology after a dissatisfied
  answer.
- ``dossier_scan`` offers the "Quét mã biên nhận" step on the kiosk's start screen (issue 14);
  ``dossier_pattern`` is the unit's receipt-code pattern (a regular expression the whole,
  upper-cased code must match; ``""`` accepts any valid code, see :mod:`hailong_core.dossier`);
  ``dossier_link_s`` is how long a dossier announced by a counter system waits for the next
  rating at that kiosk. Older servers send none of them: the defaults (off, any, 300 s) apply,
  and so they do for a value of the wrong type.
- ``prompts`` (beside ``settings``; missing from older servers, read as empty) lists the province's
  recorded voice prompts: ``[{"name": "invitation" | "question" | "thanks" | "apology", "lang": "vi",
  "sha256", "bytes", "duration_ms", "path": "/api/v1/kiosk/prompt?name=…&lang=…"}]``; the kiosk
  downloads each from ``path`` with its token and checks the hash (:mod:`kiosk.prompts`,
  :mod:`hailong_core.prompts`, ``docs/voice.md``).
"""

from __future__ import annotations

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_SETTINGS = {
    "cooldown_s": 1.5,
    "idle_timeout_s": 30.0,
    "burst_count": 5,
    "burst_window_s": 60.0,
    "office_hours": None,
    "admin_pin_hash": None,
    "time_zone": "Asia/Ho_Chi_Minh",
    "utc_offset_h": 7.0,
    "public_base_url": None,
    "hotline": None,
    "dossier_scan": False,
    "dossier_pattern": "",
    "dossier_link_s": 300,
}


def kiosk_settings(config: dict | None) -> dict:
    """The config's settings with defaults for anything missing (old servers, no config yet)."""
    merged = dict(DEFAULT_SETTINGS)
    merged.update((config or {}).get("settings") or {})
    # The dossier settings came later (issue 14): a null or mistyped value reads as the default,
    # so a server's slip never stops the kiosk, it only leaves the step off.
    if not isinstance(merged["dossier_scan"], bool):
        merged["dossier_scan"] = DEFAULT_SETTINGS["dossier_scan"]
    if not isinstance(merged["dossier_pattern"], str):
        merged["dossier_pattern"] = DEFAULT_SETTINGS["dossier_pattern"]
    link_s = merged["dossier_link_s"]
    if isinstance(link_s, bool) or not isinstance(link_s, (int, float)) or not 0 < link_s <= 86400:
        merged["dossier_link_s"] = DEFAULT_SETTINGS["dossier_link_s"]
    return merged
