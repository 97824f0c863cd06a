"""Kiosk logic without Qt: drafts, misuse flags, migration 2, the citizen flow, office hours,
officer sessions and PINs. Real SQLite files, injected clocks."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher

from hailong_core.questionnaire import load_default_questionnaire, parse_questionnaire
from kiosk.flow import CitizenFlow
from kiosk.hours import closing_time, is_open
from kiosk.migrations import MIGRATIONS, migrate
from kiosk.misuse import MisuseRules
from kiosk.pins import (ADMIN_KEY, DEFAULT_ADMIN_PIN, LOCKOUT_S, MAX_FAILURES, PinGuard, PinVerdict, admin_pin,
                        officer_check, officer_key, shuffled_digits, verify_pin)
from kiosk.session import OfficerSessions, session_end
from kiosk.store import DRAFT, PENDING, SENT, Store
from tests.records import Clock

ICT = timezone(timedelta(hours=7))
QREF = {"id": "bg-friendly-gov", "version": 1}
HOURS = {d: [["07:30", "11:30"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def clock():
    return Clock(datetime(2031, 3, 3, 9, 0, tzinfo=ICT))  # a Monday


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "kiosk.sqlite3", clock=clock)
    yield s
    s.close()


def begin(store, rules=None, **answers):
    return store.begin_response(unit_code="7201", questionnaire=QREF, answers=answers or {"overall": 4}, misuse=rules)


def state_of(store, rid):
    return store.get_record(rid)


# --- drafts --------------------------------------------------------------------------------------

def test_a_draft_is_durable_but_never_sent_until_finalised(store, clock):
    rec = begin(store, overall=1)
    assert state_of(store, rec["id"])["state"] == DRAFT
    assert store.take_batch(10) == []                     # not eligible for sync
    updated = store.update_draft(rec["id"], {"overall": 1, "why": ["impolite"]})
    assert updated["answers"]["why"] == ["impolite"] and updated["seq"] == rec["seq"] and updated["id"] == rec["id"]
    done = store.finalise(rec["id"])
    assert done["flags"] == [] and state_of(store, rec["id"])["state"] == PENDING
    assert store.finalise(rec["id"]) is None              # twice is harmless
    assert store.update_draft(rec["id"], {"overall": 5}) is None  # a finalised record never changes
    assert [r["answers"] for r in store.take_batch(10)] == [{"overall": 1, "why": ["impolite"]}]


def test_stale_drafts_are_finalised_as_incomplete_at_start_up(tmp_path, clock):
    path = tmp_path / "kiosk.sqlite3"
    first = Store(path, clock=clock)
    old = begin(first, overall=2)
    clock.advance(100)
    young = begin(first, overall=5)
    first.close()  # "crash": the drafts stay in the file
    again = Store(path, clock=clock)
    assert again.finalise_stale_drafts(older_than_s=30) == 1
    assert again.get_record(old["id"])["state"] == PENDING
    assert again.get_record(old["id"])["record"]["flags"] == ["incomplete"]
    assert again.get_record(young["id"])["state"] == DRAFT
    clock.advance(31)
    assert again.finalise_stale_drafts(older_than_s=30) == 1
    assert again.counts()[PENDING] == 2
    again.close()


# --- misuse ----------------------------------------------------------------------------------

def test_cooldown_flags_a_press_soon_after_the_last_completed_answer(store, clock):
    rules = MisuseRules(cooldown_s=5, burst_count=0)
    a = begin(store, rules)
    clock.advance(2)
    store.finalise(a["id"])
    clock.advance(4.9)                       # 4.9 s after the finish
    b = begin(store, rules)
    assert b["flags"] == ["cooldown"]
    store.finalise(b["id"])
    clock.advance(5)
    c = begin(store, rules)
    assert c["flags"] == []
    assert store.counts()[DRAFT] == 1 and store.counts()[PENDING] == 2  # nothing dropped


def test_burst_flags_the_run_but_never_rewrites_a_record_a_batch_carried(store, clock):
    rules = MisuseRules(cooldown_s=0, burst_count=4, burst_window_s=60)
    ids = []
    for i in range(2):
        r = store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5}, misuse=rules)
        ids.append(r["id"])
        clock.advance(10)
    carried = store.take_batch(1)            # the first went out in a batch (answer not yet back)
    assert [r["id"] for r in carried] == ids[:1]
    before = store.get_record(ids[0])["record"]
    r3 = store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5}, misuse=rules)
    assert r3["flags"] == []
    clock.advance(10)
    r4 = begin(store, rules)                 # the 4th within 60 s: a burst
    assert r4["flags"] == ["burst"]
    assert store.get_record(ids[0])["record"] == before               # carried: untouched
    assert store.get_record(ids[1])["record"]["flags"] == ["burst"]   # pending, never carried
    assert store.get_record(r3["id"])["record"]["flags"] == ["burst"]
    clock.advance(45)                         # the window now holds r3(35 s ago)... and r4
    r5 = begin(store, rules)
    assert r5["flags"] == []                  # 60 s window: ids[0..1] fell out, 3 taps left in it
    store.apply_results([ids[0]], [{"id": ids[0], "status": "accepted"}])
    assert store.get_record(ids[0])["state"] == SENT


# --- migration 2 ---------------------------------------------------------------------------------

def test_version_1_file_with_pending_and_sent_rows_upgrades_and_keeps_them(tmp_path, clock):
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for statement in [s for s in MIGRATIONS[0].split(";") if s.strip()]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    rows = []
    for seq, state in ((1, "sent"), (2, "pending"), (3, "kept_aside"), (4, "pending")):
        rec = {"id": f"0190e000-0000-7000-8000-00000000000{seq}", "seq": seq, "unit_code": "7201", "officer_id": None,
               "questionnaire": QREF, "channel": "kiosk", "created_at": f"2031-03-03T08:0{seq}:00.000+07:00",
               "answers": {"overall": seq}, "flags": []}
        rows.append(rec)
        conn.execute("INSERT INTO responses (seq, id, record, created_at, state, reason, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (seq, rec["id"], json.dumps(rec), rec["created_at"], state, "conflict: x" if state == "kept_aside" else None,
                      "2031-03-03T08:10:00.000+07:00" if state == "sent" else None))
    conn.execute("UPDATE counters SET value = 4")
    conn.close()

    store = Store(path, clock=clock)
    assert store.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == len(MIGRATIONS) == 3
    assert store.counts() == {PENDING: 2, SENT: 1, "kept_aside": 1}
    assert [r["id"] for r in store.pending(10)] == [rows[1]["id"], rows[3]["id"]]
    assert store.kept_aside()[0]["reason"] == "conflict: x"
    created = store.read(lambda c: c.execute("SELECT created_ts FROM responses WHERE seq = 2").fetchone()[0])
    assert created == pytest.approx(datetime(2031, 3, 3, 8, 2, tzinfo=ICT).timestamp())
    # Old pending rows count as carried: a burst must never rewrite them.
    assert store.read(lambda c: c.execute("SELECT MIN(tried) FROM responses").fetchone()[0]) == 1
    # New drafts work in the upgraded file; seq goes on.
    assert begin(store)["seq"] == 5
    assert store.integrity_ok()
    store.close()
    conn = sqlite3.connect(str(path))
    assert migrate(conn) == 3  # idempotent
    conn.close()


# --- the citizen flow ----------------------------------------------------------------------------

def test_flow_satisfied_is_one_tap_and_low_asks_why():
    q = load_default_questionnaire()
    assert CitizenFlow(q, 5).finished
    low = CitizenFlow(q, 1)
    assert low.current.id == "why" and low.remaining() == 0
    low.answer(["impolite", "waited_long"])
    assert low.finished and low.answers == {"overall": 1, "why": ["impolite", "waited_long"]}
    skipped = CitizenFlow(q, 2)
    skipped.skip()
    assert skipped.finished and skipped.answers == {"overall": 2}


def test_flow_with_criteria_never_asks_text_and_can_finish_early():
    q = load_default_questionnaire()
    flow = CitizenFlow(q, 1, ask_criteria=True)
    seen = []
    while not flow.finished:
        seen.append(flow.current.id)
        flow.answer(["other"] if flow.current.kind == "multi" else 4)
    assert seen == ["why", "responsibility", "skills", "guidance", "procedure", "environment"]  # no "comment"
    early = CitizenFlow(q, 4, ask_criteria=True)
    early.answer(3)
    early.finish()
    assert early.answers == {"overall": 4, "responsibility": 3}


# --- office hours ----------------------------------------------------------------------------

def test_office_hours():
    monday = datetime(2031, 3, 3, 7, 29, tzinfo=ICT)
    assert not is_open(HOURS, monday)
    assert is_open(HOURS, monday.replace(minute=30))
    assert not is_open(HOURS, monday.replace(hour=12))
    assert not is_open(HOURS, monday.replace(hour=17, minute=0))
    assert not is_open(HOURS, datetime(2031, 3, 8, 9, 0, tzinfo=ICT))  # Saturday: not in the map
    assert is_open(None, monday) and is_open({"mon": "garbage"}, monday)
    assert closing_time(HOURS, monday) == monday.replace(hour=17, minute=0)


# --- PINs and officers -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hashes():
    ph = PasswordHasher()
    return {"1234": ph.hash("1234"), "9999": ph.hash("9999")}


def test_admin_pin_sources(hashes):
    assert admin_pin({"settings": {"admin_pin_hash": hashes["1234"]}}, hashes["9999"], True).verify("1234")
    assert admin_pin({"settings": {"admin_pin_hash": None}}, hashes["9999"], True).verify("9999")
    fresh = admin_pin(None, None, enrolled=False)
    assert fresh.source == "default" and fresh.verify(DEFAULT_ADMIN_PIN)
    enrolled = admin_pin(None, None, enrolled=True)
    assert enrolled.source == "none" and not enrolled.verify(DEFAULT_ADMIN_PIN)
    assert not verify_pin("not-a-hash", "1234") and not verify_pin(None, "1234")


class BootClock:
    """``(boot id, monotonic ms)`` a test moves, and reboots."""

    def __init__(self):
        self.boot, self.ms = "boot-1", 0

    def __call__(self) -> tuple[str, int]:
        return self.boot, self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def test_pin_guard_locks_after_repeated_failures():
    boot = BootClock()
    guard = PinGuard(max_failures=3, lockout_s=60, boot_clock=boot, wall=lambda: 0.0)
    assert [guard.check("officer:a", lambda: False) for _ in range(3)] == [False] * 3
    assert guard.locked_for("officer:a") == 60
    assert not guard.check("officer:a", lambda: True)   # locked: even the right PIN waits
    boot.advance(61)
    assert guard.check("officer:a", lambda: True)


def test_pin_guard_is_per_key_and_grows_until_a_right_pin():
    boot, wall = BootClock(), [1_000_000.0]
    guard = PinGuard(max_failures=5, lockout_s=120, max_lockout_s=400, boot_clock=boot, wall=lambda: wall[0])
    a, b = officer_key("cb-01"), officer_key("cb-02")
    for _ in range(5):
        guard.admit(PinVerdict(a, False))
    assert guard.locked_for(a) == 120 and guard.locked_for(b) == 0 and guard.locked_for(ADMIN_KEY) == 0
    assert guard.admit(PinVerdict(b, True))               # B is not locked out by A's wrong tries
    assert not guard.admit(PinVerdict(a, True))           # A is
    lengths = []
    for _ in range(3):                                     # each further lock-out doubles, up to the cap
        boot.advance(guard.locked_for(a) + 1)
        for _ in range(5):
            guard.admit(PinVerdict(a, False))
        lengths.append(guard.locked_for(a))
    assert lengths == [240, 400, 400]
    boot.advance(401)
    assert guard.admit(PinVerdict(a, True))               # a right PIN forgets the history
    for _ in range(5):
        guard.admit(PinVerdict(a, False))
    assert guard.locked_for(a) == 120


def test_pin_guard_state_survives_a_reboot_by_the_wall_clock():
    boot, wall = BootClock(), [1_000_000.0]
    saved = {}
    guard = PinGuard(boot_clock=boot, wall=lambda: wall[0], save=saved.update)
    for _ in range(MAX_FAILURES):
        guard.admit(PinVerdict(ADMIN_KEY, False))
    assert guard.locked_for(ADMIN_KEY) == LOCKOUT_S and saved[ADMIN_KEY]["locks"] == 1
    # Pulled plug: a new boot whose monotonic clock starts again at 0, 30 s later on the wall.
    boot.boot, boot.ms, wall[0] = "boot-2", 0, wall[0] + 30
    again = PinGuard(boot_clock=boot, wall=lambda: wall[0], state=json.loads(json.dumps(saved)))
    assert again.locked_for(ADMIN_KEY) == LOCKOUT_S - 30
    # A wall clock set back a year cannot stretch the lock beyond its length.
    boot.boot, wall[0] = "boot-3", wall[0] - 365 * 86400
    assert PinGuard(boot_clock=boot, wall=lambda: wall[0], state=saved).locked_for(ADMIN_KEY) == LOCKOUT_S
    # A lock that ended before the reboot stays ended; the failures count carries on.
    boot.boot, wall[0] = "boot-4", wall[0] + 365 * 86400 + 3600
    later = PinGuard(boot_clock=boot, wall=lambda: wall[0], state=saved)
    assert later.locked_for(ADMIN_KEY) == 0 and later.admit(PinVerdict(ADMIN_KEY, True))


def test_pin_check_runs_anywhere_and_keypad_order_is_a_permutation(hashes):
    check = officer_check({"id": "cb-01", "pin_hash": hashes["1234"]})
    assert check.run("1234") == PinVerdict("officer:cb-01", True)
    assert check.run("0000") == PinVerdict("officer:cb-01", False)
    assert admin_pin(None, None, enrolled=False).check().run(DEFAULT_ADMIN_PIN) == PinVerdict(ADMIN_KEY, True)
    orders = [shuffled_digits() for _ in range(5)]
    assert all(sorted(o) == list("0123456789") for o in orders)
    assert len({"".join(o) for o in orders}) > 1  # 10! orders: five equal ones would be a broken shuffle


def test_officer_session_sign_in_out_and_end_of_day(store, clock, hashes):
    store.set_meta(config={"officers": [{"id": "cb-01", "name": "Nguyễn Thị Hoa", "title": None, "photo": None, "pin_hash": hashes["1234"]}],
                           "settings": {"office_hours": HOURS}})
    sessions = OfficerSessions(store, clock=clock)
    assert sessions.sign_in("cb-01", "0000") is None and sessions.current() is None
    assert sessions.sign_in("nobody", "1234") is None
    assert sessions.sign_in("cb-01", "1234")["officer_id"] == "cb-01"
    assert sessions.current()["name"] == "Nguyễn Thị Hoa"
    assert not sessions.sign_out(pin="0000") and sessions.current()
    assert sessions.sign_out(pin="1234") and sessions.current() is None
    sessions.sign_in("cb-01", "1234")
    clock.now = clock.now.replace(hour=16, minute=59)
    assert sessions.current() is not None
    clock.now = clock.now.replace(hour=17, minute=0)   # office closes: signed out by itself
    assert sessions.current() is None and store.get_meta("officer_session") is None


def test_session_without_office_hours_ends_at_midnight():
    began = datetime(2031, 3, 3, 22, 0, tzinfo=ICT)
    assert session_end(began, None) == datetime(2031, 3, 4, 0, 0, tzinfo=ICT)
    assert session_end(began.replace(hour=8), HOURS) == datetime(2031, 3, 3, 17, 0, tzinfo=ICT)
    assert session_end(began, HOURS) == datetime(2031, 3, 4, 0, 0, tzinfo=ICT)  # signed in after closing


def officers_config(hashes, **extra) -> dict:
    return {"officers": [{"id": "cb-01", "name": "Nguyễn Thị Hoa", "pin_hash": hashes["1234"], "counter": 3},
                         {"id": "cb-02", "name": "Trần Văn Dũng", "pin_hash": hashes["9999"]}], **extra}


def test_hand_over_signs_one_out_and_the_other_in_with_one_pin(store, clock, hashes, caplog):
    store.set_meta(config=officers_config(hashes))
    sessions = OfficerSessions(store, clock=clock)
    first = sessions.sign_in("cb-01", "1234")
    assert first["counter"] == "3" and "handed_over_from" not in first
    assert sessions.hand_over("cb-02", "1234") is None            # A's PIN does not sign B in
    assert sessions.current()["officer_id"] == "cb-01"
    clock.advance(3600)
    with caplog.at_level("INFO", logger="kiosk.session"):
        second = sessions.hand_over("cb-02", "9999")
    assert second["officer_id"] == "cb-02" and second["handed_over_from"] == "cb-01" and "counter" not in second
    assert store.get_meta("officer_session") == second and sessions.current() == second
    assert "officer cb-01 handed over to cb-02" in caplog.text
    assert sessions.hand_over("cb-02", "9999") == second          # already on duty: unchanged


def test_a_verdict_counts_only_for_its_own_officer(store, clock, hashes):
    store.set_meta(config=officers_config(hashes))
    sessions = OfficerSessions(store, clock=clock)
    b_right = sessions.pin_check("cb-02").run("9999")
    assert sessions.sign_in("cb-01", b_right) is None             # B's verdict never opens A
    assert sessions.sign_in("cb-02", b_right)["officer_id"] == "cb-02"
    a_right = sessions.pin_check("cb-01").run("1234")
    assert not sessions.sign_out(pin=a_right) and sessions.current()  # A's PIN does not sign B out
    assert not sessions.sign_out("cb-01")                            # nor a request about A
    assert sessions.sign_out("cb-02", pin=sessions.pin_check("cb-02").run("9999"))


def test_officer_lockout_is_per_officer_and_kept_in_the_store(tmp_path, clock, hashes):
    boot = BootClock()
    store = Store(tmp_path / "kiosk.sqlite3", boot_clock=boot)
    store.set_meta(config=officers_config(hashes))
    sessions = OfficerSessions(store, clock=clock)
    for _ in range(MAX_FAILURES):
        assert sessions.sign_in("cb-01", "0000") is None
    assert sessions.sign_in("cb-01", "1234") is None               # A is locked…
    assert sessions.guard.locked_for(officer_key("cb-01")) == LOCKOUT_S
    assert sessions.sign_in("cb-02", "9999")["officer_id"] == "cb-02"  # …B is not
    store.close()
    # A restart (same boot, 10 s on) keeps A locked: the lock lives in the store's meta.
    boot.advance(10)
    clock.advance(10)
    reopened = Store(tmp_path / "kiosk.sqlite3", boot_clock=boot)
    again = OfficerSessions(reopened, clock=clock)
    assert again.guard.locked_for(officer_key("cb-01")) == LOCKOUT_S - 10
    assert again.sign_in("cb-01", "1234") is None
    boot.advance(LOCKOUT_S)
    assert again.sign_in("cb-01", "1234")["handed_over_from"] == "cb-02"
    reopened.close()
