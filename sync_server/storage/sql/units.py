"""Portable SQL: units with history, successor links, office hours."""

from __future__ import annotations

import json


from sync_server.storage.areas import UnitsArea
from sync_server.storage.types import ImportReport, UnitRelease
from sync_server.unit_files import plan_release, tree_key

_COLS = "code, name, level, parent_code, valid_from, valid_to"


class SQLUnits(UnitsArea):
    def units(self) -> list[dict]:
        return sorted((dict(r) for r in self._conn().execute(f"SELECT {_COLS} FROM units")), key=tree_key)

    def unit(self, code: str) -> dict | None:
        row = self._conn().execute(f"SELECT {_COLS}, office_hours FROM units WHERE code = ?", (code,)).fetchone()
        if row is None:
            return None
        unit = dict(row)
        unit["office_hours"] = json.loads(unit["office_hours"]) if unit["office_hours"] else None
        return unit

    def unit_versions(self, code: str | None = None) -> list[dict]:
        if code is None:
            rows = self._conn().execute(f"SELECT {_COLS} FROM unit_versions ORDER BY valid_from, code").fetchall()
        else:
            rows = self._conn().execute(f"SELECT {_COLS} FROM unit_versions WHERE code = ? ORDER BY valid_from", (code,)).fetchall()
        return [dict(r) for r in rows]

    def units_as_of(self, day: str) -> list[dict]:
        rows = self._conn().execute(
            f"SELECT {_COLS} FROM unit_versions WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)", (day, day))
        return sorted((dict(r) for r in rows), key=tree_key)

    def import_unit_release(self, release: UnitRelease, *, dry_run: bool = False) -> ImportReport:
        def tx(c) -> ImportReport:
            current = [dict(r) for r in c.execute(f"SELECT {_COLS} FROM unit_versions WHERE valid_to IS NULL")]
            links = {tuple(r) for r in c.execute("SELECT from_code, to_code, on_date FROM unit_links")}
            ended = {r[0] for r in c.execute("SELECT code FROM unit_versions WHERE valid_to = ?", (release.valid_from,))}
            for u in release.units:  # a predecessor named with its version must be that version
                for p in u.get("predecessors", []):
                    if p.get("valid_from") and c.execute("SELECT 1 FROM unit_versions WHERE code = ? AND valid_from = ?",
                                                         (p["code"], p["valid_from"])).fetchone() is None:
                        raise ValueError(f"{u['code']}: predecessor {p['code']} has no version from {p['valid_from']}")
            plan = plan_release(current, links, release, ended)
            if dry_run:
                return plan.report
            day = plan.day
            for code in plan.close_codes:
                c.execute("UPDATE unit_versions SET valid_to = ? WHERE code = ? AND valid_to IS NULL", (day, code))
                c.execute("UPDATE units SET valid_to = ? WHERE code = ?", (day, code))
            for v in plan.open_versions:
                c.execute("INSERT INTO unit_versions (code, valid_from, valid_to, name, level, parent_code) VALUES (?, ?, NULL, ?, ?, ?)",
                          (v["code"], day, v["name"], v["level"], v["parent_code"]))
                c.execute("INSERT INTO units (code, name, level, parent_code, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, NULL) "
                          "ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                          "parent_code = excluded.parent_code, valid_from = excluded.valid_from, valid_to = NULL",
                          (v["code"], v["name"], v["level"], v["parent_code"], day))
                # Every unit version has at least one site: its implicit point (issue 13).
                c.execute("INSERT INTO sites (unit_code, unit_valid_from, position, name, created_at) VALUES (?, ?, 1, ?, ?)",
                          (v["code"], day, v["name"], day))
            c.executemany("INSERT INTO unit_links (from_code, to_code, on_date, partial) VALUES (?, ?, ?, ?)",
                          [(a, b, day, int(partial)) for a, b, partial in plan.links])
            return plan.report
        return self._write(tx)

    def add_unit_link(self, from_code: str, to_code: str, on_date: str) -> None:
        def tx(c) -> None:
            ends = c.execute("SELECT 1 FROM unit_versions WHERE code = ? AND valid_to = ?", (from_code, on_date)).fetchone()
            starts = c.execute("SELECT 1 FROM unit_versions WHERE code = ? AND valid_from = ?", (to_code, on_date)).fetchone()
            if not ends or not starts:
                raise ValueError(f"a link needs a version of {from_code} ending and one of {to_code} starting on {on_date}")
            c.execute("INSERT INTO unit_links (from_code, to_code, on_date) VALUES (?, ?, ?) "
                      "ON CONFLICT (from_code, to_code, on_date) DO NOTHING", (from_code, to_code, on_date))
        self._write(tx)

    def unit_links(self, code: str | None = None) -> list[dict]:
        if code is None:
            rows = self._conn().execute("SELECT from_code, to_code, on_date, partial FROM unit_links ORDER BY on_date, from_code, to_code")
        else:
            rows = self._conn().execute("SELECT from_code, to_code, on_date, partial FROM unit_links WHERE from_code = ? OR to_code = ? "
                                        "ORDER BY on_date, from_code, to_code", (code, code))
        return [dict(r) for r in rows]

    def unit_lineage(self, code: str, direction: str = "successors") -> list[dict]:
        if direction not in ("successors", "predecessors"):
            raise ValueError("direction is 'successors' or 'predecessors'")
        near, far = ("from_code", "to_code") if direction == "successors" else ("to_code", "from_code")
        conn = self._conn()
        # Keyed by (code, on_date): a reused code links one version of itself to the next.
        found: dict[tuple[str, str], dict] = {}
        frontier, depth = [code], 0
        while frontier:
            depth += 1
            step = []
            for here in frontier:
                for row in conn.execute(f"SELECT {far} AS code, on_date FROM unit_links WHERE {near} = ?", (here,)):
                    key = (row["code"], row["on_date"])
                    if key not in found:
                        found[key] = {"code": row["code"], "on_date": row["on_date"], "depth": depth}
                        if row["code"] != here:
                            step.append(row["code"])
            frontier = step
        return sorted(found.values(), key=lambda r: (r["depth"], r["on_date"], r["code"]))

    def subtree_codes(self, code: str) -> set[str]:
        children: dict[str, set[str]] = {}
        for row in self._conn().execute("SELECT DISTINCT code, parent_code FROM unit_versions WHERE parent_code IS NOT NULL"):
            children.setdefault(row["parent_code"], set()).add(row["code"])
        found, stack = {code}, [code]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def set_office_hours(self, code: str | None, hours: dict | None) -> None:
        if code is None:
            self.set_config("office_hours", hours)
            return
        value = json.dumps(hours, sort_keys=True) if hours is not None else None
        self._write(lambda c: c.execute("UPDATE units SET office_hours = ? WHERE code = ?", (value, code)))

    def office_hours(self, code: str) -> dict | None:
        conn = self._conn()
        seen: set[str] = set()
        while code is not None and code not in seen:
            seen.add(code)
            row = conn.execute("SELECT parent_code, office_hours FROM units WHERE code = ?", (code,)).fetchone()
            if row is None:
                break
            if row["office_hours"]:
                return json.loads(row["office_hours"])
            code = row["parent_code"]
        return self.get_config("office_hours")
