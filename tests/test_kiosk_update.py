"""Remote update on the kiosk (issue 16, kiosk/updater.py), with real things: a real server process,
real kiosk processes, real venvs made by ``python -m venv`` and ``pip install`` of a real wheel of
this project, real SQLite files.

systemd cannot run here, so :class:`Supervisor` does what the unit does: start the installed
version's ``hailong-kiosk`` (this test run's venv plays the installed ``/opt/hailong/venv``), which
runs the guard and hands over to the release ``releases/current`` names; start it again when it
exits (``Restart=always``), after ``update note-exit`` (``ExecStopPost``). The kiosks run headless
(sync only), the path a kiosk without a display takes.

Must show (issue 16): a deliberately broken release is rolled back by the kiosk itself, and the
answers recorded before and after are all at the server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from kiosk import settings as kiosk_settings
from kiosk import updater
from kiosk.migrations import MIGRATIONS
from kiosk.store import Store
from kiosk.sync import SyncService, enroll
from tests.records import QREF, server_db, wait_until
from tests.support import ROOT, LiveServer, free_port, server_cli, server_db_location

INSTALLED = Path(sys.prefix)  # the test run's venv stands for /opt/hailong/venv (editable: this tree)
INSTALLED_KIOSK = INSTALLED / "bin" / "hailong-kiosk"


# --- wheels ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_wheel(tmp_path_factory) -> Path:
    """A real wheel of this tree (``pip wheel --no-deps``, built from a copy: pip builds in place)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy2(ROOT / name, src / name)
    for package in ("kiosk", "sync_server", "hailong_core"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)], check=True,
                   capture_output=True, timeout=300, cwd=src)
    return next(out.glob("hailong-*.whl"))


def make_release(wheel: Path, version: str, out: Path, edits: dict | None = None) -> Path:
    """The wheel as version ``version`` (file name, metadata, ``kiosk.__version__``), with ``edits``
    ({path in the wheel: text -> text}); RECORD made anew, as a build would."""
    old = re.match(r"hailong-([^-]+)-", wheel.name).group(1)
    old_info, new_info = f"hailong-{old}.dist-info/", f"hailong-{version}.dist-info/"
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as src:
        for name in src.namelist():
            data = src.read(name)
            name = new_info + name[len(old_info):] if name.startswith(old_info) else name
            if name == "kiosk/__init__.py":
                data = re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', data.decode()).encode()
            if name == new_info + "METADATA":
                data = re.sub(r"^Version: .*$", f"Version: {version}", data.decode(), count=1, flags=re.M).encode()
            if edits and name in edits:
                changed = edits[name](data.decode())
                assert changed != data.decode(), f"the edit of {name} changed nothing"
                data = changed.encode()
            files[name] = data
    record = new_info + "RECORD"
    lines = [f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}"
             for n, d in files.items() if n != record]
    files[record] = ("\n".join(lines + [f"{record},,"]) + "\n").encode()
    path = out / f"hailong-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def broken_release(wheel: Path, version: str, out: Path) -> Path:
    """A release that installs and passes its self-test, then fails for real: it migrates the
    database one step further (a new column, a new table) and crashes as the kiosk starts to run."""
    def migrate_further(text: str) -> str:
        return text.replace("\n)\n\n\ndef migrate(", '\n    # 4: this release\'s own step\n'
                            '    "ALTER TABLE responses ADD COLUMN release_note TEXT; CREATE TABLE release_probe (x INTEGER)",\n'
                            ")\n\n\ndef migrate(", 1)

    def crash_when_running(text: str) -> str:
        return re.sub(r"(def _run_headless\([^)]*\)[^:]*:\n)", r'\1    raise RuntimeError("deliberately broken release")\n',
                      text, count=1)

    return make_release(wheel, version, out, {"kiosk/migrations.py": migrate_further, "kiosk/cli.py": crash_when_running})


def fake_wheel(version: str) -> tuple[str, bytes]:
    """A small file the server takes for a kiosk wheel (the hash-mismatch test never installs it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("kiosk/__init__.py", f'__version__ = "{version}"\n')
        z.writestr("kiosk/cli.py", "")
        z.writestr("kiosk/updater.py", "")
        z.writestr(f"hailong-{version}.dist-info/METADATA",
                   f"Metadata-Version: 2.4\nName: hailong\nVersion: {version}\nProvides-Extra: kiosk\n")
    return f"hailong-{version}-py3-none-any.whl", buf.getvalue()


# --- a kiosk like the installed one ---------------------------------------------------------------


class Kiosk:
    """A kiosk's data folder and release layout; ``releases/current`` names the installed venv."""

    def __init__(self, root: Path, server: LiveServer):
        self.root = root
        self.data = root / "data"
        self.releases = root / "releases"
        self.releases.mkdir(parents=True)
        (self.releases / "current").symlink_to(INSTALLED)
        self.server = server
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_KIOSK_")}
        self.env.update(HAILONG_KIOSK_RELEASES_DIR=str(self.releases), HAILONG_KIOSK_SYNC_INTERVAL_S="0.3",
                        HAILONG_KIOSK_CONFIG_INTERVAL_S="0.5", HAILONG_KIOSK_HEARTBEAT_INTERVAL_S="0.5",
                        HAILONG_KIOSK_BACKOFF_BASE_S="0.2", HAILONG_KIOSK_BACKOFF_MAX_S="1", HAILONG_KIOSK_UPDATE_IDLE_S="0",
                        HAILONG_KIOSK_UPDATE_MAX_STARTS="2", HAILONG_KIOSK_UPDATE_HEALTH_S="60", QT_QPA_PLATFORM="offscreen",
                        PYTHONUNBUFFERED="1")
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        out = subprocess.run([str(INSTALLED_KIOSK), "--data-dir", str(self.data), "enroll", "--server", server.url,
                              "--code", server.enroll_code()], env=self.env, capture_output=True, text=True, timeout=60,
                             cwd=root)
        assert out.returncode == 0, out.stderr
        self.device_id = re.search(r"enrolled as device (\S+)", out.stdout).group(1)

    @property
    def layout(self) -> updater.Layout:
        return updater.Layout(self.releases, self.data, self.data / "kiosk.sqlite3")

    def state(self) -> dict:
        return updater.load_state(self.layout.state_path)

    def record(self, n: int) -> list[str]:
        """``n`` answers, as the window would store them (with this tree's code: the installed version)."""
        store = Store(self.data / "kiosk.sqlite3")
        try:
            return [store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 1 + i % 5})["id"]
                    for i in range(n)]
        finally:
            store.close()

    def pending(self) -> int:
        conn = sqlite3.connect(str(self.data / "kiosk.sqlite3"))
        try:
            return conn.execute("SELECT COUNT(*) FROM responses WHERE state = 'pending'").fetchone()[0]
        finally:
            conn.close()


class Supervisor:
    """What the systemd unit does for the kiosk: ExecStart (the installed version's ``hailong-kiosk``,
    which guards and hands over), Restart=always, ExecStopPost (``update note-exit``).

    ``on_exit(code)`` runs while no kiosk process runs, between an exit and the next start.
    """

    def __init__(self, kiosk: Kiosk, on_exit=None):
        self.kiosk = kiosk
        self.on_exit = on_exit
        self.exits: list[int] = []
        self.log = kiosk.root / "kiosk.log"
        self._stopping = False
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> "Supervisor":
        self._thread.start()
        return self

    def _loop(self) -> None:
        with open(self.log, "ab") as log:
            while not self._stopping:
                self._proc = subprocess.Popen([str(INSTALLED_KIOSK), "--data-dir", str(self.kiosk.data), "run", "--headless"],
                                              env=self.kiosk.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.kiosk.root)
                code = self._proc.wait()
                self.exits.append(code)
                subprocess.run([str(INSTALLED_KIOSK), "--data-dir", str(self.kiosk.data), "update", "note-exit"],
                               env={**self.kiosk.env, "SERVICE_RESULT": "success" if code == 0 else "exit-code",
                                    "EXIT_STATUS": str(code)}, cwd=self.kiosk.root, timeout=60, capture_output=True)
                if self.on_exit and not self._stopping:
                    self.on_exit(code)
                time.sleep(0.2)  # RestartSec

    def stop(self) -> None:
        self._stopping = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._thread.join(30)

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(tmp_path):
    live = LiveServer(server_db_location(tmp_path), free_port())
    live.start()
    yield live
    live.stop()


def _ids_at_server(server) -> set[str]:
    conn = server_db(server)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM responses")}
    finally:
        conn.close()


def _target(server, device_id: str) -> dict | None:
    conn = server_db(server)
    try:
        row = conn.execute("SELECT t.outcome, t.outcome_reason, t.install_seconds, d.app_version FROM release_targets t "
                           "JOIN devices d ON d.id = t.device_id WHERE t.device_id = ?", (device_id,)).fetchone()
        return dict(zip(("outcome", "reason", "seconds", "app_version"), row)) if row else None
    finally:
        conn.close()


def _add_and_stage(server, wheel: Path, device_id: str) -> None:
    release_id = server_cli(server.db, "release-add", str(wheel)).stdout.strip().splitlines()[-1]
    server_cli(server.db, "release-stage", "--release", release_id, "--devices", device_id)


def _all_answers_at_server(server, kiosk: Kiosk, ids: list[str], sup: Supervisor) -> None:
    try:
        wait_until(lambda: set(ids) <= _ids_at_server(server) and kiosk.pending() == 0, timeout=60, interval=0.2,
                   what="every answer at the server")
    except AssertionError:
        raise AssertionError(sup.text()) from None


# --- (a) and (b): real releases, real processes -----------------------------------------------


@pytest.mark.slow
def test_a_good_release_installs_switches_and_every_answer_reaches_the_server(server, tmp_path, base_wheel):
    kiosk = Kiosk(tmp_path / "kiosk", server)
    release = make_release(base_wheel, "0.1.1", tmp_path)
    between: list[str] = []

    def at_exit(code: int) -> None:
        if code == updater.EXIT_RESTART:  # switched: answers the old version never sent wait in the store
            between.extend(kiosk.record(3))

    sup = Supervisor(kiosk, at_exit).start()
    try:
        before = kiosk.record(4)
        _all_answers_at_server(server, kiosk, before, sup)
        _add_and_stage(server, release, kiosk.device_id)
        wait_until(lambda: (_target(server, kiosk.device_id) or {}).get("outcome") == "installed", timeout=90, interval=0.2,
                   what=f"the release installed: {sup.text()}")
        after = kiosk.record(3)
        _all_answers_at_server(server, kiosk, before + between + after, sup)
    finally:
        sup.stop()
    assert len(between) == 3 and updater.EXIT_RESTART in sup.exits
    current = kiosk.layout.current_env()
    assert current == (kiosk.releases / "0.1.1" / "venv").resolve()
    assert _target(server, kiosk.device_id)["app_version"] == "0.1.1"
    state = kiosk.state()
    assert state["installed"]["version"] == "0.1.1" and state["reported"] and state["trial"] is None
    # The store never moved: the new version opened the same file.
    assert (kiosk.data / "kiosk.sqlite3").exists() and not list(kiosk.data.glob("kiosk.sqlite3.schema*"))
    seconds = _target(server, kiosk.device_id)["seconds"]
    print(f"\nrelease 0.1.1 prepared (download, venv, pip, self-test) in {seconds} s; "
          f"disk: {_du(kiosk.releases / '0.1.1')} KiB")


def _du(path: Path) -> int:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


@pytest.mark.slow
def test_b_a_broken_release_is_rolled_back_by_the_kiosk_itself_and_no_answer_is_lost(server, tmp_path, base_wheel):
    kiosk = Kiosk(tmp_path / "kiosk", server)
    release = broken_release(base_wheel, "0.1.2", tmp_path)
    between: list[str] = []

    def at_exit(code: int) -> None:
        if code == updater.EXIT_RESTART:
            between.extend(kiosk.record(3))  # unsent when the broken release starts, and migrates the file

    sup = Supervisor(kiosk, at_exit).start()
    try:
        before = kiosk.record(4)
        _all_answers_at_server(server, kiosk, before, sup)
        _add_and_stage(server, release, kiosk.device_id)
        wait_until(lambda: (_target(server, kiosk.device_id) or {}).get("outcome") == "rolled_back", timeout=90,
                   interval=0.2, what=f"the rollback reported: {sup.text()}")
        after = kiosk.record(3)
        _all_answers_at_server(server, kiosk, before + between + after, sup)
        time.sleep(1.5)  # a few more rounds: the refused release is not tried again
    finally:
        sup.stop()
    assert len(between) == 3
    # The broken release ran (and crashed) twice, update_max_starts; then the installed venv again.
    assert sup.exits.count(1) == 2, (sup.exits, sup.text())
    assert kiosk.layout.current_env() == INSTALLED.resolve()
    target = _target(server, kiosk.device_id)
    assert target["app_version"] == "0.1.0"
    assert "started 2 times without reaching the server" in target["reason"] and "status 1" in target["reason"]
    assert "database brought back to schema 3" in target["reason"]
    assert "deliberately broken release" in sup.text()
    # It had migrated the database to its schema 4; the previous version got every row back at 3.
    kept = list(kiosk.data.glob("kiosk.sqlite3.schema4-*"))
    assert len(kept) == 1
    assert updater.db_version(kiosk.data / "kiosk.sqlite3") == len(MIGRATIONS) == 3
    state = kiosk.state()
    assert state["outcome"]["outcome"] == "rolled_back" and state["reported"] and state["trial"] is None
    assert [k for k in state["refused"] if k.startswith(state["outcome"]["sha256"] + "@")]  # until staged anew
    assert sup.exits.count(updater.EXIT_RESTART) == 1  # one switch only: not retried


# --- (c) a hash mismatch, in process (no wheel needed: nothing is installed) ----------------------


def test_c_a_hash_mismatch_is_refused_and_reported(server, tmp_path):
    name, content = fake_wheel("0.9.0")
    (tmp_path / name).write_bytes(content)
    data = tmp_path / "data"
    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "current").symlink_to(INSTALLED)
    settings = kiosk_settings.load(data, releases_dir=str(releases), update_idle_s=0)
    store = Store(data / "kiosk.sqlite3")
    try:
        device = enroll(store, server.url, server.enroll_code())["device_id"]
        _add_and_stage(server, tmp_path / name, device)
        # The file on the server is not the one the config pins (a broken disk, a proxy rewriting it).
        conn = sqlite3.connect(str(server.db)) if not str(server.db).startswith("postgres") else None
        if conn is None:
            import psycopg

            with psycopg.connect(str(server.db), autocommit=True) as pg:
                pg.execute("UPDATE releases SET content = %s", (content[:-3] + b"xyz",))
        else:
            with conn:
                conn.execute("UPDATE releases SET content = ?", (content[:-3] + b"xyz",))
            conn.close()
        service = updater.updating(SyncService(store, settings), store, settings, data)
        assert isinstance(service, updater.UpdatingService)
        for _ in range(3):
            report = service.run_round(force=True)
            assert not report.get("restart")
        state = updater.load_state(data / "update" / "state.json")
        assert state["outcome"]["outcome"] == "refused" and "SHA-256 mismatch" in state["outcome"]["reason"]
        assert state["reported"] and state.get("prepared") is None
        assert not (releases / "0.9.0" / "venv").exists()
        assert os.readlink(releases / "current") == str(INSTALLED)
        assert "SHA-256 mismatch" in store.status()["last_error"]
        target = _target(server, device)
        assert target["outcome"] == "refused" and "SHA-256 mismatch" in target["reason"]
    finally:
        store.close()


# --- the pieces, with real files -----------------------------------------------------------------


def _newer_database(path: Path, pending: int) -> list[str]:
    """A kiosk database with ``pending`` unsent answers, then migrated one step past this version
    (as a newer release would), with a row in the new table and a value in the new column."""
    store = Store(path)
    ids = [store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 5})["id"] for _ in range(pending)]
    store.set_meta(token="tok-1", server_url="http://x")
    store.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("ALTER TABLE responses ADD COLUMN release_note TEXT")
    conn.execute("CREATE TABLE release_probe (x INTEGER)")
    conn.execute("UPDATE responses SET release_note = 'new'")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.execute("COMMIT")
    conn.close()
    return ids


def test_the_older_version_refuses_a_database_a_newer_one_migrated(tmp_path):
    """Why a rollback over a migration needs :func:`updater.downgrade_database`."""
    _newer_database(tmp_path / "kiosk.sqlite3", 2)
    with pytest.raises(RuntimeError, match="newer than this app"):
        Store(tmp_path / "kiosk.sqlite3")


def test_downgrade_keeps_every_row_the_older_version_knows(tmp_path):
    db = tmp_path / "kiosk.sqlite3"
    ids = _newer_database(db, 5)
    assert updater.downgrade_database(db, Path(sys.executable), len(MIGRATIONS))
    store = Store(db)  # the older version (this one) opens it again
    try:
        assert [r["id"] for r in store.take_batch(50)] == ids and store.get_meta("token") == "tok-1"
        assert store.record_response(unit_code="7201", questionnaire=QREF, answers={"overall": 3})["seq"] == 6
    finally:
        store.close()
    kept = list(tmp_path.glob("kiosk.sqlite3.schema4-*"))
    assert len(kept) == 1 and updater.db_version(kept[0]) == len(MIGRATIONS) + 1
    assert not updater.downgrade_database(db, Path(sys.executable), len(MIGRATIONS))  # nothing to do at its own schema


def _venv_dir(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    return path


def test_guard_counts_starts_then_rolls_back(tmp_path):
    releases = tmp_path / "releases"
    old, new = _venv_dir(tmp_path / "venv"), _venv_dir(releases / "0.2.0" / "venv")
    (releases / "current").symlink_to(old)
    layout = updater.Layout(releases, tmp_path / "data", tmp_path / "data" / "kiosk.sqlite3")
    Store(layout.db_path).close()
    updater.switch_current(layout, new)
    assert os.readlink(releases / "current") == "0.2.0/venv"  # relative: the layout can move (a scratch root, an image)
    state = {"format": updater.STATE_FORMAT, "refused": {}, "trial": {
        "release_id": 7, "version": "0.2.0", "sha256": "a" * 64, "staged_at": "2026-12-01T08:00:00+07:00",
        "target": str(new), "previous": str(old), "previous_version": "0.1.0", "previous_schema": len(MIGRATIONS),
        "starts": 0, "max_starts": 2, "last_exit": None}}
    updater.save_state(layout.state_path, state)
    assert updater.guard(layout) == "trial start 1"
    updater.note_exit(layout, {"SERVICE_RESULT": "exit-code", "EXIT_STATUS": "1"})
    assert updater.guard(layout) == "trial start 2"
    assert updater.guard(layout) == "rolled back"
    assert layout.current_env() == old.resolve()
    state = updater.load_state(layout.state_path)
    assert state["trial"] is None and state["outcome"]["outcome"] == "rolled_back" and not state["reported"]
    assert state["outcome"]["reason"] == "started 2 times without reaching the server (last exit: exit-code, status 1)"
    assert updater.guard(layout) == "none"


def test_guard_ends_a_trial_the_installer_undid(tmp_path):
    releases = tmp_path / "releases"
    old, new = _venv_dir(tmp_path / "venv"), _venv_dir(releases / "0.2.0" / "venv")
    (releases / "current").symlink_to(old)  # the installer made its venv current again
    layout = updater.Layout(releases, tmp_path / "data", tmp_path / "data" / "kiosk.sqlite3")
    updater.save_state(layout.state_path, {"format": updater.STATE_FORMAT, "refused": {}, "trial": {
        "version": "0.2.0", "target": str(new), "previous": str(old), "previous_schema": 3, "starts": 1, "max_starts": 3}})
    assert updater.guard(layout) == "trial over"
    assert updater.load_state(layout.state_path)["trial"] is None and layout.current_env() == old.resolve()


def test_the_installed_version_hands_over_to_the_current_release(tmp_path, monkeypatch):
    releases = tmp_path / "releases"
    installed, release = _venv_dir(tmp_path / "venv"), _venv_dir(releases / "0.2.0" / "venv")
    exe = release / "bin" / "hailong-kiosk"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    (releases / "current").symlink_to("0.2.0/venv")
    monkeypatch.setenv("HAILONG_KIOSK_RELEASES_DIR", str(releases))
    calls = []
    updater.run_current_release("status", tmp_path / "data", ["--data-dir", "D", "status"], prefix=installed,
                                execv=lambda *a: calls.append(a))
    assert calls == [(str(exe.resolve()), [str(exe.resolve()), "--data-dir", "D", "status"])]
    calls.clear()  # a release never hands over, even to another one
    updater.run_current_release("status", tmp_path / "data", ["status"], prefix=release, execv=lambda *a: calls.append(a))
    assert calls == []
    monkeypatch.setenv("HAILONG_KIOSK_RELEASES_DIR", str(tmp_path / "nowhere"))  # no layout: nothing to do
    updater.run_current_release("run", tmp_path / "data", ["run"], prefix=installed, execv=lambda *a: calls.append(a))
    assert calls == []


def test_idle_gate():
    now = [100.0]
    gate = updater.IdleGate(lambda: now[0])
    now[0] = 130.0
    assert gate.idle_s() == 30.0 and not gate.after_hours
    gate.moved(False)  # a citizen tapped a face
    now[0] = 400.0
    assert gate.idle_s() == 0.0
    gate.moved(True)
    now[0] = 410.0
    gate.at_start(False)  # the same start screen shown again: still idle since 400
    assert gate.idle_s() == 10.0
    gate.at_start(True)  # after hours now
    assert gate.after_hours and gate.idle_s() == 0.0


def test_link_dependencies_leaves_our_own_package_out(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    count = updater.link_dependencies(site)
    names = {p.name for p in site.iterdir()}
    assert count == len(names) > 10 and {"requests", "PySide6"} <= names
    assert not {n for n in names if n in ("kiosk", "sync_server", "hailong_core", "assets", "__pycache__")
                or n.startswith(("hailong-", "__editable__"))}
    assert all((site / n).is_symlink() and not os.readlink(site / n).startswith(str(site)) for n in names)


def test_update_status_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "update", "status"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**os.environ, "HAILONG_KIOSK_RELEASES_DIR": str(tmp_path / "releases")})
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["layout"] is False and shown["version"] == "0.1.0"


def test_a_release_that_never_reaches_the_server_asks_for_its_rollback(tmp_path):
    """Running, but no round reaches the server within update_health_s: it asks the guard to roll
    back and exits (the monotonic clock is scripted; the files are real)."""
    releases = tmp_path / "releases"
    old, new = _venv_dir(tmp_path / "venv"), _venv_dir(releases / "0.1.0" / "venv")
    (releases / "current").symlink_to("0.1.0/venv")
    data = tmp_path / "data"
    layout = updater.Layout(releases, data, data / "kiosk.sqlite3")
    updater.save_state(layout.state_path, {"format": updater.STATE_FORMAT, "refused": {}, "trial": {
        "release_id": 7, "version": "0.1.0", "sha256": "b" * 64, "staged_at": "s1", "target": str(new), "previous": str(old),
        "previous_version": "0.0.9", "previous_schema": len(MIGRATIONS), "starts": 1, "max_starts": 3, "last_exit": None}})
    settings = kiosk_settings.load(data, releases_dir=str(releases), update_health_s=600)
    store = Store(layout.db_path)
    now = [0.0]
    try:
        up = updater.Updater(store, settings, layout, lambda: None, monotonic=lambda: now[0], version="0.1.0", prefix=new)
        assert up.after_round({"error": "network: down"}) is None  # still within its time
        now[0] = 601.0
        assert up.after_round({"error": "network: down"}) == "restart"
        assert "did not reach the server within 600 s: network: down" in updater.load_state(layout.state_path)["trial"]["rollback"]
        assert updater.guard(layout) == "rolled back" and layout.current_env() == old.resolve()
        # Healthy instead: the first round that reaches the server confirms the trial.
        updater.switch_current(layout, new)
        state = updater.load_state(layout.state_path)
        state["trial"] = {"release_id": 8, "version": "0.1.0", "sha256": "c" * 64, "staged_at": "s2", "target": str(new),
                          "previous": str(old), "previous_version": "0.0.9", "previous_schema": len(MIGRATIONS), "starts": 1,
                          "max_starts": 3, "last_exit": None, "seconds": 2.5}
        updater.save_state(layout.state_path, state)
        assert up.after_round({"error": None}) is None
        state = updater.load_state(layout.state_path)
        assert state["trial"] is None and state["installed"]["version"] == "0.1.0" and state["outcome"]["outcome"] == "installed"
        # The staff's rollback: the previous release comes back at the next start.
        up.request_rollback("update rollback")
        assert updater.guard(layout) == "rolled back" and layout.current_env() == old.resolve()
        assert updater.load_state(layout.state_path)["outcome"]["reason"] == "asked at the kiosk: update rollback"
    finally:
        store.close()


def test_update_now_at_the_console_reports_a_release_that_cannot_install(server, tmp_path):
    name, content = fake_wheel("0.9.1")  # shaped like a wheel for the server, but pip cannot install it
    (tmp_path / name).write_bytes(content)
    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "current").symlink_to(INSTALLED)
    env = {**os.environ, "HAILONG_KIOSK_RELEASES_DIR": str(releases), "QT_QPA_PLATFORM": "offscreen"}
    kiosk = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path / "data")]
    out = subprocess.run([*kiosk, "enroll", "--server", server.url, "--code", server.enroll_code()], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    device = re.search(r"enrolled as device (\S+)", out.stdout).group(1)
    _add_and_stage(server, tmp_path / name, device)
    now = subprocess.run([*kiosk, "update", "now"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert now.returncode == 1, now.stderr
    shown = json.loads(now.stdout)
    assert shown["staged"]["version"] == "0.9.1" and shown["outcome"]["outcome"] == "failed"
    assert shown["outcome"]["reason"].startswith("pip install:")
    assert os.readlink(releases / "current") == str(INSTALLED) and _target(server, device)["outcome"] == "failed"


def test_the_window_tells_the_gate_when_it_is_idle(qtbot, tmp_path):
    """The composition root's wiring (kiosk/app.py): a citizen's answer makes the kiosk busy; back
    at the start screen it is idle again, from that moment."""
    from PySide6.QtCore import Qt

    from kiosk.app import _Restarter, _watch_idle, build

    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(unit_code="7201")
    window, worker = build(store, kiosk_settings.load(tmp_path, thank_you_s=0.2, input_guard_s=0))
    try:
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        gate = updater.IdleGate()
        _watch_idle(window, gate)
        with qtbot.waitSignal(window.sig_rating_saved, timeout=2000):
            qtbot.mouseClick(window.start_screen.faces()[3], Qt.MouseButton.LeftButton)
        assert gate.idle_s() == 0.0  # the thank-you screen: not idle
        with qtbot.waitSignal(window.sig_start_shown, timeout=3000):
            pass
        assert 0.0 < gate.idle_s() < 2.0 and not gate.after_hours
    finally:
        worker.stop()
        store.close()
    exits = []
    restarter = _Restarter(type("App", (), {"exit": lambda self, code: exits.append(code)})())
    restarter.on_round({"error": None})
    restarter.on_round({"error": None, "restart": True})
    assert exits == [updater.EXIT_RESTART]
