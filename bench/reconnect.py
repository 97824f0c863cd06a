"""200 kiosks reconnect at once after 14 days offline (300 answers a day each): SQLite vs PostgreSQL.

Run: ``python -m bench.reconnect [--kiosks 200 --days 14 --per-day 300] [--pg-url URL]``. Without
``--pg-url`` a scratch cluster is started with scripts/pg-scratch.sh (PostgreSQL must be
installed). For each back end: a real ``hailong-server serve`` (one process, as deployed behind
nginx), every kiosk enrolled over HTTP, then all kiosks upload their backlog at the same moment,
each on its own connection, in batches of the kiosk's default size (200), gzip, as the kiosk does.
The bodies are built before the clock starts. Figures per back end: drain time, answers per
second, peak server RSS, error rate (any non-200 answer or any item not accepted; "database is
locked" reaching a client counts as an error and is counted on its own).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure, make_records  # noqa: E402
from tests.support import LiveServer, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BATCH = 200  # the kiosk's default batch_size


def _codes(db, units: list[str]) -> list[str]:
    """One enrolment code per kiosk, made in-process (200 CLI starts would dominate the set-up)."""
    from datetime import datetime, timedelta, timezone

    from sync_server import security
    from sync_server.storage import open_storage

    storage = open_storage(db)
    try:
        codes = []
        for unit in units:
            code = security.new_enroll_code()
            storage.create_enroll_code(unit, security.digest(security.normalise_code(code)),
                                       datetime.now(timezone.utc) + timedelta(hours=1))
            codes.append(code)
        return codes
    finally:
        storage.close()


def run_backend(name: str, db, units: list[str], per_kiosk: int) -> dict:
    server = LiveServer(db, free_port())
    server.start()
    try:
        tokens = []
        for code in _codes(db, units):
            resp = requests.post(server.url + "/api/v1/enroll", json={"code": code}, timeout=30)
            resp.raise_for_status()
            tokens.append(resp.json()["token"])
        plans = []
        for k, (unit, token) in enumerate(zip(units, tokens)):
            records = make_records(per_kiosk, unit=unit, seed=k)
            bodies = [gzip.compress(orjson.dumps({"responses": records[i:i + BATCH], "device_time": records[-1]["created_at"]}), 6)
                      for i in range(0, len(records), BATCH)]
            plans.append((token, bodies))
        proc = psutil.Process(server.proc.pid)
        peak = [proc.memory_info().rss]
        errors = {"http": 0, "items": 0, "locked": 0}
        lock = threading.Lock()
        start = threading.Barrier(len(plans) + 1)
        done = threading.Event()

        def kiosk(token: str, bodies: list[bytes]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Encoding": "gzip"}
            start.wait()
            for body in bodies:
                conn.request("POST", "/api/v1/kiosk/responses", body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                with lock:
                    if b"database is locked" in payload:
                        errors["locked"] += 1
                    if resp.status != 200:
                        errors["http"] += 1
                        continue
                    errors["items"] += sum(1 for r in orjson.loads(payload)["results"] if r["status"] != "accepted")
            conn.close()

        def sample() -> None:
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], proc.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.05)

        threads = [threading.Thread(target=kiosk, args=plan) for plan in plans]
        for t in threads:
            t.start()
        sampler = threading.Thread(target=sample)
        sampler.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        done.set()
        sampler.join()
        total = per_kiosk * len(units)
        stored = server.stats()
        log_locked = server.log.read_text(errors="replace").count("database is locked") if server.log.exists() else 0
    finally:
        server.stop()
    assert sum(stored.values()) == total, f"{name}: server holds {sum(stored.values())} of {total}"
    requests_sent = sum(len(b) for _, b in plans)
    return {"drain_s": elapsed, "rate": total / elapsed, "peak_rss_mb": peak[0] / 2**20,
            "error_rate": (errors["http"] + errors["items"]) / (requests_sent + total),
            "locked": errors["locked"] + log_locked, "requests": requests_sent}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiosks", type=int, default=200)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--per-day", type=int, default=300)
    ap.add_argument("--pg-url", help="a PostgreSQL database to use (emptied first); default: a scratch cluster")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from sync_server.storage import open_storage

        units = [u["code"] for u in json.loads(json.dumps(open_storage(tmp / "probe.sqlite3").units()))
                 if u["level"] == "commune"][: args.kiosks]
        units += units[: max(0, args.kiosks - len(units))]
        per_kiosk = args.days * args.per_day
        results = {"sqlite": run_backend("sqlite", tmp / "server.sqlite3", units, per_kiosk)}
        pg_url, pgdir = args.pg_url, None
        if pg_url is None:
            pgdir = Path(tempfile.mkdtemp(prefix="hailong-pg."))
            pgdir.chmod(0o755)
            pg_url = subprocess.run(["bash", str(ROOT / "scripts/pg-scratch.sh"), "start", str(pgdir / "data"), str(free_port())],
                                    capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        try:
            import psycopg

            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute("DROP SCHEMA public CASCADE")
                conn.execute("CREATE SCHEMA public")
            results["postgres"] = run_backend("postgres", pg_url, units, per_kiosk)
        finally:
            if pgdir is not None:
                subprocess.run(["bash", str(ROOT / "scripts/pg-scratch.sh"), "stop", str(pgdir / "data")], capture_output=True)
    figure("reconnect_answers_total", per_kiosk * len(units), "answers")
    for name, r in results.items():
        figure(f"reconnect_{name}_drain_time", r["drain_s"], "s")
        figure(f"reconnect_{name}_rate", r["rate"], "answers/s")
        figure(f"reconnect_{name}_peak_server_rss", r["peak_rss_mb"], "MiB")
        figure(f"reconnect_{name}_error_rate", r["error_rate"], "fraction")
        figure(f"reconnect_{name}_database_locked", r["locked"], "count")


if __name__ == "__main__":
    main()
