"""Admin pages through the app: login and cookies, throttling, CSRF on the login form, enrolment codes
(expired, reused, revoked), officers by form and CSV, questionnaires and campaigns, i18n, the users CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from hailong_core.questionnaire import load_default_questionnaire
from sync_server import security
from sync_server.web.i18n import catalogue
from tests.records import make_record
from tests.server_web import CSRF_RE, PASSWORD, add_users, login, make_app
from tests.support import server_db_location, ROOT

CODE_RE = __import__("re").compile(r'<span class="code">([A-Z0-9-]+)</span>')


@pytest.fixture
def site(tmp_path):
    app, storage = make_app(tmp_path, login_max_failures=3)
    add_users(storage)
    yield app, storage
    storage.close()


def test_login_sets_a_safe_cookie_and_logout_ends_it(site, tmp_path):
    app, storage = site
    client = TestClient(app, follow_redirects=False)
    assert client.get("/admin/units").headers["location"] == "/login?next=%2Fadmin%2Funits"
    token = CSRF_RE.search(client.get("/login").text).group(1)
    # The login form has its own token: a cross-site POST without the cookie's twin is refused.
    forged = client.post("/login", data={"username": "province-admin", "password": PASSWORD, "csrf": token + "x"})
    assert forged.status_code == 403
    token = CSRF_RE.search(forged.text).group(1)  # a refused form gets a fresh token
    resp = client.post("/login", data={"username": "province-admin", "password": PASSWORD, "csrf": token, "next": "//evil.example/"})
    assert resp.status_code == 303 and resp.headers["location"] == "/"  # never off-site
    cookie = next(h for h in resp.headers.get_list("set-cookie") if h.startswith("hl_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    csrf = CSRF_RE.search(client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    assert client.get("/").status_code == 303
    assert [r["action"] for r in storage.audit_log()][:2] == ["logout", "login"]
    # Behind HTTPS the cookie is Secure.
    https_app, https_storage = make_app(tmp_path / "https", cookie_secure=True)
    add_users(https_storage)
    c2 = TestClient(https_app, base_url="https://testserver", follow_redirects=False)
    t2 = CSRF_RE.search(c2.get("/login").text).group(1)
    r2 = c2.post("/login", data={"username": "province-admin", "password": PASSWORD, "csrf": t2})
    assert "Secure" in next(h for h in r2.headers.get_list("set-cookie") if h.startswith("hl_session="))
    https_storage.close()


def test_login_throttling(site):
    app, _ = site
    client = TestClient(app, follow_redirects=False)
    for _ in range(3):
        token = CSRF_RE.search(client.get("/login").text).group(1)
        assert client.post("/login", data={"username": "province-analyst", "password": "wrong", "csrf": token}).status_code == 401
    token = CSRF_RE.search(client.get("/login").text).group(1)
    resp = client.post("/login", data={"username": "province-analyst", "password": PASSWORD, "csrf": token})
    assert resp.status_code == 429 and "hl_session" not in resp.cookies
    login(app, "province-admin")  # another account is not locked out by it


def _upload(client, token, unit="7201"):
    return client.post("/api/v1/kiosk/responses", json={"responses": [make_record(1, unit)]},
                       headers={"Authorization": f"Bearer {token}"})


def test_enrolment_codes_expired_reused_revoked(site):
    app, storage = site
    admin, csrf = login(app, "province-admin")
    page = admin.post("/admin/enrol-codes", data={"csrf": csrf, "unit_code": "7201", "label": "Quầy 2"})
    assert page.status_code == 200 and "<svg" in page.text and "hailong://enroll?server=" in page.text
    code = CODE_RE.search(page.text).group(1)
    kiosk = TestClient(app)
    first = kiosk.post("/api/v1/enroll", json={"code": code})
    assert first.status_code == 201
    device = first.json()
    assert storage.device(device["device_id"])["name"] == "Quầy 2"  # the code's label names the kiosk
    reused = kiosk.post("/api/v1/enroll", json={"code": code})
    assert reused.status_code == 403 and "already used" in reused.json()["error"]["message"]
    storage.create_enroll_code("7201", security.digest("EXPIREDCODE1"), datetime.now(timezone.utc) - timedelta(seconds=1))
    expired = kiosk.post("/api/v1/enroll", json={"code": "EXPI-REDC-ODE1"})
    assert expired.status_code == 403 and "expired" in expired.json()["error"]["message"]
    assert _upload(kiosk, device["token"]).status_code == 200
    # Revoked from the fleet page: the very next upload is refused (no cache in between).
    refused = admin.post(f"/admin/fleet/{device['device_id']}/revoke", data={"csrf": csrf})  # the box not ticked
    assert refused.status_code == 400 and "Chưa đánh dấu ô xác nhận" in refused.text
    assert admin.post(f"/admin/fleet/{device['device_id']}/revoke", data={"csrf": csrf, "confirm": "1"}).status_code == 303
    refused = _upload(kiosk, device["token"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "device_revoked"
    assert kiosk.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {device['token']}"}).status_code == 403
    # Re-enrol: a new code for the same unit and label; the new token works, the old stays refused.
    second = kiosk.post("/api/v1/enroll", json={"code": code})
    assert second.status_code == 403
    storage.create_enroll_code("7201", security.digest("FRESHCODE123"), datetime.now(timezone.utc) + timedelta(hours=1))
    fresh = kiosk.post("/api/v1/enroll", json={"code": "FRES-HCOD-E123"}).json()
    re_page = admin.post(f"/admin/fleet/{fresh['device_id']}/reenrol", data={"csrf": csrf, "confirm": "1"})
    assert re_page.status_code == 200 and CODE_RE.search(re_page.text)
    assert _upload(kiosk, fresh["token"]).status_code == 403
    again = kiosk.post("/api/v1/enroll", json={"code": CODE_RE.search(re_page.text).group(1)}).json()
    assert _upload(kiosk, again["token"]).status_code == 200
    fleet = admin.get("/admin/fleet").text
    assert "Quầy 2" in fleet and fleet.count("Đã thu hồi") >= 2


def test_fleet_lists_silent_kiosks(site):
    app, storage = site
    now = datetime.now(timezone.utc)
    storage.create_enroll_code("7201", security.digest("SILENTCODE12"), now + timedelta(hours=1))
    dev = storage.redeem_enroll_code(security.digest("SILENTCODE12"), now, "dev-silent", security.digest("t1"), "Quầy im lặng")
    storage.record_heartbeat(dev.id, now - timedelta(hours=3), {"pending": 12, "app_version": "1.2.3", "clock_offset_s": 900.0,
                                                                 "last_error": "network: timeout"})
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/fleet").text
    assert "1 máy không liên lạc quá 60 phút" in page and "network: timeout" in page and "+900 s" in page
    assert "1.2.3" in page and ">12<" in page.replace(" ", "")


def test_officers_form_csv_photo_and_config(site):
    app, storage = site
    admin, csrf = login(app, "province-admin")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    resp = admin.post("/admin/officers", data={"csrf": csrf, "unit_code": "7201", "name": "Lê Thị Mai", "title": "Công chức", "pin": "1357",
                                               "procedure_group": "ho_tich"},
                      files={"photo": ("mai.png", png, "image/png")})
    assert resp.status_code == 303
    oid = resp.headers["location"].split("/")[-1].split("?")[0]
    assert storage.officer(oid)["photo"].startswith("data:image/png;base64,")
    too_big = admin.post("/admin/officers", data={"csrf": csrf, "unit_code": "7201", "name": "X"},
                         files={"photo": ("big.png", png + b"\0" * 70_000, "image/png")})
    assert too_big.status_code == 400 and "KB" in too_big.text
    bad_pin = admin.post("/admin/officers", data={"csrf": csrf, "unit_code": "7201", "name": "X", "pin": "12"})
    assert bad_pin.status_code == 400 and "4 to 8 digits" in bad_pin.text
    bad_group = admin.post("/admin/officers", data={"csrf": csrf, "unit_code": "7201", "name": "X", "procedure_group": "thue"})
    assert bad_group.status_code == 400 and "unknown procedure group" in bad_group.text
    csv_text = "unit_code,name,title,pin,procedure_group\n7201,Phạm Văn Bình,Phó chủ tịch,2468,dat_dai\n7246,Hoàng Thị Lan,,,\n"
    assert admin.post("/admin/officers/import", data={"csrf": csrf}, files={"file": ("ds.csv", csv_text.encode(), "text/csv")}).status_code == 303
    bad_csv = "unit_code,name\n9999,Ai đó\n"
    resp = admin.post("/admin/officers/import", data={"csrf": csrf}, files={"file": ("x.csv", bad_csv.encode(), "text/csv")})
    assert resp.status_code == 400 and "line 2" in resp.text
    bad_csv = "unit_code,name,procedure_group\n7201,Ai đó,thue\n"
    resp = admin.post("/admin/officers/import", data={"csrf": csrf}, files={"file": ("x.csv", bad_csv.encode(), "text/csv")})
    assert resp.status_code == 400 and "line 2" in resp.text and "unknown procedure group" in resp.text
    names = [o["name"] for o in storage.officers({"7201"})]
    assert names == ["Lê Thị Mai", "Phạm Văn Bình"]
    storage.create_enroll_code("7201", security.digest("OFFICERCODE1"), datetime.now(timezone.utc) + timedelta(hours=1))
    kiosk = TestClient(app)
    token = kiosk.post("/api/v1/enroll", json={"code": "OFFI-CERC-ODE1"}).json()["token"]
    first = kiosk.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}"})
    assert [o["name"] for o in first.json()["officers"]] == names
    assert set(first.json()["officers"][0]) == {"id", "name", "title", "photo", "pin_hash", "procedure_group"}
    assert {o["name"]: o["procedure_group"] for o in first.json()["officers"]} == {"Lê Thị Mai": "ho_tich", "Phạm Văn Bình": "dat_dai"}
    assert "Hộ tịch" in admin.get(f"/admin/officers/{oid}").text
    # Deactivate through the form: the roster (and so the ETag) changes.
    assert admin.post(f"/admin/officers/{oid}", data={"csrf": csrf, "name": "Lê Thị Mai", "unit_code": "7201"}).status_code == 303
    second = kiosk.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}", "If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and [o["name"] for o in second.json()["officers"]] == ["Phạm Văn Bình"]


def test_questionnaire_pages_validate_publish_and_refuse_edits(site):
    app, storage = site
    admin, csrf = login(app, "province-admin")
    doc = load_default_questionnaire().to_dict()
    broken = json.loads(json.dumps(doc))
    broken["version"] = 2
    broken["questions"][0]["levels"][4]["score"] = 140
    resp = admin.post("/admin/questionnaires", data={"csrf": csrf, "document": json.dumps(broken)})
    assert resp.status_code == 400 and "questions[0].levels[4].score" in resp.text
    v2 = {**doc, "version": 2, "title": {"vi": "Phiếu 2025", "en": "Form 2025"}}
    assert admin.post("/admin/questionnaires", data={"csrf": csrf}, files={"file": ("q.json", json.dumps(v2).encode(), "application/json")}).status_code == 303
    assert admin.post("/admin/questionnaires/bg-friendly-gov/2/publish", data={"csrf": csrf}).status_code == 303
    edit = admin.post("/admin/questionnaires/bg-friendly-gov/2", data={"csrf": csrf, "document": json.dumps({**v2, "title": {"vi": "Sửa", "en": "Edit"}})})
    assert edit.status_code == 400 and "cannot change" in edit.text
    assert storage.questionnaire_version("bg-friendly-gov", 2)["body"]["title"]["vi"] == "Phiếu 2025"
    camp = admin.post("/admin/campaigns", data={"csrf": csrf, "name": "Đợt 26/6–30/6", "starts_on": "2025-06-26", "ends_on": "2025-06-30",
                                                "questionnaire": "bg-friendly-gov:1", "units": ["213", "215"]})
    assert camp.status_code == 303
    assert storage.campaigns()[0]["units"] == ["213", "215"]
    # Kiosks pick up the newest published version through config.
    storage.create_enroll_code("7246", security.digest("QUESTCODE123"), datetime.now(timezone.utc) + timedelta(hours=1))
    kiosk = TestClient(app)
    token = kiosk.post("/api/v1/enroll", json={"code": "QUES-TCOD-E123"}).json()["token"]
    assert kiosk.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}"}).json()["questionnaire"]["version"] == 2
    assert [r["action"] for r in storage.audit_log()][:3] == ["campaign.add", "questionnaire.publish", "questionnaire.draft"]


def test_english_toggle_and_catalogues_agree(site):
    app, _ = site
    assert set(catalogue("vi")) == set(catalogue("en"))
    client, _ = login(app, "province-analyst")
    assert "Đơn vị hành chính" in client.get("/admin/units").text
    client.get("/lang/en?next=/admin/units")
    page = client.get("/admin/units").text
    assert "Units and service points" in page and "Tỉnh Bắc Giang" in page  # names stay Vietnamese


def test_users_add_cli_reads_the_password_from_stdin_not_argv(tmp_path):
    db = server_db_location(tmp_path)
    run = lambda *args, stdin="": subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), "users", *args],
                                                 cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60)
    ok = run("add", "--username", "Admin", "--role", "province_admin", stdin="một mật khẩu dài\n")
    assert ok.returncode == 0, ok.stderr
    assert "một mật khẩu dài" not in ok.stdout
    short = run("add", "--username", "bo", "--role", "province_admin", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    wrong_unit = run("add", "--username", "xa", "--role", "commune_viewer", "--unit", "213", stdin="một mật khẩu dài\n")
    assert wrong_unit.returncode == 2 and "commune" in wrong_unit.stderr
    pw = tmp_path / "pw"
    pw.write_text("mật khẩu của huyện\n", encoding="utf-8")
    assert run("add", "--username", "huyen", "--role", "district_viewer", "--unit", "213", "--password-file", str(pw)).returncode == 0
    users = json.loads(run("list", "--json").stdout)
    assert [(u["username"], u["role"], u["unit_code"]) for u in users] == [("admin", "province_admin", None), ("huyen", "district_viewer", "213")]


def test_import_units_cli_reports_added_changed_closed(tmp_path):
    db = server_db_location(tmp_path)
    out = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), "import-units",
                          str(ROOT / "assets" / "units" / "bac_ninh_2025.json"), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout)
    assert (len(report["added"]), len(report["changed"]), len(report["closed"]), report["links"]) == (41, 60, 161, 60)
