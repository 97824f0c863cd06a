"""Officers at the kiosk (issue 12): the PIN checked off the UI thread, a keypad in a new order each
time, lock-outs per officer, the one-step hand-over, and stale results ignored. Real window
(pytest-qt, offscreen), real SQLite in tmp_path, real Argon2id hashes; tests wait on signals."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time  # noqa: E402

import pytest  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from PySide6.QtCore import QCoreApplication, Qt, QTimer  # noqa: E402

from hailong_core.questionnaire import load_default_questionnaire  # noqa: E402
from kiosk import settings as kiosk_settings  # noqa: E402
from kiosk.app import build  # noqa: E402
from kiosk.pins import DEFAULT_ADMIN_PIN, LOCKOUT_S, MAX_FAILURES, officer_key, verify_pin  # noqa: E402
from kiosk.store import Store  # noqa: E402
from kiosk.ui.keypad import BACKSPACE  # noqa: E402
from kiosk.ui.strings import tr  # noqa: E402

LEFT = Qt.MouseButton.LeftButton
PIN_A, PIN_B = "2468", "1357"
UNIT = {"code": "7201", "name": "Bộ phận một cửa UBND xã Tân Tiến", "level": "commune"}


@pytest.fixture(scope="module")
def quick_hashes():
    """Real Argon2id hashes at the lightest cost: most tests are about rules, not about waiting."""
    ph = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return {"a": ph.hash(PIN_A), "b": ph.hash(PIN_B)}


@pytest.fixture(scope="module")
def slow_hash():
    """A real Argon2id hash whose verify takes at least half a second here (as on a kiosk's CPU)."""
    time_cost = 3
    for _ in range(6):
        pin_hash = PasswordHasher(time_cost=time_cost, memory_cost=65536, parallelism=1).hash(PIN_A)
        began = time.perf_counter()
        assert verify_pin(pin_hash, PIN_A)
        took = time.perf_counter() - began
        if took >= 0.6:
            return pin_hash
        time_cost = int(time_cost * 0.75 / took) + 1
    pytest.fail(f"could not make an Argon2 verify take 0.6 s (last {took:.2f} s)")


def make_config(hash_a: str, hash_b: str) -> dict:
    return {
        "unit": UNIT,
        "officers": [{"id": "cb-01", "name": "Nguyễn Thị Hoa", "title": "Tư pháp", "photo": None, "pin_hash": hash_a,
                      "counter": "3"},
                     {"id": "cb-02", "name": "Trần Văn Dũng", "title": None, "photo": None, "pin_hash": hash_b}],
        "questionnaire": load_default_questionnaire().to_dict(),
        "settings": {"cooldown_s": 0, "idle_timeout_s": 30, "office_hours": None, "admin_pin_hash": None},
    }


def open_kiosk(qtbot, tmp_path, config: dict | None):
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(unit_code="7201", **({"config": config} if config else {}))
    settings = kiosk_settings.load(tmp_path, thank_you_s=30, long_press_s=0.05, input_guard_s=0)
    window, worker = build(store, settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window, worker, store


@pytest.fixture
def kiosk(qtbot, tmp_path, quick_hashes):
    window, worker, store = open_kiosk(qtbot, tmp_path, make_config(quick_hashes["a"], quick_hashes["b"]))
    yield window, store
    assert window.pin_checker.wait()
    assert worker.stop()
    store.close()


def tap(qtbot, widget) -> None:
    qtbot.mouseClick(widget, LEFT)


def card(window, officer_id: str):
    return next(c for c in window.roster_screen.cards() if c.officer_id == officer_id)


def choose(qtbot, window, officer_id: str) -> None:
    """From the start screen: the officer control, then the officer's card."""
    tap(qtbot, window.start_screen.duty.officer_button)
    assert window.current_screen() is window.roster_screen
    tap(qtbot, card(window, officer_id))
    assert window.current_screen() is window.pin_screen


def type_pin(qtbot, window, pin: str) -> None:
    for digit in pin:
        tap(qtbot, window.pin_screen.keypad.keys[digit])
    tap(qtbot, window.pin_screen.keypad.keys["ok"])


def sign_in(qtbot, window, officer_id: str, pin: str) -> dict:
    choose(qtbot, window, officer_id)
    with qtbot.waitSignal(window.sig_officer_changed, timeout=10_000) as changed:
        type_pin(qtbot, window, pin)
    return changed.args[0]


# --- off the UI thread -------------------------------------------------------------------------

def test_the_pin_check_leaves_the_event_loop_running(qtbot, tmp_path, slow_hash, quick_hashes):
    window, worker, store = open_kiosk(qtbot, tmp_path, make_config(slow_hash, quick_hashes["b"]))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    results = []
    window.pin_checker.sig_pin_checked.connect(lambda ticket, verdict: results.append(verdict))
    choose(qtbot, window, "cb-01")
    for digit in PIN_A:
        tap(qtbot, window.pin_screen.keypad.keys[digit])
    # Let the loop paint the pad and tick a few times first: the gaps measured are the check's.
    seen = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= seen + 3, timeout=5000)
    with qtbot.waitSignal(window.sig_officer_changed, timeout=15_000) as changed:
        began = time.monotonic()
        tap(qtbot, window.pin_screen.keypad.keys["ok"])
        # The check is under way: the pad says so and takes no key, not even a second OK.
        assert window.pin_screen.message_label.text() == "Đang kiểm tra…" == tr("pin_checking")
        assert window.pin_screen.checking and not window.pin_screen.keypad.isEnabled()
        qtbot.keyClick(window.pin_screen, "1")
        qtbot.keyClick(window.pin_screen, Qt.Key.Key_Return)
        window.pin_screen.sig_pin_entered.emit(PIN_A)   # even an OK that got through is ignored
    ended = time.monotonic()
    timer.stop()
    assert changed.args[0]["officer_id"] == "cb-01" and changed.args[0]["counter"] == "3"
    assert ended - began >= 0.5, "the verify should take as long as on a kiosk"
    during = [began] + [t for t in ticks if began <= t <= ended] + [ended]
    gaps = [b - a for a, b in zip(during, during[1:])]
    # A check on the UI thread would stall the loop for the whole 0.5 s verify; 0.3 s leaves room for a
    # loaded machine (two test passes on two cores) and still tells the two apart.
    assert len(during) > 10 and max(gaps) < 0.3, f"the event loop stalled {max(gaps) * 1000:.0f} ms"
    assert window.pin_checker.wait()
    QCoreApplication.processEvents()
    assert len(results) == 1, "a second OK started a second check"
    assert window.current_screen() is window.start_screen and "Nguyễn Thị Hoa" in window.start_screen.duty.officer_label.text()
    assert worker.stop()
    store.close()


def test_the_admin_pin_goes_through_the_checker(qtbot, tmp_path):
    window, worker, store = open_kiosk(qtbot, tmp_path, None)   # fresh kiosk: the default admin PIN
    results = []
    window.pin_checker.sig_pin_checked.connect(lambda ticket, verdict: results.append(verdict))
    window.open_admin_pin()
    assert window.pin_screen.purpose == "admin"
    with qtbot.waitSignal(window.sig_pin_refused, timeout=5000):
        type_pin(qtbot, window, "1234")
        assert window.pin_screen.message_label.text() == tr("pin_checking")
    assert window.pin_screen.message_label.text() == tr("pin_wrong") and window.pin_screen.keypad.isEnabled()
    with qtbot.waitSignal(window.sig_admin_opened, timeout=5000):
        type_pin(qtbot, window, DEFAULT_ADMIN_PIN)
    assert [v.ok for v in results] == [False, True] and {v.key for v in results} == {"admin"}
    assert window.current_screen() is window.admin_screen
    assert worker.stop()
    store.close()


# --- the keypad ---------------------------------------------------------------------------------

def test_keypad_digits_are_in_a_new_order_each_time(qtbot, kiosk):
    window, _store = kiosk
    orders = []
    for _ in range(4):
        choose(qtbot, window, "cb-01")
        order = window.pin_screen.digit_order()
        grid = window.pin_screen.keypad._grid
        # What the pad says is where the buttons are; backspace and OK keep their corners.
        placed = [grid.itemAtPosition(i // 3, i % 3).widget() for i in range(12)]
        keys = window.pin_screen.keypad.keys
        assert placed == [keys[d] for d in order[:9]] + [keys[BACKSPACE], keys[order[9]], keys["ok"]]
        assert sorted(order) == list("0123456789")
        orders.append("".join(order))
        tap(qtbot, window.pin_screen.cancel_button)
    assert len(set(orders)) > 1, f"the same order {orders[0]} every time"


def test_keyboard_digits_still_type_a_pin(qtbot, kiosk):
    window, store = kiosk
    choose(qtbot, window, "cb-02")
    with qtbot.waitSignal(window.sig_officer_changed, timeout=5000) as changed:
        qtbot.keyClicks(window.pin_screen, PIN_B)
        qtbot.keyClick(window.pin_screen, Qt.Key.Key_Return)
    assert changed.args[0]["officer_id"] == "cb-02"
    assert store.get_meta("officer_session")["officer_id"] == "cb-02"


# --- lock-outs ------------------------------------------------------------------------------------

def test_wrong_pins_lock_only_that_officer(qtbot, kiosk):
    window, store = kiosk
    choose(qtbot, window, "cb-01")
    for _ in range(MAX_FAILURES):
        with qtbot.waitSignal(window.sig_pin_refused, timeout=5000):
            type_pin(qtbot, window, "0000")
    locked_text = tr("pin_locked", minutes=int(LOCKOUT_S // 60))
    assert window.pin_screen.message_label.text() == locked_text
    # Locked: even A's right PIN is refused, at once and without a check.
    with qtbot.waitSignal(window.sig_pin_refused, timeout=1000):
        type_pin(qtbot, window, PIN_A)
    assert store.get_meta("officer_session") is None and window.pin_screen.message_label.text() == locked_text
    tap(qtbot, window.pin_screen.cancel_button)
    # B is not locked out by A's wrong tries.
    assert sign_in(qtbot, window, "cb-02", PIN_B)["officer_id"] == "cb-02"
    # Opening A's pad again says A is locked; the lock is in the store (a reboot keeps it).
    tap(qtbot, window.start_screen.duty.officer_button)
    tap(qtbot, card(window, "cb-01"))
    assert window.pin_screen.message_label.text() == locked_text
    assert store.get_meta("pin_guard")[officer_key("cb-01")]["locks"] == 1
    assert officer_key("cb-02") not in store.get_meta("pin_guard")


# --- hand-over ---------------------------------------------------------------------------------------

def test_hand_over_from_a_to_b_in_one_step(qtbot, kiosk):
    window, store = kiosk
    sign_in(qtbot, window, "cb-01", PIN_A)
    tap(qtbot, window.start_screen.duty.officer_button)
    # The roster shows A on duty (sign out) and B taking over.
    assert window.current_screen() is window.roster_screen
    assert card(window, "cb-01").role == "on_duty" and card(window, "cb-01").action_label.text() == "Đăng xuất"
    assert "Đang trực" in card(window, "cb-01").title_label.text() and "Quầy\u00a03" in card(window, "cb-01").title_label.text()
    assert card(window, "cb-02").role == "take_over" and card(window, "cb-02").action_label.text() == "Nhận ca"
    assert window.roster_screen.title_label.text() == tr("roster_handover_title", name="Nguyễn Thị Hoa")
    tap(qtbot, card(window, "cb-02"))
    assert window.pin_screen.purpose == "hand_over"
    assert window.pin_screen.title_label.text() == tr("pin_take_over", name="Trần Văn Dũng", previous="Nguyễn Thị Hoa")
    changes = []
    window.sig_officer_changed.connect(changes.append)
    with qtbot.waitSignal(window.sig_start_shown, timeout=5000):
        type_pin(qtbot, window, PIN_B)      # B's PIN only: A is at lunch
    session = store.get_meta("officer_session")
    assert session["officer_id"] == "cb-02" and session["handed_over_from"] == "cb-01"
    assert changes == [session], "one step: never a moment with nobody on duty"
    assert "Trần Văn Dũng" in window.start_screen.duty.officer_label.text()
    # B signs out from the roster with B's own PIN.
    tap(qtbot, window.start_screen.duty.officer_button)
    tap(qtbot, card(window, "cb-02"))
    assert window.pin_screen.purpose == "sign_out"
    with qtbot.waitSignal(window.sig_officer_changed, timeout=5000) as changed:
        type_pin(qtbot, window, PIN_B)
    assert changed.args[0] is None and store.get_meta("officer_session") is None


def test_a_wrong_pin_hands_nothing_over(qtbot, kiosk):
    window, store = kiosk
    sign_in(qtbot, window, "cb-01", PIN_A)
    choose(qtbot, window, "cb-02")
    with qtbot.waitSignal(window.sig_pin_refused, timeout=5000):
        type_pin(qtbot, window, PIN_A)     # A's PIN does not let anyone take over as B
    assert window.pin_screen.message_label.text() == tr("pin_wrong")
    assert store.get_meta("officer_session")["officer_id"] == "cb-01"


# --- stale results --------------------------------------------------------------------------------

def test_a_result_after_the_idle_reset_is_ignored(qtbot, tmp_path, slow_hash, quick_hashes):
    window, worker, store = open_kiosk(qtbot, tmp_path, make_config(slow_hash, quick_hashes["b"]))
    changes = []
    window.sig_officer_changed.connect(changes.append)
    choose(qtbot, window, "cb-01")
    with qtbot.waitSignal(window.pin_checker.sig_pin_checked, timeout=15_000) as checked:
        type_pin(qtbot, window, PIN_A)
        window._on_idle()                   # nobody touched the screen: back to the start meanwhile
        assert window.current_screen() is window.start_screen
    assert checked.args[1].ok                # the PIN was right, and still nobody is signed in
    QCoreApplication.processEvents()
    assert store.get_meta("officer_session") is None and changes == []
    assert window.current_screen() is window.start_screen
    # Another opening is not blocked by the ignored check.
    assert sign_in(qtbot, window, "cb-02", PIN_B)["officer_id"] == "cb-02"
    assert worker.stop()
    store.close()


def test_a_result_for_an_earlier_opening_is_ignored(qtbot, tmp_path, slow_hash, quick_hashes):
    window, worker, store = open_kiosk(qtbot, tmp_path, make_config(slow_hash, quick_hashes["b"]))
    choose(qtbot, window, "cb-01")
    type_pin(qtbot, window, "0000")          # wrong, and slow to say so
    tap(qtbot, window.pin_screen.cancel_button)
    choose(qtbot, window, "cb-02")           # B's pad opens while A's check still runs
    with qtbot.waitSignal(window.sig_officer_changed, timeout=15_000) as changed:
        type_pin(qtbot, window, PIN_B)
    assert changed.args[0]["officer_id"] == "cb-02"
    assert window.current_screen() is window.start_screen
    # The stale wrong try still counted for A (an idle reset never wipes a wrong try).
    assert store.get_meta("pin_guard")[officer_key("cb-01")]["failures"] == 1
    assert worker.stop()
    store.close()
