"""Every path of the kiosk a citizen, an officer and IT staff take, driven with taps (pytest-qt),
asserted on the real SQLite file. Short timers come from settings; tests wait on signals."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from hailong_core.questionnaire import load_default_questionnaire
from kiosk import settings as kiosk_settings
from kiosk.app import build
from kiosk.pins import DEFAULT_ADMIN_PIN
from kiosk.store import DRAFT, PENDING, Store, StoreError
from kiosk.ui.strings import tr

UNIT = {"code": "7201", "name": "Bộ phận một cửa UBND xã Tân Tiến", "level": "commune", "parent_code": "218"}
PIN = "2468"
ICT = timezone(timedelta(hours=7))
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def pin_hash():
    return PasswordHasher().hash(PIN)


def make_config(pin_hash: str, **settings) -> dict:
    return {
        "unit": UNIT,
        "officers": [{"id": "cb-01", "name": "Nguyễn Thị Hoa", "title": "Tư pháp", "photo": None, "pin_hash": pin_hash,
                      "procedure_group": "ho_tich"},
                     {"id": "cb-02", "name": "Trần Văn Dũng", "title": None, "photo": None, "pin_hash": pin_hash}],
        "questionnaire": load_default_questionnaire().to_dict(),
        "settings": {"cooldown_s": 5, "idle_timeout_s": 30, "burst_count": 50, "burst_window_s": 60,
                     "office_hours": None, "admin_pin_hash": None, "public_base_url": "https://hailong.example.vn", **settings},
    }


@pytest.fixture
def store(tmp_path, pin_hash):
    s = Store(tmp_path / "kiosk.sqlite3")
    s.set_meta(unit_code="7201", config=make_config(pin_hash), server_url="https://hailong.example.vn")
    yield s
    s.close()


def open_kiosk(qtbot, store, tmp_path, clock=None, **overrides):
    settings = kiosk_settings.load(tmp_path, **{"thank_you_s": 30, "long_press_s": 0.05, "input_guard_s": 0, **overrides})
    window, worker = build(store, settings, clock=clock)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window, worker


@pytest.fixture
def kiosk(qtbot, store, tmp_path):
    window, worker = open_kiosk(qtbot, store, tmp_path)
    yield window
    assert worker.stop()


def rows(store: Store) -> list[dict]:
    """The kiosk's own answers (positive seq), oldest first."""
    return store.read(lambda c: [dict(state=r[0], **json.loads(r[1]))
                                 for r in c.execute("SELECT state, record FROM responses WHERE seq > 0 ORDER BY seq")])


def tap(qtbot, widget) -> None:
    qtbot.mouseClick(widget, LEFT)


def face(window, value: int, screen=None):
    return next(f for f in (screen or window.start_screen).faces() if f.value == value)


def chip(window, option_id: str):
    return next(c for c in window.followup_screen.chips() if c.option_id == option_id)


def type_pin(qtbot, window, pin: str) -> None:
    for digit in pin:
        tap(qtbot, window.pin_screen.keypad.keys[digit])
    tap(qtbot, window.pin_screen.keypad.keys["ok"])


# --- citizens ----------------------------------------------------------------------------------

def test_satisfied_one_tap_is_stored_then_thanks_with_qr(qtbot, kiosk, store):
    with qtbot.waitSignal(kiosk.sig_rating_saved) as saved:
        tap(qtbot, face(kiosk, 5))
    [row] = rows(store)
    assert row["id"] == saved.args[0] and row["state"] == PENDING
    assert row["answers"] == {"overall": 5} and row["flags"] == [] and row["officer_id"] is None
    assert kiosk.current_screen() is kiosk.thanks_screen
    assert kiosk.thanks_screen.qr.text == f"https://hailong.example.vn/s/7201?r={row['id']}"
    assert kiosk.thanks_screen.qr.matrix() and kiosk.thanks_screen.qr.isVisible()
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.thanks_screen)  # a tap on the thank-you goes back at once


def test_dissatisfied_asks_why_and_stores_the_reasons(qtbot, kiosk, store):
    with qtbot.waitSignal(kiosk.sig_answer_started) as started:
        tap(qtbot, face(kiosk, 1))
    assert kiosk.current_screen() is kiosk.followup_screen
    assert rows(store)[0]["state"] == DRAFT  # committed at the tap, not yet sendable
    assert store.take_batch(10) == []
    min_px = 57
    assert all(c.height() >= min_px for c in kiosk.followup_screen.chips())
    assert kiosk.followup_screen.skip_button.isVisible() and kiosk.followup_screen.done_button.isVisible()
    for option in ("impolite", "waited_long"):
        with qtbot.waitSignal(kiosk.sig_answer_updated):
            tap(qtbot, chip(kiosk, option))
    assert rows(store)[0]["answers"] == {"overall": 1, "why": ["waited_long", "impolite"]}
    with qtbot.waitSignal(kiosk.sig_rating_saved) as saved:
        tap(qtbot, kiosk.followup_screen.done_button)
    [row] = rows(store)
    assert row["id"] == saved.args[0] == started.args[0]
    assert row["state"] == PENDING and row["flags"] == []
    assert row["answers"] == {"overall": 1, "why": ["waited_long", "impolite"]}
    assert kiosk.current_screen() is kiosk.thanks_screen


def test_skip_keeps_the_overall_answer_only(qtbot, kiosk, store):
    with qtbot.waitSignal(kiosk.sig_answer_started):
        tap(qtbot, face(kiosk, 2))
    with qtbot.waitSignal(kiosk.sig_answer_updated):
        tap(qtbot, chip(kiosk, "other"))
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, kiosk.followup_screen.skip_button)  # skip takes the chip back out
    [row] = rows(store)
    assert row["state"] == PENDING and row["answers"] == {"overall": 2} and row["flags"] == []


def test_idle_timeout_mid_way_keeps_the_partial_answer_as_incomplete(qtbot, store, tmp_path):
    window, worker = open_kiosk(qtbot, store, tmp_path, idle_timeout_s=0.3)
    with qtbot.waitSignal(window.sig_answer_started):
        tap(qtbot, face(window, 1))
    with qtbot.waitSignal(window.sig_answer_updated):
        tap(qtbot, chip(window, "impolite"))
    with qtbot.waitSignals([window.sig_answer_abandoned, window.sig_start_shown], timeout=5000):
        pass  # the citizen walked away
    [row] = rows(store)
    assert row["state"] == PENDING and row["flags"] == ["incomplete"]
    assert row["answers"] == {"overall": 1, "why": ["impolite"]}
    assert window.current_screen() is window.start_screen
    worker.stop()


def test_with_criteria_questions_each_answer_is_committed(qtbot, store, tmp_path):
    window, worker = open_kiosk(qtbot, store, tmp_path, ask_criteria=True)
    with qtbot.waitSignal(window.sig_answer_started):
        tap(qtbot, face(window, 4))
    assert window.followup_screen.question.id == "responsibility"
    with qtbot.waitSignal(window.sig_answer_updated):
        tap(qtbot, face(window, 3, window.followup_screen))
    assert window.followup_screen.question.id == "skills"
    assert rows(store)[0]["answers"] == {"overall": 4, "responsibility": 3}
    with qtbot.waitSignal(window.sig_rating_saved):
        tap(qtbot, window.followup_screen.done_button)  # "Xong": finish early
    assert rows(store)[0]["answers"] == {"overall": 4, "responsibility": 3} and rows(store)[0]["flags"] == []
    worker.stop()


def test_cooldown_second_press_is_stored_flagged(qtbot, kiosk, store):
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, face(kiosk, 5))
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.thanks_screen)
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, face(kiosk, 5))  # well within 5 s of the first
    first, second = rows(store)
    assert first["flags"] == [] and second["flags"] == ["cooldown"]
    # Nothing dropped; counted once: reports leave the flagged one out.
    assert [r for r in rows(store) if not r["flags"]] == [first]


def test_a_burst_is_flagged_from_the_runs_second_answer_on(qtbot, store, tmp_path, pin_hash):
    store.set_meta(config=make_config(pin_hash, cooldown_s=0, burst_count=3, burst_window_s=60))
    window, worker = open_kiosk(qtbot, store, tmp_path)
    for _ in range(4):
        with qtbot.waitSignal(window.sig_rating_saved):
            tap(qtbot, face(window, 5))
        with qtbot.waitSignal(window.sig_start_shown):
            tap(qtbot, window.thanks_screen)
    # The first answer of the run stays counted (a genuine citizen before the mashing began).
    assert [r["flags"] for r in rows(store)] == [[]] + [["burst"]] * 3
    worker.stop()


# --- officers ----------------------------------------------------------------------------------

def test_officer_sign_in_attributes_answers_until_sign_out(qtbot, kiosk, store):
    tap(qtbot, kiosk.start_screen.duty.officer_button)
    assert kiosk.current_screen() is kiosk.roster_screen
    assert [c.officer_id for c in kiosk.roster_screen.cards()] == ["cb-01", "cb-02"]
    tap(qtbot, kiosk.roster_screen.cards()[0])
    assert kiosk.current_screen() is kiosk.pin_screen
    with qtbot.waitSignal(kiosk.sig_officer_changed) as changed:
        type_pin(qtbot, kiosk, PIN)
    assert changed.args[0]["officer_id"] == "cb-01"
    assert store.get_meta("officer_session")["officer_id"] == "cb-01"
    assert kiosk.current_screen() is kiosk.start_screen
    assert "Nguyễn Thị Hoa" in kiosk.start_screen.duty.officer_label.text()

    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, face(kiosk, 4))
    # The answer carries the officer on duty and the field they receive (lĩnh vực, from the config).
    assert rows(store)[-1]["officer_id"] == "cb-01" and rows(store)[-1]["procedure_group"] == "ho_tich"
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.thanks_screen)

    tap(qtbot, kiosk.start_screen.duty.officer_button)  # the roster: the officer on duty signs out there
    tap(qtbot, kiosk.roster_screen.cards()[0])
    assert kiosk.pin_screen.purpose == "sign_out"
    with qtbot.waitSignal(kiosk.sig_officer_changed) as changed:
        type_pin(qtbot, kiosk, PIN)
    assert changed.args[0] is None and store.get_meta("officer_session") is None
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, face(kiosk, 4))
    assert rows(store)[-1]["officer_id"] is None and "procedure_group" not in rows(store)[-1]


def test_wrong_pin_signs_nobody_in(qtbot, kiosk, store):
    tap(qtbot, kiosk.start_screen.duty.officer_button)
    tap(qtbot, kiosk.roster_screen.cards()[1])
    with qtbot.waitSignal(kiosk.sig_pin_refused):
        type_pin(qtbot, kiosk, "1111")
    assert kiosk.current_screen() is kiosk.pin_screen
    assert kiosk.pin_screen.message_label.text() == tr("pin_wrong")
    assert store.get_meta("officer_session") is None
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.pin_screen.cancel_button)
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, face(kiosk, 5))
    assert rows(store)[0]["officer_id"] is None


def test_officer_is_signed_out_at_office_closing(qtbot, store, tmp_path, pin_hash):
    hours = {d: [["07:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    store.set_meta(config=make_config(pin_hash, office_hours=hours))
    now = [datetime(2031, 3, 3, 16, 0, tzinfo=ICT)]
    window, worker = open_kiosk(qtbot, store, tmp_path, clock=lambda: now[0])
    assert window.sessions.sign_in("cb-02", PIN)
    window.refresh_officer()
    assert window.officer_on_duty()["officer_id"] == "cb-02"
    now[0] = now[0].replace(hour=17, minute=1)
    with qtbot.waitSignal(window.sig_officer_changed) as changed:
        window.tick()
    assert changed.args[0] is None
    assert window.current_screen() is window.after_hours_screen  # and the office is closed
    worker.stop()


# --- languages ---------------------------------------------------------------------------------

def test_language_toggle_and_larger_text(qtbot, kiosk, store):
    q = load_default_questionnaire()
    assert kiosk.start_screen.question_label.text() == q.overall.text.vi
    tap(qtbot, kiosk.start_screen.duty.en_button)
    assert kiosk.lang == "en"
    assert kiosk.start_screen.question_label.text() == q.overall.text.en
    assert [f.text() for f in kiosk.start_screen.faces()] == [lv.label.en for lv in q.overall.levels]
    assert kiosk.start_screen.hint_label.text() == tr("tap_hint", "en")
    size = kiosk.start_screen.question_label.font().pixelSize()
    tap(qtbot, kiosk.start_screen.duty.large_button)
    assert kiosk.start_screen.question_label.font().pixelSize() > size
    with qtbot.waitSignal(kiosk.sig_answer_started):
        tap(qtbot, face(kiosk, 1))
    assert kiosk.followup_screen.question_label.text() == "What went wrong?"
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, kiosk.followup_screen.skip_button)
    assert rows(store)[0]["answers"] == {"overall": 1}  # answers do not depend on the language
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.thanks_screen)
    # The next citizen starts in Vietnamese, normal text.
    assert kiosk.lang == "vi" and kiosk.start_screen.question_label.text() == q.overall.text.vi
    assert kiosk.start_screen.question_label.font().pixelSize() == size


def test_strings_catalogues_agree():
    import string

    from kiosk.ui.strings import EN, VI

    assert VI.keys() == EN.keys()
    fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
    assert all(fields(VI[k]) == fields(EN[k]) for k in VI)


# --- disk full ----------------------------------------------------------------------------------

def fill_the_disk(store: Store) -> int:
    """A real SQLITE_FULL: the file may not grow (as on a full disk), and answers fill the last
    free bytes of its pages. Returns how many answers it holds."""
    pages = store.read(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
    store.read(lambda c: c.execute(f"PRAGMA max_page_count = {pages + 4}"))
    with pytest.raises(StoreError, match="full"):
        while True:
            store.record_response(unit_code="7201", questionnaire={"id": "bg-friendly-gov", "version": 1}, answers={"overall": 5})
    return len(rows(store))


def test_disk_full_shows_the_error_not_thanks_then_recovers(qtbot, kiosk, store):
    shown = []
    kiosk.sig_screen_changed.connect(shown.append)
    held = fill_the_disk(store)
    with qtbot.waitSignal(kiosk.sig_rating_failed) as failed:
        tap(qtbot, face(kiosk, 5))
    assert "full" in failed.args[0]
    assert kiosk.current_screen() is kiosk.error_screen and "thanks_screen" not in shown
    assert len(rows(store)) == held  # nothing stored, and no seq used up
    assert "full" in store.status()["last_storage_error"]["message"]

    # The admin screen shows the storage error.
    kiosk.open_admin()
    assert kiosk.admin_screen.storage_error_label.text() == "Bộ nhớ của thiết bị đã đầy."
    assert "full" in kiosk.admin_screen.storage_error_panel.details_text()  # the technical text, behind "Chi tiết"
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.admin_screen.close_button)

    # Still full: still no thank-you, and the kiosk does not freeze.
    with qtbot.waitSignal(kiosk.sig_rating_failed):
        tap(qtbot, face(kiosk, 1))
    with qtbot.waitSignal(kiosk.sig_start_shown):
        tap(qtbot, kiosk.error_screen)
    # Space comes back (someone cleared the disk): the next tap works, nothing else needed.
    store.read(lambda c: c.execute("PRAGMA max_page_count = 1073741823"))
    with qtbot.waitSignal(kiosk.sig_rating_saved):
        tap(qtbot, face(kiosk, 3))
    assert len(rows(store)) == held + 1 and rows(store)[-1]["answers"] == {"overall": 3}
    assert rows(store)[-1]["seq"] == held + 1
    assert store.get_meta("last_storage_error")["message"]  # now also kept in the database


def test_io_error_reopens_the_connection(tmp_path):
    """After an I/O-class error the store drops its connection and the next write opens a fresh one."""
    store = Store(tmp_path / "kiosk.sqlite3")
    store.read(lambda c: c.execute("PRAGMA query_only = ON"))  # SQLITE_READONLY on the next write
    with pytest.raises(StoreError):
        store.record_response(unit_code="7201", questionnaire={"id": "q", "version": 1}, answers={"overall": 5})
    assert store.last_storage_error["message"]
    record = store.record_response(unit_code="7201", questionnaire={"id": "q", "version": 1}, answers={"overall": 5})
    assert record["seq"] == 1
    store.close()


# --- office hours ------------------------------------------------------------------------------

def test_after_hours_press_is_stored_flagged(qtbot, store, tmp_path, pin_hash):
    hours = {"mon": [["07:30", "11:30"], ["13:30", "17:00"]]}
    store.set_meta(config=make_config(pin_hash, office_hours=hours))
    now = [datetime(2031, 3, 3, 12, 0, tzinfo=ICT)]  # Monday lunch
    window, worker = open_kiosk(qtbot, store, tmp_path, clock=lambda: now[0])
    assert window.current_screen() is window.after_hours_screen
    assert "07:30–11:30" in window.after_hours_screen.question_label.text()
    with qtbot.waitSignal(window.sig_rating_saved):
        tap(qtbot, face(window, 5, window.after_hours_screen))
    assert rows(store)[0]["flags"] == ["after_hours"]
    now[0] = now[0].replace(hour=14)
    with qtbot.waitSignal(window.sig_start_shown):
        tap(qtbot, window.thanks_screen)
    assert window.current_screen() is window.start_screen
    worker.stop()


# --- lockdown and admin ------------------------------------------------------------------------

def long_press_corner(qtbot, window) -> None:
    with qtbot.waitSignal(window.hotspot.sig_long_press, timeout=3000):
        qtbot.mousePress(window.hotspot, LEFT, pos=QPoint(5, 5))
    qtbot.mouseRelease(window.hotspot, LEFT, pos=QPoint(5, 5))


def test_no_way_out_by_keyboard_or_close(qtbot, kiosk):
    assert not kiosk.close()
    for key, mods in ((Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier), (Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier),
                      (Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)):
        QApplication.sendEvent(kiosk, QKeyEvent(QEvent.Type.KeyPress, key, mods))
    assert kiosk.isVisible() and kiosk.current_screen() is kiosk.start_screen
    # A short press on the corner does nothing.
    qtbot.mouseClick(kiosk.hotspot, LEFT, pos=QPoint(5, 5))
    assert kiosk.current_screen() is kiosk.start_screen


def test_fresh_kiosk_admin_with_default_pin_then_exit(qtbot, kiosk, store):
    long_press_corner(qtbot, kiosk)
    assert kiosk.current_screen() is kiosk.pin_screen and kiosk.pin_screen.purpose == "admin"
    assert kiosk.pin_screen.message_label.text() == tr("admin_default_pin")
    with qtbot.waitSignal(kiosk.sig_pin_refused):
        type_pin(qtbot, kiosk, "1234")
    with qtbot.waitSignal(kiosk.sig_admin_opened):
        type_pin(qtbot, kiosk, DEFAULT_ADMIN_PIN)
    admin = kiosk.admin_screen
    assert tr("admin_not_enrolled") in admin.enrol_label.text()
    assert "Nguyễn Thị Hoa" in admin.officers_label.text()
    # IT staff may type with a plugged-in keyboard, or use the on-screen one.
    qtbot.keyClicks(admin.code_edit, "abcd")
    tap(qtbot, admin.keyboard_button)
    tap(qtbot, admin.keyboard.keys["7"])
    assert admin.code_edit.text() == "abcd7"
    with qtbot.waitSignal(kiosk.sig_exit_requested):
        tap(qtbot, admin.exit_button)
    assert not kiosk.isVisible()


def test_enrolled_kiosk_without_admin_pin_has_no_admin_screen(qtbot, kiosk, store, pin_hash):
    store.set_meta(token="t", device_id="d1")
    long_press_corner(qtbot, kiosk)
    assert not kiosk.pin_screen.keypad.isEnabled()
    assert kiosk.pin_screen.message_label.text() == tr("admin_no_pin")
    type_pin(qtbot, kiosk, DEFAULT_ADMIN_PIN)
    assert kiosk.current_screen() is kiosk.pin_screen
    # Set with `hailong-kiosk set-admin-pin`: a local hash.
    store.set_meta(local_admin_pin_hash=pin_hash)
    tap(qtbot, kiosk.pin_screen.cancel_button)
    long_press_corner(qtbot, kiosk)
    with qtbot.waitSignal(kiosk.sig_admin_opened):
        type_pin(qtbot, kiosk, PIN)


class ScriptedService:
    """Scripts the worker's rounds (the network side is SyncService's own tests)."""

    def __init__(self, store: Store, config: dict | None = None):
        self.store = store
        self.config = config
        self.rounds_in: list = []
        self.forced = 0

    def run_round(self, force: bool = False) -> dict:
        self.rounds_in.append(threading.current_thread())
        self.forced += force
        changed = False
        if self.config is not None:
            self.store.set_meta(config=self.config)
            self.config, changed = None, True
        return {"delay": 600, "sent": 0, "kept_aside": 0, "config_changed": changed, "error": None}


def test_a_new_questionnaire_version_appears_without_restart(qtbot, store, tmp_path, pin_hash):
    new = make_config(pin_hash)
    doc = copy.deepcopy(new["questionnaire"])
    doc["version"] = 3
    doc["questions"][0]["text"] = {"vi": "Ông/Bà đánh giá thế nào về buổi làm việc hôm nay?", "en": "How was your visit today?"}
    new["questionnaire"] = doc
    service = ScriptedService(store, new)
    settings = kiosk_settings.load(tmp_path, thank_you_s=30, input_guard_s=0)
    window, worker = build(store, settings, service=service)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_rating_saved):
        tap(qtbot, face(window, 5))
    assert rows(store)[0]["questionnaire"] == {"id": "bg-friendly-gov", "version": 1}
    with qtbot.waitSignal(window.sig_start_shown):
        tap(qtbot, window.thanks_screen)
    try:
        worker.start()
        qtbot.waitUntil(lambda: window.questionnaire.version == 3, timeout=5000)
    finally:
        assert worker.stop()
    assert threading.main_thread() not in service.rounds_in
    assert window.start_screen.question_label.text() == doc["questions"][0]["text"]["vi"]
    with qtbot.waitSignal(window.sig_rating_saved):
        tap(qtbot, face(window, 5))
    assert rows(store)[1]["questionnaire"] == {"id": "bg-friendly-gov", "version": 3}


def test_admin_sync_now_goes_through_the_worker(qtbot, store, tmp_path):
    service = ScriptedService(store)
    settings = kiosk_settings.load(tmp_path, thank_you_s=30, input_guard_s=0)
    window, worker = build(store, settings, service=service)
    qtbot.addWidget(window)
    window.show()
    try:
        worker.start()
        qtbot.waitUntil(lambda: len(service.rounds_in) == 1, timeout=5000)
        window.open_admin()
        tap(qtbot, window.admin_screen.sync_button)
        qtbot.waitUntil(lambda: service.forced == 1, timeout=5000)
        qtbot.waitUntil(lambda: window.admin_screen.result_label.text() == "Đồng bộ xong: không có phiếu nào chờ gửi.", timeout=5000)
    finally:
        assert worker.stop()


def test_a_draft_left_by_a_crash_is_finalised_at_start_up(qtbot, tmp_path, pin_hash):
    path = tmp_path / "kiosk.sqlite3"
    old = datetime.now(ICT) - timedelta(minutes=10)
    first = Store(path, clock=lambda: old)
    first.set_meta(unit_code="7201", config=make_config(pin_hash))
    draft = first.begin_response(unit_code="7201", questionnaire={"id": "bg-friendly-gov", "version": 1}, answers={"overall": 2})
    first.close()
    store = Store(path)
    window, worker = open_kiosk(qtbot, store, tmp_path)
    rec = store.get_record(draft["id"])
    assert rec["state"] == PENDING and rec["record"]["flags"] == ["incomplete"]
    worker.stop()
    store.close()


def test_the_file_is_sound_after_all_that(tmp_path, store):
    assert store.integrity_ok()
    assert sqlite3.connect(str(store.path)).execute("PRAGMA user_version").fetchone()[0] == 3
