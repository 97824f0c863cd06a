"""Helpers shared by the benchmarks: realistic records and figure printing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hailong_core.ids import uuid7
from hailong_core.timeutil import format_rfc3339

QREF = {"id": "bg-friendly-gov", "version": 1}
TZ = timezone(timedelta(hours=7))
REASONS = ["waited_long", "unclear_guidance", "extra_papers", "impolite", "harassment", "result_late", "other"]


def make_records(n: int, unit: str = "7201", seed: int = 7, start: datetime | None = None) -> list[dict]:
    """``n`` kiosk records as a kiosk makes them: time-ordered ids, a few follow-ups, rare flags."""
    rng = random.Random(seed)
    moment = start or datetime(2026, 6, 26, 7, 30, tzinfo=TZ)
    out = []
    for seq in range(1, n + 1):
        moment += timedelta(seconds=rng.randint(20, 400))
        overall = rng.choices([1, 2, 3, 4, 5], [3, 5, 12, 40, 40])[0]
        answers: dict = {"overall": overall}
        if overall <= 2:
            answers["why"] = rng.sample(REASONS, rng.randint(1, 2))
        elif rng.random() < 0.2:
            answers["responsibility"] = rng.randint(3, 5)
        out.append({"id": uuid7(int(moment.timestamp() * 1000)), "seq": seq, "unit_code": unit, "officer_id": None,
                    "questionnaire": QREF, "channel": "kiosk", "created_at": format_rfc3339(moment),
                    "answers": answers, "flags": ["cooldown"] if rng.random() < 0.01 else []})
    return out


def figure(name: str, value: float, unit: str) -> None:
    """One figure on a line of its own: ``name=value unit``."""
    print(f"{name}={value:.6g} {unit}", flush=True)


def count_figure(name: str, value: int, unit: str) -> None:
    """A whole-number figure printed in full (``figure`` would write 1000000 as 1e+06)."""
    print(f"{name}={int(value)} {unit}", flush=True)
