"""Ratings tied to the dossier, on the kiosk (issue 14): a receipt scanned with a USB scanner that
types like a keyboard, read with no text field; the code goes on exactly one answer and never on
the screen; a bad code is refused politely and the rating still works.

The rules without Qt on real SQLite files; the scanner through the real window offscreen, its
keystrokes as key events stamped the way the input system stamps them (``QKeyEvent.timestamp()``),
at a scanner's (or a person's) pace on an injected monotonic clock, so the timing is exact on a
loaded machine; one run on the real clock as well, with the UI thread stalled inside the scan.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit

from hailong_core.config import kiosk_settings
from hailong_core.questionnaire import load_default_questionnaire
from hailong_core.response import check_record
from kiosk import settings as kiosk_settings_spec
from kiosk.answering import Answering
from kiosk.app import build
from kiosk.dossier_scan import ScanAccumulator, code_from_scan
from kiosk.store import Store, StoreError
from kiosk.sync import ServerApi, SyncClient
from kiosk.ui.strings import tr
from tests.records import Clock

ICT = timezone(timedelta(hours=7))
CODE = "H24.22-250701-000123"
PATTERN = r"H24\.\d{2}-\d{6}-\d{6}"


class Mono:
    """A settable monotonic clock: tests move it instead of waiting."""

    def __init__(self, start: float = 1000.0):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def config(**settings) -> dict:
    return {"unit": {"code": "7201", "name": "UBND phường Bắc Giang", "level": "commune", "parent_code": None},
            "officers": [], "questionnaire": load_default_questionnaire().to_dict(),
            "settings": {"public_base_url": "https://hailong.bacninh.gov.vn", **settings}}


@pytest.fixture
def clock():
    return Clock(datetime(2026, 12, 1, 9, 0, tzinfo=ICT))


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "kiosk.sqlite3", clock=clock)
    s.set_meta(unit_code="7201", config=config(dossier_scan=True, dossier_pattern=PATTERN))
    yield s
    s.close()


def records(store: Store) -> list[dict]:
    return store.read(lambda c: [json.loads(r[0]) for r in c.execute("SELECT record FROM responses ORDER BY seq")])


# --- the accumulator: a scanner's pace, not a person's --------------------------------------------

def feed(acc: ScanAccumulator, text: str, start: float, gap: float, enter_gap: float | None = None) -> str | None:
    t = start
    for ch in text:
        acc.feed(ch, t)
        t += gap
    return acc.enter(t - gap + (gap if enter_gap is None else enter_gap))


def test_keystrokes_at_a_scanners_pace_ending_with_enter_are_a_scan():
    acc = ScanAccumulator()
    assert feed(acc, CODE, 10.0, 0.008) == CODE
    assert feed(acc, CODE, 20.0, 0.050) == CODE  # the limit itself is a scanner's


@pytest.mark.parametrize("gap", [0.08, 0.15, 0.3])
def test_a_person_typing_is_discarded(gap):
    acc = ScanAccumulator()
    assert feed(acc, CODE, 10.0, gap) is None


def test_stray_keys_a_slow_enter_and_a_short_burst_are_discarded():
    acc = ScanAccumulator()
    assert feed(acc, "AB1", 10.0, 0.005) is None            # too short: key rollover, not a code
    assert feed(acc, CODE, 20.0, 0.005, enter_gap=0.4) is None  # Enter pressed by a person later
    assert acc.enter(30.0) is None                           # Enter alone
    # A person's keys before a scan do not stick to it: the slow gap starts afresh.
    acc.feed("x", 40.0)
    acc.feed("y", 40.5)
    assert feed(acc, CODE, 41.0, 0.006) == CODE
    # A control character breaks a scan; so does a burst longer than any receipt.
    acc.feed("A", 50.0)
    acc.feed("\x1b", 50.001)
    assert feed(acc, "BC", 50.002, 0.001) is None
    assert feed(acc, "9" * 600, 60.0, 0.001) is None


def test_a_receipt_qr_holding_the_phone_link_gives_its_code():
    assert code_from_scan(f"https://hailong.bacninh.gov.vn/s/7201?d={CODE}") == CODE
    assert code_from_scan(f"  {CODE.lower()} ") == CODE.lower()  # normalised later, by the logic
    assert code_from_scan("https://dichvucong.gov.vn/p/home") == "https://dichvucong.gov.vn/p/home"  # then refused


# --- the config: older servers send none of the dossier settings -----------------------------------

def test_the_dossier_settings_default_when_absent_or_mistyped():
    s = kiosk_settings({"settings": {}})
    assert (s["dossier_scan"], s["dossier_pattern"], s["dossier_link_s"]) == (False, "", 300)
    s = kiosk_settings({"settings": {"dossier_scan": True, "dossier_pattern": PATTERN, "dossier_link_s": 120}})
    assert (s["dossier_scan"], s["dossier_pattern"], s["dossier_link_s"]) == (True, PATTERN, 120)
    s = kiosk_settings({"settings": {"dossier_scan": "yes", "dossier_pattern": None, "dossier_link_s": -5}})
    assert (s["dossier_scan"], s["dossier_pattern"], s["dossier_link_s"]) == (False, "", 300)
    assert kiosk_settings(None)["dossier_link_s"] == 300


# --- the logic: one answer, normalised, checked against the unit's pattern --------------------------

def test_a_scanned_code_goes_on_the_next_answer_only(store, clock):
    mono = Mono()
    answering = Answering(store, clock=clock, monotonic=mono)
    answering.load()
    step = answering.attach_dossier(f" {CODE.lower()} ", "scan", hold_s=30)
    assert step.kind == "dossier_attached" and step.expires_in_s == 30
    assert CODE not in repr(step)  # nothing the window gets carries the code
    answering.tap(5)
    answering.tap(5)
    first, second = records(store)
    assert first["dossier_code"] == CODE  # normalised: stripped, upper-cased
    assert "dossier_code" not in second
    # A draft carries it from its birth through its follow-ups and its end.
    answering.attach_dossier(CODE, "scan", hold_s=30)
    answering.tap(1)
    answering.next(["waited_long"])
    assert records(store)[-1]["dossier_code"] == CODE and records(store)[-1]["answers"]["why"] == ["waited_long"]


def test_a_refused_code_attaches_nothing_and_the_rating_still_counts(store, clock):
    answering = Answering(store, clock=clock, monotonic=Mono())
    answering.load()
    assert answering.attach_dossier(CODE, "scan").kind == "dossier_attached"
    # Not this unit's pattern: refused, and the earlier scan goes too (the citizen was just told
    # to rate as usual).
    step = answering.attach_dossier("8934567890123", "scan")
    assert (step.kind, step.reason) == ("dossier_refused", "pattern")
    assert answering.attach_dossier("not a code!", "scan").reason == "invalid"
    assert answering.tap(4).kind == "thanks"
    assert "dossier_code" not in records(store)[-1]


def test_a_scan_expires_and_the_step_can_be_off(store, clock):
    mono = Mono()
    answering = Answering(store, clock=clock, monotonic=mono)
    answering.load()
    answering.attach_dossier(CODE, "scan", hold_s=30)
    mono.advance(30.5)  # the citizen walked away after scanning
    answering.tap(5)
    assert "dossier_code" not in records(store)[-1]
    store.set_meta(config=config())  # dossier_scan off (the default)
    answering.load()
    assert answering.attach_dossier(CODE, "scan").reason == "off"


def test_the_citizens_scan_wins_over_the_counters_link_and_both_are_used_up(store, clock):
    answering = Answering(store, clock=clock, monotonic=Mono())
    answering.load()
    answering.attach_dossier("H24.22-250701-000999", "counter")
    answering.attach_dossier(CODE, "scan", hold_s=30)
    answering.tap(5)
    answering.tap(5)
    first, second = records(store)
    assert first["dossier_code"] == CODE and "dossier_code" not in second


def test_a_failed_commit_keeps_the_code_for_the_next_tap(store, clock, monkeypatch):
    answering = Answering(store, clock=clock, monotonic=Mono())
    answering.load()
    answering.attach_dossier(CODE, "scan", hold_s=30)
    real = store.record_response

    def full(**kwargs):
        raise StoreError("database or disk is full")

    monkeypatch.setattr(store, "record_response", full)
    assert answering.tap(5).kind == "error"
    monkeypatch.setattr(store, "record_response", real)
    answering.tap(5)
    assert records(store)[-1]["dossier_code"] == CODE


# --- the record: what the store keeps is what it uploads --------------------------------------------

def test_records_not_tied_keep_their_exact_content(store):
    qref = {"id": "bg-friendly-gov", "version": 1}
    plain = store.record_response(unit_code="7201", questionnaire=qref, answers={"overall": 5})
    assert "dossier_code" not in plain
    raw = store.read(lambda c: c.execute("SELECT record FROM responses WHERE id = ?", (plain["id"],)).fetchone()[0])
    assert "dossier" not in raw
    draft = store.begin_response(unit_code="7201", questionnaire=qref, answers={"overall": 1})
    store.update_draft(draft["id"], {"overall": 1, "why": ["impolite"]})
    assert "dossier_code" not in store.finalise(draft["id"])


class _Capture(BaseHTTPRequestHandler):
    """A stand-in for the server's upload endpoint: keeps the body, answers every item accepted."""

    bodies: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(gzip.decompress(self.rfile.read(int(self.headers["Content-Length"]))))
        type(self).bodies.append(body)
        data = json.dumps({"results": [{"id": r["id"], "status": "accepted"} for r in body["responses"]],
                           "server_time": "2026-12-01T09:00:00+07:00"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_record_uploads_with_its_dossier_code_and_passes_the_protocol(store, clock):
    answering = Answering(store, clock=clock, monotonic=Mono())
    answering.load()
    answering.tap(5)
    answering.attach_dossier(CODE, "scan", hold_s=30)
    answering.tap(2)
    answering.finish()
    stored = records(store)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    _Capture.bodies = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        api = ServerApi(f"http://127.0.0.1:{httpd.server_address[1]}", "device-token", timeout=(2, 5))
        result = SyncClient(store, api).drain()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.sent == 2
    (body,) = _Capture.bodies
    sent = {r["id"]: r for r in body["responses"]}
    # Byte for byte what the store kept: the server's content hash is over this.
    assert [sent[r["id"]] for r in stored] == stored
    assert "dossier_code" not in sent[stored[0]["id"]] and sent[stored[1]["id"]]["dossier_code"] == CODE
    q = load_default_questionnaire()
    record, _ = check_record(sent[stored[1]["id"]], {(q.id, q.version): q})
    assert record["dossier_code"] == CODE


# --- through the real window: a scanner's keystrokes, no text field, nothing on screen ----------------

@pytest.fixture
def kiosk(qtbot, tmp_path, store):
    mono = Mono()
    win, worker = build(store, kiosk_settings_spec.load(tmp_path, thank_you_s=30), monotonic=mono)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    mono.advance(1)  # past the input guard of the first screen
    yield win, mono
    worker.stop()


def key_events(ch: str | None, stamp_ms: int) -> list[QKeyEvent]:
    """A press and a release of ``ch`` (None: Enter) stamped ``stamp_ms``, as the input system delivers them.

    A stamp of 0 is an event without one (the filter then times it when handled).
    """
    key, text = (Qt.Key.Key_Return, "\r") if ch is None else (ord(ch.upper()), ch)
    events = []
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text)
        event.setTimestamp(stamp_ms)
        events.append(event)
    return events


def type_keys(win, mono: Mono, text: str, gap_s: float, *, stamped: bool = True) -> None:
    """Keys as a keyboard-mode scanner (or a person) sends them to the window, ``gap_s`` apart, then Enter.

    Each key carries the injected clock's time as its stamp (``stamped``), or no stamp at all.
    """
    for ch in [*text, None]:
        for event in key_events(ch, round(mono() * 1000) if stamped else 0):
            QCoreApplication.sendEvent(win.windowHandle(), event)
        if ch is not None:
            mono.advance(gap_s)


def visible_texts(win) -> list[str]:
    """Every text a person in front of the window can read now (labels, buttons, fields, title)."""
    texts = [win.windowTitle()]
    for kind in (QLabel, QAbstractButton, QLineEdit):
        texts += [w.text() for w in win.findChildren(kind) if w.isVisible()]
    return texts


def tap_face(qtbot, win, mono: Mono, value: int) -> None:
    mono.advance(1)  # a citizen's finger, well after the last screen change
    face = next(f for f in win.start_screen.faces() if f.value == value)
    qtbot.mouseClick(face, Qt.MouseButton.LeftButton)


def test_a_scanners_keystrokes_attach_the_code_without_showing_it(qtbot, kiosk, store):
    win, mono = kiosk
    screen = win.start_screen
    assert screen.dossier_label.isVisible() and screen.dossier_label.text() == tr("dossier_hint", "vi")
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000) as scanned:
        type_keys(win, mono, CODE, 0.008)
    assert scanned.args == [True]
    assert screen.dossier_label.text() == "Đã nhận mã biên nhận. Mời Ông/Bà đánh giá."
    texts = visible_texts(win)
    assert texts and not any(CODE.lower() in t.lower() or "250701" in t for t in texts), texts
    assert win.current_screen() is screen  # no screen, no field, nothing typed anywhere
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000) as saved:
        tap_face(qtbot, win, mono, 5)
    assert store.get_record(saved.args[0])["record"]["dossier_code"] == CODE
    assert not any(CODE in t for t in visible_texts(win))  # nor on the thank-you
    with qtbot.waitSignal(win.sig_start_shown, timeout=2000):
        win.show_start()
    assert screen.dossier_label.text() == tr("dossier_hint", "vi")
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000) as saved:
        tap_face(qtbot, win, mono, 4)
    assert "dossier_code" not in store.get_record(saved.args[0])["record"]  # one answer only


def test_a_person_typing_attaches_nothing(qtbot, kiosk, store):
    win, mono = kiosk
    scans = []
    win.sig_dossier_scanned.connect(scans.append)
    type_keys(win, mono, CODE, 0.15)
    type_keys(win, mono, CODE[:3], 0.005)  # a short burst of stray keys
    assert scans == [] and win.start_screen.dossier_state == "hint"
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000) as saved:
        tap_face(qtbot, win, mono, 5)
    assert "dossier_code" not in store.get_record(saved.args[0])["record"]


def test_a_bad_code_is_refused_politely_and_the_rating_still_works(qtbot, kiosk, store):
    win, mono = kiosk
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000) as scanned:
        type_keys(win, mono, "8934567890123", 0.006)  # a product's barcode, not a receipt of this unit
    assert scanned.args == [False]
    assert win.start_screen.dossier_label.text() == ("Mã vừa quét không phải mã biên nhận hồ sơ của đơn vị. "
                                                     "Ông/Bà vẫn có thể đánh giá bình thường.")
    assert not any("8934567890123" in t for t in visible_texts(win))
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000) as saved:
        tap_face(qtbot, win, mono, 3)
    assert "dossier_code" not in store.get_record(saved.args[0])["record"]
    # In English the same, in English.
    win.show_start()
    win._on_lang_chosen("en")
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000):
        type_keys(win, mono, "NOT-A-RECEIPT", 0.006)
    assert win.start_screen.dossier_label.text() == tr("dossier_refused", "en")


def test_a_scan_left_waiting_expires_with_the_idle_timeout(qtbot, tmp_path, store):
    mono = Mono()
    win, worker = build(store, kiosk_settings_spec.load(tmp_path, idle_timeout_s=1.0), monotonic=mono)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000):
        type_keys(win, mono, CODE, 0.005)
    assert win.start_screen.dossier_state == "attached"
    qtbot.waitUntil(lambda: win.start_screen.dossier_state == "hint", timeout=4000)  # the window's timer
    assert win.answering.dossier_waiting("scan") is None
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000) as saved:
        tap_face(qtbot, win, mono, 5)
    assert "dossier_code" not in store.get_record(saved.args[0])["record"]
    worker.stop()


def test_with_the_step_off_keys_do_nothing_and_no_hint_shows(qtbot, tmp_path, clock):
    store = Store(tmp_path / "off.sqlite3", clock=clock)
    store.set_meta(unit_code="7201", config=config())
    mono = Mono()
    win, worker = build(store, kiosk_settings_spec.load(tmp_path), monotonic=mono)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    assert not win.start_screen.dossier_label.isVisible()
    scans = []
    win.sig_dossier_scanned.connect(scans.append)
    type_keys(win, mono, CODE, 0.005)
    assert scans == []
    tap_face(qtbot, win, mono, 5)
    assert "dossier_code" not in records(store)[-1]
    worker.stop()
    store.close()


def test_keys_without_a_stamp_are_timed_when_handled(qtbot, kiosk, store):
    win, mono = kiosk
    scans = []
    win.sig_dossier_scanned.connect(scans.append)
    type_keys(win, mono, CODE, 0.15, stamped=False)  # a person: nothing
    assert scans == []
    # A stamped key then unstamped ones: two scales are never compared, the burst starts afresh.
    for event in key_events("H", round(mono() * 1000)):
        QCoreApplication.sendEvent(win.windowHandle(), event)
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000) as scanned:
        type_keys(win, mono, CODE[1:], 0.005, stamped=False)
    assert scanned.args == [False]  # "24.22-…" alone: not this unit's code
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000) as scanned:
        type_keys(win, mono, CODE, 0.005, stamped=False)
    assert scanned.args == [True]


class Stall(QObject):
    """The UI thread busy for a while when its posted event comes up (a first paint, a slow commit)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.stalled = 0

    def event(self, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.User:
            time.sleep(self.seconds)  # the stall itself, not a wait for something to happen
            self.stalled += 1
            return True
        return super().event(event)


def test_on_the_real_clock_a_scan_as_fast_as_a_scanner_attaches(qtbot, tmp_path, store):
    """A scan stamped 5 ms apart by the input system, the UI thread stalled 120 ms after its first key:
    the keys wait in the queue and are handled late, but they are one scan (timed by their stamps)."""
    win, worker = build(store, kiosk_settings_spec.load(tmp_path, input_guard_s=0))
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    stall = Stall(0.12)
    handled = []  # when the window handled each key press, on the real clock

    class Watch(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.KeyPress and obj is stall_target:
                handled.append(time.monotonic())
            return False

    stall_target = win.windowHandle()
    watch = Watch()
    QCoreApplication.instance().installEventFilter(watch)
    start = round(time.monotonic() * 1000)
    with qtbot.waitSignal(win.sig_dossier_scanned, timeout=2000) as scanned:
        for i, ch in enumerate([*CODE, None]):
            for event in key_events(ch, start + 5 * i):
                QCoreApplication.postEvent(win.windowHandle(), event)
            if i == 0:
                QCoreApplication.postEvent(stall, QEvent(QEvent.Type.User))
    QCoreApplication.instance().removeEventFilter(watch)
    assert stall.stalled == 1 and handled[1] - handled[0] >= 0.1  # handled 100+ ms apart: a real stall
    assert scanned.args == [True]
    with qtbot.waitSignal(win.sig_rating_saved, timeout=2000) as saved:
        qtbot.mouseClick(next(f for f in win.start_screen.faces() if f.value == 5), Qt.MouseButton.LeftButton)
    assert store.get_record(saved.args[0])["record"]["dossier_code"] == CODE
    worker.stop()

