"""Service points as they are (issue 13): sites and counters, kiosks enrolled to a site, answers that
record their site, the unit listing with validity and predecessors, and schema step 9 with data in
place. Real database files (SQLite; PostgreSQL on the second pass), the real CLI, a real server.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import SyncService, enroll
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS
from tests.support import server_cli

QREF = {"id": "bg-friendly-gov", "version": 1}


def cli_json(db, *args):
    return json.loads(server_cli(db, *args).stdout)


def test_units_on_a_day_lists_the_220_points_of_the_article(server):
    units = cli_json(server.db, "units", "--json", "--on", "2023-06-28")
    points = [u for u in units if u["level"] != "province"]
    assert len(points) == 220
    assert {"code", "name", "level", "parent_code", "valid_from", "valid_to", "predecessors"} <= set(units[0])
    assert all(u["valid_from"] <= "2023-06-28" and (u["valid_to"] is None or u["valid_to"] > "2023-06-28") for u in units)
    assert cli_json(server.db, "units", "--json", "--on", "2019-01-01") == []
    bad = __import__("subprocess").run(
        [__import__("sys").executable, "-m", "sync_server.cli", "--db", str(server.db), "units", "--on", "31/02/2023"],
        capture_output=True, text=True)
    assert bad.returncode == 2 and "--on" in bad.stderr


def test_every_unit_starts_with_one_site_and_a_second_site_has_counters(server):
    (first,) = cli_json(server.db, "sites", "--json", "--unit", "7201")
    assert first["unit_code"] == "7201" and first["position"] == 1 and first["counters"] == []
    added = server_cli(server.db, "site-add", "--unit", "7201", "--name", "Điểm tiếp nhận số 2 — Nhà văn hoá tổ 5",
                       "--hotline", "0204 3 111 222").stdout.strip().splitlines()[-1]
    server_cli(server.db, "counter-add", "--site", added, "--code", "1", "--name", "Quầy 1 — Tư pháp, hộ tịch")
    server_cli(server.db, "counter-add", "--site", added, "--code", "2", "--name", "Quầy 2 — Đất đai")
    sites = cli_json(server.db, "sites", "--json", "--unit", "7201")
    assert [s["position"] for s in sites] == [1, 2]
    assert sites[1]["id"] == int(added) and [c["code"] for c in sites[1]["counters"]] == ["1", "2"]


def test_a_kiosk_enrolled_to_a_site_and_counter_says_so_and_its_answers_keep_the_site(server, tmp_path):
    site = int(server_cli(server.db, "site-add", "--unit", "7201", "--name", "Điểm 2", "--hotline", "0204 9 999 999",
                          "--public-url", "https://hailong.bacninh.gov.vn").stdout.split()[-1])
    server_cli(server.db, "counter-add", "--site", str(site), "--code", "3", "--name", "Quầy 3")
    code = server_cli(server.db, "enroll-code", "--unit", "7201", "--site", str(site), "--counter", "3").stdout.split()[-1]
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, server.url, code, "Quầy 3")
    config = store.get_meta("config")
    assert config["site"] == {"id": site, "name": "Điểm 2", "address": None, "counter": "3", "counter_name": "Quầy 3"}
    assert config["settings"]["hotline"] == "0204 9 999 999"
    assert config["settings"]["public_base_url"] == "https://hailong.bacninh.gov.vn"
    store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    assert SyncService(store, kiosk_settings.load(tmp_path)).run_round(force=True)["sent"] == 1

    storage = open_storage(server.db)
    try:
        assert [r[0] for r in storage._conn().execute("SELECT site_id FROM responses")] == [site]
    finally:
        storage.close()
    store.close()


def test_enrolment_codes_refuse_another_units_site_and_an_unknown_counter(server):
    other = next(s["id"] for s in cli_json(server.db, "sites", "--json") if s["unit_code"] != "7201")
    for args in (("--site", str(other)), ("--site", "999999"), ("--counter", "9")):
        out = __import__("subprocess").run(
            [__import__("sys").executable, "-m", "sync_server.cli", "--db", str(server.db), "enroll-code", "--unit", "7201", *args],
            capture_output=True, text=True)
        assert out.returncode == 2 and out.stderr.startswith("hailong-server:"), out
    # Without --site: the unit's first site, as before sites existed.
    assert server_cli(server.db, "enroll-code", "--unit", "7201").stdout.strip()


@pytest.mark.sqlite_only  # builds a step-8 file by hand; PostgreSQL databases start at the current schema
def test_a_step_8_database_upgrades_and_every_answer_gains_the_site_of_its_unit_version(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for step in MIGRATIONS[:8]:
        for statement in step:
            conn.execute(statement if isinstance(statement, str) else statement.sqlite)
    # A code reused with another meaning (2025): 7210 was Hoàng Văn Thụ, then Phường Bắc Giang.
    for code, start, end, name in (("24", "2023-01-01", None, "Tỉnh Bắc Giang"),
                                   ("7210", "2023-01-01", "2025-07-01", "Phường Hoàng Văn Thụ"),
                                   ("7210", "2025-07-01", None, "Phường Bắc Giang"),
                                   ("7201", "2023-01-01", "2025-07-01", "Phường Thọ Xương")):
        conn.execute("INSERT INTO unit_versions (code, valid_from, valid_to, name, level, parent_code) VALUES (?, ?, ?, ?, ?, ?)",
                     (code, start, end, name, "province" if code == "24" else "commune", None if code == "24" else "24"))
    for code, start, end, name in (("24", "2023-01-01", None, "Tỉnh Bắc Giang"), ("7210", "2025-07-01", None, "Phường Bắc Giang"),
                                   ("7201", "2023-01-01", "2025-07-01", "Phường Thọ Xương")):
        conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?)",
                     (code, name, "province" if code == "24" else "commune", None if code == "24" else "24", start, end))
    conn.execute("INSERT INTO unit_links (from_code, to_code, on_date) VALUES ('7201', '7210', '2025-07-01')")
    conn.execute("INSERT INTO devices (id, unit_code, name, token_hash, enrolled_at) VALUES "
                 "('dev-old', '7210', 'Quầy 1', 'h1', '2024-03-01T08:00:00+07:00'), "
                 "('dev-new', '7210', 'Quầy 1', 'h2', '2025-09-01T08:00:00+07:00')")
    answers = [("r-2024", "7210", "2024-05-05T09:00:00+07:00", 1714874400000),
               ("r-edge", "7210", "2025-07-01T00:30:00+07:00", 1751304600000),   # 30 min into the new structure
               ("r-2025", "7210", "2025-08-01T09:00:00+07:00", 1754013600000),
               ("r-thox", "7201", "2024-01-02T09:00:00+07:00", 1704160800000)]
    for i, (rid, unit, created, ms) in enumerate(answers, 1):
        conn.execute("INSERT INTO responses (id, content_hash, unit_code, questionnaire_id, questionnaire_version, channel, seq, "
                     "created_at, created_ms, received_at, answers, flags, placed_ms) VALUES (?, 'c', ?, 'bg-friendly-gov', 1, "
                     "'kiosk', ?, ?, ?, ?, '{\"overall\": 5}', '[]', ?)", (rid, unit, i, created, ms, created, ms))
    conn.execute("PRAGMA user_version = 8")
    conn.close()

    storage = open_storage(path)
    try:
        assert storage._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 9
        sites = {(s["unit_code"], s["unit_valid_from"]): s for s in storage.sites(include_closed=True)}
        old, new = sites[("7210", "2023-01-01")], sites[("7210", "2025-07-01")]
        assert old["name"] == "Phường Hoàng Văn Thụ" and new["name"] == "Phường Bắc Giang"
        got = dict(storage._conn().execute("SELECT id, site_id FROM responses").fetchall())
        assert got == {"r-2024": old["id"], "r-edge": new["id"], "r-2025": new["id"],
                       "r-thox": sites[("7201", "2023-01-01")]["id"]}
        assert storage.response_count() == 4  # nothing lost, each answer keeps its unit
        assert {r[0]: r[1] for r in storage._conn().execute("SELECT id, unit_code FROM responses")} == \
            {rid: unit for rid, unit, _, _ in answers}
        devices = dict(storage._conn().execute("SELECT id, site_id FROM devices").fetchall())
        assert devices == {"dev-old": old["id"], "dev-new": new["id"]}
        assert storage.unit_links("7201")[0]["partial"] == 0
    finally:
        storage.close()


def test_site_edit_renames_and_refuses_an_unknown_site_or_an_empty_name(server):
    (first,) = cli_json(server.db, "sites", "--json", "--unit", "7201")
    server_cli(server.db, "site-edit", "--site", str(first["id"]), "--name", "Bộ phận một cửa phường Thọ Xương",
               "--hotline", "0204 3 854 111")
    (after,) = cli_json(server.db, "sites", "--json", "--unit", "7201")
    assert after["name"] == "Bộ phận một cửa phường Thọ Xương" and after["hotline"] == "0204 3 854 111"
    for args in (("--site", "999999", "--name", "x"), ("--site", str(first["id"]), "--name", "  ")):
        out = __import__("subprocess").run([__import__("sys").executable, "-m", "sync_server.cli", "--db", str(server.db),
                                            "site-edit", *args], capture_output=True, text=True)
        assert out.returncode == 2 and out.stderr.startswith("hailong-server:")


def test_site_close_and_counter_close_on_the_command_line(server):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(server.db), *args], capture_output=True, text=True)

    (first,) = cli_json(server.db, "sites", "--json", "--unit", "7201")
    refused = run("site-close", "--site", str(first["id"]))
    assert refused.returncode == 2 and "last open site" in refused.stderr
    second = int(server_cli(server.db, "site-add", "--unit", "7201", "--name", "Cơ sở 2").stdout.strip().splitlines()[-1])
    server_cli(server.db, "counter-add", "--site", str(second), "--code", "Q1", "--name", "Quầy 1")
    assert run("counter-close", "--site", str(second), "--code", "Q9").returncode == 2
    assert run("counter-close", "--site", str(second), "--code", "Q1").returncode == 0
    assert {s["id"]: s["counters"] for s in cli_json(server.db, "sites", "--json", "--unit", "7201")}[second] == []
    done = run("site-close", "--site", str(second))
    assert done.returncode == 0 and "Đã đóng điểm" in done.stdout
    assert [s["id"] for s in cli_json(server.db, "sites", "--json", "--unit", "7201")] == [first["id"]]


# --- issue 13 follow-up: the command line follows the structure in force --------------------------

def _run_today(db, *args):
    """The real CLI on a database holding both shipped trees (today's structure: Bắc Ninh, no districts)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HAILONG_SERVER_SEED_UNITS": "all"}
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def _sites_today(db, unit):
    out = _run_today(db, "sites", "--json", "--unit", unit)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_enroll_code_refuses_an_ended_unit_an_ended_versions_site_and_a_closed_site(tmp_path):
    from tests.support import server_db_location

    db = server_db_location(tmp_path, seed="all")
    ended_unit = _run_today(db, "enroll-code", "--unit", "213")  # Thành phố Bắc Giang, a district until 2025-07-01
    assert ended_unit.returncode == 2 and ended_unit.stdout == "", ended_unit
    assert ended_unit.stderr.startswith("hailong-server:") and "213" in ended_unit.stderr and "2025-07-01" in ended_unit.stderr
    assert _run_today(db, "enroll-code", "--unit", "7201").returncode == 2  # Phường Thọ Xương, merged into Phường Bắc Giang

    sites = _sites_today(db, "7210")
    (old,) = [s for s in sites if s["valid_to"] == "2025-07-01"]  # Phường Hoàng Văn Thụ's point under the same code
    (today,) = [s for s in sites if s["valid_to"] is None]
    assert old["name"] == "Phường Hoàng Văn Thụ" and today["name"] == "Phường Bắc Giang"
    at_old = _run_today(db, "enroll-code", "--unit", "7210", "--site", str(old["id"]))
    assert at_old.returncode == 2 and at_old.stdout == "", at_old
    assert "earlier version" in at_old.stderr and str(today["id"]) in at_old.stderr  # says why, and which sites are open

    second = int(_run_today(db, "site-add", "--unit", "7210", "--name", "Cơ sở 2").stdout.split()[-1])
    assert _run_today(db, "site-close", "--site", str(second)).returncode == 0
    closed = _run_today(db, "enroll-code", "--unit", "7210", "--site", str(second))
    assert closed.returncode == 2 and "closed" in closed.stderr and closed.stdout == ""

    # What keeps working: the unit's first open site in force, or a named open site of it.
    fine = _run_today(db, "enroll-code", "--unit", "7210")
    assert fine.returncode == 0 and "Phường Bắc Giang" in fine.stdout and "Hoàng Văn Thụ" not in fine.stdout
    assert _run_today(db, "enroll-code", "--unit", "7210", "--site", str(today["id"])).returncode == 0
    storage = open_storage(db)
    try:  # only the two accepted codes were stored, both at today's site
        rows = storage._conn().execute("SELECT unit_code, site_id FROM enroll_codes ORDER BY site_id").fetchall()
        assert [tuple(r) for r in rows] == [("7210", today["id"]), ("7210", today["id"])]
    finally:
        storage.close()


def test_site_close_is_refused_while_a_kiosk_is_enrolled_there(server):
    import requests

    second = int(server_cli(server.db, "site-add", "--unit", "7201", "--name", "Cơ sở 2").stdout.split()[-1])
    code = server_cli(server.db, "enroll-code", "--unit", "7201", "--site", str(second)).stdout.split()[-1]
    resp = requests.post(server.url + "/api/v1/enroll", json={"code": code, "name": "Quầy 1"}, timeout=10)
    assert resp.status_code == 201, resp.text
    refused = _run_today(server.db, "site-close", "--site", str(second))
    assert refused.returncode == 2 and "enrolled kiosk" in refused.stderr, refused
    assert second in [s["id"] for s in cli_json(server.db, "sites", "--json", "--unit", "7201")]  # still open
    server_cli(server.db, "revoke-device", "--device", resp.json()["device_id"])
    assert _run_today(server.db, "site-close", "--site", str(second)).returncode == 0
    assert second not in [s["id"] for s in cli_json(server.db, "sites", "--json", "--unit", "7201")]


def test_sites_json_tells_ended_and_closed_sites_apart_and_refuses_an_unknown_unit(tmp_path):
    from tests.support import server_db_location

    db = server_db_location(tmp_path, seed="all")
    sites = _sites_today(db, "7210")
    assert all({"id", "unit_code", "name", "counters", "valid_to", "closed_at"} <= set(s) for s in sites)
    assert sorted((s["name"], s["valid_to"]) for s in sites) == [("Phường Bắc Giang", None),
                                                                 ("Phường Hoàng Văn Thụ", "2025-07-01")]
    second = int(_run_today(db, "site-add", "--unit", "7210", "--name", "Cơ sở 2").stdout.split()[-1])
    _run_today(db, "site-close", "--site", str(second))
    assert second not in [s["id"] for s in _sites_today(db, "7210")]
    listed = json.loads(_run_today(db, "sites", "--json", "--unit", "7210", "--include-closed").stdout)
    (gone,) = [s for s in listed if s["id"] == second]
    assert gone["closed_at"] and gone["valid_to"] is None
    unknown = _run_today(db, "sites", "--json", "--unit", "9999")
    assert unknown.returncode == 2 and "9999" in unknown.stderr and unknown.stdout == ""


def test_stats_keeps_the_two_units_of_a_reused_code_apart(tmp_path, monkeypatch):
    from datetime import datetime

    from tests import results_fixture as fx
    from tests.support import server_db_location

    db = server_db_location(tmp_path, seed="all")
    monkeypatch.setenv("HAILONG_SERVER_SEED_UNITS", "all")
    storage = open_storage(db)
    try:
        old_day, new_day = datetime(2023, 6, 27, 9, 0, tzinfo=fx.TZ), datetime(2025, 9, 10, 9, 0, tzinfo=fx.TZ)
        old_site, new_site = fx.first_site(storage, "7210", old_day), fx.first_site(storage, "7210", new_day)
        assert old_site != new_site
        items = [fx.prepared("7210", 5, {}, [], "kiosk", None, old_day, i + 1, site=old_site) for i in range(3)]
        items += [fx.prepared("7210", 4, {}, [], "kiosk", None, new_day, i + 10, site=new_site) for i in range(2)]
        storage.store_batch(None, items, new_day.isoformat(), None)
    finally:
        storage.close()
    text = _run_today(db, "stats").stdout.splitlines()
    hvt = [line for line in text if "Phường Hoàng Văn Thụ" in line]
    bg = [line for line in text if "Phường Bắc Giang" in line]
    assert len(hvt) == 1 and "2023-01-01→2025-07-01" in hvt[0] and hvt[0].split()[2] == "3"
    assert len(bg) == 1 and "2025-07-01→" in bg[0] and bg[0].split()[2] == "2"
    versions = json.loads(_run_today(db, "stats", "--json", "--versions").stdout)
    assert [(v["code"], v["valid_from"], v["valid_to"], v["name"], v["answers"]) for v in versions] == [
        ("7210", "2023-01-01", "2025-07-01", "Phường Hoàng Văn Thụ", 3), ("7210", "2025-07-01", None, "Phường Bắc Giang", 2)]
    assert json.loads(_run_today(db, "stats", "--json").stdout) == {"7210": 5}  # the per-code shape stays
