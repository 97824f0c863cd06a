"""Screenshots of the citizens' QR form at 360×640 in headless Chromium (``python -m tools.phone_screenshots --out DIR``).

The first screen as a citizen sees it, the whole page (with and without JavaScript), the thank-you
page and the kiosk comment page. Uses the same pieces as ``tests/test_phone_browser.py``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hailong_core.ids import uuid7
from tools import server_screenshots as shots


def main(argv: list[str] | None = None) -> int:
    from selenium.webdriver.common.by import By

    from tests.test_phone_browser import phone_chromium, save_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, shots.live_app(Path(tmp) / "server.sqlite3", seed_fn=lambda s: None) as base:
        for js in (True, False):
            tag = "js" if js else "nojs"
            driver = phone_chromium(js)
            try:
                driver.get(base + "/s/7201")
                save_png(driver, args.out / f"phone_first_{tag}.png")
                if js:
                    driver.find_element(By.CSS_SELECTOR, 'input[name="q_overall"][value="1"]').find_element(By.XPATH, "./ancestor::label").click()
                save_png(driver, args.out / f"phone_full_{tag}.png", full_page=True)
                driver.get(base + "/s/7201")
                driver.find_element(By.CSS_SELECTOR, 'input[name="q_overall"][value="4"]').find_element(By.XPATH, "./ancestor::label").click()
                driver.find_element(By.CSS_SELECTOR, "button.send").click()
                save_png(driver, args.out / f"phone_thanks_{tag}.png")
                driver.get(base + f"/s/7201?r={uuid7()}")
                save_png(driver, args.out / f"phone_comment_{tag}.png")
                driver.get(base + "/s/7201?t=FORGED-TOKEN")
                save_png(driver, args.out / f"phone_token_{tag}.png")
            finally:
                driver.quit()
    for p in sorted(args.out.glob("phone_*.png")):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
