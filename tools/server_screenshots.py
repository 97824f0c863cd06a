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
    parser.add_argument("--points", action="store_true",
                        help="seed answers across the 2025 reform and shoot the service-point and history pages (issue 13)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seed_fn = seed_points if args.points else seed_with_results if args.results else seed
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


if __name__ == "__main__":
    raise SystemExit(main())
