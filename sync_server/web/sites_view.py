"""Sites (điểm tiếp nhận) and the unit tree as the pages, the phone form and the posters see them.

A site belongs to one version of a unit (a code reused for another unit has other sites), so
"the unit's open sites" are the open sites of the version in force on a day. Only storage calls
here, no HTTP: the posters command uses the same answers as the pages.
"""

from __future__ import annotations


def version_on(storage, code: str, day: str) -> dict | None:
    """The version of ``code`` in force on ``day`` (YYYY-MM-DD), or None."""
    for version in storage.unit_versions(code):
        if version["valid_from"] <= day and (version["valid_to"] is None or version["valid_to"] > day):
            return version
    return None


def open_sites(storage, code: str, day: str, version: dict | None = None) -> list[dict]:
    """The open sites of the version of ``code`` in force on ``day``, first site first."""
    version = version or version_on(storage, code, day)
    if version is None:
        return []
    return [s for s in storage.sites(code) if s["unit_valid_from"] == version["valid_from"]]


def sites_in_force(storage, units: list[dict]) -> dict[str, list[dict]]:
    """For each unit version given (dicts with ``code`` and ``valid_from``), its open sites; one query."""
    wanted = {(u["code"], u["valid_from"]) for u in units}
    out: dict[str, list[dict]] = {u["code"]: [] for u in units}
    for site in storage.sites():
        if (site["unit_code"], site["unit_valid_from"]) in wanted:
            out[site["unit_code"]].append(site)
    return out


def pick_site(storage, code: str, value, day: str) -> dict | None:
    """The site a link names (``?site=<id>``) when it is an open site of ``code`` today, else the
    unit's first site: a forged, old or mistyped id never refuses the citizen's answer."""
    sites = open_sites(storage, code, day)
    wanted = value.strip() if isinstance(value, str) else None
    for site in sites:
        if wanted and str(site["id"]) == wanted:
            return site
    return sites[0] if sites else storage.first_site(code, day)


def reused_codes(storage, units: list[dict]) -> dict[str, dict]:
    """Codes among ``units`` (versions in force) that meant another unit before: code → that earlier version.

    Official codes are reused after a merger (7210 was Phường Hoàng Văn Thụ, then Phường Bắc
    Giang); a code whose earlier version bore another name is marked so no one reads old answers or
    old posters under it as the same place. A new version with the same name (regrouped under
    another parent) is the same unit and is not marked.
    """
    earlier: dict[str, list[dict]] = {}
    for version in storage.unit_versions():
        earlier.setdefault(version["code"], []).append(version)
    out = {}
    for unit in units:
        before = [v for v in earlier.get(unit["code"], ()) if v["valid_from"] < unit["valid_from"]]
        if before:
            last = max(before, key=lambda v: v["valid_from"])
            if last["name"] != unit["name"]:
                out[unit["code"]] = last
    return out


def site_url_query(site: dict, first_id: int | None) -> str:
    """The query a link or poster adds for ``site``: none for the unit's first site (``/s/<code>``
    already means it, and posters printed before sites existed stay right), else ``?site=<id>``."""
    return "" if site["id"] == first_id else f"?site={site['id']}"


def tree_order(units: list[dict]) -> tuple[list[dict], dict[str, int]]:
    """Depth-first order (each district followed by its communes) and each unit's depth.

    Units whose parent is not in the list (a viewer's scope) start their own branch at depth 0.
    """
    codes = {u["code"] for u in units}
    children: dict[str | None, list[dict]] = {}
    for u in units:
        children.setdefault(u["parent_code"] if u["parent_code"] in codes else None, []).append(u)
    ordered: list[dict] = []
    depth: dict[str, int] = {}
    stack = [(u, 0) for u in reversed(children.get(None, []))]
    while stack:
        unit, level = stack.pop()
        ordered.append(unit)
        depth[unit["code"]] = level
        stack.extend((c, level + 1) for c in reversed(children.get(unit["code"], [])))
    return ordered, depth


def hours_text(hours: dict | None) -> str:
    """Office hours in the text form, days in week order and runs of days with the same spans joined
    (``mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30``): what ``parse_office_hours`` reads back."""
    from sync_server.kiosk_config import DAYS

    if not hours:
        return ""
    parts: list[tuple[list[str], list]] = []
    for day in DAYS:
        spans = hours.get(day)
        if not spans:
            continue
        if parts and parts[-1][1] == spans and DAYS.index(parts[-1][0][-1]) == DAYS.index(day) - 1:
            parts[-1][0].append(day)
        else:
            parts.append(([day], spans))
    return "; ".join((f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(run)) + " " + " ".join(f"{a}-{b}" for a, b in spans)
                     for run, spans in parts)
