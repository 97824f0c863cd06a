"""Results at scale: 5,000,000 answers over three years at the 220 points, on SQLite.

Run: ``python -m bench.results [--answers 5000000] [--db FILE] [--keep]``. The answers are written
straight into a migrated server database (bulk insert, not HTTP: the ingest benchmark measures
that path). Then, in this one run:

- ``rollup_build``: folding every answer into the rollups from nothing (what a server upgraded
  onto an old database does once; afterwards each report folds only what is new);
- the province overview for one campaign month, a commune page and the full XLSX report, each
  through the real app (TestClient, signed in; median of warm runs), and beside each the naive
  ``GROUP BY`` over the raw answers (``json_each``) that the rollups replace.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402
from hailong_core.procedure_groups import codes as procedure_group_codes  # noqa: E402

TZ_MS = 7 * 3_600_000
START = date(2023, 7, 1)
DAYS = 3 * 365
CAMPAIGNS = (("Khảo sát CQTT 2024", "2024-06-01", "2024-06-30"), ("Khảo sát CQTT 2025", "2025-06-01", "2025-06-30"),
             ("Khảo sát CQTT 2026", "2026-06-01", "2026-06-30"))
REASONS = ["waited_long", "unclear_guidance", "extra_papers", "impolite", "harassment", "result_late", "other"]
DETAIL = ("responsibility", "skills", "guidance", "procedure", "environment")
PASSWORD = "bench password 123"


def _uuid(ms: int, i: int) -> str:
    return f"{ms >> 16:08x}-{ms & 0xffff:04x}-7{(i >> 48) & 0xfff:03x}-{8 | ((i >> 44) & 3):x}{(i >> 32) & 0xfff:03x}-{i & 0xffffffffffff:012x}"


def site_finder(db: Path, codes: list[str]):
    """``site_of(code, iso day)``: the site ingest records for an answer with no kiosk site (the first
    site of the unit version in force that day, ``storage.first_site``), looked up once per version."""
    import bisect

    from sync_server.storage import open_storage

    storage = open_storage(db)
    try:
        bounds: dict[str, tuple[list[str], list[int | None]]] = {}
        for code in codes:
            days = [v["valid_from"] for v in storage.unit_versions(code)] or ["0000-01-01"]
            sites = [(storage.first_site(code, day) or {}).get("id") for day in days]
            bounds[code] = (days, sites)
    finally:
        storage.close()

    def site_of(code: str, day: str) -> int | None:
        days, sites = bounds[code]
        return sites[max(0, bisect.bisect_right(days, day) - 1)]
    return site_of


def generate(db: Path, answers: int, seed: int = 5, *, start: date = START, days: int = DAYS,
             campaigns=CAMPAIGNS, officers: bool = True, salt: int = 0, points: list[str] | None = None) -> float:
    """Write ``answers`` responses into ``db`` (already migrated and seeded) over ``days`` from ``start``,
    with officers and campaigns; return the seconds taken. Each answer is recorded at its unit's site
    of the day (:func:`site_finder`), as ingest would, so it belongs to a point. ``points``: the unit
    codes to draw from (default: every unit but the province)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    if points is None:
        points = [r[0] for r in conn.execute("SELECT code FROM units WHERE level != 'province' ORDER BY code")]
    site_of = site_finder(db, points)
    stamp = datetime.now(timezone.utc).isoformat()
    conn.execute("BEGIN")
    # Each officer receives one field (lĩnh vực); kiosk answers carry their officer's, 40 % of QR ones name one.
    fields = [code for code in procedure_group_codes() if code != "khac"]
    group_of = {(p, k): fields[(n * 3 + k) % len(fields)] for n, p in enumerate(points) for k in range(3)}
    conn.executemany("INSERT INTO officers (id, unit_code, name, title, active, created_at, updated_at, procedure_group) "
                     "VALUES (?, ?, ?, NULL, 1, ?, ?, ?)",
                     [(f"cb-{p}-{k}", p, f"Cán bộ {k + 1} ({p})", stamp, stamp, group_of[p, k]) for p in points for k in range(3)]
                     if officers else [])
    qn = conn.execute("SELECT id, version FROM questionnaires").fetchone()
    for name, c_start, c_end in campaigns:
        cid = conn.execute("INSERT INTO campaigns (name, starts_on, ends_on, questionnaire_id, questionnaire_version, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", (name, c_start, c_end, qn[0], qn[1], stamp)).fetchone()[0]
        conn.execute("INSERT INTO campaign_units (campaign_id, unit_code) VALUES (?, '24')", (cid,))
    conn.execute("COMMIT")
    weights = [rng.uniform(0.3, 3.0) * (4 if p == "24-HCC" or len(p) == 3 else 1) for p in points]
    quality = {p: rng.uniform(0.55, 0.97) for p in points}
    epoch = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp() * 1000) - TZ_MS
    span_ms = days * 86_400_000
    # Times in order (so server_seq follows time, as live ingest would), units drawn by weight.
    stamps = sorted(rng.randrange(span_ms) for _ in range(answers))
    units = rng.choices(points, weights, k=answers)
    sql = ("INSERT INTO responses (id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
           "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect, procedure_group, site_id) "
           "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    day_names: dict[int, str] = {}
    seqs: dict[str, int] = {}
    batch = []
    rand = rng.random
    dumps = json.dumps
    for i in range(answers):
        off = stamps[i]
        # Office hours: fold the random instant onto 07:30–17:00 local of its day, weekdays mostly.
        day, rest = divmod(off, 86_400_000)
        local_ms = 27_000_000 + rest * 34_200_000 // 86_400_000
        ms = epoch + day * 86_400_000 + local_ms
        unit = units[i]
        q = quality[unit]
        r = rand()
        level = 5 if r < q * 0.55 else 4 if r < q else 3 if r < q + (1 - q) * 0.45 else 2 if r < q + (1 - q) * 0.75 else 1
        answers_ = {"overall": level}
        if level <= 2:
            answers_["why"] = rng.sample(REASONS, 1 + (rand() < 0.3))
        if rand() < 0.25:
            for d in DETAIL:
                answers_[d] = max(1, min(5, level + (rand() < 0.3) - (rand() < 0.2)))
        f = rand()
        flags = '["cooldown"]' if f < 0.01 else '["incomplete"]' if f < 0.015 else '["after_hours"]' if f < 0.018 else "[]"
        suspect = 1 if rand() < 0.002 else 0
        seq = seqs[unit] = seqs.get(unit, 0) + 1
        created = datetime.fromtimestamp((ms + (400 * 86_400_000 if suspect else 0)) / 1000, timezone.utc).isoformat()
        received = created if not suspect else datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()
        rid = _uuid(ms, i + salt)
        channel = "qr" if rand() < 0.1 else "kiosk"
        group = group_of[unit, i % 3] if channel == "kiosk" or rand() < 0.4 else None
        batch.append((rid, rid[:32], received, unit, f"cb-{unit}-{i % 3}", qn[0], qn[1], channel,
                      seq, created, ms + (400 * 86_400_000 if suspect else 0), dumps(answers_, separators=(",", ":")), flags, suspect,
                      group, site_of(unit, day_names.get(day) or day_names.setdefault(day, (start + timedelta(days=day)).isoformat()))))
        if len(batch) == 100_000:
            conn.execute("BEGIN")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
            batch.clear()
    if batch:
        conn.execute("BEGIN")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0


def timed(fn, runs: int = 5) -> float:
    """Median wall time in ms of ``runs`` warm calls (one warm-up first)."""
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def naive(conn: sqlite3.Connection, start: str, end: str, unit: str | None = None, by_officer: bool = False) -> int:
    """The GROUP BY over raw answers the rollups replace: every answer's JSON opened for the window
    (by unit and procedure group, and officer for the detail pages)."""
    lo = int(datetime.fromisoformat(start + "T00:00:00+07:00").timestamp() * 1000)
    hi = int((datetime.fromisoformat(end + "T00:00:00+07:00") + timedelta(days=1)).timestamp() * 1000)
    cols = "r.unit_code, r.procedure_group" + (", r.officer_id" if by_officer else "")
    where = " AND r.unit_code = ?" if unit else ""
    sql = (f"SELECT {cols}, r.channel, r.flags, j.key, j.value, COUNT(*) FROM responses r, json_each(r.answers) j "
           f"WHERE r.created_ms >= ? AND r.created_ms < ?{where} GROUP BY {cols}, r.channel, r.flags, j.key, j.value")
    return len(conn.execute(sql, (lo, hi) + ((unit,) if unit else ())).fetchall())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=5_000_000)
    ap.add_argument("--db", type=Path, help="write here (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from sync_server import accounts
    from sync_server import settings as server_settings
    from sync_server.app import create_app
    from sync_server.results import rollups
    from sync_server.storage import open_storage
    from tests.server_web import CSRF_RE

    tmp = Path(tempfile.mkdtemp(prefix="hl-results-"))
    db = args.db or tmp / "results.sqlite3"
    # The 220 points of the 2023 tree over the three years (a fresh database would also hold today's
    # Bắc Ninh, whose units would then draw answers before they existed).
    os.environ.setdefault("HAILONG_SERVER_SEED_UNITS", "2023")
    storage = open_storage(db)
    storage.add_user("bench", accounts.hash_secret(PASSWORD), "province_admin", None, datetime.now(timezone.utc))
    figure("answers", args.answers, "responses")
    figure("generate_time", generate(db, args.answers), "s")
    t0 = time.perf_counter()
    rollups.refresh(storage, TZ_MS)
    figure("rollup_build_time", time.perf_counter() - t0, "s")
    figure("rollup_day_rows", storage._conn().execute("SELECT COUNT(*) FROM rollup_day").fetchone()[0], "rows")
    app = create_app(server_settings.load(db=str(db)), storage)
    client = TestClient(app)
    token = CSRF_RE.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token, "next": "/"},
                       follow_redirects=False).status_code == 303
    campaign = max(storage.campaigns(), key=lambda c: c["starts_on"])
    q = f"campaign={campaign['id']}"

    def get(path):
        resp = client.get(path)
        assert resp.status_code == 200, resp.text[:300]
        return resp
    raw = sqlite3.connect(str(db))
    figure("overview_campaign_month", timed(lambda: get(f"/results?{q}")), "ms")
    figure("overview_naive_groupby", timed(lambda: naive(raw, campaign["starts_on"], campaign["ends_on"]), 3), "ms")
    figure("commune_page", timed(lambda: get(f"/results/units/7201?{q}")), "ms")
    figure("commune_naive_groupby", timed(lambda: naive(raw, campaign["starts_on"], campaign["ends_on"], "7201", True), 3), "ms")
    xlsx = get(f"/results/export.xlsx?{q}").content
    figure("xlsx_full_report", timed(lambda: get(f"/results/export.xlsx?{q}"), 3) / 1000, "s")
    figure("xlsx_bytes", len(xlsx), "bytes")
    # The naive full report: the campaign and its two predecessors, by unit and officer, over raw answers.
    figure("xlsx_naive_groupby", timed(lambda: [naive(raw, c["starts_on"], c["ends_on"], None, True) for c in storage.campaigns()], 1) / 1000, "s")
    # What a page pays when answers arrived since the last one: fold 1,000 new rows, then render.
    raw.close()
    storage.close()
    if not (args.keep or args.db):
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    elif args.keep:
        print(f"kept {db}")


if __name__ == "__main__":
    main()
