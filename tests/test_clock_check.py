"""Issue 11 item 9: a clock that jumped is detected after the fact, by a boot id and a monotonic clock.

A kiosk whose wall clock was two years behind when it recorded, and was fixed before it synced,
must not have its answers counted two years in the past, unflagged. Here: the record fields and
their checks, the pure estimator (``sync_server.clock_check``), the kiosk store that stamps each
answer, its migration with data in place, the sync client's stamped bodies, and the whole path
against a real server.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests.adapters import HTTPAdapter

from hailong_core.questionnaire import load_default_questionnaire
from hailong_core.response import RecordError, check_boot_stamp, check_record, content_hash
from hailong_core.timeutil import format_rfc3339, now_local, parse_rfc3339
from kiosk import store as store_module
from kiosk.migrations import MIGRATIONS
from kiosk.store import PENDING, SENT, Store, boot_id, boot_stamp
from kiosk.sync import ServerApi, SyncClient, enroll
from kiosk.usb_export import export_pending
from sync_server.clock_check import anchor, placed_ms
from sync_server.usb_import import read_export
from tests.records import QREF, UPLOAD, make_record, server_db

BOOT = "6f1d3c2a-9b8e-4f70-a1d2-3c4b5a697887"
OTHER_BOOT = "0b7e2f0c-1111-4222-8333-944455556666"
SKEW_MS = 300_000   # the server's default clock tolerance (clock_skew_s = 300)
TWO_YEARS = timedelta(days=730)
MS = 1000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- the estimator -------------------------------------------------------------------------------

TRUE = _ms(datetime(2026, 11, 28, 8, 15, 2, tzinfo=timezone.utc))   # when the citizen really answered
MONO_AT_ANSWER = 3_600 * MS                                           # one hour after boot


def test_two_years_behind_then_fixed_same_boot_is_placed_at_the_true_time_and_suspect():
    created = _ms(datetime(2024, 11, 28, 8, 15, 2, tzinfo=timezone.utc))  # the wrong clock's reading
    # Three days later, the same boot, the clock fixed: an upload carries the stamp of its sending.
    three_days = 3 * 86_400 * MS
    received = TRUE + three_days + 400                                   # 400 ms in transit
    boot_anchor = anchor(received, MONO_AT_ANSWER + three_days)
    placed, suspect = placed_ms(created, BOOT, MONO_AT_ANSWER, received, boot_anchor, SKEW_MS)
    assert suspect is True
    assert abs(placed - TRUE) <= 5 * MS


def test_a_clock_ahead_when_it_recorded_is_caught_too():
    created = TRUE + 9 * 3_600 * MS                                      # nine hours ahead (a wrong time zone)
    received = TRUE + 60 * MS
    placed, suspect = placed_ms(created, BOOT, MONO_AT_ANSWER, received, anchor(received, MONO_AT_ANSWER + 60 * MS), SKEW_MS)
    assert (placed, suspect) == (TRUE, True)


def test_a_clock_that_was_right_is_untouched():
    received = TRUE + 3_600 * MS
    boot_anchor = anchor(received + 250, MONO_AT_ANSWER + 3_600 * MS)   # latency: a quarter second
    for created in (TRUE, TRUE + 2 * MS, TRUE - 90 * MS, TRUE + SKEW_MS - 250):
        assert placed_ms(created, BOOT, MONO_AT_ANSWER, received, boot_anchor, SKEW_MS) == (created, False)


def test_the_tolerance_is_inclusive():
    boot_anchor = TRUE - MONO_AT_ANSWER
    assert placed_ms(TRUE - SKEW_MS, BOOT, MONO_AT_ANSWER, TRUE, boot_anchor, SKEW_MS) == (TRUE - SKEW_MS, False)
    assert placed_ms(TRUE - SKEW_MS - 1, BOOT, MONO_AT_ANSWER, TRUE, boot_anchor, SKEW_MS) == (TRUE, True)


def test_a_reboot_between_record_and_sync_with_no_anchor_is_not_flagged_here():
    # The answer's boot was never seen by the server (the kiosk rebooted before it synced): the
    # monotonic clock of another boot says nothing about it. The lead's other checks apply.
    created = TRUE - 730 * 86_400 * MS
    assert placed_ms(created, BOOT, MONO_AT_ANSWER, TRUE + 86_400 * MS, None, SKEW_MS) == (created, False)


def test_without_a_stamp_only_a_time_after_receipt_is_suspect():
    received = TRUE
    assert placed_ms(TRUE - 14 * 86_400 * MS, None, None, received, None, SKEW_MS) == (TRUE - 14 * 86_400 * MS, False)
    assert placed_ms(received + SKEW_MS, None, None, received, None, SKEW_MS) == (received + SKEW_MS, False)
    assert placed_ms(received + SKEW_MS + 1, None, None, received, None, SKEW_MS) == (received, True)
    # An anchor is no use to a record without its monotonic clock (made before the field existed).
    assert placed_ms(TRUE - TWO_YEARS.days * 86_400 * MS, None, None, received, TRUE - MONO_AT_ANSWER, SKEW_MS)[1] is False
    # And the future rule holds with a boot but no anchor.
    assert placed_ms(received + 10 * SKEW_MS, BOOT, MONO_AT_ANSWER, received, None, SKEW_MS) == (received, True)


def test_anchor_is_receipt_minus_the_monotonic_clock():
    assert anchor(1_700_000_000_000, 5_000) == 1_699_999_995_000
    assert anchor(TRUE, 0) == TRUE


# --- the record fields ---------------------------------------------------------------------------

QUESTIONNAIRES = {(QREF["id"], QREF["version"]): load_default_questionnaire()}


def _refused(item: dict) -> RecordError:
    with pytest.raises(RecordError) as info:
        check_record(item, QUESTIONNAIRES)
    return info.value


def test_a_stamped_record_is_returned_as_sent_and_hashed_with_its_stamp():
    item = make_record(1, boot_id=BOOT, mono_ms=MONO_AT_ANSWER)
    record, _ = check_record(item, QUESTIONNAIRES)
    assert (record["boot_id"], record["mono_ms"]) == (BOOT, MONO_AT_ANSWER)
    assert content_hash(record) == content_hash(item)
    assert content_hash(record) != content_hash({k: v for k, v in item.items() if k not in ("boot_id", "mono_ms")})


def test_a_record_made_before_the_fields_keeps_its_hash():
    item = make_record(1)
    before = content_hash(item)
    record, _ = check_record(item, QUESTIONNAIRES)
    assert "boot_id" not in record and "mono_ms" not in record
    assert content_hash(record) == before


@pytest.mark.parametrize("fields, bad", [
    ({"boot_id": BOOT}, "mono_ms"),
    ({"mono_ms": 5}, "boot_id"),
    ({"boot_id": None, "mono_ms": 5}, "boot_id"),
    ({"boot_id": BOOT, "mono_ms": None}, "mono_ms"),
    ({"boot_id": BOOT.upper(), "mono_ms": 5}, "boot_id"),
    ({"boot_id": "not-a-uuid", "mono_ms": 5}, "boot_id"),
    ({"boot_id": 7, "mono_ms": 5}, "boot_id"),
    ({"boot_id": BOOT, "mono_ms": -1}, "mono_ms"),
    ({"boot_id": BOOT, "mono_ms": 2**53}, "mono_ms"),
    ({"boot_id": BOOT, "mono_ms": True}, "mono_ms"),
    ({"boot_id": BOOT, "mono_ms": 5.0}, "mono_ms"),
    ({"boot_id": BOOT, "mono_ms": "5"}, "mono_ms"),
])
def test_a_bad_or_lonely_stamp_is_refused_by_name(fields, bad):
    error = _refused(make_record(1, **fields))
    assert (error.code, error.field) == ("invalid_field", bad)


def test_the_edges_of_mono_ms_are_taken():
    for mono in (0, 2**53 - 1):
        assert check_record(make_record(1, boot_id=BOOT, mono_ms=mono), QUESTIONNAIRES)[0]["mono_ms"] == mono


def test_a_body_stamp_is_checked_the_same_and_may_be_an_integral_float():
    """Bodies (upload, heartbeat) are described by the OpenAPI document, whose "integer" takes 5.0."""
    assert check_boot_stamp({"responses": []}) is None
    assert check_boot_stamp({"boot_id": BOOT, "mono_ms": 5}) == (BOOT, 5)
    assert check_boot_stamp({"boot_id": BOOT, "mono_ms": 5.0}, integral_floats=True) == (BOOT, 5)
    for mono in (5.5, float("nan"), float("inf"), 1e300, True, "5"):
        with pytest.raises(RecordError) as info:
            check_boot_stamp({"boot_id": BOOT, "mono_ms": mono}, integral_floats=True)
        assert info.value.field == "mono_ms"
    with pytest.raises(RecordError):
        check_boot_stamp({"boot_id": BOOT, "mono_ms": 5.0})


# --- the kiosk stamps each answer ----------------------------------------------------------------

class BootClock:
    """A scripted boot: its id and a monotonic clock that moves only when told."""

    def __init__(self, boot: str = BOOT, mono_ms: int = MONO_AT_ANSWER):
        self.boot, self.mono_ms = boot, mono_ms

    def __call__(self) -> tuple[str, int]:
        return self.boot, self.mono_ms


class WallClock:
    """The kiosk's wall clock, off by ``offset`` until someone fixes it."""

    def __init__(self, offset: timedelta = timedelta(0)):
        self.offset = offset

    def __call__(self) -> datetime:
        return now_local() + self.offset


def _columns(store: Store, rid: str) -> tuple:
    return store.read(lambda c: tuple(c.execute("SELECT boot_id, mono_ms FROM responses WHERE id = ?", (rid,)).fetchone()))


def test_each_answer_is_stamped_in_its_own_transaction(tmp_path):
    boot = BootClock()
    store = Store(tmp_path / "kiosk.sqlite3", boot_clock=boot)
    first = store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    boot.mono_ms += 42_000
    second = store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 4})
    assert [(r["boot_id"], r["mono_ms"]) for r in (first, second)] == [(BOOT, MONO_AT_ANSWER), (BOOT, MONO_AT_ANSWER + 42_000)]
    assert [r["mono_ms"] for r in store.pending(10)] == [MONO_AT_ANSWER, MONO_AT_ANSWER + 42_000]
    assert _columns(store, second["id"]) == (BOOT, MONO_AT_ANSWER + 42_000)
    for record in store.pending(10):
        assert check_record(record, QUESTIONNAIRES)[0] == record
    store.close()


def test_a_draft_keeps_the_stamp_of_its_tap(tmp_path):
    boot = BootClock()
    store = Store(tmp_path / "kiosk.sqlite3", boot_clock=boot)
    draft = store.begin_response(unit_code="7201", questionnaire=QREF, answers={"overall": 1})
    boot.mono_ms += 20_000
    store.update_draft(draft["id"], {"overall": 1, "why": ["waited_long"]})
    done = store.finalise(draft["id"])
    assert (done["boot_id"], done["mono_ms"]) == (BOOT, MONO_AT_ANSWER)
    store.close()


def test_the_default_boot_stamp_is_this_boot_and_the_monotonic_clock():
    boot, mono = boot_stamp()
    try:
        expected = store_module.BOOT_ID_PATH.read_text().strip()
    except OSError:
        expected = boot  # no /proc here: a UUID made once for this process
    assert boot == expected == boot_id()
    assert abs(mono - time.monotonic() * 1000) < 5_000
    assert boot_stamp()[1] >= mono


def test_without_proc_the_boot_id_is_made_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BOOT_ID_PATH", tmp_path / "missing")
    boot_id.cache_clear()
    try:
        made = boot_id()
        assert made == boot_id() == boot_stamp()[0]
        assert check_record(make_record(1, boot_id=made, mono_ms=0), QUESTIONNAIRES)
    finally:
        boot_id.cache_clear()


def _version_2_file(path, records: list[dict]) -> None:
    """A file as the previous app left it: migrations 1 and 2 only, with unsent answers."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    for rec in records:
        conn.execute("INSERT INTO responses (seq, id, record, created_at, state, created_ts, touched_ts, tried) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                     (rec["seq"], rec["id"], json.dumps(rec, ensure_ascii=False, separators=(",", ":")), rec["created_at"],
                      PENDING, parse_rfc3339(rec["created_at"]).timestamp(), parse_rfc3339(rec["created_at"]).timestamp()))
    conn.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (len(records),))
    conn.close()


def test_a_version_2_file_with_unsent_answers_upgrades_and_they_sync_with_the_same_hash(server, tmp_path):
    """The old kiosk sent one of them already (its answer was lost): the resend must be a duplicate."""
    old = [make_record(seq, answers={"overall": seq}) for seq in (1, 2, 3)]
    hashes = {r["id"]: content_hash(r) for r in old}
    path = tmp_path / "kiosk.sqlite3"
    _version_2_file(path, old)

    store = Store(path, boot_clock=BootClock())
    assert store.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == len(MIGRATIONS) == 3
    assert [_columns(store, r["id"]) for r in old] == [(None, None)] * 3
    assert store.pending(10) == old                       # byte for byte: no stamp added after the fact
    enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")
    api = ServerApi(server.url, store.get_meta("token"))
    first = api.upload([old[0]], format_rfc3339(now_local()))   # as the old app did, before the upgrade
    assert first["results"][0]["status"] == "accepted"
    fresh = store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    assert (fresh["seq"], fresh["boot_id"], fresh["mono_ms"]) == (4, BOOT, MONO_AT_ANSWER)

    SyncClient(store, api).drain()
    assert store.counts() == {PENDING: 0, SENT: 4, "kept_aside": 0}
    conn = server_db(server)
    try:
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, content_hash FROM responses")}
        assert conn.execute("SELECT COUNT(*) FROM response_conflicts").fetchone()[0] == 0
    finally:
        conn.close()
    assert stored == {**hashes, fresh["id"]: content_hash(fresh)}
    store.close()


def test_the_usb_export_carries_the_stamped_records_as_they_are(tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3", boot_clock=BootClock())
    store.set_meta(device_id="d", unit_code="7201")
    made = [store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": level}) for level in (5, 1)]
    assert export_pending(store, tmp_path / "stick.json.gz") == 2
    exported = read_export(tmp_path / "stick.json.gz")["responses"]
    assert exported == made and [content_hash(r) for r in exported] == [content_hash(r) for r in made]
    assert {(r["boot_id"], r["mono_ms"]) for r in exported} == {(BOOT, MONO_AT_ANSWER)}
    store.close()


# --- the sync client sends the stamp of the moment of sending --------------------------------------

class Recording(HTTPAdapter):
    """Keeps each request's path and JSON body (a look at the network boundary, nothing changed)."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, dict]] = []

    def send(self, request, **kwargs):
        raw = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        if raw:
            self.sent.append((request.path_url, json.loads(raw)))
        return super().send(request, **kwargs)


def _recording_session() -> tuple[requests.Session, Recording]:
    session, adapter = requests.Session(), Recording()
    session.mount("http://", adapter)
    return session, adapter


class RefusesTheStamp(BaseHTTPRequestHandler):
    """A server older than the boot stamp: a body field it does not know is refused, like ours did."""

    bodies: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.loads(gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw)
        self.bodies.append((self.path, body))
        if "boot_id" in body:
            self._answer(422, {"error": {"code": "unknown_field", "message": "unknown field 'boot_id'"}})
        elif self.path == UPLOAD:
            self._answer(200, {"results": [{"id": r["id"], "status": "accepted"} for r in body["responses"]],
                               "server_time": format_rfc3339(now_local())})
        else:
            self._answer(204, None)

    def _answer(self, status: int, doc) -> None:
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_uploads_and_heartbeats_carry_the_boot_stamp_of_sending(server, tmp_path):
    boot = BootClock()
    store = Store(tmp_path / "kiosk.sqlite3", boot_clock=boot)
    enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")
    store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})
    boot.mono_ms += 86_400 * MS                   # a day later, same boot
    session, seen = _recording_session()
    client = SyncClient(store, ServerApi(server.url, store.get_meta("token"), session=session))
    client.heartbeat()                            # the real server takes the stamped heartbeat (204)
    client.drain()
    assert store.counts()[SENT] == 1
    uploads = [b for path, b in seen.sent if path == UPLOAD]
    heartbeats = [b for path, b in seen.sent if path.endswith("/heartbeat")]
    assert len(uploads) == 1                      # taken stamped at once: no fallback needed
    assert uploads[0]["boot_id"] == BOOT and uploads[0]["mono_ms"] == MONO_AT_ANSWER + 86_400 * MS
    assert uploads[0]["responses"][0]["mono_ms"] == MONO_AT_ANSWER
    assert (heartbeats[0]["boot_id"], heartbeats[0]["mono_ms"]) == (BOOT, MONO_AT_ANSWER + 86_400 * MS)
    store.close()


def test_a_server_older_than_the_stamp_gets_bodies_without_it_and_nothing_is_set_aside(tmp_path):
    RefusesTheStamp.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RefusesTheStamp)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        store = Store(tmp_path / "kiosk.sqlite3", boot_clock=BootClock())
        for level in (5, 4, 3):
            store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": level})
        api = ServerApi(f"http://127.0.0.1:{httpd.server_address[1]}", "hl1_token")
        client = SyncClient(store, api, batch_size=2)
        client.drain()
        client.heartbeat()
        assert store.counts() == {PENDING: 0, SENT: 3, "kept_aside": 0}
        assert api.send_boot_stamp is False
        # One refused stamped upload, then everything without the stamp (heartbeat included).
        assert ["boot_id" in body for _, body in RefusesTheStamp.bodies] == [True, False, False, False]
        store.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --- end to end: the kiosk two years behind, fixed before it synced --------------------------------

def _two_years_behind_then_synced(server, tmp_path) -> tuple[list[dict], list[int], list[tuple[int, str, int]]]:
    """Three answers recorded with the wall clock two years behind; the clock fixed; one sync.

    Returns the records, the true time (ms) of each answer, and ``(wall ms, boot id, mono ms)``
    of each stamp the sync sent.
    """
    wall = WallClock(-TWO_YEARS)
    store = Store(tmp_path / "kiosk.sqlite3", clock=wall)        # the real boot id and monotonic clock
    enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")
    records, truth = [], []
    for level in (5, 2, 4):
        truth.append(int(time.time() * 1000))
        records.append(store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": level}))
    assert all(parse_rfc3339(r["created_at"]).year <= datetime.now().year - 1 for r in records)
    wall.offset = timedelta(0)                                     # IT staff fix the clock; same boot

    sent: list[tuple[int, str, int]] = []

    def stamp_at_sending() -> tuple[str, int]:
        stamp = boot_stamp()
        sent.append((int(time.time() * 1000), *stamp))
        return stamp

    client = SyncClient(store, ServerApi(server.url, store.get_meta("token")), clock=wall, boot_clock=stamp_at_sending)
    client.drain()
    assert store.counts() == {PENDING: 0, SENT: 3, "kept_aside": 0}
    store.close()
    return records, truth, sent


def test_two_years_behind_then_fixed_reaches_the_server_stamped_and_the_estimate_finds_the_true_time(server, tmp_path):
    records, truth, sent = _two_years_behind_then_synced(server, tmp_path)
    conn = server_db(server)
    try:
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, content_hash FROM responses")}
    finally:
        conn.close()
    assert stored == {r["id"]: content_hash(r) for r in records}   # the stamp travelled as part of the content
    sent_ms, boot, mono_at_send = sent[-1]
    assert all(r["boot_id"] == boot for r in records)
    for record, true_ms in zip(records, truth):
        placed, suspect = placed_ms(_ms(parse_rfc3339(record["created_at"])), record["boot_id"], record["mono_ms"],
                                    sent_ms, anchor(sent_ms, mono_at_send), SKEW_MS)
        assert suspect is True
        assert abs(placed - true_ms) < 60 * MS


def test_two_years_behind_then_fixed_is_stored_suspect_and_placed_at_the_true_time(server, tmp_path):
    records, truth, _ = _two_years_behind_then_synced(server, tmp_path)
    conn = server_db(server)
    try:
        rows = {r["id"]: r for r in conn.execute("SELECT id, clock_suspect, placed_ms, boot_id, mono_ms FROM responses")}
    finally:
        conn.close()
    assert set(rows) == {r["id"] for r in records}
    for record, true_ms in zip(records, truth):
        row = rows[record["id"]]
        assert (row["boot_id"], row["mono_ms"]) == (record["boot_id"], record["mono_ms"])
        assert row["clock_suspect"] == 1
        assert row["placed_ms"] is not None and abs(row["placed_ms"] - true_ms) < 60 * MS
