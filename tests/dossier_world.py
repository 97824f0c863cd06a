"""Helpers the dossier tests share (issue 14): a generated register as the one-stop information
system exports it, ratings of its dossiers sent the ways citizens give them (kiosk uploads through
the real API, phone answers down the phone form's ingest path), and the QĐ 766 item 5.4 worked out
by hand from the generated data, independently of ``sync_server.results.official``."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient

from hailong_core.questionnaire import parse_questionnaire
from sync_server.ingest import ingest
from tests.records import UPLOAD, make_record

HEADER = ["ma_ho_so", "unit_code", "linh_vuc", "thu_tuc", "ngay_tiep_nhan", "ngay_hen_tra", "ngay_tra", "trang_thai", "kenh",
          "co_phan_anh", "quay"]
FIELDS = ("Hộ tịch", "Đất đai", "Chứng thực", "Tư pháp")
# 213 is a district with dossiers of its own; 7201 and 7204 are its communes; 7246 (district 215) is the
# model commune: generous due dates, few late, mostly pleased citizens, no complaints (full points).
UNITS = ("213", "7201", "7204", "7246", "7207")
GOOD_UNIT = "7246"


@dataclass
class Dossier:
    code: str
    unit: str
    field: str
    received: datetime
    due: datetime
    due_time: bool
    returned: datetime | None
    returned_time: bool
    complaint: bool
    counter: str
    channel: str = "Trực tiếp"
    ratings: list = field(default_factory=list)  # (level, flags, channel) in the order they are sent

    def row(self, rng: random.Random) -> list[str]:
        """The export's row; ``rng`` only picks how dates are spelt (the values stay the same)."""
        return [self.code, self.unit, self.field, f"Thủ tục {self.field.lower()}", _date(self.received, False, rng),
                _date(self.due, self.due_time, rng), _date(self.returned, self.returned_time, rng) if self.returned else "",
                "Đã trả kết quả" if self.returned else "Đang xử lý", self.channel,
                "1" if self.complaint else "", self.counter]

    @property
    def counted_level(self) -> int | None:
        """The level of the rating that counts: the first sent without a misuse flag."""
        for level, flags, _ in self.ratings:
            if not flags:
                return level
        return None


def _date(moment: datetime, with_time: bool, rng: random.Random) -> str:
    style = rng.randrange(2)
    day = moment.strftime("%d/%m/%Y") if style == 0 else moment.strftime("%Y-%m-%d")
    if not with_time:
        return day
    return f"{day} {moment:%H:%M}" if rng.randrange(2) else f"{day}{'T' if style else ' '}{moment:%H:%M:%S}"


def window_for(today: date) -> tuple[date, date]:
    """A 30-day window that ended a month ago: every due date in it has passed."""
    end = today - timedelta(days=31)
    return end - timedelta(days=29), end


def generate(n: int, today: date, seed: int = 14) -> list[Dossier]:
    """``n`` dossiers received over the window and the 20 days before it, most returned, some rated."""
    rng = random.Random(seed)
    start, end = window_for(today)
    out = []
    for i in range(n):
        unit = UNITS[i % len(UNITS)]
        good = unit == GOOD_UNIT
        received = datetime.combine(start - timedelta(days=20), datetime.min.time()) + timedelta(
            days=rng.randrange((end - start).days + 21), hours=7 + rng.randrange(10), minutes=rng.randrange(60))
        span = 15 if good else rng.randrange(3, 15)
        due = max(received, received + timedelta(days=span, hours=rng.randrange(-3, 4)))
        returned = None
        if rng.random() < (0.97 if good else 0.85):
            returned = received + timedelta(days=rng.randrange(0, 11 if good else span + 4), hours=rng.randrange(0, 6))
            if rng.random() < 0.05:
                returned = due  # on the due day itself: on time
        d = Dossier(f"H24.{unit}-{received:%y%m%d}-{i:05d}", unit, rng.choice(FIELDS), received, due, rng.random() < 0.3,
                    returned, rng.random() < 0.4, (not good) and rng.random() < 0.06, str(1 + rng.randrange(3)),
                    rng.choice(("Trực tiếp", "Trực tuyến", "Bưu chính")))
        if rng.random() < 0.6:
            if rng.random() < 0.05:
                d.ratings.append((5, ["burst"], "kiosk"))  # a misuse press first: it must not take the dossier
            level = rng.choice((4, 5, 5, 5, 5, 5, 5, 4, 4, 3) if good else (1, 2, 3, 4, 5, 5, 4, 5, 3, 5))
            d.ratings.append((level, [], "qr" if rng.random() < 0.2 else "kiosk"))
            if rng.random() < 0.06:
                d.ratings.append((1 if level > 2 else 5, [], rng.choice(("kiosk", "qr"))))  # a repeat: kept, never counted
        out.append(d)
    return out


def register_csv(dossiers: list[Dossier], seed: int = 1) -> bytes:
    rng = random.Random(seed)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for d in dossiers:
        writer.writerow(d.row(rng))
    return buf.getvalue().encode("utf-8")


def send_ratings(app, storage, tokens: dict[str, str], dossiers: list[Dossier], batch: int = 1000) -> int:
    """Send every rating, in order: kiosk ones through the upload API (one kiosk per unit), phone ones down the
    phone form's path (ingest without a device, channel qr); codes in mixed case. Returns how many were sent."""
    questionnaires = {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
    client = TestClient(app)
    pending: dict[tuple[str, str], list[dict]] = {}
    seqs: dict[tuple[str, str], int] = {}
    sent = 0

    def flush() -> None:
        for (unit, channel), records in pending.items():
            if not records:
                continue
            if channel == "kiosk":
                resp = client.post(UPLOAD, json={"responses": records}, headers={"Authorization": f"Bearer {tokens[unit]}"})
                assert resp.status_code == 200, resp.text[:300]
                results = resp.json()["results"]
            else:
                results = ingest(storage, None, {"responses": records}, max_items=len(records), skew_s=300,
                                 questionnaires=questionnaires, unit_code=unit)["results"]
            assert {r["status"] for r in results} == {"accepted"}, results[:3]
        pending.clear()

    # Round by round (a dossier's first ratings go before its later ones), so "first received" is as generated.
    depth = max((len(d.ratings) for d in dossiers), default=0)
    for round_ in range(depth):
        for d in dossiers:
            if len(d.ratings) <= round_:
                continue
            level, flags, channel = d.ratings[round_]
            key = (d.unit, channel)
            seqs[key] = seqs.get(key, 0) + 1
            pending.setdefault(key, []).append(make_record(seqs[key], d.unit, {"overall": level}, channel=channel, flags=flags,
                                                           dossier_code=d.code.lower() if sent % 2 else d.code))
            sent += 1
            if len(pending[key]) >= batch:
                flush()
        flush()
    return sent


def hand_measure(dossiers: list[Dossier], start: date, end: date, today: date, units: set[str] | None = None,
                 points_max: float = 6.0, full: float = 90.0) -> dict[str, dict]:
    """QĐ 766 item 5.4 per unit, worked out from the generated data (docs/dossiers.md's rules)."""
    out: dict[str, dict] = {}
    last_due = min(end, today - timedelta(days=1))
    for d in dossiers:
        if units is not None and d.unit not in units:
            continue
        if d.returned is not None:
            if not start <= d.returned.date() <= end:
                continue
            if d.returned.date() != d.due.date() or not (d.due_time and d.returned_time):
                late = d.returned.date() > d.due.date()
            else:
                late = d.returned.replace(second=0) > d.due.replace(second=0)
        else:
            if not start <= d.due.date() <= last_due:
                continue
            late = True
        u = out.setdefault(d.unit, {"dossiers": 0, "late": 0, "rated": 0, "dislikes": 0, "complaints": 0, "bad": 0})
        level = d.counted_level
        dislike = level in (1, 2)
        u["dossiers"] += 1
        u["late"] += late
        u["rated"] += level is not None
        u["dislikes"] += dislike
        u["complaints"] += d.complaint
        u["bad"] += dislike or d.complaint
    for u in out.values():
        u["ratio"] = max(0.0, 100.0 * (u["dossiers"] - u["late"] - u["bad"]) / u["dossiers"])
        u["points"] = points_max if u["ratio"] >= full else u["ratio"] * points_max / full
    return out
