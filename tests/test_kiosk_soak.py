"""Soak: 20,000 screen transitions in one process, no crash, memory within a stated bound.

Bound: after a 1,000-transition warm-up, resident memory may grow by at most 40 MB over the
remaining 19,000 transitions (widgets rebuilt per follow-up are deleted; nothing accumulates).
Each cycle walks 7 transitions: start → thanks → start → roster → start → why chips → thanks → …
with two durable commits.
"""

from __future__ import annotations

import os

import psutil
from PySide6.QtCore import QCoreApplication, QEvent, Qt

from kiosk import settings as kiosk_settings
from kiosk.app import build
from kiosk.store import Store

TRANSITIONS = 20_000
WARM_UP = 1_000
RSS_GROWTH_BOUND_MB = 40


def test_twenty_thousand_transitions(qtbot, tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(unit_code="7201")
    window, worker = build(store, kiosk_settings.load(tmp_path, thank_you_s=60, input_guard_s=0))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    seen: list[str] = []
    window.sig_screen_changed.connect(seen.append)
    click = lambda w: qtbot.mouseClick(w, Qt.MouseButton.LeftButton)  # noqa: E731
    process = psutil.Process(os.getpid())
    baseline = None
    while len(seen) < TRANSITIONS:
        click(window.start_screen.faces()[4])            # → thanks (commit)
        click(window.thanks_screen)                      # → start
        click(window.start_screen.duty.officer_button)   # → roster
        click(window.roster_screen.back_button)          # → start
        click(window.start_screen.faces()[0])            # → why chips (draft)
        click(window.followup_screen.skip_button)        # → thanks (pending)
        click(window.thanks_screen)                      # → start
        # Deleted widgets (rebuilt chips) go when the event loop comes round; run that part of it.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        if baseline is None and len(seen) >= WARM_UP:
            baseline = process.memory_info().rss
    grown_mb = (process.memory_info().rss - baseline) / 2**20
    assert window.current_screen() is window.start_screen
    cycles = len(seen) // 7
    assert store.counts()["pending"] == 2 * cycles
    assert grown_mb <= RSS_GROWTH_BOUND_MB, f"RSS grew {grown_mb:.1f} MB over {TRANSITIONS - WARM_UP} transitions"
    print(f"soak: {len(seen)} transitions, RSS growth after warm-up {grown_mb:.1f} MB")
    worker.stop()
    store.close()
