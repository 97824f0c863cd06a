"""Which stored answers a unit of the tree in force carries: its own, and on request its predecessors'
(issue 13, "History across the reform"; docs/results.md).

A code is not an identity: 7210 was Phường Hoàng Văn Thụ until 1 July 2025 and is Phường Bắc Giang
since, which merged Thọ Xương 7201, Trần Phú 7213, Hoàng Văn Thụ 7210 and others. So answers are
assigned to a **unit version** (``(code, valid_from)``, a key of ``unit_versions``) by the site
they were given at (``sites.unit_code, unit_valid_from``), never by their code alone.

- **A unit's own versions**: its version in force, and the versions it *continues*: an earlier
  version linked to it alone and whole (its only successor, it its only predecessor, not partial):
  a code correction (Tam Sơn 9376 → 9370), a change of name or status (the province becoming a
  city on 20 September 2026), a commune kept whole (Tuấn Đạo 7663 on 1 July 2025). By default a
  unit's figures are the answers given at the sites of its own versions.
- **Reach** of an old version: the units in force it went into (following the links; an old unit
  with no successor went wherever its parent went: the 2023 districts into the province). A
  predecessor counts, in the history view (``history``), for the smallest unit whose area holds its
  whole reach: a commune merged whole into a ward counts for that ward; a commune split among
  several wards (``partial``) counts for none of them (its answers cannot be divided; adding them
  whole to each ward would count the same citizens twice and twice again in every total above) but
  for the unit above them all, and each ward lists it as "một phần" with its figures shown whole.
"""

from __future__ import annotations

from datetime import date, timedelta

from sync_server.days import day_number

Key = tuple[str, str]  # (code, valid_from): one version of a unit
OUTSIDE = "\x00outside"  # in a reach: part of the old unit went somewhere this tree does not hold


def _day_before(iso: str) -> str:
    return (date.fromisoformat(iso) - timedelta(days=1)).isoformat()


class Tree:
    """The units in force on a day, and the unit versions whose answers each one carries.

    ``history`` False (default): each unit carries its own versions; True: also its predecessors
    whose whole reach lies in its area (module docstring). ``versions`` and ``sites`` default to the
    units in force and no sites (a tree built by hand in a test of the scoring alone).
    """

    def __init__(self, units: list[dict], links: list[dict], versions: list[dict] | None = None,
                 sites: list[dict] | None = None, *, history: bool = False):
        self.units = {u["code"]: u for u in units}
        self.order = [u["code"] for u in units]
        self.history = history
        self.children: dict[str, list[str]] = {}
        for u in units:
            if u["parent_code"] in self.units:
                self.children.setdefault(u["parent_code"], []).append(u["code"])
        self.current: dict[str, Key] = {code: (code, u.get("valid_from") or "") for code, u in self.units.items()}
        every = list(versions) if versions is not None else [dict(u, valid_from=u.get("valid_from") or "") for u in units]
        self.versions: dict[Key, dict] = {(v["code"], v["valid_from"]): v for v in every}
        for code, key in self.current.items():
            self.versions.setdefault(key, self.units[code])
        self._by_code: dict[str, list[Key]] = {}
        for key in sorted(self.versions):
            self._by_code.setdefault(key[0], []).append(key)
        self.succ: dict[Key, list[tuple[Key, bool]]] = {}
        self.pred: dict[Key, list[tuple[Key, bool]]] = {}
        for link in links:
            old, new = self._ending(link["from_code"], link["on_date"]), self._starting(link["to_code"], link["on_date"])
            if old is None or new is None or old == new:
                continue
            partial = bool(link.get("partial"))
            self.succ.setdefault(old, []).append((new, partial))
            self.pred.setdefault(new, []).append((old, partial))
        # A code whose version changed with no link either way (a rename or a new parent imported
        # without predecessors) continues itself.
        for keys in self._by_code.values():
            for old, new in zip(keys, keys[1:]):
                if (self.versions[old].get("valid_to") == new[1] and old not in self.succ and new not in self.pred):
                    self.succ[old] = [(new, False)]
                    self.pred[new] = [(old, False)]
        # Own versions: the one in force and the chain of versions it continues alone and whole.
        self.own_versions: dict[str, frozenset[Key]] = {}
        self.home: dict[Key, str] = {}
        for code, key in self.current.items():
            chain, here = [key], key
            while True:
                back = self.pred.get(here, [])
                if len(back) != 1 or back[0][0] in chain or not self.continues(back[0][0], here):
                    break
                here = back[0][0]
                chain.append(here)
            self.own_versions[code] = frozenset(chain)
            for k in chain:
                self.home[k] = code
        self._reach: dict[Key, frozenset[str]] = {}
        self.site_version: dict[int, Key] = {}
        self.sites_of: dict[Key, list[dict]] = {}
        for site in sorted(sites or [], key=lambda s: (s["unit_code"], s["unit_valid_from"], s["position"])):
            key = (site["unit_code"], site["unit_valid_from"])
            self.site_version[site["id"]] = key
            self.sites_of.setdefault(key, []).append(site)
        self._counted: dict[str, frozenset[Key]] = {}
        self._subtree: dict[str, frozenset[str]] = {}
        self._area: dict[str, frozenset[str]] = {}

    @classmethod
    def load(cls, storage, day: date, *, history: bool = False) -> "Tree":
        return cls(storage.units_as_of(day.isoformat()), storage.unit_links(), storage.unit_versions(),
                   storage.sites(include_closed=True), history=history)

    # --- versions -------------------------------------------------------------------------------

    def _ending(self, code: str, day: str) -> Key | None:
        """The version of ``code`` a link on ``day`` leaves: the one ending that day (else the last before)."""
        keys = self._by_code.get(code, [])
        exact = [k for k in keys if self.versions[k].get("valid_to") == day]
        earlier = [k for k in keys if k[1] < day]
        return exact[0] if exact else (earlier[-1] if earlier else None)

    def _starting(self, code: str, day: str) -> Key | None:
        """The version of ``code`` a link on ``day`` enters: the one starting that day (else the one in force)."""
        if (code, day) in self.versions:
            return (code, day)
        return self.in_force(code, day)

    def in_force(self, code: str, day: str) -> Key | None:
        for key in reversed(self._by_code.get(code, [])):
            v = self.versions[key]
            if key[1] <= day and (v.get("valid_to") is None or v["valid_to"] > day):
                return key
        return None

    def version_of(self, code: str, site_id: int | None) -> Key | None:
        """The version an answer stored under ``code`` at ``site_id`` belongs to: its site's; an answer
        with no site recorded (0) belongs to the code's version in force (else its newest)."""
        key = self.site_version.get(site_id) if site_id else None
        if key is not None and key[0] == code:
            return key
        if code in self.current:
            return self.current[code]
        keys = self._by_code.get(code)
        return keys[-1] if keys else None

    def reach(self, key: Key) -> frozenset[str]:
        """The units in force that the version ``key`` went into (itself, when it is in force)."""
        found = self._reach.get(key)
        if found is not None:
            return found
        self._reach[key] = frozenset()  # a loop in the links reaches nothing more
        v = self.versions.get(key)
        if v is None:
            out: frozenset[str] = frozenset()
        elif self.current.get(key[0]) == key:
            out = frozenset([key[0]])
        elif self.succ.get(key):
            nexts = self.succ[key]
            out = frozenset().union(*(self.reach(k) for k, _ in nexts))
            if len(nexts) == 1 and nexts[0][1]:
                out |= {OUTSIDE}  # split, and only this part is in the tree
        elif v.get("valid_to") and v.get("parent_code"):  # ended without successor: went where its parent went
            parent = self.in_force(v["parent_code"], _day_before(v["valid_to"]))
            out = self.reach(parent) if parent is not None else frozenset()
        else:
            out = frozenset()  # a version starting after the tree's day
        self._reach[key] = out
        return out

    def area(self, code: str) -> frozenset[str]:
        found = self._area.get(code)
        if found is None:
            found = self._area[code] = frozenset([code, *self.descendants(code)])
        return found

    def counted(self, code: str) -> frozenset[Key]:
        """The versions whose answers count in ``code``'s (pooled) figures."""
        found = self._counted.get(code)
        if found is None:
            area = self.area(code)
            keys = set(self.own_area(code))
            if self.history:
                keys.update(k for k in self.versions if k not in self.home and self.reach(k) and self.reach(k) <= area)
            found = self._counted[code] = frozenset(keys)
        return found

    def own_area(self, code: str) -> frozenset[Key]:
        """The versions ``code``'s default figures hold: the own versions of every unit of its area."""
        return frozenset().union(*(self.own_versions[c] for c in self.area(code)))

    def predecessors(self, code: str) -> list[dict]:
        """Old versions that went into ``code`` itself (not through a unit below it), oldest first:
        ``key, code, name, level, parent_code, valid_from, valid_to``, ``partial`` (its answers went
        elsewhere too: shown whole, not added here), ``also`` (the other units in force it went into)
        and ``counted`` (whether ``code``'s history figures hold it)."""
        area = self.area(code)
        out = []
        for key, v in self.versions.items():
            if key in self.own_versions[code] or key in self.home:
                continue
            reach = self.reach(key)
            if code not in reach:
                continue
            out.append({"key": key, "code": key[0], "name": v["name"], "level": v["level"], "parent_code": v["parent_code"],
                        "valid_from": v["valid_from"], "valid_to": v.get("valid_to"), "partial": not reach <= area,
                        "also": sorted(c for c in reach - {code} if c != OUTSIDE), "outside": OUTSIDE in reach,
                        "counted": reach <= area})
        return sorted(out, key=lambda p: (p["valid_to"] or "", p["code"], p["valid_from"]))

    def exact(self, code: str, present: set[tuple[str, int]]) -> bool:
        """Whether reading ``code``'s stored codes gives exactly its answers in the window (no other
        version of those codes has answers there), so rollups without a site can be read by code."""
        counted = self.counted(code)
        codes = self.stored_codes(code)
        return all(self.version_of(c, s) in counted for c, s in present if c in codes)

    def continues(self, old: Key, new: Key) -> bool:
        """Whether ``new`` continues ``old`` alone and whole (each the other's only link, not partial)."""
        nexts, backs = self.succ.get(old, []), self.pred.get(new, [])
        return len(nexts) == 1 and len(backs) == 1 and nexts[0] == (new, False) and backs[0][0] == old

    def changes(self) -> list[str]:
        """Days on which the units were reorganised (a merge, a split, a unit closed or opened), not
        counting continuations (a new code, name or status for the same unit), oldest first."""
        first = min((k[1] for k in self.versions), default="")
        days = set()
        for old, nexts in self.succ.items():
            days.update(new[1] for new, _ in nexts if not self.continues(old, new))
        for key, v in self.versions.items():
            if v.get("valid_to") and key not in self.succ:
                days.add(v["valid_to"])
            if key[1] != first and key not in self.pred:
                days.add(key[1])
        return sorted(days)

    # --- the tree in force ---------------------------------------------------------------------

    def root(self) -> str | None:
        return next((c for c in self.order if self.units[c]["level"] == "province"), None)

    def descendants(self, code: str) -> list[str]:
        out, stack = [], list(reversed(self.children.get(code, [])))
        while stack:
            here = stack.pop()
            out.append(here)
            stack.extend(reversed(self.children.get(here, [])))
        return out

    def stored_codes(self, code: str) -> frozenset[str]:
        """Stored unit codes whose answers may count for ``code`` (its counted versions' codes): the
        filter a rollup query takes; answers of other versions of the same codes are told apart by site."""
        found = self._subtree.get(code)
        if found is None:
            found = self._subtree[code] = frozenset(k[0] for k in self.counted(code))
        return found

    def read_codes(self, code: str) -> frozenset[str]:
        """:meth:`stored_codes`, plus in the history view the codes of the predecessors it lists."""
        if not self.history:
            return self.stored_codes(code)
        return self.stored_codes(code) | {p["code"] for p in self.predecessors(code)}

    def parent(self, code: str) -> str | None:
        parent = self.units[code]["parent_code"]
        return parent if parent in self.units else None

    def path(self, code: str) -> list[str]:
        chain = []
        while code is not None:
            chain.append(code)
            code = self.parent(code)
        return list(reversed(chain))
