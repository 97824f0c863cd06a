"""What a viewer's unit covers: unit *versions*, not codes (issue 13).

A code is not an identity: 7210 was Phường Hoàng Văn Thụ until 1 July 2025 and is Phường Bắc
Giang since. A viewer of the 2023 city of Bắc Giang (district 213) sees Hoàng Văn Thụ's answers,
not today's ward's; a viewer of today's Phường Bắc Giang sees its own answers and those of the
communes that went into it (Thọ Xương 7201, Hoàng Văn Thụ 7210, …): their history is its history.

- **The viewer's unit** is the version of their account's code in force today, or its last one
  when the code no longer exists (a 2023 district's account sees that district as it was).
- **Its subtree**: the versions whose parent is a covered version and whose validity overlaps it.
- **Its history**: every version linked into a covered version (``unit_links``: ``from`` ended the
  day ``to`` began), followed back through every reform (2023 → 1 January 2025 → 1 July 2025).

:class:`Scope` is the set of *codes* whose version of today is covered (what a page asks of a live
object: an officer, a kiosk, an alert, a unit in force), and carries the covered ``versions`` and
every code with a covered version (``read``: what a query of stored answers reads before each
answer is placed at its site's version).
"""

from __future__ import annotations

from datetime import datetime

Key = tuple[str, str]  # (code, valid_from)


class Scope(frozenset):
    """Codes whose version in force today (or last version) the viewer covers; see the module."""

    versions: frozenset
    read: frozenset

    def __new__(cls, live, versions, read):
        scope = super().__new__(cls, live)
        scope.versions = frozenset(versions)
        scope.read = frozenset(read)
        return scope

    def covers(self, code: str, valid_from: str | None) -> bool:
        """The unit version ``(code, valid_from)`` is the viewer's."""
        return (code, valid_from or "") in self.versions

    def covers_site(self, site: dict) -> bool:
        return self.covers(site["unit_code"], site["unit_valid_from"])


def read_codes(scope) -> set[str] | None:
    """The stored codes a query within ``scope`` reads (None: the whole province). A plain set of
    codes (a test's, or an older caller's) reads those codes."""
    if scope is None:
        return None
    return set(getattr(scope, "read", scope))


def covers_version(scope, code: str, valid_from: str | None) -> bool:
    """``scope`` (None: everything; a plain set: by code) covers that unit version."""
    if scope is None:
        return True
    if isinstance(scope, Scope):
        return scope.covers(code, valid_from)
    return code in scope


def answers_in_scope(storage, scope, since: int, limit: int) -> tuple[list[dict], int | None]:
    """Stored answers after ``since`` (server order, at most ``limit`` read) that ``scope`` covers, and
    the last server sequence number read (None: nothing more): an answer belongs to the unit version
    of the site it was given at, so a reused code's other meaning is left out."""
    rows = storage.answers_after(since, limit, read_codes(scope))
    last = rows[-1]["server_seq"] if rows else None
    if isinstance(scope, Scope):
        sites = {s["id"]: s for s in storage.sites(include_closed=True)}
        rows = [a for a in rows if (a["unit_code"] in scope if sites.get(a["site_id"]) is None
                                    else scope.covers_site(sites[a["site_id"]]))]
    return rows, last


def _current(versions: list[dict], code: str, day: str) -> dict | None:
    mine = [v for v in versions if v["code"] == code]
    for v in mine:
        if v["valid_from"] <= day and (v["valid_to"] is None or v["valid_to"] > day):
            return v
    return max(mine, key=lambda v: v["valid_from"]) if mine else None


def _overlap(a: dict, b: dict) -> bool:
    return (a["valid_to"] is None or b["valid_from"] < a["valid_to"]) and (b["valid_to"] is None or a["valid_from"] < b["valid_to"])


def unit_scope(versions: list[dict], links: list[dict], code: str, day: str) -> Scope:
    """The scope of a viewer of ``code`` on ``day`` (ISO), from every unit version and link."""
    root = _current(versions, code, day)
    if root is None:
        return Scope((), (), ())
    children: dict[str, list[dict]] = {}
    for v in versions:
        if v["parent_code"]:
            children.setdefault(v["parent_code"], []).append(v)
    ending: dict[tuple[str, str], dict] = {(v["code"], v["valid_to"]): v for v in versions if v["valid_to"]}
    into: dict[Key, list[str]] = {}
    for link in links:
        into.setdefault((link["to_code"], link["on_date"]), []).append(link["from_code"])
    covered: dict[Key, dict] = {}
    stack = [root]
    while stack:
        v = stack.pop()
        key = (v["code"], v["valid_from"])
        if key in covered:
            continue
        covered[key] = v
        stack.extend(c for c in children.get(v["code"], ()) if _overlap(v, c))
        stack.extend(ending[(old, v["valid_from"])] for old in into.get(key, ()) if (old, v["valid_from"]) in ending)
    read = {k[0] for k in covered}
    live = set()
    for c in read:
        today = _current(versions, c, day)
        if today is not None and (c, today["valid_from"]) in covered:
            live.add(c)
    return Scope(live, covered, read)


def viewer_scope(storage, code: str, now: datetime | None = None, utc_offset_h: float = 7.0) -> Scope:
    """:func:`unit_scope` of ``code`` today in the province."""
    from sync_server.kiosk_config import province_today

    return unit_scope(storage.unit_versions(), storage.unit_links(), code, province_today(utc_offset_h, now))
