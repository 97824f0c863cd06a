"""Many processes, one truth (contract 12): two ``serve`` processes on one database, with
``refresh-results`` and ``import-responses`` running beside them in loops, while 20 kiosks upload
concurrently for a minute and a client pages the pull feed through both servers.

Afterwards: the feed returned every stored answer exactly once, in commit order; the rollups equal
a GROUP BY over the answers; and ten concurrent redemptions of one enrolment code, spread over
both servers, gave exactly one token. Runs on SQLite and again on PostgreSQL. Marked ``soak``
(about 70 s per back end): ``pytest -m "not soak"`` leaves it out of the quick loop; CI runs it.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from sync_server.days import day_at
from sync_server.results.fold import place
from tests.records import enroll_http, make_record, server_db
from tests.support import ROOT, LiveServer, free_port, make_enroll_code, server_cli, server_db_location

pytestmark = pytest.mark.soak

SECONDS = float(os.environ.get("HAILONG_SOAK_SECONDS", "60"))
KIOSKS = 20
UNITS = ("7201", "7204", "7246", "7210")
OFFSET_MS = 7 * 3_600_000


def _cli_loop(db, stop: threading.Event, args_for, failures: list, runs: Counter, name: str) -> None:
    while not stop.is_set():
        args = args_for()
        done = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        runs[name] += 1
        if done.returncode != 0:
            failures.append((name, done.returncode, done.stderr[-2000:]))


def _kiosk(servers, token: str, unit: str, stop: threading.Event, acked: set, failures: list, seed: int) -> None:
    rng = random.Random(seed)
    seq = 0
    sent: list[dict] = []
    session = requests.Session()
    while not stop.is_set():
        if sent and rng.random() < 0.15:
            batch = rng.sample(sent, min(len(sent), rng.randint(1, 20)))  # a retry after a lost answer
        else:
            batch = []
            for _ in range(rng.randint(1, 40)):
                seq += 1
                batch.append(make_record(seq, unit, answers={"overall": rng.randint(1, 5)}))
        server = servers[rng.randrange(len(servers))]
        try:
            resp = session.post(server.url + "/api/v1/kiosk/responses", json={"responses": batch},
                                headers={"Authorization": f"Bearer {token}"}, timeout=60)
        except requests.RequestException:
            continue  # the kiosk retries later with the same ids
        if resp.status_code != 200:
            failures.append(("upload", resp.status_code, resp.text[:300]))
            continue
        for record, result in zip(batch, resp.json()["results"]):
            if result["status"] in ("accepted", "duplicate"):
                acked.add(record["id"])
            else:
                failures.append(("item", result))
        sent.extend(r for r in batch if r not in sent)
        sent = sent[-500:]


def _usb_file(folder: Path, device: dict, unit: str, first_seq: int, n: int) -> tuple[Path, list[str]]:
    records = [make_record(first_seq + i, unit, answers={"overall": 1 + i % 5}) for i in range(n)]
    path = folder / f"usb-{first_seq}.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"format": "hailong-usb-export", "version": 1, "device_id": device["device_id"],
                                               "unit_code": unit, "responses": records}).encode()))
    return path, [r["id"] for r in records]


def _pull_all(servers, token: str, since: int, seen: list, stop: threading.Event | None = None) -> int:
    i = 0
    while True:
        server = servers[i % len(servers)]
        i += 1
        page = requests.get(server.url + f"/api/v1/pull/answers?since={since}&limit=500",
                            headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
        seen.extend((item["server_seq"], item["id"]) for item in page["items"])
        since = page["next_since"]
        if not page["has_more"]:
            if stop is None or stop.is_set():
                return since
            time.sleep(0.05)


def test_two_servers_and_cli_commands_on_one_database_count_every_answer_once(tmp_path):
    db = server_db_location(tmp_path)
    env = {"HAILONG_SERVER_MAINTAIN_EVERY_S": "5"}  # each server folds the rollups on its own schedule too
    servers = [LiveServer(db, free_port(), env=env), LiveServer(db, free_port(), env=env)]
    for s in servers:
        s.start()
    try:
        # Ten concurrent redemptions of one code, spread over both servers: exactly one token.
        code = make_enroll_code(db, "7201")
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda i: requests.post(servers[i % 2].url + "/api/v1/enroll",
                                                            json={"code": code, "name": f"race {i}"}, timeout=30), range(10)))
        assert sorted(r.status_code for r in answers) == [201] + [403] * 9, [r.text[:200] for r in answers]

        devices = [enroll_http(servers[i % 2], UNITS[i % len(UNITS)], f"Quầy {i}") for i in range(KIOSKS)]
        usb_device = enroll_http(servers[0], "7204", "USB")
        api_token = server_cli(db, "api-tokens", "add", "--name", "bi", "--province").stdout.strip().splitlines()[-1]

        stop = threading.Event()
        acked: set[str] = set()
        failures: list = []
        runs: Counter = Counter()
        usb_ids: list[str] = []
        usb_files: list[Path] = []
        lock = threading.Lock()

        def next_usb_args():
            with lock:
                if usb_files and random.random() < 0.3:
                    path = random.choice(usb_files)  # the same stick imported again: nothing new
                else:
                    path, ids = _usb_file(tmp_path, usb_device, "7204", 100_000 + 1000 * len(usb_files), 200)
                    usb_files.append(path)
                    usb_ids.extend(ids)
            return ["import-responses", str(path)]

        threads = [threading.Thread(target=_kiosk, args=(servers, d["token"], d["unit_code"], stop, acked, failures, i))
                   for i, d in enumerate(devices)]
        threads.append(threading.Thread(target=_cli_loop, args=(db, stop, lambda: ["refresh-results"], failures, runs, "refresh")))
        threads.append(threading.Thread(target=_cli_loop, args=(db, stop, next_usb_args, failures, runs, "import")))
        pulled: list[tuple[int, str]] = []
        cursor: list[int] = []
        threads.append(threading.Thread(target=lambda: cursor.append(_pull_all(servers, api_token, 0, pulled, stop))))
        for t in threads:
            t.start()
        time.sleep(SECONDS)
        stop.set()
        for t in threads:
            t.join(180)
        assert not failures, failures[:5]
        assert runs["refresh"] >= 3 and runs["import"] >= 3, runs
        # The feed, read on to the end: every stored answer exactly once, in server_seq order.
        _pull_all(servers, api_token, cursor[0], pulled)
        with server_db(servers[0]) as conn:
            stored = {r[0]: r[1] for r in conn.execute("SELECT id, server_seq FROM responses")}
        ids = [rid for _, rid in pulled]
        assert len(ids) == len(set(ids)), "an answer came twice in the pull feed"
        assert set(ids) == set(stored), f"the feed skipped {len(set(stored) - set(ids))} answers"
        assert [s for s, _ in pulled] == sorted(s for s, _ in pulled)
        assert acked | set(usb_ids) == set(stored)
        assert len(stored) > 2000, len(stored)

        # Rollups equal a GROUP BY over the answers (every answer counted exactly once).
        server_cli(db, "refresh-results")
        with server_db(servers[0]) as conn:
            expected: Counter = Counter()
            for unit, created_ms, received_at, suspect, placed in conn.execute(
                    "SELECT unit_code, created_ms, received_at, clock_suspect, placed_ms FROM responses"):
                expected[(unit, day_at(place(created_ms, received_at, suspect, placed), OFFSET_MS))] += 1
            got = Counter({(r[0], r[1]): r[2] for r in conn.execute(
                "SELECT unit_code, day, SUM(n) FROM rollup_day WHERE question = '' GROUP BY unit_code, day")})
            months = conn.execute("SELECT SUM(n) FROM rollup_month WHERE question = ''").fetchone()[0]
        assert got == expected
        assert months == len(stored)
    finally:
        for s in servers:
            s.stop()
