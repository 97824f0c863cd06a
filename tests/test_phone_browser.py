"""The citizens' QR form in a real headless Chromium at 360×640, with JavaScript on and off:
scan URL → answer → thanks, and the answer is in the database with channel = qr."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from tools import server_screenshots as shots

pytestmark = pytest.mark.skipif(not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())),
                                reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)")

WIDTH, HEIGHT = 360, 640
NO_JS = {"profile.managed_default_content_settings.javascript": 2}


def phone_chromium(javascript: bool):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shots.CHROMIUM
    for arg in shots.CHROME_ARGS:
        options.add_argument(arg)
    # Headless Chrome keeps windows at least 500 px wide: emulate the phone's viewport instead.
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    if not javascript:
        options.add_experimental_option("prefs", NO_JS)
    driver = webdriver.Chrome(service=Service(executable_path=shots.CHROMEDRIVER), options=options)
    # (chromedriver's mobileEmulation makes clicks hang when JavaScript is off; a metrics override does not.)
    _viewport(driver, HEIGHT)
    return driver


def _viewport(driver, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": height, "deviceScaleFactor": 1,
                                                                  "mobile": False})


def save_png(driver, path: Path, full_page: bool = False) -> None:
    """The 360-wide viewport as a PNG; ``full_page`` grows it to the page's height first."""
    if full_page:
        height = driver.execute_cdp_cmd("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                                             "returnByValue": True})["result"]["value"]
        _viewport(driver, int(height))
    driver.save_screenshot(str(path))
    if full_page:
        _viewport(driver, HEIGHT)


def _wait_for(driver, fragment: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while fragment not in driver.current_url:
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached {fragment!r}; at {driver.current_url}")
        time.sleep(0.05)


def _choose(driver, name: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]')
    label = box.find_element(By.XPATH, "./ancestor::label")
    label.click()  # the citizen taps the big label, not the small box


def _rows(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT id, unit_code, channel, device_id, answers, flags FROM responses ORDER BY server_seq")]
    finally:
        con.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_scan_answer_thanks(tmp_path, javascript):
    from selenium.webdriver.common.by import By

    db = tmp_path / "server.sqlite3"
    with shots.live_app(db, seed_fn=lambda storage: None) as base:
        driver = phone_chromium(javascript)
        try:
            driver.get(base + "/s/7201")  # what the poster's QR holds
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "Phường Thọ Xương" in body and "Thành phố Bắc Giang" in body
            assert "Ông/Bà có hài lòng với cán bộ đã phục vụ mình hôm nay không?" in body
            if javascript:
                assert driver.execute_script("return window.innerWidth") == WIDTH
            why = driver.find_element(By.ID, "q-why")
            # Without JavaScript the follow-up is on the page with its "only if" hint; with it, hidden until it applies.
            assert why.is_displayed() is (not javascript)
            _choose(driver, "q_overall", "2")
            assert why.is_displayed()
            _choose(driver, "q_why", "waited_long")
            _choose(driver, "q_why", "extra_papers")
            driver.find_element(By.CSS_SELECTOR, "button.send").click()
            _wait_for(driver, "/s/7201/thanks")
            assert "Cảm ơn Ông/Bà!" in driver.find_element(By.TAG_NAME, "body").text
            save_png(driver, tmp_path / "thanks.png")
            assert (tmp_path / "thanks.png").stat().st_size > 5_000
        finally:
            driver.quit()
    rows = _rows(db)
    assert len(rows) == 1
    row = rows[0]
    assert row["channel"] == "qr" and row["unit_code"] == "7201" and row["device_id"] is None
    assert json.loads(row["answers"]) == {"overall": 2, "why": ["waited_long", "extra_papers"]}
    assert json.loads(row["flags"]) == []


def test_no_js_follow_up_that_does_not_apply_is_dropped(tmp_path):
    """Without JavaScript a citizen may tick "why" and then rate well: the server stores only what applies."""
    from selenium.webdriver.common.by import By

    db = tmp_path / "server.sqlite3"
    with shots.live_app(db, seed_fn=lambda storage: None) as base:
        driver = phone_chromium(javascript=False)
        try:
            driver.get(base + "/lang/en?next=/s/7204")
            assert "How satisfied are you" in driver.find_element(By.TAG_NAME, "body").text
            _choose(driver, "q_why", "impolite")
            _choose(driver, "q_overall", "5")
            _choose(driver, "q_skills", "4")
            driver.find_element(By.NAME, "q_comment").send_keys("Cán bộ tận tình, chu đáo")
            driver.find_elements(By.CSS_SELECTOR, "button.send")[-1].click()
            _wait_for(driver, "/thanks")
            assert "Thank you!" in driver.find_element(By.TAG_NAME, "body").text
        finally:
            driver.quit()
    (row,) = _rows(db)
    assert json.loads(row["answers"]) == {"overall": 5, "skills": 4, "comment": "Cán bộ tận tình, chu đáo"}
