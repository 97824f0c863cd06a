"""Many writers, one truth (issue 11): ingest with 1, 2 and 4 server processes on PostgreSQL beside
raw COPY, the first results page after 1,000,000 new answers, and 2,000 kiosks draining 14 days of
backlog at once.

Run: ``python -m bench.many_writers [--pg-url URL] [--ingest-answers 150000]
[--page-answers 1000000] [--drain-kiosks 2000 --drain-days 14 --drain-per-day 15] [--no-drain-sqlite]``
(``--help`` lists every knob; a size of 0 skips that part); about 4 minutes on 2 cores. Without
``--pg-url`` a scratch cluster is started with scripts/pg-scratch.sh on port 54345 and stopped at
the end; with it, fresh databases are created beside the named one (the role needs CREATEDB).
Every part starts on a fresh database. The servers are real ``hailong-server serve`` processes
(tests/support.py ``LiveServer``), each on its own port. The load generator is http.client with
every gzip body built before the clock starts.

1. **Ingest on PostgreSQL, 1, 2 and 4 server processes** (goal: no item lost or refused; the figures
   are what they are). The same 150,000 kiosk answers (``bench.common.make_records``), batches of
   500, gzip, 8 client threads, each on one keep-alive connection, each its own enrolled device,
   thread ``t`` talking to process ``t % N``, batches taken from one shared queue.
   ``HAILONG_SERVER_MAINTAIN_EVERY_S=0``: the servers' own duty schedule does not run during this
   part. Writes are serialised across processes by the writers' advisory lock (one writer at a
   time, as SQLite's file lock does), so more processes only spread the HTTP, gzip, JSON and
   validation work. Baseline ``raw_copy_rate``: psycopg ``cursor.copy`` of the same rows straight
   into a fresh ``responses`` table of the server's schema (``open_storage`` migrates it), COPY +
   COMMIT per batch of the same size, in this process. ``ingest_errors`` counts any non-200 answer,
   any item not ``accepted`` and any difference between answers sent and stored, over the three
   runs. Beside each rate: the servers' CPU (cores), the machine's (%), and how often the writers'
   lock was held and how many writers waited for it (``pg_locks``, every 0.1 s): held near 1 with
   waiters means the one write transaction at a time is the limit, not the processes.
2. **The first results page after 1,000,000 new answers** (goal ≤ 1 s), on SQLite. A database with
   200,000 older answers and the rollups current, the app running (TestClient, signed in as the
   province admin, one page already shown), then 1,000,000 answers of the last 7 days written
   straight into the file (``bench.results.generate``, as a bulk upload from other processes would
   land). ``first_page_after_1m_s``: the next GET /results, which folds at most
   ``results_page_fold_rows`` (10,000 by default) and says how many wait (``first_page_waiting``). Baseline
   ``full_fold_1m_s``: ``python -m sync_server.cli --db COPY maintain --only rollups`` on a copy taken
   before that page, i.e. what the page used to wait for (``fold_rate`` follows from it: divide
   ``results_page_fold_rows`` by it for the fold share of a page). Then ``maintain`` on the served
   file (``maintain_rest_s``) and ``second_page_s``, the next page view.
3. **Drain after 2,000 kiosks return from 14 days offline** (goal: 0 errors, bounded server
   memory), on PostgreSQL with 2 server processes, then on SQLite with 1 (the same bodies). 2,000
   devices enrolled through the storage API (a code made, then redeemed, as POST /api/v1/enroll
   does), each with 14 days × 15 answers (210: two uploads, as a backlog longer than one batch),
   all uploading at once in batches of 200, gzip, at most 50 connections in flight (a storm
   through nginx), one new connection per kiosk, kiosks alternating between the processes. The
   servers' own duty schedule runs as deployed (every 60 s). Figures: drain time and rate,
   ``drain_errors`` (non-200 answers, dropped connections, items not accepted), peak RSS per
   server process (psutil, every 0.2 s) beside ``idle_server_rss_mb`` taken before the storm, the
   same CPU and lock figures as part 1; the answers stored are counted in the database afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import TZ, count_figure, figure, make_records  # noqa: E402
from hailong_core.timeutil import format_rfc3339  # noqa: E402
from tests.support import LiveServer, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UPLOAD = "/api/v1/kiosk/responses"
NO_DUTIES = {"HAILONG_SERVER_MAINTAIN_EVERY_S": "0"}
PASSWORD = "bench password 123"


# --- PostgreSQL: a scratch cluster, a fresh database per part ------------------------------------

@contextmanager
def pg_cluster(url: str | None, port: int):
    """Yield the URL of a database on a cluster: ``url``, or a scratch cluster started here."""
    if url is not None:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="hailong-pg."))
    folder.chmod(0o755)  # the cluster runs as 'postgres' when we are root
    script = str(ROOT / "scripts/pg-scratch.sh")
    started = subprocess.run(["bash", script, "start", str(folder / "data"), str(port)],
                             capture_output=True, text=True, check=True)
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", script, "stop", str(folder / "data")], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_pg(base_url: str, name: str) -> str:
    """``name`` dropped and created empty on ``base_url``'s cluster, migrated and seeded; its URL."""
    import psycopg

    from sync_server.storage import open_storage

    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    url = base_url.rpartition("/")[0] + "/" + name
    open_storage(url).close()
    return url


def drop_pg(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def stored_answers(db) -> int:
    from sync_server.storage import open_storage

    storage = open_storage(db)
    try:
        return storage._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    finally:
        storage.close()


# --- devices, bodies, the load generator -------------------------------------------------------------

def enrol(db, units: list[str]) -> list[str]:
    """One device token per unit in ``units``: a code made and redeemed through the storage, as
    ``hailong-server enroll-code`` and POST /api/v1/enroll do (thousands of HTTP enrolments would
    only lengthen the set-up)."""
    from sync_server import security
    from sync_server.storage import open_storage

    storage = open_storage(db)
    now = datetime.now(timezone.utc)
    try:
        tokens = []
        for unit in units:
            code_hash = security.digest(security.normalise_code(security.new_enroll_code()))
            storage.create_enroll_code(unit, code_hash, now + timedelta(hours=1))
            token = security.new_token()
            storage.redeem_enroll_code(code_hash, now, str(uuid.uuid4()), security.digest(token), None)
            tokens.append(token)
        return tokens
    finally:
        storage.close()


def gzip_bodies(records: list[dict], batch: int, device_time: str) -> list[bytes]:
    """Upload bodies as the kiosk sends them: ``batch`` records each, gzip level 6."""
    return [gzip.compress(orjson.dumps({"responses": records[i:i + batch], "device_time": device_time}), 6)
            for i in range(0, len(records), batch)]


def headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Encoding": "gzip"}


class Tally:
    """Errors seen by the client threads: non-200 answers (by status) and items not accepted."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: dict[int, int] = {}
        self.items = 0
        self.accepted = 0

    def note(self, status: int, payload: bytes) -> None:
        with self.lock:
            if status != 200:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                return
        results = orjson.loads(payload)["results"]
        good = sum(1 for r in results if r["status"] == "accepted")
        with self.lock:
            self.accepted += good
            self.items += len(results) - good

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) + self.items


def post(conn: http.client.HTTPConnection, body: bytes, head: dict, tally: Tally) -> None:
    conn.request("POST", UPLOAD, body=body, headers=head)
    resp = conn.getresponse()
    tally.note(resp.status, resp.read())


def start_servers(db, count: int, env: dict | None = None) -> list[LiveServer]:
    servers = []
    try:
        for _ in range(count):
            server = LiveServer(db, free_port(), env=env)
            server.start()
            servers.append(server)
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: list[LiveServer]) -> int:
    """Stop them; return how many tracebacks their logs hold (a surprise worth printing)."""
    tracebacks = 0
    for server in servers:
        server.stop()
        if server.log.exists():
            tracebacks += server.log.read_text(errors="replace").count("Traceback")
    return tracebacks


class RssSampler:
    """Peak RSS of each server process, sampled every ``every_s`` in a thread."""

    def __init__(self, servers: list[LiveServer], every_s: float = 0.2):
        self.procs = [psutil.Process(s.proc.pid) for s in servers]
        self.peaks = [p.memory_info().rss for p in self.procs]
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            for i, p in enumerate(self.procs):
                try:
                    self.peaks[i] = max(self.peaks[i], p.memory_info().rss)
                except psutil.Error:
                    pass

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Watch:
    """What a run cost: the servers' CPU (cores), the machine's CPU (%), and on PostgreSQL how often
    the writers' advisory lock was held and how many writers waited for it (sampled every 0.1 s)."""

    def __init__(self, servers: list[LiveServer], pg_url: str | None = None, every_s: float = 0.1):
        self.procs = [psutil.Process(s.proc.pid) for s in servers]
        self.pg_url = pg_url
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.samples = self.held = self.waiting = 0

    def _cpu(self) -> float:
        return sum(t.user + t.system for t in (p.cpu_times() for p in self.procs))

    def _loop(self) -> None:
        import psycopg

        from sync_server.storage.postgres import WRITERS_LOCK_KEY

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            while not self._stop.wait(self._every):
                held, waiting = conn.execute(
                    "SELECT COUNT(*) FILTER (WHERE granted), COUNT(*) FILTER (WHERE NOT granted) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = %s", (WRITERS_LOCK_KEY & 0xFFFFFFFF,)).fetchone()
                self.samples += 1
                self.held += held > 0
                self.waiting += waiting

    def __enter__(self) -> "Watch":
        psutil.cpu_percent(None)
        self._cpu0, self._t0 = self._cpu(), time.perf_counter()
        if self.pg_url:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.machine_cpu = psutil.cpu_percent(None)
        self.server_cores = (self._cpu() - self._cpu0) / (time.perf_counter() - self._t0)
        if self.pg_url:
            self._stop.set()
            self._thread.join()

    def report(self, prefix: str) -> None:
        figure(f"{prefix}_server_cpu", self.server_cores, "cores")
        figure(f"{prefix}_machine_cpu", self.machine_cpu, "%")
        if self.pg_url and self.samples:
            figure(f"{prefix}_writer_lock_held", self.held / self.samples, "fraction")
            figure(f"{prefix}_writer_lock_waiters", self.waiting / self.samples, "avg")


def run_timed(threads: list[threading.Thread], ready: threading.Barrier) -> float:
    """Start the client threads, start the clock once they are ready, and return the seconds until all end."""
    for thread in threads:
        thread.start()
    ready.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0


def mb(value: float) -> float:
    return value / 1e6


# --- 1. ingest with 1, 2, 4 processes beside raw COPY -------------------------------------------------

def ingest_run(db: str, procs: int, bodies: list[bytes], clients: int) -> tuple[float, Tally, int, Watch]:
    """Upload ``bodies`` through ``procs`` server processes with ``clients`` threads; seconds, tally,
    tracebacks in the servers' logs, and what the run cost."""
    tokens = enrol(db, ["7201"] * clients)
    servers = start_servers(db, procs, NO_DUTIES)
    tally = Tally()
    try:
        queue = iter(range(len(bodies)))
        queue_lock = threading.Lock()
        ready = threading.Barrier(clients + 1)

        def client(t: int) -> None:
            server = servers[t % procs]
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
            head = headers(tokens[t])
            ready.wait()
            while True:
                with queue_lock:
                    index = next(queue, None)
                if index is None:
                    break
                post(conn, bodies[index], head, tally)
            conn.close()

        with Watch(servers, db) as watch:
            elapsed = run_timed([threading.Thread(target=client, args=(t,)) for t in range(clients)], ready)
    finally:
        tracebacks = stop_servers(servers)
    return elapsed, tally, tracebacks, watch


def raw_copy_rate(db: str, records: list[dict], batch: int) -> float:
    """COPY the same rows, as the server would store them, into ``responses``; COMMIT per batch."""
    import psycopg

    from hailong_core.response import canonical_json, hash_canonical
    from sync_server.storage.types import RESPONSE_COLUMNS

    received = format_rfc3339(datetime.now(timezone.utc))
    rows = []
    for r in records:
        created_ms = int(datetime.fromisoformat(r["created_at"]).timestamp() * 1000)
        rows.append((r["id"], hash_canonical(canonical_json(r)), None, received, r["unit_code"], r["officer_id"],
                     r["questionnaire"]["id"], r["questionnaire"]["version"], r["channel"], r["seq"], r["created_at"],
                     created_ms, canonical_json(r["answers"]).decode(), canonical_json(r["flags"]).decode(), 0, None,
                     created_ms, None, None))
    with psycopg.connect(db) as conn:
        t0 = time.perf_counter()
        for start in range(0, len(rows), batch):
            with conn.cursor().copy(f"COPY responses ({RESPONSE_COLUMNS}) FROM STDIN") as copy:
                for row in rows[start:start + batch]:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - t0
        stored = conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert stored == len(rows), f"COPY stored {stored} of {len(rows)}"
    return len(rows) / elapsed


def ingest_part(base_url: str, args) -> None:
    n = args.ingest_answers
    now = datetime.now(TZ)
    # The answers end about now (a kiosk whose clock is right), ~210 s apart on average.
    records = make_records(n, start=now - timedelta(seconds=210 * n))
    bodies = gzip_bodies(records, args.ingest_batch, format_rfc3339(now))
    errors = tracebacks = 0
    for procs in args.ingest_procs:
        name = f"bench_ingest_{procs}proc"
        db = fresh_pg(base_url, name)
        elapsed, tally, logged, watch = ingest_run(db, procs, bodies, args.ingest_clients)
        stored = stored_answers(db)
        drop_pg(base_url, name)
        errors += tally.errors + abs(n - stored)  # an answer lost or stored twice is an error too
        tracebacks += logged
        figure(f"ingest_pg_{procs}proc_rate", n / elapsed, "answers/s")
        watch.report(f"ingest_pg_{procs}proc")
        if tally.statuses:
            print(f"# ingest {procs} proc: non-200 answers by status {tally.statuses}", flush=True)
    db = fresh_pg(base_url, "bench_copy")
    figure("raw_copy_rate", raw_copy_rate(db, records, args.ingest_batch), "rows/s")
    drop_pg(base_url, "bench_copy")
    count_figure("ingest_answers_per_run", n, "answers")
    count_figure("ingest_errors", errors, "count")
    count_figure("ingest_server_tracebacks", tracebacks, "count")


# --- 2. the first results page after 1,000,000 new answers ---------------------------------------------

def page_part(tmp: Path, args) -> None:
    from fastapi.testclient import TestClient

    from bench.results import generate
    from sync_server import accounts
    from sync_server import settings as server_settings
    from sync_server.app import create_app
    from sync_server.days import offset_ms
    from sync_server.results import rollups
    from sync_server.storage import open_storage
    from tests.server_web import CSRF_RE

    db = tmp / "pages.sqlite3"
    storage = open_storage(db)
    storage.add_user("bench", accounts.hash_secret(PASSWORD), "province_admin", None, datetime.now(timezone.utc))
    settings = server_settings.load(db=str(db), maintain_every_s=0)
    offset = offset_ms(settings)
    today = datetime.now(TZ).date()
    # Older answers over the year before the last week; the rollups count them all.
    generate(db, args.page_base, start=today - timedelta(days=372), days=365, campaigns=())
    rollups.refresh(storage, offset)
    client = TestClient(create_app(settings, storage))
    token = CSRF_RE.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token, "next": "/"},
                       follow_redirects=False).status_code == 303

    def page() -> float:
        t0 = time.perf_counter()
        resp = client.get("/results")
        elapsed = time.perf_counter() - t0
        assert resp.status_code == 200, resp.text[:300]
        return elapsed

    page()  # the server has shown a page since its start: templates and caches are warm
    assert rollups.behind(storage, offset) == 0
    gen_s = generate(db, args.page_answers, seed=11, start=today - timedelta(days=7), days=7, campaigns=(),
                     officers=False, salt=args.page_base)
    copy = tmp / "pages-copy.sqlite3"
    with sqlite3.connect(str(db)) as src, sqlite3.connect(str(copy)) as dst:
        src.backup(dst)
    first = page()
    waiting = rollups.behind(storage, offset)

    def maintain(target: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(target), "maintain", "--only", "rollups"],
                       cwd=ROOT, capture_output=True, text=True, check=True, timeout=1800)
        return time.perf_counter() - t0

    full = maintain(copy)
    copy.unlink()
    rest = maintain(db)
    second = page()
    assert rollups.behind(storage, offset) == 0
    storage.close()
    count_figure("page_old_answers", args.page_base, "answers")
    count_figure("page_new_answers", args.page_answers, "answers")
    figure("page_generate_time", gen_s, "s")
    figure("first_page_after_1m_s", first, "s")
    count_figure("first_page_waiting", waiting, "answers")
    figure("full_fold_1m_s", full, "s")
    figure("fold_rate", args.page_answers / full, "answers/s")
    count_figure("results_page_fold_rows", settings.results_page_fold_rows, "answers")
    figure("maintain_rest_s", rest, "s")
    figure("second_page_s", second, "s")


# --- 3. 2,000 kiosks drain 14 days of backlog ---------------------------------------------------------

def backlog(unit: str, days: int, per_day: int, seed: int, end: datetime) -> list[dict]:
    """``per_day`` answers on each of the ``days`` days before ``end``, from 07:30 local, seq 1…n."""
    out = []
    for d in range(days):
        day = end.date() - timedelta(days=days - d)
        morning = datetime(day.year, day.month, day.day, 7, 30, tzinfo=TZ)
        out += make_records(per_day, unit=unit, seed=seed * 1000 + d, start=morning)
    for seq, record in enumerate(out, 1):
        record["seq"] = seq
    return out


def drain_run(label: str, db, procs: int, plans: list[tuple[str, list[bytes]]], concurrency: int) -> None:
    servers = start_servers(db, procs)
    tally = Tally()
    try:
        time.sleep(1.0)  # settle after start-up before the idle figure
        idle = [psutil.Process(s.proc.pid).memory_info().rss for s in servers]
        queue = iter(enumerate(plans))
        queue_lock = threading.Lock()
        ready = threading.Barrier(concurrency + 1)

        def connection_slot() -> None:
            ready.wait()
            while True:
                with queue_lock:
                    item = next(queue, None)
                if item is None:
                    return
                k, (token, bodies) = item
                conn = http.client.HTTPConnection("127.0.0.1", servers[k % procs].port, timeout=600)
                head = headers(token)
                for body in bodies:
                    try:
                        post(conn, body, head, tally)
                    except (OSError, http.client.HTTPException):
                        tally.note(0, b"")  # a dropped connection counts as an error; the kiosk would retry later
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", servers[k % procs].port, timeout=600)
                conn.close()

        with RssSampler(servers) as sampler, Watch(servers, db if label == "pg" else None) as watch:
            elapsed = run_timed([threading.Thread(target=connection_slot) for _ in range(concurrency)], ready)
    finally:
        tracebacks = stop_servers(servers)
    requests = sum(len(plan[1]) for plan in plans)
    answers = tally.accepted + tally.items
    stored = stored_answers(db)
    prefix = "drain" if label == "pg" else f"drain_{label}"
    count_figure(f"{prefix}_kiosks", len(plans), "count")
    count_figure(f"{prefix}_server_processes", procs, "count")
    count_figure(f"{prefix}_requests", requests, "count")
    count_figure(f"{prefix}_answers", stored, "answers")
    figure(f"{prefix}_time_s", elapsed, "s")
    figure(f"{prefix}_rate", stored / elapsed, "answers/s")
    count_figure(f"{prefix}_errors", tally.errors, "count")
    if tally.statuses:
        print(f"# {prefix}: non-200 answers by status {tally.statuses} (0 = connection dropped)", flush=True)
    if stored != answers or tally.accepted != stored:
        print(f"# {prefix}: {tally.accepted} accepted, {answers} answered, {stored} stored", flush=True)
    for i, (before, peak) in enumerate(zip(idle, sampler.peaks), 1):
        figure(f"{prefix}_idle_server_rss_mb_p{i}", mb(before), "MB")
        figure(f"{prefix}_server_rss_peak_mb_p{i}", mb(peak), "MB")
    watch.report(prefix)
    count_figure(f"{prefix}_server_tracebacks", tracebacks, "count")


def drain_part(base_url: str, tmp: Path, args) -> None:
    from sync_server.storage import open_storage

    probe = open_storage(tmp / "units.sqlite3")
    communes = [u["code"] for u in probe.units() if u["level"] == "commune"]
    probe.close()
    units = list(itertools.islice(itertools.cycle(communes), args.drain_kiosks))
    now = datetime.now(TZ)
    records = [backlog(unit, args.drain_days, args.drain_per_day, k, now) for k, unit in enumerate(units)]
    bodies = [gzip_bodies(r, args.drain_batch, format_rfc3339(now)) for r in records]
    del records
    db = fresh_pg(base_url, "bench_drain")
    drain_run("pg", db, args.drain_procs, list(zip(enrol(db, units), bodies)), args.drain_concurrency)
    drop_pg(base_url, "bench_drain")
    if args.drain_sqlite:
        db = tmp / "drain.sqlite3"
        open_storage(db).close()
        drain_run("sqlite", db, 1, list(zip(enrol(db, units), bodies)), args.drain_concurrency)


def procs_list(text: str) -> list[int]:
    return [int(p) for p in re.split(r"[ ,]+", text.strip()) if p]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", help="an existing PostgreSQL database; fresh databases are made beside it "
                                     "(default: a scratch cluster)")
    ap.add_argument("--pg-port", type=int, default=54345, help="port of the scratch cluster")
    ap.add_argument("--ingest-answers", type=int, default=150_000, help="answers per ingest run (0: skip the part)")
    ap.add_argument("--ingest-batch", type=int, default=500)
    ap.add_argument("--ingest-clients", type=int, default=8, help="client threads, one connection and one device each")
    ap.add_argument("--ingest-procs", type=procs_list, default=[1, 2, 4], help="server process counts, e.g. 1,2,4")
    ap.add_argument("--page-answers", type=int, default=1_000_000, help="new answers before the page (0: skip the part)")
    ap.add_argument("--page-base", type=int, default=200_000, help="older answers, already counted")
    ap.add_argument("--drain-kiosks", type=int, default=2000, help="kiosks coming back (0: skip the part)")
    ap.add_argument("--drain-days", type=int, default=14)
    ap.add_argument("--drain-per-day", type=int, default=15)
    ap.add_argument("--drain-batch", type=int, default=200, help="the kiosk's batch size")
    ap.add_argument("--drain-concurrency", type=int, default=50, help="connections in flight")
    ap.add_argument("--drain-procs", type=int, default=2, help="server processes on PostgreSQL")
    ap.add_argument("--no-drain-sqlite", dest="drain_sqlite", action="store_false", help="drain into PostgreSQL only")
    args = ap.parse_args()
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="hl-many-writers-"))
    try:
        need_pg = args.ingest_answers > 0 or args.drain_kiosks > 0
        with (pg_cluster(args.pg_url, args.pg_port) if need_pg else _nothing()) as base_url:
            if args.ingest_answers > 0:
                ingest_part(base_url, args)
            if args.page_answers > 0:
                page_part(tmp, args)
            if args.drain_kiosks > 0:
                drain_part(base_url, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figure("bench_wall_time", time.perf_counter() - t0, "s")


@contextmanager
def _nothing():
    yield None


if __name__ == "__main__":
    main()
