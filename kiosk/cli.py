"""``hailong-kiosk``: enrol, run and inspect a kiosk."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import platformdirs

from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import EnrollError, SyncService, enroll


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("hailong-kiosk", appauthor=False))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hailong-kiosk", description="Hài Lòng satisfaction kiosk.")
    p.add_argument("--data-dir", type=Path, help="folder of the kiosk's database and settings (default: platformdirs data folder)")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("enroll", help="enrol this kiosk with a single-use code from the server")
    e.add_argument("--server", required=True, help="server URL, e.g. https://hailong.bacgiang.gov.vn")
    e.add_argument("--code", required=True)
    e.add_argument("--name", help="a label for this kiosk, e.g. 'Quầy 2'")
    r = sub.add_parser("run", help="open the kiosk window (full-screen)")
    r.add_argument("--windowed", action="store_true", help="a normal window instead of full-screen (for testing)")
    r.add_argument("--headless", action="store_true", help="no window: only sync (also chosen when there is no display)")
    s = sub.add_parser("status", help="pending answers, last sync, last error")
    s.add_argument("--json", action="store_true")
    sub.add_parser("sync", help="run one sync round now and report")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = args.data_dir or default_data_dir()
    settings = kiosk_settings.load(data_dir)
    store = Store(kiosk_settings.db_path(settings, data_dir))
    try:
        if args.command == "enroll":
            try:
                data = enroll(store, args.server, args.code, args.name,
                              timeout=(settings.connect_timeout_s, settings.read_timeout_s))
            except EnrollError as exc:
                print(f"hailong-kiosk: đăng ký thất bại / enrolment failed: {exc}", file=sys.stderr)
                return 2
            print(f"enrolled as device {data['device_id']} for unit {data['unit_code']}")
            return 0
        if args.command == "status":
            status = store.status()
            if args.json:
                print(json.dumps(status, ensure_ascii=False, indent=1))
            else:
                for key in ("enrolled", "unit_code", "server_url", "pending", "sent", "kept_aside", "last_sync_at", "last_error", "last_error_at"):
                    print(f"{key:<13} {status[key] if status[key] is not None else '-'}")
            return 0
        if args.command == "sync":
            report = SyncService(store, settings).run_round(force=True)
            print(json.dumps(report, ensure_ascii=False))
            return 0 if report["error"] is None else 1
        if args.command == "run":
            headless = args.headless or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                              or os.environ.get("QT_QPA_PLATFORM"))
            if headless:
                return _run_headless(store, settings)
            from kiosk.app import run

            return run(data_dir, settings, store, fullscreen=not args.windowed)
        return 2
    finally:
        store.close()


def _run_headless(store: Store, settings) -> int:
    """No display: keep syncing what is stored (and say so), until interrupted."""
    import time

    print("hailong-kiosk: không có màn hình / no display: running headless (sync only)", flush=True)
    service = SyncService(store, settings)
    try:
        while True:
            report = service.run_round()
            time.sleep(report["delay"])
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
