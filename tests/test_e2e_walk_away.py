"""A red face, then walking away, counts in the default results (issue 12), end to end.

Real parts: the kiosk window (Qt offscreen) with its real idle timer and the default tap guard, the
kiosk store on a SQLite file, the real sync client, a real ``hailong-server serve`` process, and
the real ``hailong-server export`` command reading the server's database (SQLite, or PostgreSQL
when the suite runs there).
"""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from kiosk import settings as kiosk_settings
from kiosk.app import build
from kiosk.store import Store
from kiosk.sync import SyncService, enroll
from tests.support import server_cli


def test_a_red_face_and_a_walk_away_counts_in_the_default_results(qtbot, server, tmp_path):
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")
    settings = kiosk_settings.load(tmp_path, idle_timeout_s=1.0, thank_you_s=30)
    window, worker = build(store, settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: not window.tap_guard.guarding(), timeout=3000)
    red = next(f for f in window.start_screen.faces() if f.value == 1)
    with qtbot.waitSignal(window.sig_answer_started, timeout=3000):
        qtbot.mouseClick(red, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.sig_answer_abandoned, timeout=5000) as abandoned:
        pass  # the citizen walks away: the idle timer ends the answer
    assert store.get_record(abandoned.args[0])["record"]["flags"] == ["incomplete"]
    report = SyncService(store, settings).run_round(force=True)
    assert report["error"] is None and report["sent"] == 1

    out = tmp_path / "report.csv"
    day = store.get_record(abandoned.args[0])["record"]["created_at"][:10]
    server_cli(server.db, "export", "--format", "csv", "--out", str(out), "--unit", "7201", "--from", day, "--to", day)
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    header, unit = rows[0], next(r for r in rows[1:] if r[2] == "7201")
    cell = dict(zip(header, unit))
    assert cell["Số phiếu tính"] == "1" and cell["Hài lòng"] == "0", cell
    assert cell["Phiếu bỏ dở phần hỏi thêm (vẫn tính câu đã trả lời)"] == "1", cell
    worker.stop()
    store.close()
