"""Every page a citizen or an official uses, checked by axe-core (WCAG 2.1 A/AA rules) in headless
Chromium: no critical or serious violation. One seeded app, one browser; axe-core comes from the npm
registry, pinned and verified (tests/axe.py). Without network the test fails, unless HAILONG_OFFLINE=1."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from tests import axe
from tools import server_screenshots as shots

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())),
                                 reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)")]


def _seed(storage) -> None:
    """The screenshots' demo (accounts, officers, kiosks, the 2025 campaign), two earlier campaigns and
    a few thousand answers: enough for every results page and the recognition table to show rows."""
    from bench.results import generate

    now = datetime.now(timezone.utc)
    storage.add_campaign("Khảo sát CQTT 26/6–30/6/2024", "2024-06-26", "2024-06-30", "bg-friendly-gov", 1, ["24"], now)
    generate(storage.path, 4_000, 11, start=date(2024, 6, 1), days=400, campaigns=())
    generate(storage.path, 4_000, 12, start=date(2025, 6, 26), days=5, campaigns=(), officers=False, salt=1 << 40)
    shots.seed(storage)
    # Issue 15's admin forms: a draft for the questionnaire editor, a campaign that has not started (editable).
    from hailong_core.questionnaire import load_default_questionnaire

    storage.save_questionnaire_draft({**load_default_questionnaire().to_dict(), "version": 2}, now)
    storage.add_campaign("Khảo sát CQTT 26/6–30/6/2099", "2099-06-26", "2099-06-30", "bg-friendly-gov", 1, ["7210"], now)


def _uuid7_now() -> str:
    """A kiosk answer's id made a moment ago (the comment link on its thank-you screen)."""
    from hailong_core.ids import uuid7

    hexed = f"{int(time.time() * 1000):012x}"
    return f"{hexed[:8]}-{hexed[8:]}-{uuid7()[14:]}"


def _wait_away(driver, fragment: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while fragment in driver.current_url:
        if time.monotonic() > deadline:
            raise AssertionError(f"still at {driver.current_url}")
        time.sleep(0.05)


def _submit_unchecked(driver) -> None:
    """Send the page's form as it is, past the browser's own ``required`` check (the server's error state)."""
    from selenium.webdriver.common.by import By

    driver.execute_script("document.querySelector('form.answer').noValidate = true")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "button.send").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the answer page replaces this one
        try:
            old.tag_name
        except Exception:  # stale: the new page is there
            return
        time.sleep(0.05)
    raise AssertionError("the form was not sent")


def _keyboard_reaches_send(driver, presses: int = 40) -> None:
    """By keyboard alone (Tab, then Space on a level), a citizen reaches the first answer and the send button."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(presses):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if driver.execute_script("return document.activeElement.matches('button.send')"):
            return
    raise AssertionError("Tab never reaches the send button of the phone form")


def _links(driver, selector: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, selector)]


def test_pages_have_no_serious_axe_violations(tmp_path):
    from selenium.webdriver.common.by import By

    if os.environ.get("HAILONG_OFFLINE") == "1":
        try:
            source = axe.axe_source(timeout=5)
        except axe.AxeUnavailable as exc:
            pytest.skip(f"HAILONG_OFFLINE=1 and no cached axe-core: {exc}")
    else:
        source = axe.axe_source()  # raises AxeUnavailable, with the URL, when the registry cannot be reached
    failures: list[str] = []
    seen: list[str] = []

    def _wait_replaced(element, timeout: float = 10) -> None:
        from selenium.common.exceptions import StaleElementReferenceException

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                element.tag_name
            except StaleElementReferenceException:
                return
            time.sleep(0.05)
        raise AssertionError("the page was not replaced")

    def check(page: str) -> None:
        found = axe.serious(axe.run_axe(driver, source))
        seen.append(page)
        if found:
            failures.append(axe.report(page, found))

    def visit(path: str, page: str | None = None) -> None:
        driver.get(path if path.startswith("http") else base + path)
        check(page or path.replace(base, ""))

    with shots.live_app(tmp_path / "server.sqlite3", _seed) as base:  # pages, not storage: SQLite on both passes (the seed writes the file)
        driver = shots.chromium()
        try:
            # The citizen's phone form: fresh, refused without the overall answer, thanks; the kiosk comment link.
            visit("/s/7210", "phone form")
            _keyboard_reaches_send(driver)
            _submit_unchecked(driver)  # past the browser's own check: the server's error state
            assert driver.find_elements(By.CSS_SELECTOR, "div.alert[role=alert]"), "no error shown without the overall answer"
            check("phone form, no overall answer")
            box = driver.find_element(By.CSS_SELECTOR, 'input[name="q_overall"][value="4"]')
            box.find_element(By.XPATH, "./ancestor::label").click()
            driver.find_element(By.CSS_SELECTOR, "button.send").click()
            deadline = time.monotonic() + 10
            while "/thanks" not in driver.current_url and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "/thanks" in driver.current_url, driver.current_url
            check("phone thanks")
            visit(f"/s/7210?r={_uuid7_now()}", "phone comment form")
            _submit_unchecked(driver)  # an empty comment: refused with a message
            assert driver.find_elements(By.CSS_SELECTOR, "div.alert[role=alert]"), "no error shown for an empty comment"
            check("phone comment form, empty")
            visit("/s/7210?r=not-an-id", "phone comment, invalid link")
            visit("/s/9999", "phone, unknown unit")
            # Signing in: the form, a refused password, then the landing page.
            visit("/login", "login")
            driver.find_element(By.ID, "username").send_keys(shots.ADMIN)
            driver.find_element(By.ID, "password").send_keys("sai mật khẩu")
            before = driver.find_element(By.TAG_NAME, "html")
            driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            _wait_replaced(before)  # the refusal is a new page: check that one, not the form being left
            assert "/login" in driver.current_url
            check("login, refused")
            shots.sign_in(driver, base)
            visit("/", "landing")
            menu = _links(driver, "header.top nav a")
            driver.find_element(By.CSS_SELECTOR, "header.top details.more > summary").click()  # the admin menu open
            check("landing, Quản trị menu open")
            # Results: the province, a district, a commune, recognition, an officer.
            for path in ("/results", "/results/units/213", "/results/recognition"):
                visit(path)
            assert len(driver.find_elements(By.CSS_SELECTOR, "table.ranking tbody tr")) > 10, "the recognition table is empty"
            visit("/results/units/7201")
            officers = _links(driver, 'a[href*="/results/officers/"]')
            assert officers, "no officer link on the commune's results"
            visit(officers[0], "/results/officers/<id>")
            # Every page of the menu, then a detail page of each kind.
            for href in menu:
                if href.rstrip("/") not in (base, base + "/results"):  # both checked above
                    visit(href)
            details = [("/admin/units", 'a[href^="/admin/units/"]'), ("/admin/officers?unit=7201", 'a[href^="/admin/officers/"]'),
                       ("/admin/questionnaires", 'a[href^="/admin/questionnaires/"]'), ("/admin/sites", 'a[href^="/admin/sites?unit="]')]
            for listing, selector in details:
                driver.get(base + listing)
                found = [h for h in _links(driver, selector) if "?on=" not in h]
                assert found, f"no detail link on {listing}"
                visit(found[0], f"{listing} → {found[0].replace(base, '')}")
            visit("/admin/units/7201")
            visit("/admin/sites?unit=7201")
            # Issue 15's fleet filters (a filtered list, the coverage groups open) and the audit log filtered.
            visit("/admin/fleet?unit=213&status=active&q=quay", "fleet, filtered")
            visit("/admin/audit?action=units.import", "audit, filtered")
            # Issue 15's admin forms: the questionnaire editor (a draft; a published version, read-only), a campaign
            # that has not started (its edit form and unit picker) and one that has (locked).
            visit("/admin/questionnaires/bg-friendly-gov/2/edit", "questionnaire editor")
            visit("/admin/questionnaires/bg-friendly-gov/1/edit", "questionnaire editor, published")
            driver.get(base + "/admin/questionnaires")
            campaign_pages = _links(driver, 'a[href^="/admin/campaigns/"]')
            visit(campaign_pages[0], "campaign edit")
            visit(campaign_pages[-1], "campaign, started")
            # The leader's first screen of a commune user (issue 15): their commune's own landing page.
            driver.delete_all_cookies()
            shots.sign_in(driver, base, "tho.xuong")
            visit("/", "landing, commune user")
        finally:
            driver.quit()
    print(f"axe-core {axe.VERSION}: {len(seen)} pages checked")
    assert not failures, f"critical or serious axe violations on {len(failures)} of {len(seen)} pages:\n" + "\n".join(failures)
