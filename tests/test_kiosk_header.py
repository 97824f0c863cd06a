"""The kiosk's header names where it stands: the site (điểm tiếp nhận) and the counter (quầy), and for a
commune of today's two-level structure (since 1 July 2025) never a district ("huyện …") that no
longer exists.

A real server on a database holding both shipped trees, where code 7210 was Phường Hoàng Văn Thụ of
Thành phố Bắc Giang until 2025 and is Phường Bắc Giang, directly under the province, since; a real
enrolment to a site and counter; the real window offscreen, read as a citizen would read it.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QLabel  # noqa: E402

from kiosk import settings as kiosk_settings  # noqa: E402
from kiosk.app import build  # noqa: E402
from kiosk.store import Store  # noqa: E402
from kiosk.sync import enroll  # noqa: E402
from tests.support import LiveServer, free_port, server_cli, server_db_location  # noqa: E402

SITE = "Trung tâm phục vụ hành chính công phường Bắc Giang — cơ sở 2"
OLD_NAMES = ("huyện", "thành phố bắc giang", "hoàng văn thụ")  # the 2023 tree's names under this code and above it


@pytest.fixture
def today_server(tmp_path, monkeypatch):
    """A real server whose fresh database holds the 2023 tree and today's (the default of a deployment)."""
    monkeypatch.setenv("HAILONG_SERVER_SEED_UNITS", "all")  # read by the server and the CLI when they first open it
    live = LiveServer(server_db_location(tmp_path, seed="all"), free_port())
    live.start()
    yield live
    live.stop()


def visible_texts(widget) -> list[str]:
    return [w.text() for kind in (QLabel, QAbstractButton) for w in widget.findChildren(kind) if w.isVisible()]


def open_window(qtbot, store: Store, tmp_path):
    win, worker = build(store, kiosk_settings.load(tmp_path, input_guard_s=0))
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    return win, worker


def test_a_kiosk_of_a_2025_commune_reads_its_site_and_counter_and_no_district(qtbot, tmp_path, today_server):
    db = today_server.db
    site = server_cli(db, "site-add", "--unit", "7210", "--name", SITE).stdout.split()[-1]
    server_cli(db, "counter-add", "--site", site, "--code", "1", "--name", "Quầy 1")
    code = server_cli(db, "enroll-code", "--unit", "7210", "--site", site, "--counter", "1").stdout.split()[-1]
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, today_server.url, code, "Quầy 1")
    config = store.get_meta("config")
    assert config["unit"]["code"] == "7210" and config["unit"]["parent_code"] == "24"  # today's commune, no district

    win, worker = open_window(qtbot, store, tmp_path)
    try:
        header = win.start_screen.unit_label
        assert win.current_screen() is win.start_screen and header.isVisible()
        assert header.text() == f"{SITE} — Quầy 1"
        screen_texts = [t.lower() for t in visible_texts(win.start_screen)]
        assert f"{SITE} — Quầy 1".lower() in screen_texts
        assert not any(old in t for t in screen_texts for old in OLD_NAMES), screen_texts
        assert not any(old in win.windowTitle().lower() for old in OLD_NAMES)
        # The after-hours screen carries the same header.
        assert win.after_hours_screen.unit_label.text() == header.text()
    finally:
        assert worker.stop()
        store.close()


def config_with(site: dict | None) -> dict:
    from hailong_core.questionnaire import load_default_questionnaire

    config = {"unit": {"code": "7210", "name": "Phường Bắc Giang", "level": "commune", "parent_code": "24"},
              "officers": [], "questionnaire": load_default_questionnaire().to_dict(), "settings": {}}
    if site is not None:
        config["site"] = site
    return config


@pytest.mark.parametrize(("site", "vi", "en"), [
    # A counter the server sent without a name (removed from the site since): the kiosk's own words,
    # in the citizen's language, re-read on a language switch.
    ({"id": 3, "name": SITE, "address": None, "counter": "2", "counter_name": None}, f"{SITE} — Quầy 2", f"{SITE} — Counter 2"),
    ({"id": 3, "name": SITE, "address": None, "counter": None, "counter_name": None}, SITE, SITE),  # a site, no counter
    (None, "Phường Bắc Giang", "Phường Bắc Giang"),  # an older server with no site: the unit's name
])
def test_the_header_from_the_config_in_both_languages(qtbot, tmp_path, site, vi, en):
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(unit_code="7210", config=config_with(site))
    win, worker = open_window(qtbot, store, tmp_path)
    try:
        assert win.start_screen.unit_label.text() == vi
        win._on_lang_chosen("en")
        assert win.start_screen.unit_label.text() == en
        assert not any("huyện" in t.lower() for t in visible_texts(win.start_screen))
    finally:
        assert worker.stop()
        store.close()
