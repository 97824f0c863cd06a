"""What the heartbeat tells the fleet page about a kiosk, and its log's last lines on request (no Qt).

The heartbeat's ``diagnostics`` (protocol v1, optional: docs/kiosk.md) holds the self-test summary
(ok/warn/fail counts and the names of the checks that failed or warned, as the last runs left them
in the store: :func:`kiosk.selftest.record_results`), free disk and the database's size, the
kiosk's and the system's uptime, the clock as the system sees it (zone, NTP sync state, offset)
and when the last error was noted. The light checks and the clock are re-read at most every
``diagnostics_interval_s``; the rest is cheap and read for every heartbeat.

The log: the kiosk writes its own (``kiosk.log`` beside the database, rotated at 1 MiB, two old
files kept: :func:`install_log_file`), because the service account cannot read the system
journal. When a province admin asks for it on the fleet page, the next heartbeat's answer carries
the request; :func:`log_upload` reads the last lines (at most :data:`MAX_LOG_LINES` lines and
:data:`MAX_LOG_BYTES`), with device tokens, PINs, passwords, enrolment and dossier codes taken
out (:func:`scrub`), and the sync client posts them (``POST /api/v1/kiosk/log``).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

from kiosk import selftest
from kiosk.store import Store, StoreError

log = logging.getLogger(__name__)

LOG_NAME = "kiosk.log"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES, LOG_BACKUPS = 1024 * 1024, 2
MAX_LOG_LINES = 500
MAX_LOG_BYTES = 64 * 1024
MAX_LINE_CHARS = 1000
HIDDEN = "[đã ẩn]"


def log_path(store: Store) -> Path:
    """Where the kiosk's own log lives: beside its database, in the folder the service may write."""
    return store.path.with_name(LOG_NAME)


def install_log_file(path: Path, level: int = logging.INFO) -> logging.Handler | None:
    """Add a rotating file handler for ``path`` to the root logger (once); None when it cannot be opened.

    Lines are scrubbed when read back for an upload, not when written: the file stays a faithful
    record for staff at the box.
    """
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == Path(path).resolve():
            return handler
    try:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file at %s (%s): only the journal keeps the log", path, exc)
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return handler


# --- scrubbing ----------------------------------------------------------------------------------------

_SECRET_KEYS = r"token|access_token|authorization|pin|admin_pin|pin_hash|admin_pin_hash|password|passwd|secret|enrol_code|" \
               r"enroll_code|dossier|dossier_code|ma_ho_so"
_SCRUBS = (
    # Authorization: Bearer <token>
    (re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+"), r"\1 " + HIDDEN),
    # key=value, key: value, "key": "value" (JSON, query strings, log arguments).
    (re.compile(r"""(?i)(["']?\b(?:""" + _SECRET_KEYS + r""")\b["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&)}\]]+)"""), r"\1" + HIDDEN),
    # Device tokens (hl1_…), Argon2 hashes, enrolment codes (ABCD-EFGH-JKMN, no 0/O/1/I/L).
    (re.compile(r"\bhl[0-9]_[A-Za-z0-9_-]{8,}"), HIDDEN),
    (re.compile(r"\$argon2[a-z]*\$[^\s'\",;]+"), HIDDEN),
    (re.compile(r"(?<![0-9A-Za-z-])[A-HJKMNP-Z2-9]{4}(?:-[A-HJKMNP-Z2-9]{4}){2}(?![0-9A-Za-z-])"), HIDDEN),
    # The one-stop systems' dossier codes: 000.00.24.H06-250701-0001, H24.22-250701-0001.
    (re.compile(r"(?i)(?<![\w.-])(?:[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.)?H[0-9]{2}(?:\.[0-9]+)*-[0-9]{6}-[0-9]{4}(?![\w.-])"), HIDDEN),
)


def scrub(line: str, dossier_pattern: str | None = None) -> str:
    """``line`` without secrets: tokens, PINs and passwords, enrolment codes, dossier codes.

    ``dossier_pattern`` is the province's receipt-code pattern from the config; any stretch of the
    line it matches (case-insensitively) goes too.
    """
    for pattern, replacement in _SCRUBS:
        line = pattern.sub(replacement, line)
    if dossier_pattern:
        try:
            line = re.sub(r"(?i)(?<![\w./-])(?:" + dossier_pattern + r")(?![\w./-])", HIDDEN, line)
        except re.error:
            pass
    return line


# --- the log's tail ----------------------------------------------------------------------------------------

def _tail_bytes(path: Path, limit: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - limit))
        data = fh.read()
    if size > limit:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""  # drop the partial first line
    return data


def read_tail(path: Path, lines: int, *, max_bytes: int = MAX_LOG_BYTES, dossier_pattern: str | None = None,
              run: Callable = subprocess.run) -> tuple[list[str], bool]:
    """The last ``lines`` lines of the log (the rotated file before it when needed), scrubbed and bounded.

    Returns ``(lines, truncated)``: ``truncated`` when the byte bound cut lines that were asked for.
    Without a log file, the journal's lines when this account may read them, else one line saying so.
    """
    count = max(1, min(int(lines), MAX_LOG_LINES))
    raw: list[str] = []
    for candidate in (path, path.with_name(path.name + ".1")):
        if len(raw) >= count:
            break
        try:
            chunk = _tail_bytes(candidate, max_bytes * 4).decode("utf-8", errors="replace").splitlines()
        except OSError:
            continue
        raw = chunk + raw
    if not raw:
        raw = _journal(count, run) or [f"(no log file at {path})"]
    wanted = [scrub(line, dossier_pattern)[:MAX_LINE_CHARS] for line in raw[-count:]]
    out: list[str] = []
    total = 0
    for line in reversed(wanted):
        total += len(line.encode("utf-8")) + 1
        if total > max_bytes:
            break
        out.append(line)
    out.reverse()
    return out, len(out) < len(wanted)


def _journal(lines: int, run: Callable) -> list[str]:
    try:
        done = run(["journalctl", "-u", "hailong-kiosk", "-n", str(lines), "-o", "short-iso", "--no-pager", "-q"],
                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.splitlines() if done.returncode == 0 else []


# --- the heartbeat's diagnostics ---------------------------------------------------------------------------

def _system_uptime_s() -> float | None:
    try:
        return round(float(Path("/proc/uptime").read_text(encoding="ascii").split()[0]), 1)
    except (OSError, ValueError, IndexError):
        return None


class Diagnostics:
    """Collects the heartbeat's ``diagnostics`` and answers log requests, for one running kiosk.

    ``monotonic`` is the clock of the kiosk's uptime (made when the app starts); ``read_time`` the
    system clock's facts (:func:`kiosk.selftest.read_time`); both are injected for tests.
    """

    def __init__(self, store: Store, settings, *, monotonic: Callable[[], float] = time.monotonic,
                 read_time: Callable[[], selftest.TimeReport] = selftest.read_time,
                 system_uptime: Callable[[], float | None] = _system_uptime_s, log_file: Path | None = None):
        self.store = store
        self.settings = settings
        self.monotonic = monotonic
        self.read_time = read_time
        self.system_uptime = system_uptime
        self.log_file = log_file or log_path(store)
        self.started = monotonic()
        self._refreshed: float | None = None
        self._time: selftest.TimeReport | None = None

    def refresh(self) -> None:
        """Re-run the light self-test checks and re-read the clock (they are kept in the store)."""
        report = self.read_time()
        self._time = report
        results = selftest.run_checks(self.store, self.settings, selftest.LIGHT_CHECKS, read_time=lambda: report)
        selftest.record_results(self.store, results, full=False)
        self._refreshed = self.monotonic()

    def collect(self) -> dict:
        """The heartbeat's ``diagnostics``; never raises (what cannot be read is left out)."""
        interval = float(getattr(self.settings, "diagnostics_interval_s", 600.0))
        if self._refreshed is None or self.monotonic() - self._refreshed >= interval:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a heartbeat without the checks beats no heartbeat
                log.exception("diagnostics: the light checks failed")
        out: dict = {"uptime_s": round(max(0.0, self.monotonic() - self.started), 1)}
        system = self.system_uptime()
        if system is not None:
            out["system_uptime_s"] = system
        try:
            out["selftest"] = selftest.summary(self.store)
            out["last_error_at"] = self.store.get_meta("last_error_at")
        except StoreError:
            log.exception("diagnostics: the store cannot be read")
        try:
            out["disk_free_bytes"] = shutil.disk_usage(self.store.path.parent).free
        except OSError:
            pass
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += Path(str(self.store.path) + suffix).stat().st_size
            except OSError:
                pass
        out["db_bytes"] = size
        if self._time is not None:
            t = self._time
            out["time"] = {"zone": t.zone, "synchronized": t.synchronized, "offset_ms": t.offset_ms, "server": t.server}
        return {k: v for k, v in out.items() if v is not None}

    def log_upload(self, request: dict) -> dict:
        """The body answering a log request ``{id, lines}``: ``{request_id, lines, truncated}``."""
        config = self.store.get_meta("config") or {}
        pattern = ((config.get("settings") or {}).get("dossier_pattern") or None) if isinstance(config, dict) else None
        lines, truncated = read_tail(self.log_file, int(request.get("lines") or 200), dossier_pattern=pattern)
        return {"request_id": str(request["id"]), "lines": lines, "truncated": truncated}
