"""Screenshots of the server's admin pages in headless Chromium (``python -m tools.server_screenshots --out DIR``).

Seeds a throw-away database (accounts, officers, kiosks with heartbeats, a campaign, the 2025
units beside 2023; with ``--results`` three years of answers; with ``--points`` answers across the
2025 reform for the service-point and history pages of issue 13), runs the real app under uvicorn on 127.0.0.1, signs in through the login form
and saves one PNG per page. Uses Debian's ``chromium`` and ``chromium-driver`` through Selenium:
no browser download. ``tests/test_server_browser.py`` uses the same pieces.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--lang=vi-VN", "--hide-scrollbars")
ADMIN, ADMIN_PASSWORD = "quantri", "mật khẩu quản trị tỉnh"
PAGES = (("login", "/login"), ("overview", "/"), ("units", "/admin/units"), ("units_2023", "/admin/units?on=2024-06-26"),
         ("unit", "/admin/units/7210"), ("officers", "/admin/officers?unit=7201"), ("questionnaires", "/admin/questionnaires"),
         ("questionnaire", "/admin/questionnaires/bg-friendly-gov/1"), ("fleet", "/admin/fleet"), ("enrol_codes", "/admin/enrol-codes"),
         ("users", "/admin/users"), ("audit", "/admin/audit"), ("conflicts", "/admin/conflicts"))
# Results pages at 1366×768 (a viewport shot and the full page each); seeded by seed_with_results.
RESULT_PAGES = (("results_overview", "/results"), ("results_district", "/results/units/213"),
                ("results_commune", "/results/units/7201"), ("results_recognition", "/results/recognition"))
# Service points and history across the reform (issue 13); seeded by seed_points (``--points``), copies in docs/screens.
POINT_PAGES = (("results_district_point", "/results/units/219?from=01/01/2025&to=30/06/2025"),
               ("results_two_sites", "/results/units/7210?from=01/07/2025&to=31/03/2026"),
               ("results_history", "/results/units/7210?from=01/07/2024&to=31/03/2026&history=1"))
# The leader's first screen (issue 15) for a province leader and a commune user, 1366×768; copies in docs/screens.
LANDING_PAGES = (("landing-province", ADMIN), ("landing-commune", "tho.xuong"))
# Shot with --landing too: /results for the province leader (its headline cards, the menu), then with "Quản trị ▾" open.
RESULTS_HOME = (("results-home", "/results", False), ("results-home-menu", "/results", True))
SECOND_SITE = "Điểm tiếp nhận số 2 – Phường Bắc Giang (Trần Phú cũ)"


def seed(storage) -> None:
    """Demo content: what a province sees a few weeks after going live."""
    from hailong_core.assets import asset_path
    from sync_server import accounts, security
    from sync_server.kiosk_config import parse_office_hours
    from sync_server.unit_files import load_release

    now = datetime.now(timezone.utc)
    storage.add_user(ADMIN, accounts.hash_secret(ADMIN_PASSWORD), "province_admin", None, now)
    storage.add_user("phantich", accounts.hash_secret(ADMIN_PASSWORD), "province_analyst", None, now)
    storage.add_user("tp.bacgiang", accounts.hash_secret(ADMIN_PASSWORD), "district_viewer", "213", now)
    storage.add_user("tho.xuong", accounts.hash_secret(ADMIN_PASSWORD), "commune_viewer", "7201", now)
    pin = accounts.hash_secret("2468")
    for i, (name, title) in enumerate((("Nguyễn Thị Hoa", "Công chức Tư pháp – Hộ tịch"), ("Trần Văn Nam", "Công chức Địa chính – Xây dựng"),
                                        ("Lê Thị Mai", "Công chức Văn phòng – Thống kê"), ("Phạm Đức Thắng", "Phó Chủ tịch UBND phường"))):
        storage.add_officer(f"cb-demo{i}", "7201", name, title, None, pin if i != 2 else None, now)
    storage.update_officer("cb-demo3", now, active=False)
    storage.set_office_hours(None, parse_office_hours("mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30"))
    storage.add_campaign("Khảo sát chính quyền thân thiện 26/6–30/6", "2025-06-26", "2025-06-30", "bg-friendly-gov", 1, ["24"], now)
    kiosks = (("7201", "Quầy 1 – Thọ Xương", 0, 0, 2.0, None, "1.0.3"), ("7201", "Quầy 2 – Thọ Xương", 3, 1, -1.0, None, "1.0.3"),
              ("24-HCC", "Sảnh A – Trung tâm HCC", 0, 0, 0.5, None, "1.0.3"),
              ("7246", "Quầy một cửa – Canh Nậu", 57, 0, 912.0, "network: connection timed out", "1.0.2"))
    for i, (unit, label, pending, aside, offset, error, version) in enumerate(kiosks):
        storage.create_enroll_code(unit, security.digest(f"DEMOCODE{i:04d}"), now + timedelta(hours=1), label, ADMIN)
        dev = storage.redeem_enroll_code(security.digest(f"DEMOCODE{i:04d}"), now, f"demo-{i}", security.digest(f"tok{i}"), None)
        seen = now - (timedelta(hours=5) if i == 3 else timedelta(minutes=2))
        storage.record_heartbeat(dev.id, seen, {"pending": pending, "kept_aside": aside, "app_version": version,
                                                "clock_offset_s": offset, "last_error": error})
    storage.create_enroll_code("7204", security.digest("DEMOUNUSED01"), now + timedelta(hours=70), "Quầy 1 – Trần Nguyên Hãn", ADMIN)
    if not any(v["valid_from"] == "2025-07-01" for v in storage.unit_versions("24")):  # a fresh database may hold it
        storage.import_unit_release(load_release(asset_path("units", "bac_ninh_2025.json")))
    storage.audit(now, None, "units.import", "bac_ninh_2025.json", {"summary": "added 41, changed 60, closed 161"})



def seed_with_results(storage) -> None:
    """:func:`seed`, plus answers: two years in the background and a busy survey week for each campaign
    (2023 and 2024 added here, the seed's 2025 one last), so the results pages have something to show."""
    from datetime import date

    from bench.results import generate

    storage.add_campaign("Khảo sát CQTT 26/6–30/6/2023", "2023-06-26", "2023-06-30", "bg-friendly-gov", 1, ["24"], datetime.now(timezone.utc))
    storage.add_campaign("Khảo sát CQTT 26/6–30/6/2024", "2024-06-26", "2024-06-30", "bg-friendly-gov", 1, ["24"], datetime.now(timezone.utc))
    generate(storage.path, 30_000, 11, start=date(2023, 6, 1), days=760, campaigns=())
    for i, year in enumerate((2023, 2024, 2025)):
        generate(storage.path, 14_000, 12 + i, start=date(year, 6, 26), days=5, campaigns=(), officers=False, salt=(i + 1) << 40)
    seed(storage)

def seed_points(storage) -> None:
    """:func:`seed`, plus a year of answers at the 2023 units (July 2024 – June 2025) and nine months at
    today's (July 2025 – March 2026), each at its unit's site of the day; Phường Bắc Giang (7210), busy
    as the eight communes it merged, has a second site taking a third of its answers. Rollups folded, so the pages show at once."""
    from datetime import date

    from bench.results import generate
    from sync_server.results import rollups

    seed(storage)
    old = [u["code"] for u in storage.units_as_of("2024-07-01") if u["level"] != "province"]
    new = [u["code"] for u in storage.units_as_of("2025-07-02") if u["level"] != "province"]
    generate(storage.path, 40_000, 21, start=date(2024, 7, 1), days=365, campaigns=(), points=old)
    # Phường Bắc Giang merged eight communes: about their volume together (it is drawn six times as often).
    generate(storage.path, 30_000, 22, start=date(2025, 7, 1), days=274, campaigns=(), officers=False, salt=1 << 40,
             points=new + ["7210"] * 5)
    second = storage.add_site("7210", SECOND_SITE, datetime(2025, 7, 1, 8, 0, tzinfo=timezone.utc), address="Đường Trần Phú")
    first = storage.first_site("7210", "2025-07-01")["id"]
    import sqlite3

    conn = sqlite3.connect(str(storage.path), isolation_level=None)
    conn.execute("UPDATE responses SET site_id = ? WHERE unit_code = '7210' AND site_id = ? AND server_seq % 3 = 0",
                 (second["id"], first))
    conn.close()
    rollups.refresh(storage, 7 * 3_600_000)


# Issue 15's admin forms at 1366×768 (``--forms``), copies in docs/screens: a draft in the form editor, a campaign that has not started.
FORM_PAGES = (("questionnaire-editor", "/admin/questionnaires/bg-friendly-gov/2/edit"), ("campaign-edit", "/admin/campaigns/{future}"))
FUTURE_CAMPAIGN = "Khảo sát chính quyền thân thiện 26/6–30/6/2099"


def seed_forms(storage) -> None:
    """:func:`seed`, plus a draft version 2 of the default questionnaire and a campaign that has not started."""
    from hailong_core.questionnaire import load_default_questionnaire

    seed(storage)
    now = datetime.now(timezone.utc)
    storage.save_questionnaire_draft({**load_default_questionnaire().to_dict(), "version": 2}, now)
    storage.add_campaign(FUTURE_CAMPAIGN, "2099-06-26", "2099-06-30", "bg-friendly-gov", 1, ["7210", "7288", "24-HCC"], now)


# Issue 15's officer page and comments page at 1366×768 (``--officer``), copies in docs/screens.
OFFICER_ID = "cb-7210-0"
COMMENT_TEXTS = ("Cán bộ hướng dẫn tận tình, thủ tục nhanh gọn.", "Phải chờ gần một tiếng mới đến lượt, nên có thêm quầy.",
                 "Phòng chờ nóng, chưa có nước uống cho người dân.", "Nhân viên trả lời điện thoại chưa lịch sự.")


def seed_officer(storage) -> None:
    """:func:`seed`, plus eight weeks of answers ending today (officers at every unit), counted."""

    from bench.results import generate
    from sync_server.results import rollups

    seed(storage)
    start = datetime.now(timezone(timedelta(hours=7))).date() - timedelta(days=55)  # the province's today
    generate(storage.path, 40_000, 31, start=start, days=56, campaigns=(), officers=True, salt=7 << 40)
    rollups.refresh(storage, 7 * 3_600_000)


def officer_shots(out: Path, lang: str = "vi") -> int:
    """The officer page and the comments page (a few phone comments sent through the real form) as 1366×768 page areas."""
    import re

    import requests

    with tempfile.TemporaryDirectory() as tmp, live_app(Path(tmp) / "server.sqlite3", seed_officer) as base:
        for i, text in enumerate(COMMENT_TEXTS):
            phone = requests.Session()
            form = phone.get(base + "/s/7210", timeout=10).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            phone.post(base + "/s/7210", data={"csrf": csrf, "qid": "bg-friendly-gov", "qver": "1", "q_overall": str(5 - i),
                                                "q_comment": text, "o": OFFICER_ID}, timeout=10, allow_redirects=False)
        today = datetime.now(timezone(timedelta(hours=7))).date()  # the province's day, as the pages count
        window = f"from={(today - timedelta(days=55)):%d/%m/%Y}&to={today:%d/%m/%Y}"
        driver = chromium(1366, 768)
        try:
            driver.get(base + f"/lang/{lang}?next=/login")
            sign_in(driver, base)
            for name, path in (("officer", f"/results/officers/{OFFICER_ID}?{window}"), ("comments", "/results/comments")):
                driver.set_window_size(1366, 768)
                driver.get(base + path)
                inner = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
                driver.set_window_size(1366, 768 + int(inner))  # a 1366×768 page area
                driver.save_screenshot(str(out / f"{name}.png"))
                full_page_png(driver, out / f"{name}-full.png", max_height=4000)
                print(out / f"{name}.png")
        finally:
            driver.quit()
    return 0


# Issue 15's fleet page and audit log at 1366×768 (``--fleet``), copies in docs/screens: 20 kiosks on Bắc Giang's 220 points.
FLEET_PAGES = (("fleet", "/admin/fleet"), ("fleet-filtered", "/admin/fleet?unit=215"), ("audit", "/admin/audit"))


def seed_fleet(storage) -> None:
    """Accounts, 20 kiosks on the 2023 tree (two versions, three silent, one revoked, one clock off, one failed
    update, a few with answers waiting) and a few weeks of audit entries, as a province sees them."""
    from sync_server import accounts, security
    from sync_server.storage.types import User

    now = datetime.now(timezone.utc)
    admin_id = storage.add_user(ADMIN, accounts.hash_secret(ADMIN_PASSWORD), "province_admin", None, now - timedelta(days=30))
    admin = User(admin_id, ADMIN, "province_admin", None, True)
    it = User(storage.add_user("cntt.tinh", accounts.hash_secret(ADMIN_PASSWORD), "province_admin", None, now), "cntt.tinh",
              "province_admin", None, True)
    day = (now + timedelta(hours=7)).date().isoformat()
    kiosks = (("24-HCC", "Sảnh A – Trung tâm HCC"), ("24-HCC", "Sảnh B – Trung tâm HCC"), ("213", "Một cửa TP Bắc Giang"),
              ("7201", "Quầy 1 – Thọ Xương"), ("7201", "Quầy 2 – Thọ Xương"), ("7204", "Quầy 1 – Trần Nguyên Hãn"),
              ("7207", "Quầy 1 – Ngô Quyền"), ("7210", "Quầy 1 – Hoàng Văn Thụ"), ("215", "Một cửa huyện Yên Thế"),
              ("7246", "Quầy một cửa – Canh Nậu"), ("7249", "Quầy một cửa – Xuân Lương"), ("216", "Một cửa huyện Tân Yên"),
              ("7252", "Quầy một cửa – Tam Tiến"), ("217", "Một cửa huyện Lạng Giang"), ("218", "Một cửa huyện Lục Nam"),
              ("219", "Một cửa huyện Lục Ngạn"), ("220", "Một cửa huyện Sơn Động"), ("221", "Một cửa huyện Yên Dũng"),
              ("222", "Một cửa huyện Việt Yên"), ("223", "Một cửa huyện Hiệp Hòa"))
    ids = []
    for i, (unit, label) in enumerate(kiosks):
        site = storage.first_site(unit, day)
        storage.create_enroll_code(unit, security.digest(f"FLEETCODE{i:04d}"), now + timedelta(hours=1), label, ADMIN,
                                   site_id=site["id"] if site else None)
        dev = storage.redeem_enroll_code(security.digest(f"FLEETCODE{i:04d}"), now - timedelta(days=20 - i % 7),
                                         f"kiosk-{i:02d}-{security.digest(label)[:6]}", security.digest(f"fleettok{i}"), None)
        ids.append(dev.id)
        silent = i in (9, 13, 17)
        storage.record_heartbeat(dev.id, now - (timedelta(hours=3 + i) if silent else timedelta(minutes=1 + i % 4)),
                                 {"pending": (57 if silent else (i * 7) % 5), "kept_aside": 1 if i == 6 else 0,
                                  "app_version": "1.0.2" if i % 3 == 1 else "1.0.3", "clock_offset_s": 912.0 if i == 5 else 1.5,
                                  "last_error": "network: connection timed out" if silent else None})
        storage.audit(now - timedelta(days=20 - i % 7), admin, "enrol_code.create", unit, {"label": label, "site_id": site["id"] if site else None,
                                                                                        "counter": None, "ref": f"{i:08x}"})
    storage.revoke_device(ids[11], now - timedelta(days=2))
    storage.audit(now - timedelta(days=2), it, "device.revoke", ids[11], None, "10.24.1.15")
    release = storage.add_release("1.0.4", "hailong-1.0.4-py3-none-any.whl", "ab" * 32, b"wheel", "Sửa lỗi đồng bộ", now - timedelta(days=1), it)
    storage.stage_release(release, [ids[1], ids[4]], now - timedelta(days=1), it, target="2 kiosk thử nghiệm")
    storage.note_release_outcome(ids[4], release, "rolled_back", "self-test failed after install: fonts", None, 41.0, now)
    storage.request_device_log(ids[5], "req-demo", 200, now - timedelta(hours=1), it, "10.24.1.15")
    cid = storage.add_campaign("Khảo sát chính quyền thân thiện 26/6–30/6", "2025-06-26", "2025-06-30", "bg-friendly-gov", 1, ["24"], now)
    storage.audit(now - timedelta(hours=5), admin, "campaign.add", str(cid), {"name": "Khảo sát chính quyền thân thiện 26/6–30/6",
                  "questionnaire": "bg-friendly-gov:1", "units": ["24"], "starts_on": "2025-06-26", "ends_on": "2025-06-30"}, "10.24.1.10")
    storage.audit(now - timedelta(hours=4), admin, "user.add", "tho.xuong", {"id": admin_id + 2, "role": "commune_viewer", "unit_code": "7201"},
                  "10.24.1.10")
    storage.add_user("tho.xuong", accounts.hash_secret(ADMIN_PASSWORD), "commune_viewer", "7201", now)
    storage.audit(now - timedelta(hours=3), admin, "unit.hours", "7246", {"hours": {"mon-fri": "07:30-11:30 13:30-17:00"}}, "10.24.1.10")
    storage.audit(now - timedelta(hours=2), None, "questionnaire.publish", "bg-friendly-gov v1", {"via": "cli"})
    storage.audit(now - timedelta(minutes=30), it, "device.log_view", ids[5], {"received_at": None, "lines": 200}, "10.24.1.15")


def fleet_shots(out: Path, lang: str = "vi") -> int:
    """The :data:`FLEET_PAGES` as 1366×768 page areas (``NAME.png``) and the fleet page in full (``fleet-full.png``),
    on the 2023 tree alone (220 points)."""
    import os

    before = os.environ.get("HAILONG_SERVER_SEED_UNITS")
    os.environ["HAILONG_SERVER_SEED_UNITS"] = "2023"
    try:
        with tempfile.TemporaryDirectory() as tmp, live_app(Path(tmp) / "server.sqlite3", seed_fleet) as base:
            driver = chromium(1366, 768)
            try:
                driver.get(base + f"/lang/{lang}?next=/login")
                sign_in(driver, base)
                for name, path in FLEET_PAGES:
                    driver.set_window_size(1366, 768)
                    driver.get(base + path)
                    inner = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
                    driver.set_window_size(1366, 768 + int(inner))  # a 1366×768 page area
                    driver.save_screenshot(str(out / f"{name}.png"))
                    print(out / f"{name}.png")
                driver.get(base + "/admin/fleet")
                full_page_png(driver, out / "fleet-full.png", max_height=5000)
                print(out / "fleet-full.png")
            finally:
                driver.quit()
    finally:
        if before is None:
            os.environ.pop("HAILONG_SERVER_SEED_UNITS", None)
        else:
            os.environ["HAILONG_SERVER_SEED_UNITS"] = before
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_app(db: Path, seed_fn=seed):
    """The real app under uvicorn on 127.0.0.1 (in a thread), on a seeded SQLite file; yields the base URL."""
    import uvicorn

    from sync_server import settings as server_settings
    from sync_server.app import create_app
    from sync_server.storage import open_storage

    storage = open_storage(db)
    seed_fn(storage)
    port = free_port()
    app = create_app(server_settings.load(db=str(db)), storage)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        storage.close()


def chromium(width: int = 1366, height: int = 900):
    """A headless Chromium driven by Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def sign_in(driver, base: str, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    deadline = time.monotonic() + 10
    while "/login" in driver.current_url:
        if time.monotonic() > deadline:
            raise RuntimeError("sign-in failed")
        time.sleep(0.05)


def full_page_png(driver, path: Path, width: int = 1366, max_height: int = 2600) -> None:
    """Grow the window to the page's height (capped) and save a PNG."""
    height = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")  # the window is taller than its page area
    driver.set_window_size(width, min(max(int(height), 640) + int(chrome or 0), max_height))
    driver.save_screenshot(str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lang", choices=("vi", "en"), default="vi")
    parser.add_argument("--results", action="store_true", help="seed three years of answers and shoot the results pages too")
    parser.add_argument("--landing", action="store_true",
                        help="seed three years of answers and shoot only the landing page as a province leader and a commune user")
    parser.add_argument("--points", action="store_true",
                        help="seed answers across the 2025 reform and shoot the service-point and history pages (issue 13)")
    parser.add_argument("--forms", action="store_true", help="only the admin forms of issue 15 (questionnaire editor, campaign edit)")
    parser.add_argument("--officer", action="store_true", help="only an officer's page and the comments page (issue 15)")
    parser.add_argument("--fleet", action="store_true", help="only the fleet page and the audit log (issue 15), 20 kiosks on 220 points")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.forms:
        return form_shots(args.out, args.lang)
    if args.officer:
        return officer_shots(args.out, args.lang)
    if args.fleet:
        return fleet_shots(args.out, args.lang)
    seed_fn = seed_points if args.points else seed_with_results if args.results or args.landing else seed
    if args.landing:
        def seed_folded(storage) -> None:  # every answer counted before the first page view, as after `maintain`
            from sync_server.results import rollups

            seed_with_results(storage)
            rollups.refresh(storage, 7 * 3_600_000)
        with tempfile.TemporaryDirectory() as tmp, live_app(Path(tmp) / "server.sqlite3", seed_folded) as base:
            driver = chromium(1366, 768)
            try:
                for name, username in LANDING_PAGES:
                    driver.delete_all_cookies()
                    driver.get(base + f"/lang/{args.lang}?next=/login")
                    sign_in(driver, base, username)
                    inner = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
                    driver.set_window_size(1366, 768 + int(inner))  # a 1366×768 page area
                    driver.get(base + "/")
                    driver.save_screenshot(str(args.out / f"{name}.png"))
                    full_page_png(driver, args.out / f"{name}-full.png", max_height=6000)
                    print(args.out / f"{name}.png")
                driver.delete_all_cookies()
                driver.get(base + f"/lang/{args.lang}?next=/login")
                sign_in(driver, base, ADMIN)
                for name, path, open_menu in RESULTS_HOME:
                    inner = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
                    driver.set_window_size(1366, 768 + int(inner))
                    driver.get(base + path)
                    if open_menu:
                        driver.find_element("css selector", "header.top details.more > summary").click()
                    driver.save_screenshot(str(args.out / f"{name}.png"))
                    print(args.out / f"{name}.png")
            finally:
                driver.quit()
        return 0
    with tempfile.TemporaryDirectory() as tmp, live_app(Path(tmp) / "server.sqlite3", seed_fn) as base:
        driver = chromium()
        try:
            driver.get(base + f"/lang/{args.lang}?next=/login")
            full_page_png(driver, args.out / f"server_{PAGES[0][0]}.png")
            sign_in(driver, base)
            for name, path in RESULT_PAGES if args.results else ():
                driver.set_window_size(1366, 768)
                driver.get(base + path)
                inner = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
                driver.set_window_size(1366, 768 + int(inner))  # a 1366×768 page area
                driver.save_screenshot(str(args.out / f"{name}_1366x768.png"))
                full_page_png(driver, args.out / f"{name}.png", max_height=4000)
                print(args.out / f"{name}.png")
            for name, path in POINT_PAGES if args.points else ():
                driver.set_window_size(1366, 700)
                driver.get(base + path)
                full_page_png(driver, args.out / f"{name}.png", max_height=3000)
                print(args.out / f"{name}.png")
            for name, path in PAGES[1:]:
                driver.set_window_size(1366, 700)  # measure each page from a small window, not the last page's height
                driver.get(base + path)
                full_page_png(driver, args.out / f"server_{name}.png")
                print(args.out / f"server_{name}.png")
        finally:
            driver.quit()
    return 0


def form_shots(out: Path, lang: str = "vi") -> int:
    """The :data:`FORM_PAGES` as 1366×768 page areas (``NAME.png``)."""
    with tempfile.TemporaryDirectory() as tmp, live_app(Path(tmp) / "server.sqlite3", seed_forms) as base:
        driver = chromium(1366, 768)
        try:
            driver.get(base + f"/lang/{lang}?next=/login")
            sign_in(driver, base)
            driver.get(base + "/admin/questionnaires")
            future = driver.find_element("link text", FUTURE_CAMPAIGN).get_attribute("href").rsplit("/", 1)[1]
            for name, path in FORM_PAGES:
                driver.get(base + path.format(future=future))
                inner = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
                driver.set_window_size(1366, 768 + int(inner))  # a 1366×768 page area
                if name == "questionnaire-editor":  # a question block with its levels (the side panel stays in view)
                    driver.execute_script("window.scrollTo(0, document.getElementById('q0').getBoundingClientRect().top + window.scrollY - 8)")
                if name == "campaign-edit":  # the picker as someone uses it: a search typed, the matches unfolded
                    box = driver.find_element("id", "c-units-search")
                    box.send_keys("Yên")
                driver.save_screenshot(str(out / f"{name}.png"))
                print(out / f"{name}.png")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
