"""The fleet as IT staff read it (issue 15): which kiosks went silent, a summary, filters, and coverage.

Coverage answers "where do we still have to install?": the open sites (điểm tiếp nhận) of the units
in force today, in the viewer's scope, that have no active kiosk. A kiosk is *active* when it is
neither revoked nor silent; a revoked kiosk never covers its site, and a site whose only kiosks are
silent is listed too, marked so (someone has to fix that kiosk, not install a new one). Province-level
units take no kiosk (enrolment refuses them), so their sites are not points here.

Only storage calls here, no HTTP: the page, and any later CLI, ask the same functions.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sync_server.web.sites_view import sites_in_force, tree_order

STATUSES = ("active", "silent", "revoked", "clock_off", "update_failed")
# What a kiosk reports of a staged release that did not end installed (sync_server/releases.py OUTCOMES).
FAILED_OUTCOMES = frozenset({"failed", "refused", "rolled_back"})
_MAX_TEXT = 100


def silent_devices(devices: list[dict], after_min: float, now: datetime | None = None) -> list[dict]:
    """Active kiosks not heard from for ``after_min`` minutes (never heard from counts from enrolment)."""
    now = now or datetime.now(timezone.utc)
    limit = now - timedelta(minutes=after_min)
    out = []
    for d in devices:
        if d["revoked_at"]:
            continue
        seen = d["last_seen_at"] or d["enrolled_at"]
        if datetime.fromisoformat(seen) < limit:
            out.append(d)
    return out


def clock_off(offset_s: float | None, tolerance_s: float) -> bool:
    """A kiosk's clock is off when its last heartbeat's offset exceeds the tolerance."""
    return offset_s is not None and abs(offset_s) > tolerance_s


def fold(text: str | None) -> str:
    """Text for a forgiving search: lower case, no diacritics (``Thọ Xương`` → ``tho xuong``; đ → d)."""
    decomposed = unicodedata.normalize("NFD", (text or "").casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class FleetFilter:
    """The fleet page's filters, from its GET query: ``unit`` (a unit and its subtree), ``status`` (one of
    :data:`STATUSES`), ``version`` (an app version, ``-`` for none reported), ``q`` (words in a name)."""

    unit: str | None = None
    status: str | None = None
    version: str | None = None
    q: str = ""

    @classmethod
    def parse(cls, unit: str | None, status: str | None, version: str | None, q: str | None) -> "FleetFilter":
        """Lenient: an unknown status or an empty field is no filter (a stale bookmark still opens)."""
        def clean(value: str | None) -> str | None:
            value = (value or "").strip()[:_MAX_TEXT]
            return value or None
        status = clean(status)
        return cls(clean(unit), status if status in STATUSES else None, clean(version), clean(q) or "")

    @property
    def narrows_kiosks(self) -> bool:
        return any((self.unit, self.status, self.version, self.q))


def kiosk_states(device: dict, silent_ids: set[str], tolerance_s: float, target: dict | None) -> set[str]:
    """The statuses a kiosk is in: ``revoked`` alone, else ``active`` or ``silent``, plus ``clock_off`` and
    ``update_failed`` when they apply."""
    if device["revoked_at"]:
        return {"revoked"}
    states = {"silent" if device["id"] in silent_ids else "active"}
    if clock_off(device.get("clock_offset_s"), tolerance_s):
        states.add("clock_off")
    if target and target.get("outcome") in FAILED_OUTCOMES:
        states.add("update_failed")
    return states


def _matches(words: list[str], *texts: str | None) -> bool:
    haystack = " ".join(fold(t) for t in texts if t)
    return all(w in haystack for w in words)


def fleet_overview(storage, settings, scope: set[str] | None, day: str, filters: FleetFilter,
                   now: datetime | None = None) -> dict:
    """Everything the fleet page shows, computed once.

    ``summary`` counts the kiosks and points in the viewer's scope (narrowed by the unit filter only: the
    other filters choose rows, they do not change what the fleet is); ``devices`` are the rows left by
    every filter; ``coverage`` lists the points without an active kiosk (unit and text filters apply).
    """
    now = now or datetime.now(timezone.utc)
    in_force = [u for u in storage.units_as_of(day) if scope is None or u["code"] in scope]
    wanted = None if scope is None else set(scope)
    if filters.unit:
        subtree = storage.subtree_codes(filters.unit)
        wanted = subtree if wanted is None else wanted & subtree
    all_devices = storage.devices(scope)
    devices = [d for d in all_devices if wanted is None or d["unit_code"] in wanted]
    silent_ids = {d["id"] for d in silent_devices(devices, settings.fleet_silent_after_min, now)}
    targets = storage.release_targets([d["id"] for d in devices]) if devices else {}
    states = {d["id"]: kiosk_states(d, silent_ids, settings.fleet_clock_tolerance_s, targets.get(d["id"])) for d in devices}
    names = {u["code"]: u for u in storage.units()}
    sites = {s["id"]: s for s in storage.sites(include_closed=True)}

    live = [d for d in devices if not d["revoked_at"]]
    versions = Counter(d["app_version"] or "-" for d in live)
    summary = {
        "enrolled": len(devices), "active": sum(1 for d in devices if "active" in states[d["id"]]),
        "silent": len(silent_ids), "revoked": len(devices) - len(live),
        "clock_off": sum(1 for d in live if "clock_off" in states[d["id"]]),
        "update_failed": sum(1 for d in live if "update_failed" in states[d["id"]]),
        "pending": sum(d["pending"] or 0 for d in live), "kept_aside": sum(d["kept_aside"] or 0 for d in live),
        "versions": sorted(versions.items(), key=lambda kv: (-kv[1], kv[0])),
    }

    # Points: open sites of the unit versions in force today, in scope and the unit filter; not the province's.
    points_units = [u for u in in_force if u["level"] != "province" and (wanted is None or u["code"] in wanted)]
    own_sites = sites_in_force(storage, points_units)
    active_at: Counter = Counter(d["site_id"] for d in devices if "active" in states[d["id"]])
    silent_at: Counter = Counter(d["site_id"] for d in devices if "silent" in states[d["id"]])
    points = [(u, s) for u in points_units for s in own_sites[u["code"]]]
    summary["points"] = len(points)
    summary["covered"] = sum(1 for _, s in points if active_at[s["id"]])

    words = fold(filters.q).split()
    uncovered = [(u, s) for u, s in points if not active_at[s["id"]]
                 and (not words or _matches(words, u["name"], u["code"], s["name"], s["address"]))]
    coverage = _group_by_parent(uncovered, in_force, names, silent_at, points)

    rows = []
    for d in devices:
        if filters.status and filters.status not in states[d["id"]]:
            continue
        if filters.version and (d["app_version"] or "-") != filters.version:
            continue
        unit, site = names.get(d["unit_code"]), sites.get(d["site_id"])
        if words and not _matches(words, d["name"], d["id"], d["unit_code"], unit and unit["name"], site and site["name"]):
            continue
        rows.append(d)

    ordered, depth = tree_order([u for u in in_force if u["level"] != "province"])
    return {"summary": summary, "devices": rows, "states": states, "silent": silent_ids, "targets": targets,
            "coverage": coverage, "uncovered": len(uncovered), "names": names, "sites": sites,
            "unit_options": [(u, depth[u["code"]]) for u in ordered],
            "version_options": sorted({d["app_version"] or "-" for d in all_devices}), "in_scope": len(all_devices)}


def _group_by_parent(uncovered: list[tuple[dict, dict]], in_force: list[dict], names: dict, silent_at: Counter,
                     points: list[tuple[dict, dict]]) -> list[dict]:
    """Uncovered points grouped under their unit's parent (a district, or the province for its communes and
    centre), in tree order, each group with how many points it has in all."""
    by_code = {u["code"]: u for u in in_force}
    position = {u["code"]: i for i, u in enumerate(tree_order(in_force)[0])}
    totals: Counter = Counter(u["parent_code"] for u, _ in points)
    groups: dict[str | None, dict] = {}
    for unit, site in uncovered:
        parent = unit["parent_code"]
        group = groups.get(parent)
        if group is None:
            head = by_code.get(parent) or names.get(parent)
            group = groups[parent] = {"unit": head, "code": parent, "points": totals[parent], "rows": []}
        group["rows"].append({"unit": unit, "site": site, "silent_kiosks": silent_at[site["id"]]})
    for group in groups.values():
        group["rows"].sort(key=lambda r: (position.get(r["unit"]["code"], 1 << 30), r["site"]["position"]))
    return sorted(groups.values(), key=lambda g: position.get(g["code"], -1))
