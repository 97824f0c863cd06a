"""The demo: a province server on an embedded SQLite file and one enrolled kiosk talking to it.

Run through ``bash scripts/demo.sh`` (which sets things up first). Everything lives under
``demo-data/`` so a second run continues where the first stopped. With a display the kiosk
window opens; without one the demo says so and runs the kiosk offscreen (it still syncs).
``--exit-after-sync`` records the demo answers, waits until the server holds them and exits
(the test of this script uses it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
UNIT = "7201"  # Phường Thọ Xương, Thành phố Bắc Giang


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the server exited with code {proc.returncode}")
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("demo: the server did not start within 30 s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "demo-data")
    ap.add_argument("--port", type=int, default=int(os.environ.get("HAILONG_DEMO_PORT", "8765")))
    ap.add_argument("--answers", type=int, default=12, help="demo answers the kiosk records at start (flagged 'demo')")
    ap.add_argument("--exit-after-sync", action="store_true")
    args = ap.parse_args(argv)

    from kiosk.store import Store
    from kiosk.sync import EnrollError, enroll

    args.data.mkdir(parents=True, exist_ok=True)
    server_db = args.data / "server.sqlite3"
    kiosk_dir = args.data / "kiosk"
    url = f"http://127.0.0.1:{args.port}"
    py = sys.executable
    server = subprocess.Popen([py, "-m", "sync_server.cli", "--db", str(server_db), "serve", "--host", "127.0.0.1",
                               "--port", str(args.port)], cwd=ROOT)
    kiosk_proc = None
    try:
        _wait_healthy(url, server)
        admin_password = _ensure_admin(py, server_db, args.data)
        store = Store(kiosk_dir / "kiosk.sqlite3")
        if store.get_meta("token") is None:
            code_out = subprocess.run([py, "-m", "sync_server.cli", "--db", str(server_db), "enroll-code", "--unit", UNIT],
                                      cwd=ROOT, capture_output=True, text=True, check=True)
            try:
                enroll(store, url, code_out.stdout.strip().splitlines()[-1], "Kiosk demo")
            except EnrollError as exc:
                raise SystemExit(f"demo: enrolment failed: {exc}") from exc
        config = store.get_meta("config") or {}
        questionnaire = config.get("questionnaire", {"id": "bg-friendly-gov", "version": 1})
        for i in range(args.answers):
            store.record_response(unit_code=UNIT, questionnaire=questionnaire, answers={"overall": [5, 4, 5, 3, 2, 4][i % 6]},
                                  flags=["demo"])
        store.close()

        unit_name = (config.get("unit") or {}).get("name", UNIT)
        print("\n=== Hài Lòng demo ===")
        print(f"Tổng quan / overview:       {url}/")
        print(f"Đăng nhập / sign in:        admin / {admin_password}   (demo-only password, in {args.data / 'admin-password.txt'})")
        print(f"OpenAPI (giao thức / protocol): {url}/openapi.json")
        print(f"Kiosk: {unit_name} ({UNIT}), dữ liệu / data: {kiosk_dir}")
        print(f"Máy chủ / server database:  {server_db}")

        env = dict(os.environ)
        if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            print("Không có màn hình (DISPLAY chưa đặt): kiosk chạy ẩn, vẫn đồng bộ.")
            print("No display: the kiosk runs offscreen (headless) and still syncs.")
            env["QT_QPA_PLATFORM"] = "offscreen"
        kiosk_proc = subprocess.Popen([py, "-m", "kiosk.cli", "--data-dir", str(kiosk_dir), "run", "--windowed"], cwd=ROOT, env=env)
        if args.exit_after_sync:
            return _wait_synced(server_db, kiosk_dir, kiosk_proc)
        print("Nhấn Ctrl+C để dừng / press Ctrl+C to stop.\n", flush=True)
        kiosk_proc.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in (kiosk_proc, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _ensure_admin(py: str, server_db: Path, data: Path) -> str:
    """A province admin 'admin' for the demo; its random password is kept in the demo folder."""
    import secrets

    password_file = data / "admin-password.txt"
    if password_file.exists():
        return password_file.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(9)
    password_file.write_text(password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    subprocess.run([py, "-m", "sync_server.cli", "--db", str(server_db), "users", "add", "--username", "admin",
                    "--role", "province_admin", "--password-file", str(password_file)],
                   cwd=ROOT, capture_output=True, text=True, check=True)
    return password


def _wait_synced(server_db: Path, kiosk_dir: Path, kiosk_proc: subprocess.Popen, timeout: float = 60.0) -> int:
    """Wait until the kiosk has nothing pending; print the server's stats; 0 on success."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kiosk_proc.poll() is not None:
            print(f"demo: the kiosk exited with code {kiosk_proc.returncode}", file=sys.stderr)
            return 1
        status = json.loads(subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(kiosk_dir), "status", "--json"],
                                           cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        if status["pending"] == 0:
            stats = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(server_db), "stats", "--json"],
                                   cwd=ROOT, capture_output=True, text=True, check=True).stdout
            print(f"synced: server answers per unit {stats.strip()}")
            return 0
        time.sleep(0.5)
    print("demo: the kiosk did not sync in time", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
