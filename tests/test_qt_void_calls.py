"""PySide6 6.12.0 on Python 3.11 leaks a reference to None per void call and aborts after ~5,000
calls; a kiosk makes that many in an hour. We pin 6.11.3; this test keeps us honest."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QLabel  # noqa: E402

CALLS = 20_000


def test_twenty_thousand_void_calls_survive(qapp):
    label = QLabel()
    for i in range(CALLS):
        label.setText(f"Cảm ơn Ông/Bà! {i}")  # returns void
    assert label.text() == f"Cảm ơn Ông/Bà! {CALLS - 1}"
