"""Store and forward under fire (issue 17): 50 kiosks × 2,000 answers through a relay to the
province while the WAN link (a TCP proxy) drops, hangs and slows down, and while the relay and the
province are each SIGKILLed at random at least 20 times. At the end every answer is at the
province exactly once, nothing waits at the relay, nothing was kept aside, and both databases
pass their integrity check. Real processes throughout; the kiosks are protocol v1 clients that
resend a batch until it is answered, as the kiosk's sync does.

Slow (a few minutes): marked ``soak``. ``HAILONG_RELAY_SOAK_KIOSKS`` / ``_ANSWERS`` / ``_KILLS``
make it smaller for a quick look.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time

import pytest
import requests

from sync_server import security
from sync_server.storage import open_storage
from tests.records import bearer, make_record, server_db, wait_until
from tests.support import LiveServer, free_port, is_url, server_cli, server_db_location
from tests.tcp_proxy import TcpProxy
from tests.test_e2e_relay import RELAY_ENV, relay_code, status

pytestmark = pytest.mark.soak

KIOSKS = int(os.environ.get("HAILONG_RELAY_SOAK_KIOSKS", "50"))
ANSWERS = int(os.environ.get("HAILONG_RELAY_SOAK_ANSWERS", "2000"))
KILLS = int(os.environ.get("HAILONG_RELAY_SOAK_KILLS", "20"))
BATCH = 100
UNITS = ("7210", "7228")  # the relay's scope is the province's subtree: two communes' kiosks behind one relay


def _codes(db, n: int) -> list[str]:
    """``n`` kiosk enrolment codes at the relay (what ``enroll-code`` does, without 50 processes)."""
    from datetime import datetime, timedelta, timezone

    storage = open_storage(db)
    try:
        out = []
        for i in range(n):
            code = security.new_enroll_code()
            storage.create_enroll_code(UNITS[i % len(UNITS)], security.digest(security.normalise_code(code)),
                                       datetime.now(timezone.utc) + timedelta(hours=1), label=f"Kiosk {i + 1}")
            out.append(code)
        return out
    finally:
        storage.close()


class Kiosk(threading.Thread):
    """Sends its answers in batches; a batch goes again until the relay answered every item."""

    def __init__(self, relay: LiveServer, code: str, unit: str, answers: int):
        super().__init__(daemon=True)
        self.relay, self.code, self.unit, self.n = relay, code, unit, answers
        self.ids: list[str] = []
        self.retries = 0
        self.error: str | None = None
        self.pace_s = random.Random(code).uniform(1.0, 2.5) * min(1.0, ANSWERS / 2000)

    def _post(self, session, path: str, **kw):
        while True:
            try:
                resp = session.post(self.relay.url + path, timeout=15, **kw)
                if resp.status_code in (200, 201):
                    return resp
                if resp.status_code not in (502, 503):
                    raise AssertionError(f"{path}: {resp.status_code} {resp.text[:300]}")
            except requests.RequestException:
                pass
            self.retries += 1
            time.sleep(0.2)

    def run(self) -> None:
        try:
            session = requests.Session()
            token = self._post(session, "/api/v1/enroll", json={"code": self.code}).json()["token"]
            for start in range(0, self.n, BATCH):
                batch = [make_record(start + i + 1, self.unit, {"overall": 1 + (start + i) % 5}) for i in range(min(BATCH, self.n - start))]
                results = self._post(session, "/api/v1/kiosk/responses", json={"responses": batch}, headers=bearer(token)).json()["results"]
                statuses = {r["status"] for r in results}
                assert statuses <= {"accepted", "duplicate"}, results[:3]
                self.ids += [r["id"] for r in batch]
                time.sleep(self.pace_s)  # kiosks sync now and then, not all at once: the kills land mid-collection
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = f"{type(exc).__name__}: {exc}"


def _integrity(db) -> str:
    if is_url(db):
        return "ok"
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_fifty_kiosks_through_a_relay_with_kills_and_link_cuts(tmp_path):
    rng = random.Random(17)
    province = LiveServer(server_db_location(tmp_path, "province.sqlite3"), free_port(), RELAY_ENV)
    province.start()
    proxy = TcpProxy(province.port)
    relay = LiveServer(tmp_path / "relay.sqlite3", free_port(), RELAY_ENV)
    server_cli(relay.db, "enroll-upstream", "--upstream", proxy.url, "--code", relay_code(province.db, "24"))
    relay.start()
    kiosks = [Kiosk(relay, code, UNITS[i % len(UNITS)], ANSWERS) for i, code in enumerate(_codes(relay.db, KIOSKS))]
    kills = {"relay": 0, "province": 0}
    collecting = {"relay": 0, "province": 0}  # kills while kiosks were still sending
    stop = threading.Event()

    def chaos():
        while not stop.is_set():
            stop.wait(rng.uniform(0.8, 2.5))
            if stop.is_set():
                break
            roll = rng.random()
            sending = any(k.is_alive() for k in kiosks)
            if roll < 0.35:
                relay.kill()
                kills["relay"] += 1
                collecting["relay"] += sending
                time.sleep(rng.uniform(0, 0.5))
                relay.start()
            elif roll < 0.7:
                province.kill()
                kills["province"] += 1
                collecting["province"] += sending
                time.sleep(rng.uniform(0, 0.5))
                province.start()
            else:
                proxy.set(rng.choice(["drop", "blackhole", "delay", "pass"]), delay_s=rng.uniform(0.01, 0.2))

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    started = time.monotonic()
    try:
        for k in kiosks:
            k.start()
        chaos_thread.start()
        for k in kiosks:
            k.join(timeout=1800)
        # Keep the fire on until each server was killed often enough, while forwarding goes on.
        wait_until(lambda: min(kills.values()) >= KILLS, timeout=900, interval=0.5, what=f"{KILLS} kills of each")
        stop.set()
        chaos_thread.join(timeout=60)
        proxy.set("pass")
        assert [k.error for k in kiosks if k.error] == []
        sent = [i for k in kiosks for i in k.ids]
        assert len(sent) == KIOSKS * ANSWERS

        def drained():
            s = status(relay)
            return s["pending"] == 0 and s["last_error"] is None

        wait_until(drained, timeout=900, interval=1.0, what="the relay to drain")
        with server_db(province) as conn:
            total = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM responses").fetchone()
            ids = {r[0] for r in conn.execute("SELECT id FROM responses")}
            relays = conn.execute("SELECT COUNT(DISTINCT relay_id) FROM responses").fetchone()[0]
        with server_db(relay) as conn:
            kept = conn.execute("SELECT COUNT(*) FROM upstream_refused").fetchone()[0]
            at_relay = conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        print(f"relay soak: {len(sent)} answers, kills {kills} ({collecting} while kiosks sent), "
              f"kiosk retries {sum(k.retries for k in kiosks)}, "
              f"proxy connections {proxy.connections}, {time.monotonic() - started:.0f} s")
        assert tuple(total) == (len(sent), len(sent))  # exactly once
        assert ids == set(sent) and at_relay == len(sent)
        assert relays == 1 and kept == 0
        assert min(kills.values()) >= KILLS and collecting["relay"] >= min(3, KILLS)
        assert sum(k.retries for k in kiosks) > 0  # the relay's kills were felt by the kiosks, and nothing was lost
    finally:
        stop.set()
        relay.stop()
        province.stop()
        proxy.close()
    assert _integrity(relay.db) == "ok"
    assert _integrity(province.db) == "ok"
