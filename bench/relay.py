"""The office's sync server (issue 17): forwarding rate beside direct ingest, WAN bytes per answer,
and the time to drain a relay cut off for 14 days with 50 kiosks behind it.

Run: ``python -m bench.relay [--kiosks 50] [--per-day 60] [--days 14] [--batch 500]``.

- Baseline (``direct_*``): the same answers uploaded by kiosks straight to a province server
  (real uvicorn, fresh SQLite file), batches of ``--batch``, gzip, through the TCP proxy that
  stands for the WAN (so both figures count the same bytes the same way).
- Relay: a relay database holding ``kiosks × per-day × days`` answers that its kiosks gave while
  the WAN was down (stored through the real ingest, as their uploads would be), then ``serve``
  started: its forwarder drains to another fresh province server through the proxy. The drain
  time is from the relay's start (process start included) until ``upstream-status`` says nothing
  is pending; the forwarding rate counts from the moment it answers ``/healthz``.
- ``drain_14_days_at_2mbps_s``: the same bytes over a 2 Mbit/s link (a consumer line), computed
  from the measured WAN bytes: the link, not the relay, is then what decides.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import count_figure, figure, make_records  # noqa: E402
from sync_server import security  # noqa: E402
from sync_server.indexes import QuestionnaireIndex  # noqa: E402
from sync_server.ingest import ingest  # noqa: E402
from sync_server.storage import open_storage  # noqa: E402
from tests.support import LiveServer, free_port, server_cli  # noqa: E402
from tests.tcp_proxy import TcpProxy  # noqa: E402

UNITS = ("7210", "7228")
ENV = {"HAILONG_SERVER_MAINTAIN_EVERY_S": "0", "HAILONG_SERVER_RELAY_IDLE_S": "0.05"}


def kiosk_answers(kiosks: int, per_kiosk: int) -> list[tuple[str, list[dict]]]:
    start = datetime.now(timezone(timedelta(hours=7))) - timedelta(days=15)
    return [(UNITS[k % len(UNITS)], make_records(per_kiosk, UNITS[k % len(UNITS)], seed=k, start=start)) for k in range(kiosks)]


def direct(work: Path, answers, batch: int) -> tuple[float, float]:
    """Kiosks → province over the proxy: (answers/s, WAN bytes per answer)."""
    province = LiveServer(work / "direct.sqlite3", free_port(), ENV)
    province.start()
    proxy = TcpProxy(province.port)
    try:
        bodies = []
        for unit, records in answers:
            code = server_cli(province.db, "enroll-code", "--unit", unit).stdout.strip().splitlines()[-1]
            token = requests.post(province.url + "/api/v1/enroll", json={"code": code}, timeout=10).json()["token"]
            for i in range(0, len(records), batch):
                bodies.append((token, gzip.compress(orjson.dumps({"responses": records[i:i + batch]}), 6)))
        session = requests.Session()
        n = sum(len(r) for _, r in answers)
        t0 = time.perf_counter()
        for token, body in bodies:
            resp = session.post(proxy.url + "/api/v1/kiosk/responses", data=body, timeout=60,
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                         "Content-Encoding": "gzip"})
            resp.raise_for_status()
        took = time.perf_counter() - t0
        return n / took, (proxy.bytes_up + proxy.bytes_down) / n
    finally:
        province.stop()
        proxy.close()


def fill_relay(db: Path, answers) -> int:
    """What the relay's kiosks stored while the WAN was down, through the real ingest."""
    storage = open_storage(db)
    index = QuestionnaireIndex(storage)
    n = 0
    try:
        for k, (unit, records) in enumerate(answers):
            code = security.new_enroll_code()
            digest = security.digest(security.normalise_code(code))
            storage.create_enroll_code(unit, digest, datetime.now(timezone.utc) + timedelta(hours=1))
            device = storage.redeem_enroll_code(digest, datetime.now(timezone.utc), f"bench-kiosk-{k}",
                                                security.digest(security.new_token()), f"Kiosk {k + 1}")
            for i in range(0, len(records), 100):
                ingest(storage, device, {"responses": records[i:i + 100]}, max_items=1000, skew_s=300.0, questionnaires=index)
                n += len(records[i:i + 100])
    finally:
        storage.close()
    return n


def via_relay(work: Path, answers, batch: int) -> tuple[float, float, float]:
    """(drain seconds, answers/s, WAN bytes per answer) of a relay holding ``answers``."""
    province = LiveServer(work / "province.sqlite3", free_port(), ENV)
    province.start()
    proxy = TcpProxy(province.port)
    relay = LiveServer(work / "relay.sqlite3", free_port(), {**ENV, "HAILONG_SERVER_RELAY_BATCH_ITEMS": str(batch)})
    try:
        code = server_cli(province.db, "enroll-code", "--unit", "24", "--relay").stdout.strip().splitlines()[-1]
        server_cli(relay.db, "enroll-upstream", "--upstream", proxy.url, "--code", code)
        n = fill_relay(relay.db, answers)
        t0 = time.perf_counter()
        relay.start()
        up = time.perf_counter()
        while True:
            status = json.loads(server_cli(relay.db, "upstream-status", "--json").stdout)
            if status["pending"] == 0:
                break
            time.sleep(0.2)
        took = time.perf_counter() - t0
        got = province.stats()
        assert sum(got.values()) == n, (got, n)
        return took, n / (time.perf_counter() - up), (proxy.bytes_up + proxy.bytes_down) / n
    finally:
        relay.stop()
        province.stop()
        proxy.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiosks", type=int, default=50)
    ap.add_argument("--per-day", type=int, default=60, help="answers a kiosk collects on a working day")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    per_kiosk = args.per_day * args.days
    answers = kiosk_answers(args.kiosks, per_kiosk)
    n = args.kiosks * per_kiosk
    count_figure("answers", n, "answers")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rate, wan = direct(work, answers, args.batch)
        figure("direct_ingest_rate", rate, "answers/s")
        figure("direct_wan_bytes_per_answer", wan, "B")
        drain, relay_rate, relay_wan = via_relay(work, answers, args.batch)
        figure("relay_forward_rate", relay_rate, "answers/s")
        figure("relay_wan_bytes_per_answer", relay_wan, "B")
        figure(f"drain_{args.days}_days_s", drain, "s")
        figure(f"drain_{args.days}_days_at_2mbps_s", max(drain, relay_wan * n * 8 / 2e6), "s")


if __name__ == "__main__":
    main()
