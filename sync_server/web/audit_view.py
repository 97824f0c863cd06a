"""The audit log as people read it (issue 15): what happened, in words, with names beside the codes.

An entry stores codes (a unit code, a device id, a user id, a campaign id); the page names them: the
unit's name, the account's username, the kiosk's name and its unit, the campaign's or questionnaire's
title, the officer's name. The raw codes stay on the page (a muted line) because the log is evidence.
Names are looked up in one batch per kind for the whole page, never per row. An unknown action shows
as its code, an id that no longer resolves shows raw: the log never fails on what it holds.

Only storage calls here, no HTTP.
"""

from __future__ import annotations

import json
import re

from sync_server.web.i18n import catalogue

# How an action's target is named, by the action's prefix (new actions of a known family are named too);
# the ``*.import`` actions name a file, and ``release.*`` a version: shown as they are.
_TARGET_BY_PREFIX = (("device.", "device"), ("site.", "unit"), ("counter.", "unit"), ("unit.", "unit"),
                     ("enrol_code.", "unit"), ("dossier_pattern.", "unit"), ("officer.", "officer"),
                     ("campaign.", "campaign"), ("questionnaire.", "questionnaire"), ("user.", "username"),
                     ("alert_channel.", "channel"))
# Detail fields that hold a reference, and what kind of thing they name.
_DETAIL_KIND = {"unit_code": "unit", "unit": "unit", "units": "unit", "site_id": "site", "questionnaire": "questionnaire"}
_QUESTIONNAIRE = re.compile(r"^(?P<id>[^\s:]+)(?:(?: v|:)(?P<version>\d+))?$")


def target_kind(action: str) -> str | None:
    for prefix, kind in _TARGET_BY_PREFIX:
        if action.startswith(prefix):
            return kind
    return None


def _questionnaire_key(value) -> tuple[str, int | None] | None:
    match = _QUESTIONNAIRE.match(str(value)) if value is not None else None
    if not match:
        return None
    return match["id"], int(match["version"]) if match["version"] else None


def _refs(rows: list[dict]) -> dict[str, set]:
    """Every code the page's entries name, by kind."""
    refs: dict[str, set] = {k: set() for k in ("unit", "device", "site", "officer", "campaign", "questionnaire", "user", "channel")}
    for row in rows:
        if isinstance(row.get("user_id"), int):
            refs["user"].add(row["user_id"])
        kind, target = target_kind(row["action"]), row.get("target")
        if kind and kind != "username" and target:
            refs[kind].add(target)
        for key, value in (row.get("detail") or {}).items() if isinstance(row.get("detail"), dict) else ():
            dkind = _DETAIL_KIND.get(key)
            if key == "id" and row["action"].startswith("user.") and isinstance(value, int):
                refs["user"].add(value)
            elif dkind:
                for v in value if isinstance(value, list) else [value]:
                    if v is not None and not isinstance(v, (dict, list)):
                        refs[dkind].add(v)
    return refs


class Names:
    """Names for the codes of one page of entries: one storage call per kind that the page needs."""

    def __init__(self, storage, rows: list[dict], lang: str):
        refs = _refs(rows)
        self.lang = lang
        self.units: dict[str, str] = {}
        self.devices: dict[str, dict] = {}
        self.sites: dict[str, dict] = {}
        self.officers: dict[str, dict] = {}
        self.campaigns: dict[str, str] = {}
        self.questionnaires: dict[tuple[str, int], str] = {}
        self.users: dict[int, str] = {}
        self.channels: dict[str, str] = {}
        if refs["device"]:
            self.devices = storage.devices_by_id(sorted(str(d) for d in refs["device"]))
        if refs["site"]:
            wanted = {str(s) for s in refs["site"]}
            self.sites = {str(s["id"]): s for s in storage.sites(include_closed=True) if str(s["id"]) in wanted}
        if refs["unit"] or self.devices or self.sites or refs["officer"]:
            self.units = {u["code"]: u["name"] for u in storage.units()}
        if refs["officer"]:
            wanted = {str(o) for o in refs["officer"]}
            self.officers = {o["id"]: o for o in storage.officers() if o["id"] in wanted}
        if refs["campaign"]:
            self.campaigns = {str(c["id"]): c["name"] for c in storage.campaigns()}
            missing = {str(c) for c in refs["campaign"]} - set(self.campaigns)
            if missing:  # a deleted campaign: the name it was added with
                for entry in storage.audit_log(limit=1000, action="campaign.add"):
                    if entry["target"] in missing and isinstance(entry.get("detail"), dict) and entry["detail"].get("name"):
                        self.campaigns.setdefault(entry["target"], entry["detail"]["name"])
        if refs["questionnaire"]:
            for q in storage.questionnaire_versions():
                title = q.get("title") or {}
                name = title.get(lang) or title.get("vi") or next(iter(title.values()), None) if isinstance(title, dict) else title
                if name:
                    self.questionnaires[(q["id"], q["version"])] = name
                    self.questionnaires.setdefault((q["id"], None), name)  # newest first: the id's latest title
        if refs["user"]:
            self.users = storage.usernames(sorted(refs["user"]))
        if refs["channel"]:
            self.channels = {str(c["id"]): c["name"] for c in storage.alert_channels(include_removed=True)}

    def name(self, kind: str, code) -> tuple[str | None, str | None]:
        """``(name, context)`` for a code of a kind (context: the unit of a kiosk, site or officer), or
        ``(None, None)`` when it does not resolve."""
        key = str(code)
        if kind == "unit":
            return self.units.get(key), None
        if kind == "device":
            device = self.devices.get(key)
            if device is None:
                return None, None
            return device["name"] or key[:8], self.units.get(device["unit_code"], device["unit_code"])
        if kind == "site":
            site = self.sites.get(key)
            return (site["name"], self.units.get(site["unit_code"], site["unit_code"])) if site else (None, None)
        if kind == "officer":
            officer = self.officers.get(key)
            return (officer["name"], self.units.get(officer["unit_code"], officer["unit_code"])) if officer else (None, None)
        if kind == "campaign":
            return self.campaigns.get(key), None
        if kind == "questionnaire":
            parsed = _questionnaire_key(code)
            return (self.questionnaires.get(parsed) if parsed else None), None
        if kind == "user":
            return (self.users.get(code) if isinstance(code, int) else None), None
        if kind == "channel":
            return self.channels.get(key), None
        if kind == "username":
            return key, None
        return None, None


def _plain(value, t) -> str:
    if isinstance(value, bool):
        return t("au_yes") if value else t("au_no")
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def describe(storage, rows: list[dict], t, lang: str) -> list[dict]:
    """The page's entries, worded: ``who`` (and ``who_raw``), ``what`` (the action's label, or its code
    when unknown), ``target`` (``name``, ``context``, ``raw``), ``details`` (``label``, ``text``, ``raw``)."""
    names = Names(storage, rows, lang)
    known = set(catalogue(lang)) | set(catalogue("vi"))  # t() falls back to Vietnamese
    out = []
    for row in rows:
        action = row["action"]
        detail = row.get("detail") if isinstance(row.get("detail"), dict) else ({} if row.get("detail") is None else {"detail": row["detail"]})
        label_key = "au_a_" + action.replace(".", "_")
        who = row.get("username") or names.users.get(row.get("user_id"))
        via_cli = detail.get("via") == "cli"
        item = {"id": row.get("id"), "at": row["at"], "ip": row.get("ip"), "action": action,
                "what": t(label_key) if label_key in known else action, "known": label_key in known,
                "who": who or (t("au_cli") if via_cli else t("au_system")),
                "who_raw": f"#{row['user_id']}" if row.get("user_id") is not None else None, "target": None, "details": []}
        kind, target = target_kind(action), row.get("target")
        if target:
            name, context = names.name(kind, target) if kind else (None, None)
            item["target"] = {"name": name or target, "context": context, "raw": target if name and name != target else None,
                              "unknown": kind is not None and kind != "username" and name is None}
        for key, value in detail.items():
            if key == "via" and value == "cli":
                continue
            label = t("au_k_" + key) if ("au_k_" + key) in known else key
            dkind = "user" if key == "id" and action.startswith("user.") else _DETAIL_KIND.get(key)
            if key == "role" and isinstance(value, str):
                item["details"].append({"label": label, "text": t("role_" + value), "raw": value})
            elif dkind and value is not None:
                values = value if isinstance(value, list) else [value]
                named = []
                for v in values[:30]:
                    name, context = names.name(dkind, v)
                    named.append(f"{name} ({context})" if name and context else name or str(v))
                text = ", ".join(named) + (f" … (+{len(values) - 30})" if len(values) > 30 else "")
                raw = ", ".join(str(v) for v in values[:30]) + (" …" if len(values) > 30 else "")
                item["details"].append({"label": label, "text": text, "raw": raw if raw != text else None})
            else:
                item["details"].append({"label": label, "text": _plain(value, t), "raw": None})
        out.append(item)
    return out
