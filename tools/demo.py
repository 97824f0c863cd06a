"""The demo: a province server on an embedded SQLite file and one enrolled kiosk talking to it.

Run through ``bash scripts/demo.sh`` (which sets things up first). Two unit structures:

* ``--structure 2026`` (the default): today's province, Thành phố Bắc Ninh (code 24) after the
  1 July 2025 merger — communes directly under the province, no districts. Phường Bắc Giang
  (7210) has two sites and the provincial Public Administration Service Centre a head office
  and a branch, each with counters; the kiosk stands at counter 1 of the commune's first site.
* ``--structure 2023``: Bắc Giang's 220 points of the 2023 campaign, with districts; the kiosk
  stands at counter 1 of Phường Thọ Xương (7201).

Everything lives under ``demo-data/<structure>/`` so a second run continues where the first
stopped. With a display the kiosk window opens; without one the demo says so and runs the kiosk
offscreen (it still syncs). Ctrl+C, SIGTERM or SIGHUP stop the server and the kiosk it started.
``--exit-after-sync`` records the demo answers, waits until the server holds them and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CENTRE = "centre"  # the level of the provincial Public Administration Service Centre


@dataclass(frozen=True)
class Site:
    """A site the demo creates: ``unit`` is a unit code, or CENTRE for the province's centre."""

    unit: str
    name: str  # for CENTRE, "{unit}" is replaced by the centre's name as the registry spells it
    counters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Structure:
    seed: str  # HAILONG_SERVER_SEED_UNITS of the demo server
    kiosk_unit: str
    hotline: str  # made up for the demo; shown with the apology after a dissatisfied answer
    sites: tuple[Site, ...]  # the kiosk stands at counter 1 of the first


_COUNTERS = (("1", "Quầy 1"), ("2", "Quầy 2"))
STRUCTURES = {
    "2026": Structure(seed="all", kiosk_unit="7210", hotline="0222 3 000 000", sites=(
        Site("7210", "Trung tâm phục vụ hành chính công phường Bắc Giang — cơ sở 1", _COUNTERS),
        Site("7210", "Trung tâm phục vụ hành chính công phường Bắc Giang — cơ sở 2", _COUNTERS[:1]),
        Site(CENTRE, "{unit} — trụ sở chính", _COUNTERS + (("3", "Quầy 3"),)),
        Site(CENTRE, "{unit} — chi nhánh", _COUNTERS),
    )),
    "2023": Structure(seed="2023", kiosk_unit="7201", hotline="0204 3 000 000", sites=(
        Site("7201", "Bộ phận một cửa phường Thọ Xương", _COUNTERS),
        Site(CENTRE, "{unit} — trụ sở chính", _COUNTERS + (("3", "Quầy 3"),)),
        Site(CENTRE, "{unit} — chi nhánh", _COUNTERS),
    )),
}
DEFAULT_STRUCTURE = "2026"


class _Stop(Exception):
    """Ctrl+C, SIGTERM or SIGHUP arrived: unwind, so that the children are stopped too."""


class _Stopper:
    """The handler of the stop signals: raises :class:`_Stop`, or, while :meth:`held`, once it ends
    (so that a signal cannot fall between a child's start and its note in the children's list)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.holding = False
        self.pending: int | None = None

    def install(self) -> None:
        for sig in self.SIGNALS:
            signal.signal(sig, self)

    def __call__(self, signum, frame) -> None:
        if self.holding:
            self.pending = signum
        else:
            raise _Stop(signum)

    @contextmanager
    def held(self):
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending is not None:
            raise _Stop(self.pending)


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


class _Server:
    """``hailong-server --db DB …`` for the demo's one database, with the demo's environment."""

    def __init__(self, db: Path, env: dict[str, str]) -> None:
        self.db, self.env = db, env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sync_server.cli", "--db", str(self.db), *args]

    def run(self, *args: str) -> str:
        out = subprocess.run(self.argv(*args), cwd=ROOT, env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"demo: hailong-server {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--structure", choices=sorted(STRUCTURES), default=DEFAULT_STRUCTURE,
                    help="2026: today's Bắc Ninh, no districts (default); 2023: Bắc Giang's 220 points with districts")
    ap.add_argument("--data", type=Path, help="the demo's folder (default: demo-data/<structure>)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("HAILONG_DEMO_PORT", "8765")))
    ap.add_argument("--answers", type=int, default=12, help="demo answers the kiosk records at start (flagged 'demo')")
    ap.add_argument("--exit-after-sync", action="store_true")
    args = ap.parse_args(argv)
    structure = STRUCTURES[args.structure]
    data: Path = args.data or ROOT / "demo-data" / args.structure

    from kiosk.store import Store
    from kiosk.sync import EnrollError, enroll

    data.mkdir(parents=True, exist_ok=True)
    _check_structure(data, args.structure)
    server_db = data / "server.sqlite3"
    kiosk_dir = data / "kiosk"
    url = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ, HAILONG_SERVER_SEED_UNITS=structure.seed,
               HAILONG_SERVER_PUBLIC_BASE_URL=url,  # the thank-you QR then opens on this machine
               HAILONG_SERVER_KIOSK_HOTLINE=structure.hotline)
    cli = _Server(server_db, env)

    # Ctrl+C, SIGTERM and SIGHUP all unwind through the finally below. The children run in
    # their own process groups, so a terminal's Ctrl+C reaches the demo alone and the demo
    # stops them in order (kiosk, then server).
    stopper = _Stopper()
    stopper.install()
    children: list[subprocess.Popen] = []
    try:
        server = _spawn(stopper, children, cli.argv("serve", "--host", "127.0.0.1", "--port", str(args.port)), env)
        _wait_healthy(url, server)
        admin_password = _ensure_admin(cli, data)
        sites = _ensure_sites(cli, structure)
        kiosk_site = sites[0]
        store = Store(kiosk_dir / "kiosk.sqlite3")
        if store.get_meta("token") is None:
            code = cli.run("enroll-code", "--unit", structure.kiosk_unit, "--site", str(kiosk_site["id"]),
                           "--counter", "1").strip().splitlines()[-1]
            try:
                enroll(store, url, code, "Kiosk demo")
            except EnrollError as exc:
                raise SystemExit(f"demo: enrolment failed: {exc}") from exc
        elif store.get_meta("server_url") != url:
            store.set_meta(server_url=url)  # a rerun on another port (HAILONG_DEMO_PORT, --port)
        config = store.get_meta("config") or {}
        questionnaire = config.get("questionnaire", {"id": "bg-friendly-gov", "version": 1})
        for i in range(args.answers):
            store.record_response(unit_code=structure.kiosk_unit, questionnaire=questionnaire,
                                  answers={"overall": [5, 4, 5, 3, 2, 4][i % 6]}, flags=["demo"])
        store.close()

        unit_name = (config.get("unit") or {}).get("name", structure.kiosk_unit)
        print(f"\n=== Hài Lòng demo — cơ cấu / structure {args.structure} ===")
        print(f"Tổng quan / overview:       {url}/")
        print(f"Đăng nhập / sign in:        admin / {admin_password}   (demo-only password, in {data / 'admin-password.txt'})")
        print(f"OpenAPI (giao thức / protocol): {url}/openapi.json")
        print("Điểm tiếp nhận và quầy / sites and counters:")
        for s in sites:
            print(f"  {s['id']:>4}  {s['unit_code']:>6}  {s['name']}  (quầy: {', '.join(c['code'] for c in s['counters'])})")
        print(f"Kiosk: {_header(config)}  [{unit_name}, {structure.kiosk_unit}]  dữ liệu / data: {kiosk_dir}")
        print(f"Đường dây nóng / hotline (demo): {structure.hotline}; mã QR cảm ơn / thank-you QR: {url}")
        print(f"Máy chủ / server database:  {server_db}")

        kiosk_env = dict(env)
        if not (kiosk_env.get("DISPLAY") or kiosk_env.get("WAYLAND_DISPLAY")):
            print("Không có màn hình (DISPLAY chưa đặt): kiosk chạy ẩn, vẫn đồng bộ.")
            print("No display: the kiosk runs offscreen (headless) and still syncs.")
            kiosk_env["QT_QPA_PLATFORM"] = "offscreen"
        kiosk_argv = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(kiosk_dir), "run", "--windowed"]
        kiosk_proc = _spawn(stopper, children, kiosk_argv, kiosk_env)
        if args.exit_after_sync:
            return _wait_synced(cli, kiosk_dir, kiosk_proc)
        print("Nhấn Ctrl+C để dừng / press Ctrl+C to stop.\n", flush=True)
        kiosk_proc.wait()
        return 0
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        for sig in _Stopper.SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl+C must not cut the clean-up short
        for proc in reversed(children):  # the kiosk first, then the server it syncs with
            _stop(proc)
        print("Đã dừng máy chủ và kiosk / server and kiosk stopped.", flush=True)


def _spawn(stopper: _Stopper, children: list[subprocess.Popen], argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a child in its own process group and note it in ``children`` (stop signals held meanwhile)."""
    with stopper.held():
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, process_group=0)
        children.append(proc)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, up to 10 s to exit, else SIGKILL; then sweep what it left in its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its group is its own (process_group=0): only its leftovers
    except (ProcessLookupError, PermissionError):
        pass


def _check_structure(data: Path, structure: str) -> None:
    """A demo folder holds one structure: its database was seeded with that one's units."""
    marker = data / "structure.txt"
    if marker.exists():
        held = marker.read_text(encoding="utf-8").strip()
        if held != structure:
            raise SystemExit(f"demo: {data} holds the {held} structure; choose another --data for --structure {structure}")
    else:
        marker.write_text(structure + "\n", encoding="utf-8")


def _header(config: dict) -> str:
    """What the kiosk's header reads (as ``MainWindow.unit_name``, without Qt): site — counter."""
    site = config.get("site") or {}
    name = site.get("name") or (config.get("unit") or {}).get("name") or ""
    counter = site.get("counter_name") or (f"Quầy {site['counter']}" if site.get("counter") else "")
    return f"{name} — {counter}" if counter else name


def _ensure_sites(cli: _Server, structure: Structure) -> list[dict]:
    """The structure's sites and counters, created once (a rerun finds them by name); in order."""
    today = date.today().isoformat()
    centre = next((u for u in cli.json("units", "--on", today) if u["level"] == CENTRE), None)
    if centre is None:
        raise SystemExit(f"demo: no Public Administration Service Centre in force on {today} (see 'hailong-server units')")
    out: list[dict] = []
    existing: dict[str, list[dict]] = {}
    for spec in structure.sites:
        code = centre["code"] if spec.unit == CENTRE else spec.unit
        name = spec.name.format(unit=centre["name"]) if spec.unit == CENTRE else spec.name
        if code not in existing:  # the sites of the unit's version in force (7210 was Hoàng Văn Thụ until 2025)
            existing[code] = [s for s in cli.json("sites", "--unit", code) if not s.get("valid_to") or s["valid_to"] > today]
        site = next((s for s in existing[code] if s["name"] == name), None)
        first = existing[code][0] if existing[code] else None
        if site is None and first is not None and first["position"] == 1 and first["name"] not in {
                (sp.name.format(unit=centre["name"]) if sp.unit == CENTRE else sp.name) for sp in structure.sites}:
            # The unit's implicit first site (named like the unit) becomes the demo's first site.
            cli.run("site-edit", "--site", str(first["id"]), "--name", name)
            first["name"] = name
            site = first
        if site is None:
            site_id = int(cli.run("site-add", "--unit", code, "--name", name).strip().splitlines()[-1])
            site = {"id": site_id, "unit_code": code, "name": name, "counters": []}
        have = {c["code"] for c in site["counters"]}
        for c_code, c_name in spec.counters:
            if c_code not in have:
                cli.run("counter-add", "--site", str(site["id"]), "--code", c_code, "--name", c_name)
        site["counters"] = [{"code": c, "name": n} for c, n in spec.counters]
        out.append(site)
    return out


def _ensure_admin(cli: _Server, data: Path) -> str:
    """A province admin 'admin' for the demo; its random password is kept in the demo folder."""
    import secrets

    password_file = data / "admin-password.txt"
    if password_file.exists():
        return password_file.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(9)
    password_file.write_text(password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    cli.run("users", "add", "--username", "admin", "--role", "province_admin", "--password-file", str(password_file))
    return password


def _wait_synced(cli: _Server, kiosk_dir: Path, kiosk_proc: subprocess.Popen, timeout: float = 60.0) -> int:
    """Wait until the kiosk has nothing pending; print the server's stats; 0 on success."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kiosk_proc.poll() is not None:
            print(f"demo: the kiosk exited with code {kiosk_proc.returncode}", file=sys.stderr)
            return 1
        status = json.loads(subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(kiosk_dir), "status", "--json"],
                                           cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        if status["pending"] == 0:
            print(f"synced: server answers per unit {cli.run('stats', '--json').strip()}")
            return 0
        time.sleep(0.5)
    print("demo: the kiosk did not sync in time", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
