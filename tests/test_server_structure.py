"""Today's structure beside the 2023 one (issue 13): a fresh database holds both shipped trees with
their validity dates; the 2026 file imports over a 2023 database with its counts; every 2023
commune reaches a unit in force today; a reused code is another unit. The real CLI on real
database files (SQLite; PostgreSQL on the second pass).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

from tests.support import ROOT, server_db_location

TODAY = "2026-12-01"


def cli(db, *args, seed="all") -> subprocess.CompletedProcess:
    env = {**os.environ, "HAILONG_SERVER_SEED_UNITS": seed}
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=120)


def units_on(db, day: str, seed="all") -> list[dict]:
    return json.loads(cli(db, "units", "--json", "--on", day, seed=seed).stdout)


def test_a_fresh_database_holds_both_trees_with_their_dates(tmp_path):
    db = server_db_location(tmp_path, seed="all")
    old = units_on(db, "2023-06-28")
    assert len([u for u in old if u["level"] != "province"]) == 220
    assert next(u for u in old if u["code"] == "24")["name"] == "Tỉnh Bắc Giang"
    today = units_on(db, TODAY)
    levels = Counter(u["level"] for u in today)
    assert levels == {"commune": 99, "province": 1, "centre": 1}
    assert Counter(u["name"].split()[0] for u in today if u["level"] == "commune") == {"Xã": 66, "Phường": 33}
    assert next(u for u in today if u["code"] == "24")["name"] == "Thành phố Bắc Ninh"
    assert not [u for u in today if u["level"] == "district"]  # no districts since 1 July 2025
    # A code is not an identity: 7210 was Hoàng Văn Thụ, and is Phường Bắc Giang, a unit of its own.
    versions = [u for u in json.loads(cli(db, "units", "--json").stdout) if u["code"] == "7210"]
    assert [(v["name"], v["valid_from"], v["valid_to"]) for v in versions] == [
        ("Phường Hoàng Văn Thụ", "2023-01-01", "2025-07-01"), ("Phường Bắc Giang", "2025-07-01", None)]
    preds = {p["code"] for p in versions[1]["predecessors"]}
    assert {"7201", "7210", "7213"} <= preds


def test_every_2023_commune_reaches_a_unit_in_force_today(tmp_path):
    db = server_db_location(tmp_path, seed="all")
    every = json.loads(cli(db, "units", "--json").stdout)
    in_force = {u["code"] for u in units_on(db, TODAY)}
    successors: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for v in every:
        for p in v["predecessors"]:
            successors.setdefault((p["code"], p["valid_from"]), set()).add((v["code"], v["valid_from"]))
    old = [u for u in units_on(db, "2023-06-28") if u["level"] == "commune"]
    lost, thox = [], None
    for u in old:
        frontier, seen, reached = [(u["code"], u["valid_from"])], set(), set()
        while frontier:
            key = frontier.pop()
            if key in seen:
                continue
            seen.add(key)
            nxt = successors.get(key, set())
            if not nxt and key[0] in in_force and key != (u["code"], u["valid_from"]):
                reached.add(key[0])
            frontier.extend(nxt)
        current = {code for code, since in seen if code in in_force and since >= "2025-07-01"}
        if not current:
            lost.append(u["code"])
        if u["code"] == "7201":
            thox = current
    assert lost == []
    assert thox == {"7210"}  # Thọ Xương went wholly into Phường Bắc Giang, and into no other ward


def test_the_2026_file_imports_over_a_2023_database_with_its_counts(tmp_path):
    db = server_db_location(tmp_path, seed="2023")
    units_on(db, "2023-06-28", seed="2023")  # creates the 2023-only database
    out = cli(db, "import-units", "assets/units/bac_ninh_2026.json", "--json", seed="2023").stdout.strip().splitlines()
    reports = [json.loads(line) for line in out]
    assert [r["valid_from"] for r in reports] == ["2025-07-01", "2026-01-07", "2026-09-20"]
    first = reports[0]
    assert (len(first["added"]), len(first["changed"]), len(first["closed"])) == (41, 60, 161)
    assert len(first["reused"]) == 45 and "7210" in first["reused"]
    assert reports[1]["links"] == 3  # the three 2026 code corrections
    assert units_on(db, TODAY, seed="2023") == units_on(server_db_location(tmp_path / "fresh", seed="all"), TODAY)
