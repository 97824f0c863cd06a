"""The admin pages in a real headless Chromium (Debian's chromium + chromium-driver through Selenium):
sign in through the form, then check the fleet and units pages' text, Vietnamese diacritics included."""

from __future__ import annotations

from tests.support import server_db_location

import shutil
from pathlib import Path

import pytest

from tools import server_screenshots as shots

pytestmark = pytest.mark.skipif(not (Path(shots.CHROMIUM).exists() and shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists()),
                                reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)")


def test_sign_in_and_read_pages_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    with shots.live_app(server_db_location(tmp_path)) as base:
        driver = shots.chromium()
        try:
            driver.get(base + "/admin/fleet")
            assert "/login" in driver.current_url  # not signed in yet
            shots.sign_in(driver, base)
            driver.get(base + "/admin/fleet")
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "Máy kiosk" in body and "Quầy 1 – Thọ Xương" in body and "Mất liên lạc" in body
            driver.get(base + "/admin/units?on=2024-06-26")
            rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table.tree tbody tr")]
            assert len(rows) == 221 and rows[0].startswith("24 Tỉnh Bắc Giang")
            # Depth-first: the city's communes follow it, before the next district.
            assert rows[2].startswith("213 Thành phố Bắc Giang") and rows[3].startswith("7201 Phường Thọ Xương")
            shots.full_page_png(driver, tmp_path / "units.png")
            assert (tmp_path / "units.png").stat().st_size > 20_000
            # Results filters: days typed and shown day first, whatever the browser's locale.
            driver.get(base + "/results/units/7201?from=2025-06-26&to=2025-06-30")
            start = driver.find_element(By.ID, "f-from")
            assert start.get_attribute("value") == "26/06/2025" and start.get_attribute("type") == "text"
            start.clear()
            start.send_keys("01/06/2025")
            driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
            WebDriverWait(driver, 10).until(staleness_of(start))  # the new page replaced the old one
            assert "01/06/2025 – 30/06/2025" in driver.find_element(By.CSS_SELECTOR, "p.sub").text
            assert driver.find_element(By.ID, "f-from").get_attribute("value") == "01/06/2025"
        finally:
            driver.quit()
