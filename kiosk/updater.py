"""Remote update of the kiosk (issue 16), without Qt: fetch a staged release, install it beside the
running one, switch, and roll back by itself when the new one does not become healthy.

The layout (made by ``installer/install-kiosk.sh``; docs/install-kiosk.md, "Cập nhật từ xa"):

    /opt/hailong/venv                     the installed version (root's, never changed by an update)
    /opt/hailong/releases/<version>/venv  a release the kiosk installed itself (the kiosk user's)
    /opt/hailong/releases/<version>/wheel the wheel it came from (its SHA-256 was checked)
    /opt/hailong/releases/current         symlink to the venv that runs (at first ``../venv``)

The systemd unit always starts the installed version's ``hailong-kiosk``; :func:`run_current_release`
(called first thing by ``kiosk.cli``) runs :func:`guard` and then replaces itself (same PID, so
``Type=notify`` and the watchdog are not disturbed) with the ``current`` release's ``hailong-kiosk``.
The guard is therefore always the installed version's code, and runs even when a release is
broken so badly that it cannot import.

The steps, each recorded in ``<data dir>/update/state.json`` (written atomically):

1. **Prepare** (in the background, whenever the config names a release for this kiosk): download
   it with the device token, check its SHA-256 against the config's (a mismatch is refused and
   reported), make a venv ``python -m venv --without-pip``, link every installed distribution of
   the running venv into it except ``hailong`` itself, and ``pip install --no-index`` the wheel
   with its ``[kiosk]`` extra: its dependencies are found already installed, nothing is fetched
   from a package index (a kiosk may have none); a release that needs a dependency the kiosk
   lacks is refused with pip's message. Then the new version's ``hailong-kiosk self-test`` runs
   against a *copy* of the database (so a migration of the new version never touches the real
   file before the switch).
2. **Switch** when idle (no answer in progress and the start screen untouched for
   ``update_idle_s``; or only after hours, ``update_when``): a trial is written, ``current`` is
   replaced atomically (``rename(2)`` of a new symlink), and the kiosk exits with
   :data:`EXIT_RESTART`; systemd's ``Restart=always`` starts it again.
3. **Trial**: the guard counts the starts of the new version; the new version, once a sync round
   reached the server (upload, config and heartbeat), marks itself installed. If it is not healthy
   within ``update_health_s`` of running, or after ``update_max_starts`` starts (a crash loop, a
   release that cannot even import), the previous venv becomes ``current`` again.
4. **Rollback** (by the guard, before anything opens the database): when the new version had
   migrated the database past what the previous one knows (the previous one would refuse to open
   it), the database is rebuilt at the previous schema by the previous version itself and every
   row of the tables it knows is copied across (answers, sequence counter, token, config); the
   migrated file is kept beside it. Nothing unsent is lost.

The outcome (``installed``, ``rolled_back``, ``failed``, ``refused``) goes to the server in the
next heartbeat's ``update`` field. A release that failed is not tried again until the server
stages it anew (its ``staged_at`` changes).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hailong_core.timeutil import format_rfc3339, now_local
from kiosk import __version__
from kiosk.migrations import MIGRATIONS
from kiosk.sync import ServerApi, SyncClient, SyncError

log = logging.getLogger(__name__)

EXIT_RESTART = 75
"""The exit code of a kiosk that switched to a new release (or asks for its rollback): systemd's
``Restart=always`` starts it again (EX_TEMPFAIL: "try again")."""

STATE_FORMAT = 1
OUTCOMES = ("installed", "rolled_back", "failed", "refused")
_WHEEL_NAME = re.compile(r"^hailong-[0-9A-Za-z.+!_]+-py3-none-any\.whl$")
_VERSION = re.compile(r"^[0-9A-Za-z.+!_-]{1,32}$")
_MIN_FREE_BYTES = 64 * 1024 * 1024  # a venv of our own code is ~5 MB; leave the database room to grow
_OWN_NAMES = ("kiosk", "sync_server", "hailong_core", "assets", "__pycache__")


class UpdateError(Exception):
    """Base of the updater's errors."""


class UpdateRefused(UpdateError):
    """This release cannot be installed here (hash mismatch, install or self-test failure): it is
    reported and not tried again until the server stages it anew. ``outcome`` is ``refused`` (the
    file is not the one the config pinned) or ``failed``."""

    def __init__(self, outcome: str, reason: str):
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


# --- where things are ------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The release folders and the state file of one kiosk."""

    releases: Path
    data_dir: Path
    db_path: Path

    @property
    def current(self) -> Path:
        return self.releases / "current"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "update" / "state.json"

    def active(self) -> bool:
        """True when the installer made the release layout (remote update is possible)."""
        return self.current.is_symlink()

    def holds(self, path: Path) -> bool:
        """True when ``path`` (a venv) lies inside the releases folder: a release, not the installed version."""
        try:
            Path(path).resolve().relative_to(self.releases.resolve())
            return True
        except ValueError:
            return False

    def current_env(self) -> Path | None:
        try:
            return self.current.resolve(strict=True)
        except OSError:
            return None

    @classmethod
    def find(cls, data_dir: Path, settings=None, environ: dict | None = None) -> "Layout":
        """The layout for ``data_dir``; reads the settings file by hand when ``settings`` is None.

        The guard runs as the installed version, which may not know every setting a newer release
        wrote down: so it never fails on the settings file, it only picks the two paths it needs.
        """
        environ = os.environ if environ is None else environ
        raw: dict = {}
        if settings is None:
            try:
                loaded = json.loads((Path(data_dir) / "settings.json").read_text(encoding="utf-8"))
                raw = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                raw = {}

        def get(name: str, default: str | None) -> str | None:
            if settings is not None:
                return getattr(settings, name, None) or default
            value = environ.get("HAILONG_KIOSK_" + name.upper()) or raw.get(name)
            return value if isinstance(value, str) and value else default

        data_dir = Path(data_dir)
        db = get("db_path", None)
        return cls(Path(get("releases_dir", DEFAULT_RELEASES) or DEFAULT_RELEASES), data_dir,
                   Path(db) if db else data_dir / "kiosk.sqlite3")


DEFAULT_RELEASES = "/opt/hailong/releases"


# --- the state file --------------------------------------------------------------------------


def load_state(path: Path) -> dict:
    """The updater's state (an empty one when there is none or it cannot be read)."""
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        state = {"format": STATE_FORMAT}
    state.setdefault("refused", {})
    return state


def save_state(path: Path, state: dict) -> None:
    """Write the state atomically (a power cut leaves the old one or the new one, never half)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def locked(layout: Layout, wait: bool = True):
    """One updater at a time (the service's, ``update now`` at the console, the guard); yields False
    when ``wait`` is False and another holds the lock."""
    layout.state_path.parent.mkdir(parents=True, exist_ok=True)
    with open(layout.state_path.parent / "lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def switch_current(layout: Layout, env: Path) -> None:
    """Point ``current`` at ``env`` atomically: a new symlink renamed over the old one."""
    env = Path(env).resolve()
    releases = layout.releases.resolve()
    try:
        target = os.path.relpath(env, releases)  # relative: the layout may be a scratch root or an image
    except ValueError:
        target = str(env)
    tmp = layout.releases / ".current.new"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, layout.current)
    _fsync_dir(layout.releases)


def _outcome(state: dict, release: dict, outcome: str, reason: str | None, seconds: float | None = None) -> None:
    assert outcome in OUTCOMES, outcome
    state["outcome"] = {"release_id": release.get("release_id", release.get("id")), "version": release.get("version"),
                        "sha256": release.get("sha256"), "outcome": outcome, "reason": (reason or None) and reason[:900],
                        "at": format_rfc3339(now_local()), "seconds": None if seconds is None else round(seconds, 1)}
    state["reported"] = False


def refusal_key(release: dict) -> str:
    """What a refusal is remembered by: the file and when it was staged (staging again retries it)."""
    return f"{release.get('sha256')}@{release.get('staged_at')}"


# --- the guard: every start of the service, as the installed version -------------------------


def guard(layout: Layout) -> str:
    """Count a trial's starts and roll back when the new release has had its chances.

    Runs before the kiosk opens its database, from the installed version. Returns what it did
    (``none``, ``trial start N``, ``rolled back``, ``trial over``), for the log.
    """
    if not layout.active():
        return "none"
    with locked(layout):
        state = load_state(layout.state_path)
        trial = state.get("trial")
        if trial:
            if layout.current_env() != Path(trial["target"]).resolve():
                # The installer (or IT staff) put another venv in place meanwhile: the trial is over.
                state["trial"] = None
                save_state(layout.state_path, state)
                return "trial over"
            reason = trial.get("rollback")
            if reason is None and trial["starts"] >= trial["max_starts"]:
                last = f" (last exit: {trial['last_exit']})" if trial.get("last_exit") else ""
                reason = f"started {trial['starts']} times without reaching the server{last}"
            if reason:
                rollback(layout, state, trial, reason)
                return "rolled back"
            trial["starts"] += 1
            save_state(layout.state_path, state)
            return f"trial start {trial['starts']}"
        request = state.get("rollback_request")
        if request:
            state["rollback_request"] = None
            installed = state.get("installed")
            if installed and layout.current_env() == Path(installed["target"]).resolve() and \
                    Path(installed["previous"]).exists():
                rollback(layout, state, installed, f"asked at the kiosk: {request}")
                return "rolled back"
            save_state(layout.state_path, state)
    return "none"


def note_exit(layout: Layout, environ: dict | None = None) -> None:
    """Keep how the service's last run ended (systemd's ``ExecStopPost`` sets ``EXIT_STATUS``)."""
    environ = os.environ if environ is None else environ
    if not layout.active():
        return
    with locked(layout):
        state = load_state(layout.state_path)
        trial = state.get("trial")
        if trial:
            result = environ.get("SERVICE_RESULT")
            status = environ.get("EXIT_STATUS")
            trial["last_exit"] = ", ".join(x for x in (result, f"status {status}" if status else None) if x) or None
            save_state(layout.state_path, state)


def rollback(layout: Layout, state: dict, step: dict, reason: str) -> None:
    """Make ``step['previous']`` current again, first bringing the database back to its schema."""
    previous = Path(step["previous"])
    log.warning("rolling back from %s to %s: %s", step.get("version"), previous, reason)
    try:
        downgraded = downgrade_database(layout.db_path, previous / "bin" / "python", int(step["previous_schema"]))
    except Exception as exc:  # noqa: BLE001 - keep the newer file and version: they at least open the database
        log.exception("cannot bring the database back to schema %s", step.get("previous_schema"))
        state["trial"] = None
        _outcome(state, step, "failed", f"{reason}; no rollback: the database could not be brought back to "
                                        f"schema {step.get('previous_schema')}: {exc}")
        state["refused"][refusal_key(step)] = reason
        save_state(layout.state_path, state)
        return
    switch_current(layout, previous)
    state["trial"] = None
    if state.get("installed") is step:
        state["installed"] = None
    note = f"{reason}; database brought back to schema {step['previous_schema']} (newer file kept)" if downgraded else reason
    _outcome(state, step, "rolled_back", note)
    state["refused"][refusal_key(step)] = reason
    save_state(layout.state_path, state)


def db_version(db_path: Path) -> int | None:
    """``PRAGMA user_version`` of the kiosk database, read without migrating it (None: no file)."""
    if not Path(db_path).exists():
        return None
    conn = sqlite3.connect(str(db_path), timeout=30)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def downgrade_database(db_path: Path, old_python: Path, old_schema: int, *, run=subprocess.run) -> bool:
    """Rebuild the database at ``old_schema`` with every row the older version can hold; True when done.

    The older version refuses a database migrated past what it knows (``kiosk.migrations``), so a
    rollback over a migration needs this. The older version itself makes an empty database at its
    own schema; then, for each of its tables, the columns both know are copied from the newer file
    in one transaction (migrations are append-only and additive: the older tables and columns are
    all there). The newer file is kept as ``<name>.schema<N>-<time>``. Runs only while no kiosk
    process has the database open (the guard, before the start).
    """
    db_path = Path(db_path)
    version = db_version(db_path)
    if version is None or version <= old_schema:
        return False
    fresh = db_path.with_name(db_path.name + ".downgrade")
    for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    made = run([str(old_python), "-c", "import sys; from kiosk.store import Store; Store(sys.argv[1]).close()", str(fresh)],
               capture_output=True, text=True, timeout=120, env=_clean_env(), cwd=str(db_path.parent))
    if made.returncode != 0 or db_version(fresh) != old_schema:
        raise UpdateError(f"the older version could not make its database: {(made.stderr or '').strip()[-300:]}")
    conn = sqlite3.connect(str(fresh), isolation_level=None, timeout=30)
    try:
        conn.execute("ATTACH DATABASE ? AS newer", (str(db_path),))
        conn.execute("BEGIN IMMEDIATE")
        tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        newer = {r[0] for r in conn.execute("SELECT name FROM newer.sqlite_master WHERE type = 'table'")}
        for table in tables:
            if table not in newer:
                continue
            old_cols = [r[1] for r in conn.execute(f'PRAGMA main.table_info("{table}")')]
            new_cols = {r[1] for r in conn.execute(f'PRAGMA newer.table_info("{table}")')}
            cols = ", ".join(f'"{c}"' for c in old_cols if c in new_cols)
            conn.execute(f'DELETE FROM main."{table}"')
            conn.execute(f'INSERT INTO main."{table}" ({cols}) SELECT {cols} FROM newer."{table}"')
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE newer")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    # The newer file, its write-ahead log included, is kept aside; then the rebuilt one takes its name.
    checkpoint = sqlite3.connect(str(db_path), timeout=30)
    try:
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        checkpoint.close()
    kept = db_path.with_name(f"{db_path.name}.schema{version}-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("-wal", "-shm"):
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            os.replace(side, f"{kept}{suffix}")
    os.replace(db_path, kept)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{fresh}{suffix}").unlink()
    os.replace(fresh, db_path)
    _fsync_dir(db_path.parent)
    log.warning("database brought back from schema %d to %d; the newer file is %s", version, old_schema, kept)
    return True


# --- running the current release ---------------------------------------------------------------


def run_current_release(command: str, data_dir: Path, argv: list[str] | None = None, *,
                        prefix: Path | None = None, execv: Callable = os.execv) -> None:
    """From the installed version: run the guard (for ``session`` and ``run``, the service's starts)
    and replace this process with the ``current`` release's ``hailong-kiosk``; return when this
    already is the current one (or there is no release layout). Never raises."""
    try:
        layout = Layout.find(data_dir)
        here = Path(prefix or sys.prefix).resolve()
        if not layout.active() or layout.holds(here):
            return  # no layout, or a release (only the installed version hands over)
        if command in ("session", "run"):
            done = guard(layout)
            if done != "none":
                log.warning("remote update: %s", done)
        target = layout.current_env()
        if target is None or target == here:
            return
        exe = target / "bin" / "hailong-kiosk"
        if not os.access(exe, os.X_OK):
            log.error("the current release %s has no hailong-kiosk: running the installed version", target)
            return
        args = list(sys.argv[1:] if argv is None else argv)
        execv(str(exe), [str(exe), *args])
    except Exception:  # noqa: BLE001 - the kiosk must start whatever the updater thinks
        log.exception("remote update: could not hand over to the current release")


# --- the idle state --------------------------------------------------------------------------


class IdleGate:
    """Whether the kiosk is idle enough to restart: told by the window (UI thread), asked by the
    updater (worker thread). Starts "at the start screen", as the window does."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._since: float | None = monotonic()
        self._after_hours = False

    def at_start(self, after_hours: bool = False) -> None:
        """The start (or after-hours) screen is shown: idle from now."""
        with self._lock:
            if self._since is None or after_hours != self._after_hours:
                self._since = self._monotonic()
            self._after_hours = after_hours

    def moved(self, at_start: bool, after_hours: bool = False) -> None:
        """Another screen became current (``at_start``: it is the start or after-hours screen)."""
        with self._lock:
            self._since = self._monotonic() if at_start else None
            self._after_hours = after_hours and at_start

    def idle_s(self) -> float:
        with self._lock:
            return 0.0 if self._since is None else self._monotonic() - self._since

    @property
    def after_hours(self) -> bool:
        with self._lock:
            return self._after_hours


# --- the updater in the running kiosk ------------------------------------------------------------


def _clean_env(**extra: str) -> dict:
    """The environment for pip and the new version: no pip configuration of the machine (a kiosk's
    pip.conf may name an index it cannot reach), no PYTHONPATH pulling in other code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    env.update(extra)
    return env


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[-600:]


class Updater:
    """The running kiosk's side: prepare a staged release, switch when idle, confirm a trial.

    ``client`` gives the :class:`kiosk.sync.SyncClient` for this kiosk's server (None when not
    enrolled); ``gate`` the window's idle state (None: headless, always idle); ``run`` runs the
    subprocesses (pip, the new self-test).
    """

    def __init__(self, store, settings, layout: Layout, client: Callable[[], SyncClient | None], *,
                 gate: IdleGate | None = None, monotonic: Callable[[], float] = time.monotonic,
                 run: Callable = subprocess.run, version: str = __version__, schema: int = len(MIGRATIONS),
                 prefix: Path | None = None):
        self.store = store
        self.settings = settings
        self.layout = layout
        self.client = client
        self.gate = gate
        self.monotonic = monotonic
        self.run = run
        self.version = version
        self.schema = schema
        self.prefix = Path(prefix or sys.prefix).resolve()
        self._started = monotonic()
        self._retry_at = 0.0

    # -- the round -------------------------------------------------------------------------

    def after_round(self, report: dict) -> str | None:
        """After each sync round: confirm a trial, report an outcome, prepare or switch. Returns
        ``"restart"`` when the kiosk must exit with :data:`EXIT_RESTART`. Never raises."""
        try:
            with locked(self.layout, wait=False) as mine:
                if not mine:
                    return None  # another updater (``update now``) is at work
                return self._step(report)
        except Exception as exc:  # noqa: BLE001 - an update problem must never stop the kiosk
            log.exception("remote update step failed")
            self.store.note_error(f"update: {exc.__class__.__name__}: {exc}")
            return None

    def _step(self, report: dict, *, force: bool = False) -> str | None:
        state = load_state(self.layout.state_path)
        trial = state.get("trial")
        if trial:
            if trial.get("version") != self.version or self.layout.current_env() != self.prefix:
                return None  # another version's trial (switched, not restarted yet): the guard's business
            if report.get("error") is None:
                self._confirm(state, trial)  # started, and a round reached the server: healthy
                return None
            if trial.get("rollback") or self.monotonic() - self._started <= self.settings.update_health_s:
                return None
            trial["rollback"] = (f"did not reach the server within {self.settings.update_health_s:g} s: "
                                 f"{report.get('error')}")[:900]
            save_state(self.layout.state_path, state)
            return "restart"  # the guard puts the previous release back at the next start
        if state.get("outcome") and not state.get("reported"):
            self._report(state)
        release = self._staged()
        if release is None:
            self._drop_prepared(state)
            return None
        if refusal_key(release) in state["refused"] or release["version"] == self.version:
            return None
        prepared = state.get("prepared")
        if prepared and (refusal_key(prepared) != refusal_key(release) or not Path(prepared["env"]).is_dir()):
            self._drop_prepared(state)
            prepared = None
        if prepared is None:
            if self.monotonic() < self._retry_at and not force:
                return None
            prepared = self._prepare_or_refuse(state, release)
            if prepared is None:
                return None
        if not force and not self._idle():
            return None
        return self._switch(state, prepared)

    def _staged(self) -> dict | None:
        """The release block of the stored config, checked (None: nothing staged, or not updatable)."""
        if not self.settings.update or not self.layout.active():
            return None
        release = (self.store.get_meta("config") or {}).get("release")
        if not isinstance(release, dict):
            return None
        ok = (isinstance(release.get("version"), str) and _VERSION.match(release["version"])
              and isinstance(release.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", release["sha256"])
              and isinstance(release.get("url"), str) and release["url"].startswith("/")
              and isinstance(release.get("filename"), str) and _WHEEL_NAME.match(release["filename"]))
        if not ok:
            log.warning("the config's release block is not one this kiosk understands: %r", release)
            return None
        return release

    def _idle(self) -> bool:
        if self.store.status().get("drafts"):
            return False  # a citizen is answering (or just walked away: the sweep finalises it first)
        if self.gate is None:
            return True
        if self.settings.update_when == "after_hours" and not self.gate.after_hours:
            return False
        return self.gate.idle_s() >= self.settings.update_idle_s

    # -- prepare ---------------------------------------------------------------------------

    def _prepare_or_refuse(self, state: dict, release: dict) -> dict | None:
        started = time.monotonic()
        try:
            env = self.prepare(release)
        except UpdateRefused as exc:
            log.error("release %s refused: %s", release["version"], exc.reason)
            self.store.note_error(f"update {release['version']}: {exc.reason}"[:1000])
            _outcome(state, release, exc.outcome, exc.reason, time.monotonic() - started)
            state["refused"][refusal_key(release)] = exc.reason[:300]
            save_state(self.layout.state_path, state)
            self._report(state)
            return None
        except (SyncError, OSError, subprocess.TimeoutExpired, UpdateError) as exc:
            # Network, disk, a timeout: try again later, nothing to report yet.
            log.warning("release %s not prepared yet: %s", release["version"], exc)
            self.store.note_error(f"update {release['version']}: {exc}"[:1000])
            self._retry_at = self.monotonic() + max(self.settings.sync_interval_s, min(3600.0, self.settings.config_interval_s))
            return None
        seconds = time.monotonic() - started
        state["prepared"] = {"release_id": release.get("id"), "version": release["version"], "sha256": release["sha256"],
                             "staged_at": release.get("staged_at"), "env": str(env), "seconds": round(seconds, 1)}
        save_state(self.layout.state_path, state)
        log.info("release %s prepared in %.1f s at %s", release["version"], seconds, env)
        return state["prepared"]

    def prepare(self, release: dict) -> Path:
        """Download, check, install and self-test ``release``; return its venv (ready to switch to)."""
        root = self.layout.releases / release["version"]
        for taken in (self.layout.current_env(), self.prefix):
            if taken is not None and self.layout.holds(taken) and taken.parent == root.resolve():
                raise UpdateRefused("failed", f"{root} is the running release's folder")
        free = shutil.disk_usage(self.layout.releases).free
        if free < _MIN_FREE_BYTES + 4 * int(release.get("bytes") or 0):
            raise UpdateError(f"only {free // 2**20} MiB free in {self.layout.releases}")
        if root.exists():
            shutil.rmtree(root)
        wheel = self._download(release, root / "wheel")
        env = self._install(wheel, root / "venv", release)
        self._self_test(env)
        return env

    def _download(self, release: dict, folder: Path) -> Path:
        client = self.client()
        if client is None:
            raise UpdateError("not enrolled")
        cap = int(self.settings.update_max_mb * 2**20)
        size = int(release.get("bytes") or 0)
        if size > cap:
            raise UpdateRefused("refused", f"the release is {size} bytes, more than update_max_mb ({self.settings.update_max_mb:g} MiB)")
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / (release["filename"] + ".part")
        digest = hashlib.sha256()
        got = 0
        # The sync client's own request: its token, timeouts and TLS settings, its error tree.
        resp = client.api._request("GET", release["url"], stream=True)
        try:
            if resp.status_code != 200:
                raise UpdateError(f"the server answered {resp.status_code} for the release")
            with open(part, "wb") as fh:
                for chunk in resp.iter_content(64 * 1024):
                    got += len(chunk)
                    if got > cap:
                        raise UpdateRefused("refused", f"the download is larger than update_max_mb ({self.settings.update_max_mb:g} MiB)")
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise UpdateError(f"download: {exc}") from exc
        finally:
            resp.close()
        if digest.hexdigest() != release["sha256"]:
            part.unlink(missing_ok=True)
            raise UpdateRefused("refused", f"SHA-256 mismatch: the config pins {release['sha256'][:16]}…, the download "
                                           f"({got} bytes) is {digest.hexdigest()[:16]}…")
        wheel = folder / release["filename"]
        os.replace(part, wheel)
        return wheel

    def _install(self, wheel: Path, env: Path, release: dict) -> Path:
        made = self.run([sys.executable, "-m", "venv", "--without-pip", str(env)], capture_output=True, text=True,
                        timeout=120, env=_clean_env(), cwd=str(env.parent))
        if made.returncode != 0:
            raise UpdateError(f"python -m venv failed: {_tail(made.stderr)}")
        site = Path(self.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, timeout=60, env=_clean_env(), cwd=str(env.parent),
                             check=True).stdout.strip())
        linked = link_dependencies(site)
        pip = self.run([str(env / "bin" / "python"), "-m", "pip", "install", "--no-index", "--find-links", str(wheel.parent),
                        "--no-cache-dir", "--no-warn-script-location", "--quiet", f"{wheel}[kiosk]"],
                       capture_output=True, text=True, timeout=600, env=_clean_env(), cwd=str(env.parent))
        if pip.returncode != 0:
            raise UpdateRefused("failed", f"pip install: {_tail(pip.stderr or pip.stdout)}")
        if not (site / "assets").exists():
            # Today's wheels carry no assets (default questionnaire, procedure groups: the folder
            # beside the packages): the running version's serve the new one.
            from hailong_core.assets import ASSETS_DIR

            (site / "assets").symlink_to(Path(ASSETS_DIR).resolve())
        shown = self.run([str(env / "bin" / "python"), "-c", "import kiosk; print(kiosk.__version__)"],
                         capture_output=True, text=True, timeout=60, env=_clean_env(), cwd=str(env.parent))
        if shown.returncode != 0:
            raise UpdateRefused("failed", f"the new version does not import: {_tail(shown.stderr)}")
        if shown.stdout.strip() != release["version"]:
            raise UpdateRefused("failed", f"the wheel holds kiosk {shown.stdout.strip()!r}, not {release['version']!r}")
        log.info("release %s installed at %s (%d distributions linked from %s)", release["version"], env, linked, sys.prefix)
        return env

    def _self_test(self, env: Path) -> None:
        """The new version's self-test against a copy of the database (its migrations run on the copy)."""
        folder = self.layout.data_dir / "update" / "selftest"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        try:
            settings_file = self.layout.data_dir / "settings.json"
            if settings_file.exists():
                shutil.copy2(settings_file, folder / "settings.json")
            copy = folder / "kiosk.sqlite3"
            source = sqlite3.connect(str(self.store.path), timeout=30)
            target = sqlite3.connect(str(copy))
            try:
                source.backup(target)  # a consistent snapshot while the kiosk keeps writing
            finally:
                target.close()
                source.close()
            out = self.run([str(env / "bin" / "hailong-kiosk"), "--data-dir", str(folder), "self-test"],
                           capture_output=True, text=True, timeout=300, cwd=str(folder),
                           env=_clean_env(QT_QPA_PLATFORM="offscreen", HAILONG_KIOSK_DB_PATH=str(copy),
                                          HAILONG_KIOSK_RELEASES_DIR=str(self.layout.releases)))
            if out.returncode != 0:
                failed = [line for line in out.stdout.splitlines() if line.startswith("FAIL")]
                raise UpdateRefused("failed", "self-test: " + (" | ".join(failed) if failed else _tail(out.stderr or out.stdout)))
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the copy holds the token and answers

    def _drop_prepared(self, state: dict) -> None:
        prepared = state.get("prepared")
        if not prepared:
            return
        state["prepared"] = None
        save_state(self.layout.state_path, state)
        self._remove_release(Path(prepared["env"]).parent)

    def _remove_release(self, root: Path) -> None:
        keep = {p.parent for p in (self.layout.current_env(), self.prefix) if p is not None}
        if root.resolve() in keep or not self.layout.holds(root) or root.resolve() == self.layout.releases.resolve():
            return
        shutil.rmtree(root, ignore_errors=True)

    # -- switch, confirm, report -----------------------------------------------------------

    def _switch(self, state: dict, prepared: dict) -> str:
        previous = self.layout.current_env() or self.prefix
        state["trial"] = {**prepared, "target": prepared["env"], "previous": str(previous), "previous_version": self.version,
                          "previous_schema": self.schema, "starts": 0, "max_starts": self.settings.update_max_starts,
                          "switched_at": format_rfc3339(now_local()), "last_exit": None}
        state["prepared"] = None
        save_state(self.layout.state_path, state)  # the trial first: a power cut after it is a trial that the guard ends
        switch_current(self.layout, Path(prepared["env"]))
        log.warning("switched to release %s (%s); restarting", prepared["version"], prepared["env"])
        return "restart"

    def _confirm(self, state: dict, trial: dict) -> None:
        state["trial"] = None
        state["installed"] = {k: trial[k] for k in ("release_id", "version", "sha256", "staged_at", "target", "previous",
                                                    "previous_version", "previous_schema")}
        _outcome(state, trial, "installed", f"after {trial['starts']} start(s), from {trial['previous_version']}",
                 trial.get("seconds"))
        save_state(self.layout.state_path, state)
        log.warning("release %s is healthy: installed", trial["version"])
        self.prune(state)
        self._report(state)

    def prune(self, state: dict) -> None:
        """Remove releases other than the current one, the previous one and one being prepared."""
        keep = set()
        for path in (self.layout.current_env(), (state.get("installed") or {}).get("previous"),
                     (state.get("prepared") or {}).get("env")):
            if path:
                keep.add(Path(path).resolve().parent)
        for entry in self.layout.releases.iterdir():
            if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".") and entry.resolve() not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    def _report(self, state: dict) -> None:
        """Send the outcome in a heartbeat (the usual one, with an ``update`` field); keep trying."""
        client = self.client()
        if client is None:
            return
        outcome = {k: v for k, v in state["outcome"].items() if v is not None}
        reporting = copy.copy(client)  # the same clocks and diagnostics; only the API adds the field
        reporting.api = _ReportingApi.like(client.api, outcome)
        try:
            reporting.heartbeat()
        except SyncError as exc:
            log.info("update outcome not reported yet: %s", exc)
            return
        state["reported"] = True
        save_state(self.layout.state_path, state)

    def request_rollback(self, why: str) -> None:
        """Ask the guard to put the previous release back at the next start (``update rollback``)."""
        with locked(self.layout):
            state = load_state(self.layout.state_path)
            state["rollback_request"] = why
            save_state(self.layout.state_path, state)


class _ReportingApi(ServerApi):
    """The same server and session, with the update outcome added to the heartbeat."""

    update: dict = {}

    @classmethod
    def like(cls, api: ServerApi, update: dict) -> "_ReportingApi":
        twin = cls.__new__(cls)
        twin.__dict__.update(api.__dict__)
        twin.update = update
        return twin

    def heartbeat(self, payload: dict, stamp=None) -> None:
        super().heartbeat({**payload, "update": self.update}, stamp)


def link_dependencies(site: Path) -> int:
    """Link every distribution of this interpreter's site-packages into ``site``, except our own.

    Each entry links to its real path (so a release never depends on another release's links, and
    removing an old release breaks nothing). ``hailong``'s own files (by its RECORD), the assets and
    ``__pycache__`` are left out: the wheel brings the first, the others are made afresh.
    """
    own: set[str] = set(_OWN_NAMES)
    try:
        for path in importlib.metadata.distribution("hailong").files or ():
            top = str(path).split("/", 1)[0]
            if top and top != "..":
                own.add(top)
    except importlib.metadata.PackageNotFoundError:
        pass
    count = 0
    sources = {Path(p) for p in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")} if p}
    for source in sources:
        if not source.is_dir():
            continue
        for entry in sorted(source.iterdir()):
            name = entry.name
            if name in own or name.startswith(("hailong-", "__editable__.hailong", "__editable___hailong")):
                continue
            link = site / name
            if link.exists() or link.is_symlink():
                continue
            try:
                real = entry.resolve(strict=True)
            except OSError:
                continue  # a dangling link
            link.symlink_to(real)
            count += 1
    return count


class UpdatingService:
    """A :class:`kiosk.sync.SyncService` whose rounds are followed by the updater's step: what the
    sync worker (and the headless loop) run. A round's report gains ``restart: True`` when the
    kiosk must exit with :data:`EXIT_RESTART`."""

    def __init__(self, service, updater: Updater):
        self.service = service
        self.updater = updater
        self.store = service.store
        self.settings = service.settings

    def run_round(self, force: bool = False) -> dict:
        report = self.service.run_round(force=force)
        if self.updater.after_round(report) == "restart":
            report["restart"] = True
            report["delay"] = 0.0
        return report


def updating(service, store, settings, data_dir: Path, *, gate: IdleGate | None = None):
    """``service`` wrapped with the updater when this kiosk has the release layout; else ``service``."""
    layout = Layout.find(data_dir, settings)
    if not layout.active():
        log.info("remote update off: no release layout at %s", layout.releases)
        return service
    # SyncService._client is the one place that knows how to reach this kiosk's server (URL,
    # token, timeouts, TLS): the updater downloads and reports through it.
    return UpdatingService(service, Updater(store, settings, layout, service._client, gate=gate))


# --- hailong-kiosk update ... ---------------------------------------------------------------------


def add_parser(sub) -> None:
    """``hailong-kiosk update status|now|rollback|guard|note-exit``."""
    p = sub.add_parser("update", help="remote update: state, install the staged release now, roll back (docs/install-kiosk.md)")
    what = p.add_subparsers(dest="update_command", required=True)
    what.add_parser("status", help="the running version, the release layout, a trial or outcome in progress")
    what.add_parser("now", help="fetch and install the release the server staged for this kiosk, then switch to it "
                                "(restart the service afterwards)")
    what.add_parser("rollback", help="put the previous release back at the next start of the service")
    # The service's own steps: every start runs the guard (kiosk.cli does), ExecStopPost note-exit.
    what.add_parser("guard", help="(the service's start) count a new release's starts; roll a failed one back")
    what.add_parser("note-exit", help="(the service's ExecStopPost) keep how the last run ended")


def command(args, data_dir: Path) -> int:
    """Run ``hailong-kiosk update …``. ``guard`` and ``note-exit`` run as the installed version
    (``kiosk.cli`` never hands them over); the others as the current release, like any command."""
    sub = args.update_command
    if sub == "guard":
        print(guard(Layout.find(data_dir)))
        return 0
    if sub == "note-exit":
        note_exit(Layout.find(data_dir))
        return 0
    from kiosk import settings as kiosk_settings
    from kiosk.store import Store
    from kiosk.sync import SyncService

    settings = kiosk_settings.load(data_dir)
    layout = Layout.find(data_dir, settings)
    if sub == "status":
        state = load_state(layout.state_path)
        print(json.dumps({"version": __version__, "python": sys.prefix, "releases": str(layout.releases),
                          "layout": layout.active(), "current": str(layout.current_env()) if layout.active() else None,
                          **{k: state.get(k) for k in ("trial", "prepared", "installed", "outcome", "reported")}},
                         ensure_ascii=False, indent=1))
        return 0
    if not layout.active():
        print(f"hailong-kiosk: no release layout at {layout.releases} (install with installer/install-kiosk.sh)", file=sys.stderr)
        return 2
    store = Store(layout.db_path)
    try:
        service = SyncService(store, settings)
        updater = Updater(store, settings, layout, service._client)
        if sub == "rollback":
            state = load_state(layout.state_path)
            if not (state.get("installed") or state.get("trial")):
                print("hailong-kiosk: no release installed by remote update to roll back from", file=sys.stderr)
                return 2
            if state.get("trial"):
                with locked(layout):
                    state = load_state(layout.state_path)
                    state["trial"]["rollback"] = "asked at the kiosk"
                    save_state(layout.state_path, state)
            else:
                updater.request_rollback("update rollback")
            print("the previous release comes back at the next start: sudo systemctl restart hailong-kiosk")
            return 0
        report = service.run_round(force=True)  # the newest config names the release
        if report["error"]:
            print(f"hailong-kiosk: sync: {report['error']}", file=sys.stderr)
        with locked(layout):
            done = updater._step(report, force=True)
        state = load_state(layout.state_path)
        if done == "restart":
            print(f"switched to {state['trial']['version']}: restart the kiosk now (sudo systemctl restart hailong-kiosk)")
            return 0
        staged = (store.get_meta("config") or {}).get("release")
        outcome = state.get("outcome") or {}
        print(json.dumps({"staged": staged, "outcome": outcome}, ensure_ascii=False, indent=1))
        failed = staged and outcome.get("sha256") == staged.get("sha256") and outcome.get("outcome") in ("failed", "refused")
        return 1 if failed else 0
    finally:
        store.close()
