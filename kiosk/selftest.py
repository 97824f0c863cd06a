"""``hailong-kiosk self-test``: what IT staff (and the installer) run to know a kiosk is sound.

Checks, each reported on a line: the database opens, is at the current schema and passes
``PRAGMA integrity_check``; a write transaction can be taken (disk writable, not locked); the
questionnaire (from config, else the shipped default) is valid; Qt starts (offscreen is fine),
a font with Vietnamese glyphs is available, and the kiosk window builds and paints.
"""

from __future__ import annotations

from typing import Callable

from kiosk.store import Store, StoreError


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


def run_self_test(store: Store, settings, out: Callable[[str], None] = print) -> bool:
    """Run every check, print one line each; True when all passed."""
    checks = [
        ("database", lambda: _check_database(store)),
        ("writable", lambda: _check_writable(store)),
        ("questionnaire", lambda: _check_questionnaire(store)),
        ("qt", lambda: _check_qt(store, settings)),
    ]
    ok = True
    for name, check in checks:
        try:
            out(f"ok    {name}: {check()}")
        except Exception as exc:  # noqa: BLE001 - report every failing check, not just the first
            ok = False
            out(f"FAIL  {name}: {exc.__class__.__name__}: {exc}")
    out("self-test passed" if ok else "self-test FAILED")
    return ok
