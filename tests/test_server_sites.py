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
