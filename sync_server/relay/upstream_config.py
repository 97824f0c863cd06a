"""At the upstream: the config document a relay mirrors for its scope (issue 17).

The province stays the authority: the relay applies this document as it is (questionnaires added,
campaigns replaced, officers upserted, kiosk values set), so its kiosks and phone form work from
the province's config while the WAN is down. Only what a relay's units need goes down: published
questionnaires, the campaigns covering its units or the units above them, the officers of its
subtree (with what kiosks carry for them), its units' sites and open counters (with the province's
ids, so a kiosk enrolled at the relay's site names the province's site), and each unit's kiosk admin
PIN hash and dossier pattern.
"""

from __future__ import annotations

import hashlib

from hailong_core.response import canonical_json
from sync_server.storage import Storage
from sync_server.storage.sql.relay import CONFIG_PREFIXES


def in_scope(storage: Storage, unit_code: str):
    """``unit -> bool``: the relay's unit and every unit under it, in any version of the tree."""
    codes = storage.subtree_codes(unit_code)
    return codes.__contains__


def _ancestors(storage: Storage, code: str) -> set[str]:
    chain: set[str] = set()
    unit = storage.unit(code)
    while unit is not None and unit["code"] not in chain:
        chain.add(unit["code"])
        unit = storage.unit(unit["parent_code"]) if unit.get("parent_code") else None
    return chain


def build(storage: Storage, unit_code: str) -> dict:
    scope = storage.subtree_codes(unit_code)
    covering = scope | _ancestors(storage, unit_code)
    questionnaires = []
    for v in storage.questionnaire_versions():
        if v["published_at"] is None:
            continue
        full = storage.questionnaire_version(v["id"], v["version"])
        questionnaires.append({"id": v["id"], "version": v["version"], "body": full["body"], "published_at": v["published_at"]})
    campaigns = []
    for c in storage.campaigns():
        units = sorted(set(c["units"]) & covering)
        if units:
            campaigns.append({k: c[k] for k in ("id", "name", "starts_on", "ends_on", "questionnaire_id", "questionnaire_version",
                                                 "created_at")} | {"units": units})
    officers = storage.relay_officers(scope)
    sites = [{k: site[k] for k in ("id", "unit_code", "unit_valid_from", "position", "name", "address", "office_hours", "hotline",
                                   "public_base_url", "created_at", "closed_at", "counters")}
             for site in storage.sites(include_closed=True) if site["unit_code"] in scope]
    config = {"default_questionnaire": storage.get_config("default_questionnaire")}
    for code in sorted(scope):
        for prefix in CONFIG_PREFIXES:
            config[prefix + code] = storage.get_config(prefix + code)
    return {"unit_code": unit_code, "questionnaires": questionnaires, "campaigns": campaigns,
            "officers": sorted(officers, key=lambda o: o["id"]), "sites": sites, "config": config}


def payload(doc: dict) -> tuple[bytes, str]:
    body = canonical_json(doc)
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
