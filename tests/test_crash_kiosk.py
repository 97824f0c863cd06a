"""Power cuts on the kiosk: a child process records answers and is SIGKILLed at random moments.

Contract 1 and 2: an answer the kiosk acknowledged (here: printed after ``record_response``
returned) survives a kill -9, the file stays consistent, and the sequence numbers born with the
rows stay unique and gap-free. The kills land on one growing database file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kiosk.migrations import MIGRATIONS
from kiosk.store import Store

ROOT = Path(__file__).resolve().parent.parent
KILLS = 50


def _start_writer(db: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "crash_writer.py"), str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _check_file(db: Path, printed: dict[str, int], where: str) -> int:
    conn = sqlite3.connect(str(db))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", where
        rows = conn.execute("SELECT seq, id, record, state FROM responses ORDER BY seq").fetchall()
        counter = conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS), where
    finally:
        conn.close()
    stored = {rid: seq for seq, rid, _, _ in rows}
    missing = [rid for rid in printed if rid not in stored]
    assert not missing, f"{where}: {len(missing)} acknowledged answers lost, e.g. {missing[:3]}"
    assert all(stored[rid] == seq for rid, seq in printed.items()), where
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(rows) + 1)), f"{where}: seq not gap-free 1..N"
    assert counter == len(rows), f"{where}: counter {counter} vs {len(rows)} rows"
    assert len({r[1] for r in rows}) == len(rows), f"{where}: duplicate ids"
    for seq, rid, record, state in rows:
        body = json.loads(record)
        assert (body["seq"], body["id"], state) == (seq, rid, "pending"), where
    return len(rows)


def test_kill_minus_nine_never_loses_an_acknowledged_answer(tmp_path):
    db = tmp_path / "kiosk.sqlite3"
    seed = int(os.environ.get("HAILONG_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    printed: dict[str, int] = {}
    total = 0
    started = time.monotonic()
    for kill in range(KILLS):
        where = f"kill {kill} (seed {seed})"
        proc = _start_writer(db)
        try:
            first = proc.stdout.readline()  # blocks until the first answer is stored (or the child dies)
            assert first, f"{where}: writer printed nothing: {proc.stderr.read().decode(errors='replace')[-2000:]}"
            # The kill moment is random by design: somewhere 5–80 ms into the writing.
            time.sleep(rng.uniform(0.005, 0.080))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            rest = proc.stdout.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, where
        lines = (first + rest).decode().splitlines()
        for line in lines:
            seq, rid = line.split()
            assert rid not in printed, f"{where}: id {rid} printed twice"
            printed[rid] = int(seq)
        count = _check_file(db, printed, where)
        assert count >= total + len(lines), where  # never fewer rows than before plus what was acknowledged
        total = count
    assert total >= KILLS  # every round stored at least the one answer it printed first
    assert time.monotonic() - started < 60

    # The store itself reopens the killed file and carries on where it stopped.
    store = Store(db)
    assert store.integrity_ok()
    assert store.counts()["pending"] == total
    assert store.record_response(unit_code="7201", questionnaire={"id": "bg-friendly-gov", "version": 1},
                                 answers={"overall": 5})["seq"] == total + 1
    store.close()
