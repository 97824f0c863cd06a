"""Sites (điểm tiếp nhận) on the admin pages, through the real app (issue 13): add a site and counters on
/admin/sites, an enrolment code tied to a site and counter (redeemed through the API), one QR poster
per site (decoded), phone answers recorded with the site their link names (a forged one falls back),
scope and role refusals, today's structure in the pickers, and a screenshot in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server_web import add_users, login, make_app
from tests.screens import screen_path
from tests.support import server_db_location

BASE = "https://hailong.bacgiang.gov.vn"
CODE_RE = re.compile(r'<span class="code">([A-Z0-9-]+)</span>')
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
ERR_RE = re.compile(r'<div class="flash err" role="alert">([^<]*)</div>')
POSTER_TOOLS = ("pdftotext", "pdftoppm", "zbarimg", "pdfinfo")
SCREENSHOT = "admin_sites.png"  # in tmp_path; docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1


@pytest.fixture
def world(tmp_path):
    app, storage = make_app(tmp_path, public_base_url=BASE)
    add_users(storage)
    yield app, storage
    storage.close()


def _add_site(admin, csrf, unit="7201", **fields):
    data = {"csrf": csrf, "name": "", "address": "", "hours": "", "hotline": "", "public_base_url": "", **fields}
    return admin.post(f"/admin/sites/{unit}", data=data)


def _second_site(storage, admin, csrf) -> dict:
    """Ward 7201 with a second site and two counters, made through the page."""
    resp = _add_site(admin, csrf, name="Bộ phận Một cửa – cơ sở 2", address="15 Hoàng Văn Thụ, Bắc Giang",
                     hours="mon-fri 07:30-11:30 13:30-17:00", hotline="0204 3854 321")
    assert resp.status_code == 303 and resp.headers["location"] == "/admin/sites?unit=7201&ok=ok_site_added", resp.text[:400]
    site = next(s for s in storage.sites("7201") if s["name"] == "Bộ phận Một cửa – cơ sở 2")
    for code, name in (("Q1", "Quầy Tư pháp"), ("Q2", "Quầy Đất đai")):
        resp = admin.post("/admin/sites/7201/counters", data={"csrf": csrf, "site_id": site["id"], "counter": code, "counter_name": name})
        assert resp.status_code == 303 and resp.headers["location"].endswith("ok=ok_counter_added")
    return storage.site(site["id"])


def test_add_a_site_with_counters_edit_it_and_refuse_bad_input(world):
    app, storage = world
    admin, csrf = login(app, "province-admin")
    first = storage.first_site("7201", "2026-01-01")
    site = _second_site(storage, admin, csrf)
    assert site["unit_code"] == "7201" and site["address"] == "15 Hoàng Văn Thụ, Bắc Giang" and site["hotline"] == "0204 3854 321"
    assert site["office_hours"] == {"mon": [["07:30", "11:30"], ["13:30", "17:00"]], "tue": [["07:30", "11:30"], ["13:30", "17:00"]],
                                    "wed": [["07:30", "11:30"], ["13:30", "17:00"]], "thu": [["07:30", "11:30"], ["13:30", "17:00"]],
                                    "fri": [["07:30", "11:30"], ["13:30", "17:00"]]}
    assert site["counters"] == [{"code": "Q1", "name": "Quầy Tư pháp"}, {"code": "Q2", "name": "Quầy Đất đai"}]
    # Rename a counter, edit the site.
    resp = admin.post("/admin/sites/7201/counters", data={"csrf": csrf, "site_id": site["id"], "counter": "Q1", "counter_name": "Quầy Tư pháp – Hộ tịch"})
    assert resp.headers["location"].endswith("ok=ok_counter_renamed")
    resp = admin.post("/admin/sites/7201/edit", data={"csrf": csrf, "site_id": site["id"], "name": "Bộ phận Một cửa – cơ sở 2",
                                                      "address": "15 Hoàng Văn Thụ", "hours": "", "hotline": "",
                                                      "public_base_url": "https://mot-cua.bacgiang.gov.vn/"})
    assert resp.status_code == 303
    edited = storage.site(site["id"])
    assert edited["address"] == "15 Hoàng Văn Thụ" and edited["office_hours"] is None and edited["hotline"] is None
    assert edited["public_base_url"] == "https://mot-cua.bacgiang.gov.vn" and edited["counters"][0]["name"] == "Quầy Tư pháp – Hộ tịch"
    page = admin.get("/admin/sites?unit=7201").text
    assert "Phường Thọ Xương" in page and "Bộ phận Một cửa – cơ sở 2" in page and "Quầy Tư pháp – Hộ tịch" in page
    assert f"{BASE}/s/7201<" in page and f"https://mot-cua.bacgiang.gov.vn/s/7201?site={site['id']}" in page
    listing = admin.get("/admin/sites").text
    assert "Bộ phận Một cửa – cơ sở 2" in listing and "Q2 · Quầy Đất đai" in listing
    # Wrong input: the page again (400) with a Vietnamese message and what was typed; nothing stored.
    before = len(storage.sites())
    for fields, message in (({"name": "  "}, "Xin nhập tên điểm tiếp nhận."),
                            ({"name": "Phường Thọ Xương"}, "Đơn vị đã có điểm tiếp nhận tên “Phường Thọ Xương”."),
                            ({"name": "Cơ sở 3", "hotline": "gọi 1022"}, "Đường dây nóng “gọi 1022” chưa đúng"),
                            ({"name": "Cơ sở 3", "public_base_url": "hailong.gov.vn"}, "Địa chỉ công khai “hailong.gov.vn” chưa đúng"),
                            ({"name": "Cơ sở 3", "hours": "mon 8-17"}, "Giờ làm việc chưa đúng"),
                            ({"name": "X" * 201}, "Tên điểm tiếp nhận dài quá 200 ký tự.")):
        resp = _add_site(admin, csrf, **fields)
        assert resp.status_code == 400, fields
        assert message in ERR_RE.search(resp.text).group(1).replace("&#34;", '"'), (fields, ERR_RE.search(resp.text).group(1))
        if fields.get("name", "").strip() and len(fields["name"]) < 200:
            assert f'value="{fields["name"]}"' in resp.text  # typed values come back
    resp = admin.post("/admin/sites/7201/counters", data={"csrf": csrf, "site_id": site["id"], "counter": "Quầy 3", "counter_name": "Ba"})
    assert resp.status_code == 400 and "Mã quầy “Quầy 3” chưa đúng" in resp.text
    assert len(storage.sites()) == before
    # Another unit's site, or the province row, is not this unit's: not found.
    other = storage.first_site("7246", "2026-01-01")
    assert admin.post("/admin/sites/7201/edit", data={"csrf": csrf, "site_id": other["id"], "name": "X"}).status_code == 404
    assert admin.post("/admin/sites/7201/counters", data={"csrf": csrf, "site_id": "1e99", "counter": "Q", "counter_name": "Q"}).status_code == 404
    assert _add_site(admin, csrf, unit="24", name="Sảnh tỉnh").status_code == 404
    assert first["id"] == storage.first_site("7201", "2026-01-01")["id"]  # the first site stays first
    actions = [(r["action"], r["target"]) for r in storage.audit_log()]
    for action in ("site.add", "counter.add", "counter.rename", "site.edit"):
        assert (action, "7201") in actions, action
    # English second.
    admin.get("/lang/en?next=/")
    assert "Please give the site a name." in _add_site(admin, csrf, name="").text


def test_roles_and_scope_on_the_sites_pages(world):
    """No unit-level administrator role exists: viewers read their own scope and change nothing."""
    app, storage = world
    district, d_csrf = login(app, "district-viewer")  # district 213: 7201 is in scope, 7246 is not
    commune, c_csrf = login(app, "commune-viewer")  # commune 7201
    before = len(storage.sites())
    for client, csrf in ((district, d_csrf), (commune, c_csrf)):
        assert _add_site(client, csrf, unit="7246", name="Chen ngang").status_code == 403
        assert _add_site(client, csrf, unit="7201", name="Cơ sở 2").status_code == 403  # read-only role
        assert client.post("/admin/sites/7201/counters", data={"csrf": csrf, "site_id": "1", "counter": "Q1",
                                                               "counter_name": "Q"}).status_code == 403
        assert client.get("/admin/sites?unit=7246").status_code == 403
        assert client.get("/admin/sites/7246/posters").status_code == 403
        own = client.get("/admin/sites?unit=7201")
        assert own.status_code == 200 and "Phường Thọ Xương" in own.text and 'action="/admin/sites/7201' not in own.text
        listing = client.get("/admin/sites").text
        assert "Phường Thọ Xương" in listing and "Xã Canh Nậu" not in listing
    assert commune.get("/admin/sites").text.count("<tr><td>") == 1  # its commune only
    assert len(storage.sites()) == before
    admin, csrf = login(app, "province-admin")
    assert _add_site(admin, "forged", unit="7201", name="Cơ sở 2").status_code == 403  # CSRF
    assert len(storage.sites()) == before


def test_enrolment_code_tied_to_site_and_counter(world):
    app, storage = world
    admin, csrf = login(app, "province-admin")
    site = _second_site(storage, admin, csrf)
    picker = admin.get(f"/admin/enrol-codes?site={site['id']}").text
    assert f'<option value="{site["id"]}" selected>' in picker and f'value="{site["id"]}:Q2"' in picker
    assert "Phường Thọ Xương" in picker  # the first site is offered too
    page = admin.post("/admin/enrol-codes", data={"csrf": csrf, "unit_code": "7201", "site_id": site["id"],
                                                  "counter": f"{site['id']}:Q2", "label": "Kiosk cơ sở 2"})
    assert page.status_code == 200 and "Bộ phận Một cửa – cơ sở 2" in page.text and "Quầy Đất đai" in page.text
    kiosk = TestClient(app)
    enrolled = kiosk.post("/api/v1/enroll", json={"code": CODE_RE.search(page.text).group(1)})
    assert enrolled.status_code == 201, enrolled.text
    device = storage.device(enrolled.json()["device_id"])
    assert (device["unit_code"], device["site_id"], device["counter"]) == ("7201", site["id"], "Q2")
    config = kiosk.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {enrolled.json()['token']}"}).json()
    assert config["site"]["id"] == site["id"] and config["site"]["counter_name"] == "Quầy Đất đai"
    fleet = admin.get("/admin/fleet").text
    assert "Kiosk cơ sở 2" in fleet and "Bộ phận Một cửa – cơ sở 2" in fleet and "Quầy Q2 — Quầy Đất đai" in fleet
    # Without a site: the unit's first site (the form of before still works).
    plain = admin.post("/admin/enrol-codes", data={"csrf": csrf, "unit_code": "7201", "label": "Quầy 1"})
    second = kiosk.post("/api/v1/enroll", json={"code": CODE_RE.search(plain.text).group(1)}).json()
    assert storage.device(second["device_id"])["site_id"] == storage.first_site("7201", "2026-01-01")["id"]
    # A counter of another site, a site of another unit, a unit not in force: refused in Vietnamese.
    first = storage.first_site("7201", "2026-01-01")
    other = storage.first_site("7246", "2026-01-01")
    for data, message in (({"site_id": first["id"], "counter": f"{site['id']}:Q2"}, "Quầy đã chọn không thuộc điểm tiếp nhận"),
                          ({"site_id": first["id"], "counter": "Q2"}, "Quầy đã chọn không thuộc điểm tiếp nhận"),
                          ({"site_id": other["id"]}, "Điểm tiếp nhận đã chọn không thuộc Phường Thọ Xương"),
                          ({"unit_code": "24"}, "Mã 24 không phải là đơn vị tiếp nhận")):
        resp = admin.post("/admin/enrol-codes", data={"csrf": csrf, "unit_code": "7201", **data})
        assert resp.status_code == 400 and message in resp.text, (data, resp.text[-800:])
    # Re-enrol keeps the site and counter.
    again = admin.post(f"/admin/fleet/{device['id']}/reenrol", data={"csrf": csrf, "confirm": "1"})
    third = kiosk.post("/api/v1/enroll", json={"code": CODE_RE.search(again.text).group(1)}).json()
    assert (storage.device(third["device_id"])["site_id"], storage.device(third["device_id"])["counter"]) == (site["id"], "Q2")


def test_closing_a_site_or_counter_needs_the_box_ticked_and_keeps_its_answers(world):
    """A site closes only when the box naming it is ticked, not while a kiosk is enrolled to it, and never
    the unit's last one; its unused enrolment codes stop working; what was collected there stays."""
    app, storage = world
    admin, csrf = login(app, "province-admin")
    site = _second_site(storage, admin, csrf)
    page = admin.get("/admin/sites?unit=7201").text
    assert f"Tôi xác nhận đóng điểm {site['name']}" in page and "Xác nhận đóng quầy Q1" in page
    made = admin.post("/admin/enrol-codes", data={"csrf": csrf, "unit_code": "7201", "site_id": site["id"],
                                                  "counter": f"{site['id']}:Q1", "label": "Kiosk Q1"})
    kiosk = TestClient(app)
    enrolled = kiosk.post("/api/v1/enroll", json={"code": CODE_RE.search(made.text).group(1)}).json()
    unused = admin.post("/admin/enrol-codes", data={"csrf": csrf, "unit_code": "7201", "site_id": site["id"], "label": "chưa dùng"})
    unused_code = CODE_RE.search(unused.text).group(1)
    from tests.results_world import upload
    upload(app, enrolled["token"], "7201", [({"overall": 5}, [])])

    def close(path, **data):
        return admin.post(f"/admin/sites/7201/{path}", data={"csrf": csrf, "site_id": site["id"], **data})

    for path, data in (("close", {}), ("counters/close", {"counter": "Q1"})):
        resp = close(path, **data)  # no confirmation: refused, nothing changed
        assert resp.status_code == 400 and "Chưa đánh dấu ô xác nhận" in ERR_RE.search(resp.text).group(1)
    resp = close("counters/close", counter="Q1", confirm="1")
    assert resp.status_code == 400 and "Quầy này còn kiosk đang đăng ký" in resp.text
    resp = close("close", confirm="1")
    assert resp.status_code == 400 and "Điểm này còn kiosk đang đăng ký" in resp.text
    assert storage.site(site["id"])["closed_at"] is None and [c["code"] for c in storage.site(site["id"])["counters"]] == ["Q1", "Q2"]
    resp = close("counters/close", counter="Q2", confirm="1")
    assert resp.status_code == 303 and resp.headers["location"].endswith("ok=ok_counter_closed")
    assert [c["code"] for c in storage.site(site["id"])["counters"]] == ["Q1"]
    admin.post(f"/admin/fleet/{enrolled['device_id']}/revoke", data={"csrf": csrf, "confirm": "1"})
    assert storage.device(enrolled["device_id"])["revoked_at"] is not None
    resp = close("close", confirm="1")
    assert resp.status_code == 303 and resp.headers["location"].endswith("ok=ok_site_closed"), resp.text[:300]
    closed = storage.site(site["id"])
    assert closed["closed_at"] is not None and closed["counters"] == []
    assert kiosk.post("/api/v1/enroll", json={"code": unused_code}).status_code == 403
    count = storage._conn().execute("SELECT COUNT(*) FROM responses WHERE site_id = ?", (site["id"],)).fetchone()[0]
    assert count == 1  # the answer stays with the closed site
    assert f'id="site-{site["id"]}"' not in admin.get("/admin/sites?unit=7201").text
    # The first site is now the last one open: it cannot close (the form is not even offered).
    first = storage.first_site("7201", "2026-01-01")
    resp = admin.post("/admin/sites/7201/close", data={"csrf": csrf, "site_id": first["id"], "confirm": "1"})
    assert resp.status_code == 400 and "điểm tiếp nhận cuối cùng còn mở" in resp.text
    # A viewer cannot close anything.
    viewer, vcsrf = login(app, "commune-viewer")
    assert viewer.post("/admin/sites/7201/close", data={"csrf": vcsrf, "site_id": first["id"], "confirm": "1"}).status_code == 403
    assert {"site.close", "counter.close"} <= {e["action"] for e in storage.audit_log(20)}


def _phone(app) -> TestClient:
    return TestClient(app, follow_redirects=False, client=("203.0.113.9", 50000))


def _answer(client: TestClient, query: str, **fields):
    form = client.get(f"/s/7201{query}")
    assert form.status_code == 200, form.text[:300]
    data = {"csrf": CSRF_RE.search(form.text).group(1), "qid": "bg-friendly-gov", "qver": "1", "q_overall": "4"}
    hidden = re.search(r'name="site" value="([^"]*)"', form.text)
    if hidden:
        data["site"] = hidden.group(1)
    data.update(fields)
    resp = client.post("/s/7201", data=data, headers={"Accept": "application/json"})
    assert resp.status_code == 201, resp.text[:300]
    return form, resp.json()["id"]


def _site_of_answer(storage, response_id: str) -> int:
    return storage._conn().execute("SELECT site_id FROM responses WHERE id = ?", (response_id,)).fetchone()[0]


def test_phone_answers_record_the_site_and_forged_sites_fall_back(world):
    app, storage = world
    admin, csrf = login(app, "province-admin")
    site = _second_site(storage, admin, csrf)
    first = storage.first_site("7201", "2026-01-01")
    client = _phone(app)
    form, rid = _answer(client, f"?site={site['id']}")
    assert "<h1>Bộ phận Một cửa – cơ sở 2</h1>" in form.text and "Phường Thọ Xương · Thành phố Bắc Giang" in form.text
    assert "15 Hoàng Văn Thụ, Bắc Giang" in form.text
    assert _site_of_answer(storage, rid) == site["id"]
    form, rid = _answer(client, "")
    assert "<h1>Phường Thọ Xương</h1>" in form.text and _site_of_answer(storage, rid) == first["id"]
    # Another unit's site, a closed-looking id, junk, an id too big for any integer column: the unit's first site.
    other = storage.first_site("7246", "2026-01-01")
    for forged in (str(other["id"]), "0", "-1", "abc", "9" * 40, f"{site['id']}.0", " "):
        form, rid = _answer(client, f"?site={forged}")
        assert "<h1>Phường Thọ Xương</h1>" in form.text, forged
        assert _site_of_answer(storage, rid) == first["id"], forged
    # A form opened for site 2 but posted with a forged hidden field: the check is made again on submit.
    form = client.get(f"/s/7201?site={site['id']}")
    resp = client.post("/s/7201", data={"csrf": CSRF_RE.search(form.text).group(1), "qid": "bg-friendly-gov", "qver": "1",
                                        "q_overall": "5", "site": str(other["id"])}, headers={"Accept": "application/json"})
    assert resp.status_code == 201 and _site_of_answer(storage, resp.json()["id"]) == first["id"]
    # The thank-you page names the site.
    resp = client.post("/s/7201", data={"csrf": CSRF_RE.search(form.text).group(1), "qid": "bg-friendly-gov", "qver": "1",
                                        "q_overall": "5", "site": str(site["id"])})
    assert resp.status_code == 303 and f"site={site['id']}" in resp.headers["location"]
    assert "Bộ phận Một cửa – cơ sở 2 · Phường Thọ Xương" in client.get(resp.headers["location"]).text


@pytest.mark.skipif(not all(shutil.which(t) for t in POSTER_TOOLS), reason="needs poppler-utils and zbar-tools")
def test_one_poster_per_site_with_its_qr(world, tmp_path):
    app, storage = world
    admin, csrf = login(app, "province-admin")
    site = _second_site(storage, admin, csrf)
    resp = admin.get("/admin/sites/7201/posters")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf", resp.text[:300]
    assert 'filename="posters-7201.pdf"' in resp.headers["content-disposition"]
    pdf = tmp_path / "posters.pdf"
    pdf.write_bytes(resp.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M)
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    assert "Phường Thọ Xương" in pages[0] and "Thành phố Bắc Giang" in pages[0]
    # The second site's poster: its name as the title, its address, then the unit it belongs to.
    assert "Bộ phận Một cửa – cơ sở 2" in pages[1] and "15 Hoàng Văn Thụ, Bắc Giang" in pages[1]
    assert "Phường Thọ Xương · Thành phố Bắc Giang" in pages[1]
    subprocess.run(["pdftoppm", "-r", "36", "-gray", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    images = sorted(tmp_path.glob("page-*.pgm"))
    xml = subprocess.run(["zbarimg", "--xml", "-q", *map(str, images)], capture_output=True, text=True, timeout=60).stdout
    decoded = {Path(s.get("href")).name: [d.text for d in s.iter("data")]
               for s in ET.fromstring(xml.replace("xmlns='http://zbar.sourceforge.net/2008/barcode'", "")).iter("source")}
    # The first site keeps the unit's plain address (posters printed before sites stay right).
    assert decoded[images[0].name] == [f"{BASE}/s/7201"]
    assert decoded[images[1].name] == [f"{BASE}/s/7201?site={site['id']}"]
    # One site, A5; the QR opens the form for that site.
    one = admin.get(f"/admin/sites/7201/posters?site={site['id']}&size=a5")
    assert one.status_code == 200
    (tmp_path / "one.pdf").write_bytes(one.content)
    info = subprocess.run(["pdfinfo", str(tmp_path / "one.pdf")], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M) and "A5" in info
    assert admin.get(f"/admin/sites/7201/posters?site={storage.first_site('7246', '2026-01-01')['id']}").status_code == 404
    phone = _phone(app).get(decoded[images[1].name][0].removeprefix(BASE))
    assert "<h1>Bộ phận Một cửa – cơ sở 2</h1>" in phone.text
    # A viewer in scope may print its own posters.
    commune, _ = login(app, "commune-viewer")
    assert commune.get(f"/admin/sites/7201/posters?site={site['id']}").status_code == 200


def test_pickers_and_lists_follow_the_structure_in_force(tmp_path, monkeypatch):
    """With today's Bắc Ninh seeded beside the 2023 tree: today's units by default, another day on request,
    and a reused code marked (7210 was Phường Hoàng Văn Thụ until 01/07/2025, then Phường Bắc Giang)."""
    monkeypatch.setenv("HAILONG_SERVER_SEED_UNITS", "all")
    app, storage = make_app(tmp_path)
    try:
        add_users(storage)
        admin, csrf = login(app, "province-admin")
        picker = admin.get("/admin/questionnaires").text
        # The campaign's unit picker (a tree with search, issue 15) lists the units in force that day.
        assert ('<label for="c-units-7210"><span class="up-code">7210</span> Phường Bắc Giang '
                '<span class="muted">(trước đây: Phường Hoàng Văn Thụ)</span></label>') in picker
        assert 'value="7201"' not in picker  # Thọ Xương closed on 01/07/2025
        old = admin.get("/admin/questionnaires?on=01/01/2024").text
        assert '<span class="up-code">7210</span> Phường Hoàng Văn Thụ</label>' in old and 'value="7201"' in old
        assert "cơ cấu ngày 01/01/2024" in old and "Cơ cấu hôm nay" in old
        units = admin.get("/admin/units").text
        assert ('Phường Bắc Giang</a> <span class="badge warn" title="Mã này trước đây (đến ngày 01/07/2025) là Phường Hoàng Văn Thụ'
                in units)
        sites = admin.get("/admin/sites").text
        assert "Phường Bắc Giang" in sites and "Phường Thọ Xương" not in sites and "mã dùng lại" in sites
        detail = admin.get("/admin/sites?unit=7210").text
        assert "Mã này trước đây (đến ngày 01/07/2025) là Phường Hoàng Văn Thụ" in detail
        assert admin.get("/admin/sites?unit=7201").status_code == 404  # not in force today
        codes = admin.get("/admin/enrol-codes").text
        assert "7210 — Phường Bắc Giang" in codes and '<option value="7201">' not in codes
        # A site added today belongs to today's unit under the reused code.
        assert _add_site(admin, csrf, unit="7210", name="Điểm tiếp nhận số 2").status_code == 303
        added = next(s for s in storage.sites("7210") if s["name"] == "Điểm tiếp nhận số 2")
        assert added["unit_valid_from"] == "2025-07-01"
    finally:
        storage.close()


def _seed_two_sites(storage) -> None:
    """The screenshot tool's demo province (today's tree is the 2025 one), with ward 7210 on two sites."""
    from datetime import timedelta

    from sync_server import security
    from tools import server_screenshots as shots

    shots.seed(storage)
    now = datetime.now(timezone.utc)
    first = storage.first_site("7210", now.date().isoformat())
    storage.update_site(first["id"], address="Số 1 Nguyễn Văn Cừ, phường Bắc Giang", hotline="0204 3854 100")
    site = storage.add_site("7210", "Bộ phận Một cửa – cơ sở 2 (Hoàng Văn Thụ)", now, address="Số 15 Hoàng Văn Thụ, phường Bắc Giang",
                            hotline="0204 3854 321")
    for site_id, code, name in ((first["id"], "Q1", "Quầy Tư pháp – Hộ tịch"), (first["id"], "Q2", "Quầy Địa chính – Xây dựng"),
                                (first["id"], "Q3", "Quầy Văn hóa – Xã hội"),
                                (site["id"], "Q1", "Quầy Đất đai"), (site["id"], "Q2", "Quầy Kinh doanh")):
        storage.add_counter(site_id, code, name)
    for i, (site_id, counter, label) in enumerate(((first["id"], "Q1", "Kiosk sảnh chính"), (site["id"], "Q1", "Kiosk cơ sở 2"))):
        storage.create_enroll_code("7210", security.digest(f"SITECODE000{i}"), now + timedelta(hours=1), label, None,
                                   site_id=site_id, counter=counter)
        storage.redeem_enroll_code(security.digest(f"SITECODE000{i}"), now, f"demo-site{i}", security.digest(f"tok-site{i}"), None)


def test_screenshot_of_a_ward_with_two_sites(tmp_path):
    from tools import server_screenshots as shots

    if not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    with shots.live_app(server_db_location(tmp_path), seed_fn=_seed_two_sites) as base:
        driver = shots.chromium(1366, 700)
        try:
            shots.sign_in(driver, base)
            driver.get(base + "/admin/sites?unit=7210")
            cards = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "div.card[id^=site-]")]
            assert len(cards) == 3  # two sites and the form to add one
            assert cards[0].startswith("Phường Bắc Giang") and cards[1].startswith("Bộ phận Một cửa – cơ sở 2")
            assert "Kiosk cơ sở 2" in cards[1] and "Mã này trước đây" in driver.find_element(By.TAG_NAME, "body").text
            shot = screen_path(tmp_path, SCREENSHOT)
            shots.full_page_png(driver, shot)
            assert shot.stat().st_size > 20_000
        finally:
            driver.quit()
