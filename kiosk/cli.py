"""``hailong-kiosk``: enrol, run and inspect a kiosk."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import platformdirs

from kiosk import settings as kiosk_settings, tls
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
    ex = sub.add_parser("export-pending", help="write every unsent answer to a file (USB stick) for 'hailong-server import-responses'")
    ex.add_argument("--out", type=Path, required=True)
    sub.add_parser("self-test", help="check database, disk, questionnaire, fonts and the window (the installer runs it)")
    sub.add_parser("set-admin-pin", help="set this kiosk's admin PIN (read from the terminal or stdin, never the command line)")
    sh = sub.add_parser("screenshots", help="write PNGs of every screen, in Vietnamese and English, at 1280x800, 1920x1080 and 800x1280")
    sh.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    sh.add_argument("--size", action="append", default=[], help="only this size, WxH (repeatable)")
    sh.add_argument("--lang", action="append", choices=("vi", "en"), default=[], help="only this language (repeatable)")
    from kiosk.display import add_parsers as add_display_parsers

    add_display_parsers(sub)  # session, touch-map (kiosk/display.py)
    from kiosk.updater import add_parser as add_update_parser

    add_update_parser(sub)  # update status|now|rollback (kiosk/updater.py)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "screenshots":
        return _screenshots(args)
    data_dir = args.data_dir or default_data_dir()
    from kiosk import updater

    if not (args.command == "update" and args.update_command in ("guard", "note-exit")) and argv is None:
        # The installed version hands over to the release remote update made current (same PID);
        # for the service's starts it first runs the guard that rolls a failed release back.
        updater.run_current_release(args.command, data_dir)
    if args.command == "update":
        return updater.command(args, data_dir)
    settings = kiosk_settings.load(data_dir)
    if args.command in ("session", "touch-map"):
        from kiosk.display import command

        return command(args, data_dir, settings)
    store = Store(kiosk_settings.db_path(settings, data_dir))
    try:
        if args.command == "enroll":
            try:
                data = enroll(store, args.server, args.code, args.name,
                              timeout=(settings.connect_timeout_s, settings.read_timeout_s), session=tls.session_for(settings))
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
        if args.command == "export-pending":
            from kiosk.usb_export import export_pending

            count = export_pending(store, args.out)
            print(f"{count} answers written to {args.out}; they stay queued here until the server confirms them")
            return 0
        if args.command == "self-test":
            from kiosk.selftest import run_self_test

            return 0 if run_self_test(store, settings) else 1
        if args.command == "set-admin-pin":
            return _set_admin_pin(store)
        if args.command == "run":
            headless = args.headless or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                              or os.environ.get("QT_QPA_PLATFORM"))
            if headless:
                return _run_headless(store, settings, data_dir)
            from kiosk.app import run
            from kiosk.display import start_in_session

            start_in_session(store, settings)  # rotation and the screen schedule, under cage only
            return run(data_dir, settings, store, fullscreen=not args.windowed)
        return 2
    finally:
        store.close()


def _read_pin(prompt: str) -> str:
    """A PIN from the terminal without echo, or one line of stdin when it is not a terminal."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    return sys.stdin.readline().strip()


def _set_admin_pin(store: Store) -> int:
    """Store the admin PIN's Argon2id hash in the kiosk's database (the config's, when set, wins)."""
    from kiosk.pins import PIN_MAX, PIN_MIN, hash_pin, valid_pin_format

    pin = _read_pin(f"Mã quản trị mới / new admin PIN ({PIN_MIN}-{PIN_MAX} digits): ")
    if not valid_pin_format(pin):
        print(f"hailong-kiosk: the PIN must be {PIN_MIN} to {PIN_MAX} digits (the kiosk's keypad has only digits)", file=sys.stderr)
        return 2
    if sys.stdin.isatty() and _read_pin("Nhập lại / again: ") != pin:
        print("hailong-kiosk: the two PINs differ; nothing changed", file=sys.stderr)
        return 2
    store.set_meta(local_admin_pin_hash=hash_pin(pin))
    if ((store.get_meta("config") or {}).get("settings") or {}).get("admin_pin_hash"):
        print("note: the server's config sets an admin PIN, which takes precedence over this one")
    print("admin PIN set")
    return 0


def _screenshots(args) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt loads: no display needed
    from kiosk.ui.screenshots import LANGS, SIZES, run

    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.size] or SIZES
    for path in run(args.out, sizes, tuple(args.lang) or LANGS):
        print(path)
    return 0


def _run_headless(store: Store, settings, data_dir: Path) -> int:
    """No display: keep syncing what is stored (and say so), until interrupted; exits with
    ``updater.EXIT_RESTART`` after switching to a new release (the service starts it again)."""
    import time

    from kiosk import updater

    from kiosk import diagnostics

    diagnostics.install_log_file(diagnostics.log_path(store))  # what the fleet page's log request reads
    print("hailong-kiosk: không có màn hình / no display: running headless (sync only)", flush=True)
    service = updater.updating(SyncService(store, settings), store, settings, data_dir)
    try:
        while True:
            report = service.run_round()
            if report.get("restart"):
                return updater.EXIT_RESTART
            time.sleep(report["delay"])
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
