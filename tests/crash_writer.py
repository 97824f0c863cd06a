"""Child process for tests/test_crash_kiosk.py: record answers forever, printing each id once stored.

An id is printed (and flushed) only after ``record_response`` returned, i.e. after its transaction
committed: whatever this process printed before it was SIGKILLed must be in the database.
"""

from __future__ import annotations

import sys

from kiosk.store import Store

QREF = {"id": "bg-friendly-gov", "version": 1}


def main(path: str) -> None:
    store = Store(path)
    out = sys.stdout
    n = 0
    while True:
        n += 1
        record = store.record_response(unit_code="7201", questionnaire=QREF,
                                       answers={"overall": 1 + n % 5, "why": ["waited_long"]} if n % 5 in (0, 1) else {"overall": 1 + n % 5},
                                       officer_id="cb-01" if n % 2 else None)
        out.write(f"{record['seq']} {record['id']}\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
