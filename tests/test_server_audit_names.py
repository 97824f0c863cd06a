"""The audit log with names (issue 15, item 8): beside each code, what it names.

Unit codes show the unit's name, user ids the username, device ids the kiosk's name and its unit,
campaign ids the campaign's name (a deleted one: the name it was added with), questionnaire
references the questionnaire's title, officer ids the officer's name; the action reads as words. The
raw codes stay on the page. An unknown id shows raw, marked, without error; an unknown action shows
as its code. Filters by action and by the province's days compare instants, whatever offset an
entry was stamped with.

The module name starts with ``test_server_`` so the PostgreSQL run (tests/conftest.py) takes it too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from sync_server import accounts, security
from sync_server.storage.types import User
from tests.server_web import PASSWORD, add_users, login, make_app

NOW = datetime.now(timezone.utc)


def _row(page: str, action: str) -> str:
    rows = re.findall(rf'<tr id="audit-\d+" data-action="{re.escape(action)}">.*?</tr>', page, re.S)
    assert rows, f"no {action} row"
    return rows[0]


def _text(html: str) -> str:
    flat = re.sub(r"<[^>]+>", "", re.sub(r"<br>|</td>", " ", html))
    return re.sub(r"\s+", " ", flat.replace("&#34;", '"').replace("&#39;", "'")).strip()


@pytest.fixture
def world(tmp_path):
    app, storage = make_app(tmp_path)
    users = add_users(storage)
    admin = User(users["province_admin"], "province-admin", "province_admin", None, True)
    new_id = storage.add_user("can-bo-moi", accounts.hash_secret(PASSWORD), "commune_viewer", "7201", NOW)
    code = security.digest("CODE-AUDIT")
    storage.create_enroll_code("7201", code, NOW + timedelta(hours=1), "Quầy 1 – Thọ Xương", None)
    device = storage.redeem_enroll_code(code, NOW, "dev-audit-1", security.digest("tok-audit"), None)
    site = storage.first_site("7246", NOW.date().isoformat())
    storage.add_officer("cb-7201-9", "7201", "Nguyễn Thị Hoa", "Công chức Tư pháp", None, None, NOW)
    kept = storage.add_campaign("Khảo sát CQTT 2026", "2026-06-26", "2026-06-30", "bg-friendly-gov", 1, ["213"], NOW)
    gone = storage.add_campaign("Đợt thử nghiệm", "2026-01-05", "2026-01-09", "bg-friendly-gov", 1, ["7201"], NOW)
    entries = [
        ("user.add", "can-bo-moi", {"id": new_id, "role": "commune_viewer", "unit_code": "7201"}),
        ("device.revoke", device.id, None),
        ("device.revoke", "no-such-device", None),
        ("site.close", "7246", {"site_id": site["id"], "name": site["name"]}),
        ("unit.hours", "7246", {"hours": {"mon": [["07:30", "11:30"]]}}),
        ("officer.edit", "cb-7201-9", {"title": "Công chức Tư pháp – Hộ tịch"}),
        ("campaign.add", str(kept), {"name": "Khảo sát CQTT 2026", "questionnaire": "bg-friendly-gov:1", "units": ["213", "7201"]}),
        ("campaign.add", str(gone), {"name": "Đợt thử nghiệm", "questionnaire": "bg-friendly-gov:1", "units": ["7201"]}),
        ("campaign.delete", str(gone), None),
        ("questionnaire.publish", "bg-friendly-gov v1", None),
        ("something.new", "X-42", {"nested": {"a": 1}, "flag": True}),
        ("site.edit", "9999", {"site_id": 987654}),
    ]
    for action, target, detail in entries:
        storage.audit(NOW, admin, action, target, detail, "10.0.0.5")
    storage.delete_campaign(gone)
    yield app, storage, {"device": device.id, "site": site, "user": new_id, "kept": kept, "gone": gone}
    storage.close()


def test_names_are_shown_beside_codes_which_stay_on_the_page(world):
    app, storage, ids = world
    client, _ = login(app, "province-admin")
    page = client.get("/admin/audit").text
    row = _text(_row(page, "user.add"))
    assert "Thêm tài khoản: can-bo-moi" in row and "Vai trò: Lãnh đạo xã" in row and "Đơn vị: Phường Thọ Xương [7201]" in row
    assert f"Mã: can-bo-moi [{ids['user']}]" in row  # the user id, named
    assert "province-admin" in row  # who did it
    device_rows = re.findall(r'<tr id="audit-\d+" data-action="device.revoke">.*?</tr>', page, re.S)
    named = _text(next(r for r in device_rows if ids["device"] in r))
    assert "Thu hồi kiosk: Quầy 1 – Thọ Xương (Phường Thọ Xương)" in named and f"device.revoke · {ids['device']}" in named
    row = _text(_row(page, "site.close"))
    assert "Đóng điểm tiếp nhận: Xã Canh Nậu" in row and "site.close · 7246" in row
    assert f"Điểm tiếp nhận: {ids['site']['name']} (Xã Canh Nậu) [{ids['site']['id']}]" in row
    row = _text(_row(page, "officer.edit"))
    assert "Sửa thông tin cán bộ: Nguyễn Thị Hoa (Phường Thọ Xương)" in row and "cb-7201-9" in row
    adds = [_text(r) for r in re.findall(r'<tr id="audit-\d+" data-action="campaign.add">.*?</tr>', page, re.S)]
    assert any("Tạo đợt khảo sát: Khảo sát CQTT 2026" in r and "Đơn vị áp dụng: Thành phố Bắc Giang, Phường Thọ Xương [213, 7201]" in r
               for r in adds)
    title = storage.questionnaire_version("bg-friendly-gov", 1)["body"]["title"]["vi"]
    assert f"Bộ câu hỏi: {title} [bg-friendly-gov:1]" in adds[0]
    row = _text(_row(page, "campaign.delete"))
    assert "Xoá đợt khảo sát: Đợt thử nghiệm" in row and f"campaign.delete · {ids['gone']}" in row  # deleted: its name from the add
    assert f"Ban hành bộ câu hỏi: {title}" in _text(_row(page, "questionnaire.publish"))


def test_unknown_ids_and_actions_show_raw_without_error(world):
    app, storage, ids = world
    client, _ = login(app, "province-admin")
    resp = client.get("/admin/audit")
    assert resp.status_code == 200
    page = resp.text
    device_rows = re.findall(r'<tr id="audit-\d+" data-action="device.revoke">.*?</tr>', page, re.S)
    missing = _text(next(r for r in device_rows if "no-such-device" in r))
    assert "Thu hồi kiosk: no-such-device" in missing and "không còn trong dữ liệu" in missing
    row = _text(_row(page, "something.new"))
    assert row.count("something.new") >= 2 and "X-42" in row and 'nested: {"a": 1}' in row.replace("&#34;", '"') and "flag: có" in row
    row = _text(_row(page, "site.edit"))
    assert "9999" in row and "Điểm tiếp nhận: 987654" in row
    client.get("/lang/en?next=/admin/audit")
    english = _text(_row(client.get("/admin/audit").text, "user.add"))
    assert "Account added: can-bo-moi" in english and "Role: Lãnh đạo xã" not in english


def test_filters_by_action_and_by_the_province_day(world):
    app, storage, ids = world
    admin = User(1, "province-admin", "province_admin", None, True)
    # 23:30 on 10 March in the province, written with its offset; 01:30 on 11 March, written in UTC.
    late = datetime(2026, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=7)))
    early = datetime(2026, 3, 10, 18, 30, tzinfo=timezone.utc)
    storage.audit(late, admin, "counter.close", "7201", {"site_id": ids["site"]["id"], "counter": "Q1"})
    storage.audit(early, admin, "counter.add", "7201", {"site_id": ids["site"]["id"], "counter": "Q2"})
    client, _ = login(app, "province-admin")
    only = client.get("/admin/audit?action=campaign.add").text
    assert set(re.findall(r'data-action="([^"]+)"', only)) == {"campaign.add"} and len(re.findall(r'<tr id="audit-', only)) == 2
    day = client.get("/admin/audit?from=11/03/2026&to=11/03/2026").text
    assert re.findall(r'data-action="([^"]+)"', day) == ["counter.add"]
    day = client.get("/admin/audit?from=10/03/2026&to=10/03/2026").text
    assert re.findall(r'data-action="([^"]+)"', day) == ["counter.close"]
    both = client.get("/admin/audit?from=2026-03-01&to=10/03/2026&action=counter.add").text
    assert re.findall(r'data-action="([^"]+)"', both) == []
    assert "Không có mục nào khớp bộ lọc." in both
    assert client.get("/admin/audit?from=31/02/2026").status_code == 400
    assert 'value="campaign.add" selected' in only  # the form keeps the choice


def test_only_the_province_admin_reads_the_audit_log(world):
    app, *_ = world
    for username in ("province-analyst", "district-viewer", "commune-viewer"):
        client, _ = login(app, username)
        assert client.get("/admin/audit").status_code == 403
