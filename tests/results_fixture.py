"""A small hand-made data set for the results tests: answers stored straight through ``store_batch``.

Campaign window 2023-06-26 … 2023-06-30 (the 2023 tree). Headline ("overall") levels per commune:

- 7201 Thọ Xương: 5 5 4 4 3 1 2 counted, the 2 an ``incomplete`` walk-away (its follow-ups left:
  counted all the same, issue 12); two misuse presses (``cooldown`` 1 with a reason, ``burst`` 1)
  left out by default; "responsibility" 5 and 3 on two of the counted answers; officer cb-a. The 1
  gave its reasons (waited long, impolite); the walk-away 2 gave none ("không nêu lý do").
- 7204 Trần Nguyên Hãn: 5 4 4 4 2 2 and a walk-away 1 (``incomplete``) — the same 4 of 7 satisfied
  as 7201: a tie in the ranking. Its 2 2 1 gave no reason.
- 7246 Canh Nậu (district 215): 5×7 and 4, two of them by QR; one from a kiosk whose clock was off
  (created 2023-01-02, received inside the window: counted by receipt time, contract 7).
- 7207: no answers at all.

Procedure groups (lĩnh vực): 7201's 5 5 4 4 are ``ho_tich`` and its 3 1 (and the cooldown 1)
``dat_dai``; 7246's two QR answers (5 5) ``ho_tich``; every other answer names none.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hailong_core.ids import uuid7
from sync_server.storage.types import PreparedResponse

TZ = timezone(timedelta(hours=7))
CAMPAIGN = ("Đợt 2023", "2023-06-26", "2023-06-30")
DAY = datetime(2023, 6, 27, 9, 0, tzinfo=TZ)

# (unit, overall level, extra answers, flags, channel, officer)
ROWS = (
    [("7201", lv, {}, [], "kiosk", "cb-a") for lv in (5, 5, 4, 4)]
    + [("7201", 3, {"responsibility": 5}, [], "kiosk", "cb-a"), ("7201", 1, {"responsibility": 3, "why": ["waited_long", "impolite"]}, [], "kiosk", "cb-a")]
    + [("7201", 1, {"why": ["waited_long"]}, ["cooldown"], "kiosk", "cb-a"), ("7201", 1, {}, ["burst"], "kiosk", "cb-a"),
       ("7201", 2, {}, ["incomplete"], "kiosk", "cb-a")]
    + [("7204", lv, {}, [], "kiosk", "cb-b") for lv in (5, 4, 4, 4, 2, 2)] + [("7204", 1, {}, ["incomplete"], "kiosk", "cb-b")]
    + [("7246", 5, {}, [], "qr" if i < 2 else "kiosk", None) for i in range(6)] + [("7246", 4, {}, ["after_hours"], "kiosk", None)]
)
SUSPECT = ("7246", 5)  # created 2023-01-02 by a wrong clock, received on 2023-06-28


GROUPS = ["ho_tich"] * 4 + ["dat_dai"] * 3 + [None] * 9 + ["ho_tich"] * 2 + [None] * 5


def prepared(unit, level, extra, flags, channel, officer, when, seq, suspect=False, group=None, site=None):
    """One stored answer as ingest prepares it; ``site`` is the site it was given at (None: none recorded)."""
    answers = {"overall": level, **extra}
    rid = uuid7(int(when.timestamp() * 1000))
    values = (unit, officer, "bg-friendly-gov", 1, channel, seq, when.isoformat(), int(when.timestamp() * 1000),
              json.dumps(answers, sort_keys=True), json.dumps(flags), int(suspect), group, None, None, None, site)
    return PreparedResponse(rid, rid[:32], values, b"{}")


def first_site(storage, unit: str, when: datetime) -> int | None:
    """The site ingest would record for an answer of ``unit`` at ``when`` (its first site that day)."""
    found = storage.first_site(unit, when.astimezone(TZ).date().isoformat())
    return found["id"] if found else None


def load(storage) -> None:
    now = datetime.now(timezone.utc)
    storage.add_officer("cb-a", "7201", "Nguyễn Văn A", None, None, None, now)
    storage.add_officer("cb-b", "7204", "Trần Thị B", None, None, None, now)
    assert len(GROUPS) == len(ROWS)
    items = [prepared(*row, DAY + timedelta(minutes=i), i + 1, group=GROUPS[i], site=first_site(storage, row[0], DAY))
             for i, row in enumerate(ROWS)]
    storage.store_batch(None, items, (DAY + timedelta(hours=1)).isoformat(), None)
    wrong = datetime(2023, 1, 2, 9, 0, tzinfo=TZ)
    storage.store_batch(None, [prepared(SUSPECT[0], SUSPECT[1], {}, [], "kiosk", None, wrong, 999, suspect=True,
                                        site=first_site(storage, SUSPECT[0], DAY))],
                        datetime(2023, 6, 28, 10, 0, tzinfo=TZ).isoformat(), None)
    # Outside the window: must not count.
    july = datetime(2023, 7, 1, 9, 0, tzinfo=TZ)
    storage.store_batch(None, [prepared("7201", 1, {}, [], "kiosk", "cb-a", july, 1000, site=first_site(storage, "7201", july))],
                        datetime(2023, 7, 1, 9, 5, tzinfo=TZ).isoformat(), None)
    storage.add_campaign(CAMPAIGN[0], CAMPAIGN[1], CAMPAIGN[2], "bg-friendly-gov", 1, ["24"], now)
