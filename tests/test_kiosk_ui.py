"""The kiosk window, driven like a citizen would: tap a face, then check the real SQLite file."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QObject, Qt, Signal, Slot  # noqa: E402

from hailong_core.questionnaire import load_default_questionnaire  # noqa: E402
from kiosk import settings as kiosk_settings  # noqa: E402
from kiosk.app import build, covers_vietnamese, ensure_vietnamese_font  # noqa: E402
from kiosk.store import Store, StoreError  # noqa: E402
from kiosk.ui.faces import MIN_TOUCH_MM  # noqa: E402

UNIT = {"code": "7201", "name": "Bộ phận một cửa UBND xã Tân Tiến", "level": "commune"}


def three_level_questionnaire() -> dict:
    level = lambda v, vi, en, score, sat: {"value": v, "label": {"vi": vi, "en": en}, "score": score, "satisfied": sat}  # noqa: E731
    return {
        "id": "three-faces", "version": 2,
        "title": {"vi": "Khảo sát ngắn", "en": "Short survey"},
        "criteria": [{"id": "friendly_officials", "label": {"vi": "Cán bộ thân thiện", "en": "Friendly officials"}}],
        "questions": [{
            "id": "overall3", "kind": "scale", "criterion": "friendly_officials",
            "text": {"vi": "Ông/Bà có hài lòng không?", "en": "Are you satisfied?"},
            "levels": [level(1, "Không hài lòng", "Dissatisfied", 0, False),
                       level(2, "Bình thường", "Neutral", 50, False),
                       level(3, "Hài lòng", "Satisfied", 100, True)],
        }],
    }


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.sqlite3")
    s.set_meta(unit_code="7201")
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path):
    # A short thank-you so the return to the start screen comes quickly; tests wait on its signal.
    return kiosk_settings.load(tmp_path, thank_you_s=0.2, backoff_base_s=0.5, input_guard_s=0)


@pytest.fixture
def kiosk(qtbot, store, settings):
    """The window and worker with the app's own wiring; the worker is stopped at the end."""
    window, worker = build(store, settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    yield window, worker
    assert worker.stop(), "the sync thread did not stop"
    assert not worker.is_running()


class MainThreadRelay(QObject):
    """Re-emits the worker's reports on the UI thread, and notes where they arrived.

    pytest-qt's waitSignal connects a plain function, which PySide6 would call in the worker's
    thread; a QObject slot is queued onto the UI thread, as the app's own wiring is.
    """

    sig_report = Signal(dict)

    def __init__(self, worker):
        super().__init__()
        self.threads = []
        worker.sig_sync_finished.connect(self.take)

    @Slot(dict)
    def take(self, report: dict) -> None:
        self.threads.append(threading.current_thread())
        self.sig_report.emit(report)


def stored_rows(store: Store) -> list[dict]:
    return store.pending(limit=100)


def tap(qtbot, face) -> None:
    qtbot.mouseClick(face, Qt.MouseButton.LeftButton)


def test_tap_stores_one_answer_then_thanks_then_start(qtbot, kiosk, store):
    window, _ = kiosk
    faces = window.start_screen.faces()
    assert [f.value for f in faces] == [1, 2, 3, 4, 5]
    min_px = MIN_TOUCH_MM / 25.4 * faces[0].logicalDpiX()
    assert all(f.width() >= min_px and f.height() >= min_px for f in faces)

    with qtbot.waitSignal(window.sig_rating_saved, timeout=2000) as saved:
        tap(qtbot, faces[3])

    rows = stored_rows(store)
    assert len(rows) == 1
    record = rows[0]
    assert record["id"] == saved.args[0]
    assert record["answers"] == {"overall": 4}
    assert record["unit_code"] == "7201"
    assert record["questionnaire"] == load_default_questionnaire().ref
    assert record["channel"] == "kiosk"
    assert window.current_screen() is window.thanks_screen

    with qtbot.waitSignal(window.sig_start_shown, timeout=3000):
        pass
    assert window.current_screen() is window.start_screen
    assert len(stored_rows(store)) == 1


def test_tap_works_while_server_is_unreachable(qtbot, kiosk, store):
    window, worker = kiosk
    store.set_meta(server_url="http://127.0.0.1:9", token="x", unit_code="7201")
    relay = MainThreadRelay(worker)
    with qtbot.waitSignal(relay.sig_report, timeout=10000) as first_round:
        worker.start()
    assert first_round.args[0]["error"]  # the worker is running and the network is down

    with qtbot.waitSignal(window.sig_rating_saved, timeout=2000) as saved:
        tap(qtbot, window.start_screen.faces()[4])
    assert window.current_screen() is window.thanks_screen
    assert [r["id"] for r in stored_rows(store)] == [saved.args[0]]
    assert stored_rows(store)[0]["answers"] == {"overall": 5}

    # A forced round also goes through the worker thread and reports back.
    with qtbot.waitSignal(relay.sig_report, timeout=10000) as forced:
        worker.request_sync_now()
    assert forced.args[0]["error"]
    assert store.counts()["pending"] == 1  # nothing lost, nothing marked sent
    assert set(relay.threads) == {threading.main_thread()}


def test_store_failure_shows_error_not_thanks(qtbot, kiosk, store, monkeypatch):
    window, _ = kiosk
    shown = []
    window.stack.currentChanged.connect(lambda i: shown.append(window.stack.widget(i)))

    def disk_fails(**_kwargs):
        raise StoreError("disk I/O error")

    # Scripts a failure at the disk boundary: the store raises as it does when the commit fails.
    monkeypatch.setattr(store, "record_response", disk_fails)
    monkeypatch.setattr(store, "begin_response", disk_fails)
    with qtbot.waitSignal(window.sig_rating_failed, timeout=2000) as failed:
        tap(qtbot, window.start_screen.faces()[0])
    assert "disk I/O error" in failed.args[0]
    assert window.current_screen() is window.error_screen
    assert window.thanks_screen not in shown
    assert stored_rows(store) == []

    with qtbot.waitSignal(window.sig_start_shown, timeout=3000):
        pass
    monkeypatch.undo()

    with qtbot.waitSignal(window.sig_rating_saved, timeout=2000):
        tap(qtbot, window.start_screen.faces()[3])
    assert window.current_screen() is window.thanks_screen
    assert [r["answers"] for r in stored_rows(store)] == [{"overall": 4}]


def test_readonly_database_shows_error(qtbot, kiosk, store):
    """The real write path: SQLite refuses the write, the store raises StoreError, no thank-you."""
    window, _ = kiosk
    store.read(lambda conn: conn.execute("PRAGMA query_only = ON"))
    with qtbot.waitSignal(window.sig_rating_failed, timeout=2000):
        tap(qtbot, window.start_screen.faces()[2])
    assert window.current_screen() is window.error_screen
    store.read(lambda conn: conn.execute("PRAGMA query_only = OFF"))
    assert stored_rows(store) == []


def test_three_level_scale_renders_three_faces(qtbot, store, settings):
    store.set_meta(config={"questionnaire": three_level_questionnaire(), "unit": UNIT})
    window, worker = build(store, settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)

    faces = window.start_screen.faces()
    assert [f.value for f in faces] == [1, 2, 3]
    assert [f.text() for f in faces] == ["Không hài lòng", "Bình thường", "Hài lòng"]
    assert window.start_screen.unit_label.text() == UNIT["name"]
    assert window.start_screen.question_label.text() == "Ông/Bà có hài lòng không?"
    assert all(not f.grab().isNull() for f in faces)

    with qtbot.waitSignal(window.sig_rating_saved, timeout=2000):
        tap(qtbot, faces[2])
    record = stored_rows(store)[0]
    assert record["answers"] == {"overall3": 3}
    assert record["questionnaire"] == {"id": "three-faces", "version": 2}
    worker.stop()


def test_config_change_rebuilds_the_start_screen(qtbot, kiosk, store):
    window, _ = kiosk
    assert len(window.start_screen.faces()) == 5
    store.set_meta(config={"questionnaire": three_level_questionnaire(), "unit": UNIT})
    window.on_sync_finished({"delay": 15, "sent": 0, "kept_aside": 0, "config_changed": True, "error": None})
    assert [f.value for f in window.start_screen.faces()] == [1, 2, 3]
    assert window.start_screen.unit_label.text() == UNIT["name"]


class NewConfigService:
    """Scripts a sync round that fetched a new config (the network side is SyncService's own tests)."""

    def __init__(self, store: Store):
        self.store = store
        self.rounds_in = []

    def run_round(self, force: bool = False) -> dict:
        self.rounds_in.append(threading.current_thread())
        self.store.set_meta(config={"questionnaire": three_level_questionnaire(), "unit": UNIT})
        return {"delay": 600, "sent": 0, "kept_aside": 0, "config_changed": True, "error": None}


def test_worker_reports_new_config_and_the_window_rebuilds_on_the_ui_thread(qtbot, store, settings):
    service = NewConfigService(store)
    window, worker = build(store, settings, service=service)
    qtbot.addWidget(window)
    try:
        worker.start()
        qtbot.waitUntil(lambda: len(window.start_screen.faces()) == 3, timeout=5000)
    finally:
        assert worker.stop()
    assert service.rounds_in and threading.main_thread() not in service.rounds_in
    assert all(face.thread() is window.thread() for face in window.start_screen.faces())
    assert window.start_screen.unit_label.text() == UNIT["name"]


def test_a_font_with_vietnamese_letters_is_used(qapp):
    family = ensure_vietnamese_font(qapp)
    assert family
    assert covers_vietnamese(qapp.font())


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080), (800, 1280)])
def test_an_enrolled_kiosk_without_admin_pin_says_how_to_set_one_and_the_pad_fits(qtbot, qapp, tmp_path, size, lang):
    """The pad of a kiosk with no admin PIN names the way in at the box (docs/install-kiosk.md), and
    the words fit: the window keeps the panel's size and "Huỷ" stays on it."""
    from kiosk.ui import style
    from kiosk.ui.screenshots import panel_dpi
    from kiosk.ui.strings import tr

    ensure_vietnamese_font(qapp)  # the kiosk's own font, as `hailong-kiosk run` sets it: the words' widths
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(unit_code="7201", token="t", device_id="d1",  # enrolled; no PIN from the server nor set here
                   config={"questionnaire": load_default_questionnaire().to_dict(), "unit": UNIT,
                           "settings": {"admin_pin_hash": None}})
    window, worker = build(store, kiosk_settings.load(tmp_path, input_guard_s=0))
    qtbot.addWidget(window)
    try:
        window._apply_lang(lang)
        style.set_display(window, screen_dpi=panel_dpi(size)[0])  # as on that panel (hailong-kiosk screenshots)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        window.open_admin_pin()
        pad = window.pin_screen
        qtbot.waitUntil(lambda: window.current_screen() is pad and pad.cancel_button.isVisible(), timeout=2000)
        label = pad.message_label  # laid out at the pad's width (the posted layout requests ran)
        qtbot.waitUntil(lambda: label.width() == label.maximumWidth() == int(pad.width() * 0.9), timeout=2000)
        message = pad.message_label.text()
        assert message == tr("admin_no_pin", lang) and not pad.keypad.isEnabled()
        # The command as staff type it (shown with no-break spaces and hyphens, so it stays on one line).
        assert "Ctrl+Alt+F2" in message and "sudo hailong-kiosk set-admin-pin" in message.replace("\u00a0", " ").replace("\u2011", "-")
        assert pad.layout().minimumSize().height() <= size[1]
        assert (window.width(), window.height()) == size
        bottom = pad.cancel_button.mapTo(window, pad.cancel_button.rect().bottomRight()).y()
        assert bottom < size[1]
    finally:
        assert worker.stop()
        store.close()
