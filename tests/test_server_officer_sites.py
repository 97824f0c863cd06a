"""Officers belong to a unit and optionally one of its sites (issue 13): the officer pages pick the
site among the unit's open sites, ``hailong-server officers`` takes ``--site``, and a kiosk at a site
carries the unit's officers of no site and of its own site, not those of the unit's other sites.
Real database (SQLite; PostgreSQL on the second pass), the real pages and kiosk API, the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from sync_server import days
from tests.results_world import enrol
from tests.server_web import add_users, login, make_app
from tests.support import ROOT

NOW = datetime.now(timezone.utc)


@pytest.fixture
def world(tmp_path):
    """Phường Thọ Xương (7201) with two sites, and Xã Canh Nậu (7246) beside it (the 2023 tree)."""
    app, storage = make_app(tmp_path)
    add_users(storage)
    today = days.local_today(app.state.hailong.settings).isoformat()
    first = storage.first_site("7201", today)["id"]
    second = storage.add_site("7201", "Cơ sở 2 — Nhà văn hoá tổ 5", datetime.now().astimezone())["id"]
    other = storage.first_site("7246", today)["id"]
    yield app, storage, first, second, other
    storage.close()


def _names(app, token: str) -> list[str]:
    resp = TestClient(app).get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return [o["name"] for o in resp.json()["officers"]]


def test_a_kiosk_carries_the_officers_of_its_site_and_of_no_site(world):
    app, storage, first, second, other = world
    storage.add_officer("cb-all", "7201", "Lê Thị Hoa", None, None, None, NOW)  # the whole unit
    storage.add_officer("cb-one", "7201", "Nguyễn Văn An", None, None, None, NOW, site_id=first)
    storage.add_officer("cb-two", "7201", "Trần Thị Bích", None, None, None, NOW, site_id=second)
    storage.add_officer("cb-far", "7246", "Phạm Văn Chung", None, None, None, NOW)
    at_first, at_second = enrol(app, storage, "7201", first), enrol(app, storage, "7201", second)
    assert _names(app, at_first) == ["Lê Thị Hoa", "Nguyễn Văn An"]
    assert _names(app, at_second) == ["Lê Thị Hoa", "Trần Thị Bích"]
    assert _names(app, enrol(app, storage, "7246", other)) == ["Phạm Văn Chung"]
    # Moving an officer to the other site moves them between the kiosks' rosters (and their ETags).
    before = TestClient(app).get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {at_first}"}).headers["ETag"]
    storage.update_officer("cb-two", NOW, site_id=first)
    assert _names(app, at_first) == ["Lê Thị Hoa", "Nguyễn Văn An", "Trần Thị Bích"]
    assert _names(app, at_second) == ["Lê Thị Hoa"]
    after = TestClient(app).get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {at_first}"}).headers["ETag"]
    assert before != after


def test_the_officer_pages_pick_one_of_the_units_open_sites(world):
    app, storage, first, second, other = world
    admin, csrf = login(app, "province-admin")
    page = admin.get("/admin/officers?unit=7201").text
    assert 'id="o-site"' in page and f'<option value="{second}">Cơ sở 2 — Nhà văn hoá tổ 5</option>' in page
    assert 'data-for="7201"' in page and 'data-for="7246"' not in page  # a unit of one site needs no choice
    resp = admin.post("/admin/officers", data={"csrf": csrf, "unit_code": "7201", "name": "Đỗ Thị Lan", "site_id": str(second)})
    assert resp.status_code == 303, resp.text[:300]
    oid = resp.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    assert storage.officer(oid)["site_id"] == second
    assert "Cơ sở 2 — Nhà văn hoá tổ 5" in admin.get("/admin/officers").text  # the list says which site
    officer_page = admin.get(f"/admin/officers/{oid}").text
    assert f'<option value="{second}" selected>' in officer_page

    # A site of another unit is refused, on adding and on editing, and nothing is stored.
    refused = admin.post("/admin/officers", data={"csrf": csrf, "unit_code": "7201", "name": "Kẻ lạc", "site_id": str(other)})
    assert refused.status_code == 400 and "7201" in refused.text
    assert "Kẻ lạc" not in [o["name"] for o in storage.officers()]
    moved = admin.post(f"/admin/officers/{oid}", data={"csrf": csrf, "name": "Đỗ Thị Lan", "unit_code": "7201",
                                                       "site_id": str(other), "active": "1"})
    assert moved.status_code == 400 and storage.officer(oid)["site_id"] == second
    # Editing to the other site, then to the whole unit.
    for value, expected in ((str(first), first), ("", None)):
        done = admin.post(f"/admin/officers/{oid}", data={"csrf": csrf, "name": "Đỗ Thị Lan", "unit_code": "7201",
                                                          "site_id": value, "active": "1"})
        assert done.status_code == 303 and storage.officer(oid)["site_id"] == expected
    # The CSV import takes a site_id column with the same rule.
    csv_text = f"unit_code,name,site_id\n7201,Vũ Văn Hải,{second}\n7201,Hà Thị Thu,\n"
    assert admin.post("/admin/officers/import", data={"csrf": csrf},
                      files={"file": ("ds.csv", csv_text.encode(), "text/csv")}).status_code == 303
    sites = {o["name"]: o["site_id"] for o in storage.officers({"7201"})}
    assert sites["Vũ Văn Hải"] == second and sites["Hà Thị Thu"] is None
    bad = f"unit_code,name,site_id\n7201,Ngô Văn Sai,{other}\n"
    resp = admin.post("/admin/officers/import", data={"csrf": csrf}, files={"file": ("x.csv", bad.encode(), "text/csv")})
    assert resp.status_code == 400 and "line 2" in resp.text


def _cli(db, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_the_officers_command_takes_a_site_of_the_unit(world):
    app, storage, first, second, other = world
    db = app.state.hailong.settings.db
    added = _cli(db, "officers", "add", "--unit", "7201", "--name", "Bùi Thị Ngọc", "--site", str(second))
    assert added.returncode == 0, added.stderr
    oid = added.stdout.strip().splitlines()[-1]
    assert storage.officer(oid)["site_id"] == second and storage.officer(oid)["unit_code"] == "7201"
    for args in (("--site", str(other)), ("--site", "999999")):
        refused = _cli(db, "officers", "add", "--unit", "7201", "--name", "Kẻ lạc", *args)
        assert refused.returncode == 2 and refused.stderr.startswith("hailong-server:") and refused.stdout == "", refused
    assert "Kẻ lạc" not in [o["name"] for o in storage.officers()]
    assert _cli(db, "officers", "edit", "--id", oid, "--site", str(other)).returncode == 2
    assert storage.officer(oid)["site_id"] == second
    assert _cli(db, "officers", "edit", "--id", oid, "--site", str(first)).returncode == 0
    assert storage.officer(oid)["site_id"] == first
    assert _cli(db, "officers", "edit", "--id", oid, "--no-site").returncode == 0
    assert storage.officer(oid)["site_id"] is None
    # Moving to another unit leaves the old unit's site behind.
    _cli(db, "officers", "edit", "--id", oid, "--site", str(second))
    assert _cli(db, "officers", "edit", "--id", oid, "--unit", "7246").returncode == 0
    assert (storage.officer(oid)["unit_code"], storage.officer(oid)["site_id"]) == ("7246", None)
    listed = json.loads(_cli(db, "officers", "list", "--unit", "7246", "--json").stdout)
    assert [(o["id"], o["site_id"]) for o in listed] == [(oid, None)]


@pytest.mark.browser
def test_in_a_browser_the_site_picker_follows_the_unit_and_the_counter_picker_the_site(tmp_path):
    """static/follow_picker.js in headless Chromium: on the officer form only the chosen unit's sites
    show (another unit's choice is cleared), and on the enrolment code form only the chosen site's
    counters."""
    import shutil
    import time
    from pathlib import Path

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tools import server_screenshots as shots

    if not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())):
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)")
    held = {}

    def seed(storage):
        shots.seed(storage)
        today = datetime.now().astimezone().date().isoformat()
        first = storage.first_site("7210", today)["id"]
        second = storage.add_site("7210", "Cơ sở 2 — Phường Bắc Giang", datetime.now().astimezone())["id"]
        storage.add_counter(first, "1", "Quầy một")
        storage.add_counter(second, "9", "Quầy chín")
        held.update(first=first, second=second)

    def visible_groups(select) -> list[str]:
        return [g.get_attribute("label") for g in select.find_elements(By.TAG_NAME, "optgroup") if g.get_attribute("hidden") is None]

    def wait_for(check) -> bool:
        deadline = time.monotonic() + 5
        while not check() and time.monotonic() < deadline:
            time.sleep(0.05)
        return check()

    with shots.live_app(tmp_path / "server.sqlite3", seed) as base:  # a browser test: the SQLite file the page server opens
        driver = shots.chromium(1366, 768)
        try:
            shots.sign_in(driver, base)
            driver.get(base + "/admin/officers?unit=7210")
            unit, site = Select(driver.find_element(By.ID, "o-unit")), driver.find_element(By.ID, "o-site")
            assert wait_for(lambda: [g.startswith("7210") for g in visible_groups(site)] == [True])
            Select(site).select_by_value(str(held["second"]))
            other = next(o.get_attribute("value") for o in unit.options if o.get_attribute("value") != "7210")
            unit.select_by_value(other)
            assert wait_for(lambda: visible_groups(site) == [])  # another unit: 7210's sites hidden
            assert Select(site).first_selected_option.get_attribute("value") == ""  # and the choice cleared

            driver.get(base + "/admin/enrol-codes?unit=7210")
            place, counter = Select(driver.find_element(By.ID, "pick-site")), driver.find_element(By.ID, "pick-counter")
            place.select_by_value(str(held["first"]))
            assert wait_for(lambda: len(visible_groups(counter)) == 1 and "Cơ sở 2" not in visible_groups(counter)[0])
            place.select_by_value(str(held["second"]))
            assert wait_for(lambda: visible_groups(counter) == ["Cơ sở 2 — Phường Bắc Giang"])
        finally:
            driver.quit()
