"""``hailong-kiosk self-test``: what IT staff (and the installer) run to know a kiosk is sound.

Checks, each reported on a line: the database opens, is at the current schema and passes
``PRAGMA integrity_check``; a write transaction can be taken (disk writable, not locked); the
questionnaire (from config, else the shipped default) is valid; Qt starts (offscreen is fine),
a font with Vietnamese glyphs is available, and the kiosk window builds and paints; the system's
time zone and clock synchronisation (zone, synchronised or not, offset from the time server).

The time check warns and never fails: right after an install the clock may not have reached its
server yet, and the kiosk stamps every answer with the device time and its UTC offset (the server
flags a clock that is off, contract 7). It reads what systemd says (``timedatectl``), else the
files systemd keeps (``/etc/timezone``, ``/etc/localtime``, ``/run/systemd/timesync/synchronized``),
so it degrades to "unknown" where neither is there (a container, a scratch root).

Two checks of the server connection (issue 16): ``tls`` fails when the TLS settings cannot be used
(a ``ca_bundle`` that does not load, a malformed pin); ``server`` reaches the server the kiosk is
enrolled with, through them, and only warns (the network may be down at install time), in
Vietnamese when the certificate is the problem (:func:`kiosk.tls.explain`).

Every run keeps its results in the store (``selftest`` in meta): the heartbeat carries their
summary to the fleet page (:mod:`kiosk.diagnostics`), which also re-runs the light checks now and
then (:data:`LIGHT_CHECKS`: no window, no integrity check, no network).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from hailong_core.timeutil import format_rfc3339, now_local
from kiosk.store import Store, StoreError

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


@dataclass(frozen=True)
class TimeReport:
    """What the system says about its clock; None where it cannot say."""

    zone: str | None
    synchronized: bool | None
    offset_ms: float | None = None
    server: str | None = None
    ntp_configured: tuple[str, ...] = ()

    def line(self) -> str:
        sync = {True: "synchronised", False: "NOT synchronised", None: "sync state unknown"}[self.synchronized]
        parts = [f"zone {self.zone or 'unknown'}", sync]
        if self.server:
            parts.append(f"server {self.server}")
        elif self.ntp_configured:
            parts.append("NTP " + " ".join(self.ntp_configured))
        if self.offset_ms is not None:
            parts.append(f"offset {self.offset_ms:+.1f} ms")
        return ", ".join(parts)


_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "min": 60000.0}


def parse_offset_ms(text: str) -> float | None:
    """``Offset: -3.201ms`` (``timedatectl timesync-status``) → -3.201; sums ``+1s 250ms`` forms."""
    match = re.search(r"^\s*Offset:\s*([+-]?)(.+)$", text or "", re.M)
    if not match:
        return None
    total, found = 0.0, False
    for value, unit in re.findall(r"([0-9.]+)\s*(ns|us|µs|ms|min|s)\b", match.group(2)):
        total += float(value) * _UNITS_MS[unit]
        found = True
    return (-total if match.group(1) == "-" else total) if found else None


def read_time(root: Path = Path("/"), run: Runner = _run) -> TimeReport:
    """The zone, the sync state and, when known, the offset: systemd's word first, then its files."""
    root = Path(root)
    zone = synchronized = offset = server = None
    if root == Path("/"):
        shown = run(["timedatectl", "show", "-p", "Timezone", "-p", "NTPSynchronized"])
        if shown.returncode == 0:
            values = dict(line.partition("=")[::2] for line in shown.stdout.splitlines() if "=" in line)
            zone = values.get("Timezone") or None
            synchronized = {"yes": True, "no": False}.get(values.get("NTPSynchronized", ""))
        status = run(["timedatectl", "timesync-status"])
        if status.returncode == 0:
            offset = parse_offset_ms(status.stdout)
            match = re.search(r"^\s*Server:\s*(\S+)", status.stdout, re.M)
            server = match.group(1) if match else None
    if zone is None:
        try:
            zone = (root / "etc/timezone").read_text(encoding="utf-8").strip() or None
        except OSError:
            pass
    if zone is None:
        try:
            target = os.readlink(root / "etc/localtime")
            zone = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else None
        except OSError:
            pass
    if synchronized is None and (root / "run/systemd/timesync").is_dir():
        synchronized = (root / "run/systemd/timesync/synchronized").exists()
    configured: list[str] = []
    for conf in sorted((root / "etc/systemd/timesyncd.conf.d").glob("*.conf")):
        try:
            for line in conf.read_text(encoding="utf-8").splitlines():
                if line.strip().startswith("NTP="):
                    configured += line.split("=", 1)[1].split()
        except OSError:
            continue
    return TimeReport(zone, synchronized, offset, server, tuple(configured))


class _Warning(Exception):
    """A check that found something to look at, without failing the self-test."""


def _check_time(store: Store, read: Callable[[], TimeReport]) -> str:
    from kiosk.clock import DEFAULT_ZONE

    report = read()
    wanted = str(((store.get_meta("config") or {}).get("settings") or {}).get("time_zone") or DEFAULT_ZONE)
    problems = []
    if report.zone and report.zone != wanted:
        problems.append(f"the system's zone is not {wanted} (the kiosk still keeps province time)")
    if report.synchronized is False:
        problems.append("the clock has not reached its time server yet")
    if report.offset_ms is not None and abs(report.offset_ms) > 2000:
        problems.append("the clock is more than 2 s off")
    if problems:
        raise _Warning(f"{report.line()}: " + "; ".join(problems))
    return report.line()


def _check_database(store: Store) -> str:
    from kiosk.migrations import MIGRATIONS

    version = store.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
    if version != len(MIGRATIONS):
        raise RuntimeError(f"schema {version}, expected {len(MIGRATIONS)}")
    if not store.integrity_ok():
        raise RuntimeError("integrity_check failed")
    counts = store.counts()
    return f"schema {version}, integrity ok, {counts.get('pending', 0)} pending"


def _check_writable(store: Store) -> str:
    class _Probe(Exception):
        pass

    try:
        # Take the write lock and roll back: proves the disk and the lock work, stores nothing.
        store.write(lambda c: (_ for _ in ()).throw(_Probe()))
    except _Probe:
        return "write lock taken and released"
    except StoreError as exc:
        raise RuntimeError(f"cannot write: {exc}") from exc
    raise RuntimeError("unreachable")


def _check_questionnaire(store: Store) -> str:
    from hailong_core.questionnaire import load_default_questionnaire, parse_questionnaire

    config = store.get_meta("config") or {}
    q = parse_questionnaire(config["questionnaire"]) if config.get("questionnaire") else load_default_questionnaire()
    return f"{q.id} v{q.version}, {len(q.questions)} questions"


def _check_qt(store: Store, settings) -> str:
    from kiosk.ui.selftest_qt import check_qt  # the Qt side lives with the GUI (tests/test_imports.py)

    return check_qt(store, settings)


def _check_tls(settings) -> str:
    from kiosk import tls

    config = tls.TlsConfig.from_settings(settings)  # a malformed pin raises ValueError here
    if config.ca_bundle:
        try:
            tls.load_bundle(config.ca_bundle)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise RuntimeError(f"{tls.VI['bundle'][0]} {config.ca_bundle}: {exc.__class__.__name__}: {exc}") from exc
    if not config.verify:
        raise _Warning(f"{config.describe()}: verify_tls is off" + ("" if config.pins else ", anyone can pose as the server"))
    return config.describe()


def _check_server(store: Store, settings) -> str:
    from kiosk import tls
    from kiosk.sync import check_connection

    config = tls.TlsConfig.from_settings(settings)
    url = store.get_meta("server_url")
    if not url:
        return "not enrolled yet"
    result = check_connection(url, store.get_meta("token"), session=tls.session_for(config=config),
                              timeout=(float(getattr(settings, "connect_timeout_s", 5.0)), 10.0), verify=config.verify)
    if result["ok"]:
        return f"{url}: {result['message']}"
    explained = tls.explain(result["message"])
    raise _Warning(f"{url}: " + (f"{explained[0]} ({result['message']})" if explained else result["message"]))


_LABELS = {"ok": "ok   ", "warn": "warn ", "fail": "FAIL "}
CHECKS = ("database", "writable", "questionnaire", "qt", "time", "tls", "server")
LIGHT_CHECKS = ("writable", "questionnaire", "time", "tls")
"""The checks the heartbeat's diagnostics re-run by themselves: cheap, no window, no network."""


def run_checks(store: Store, settings, names: Sequence[str] = CHECKS, *,
               read_time: Callable[[], TimeReport] = read_time) -> list[tuple[str, str, str]]:
    """Run the named checks; ``(name, "ok" | "warn" | "fail", message)`` each, in order."""
    checks = {
        "database": lambda: _check_database(store),
        "writable": lambda: _check_writable(store),
        "questionnaire": lambda: _check_questionnaire(store),
        "qt": lambda: _check_qt(store, settings),
        "time": lambda: _check_time(store, read_time),
        "tls": lambda: _check_tls(settings),
        "server": lambda: _check_server(store, settings),
    }
    results = []
    for name in names:
        try:
            results.append((name, "ok", checks[name]()))
        except _Warning as exc:
            results.append((name, "warn", str(exc)))
        except Exception as exc:  # noqa: BLE001 - report every failing check, not just the first
            results.append((name, "fail", f"{exc.__class__.__name__}: {exc}"))
    return results


def record_results(store: Store, results: list[tuple[str, str, str]], *, full: bool, at: str | None = None) -> None:
    """Keep the results in the store's ``selftest`` meta, over those of checks not run this time.

    ``full`` marks a run of every check (the command, the installer), whose time is kept apart.
    Never raises: a store that cannot be written is itself what the results say.
    """
    at = at or format_rfc3339(now_local())
    try:
        kept = store.get_meta("selftest") or {}
        checks = dict(kept.get("checks") or {})
        checks.update({name: {"status": status, "message": message[:300]} for name, status, message in results})
        store.set_meta(selftest={"at": at, "full_at": at if full else kept.get("full_at"), "checks": checks})
    except StoreError:
        pass


def summary(store: Store) -> dict | None:
    """What the heartbeat carries: ``{at, full_at, ok, warn, fail, failing, warning}``; None before any run."""
    kept = store.get_meta("selftest")
    if not kept or not kept.get("checks"):
        return None
    checks = kept["checks"]
    by = {status: sorted(n for n, c in checks.items() if c.get("status") == status) for status in ("ok", "warn", "fail")}
    return {"at": kept.get("at"), "full_at": kept.get("full_at"), "ok": len(by["ok"]), "warn": len(by["warn"]),
            "fail": len(by["fail"]), "failing": by["fail"], "warning": by["warn"]}


def run_self_test(store: Store, settings, out: Callable[[str], None] = print, *,
                  read_time: Callable[[], TimeReport] = read_time) -> bool:
    """Run every check, print one line each (``ok``, ``warn`` or ``FAIL``); True when none failed.

    The results are kept for the heartbeat (:func:`record_results`).
    """
    results = run_checks(store, settings, read_time=read_time)
    for name, status, message in results:
        out(f"{_LABELS[status]} {name}: {message}")
    record_results(store, results, full=True)
    ok = all(status != "fail" for _, status, _ in results)
    out("self-test passed" if ok else "self-test FAILED")
    return ok
