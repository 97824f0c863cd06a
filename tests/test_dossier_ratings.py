"""Issue 14: ratings tied to the dossier code. One rating counts per dossier — the first the server
receives without a misuse flag, on any channel; any later one is kept, marked ``dossier_repeat`` and
left out of every figure (even with misuse let in). The record as sent keeps its content hash; the
code is stored normalised beside it. Two server processes storing ratings of one dossier at the
same moment still give exactly one that counts. Schema step 11 upgrades a database with answers and
rollups in place.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from datetime import timedelta

import pytest
import requests
from fastapi.testclient import TestClient

from hailong_core.assets import asset_path
from hailong_core.questionnaire import parse_questionnaire
from hailong_core.response import content_hash
from hailong_core.timeutil import format_rfc3339, now_local
from sync_server import settings as server_settings
from sync_server.dossiers import DossierCodeRefused, attach_dossier_code, dossier_code_for_link
from sync_server.ingest import ingest
from sync_server.kiosk_config import build_config, set_unit_dossier_pattern
from sync_server.results import rollups
from sync_server.results.model import Filters
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS, statements
from tests.records import UPLOAD, make_record, server_db
from tests.results_world import enrol
from tests.server_web import make_app
from tests.support import BACKEND, PG_URL, LiveServer, free_port, make_enroll_code, server_db_location

OFFSET_MS = 7 * 3_600_000


@pytest.fixture
def world(tmp_path):
    app, storage = make_app(tmp_path)
    yield app, storage
    storage.close()


def _send(app, token: str, records: list[dict]) -> list[str]:
    resp = TestClient(app).post(UPLOAD, json={"responses": records}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return [r["status"] for r in resp.json()["results"]]


def _phone(storage, unit: str, record: dict) -> str:
    """A phone answer down the phone form's own path (ingest without a device: channel qr)."""
    questionnaires = {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
    out = ingest(storage, None, {"responses": [record]}, max_items=1, skew_s=300, questionnaires=questionnaires, unit_code=unit)
    return out["results"][0]["status"]


def _stored(storage) -> dict[str, tuple]:
    rows = storage._conn().execute("SELECT id, dossier_code, dossier_repeat, flags, content_hash FROM responses").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _claims(storage) -> dict[str, str]:
    return {r[0]: r[1] for r in storage._conn().execute("SELECT dossier_code, response_id FROM dossier_ratings")}


def _classes(storage) -> Counter:
    """Responses per flag class as the rollups counted them."""
    rollups.refresh(storage, OFFSET_MS)
    today = (int(now_local().timestamp() * 1000) + OFFSET_MS) // 86_400_000
    out: Counter = Counter()
    for row in storage.rollup_counts(today - 2, today + 2, None, by=("unit_code",), questions=[""]):
        out[row[4]] += row[5]
    return out


def test_the_code_is_stored_normalised_and_the_record_keeps_what_was_sent(world):
    app, storage = world
    token = enrol(app, storage, "7201")
    record = make_record(1, "7201", {"overall": 5}, dossier_code="h24.7201-261105-0001")
    assert _send(app, token, [record]) == ["accepted"]
    code, repeat, flags, stored_hash = _stored(storage)[record["id"]]
    assert (code, repeat, flags) == ("H24.7201-261105-0001", 0, "[]")
    assert stored_hash == content_hash(record)  # the content as sent, lower case and all
    assert _send(app, token, [record]) == ["duplicate"]  # a resend is harmless, and changes nothing
    assert _claims(storage) == {"H24.7201-261105-0001": record["id"]}
    changed = {**record, "dossier_code": "H24-OTHER"}
    assert _send(app, token, [changed]) == ["conflict"]  # same id, other content: filed aside, the claim stands
    assert _claims(storage) == {"H24.7201-261105-0001": record["id"]} and _stored(storage)[record["id"]][0] == "H24.7201-261105-0001"


def test_a_second_rating_of_a_dossier_on_any_channel_is_kept_flagged_and_counted_once(world):
    app, storage = world
    token = enrol(app, storage, "7201")
    first = make_record(1, "7201", {"overall": 5}, dossier_code="H24-0001")
    again = make_record(2, "7201", {"overall": 1}, dossier_code="h24-0001")        # the same kiosk, later
    phone = make_record(1, "7201", {"overall": 1}, channel="qr", dossier_code="h24-0001")
    plain = make_record(3, "7201", {"overall": 4})
    assert _send(app, token, [first, again, plain]) == ["accepted"] * 3
    assert _phone(storage, "7201", phone) == "accepted"
    stored = _stored(storage)
    assert [stored[r["id"]][:2] for r in (first, again, phone, plain)] == [("H24-0001", 0), ("H24-0001", 1), ("H24-0001", 1),
                                                                          (None, 0)]
    assert stored[again["id"]][2] == "[]"  # the mark is a column; the record's flags stay as sent
    assert _claims(storage) == {"H24-0001": first["id"]}
    classes = _classes(storage)
    assert classes == Counter({"ok": 2, "dossier_repeat": 2})
    # Left out by default, and still left out when misuse is let in: one rating counts per dossier.
    assert "dossier_repeat" not in Filters().classes and "dossier_repeat" not in Filters(include_misuse=True).classes


def test_a_misuse_flagged_rating_does_not_take_the_dossier_from_the_citizen(world):
    app, storage = world
    token = enrol(app, storage, "7201")
    burst = make_record(1, "7201", {"overall": 5}, dossier_code="H24-0002", flags=["burst"])
    genuine = make_record(2, "7201", {"overall": 2}, dossier_code="H24-0002")
    cooldown = make_record(3, "7201", {"overall": 5}, dossier_code="H24-0002", flags=["cooldown"])
    assert _send(app, token, [burst]) == ["accepted"]
    assert _claims(storage) == {}
    assert _send(app, token, [genuine, cooldown]) == ["accepted", "accepted"]
    stored = _stored(storage)
    assert _claims(storage) == {"H24-0002": genuine["id"]}
    # Stored before the claim: misuse as it was; after it: a repeat (never counted, even with misuse let in).
    assert [stored[r["id"]][1] for r in (burst, genuine, cooldown)] == [0, 0, 1]
    assert _classes(storage) == Counter({"misuse": 1, "ok": 1, "dossier_repeat": 1})


def test_within_one_batch_the_first_stored_claims(world):
    app, storage = world
    token = enrol(app, storage, "7201")
    base = now_local() - timedelta(minutes=10)
    records = [make_record(i + 1, "7201", {"overall": 1 + i}, created=base + timedelta(minutes=i), dossier_code="H24-0003")
               for i in range(4)]
    assert _send(app, token, records) == ["accepted"] * 4
    stored = _stored(storage)
    assert _claims(storage) == {"H24-0003": records[0]["id"]}
    assert [stored[r["id"]][1] for r in records] == [0, 1, 1, 1]


def test_the_phone_link_code_is_checked_against_the_units_pattern(world):
    app, storage = world
    settings = app.state.hailong.settings.replace(dossier_pattern=r"H24-[0-9]{4}")
    assert dossier_code_for_link(storage, settings, "7201", None) is None
    assert dossier_code_for_link(storage, settings, "7201", "  ") is None
    assert dossier_code_for_link(storage, settings, "7201", "h24-0042") == "H24-0042"
    with pytest.raises(DossierCodeRefused):
        dossier_code_for_link(storage, settings, "7201", "https://evil.example/")
    with pytest.raises(DossierCodeRefused):
        dossier_code_for_link(storage, settings, "7201", "X-1")
    set_unit_dossier_pattern(storage, "7201", r"X-[0-9]")
    assert dossier_code_for_link(storage, settings, "7201", "x-1") == "X-1"
    record = attach_dossier_code(make_record(1, "7201", {"overall": 4}, channel="qr"), "X-1")
    assert _phone(storage, "7201", record) == "accepted" and _claims(storage) == {"X-1": record["id"]}
    config = build_config(storage, settings, "7201")
    assert {k: config["settings"][k] for k in ("dossier_scan", "dossier_pattern", "dossier_link_s")} == \
        {"dossier_scan": False, "dossier_pattern": "X-[0-9]", "dossier_link_s": 300}
    assert build_config(storage, settings, "7204")["settings"]["dossier_pattern"] == "H24-[0-9]{4}"


def test_two_server_processes_rating_the_same_dossiers_at_once_count_each_once(tmp_path):
    """Real processes on one database: for each of 24 dossiers, two kiosks (one per server) send a
    rating at the same moment, each in a batch with ratings of other dossiers and a plain answer."""
    db = server_db_location(tmp_path)
    servers = [LiveServer(db, free_port()), LiveServer(db, free_port())]
    for s in servers:
        s.start()
    try:
        tokens = []
        for s in servers:
            resp = requests.post(s.url + "/api/v1/enroll", json={"code": make_enroll_code(db, "7201")}, timeout=10)
            assert resp.status_code == 201, resp.text
            tokens.append(resp.json()["token"])
        codes = [f"H24-RACE-{i:04d}" for i in range(24)]
        rounds = [codes[i:i + 4] for i in range(0, len(codes), 4)]
        start = threading.Barrier(2)
        failures: list = []

        def kiosk(k: int) -> None:
            session = requests.Session()
            seq = 0
            for batch_codes in rounds:
                records = []
                for code in batch_codes:
                    seq += 1
                    records.append(make_record(seq, "7201", {"overall": 5 if k else 1}, dossier_code=code.lower() if k else code))
                seq += 1
                records.append(make_record(seq, "7201", {"overall": 3}))
                start.wait(timeout=30)
                resp = session.post(servers[k].url + UPLOAD, json={"responses": records},
                                    headers={"Authorization": f"Bearer {tokens[k]}"}, timeout=60)
                if resp.status_code != 200 or {r["status"] for r in resp.json()["results"]} != {"accepted"}:
                    failures.append(resp.text[:300])

        threads = [threading.Thread(target=kiosk, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures
        with server_db(servers[0]) as conn:
            rows = conn.execute("SELECT dossier_code, dossier_repeat, COUNT(*) FROM responses WHERE dossier_code IS NOT NULL "
                                "GROUP BY dossier_code, dossier_repeat").fetchall()
            claims = conn.execute("SELECT dossier_code, COUNT(*) FROM dossier_ratings GROUP BY dossier_code").fetchall()
            claimed_rows = conn.execute("SELECT COUNT(*) FROM dossier_ratings c JOIN responses r ON r.id = c.response_id "
                                        "WHERE r.dossier_repeat = 0 AND r.dossier_code = c.dossier_code").fetchone()[0]
        got = Counter()
        for code, repeat, n in rows:
            got[(code, repeat)] += n
        assert got == Counter({**{(c, 0): 1 for c in codes}, **{(c, 1): 1 for c in codes}})
        assert sorted(tuple(r) for r in claims) == [(c, 1) for c in codes] and claimed_rows == len(codes)
    finally:
        for s in servers:
            s.stop()
    storage = open_storage(db)
    try:
        counted = _classes(storage)
        assert counted["dossier_repeat"] == len(codes) and counted["ok"] == len(codes) + 2 * len(rounds)
    finally:
        storage.close()


# --- schema step 11 with answers in place ----------------------------------------------------------

def _step_10_database(tmp_path):
    """A database as the issue-13 server left it (schema 10), with answers and folded rollups; the
    location to open it at."""
    answers = [("00000000-0000-7000-8000-000000000001", "7201", 5, "[]"), ("00000000-0000-7000-8000-000000000002", "7201", 1, "[]"),
               ("00000000-0000-7000-8000-000000000003", "7204", 2, '["cooldown"]')]
    when = now_local() - timedelta(hours=1)
    ms = int(when.timestamp() * 1000)
    if BACKEND == "postgres":
        import uuid

        import psycopg

        from sync_server.storage.postgres import PGConnection, translate_ddl

        name = "t_step10_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        url = PG_URL.rpartition("/")[0] + "/" + name
        conn = PGConnection(psycopg.connect(url, autocommit=True))
        for step in MIGRATIONS[:10]:
            for statement in statements(step, "postgres"):
                conn.execute(translate_ddl(statement))
        conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (10)")
        location = url
    else:
        location = tmp_path / "step10.sqlite3"
        conn = sqlite3.connect(str(location), isolation_level=None)
        for step in MIGRATIONS[:10]:
            for statement in statements(step, "sqlite"):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 10")
    for code, name, level, parent in (("24", "Tỉnh Bắc Giang", "province", None), ("7201", "Phường Thọ Xương", "commune", "24"),
                                      ("7204", "Phường Trần Nguyên Hãn", "commune", "24")):
        conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES (?, ?, ?, ?, '2023-01-01')",
                     (code, name, level, parent))
        conn.execute("INSERT INTO unit_versions (code, valid_from, name, level, parent_code) VALUES (?, '2023-01-01', ?, ?, ?)",
                     (code, name, level, parent))
        conn.execute("INSERT INTO sites (unit_code, unit_valid_from, position, name, created_at) VALUES (?, '2023-01-01', 1, ?, "
                     "'2023-01-01')", (code, name))
    doc = json.loads(asset_path("questionnaires", "default.json").read_text(encoding="utf-8"))
    conn.execute("INSERT INTO questionnaires (id, version, body, published_at, created_at) VALUES (?, ?, ?, ?, ?)",
                 (doc["id"], doc["version"], json.dumps(doc), "2024-01-01T00:00:00+07:00", "2024-01-01T00:00:00+07:00"))
    for i, (rid, unit, level, flags) in enumerate(answers, 1):
        conn.execute("INSERT INTO responses (id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
                     "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect, placed_ms, site_id) "
                     "VALUES (?, ?, NULL, ?, ?, NULL, 'bg-friendly-gov', 1, 'kiosk', ?, ?, ?, ?, ?, 0, ?, NULL)",
                     (rid, f"h{i}", format_rfc3339(when), unit, i, format_rfc3339(when), ms, f'{{"overall":{level}}}', flags, ms))
    conn.close()
    return location, answers


def test_step_11_upgrades_a_database_with_answers_and_rollups_in_place(tmp_path):
    location, answers = _step_10_database(tmp_path)
    storage = open_storage(location)  # migrates 10 -> 11 (and seeds nothing: units are there)
    try:
        assert storage.schema_version() == len(MIGRATIONS) >= 11
        stored = _stored(storage)
        assert {rid: stored[rid][:3] for rid, *_ in answers} == {rid: (None, 0, flags) for rid, _, _, flags in answers}
        assert storage.response_count() == 3 and storage.dossier_count() == 0 and _claims(storage) == {}
        # The old answers fold as before (no repeat among them); a new one with a code is claimed and counted.
        assert _classes(storage) == Counter({"ok": 2, "misuse": 1})
        questionnaires = {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
        record = make_record(9, "7201", {"overall": 4}, channel="qr", dossier_code="h24-0009")
        assert ingest(storage, None, {"responses": [record]}, max_items=1, skew_s=300, questionnaires=questionnaires,
                      unit_code="7201")["results"][0]["status"] == "accepted"
        assert _claims(storage) == {"H24-0009": record["id"]}
        assert _classes(storage) == Counter({"ok": 3, "misuse": 1})
    finally:
        storage.close()
    reopened = open_storage(location)  # a second start runs no step twice
    try:
        assert reopened.schema_version() == len(MIGRATIONS) and reopened.response_count() == 4
    finally:
        reopened.close()


def test_settings_accept_a_pattern_only_when_it_compiles():
    from hailong_core.settings import SettingsError

    assert server_settings.load(dossier_pattern=r"H24-\d+").dossier_pattern == r"H24-\d+"
    with pytest.raises(SettingsError, match="dossier_pattern"):
        server_settings.load(dossier_pattern="H24-(")
