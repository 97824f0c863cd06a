"""Fleet helpers shared by pages: which kiosks went silent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def silent_devices(devices: list[dict], after_min: float, now: datetime | None = None) -> list[dict]:
    """Active kiosks not heard from for ``after_min`` minutes (never heard from counts from enrolment)."""
    now = now or datetime.now(timezone.utc)
    limit = now - timedelta(minutes=after_min)
    out = []
    for d in devices:
        if d["revoked_at"]:
            continue
        seen = d["last_seen_at"] or d["enrolled_at"]
        if datetime.fromisoformat(seen) < limit:
            out.append(d)
    return out
