"""Server storage beyond the protocol: migrations with data in place, unit history on real data,
questionnaire immutability, campaigns, and the kiosk config (officers, hours, admin PIN, ETag)."""

from __future__ import annotations

from tests.support import server_db_location

import json
import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from hailong_core.assets import asset_path
from hailong_core.questionnaire import load_default_questionnaire
from sync_server import accounts
from sync_server import settings as server_settings
from sync_server.kiosk_config import build_config, config_payload, parse_office_hours, HoursError
from sync_server.storage import StorageRefused, open_storage
from sync_server.storage.migrations import MIGRATIONS
from sync_server.unit_files import ReleaseError, load_release, load_release_csv

NOW = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)
SETTINGS = server_settings.load()


def _v1_database(path) -> None:
    """A database as protocol-v1 servers in the field left it: schema 1, seeded units, stored answers."""
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    data = json.loads(asset_path("units", "bac_giang_2023.json").read_text(encoding="utf-8"))
    conn.executemany("INSERT INTO units (code, name, level, parent_code, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, NULL)",
                     [(u["code"], u["name"], u["level"], u["parent_code"], data["valid_from"]) for u in data["units"]])
    doc = json.loads(asset_path("questionnaires", "default.json").read_text(encoding="utf-8"))
    conn.execute("INSERT INTO questionnaires (id, version, body, published_at) VALUES (?, ?, ?, ?)",
                 (doc["id"], doc["version"], json.dumps(doc), "2024-01-01T00:00:00.000+07:00"))
    conn.execute("INSERT INTO enroll_codes (code_hash, unit_code, created_at, expires_at) VALUES ('h', '7210', 'x', 'y')")
    for i, unit in enumerate(("7201", "7210", "7210", "24-HCC")):
        conn.execute("INSERT INTO responses (id, content_hash, unit_code, questionnaire_id, questionnaire_version, channel, seq, "
                     "created_at, created_ms, received_at, answers, flags) VALUES (?, 'c', ?, 'bg-friendly-gov', 1, 'kiosk', ?, "
                     "'2024-06-26T08:00:00+07:00', 1719363600000, '2024-06-26T08:00:01+07:00', '{\"overall\": 5}', '[]')",
                     (f"00000000-0000-7000-8000-00000000000{i}", unit, i + 1))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


@pytest.mark.sqlite_only  # builds a version-1 file by hand; PostgreSQL databases start at the current schema
def test_upgrade_from_v1_keeps_answers_and_backfills_history(tmp_path):
    db = tmp_path / "server.sqlite3"
    _v1_database(db)
    storage = open_storage(db)
    try:
        assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert storage.response_count() == 4
        assert storage.answers_per_unit() == {"24-HCC": 1, "7201": 1, "7210": 2}
        assert len(storage.unit_versions()) == 221
        assert storage.unit("7201")["valid_from"] == "2023-01-01"
        assert storage.enroll_codes()[0]["unit_code"] == "7210"
        # ... and the 2025 release then applies on top, without touching those answers.
        report = storage.import_unit_release(load_release(asset_path("units", "bac_ninh_2025.json")))
        assert len(report.closed) == 161 and storage.answers_per_unit()["7210"] == 2
    finally:
        storage.close()


@pytest.fixture
def storage(tmp_path):
    s = open_storage(server_db_location(tmp_path))
    yield s
    s.close()


def test_2023_tree_is_1_plus_10_plus_209(storage):
    tree = storage.units_as_of("2024-06-26")
    levels = Counter(u["level"] for u in tree)
    assert levels == {"province": 1, "centre": 1, "district": 10, "commune": 209}
    points = [u for u in tree if u["level"] != "province"]
    assert len(points) == 220  # the article's 220 one-stop points: 1 centre + 10 districts + 209 communes


def test_2025_release_imports_beside_2023_without_losing_answers(storage):
    release = load_release(asset_path("units", "bac_ninh_2025.json"))
    before = storage.unit_versions()
    dry = storage.import_unit_release(release, dry_run=True)
    assert storage.unit_versions() == before  # a dry run writes nothing
    report = storage.import_unit_release(release)
    assert (len(report.added), len(report.changed), len(report.closed), report.unchanged) == (41, 60, 161, 0)
    assert dry.summary() == report.summary()
    # 2025: a two-level tree, communes straight under the province.
    new = storage.units_as_of("2025-07-01")
    assert Counter(u["level"] for u in new) == {"province": 1, "centre": 1, "commune": 99}
    assert all(u["parent_code"] == "24" for u in new if u["level"] == "commune")
    assert next(u for u in new if u["code"] == "24")["name"] == "Tỉnh Bắc Ninh"
    # 2023 is still there, unchanged, for the dates it covered.
    old = storage.units_as_of("2025-06-30")
    assert Counter(u["level"] for u in old) == {"province": 1, "centre": 1, "district": 10, "commune": 209}
    assert next(u for u in old if u["code"] == "7210")["name"] == "Phường Hoàng Văn Thụ"
    assert next(u for u in new if u["code"] == "7210")["name"] == "Phường Bắc Giang"
    assert [v["name"] for v in storage.unit_versions("24")] == ["Tỉnh Bắc Giang", "Tỉnh Bắc Ninh"]
    # A reused code links its old version to the new one; reports roll up through the lineage.
    assert storage.unit_lineage("7210", "predecessors") == [{"code": "7210", "on_date": "2025-07-01", "depth": 1}]
    # Importing the same release again changes nothing.
    assert storage.import_unit_release(release).summary().startswith("added 0, changed 0, closed 0, unchanged 101")


def test_merge_from_csv_closes_old_units_and_links_them(storage, tmp_path):
    """Three communes close into one on a date; their answers stay on their codes; lineage finds them."""
    release = load_release(asset_path("units", "bac_giang_2023.json"))
    rows = ["code,name,level,parent_code,predecessors"]
    for u in release.units:
        if u["code"] in ("7204", "7207"):
            continue  # merged away
        preds = "7201;7204;7207" if u["code"] == "7201" else ""
        name = "Phường Thọ Xương mới" if u["code"] == "7201" else u["name"]
        rows.append(f"{u['code']},{name},{u['level']},{u['parent_code'] or ''},{preds}")
    report = storage.import_unit_release(load_release_csv("\n".join(rows), "2024-01-01"))
    assert (report.added, report.changed, sorted(report.closed), report.links) == ([], ["7201"], ["7204", "7207"], 3)
    assert {r["code"] for r in storage.unit_lineage("7201", "predecessors")} == {"7201", "7204", "7207"}
    assert storage.unit_lineage("7204", "successors") == [{"code": "7201", "on_date": "2024-01-01", "depth": 1}]
    assert storage.unit("7204")["valid_to"] == "2024-01-01"
    with pytest.raises(ReleaseError, match="not newer"):
        storage.import_unit_release(load_release_csv("\n".join(rows).replace("Phường Thọ Xương mới", "Khác"), "2023-06-01"))


@pytest.mark.parametrize("text, fragment", [
    ("code,name,level\n24,Tỉnh,province\n", "parent_code"),
    ("code,name,level,parent_code\n24,Tỉnh,province,\n7201,Xã A,commune,999\n", "parent '999'"),
    ("code,name,level,parent_code\n24,Tỉnh,province,\n7201,Xã A,hamlet,24\n", "level must be"),
    ("code,name,level,parent_code\n24,Tỉnh,province,\n24,Tỉnh,province,\n", "duplicate"),
])
def test_bad_csv_is_refused_by_name(text, fragment):
    with pytest.raises(ReleaseError, match=fragment):
        load_release_csv(text, "2025-07-01")


def test_published_questionnaire_cannot_change(storage):
    doc = load_default_questionnaire().to_dict()
    with pytest.raises(StorageRefused) as refused:
        storage.save_questionnaire_draft({**doc, "title": {"vi": "Sửa", "en": "Edited"}}, NOW)
    assert refused.value.code == "questionnaire_published"
    draft = {**doc, "version": 2, "title": {"vi": "Phiếu v2", "en": "Form v2"}}
    storage.save_questionnaire_draft(draft, NOW)
    storage.save_questionnaire_draft({**draft, "title": {"vi": "Phiếu v2 sửa", "en": "Form v2 edited"}}, NOW)  # drafts may change
    assert (doc["id"], 2) not in storage.questionnaires()
    storage.publish_questionnaire(doc["id"], 2, NOW)
    assert storage.questionnaires()[(doc["id"], 2)]["title"]["vi"] == "Phiếu v2 sửa"
    with pytest.raises(StorageRefused):
        storage.save_questionnaire_draft(draft, NOW)


def test_campaign_decides_the_active_questionnaire(storage):
    doc = load_default_questionnaire().to_dict()
    v2 = {**doc, "version": 2, "title": {"vi": "Đợt 2025", "en": "2025 campaign"}}
    storage.save_questionnaire_draft(v2, NOW)
    with pytest.raises(StorageRefused):  # only published versions can run a campaign
        storage.add_campaign("Đợt 26/6–30/6", "2025-06-26", "2025-06-30", doc["id"], 2, ["213"], NOW)
    storage.publish_questionnaire(doc["id"], 2, NOW)
    # v2 is newest, so it is the default now; a campaign pins v1 on district 213's communes for five days.
    storage.add_campaign("Đợt 26/6–30/6", "2025-06-26", "2025-06-30", doc["id"], 1, ["213"], NOW)
    assert storage.active_questionnaire("7201", "2025-06-26")["version"] == 1
    assert storage.active_questionnaire("7201", "2025-06-30")["version"] == 1
    assert storage.active_questionnaire("7201", "2025-07-01")["version"] == 2
    assert storage.active_questionnaire("7246", "2025-06-27")["version"] == 2  # district 215 is not covered


def _config(storage, unit="7201", day="2025-06-01"):
    return config_payload(build_config(storage, SETTINGS, unit, day))


def test_config_carries_roster_hours_and_admin_pin_and_etag_follows(storage):
    _, etag0 = _config(storage)
    assert _config(storage)[1] == etag0  # stable when nothing changed
    pin_hash = accounts.hash_secret("2468")
    storage.add_officer("cb-1", "7201", "Nguyễn Thị Hoa", "Công chức Tư pháp", "data:image/png;base64,iVBORw0KGgo=", pin_hash, NOW)
    storage.add_officer("cb-2", "7246", "Trần Văn Nam", None, None, None, NOW)  # another unit
    body, etag1 = _config(storage)
    config = json.loads(body)
    assert etag1 != etag0
    assert config["officers"] == [{"id": "cb-1", "name": "Nguyễn Thị Hoa", "title": "Công chức Tư pháp",
                                   "photo": "data:image/png;base64,iVBORw0KGgo=", "pin_hash": pin_hash, "procedure_group": None}]
    assert accounts.verify_secret(config["officers"][0]["pin_hash"], "2468") and pin_hash.startswith("$argon2id$")
    storage.update_officer("cb-1", NOW, active=False)  # deactivated: off the kiosk, history kept
    body, etag2 = _config(storage)
    assert json.loads(body)["officers"] == [] and etag2 != etag1 and storage.officer("cb-1") is not None
    storage.set_office_hours(None, parse_office_hours("mon-fri 07:30-11:30 13:30-17:00"))
    storage.set_office_hours("213", parse_office_hours("mon-sat 07:00-11:00"))
    hours = json.loads(_config(storage)[0])["settings"]["office_hours"]
    assert hours == {d: [["07:00", "11:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}  # the district's, inherited
    assert json.loads(_config(storage, "24-HCC")[0])["settings"]["office_hours"]["mon"] == [["07:30", "11:30"], ["13:30", "17:00"]]
    storage.set_config("admin_pin_hash.7201", accounts.hash_secret("97531"))  # admin PINs are per unit
    assert accounts.verify_secret(json.loads(_config(storage)[0])["settings"]["admin_pin_hash"], "97531")
    assert json.loads(_config(storage, "7246")[0])["settings"]["admin_pin_hash"] is None


@pytest.mark.parametrize("text", ["mon-fri", "mon-fri 7:30-11:30", "mon 11:30-07:30", "xyz 07:00-08:00", "mon 07:00-08:00; mon 09:00-10:00"])
def test_bad_office_hours_are_refused(text):
    with pytest.raises(HoursError):
        parse_office_hours(text)


def test_login_throttle_and_sessions(storage):
    storage.add_user("an", accounts.hash_secret("mật khẩu rất dài"), "province_admin", None, NOW)
    for _ in range(3):
        assert accounts.login(storage, "an", "wrong", "10.0.0.1", max_failures=3, window_s=60) is None
    # Throttled now, even with the right password.
    assert accounts.login(storage, "an", "mật khẩu rất dài", "10.0.0.1", max_failures=3, window_s=60) == "throttled"
    storage.clear_login_failures("user:an")
    user = accounts.login(storage, "AN", "mật khẩu rất dài", "10.0.0.2", max_failures=3, window_s=60)
    assert user.username == "an"
    new = accounts.open_session(storage, user, 60, None)
    digest = accounts.session_digest(new.cookie_value)
    assert storage.session(digest, new.expires_ms - 1).user.id == user.id
    assert storage.session(digest, new.expires_ms) is None  # expired
    storage.update_user(user.id, role="province_analyst")  # a role change ends the sessions
    assert storage.session(digest, new.expires_ms - 1) is None
