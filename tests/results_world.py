"""Helpers the results tests share: answers put in the ways citizens give them (a kiosk through
the real upload API, a phone through the real form), the textbook Wilson bound, XLSX sheets read back."""

from __future__ import annotations

import io
import math
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hailong_core.timeutil import format_rfc3339, now_local
from sync_server import security
from tests.records import UPLOAD, make_record
from tests.server_web import CSRF_RE


def wilson_low(k: int, n: int) -> float:
    """The textbook formula, independent of hailong_core.scoring."""
    z = 1.959963984540054
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def enrol(app, storage, unit: str, site_id: int | None = None) -> str:
    """A kiosk of ``unit`` (at ``site_id``, else its first site) enrolled through the real API; its token."""
    code = security.new_enroll_code()
    storage.create_enroll_code(unit, security.digest(security.normalise_code(code)), now_local() + timedelta(hours=1),
                               site_id=site_id)
    resp = TestClient(app).post("/api/v1/enroll", json={"code": code, "name": f"Kiosk {unit}"})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


def upload(app, token: str, unit: str, answers: list[tuple[dict, list[str]]], first_seq: int = 1,
           officer_id: str | None = None) -> None:
    """Kiosk answers ``(answers, flags)`` made five minutes ago, uploaded with the kiosk's token; all accepted."""
    created = now_local() - timedelta(minutes=5)
    records = [make_record(first_seq + i, unit, a, created=created + timedelta(seconds=i), flags=flags, officer_id=officer_id)
               for i, (a, flags) in enumerate(answers)]
    resp = TestClient(app).post(UPLOAD, json={"responses": records, "device_time": format_rfc3339(now_local())},
                                headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    assert {r["status"] for r in resp.json()["results"]} == {"accepted"}, resp.json()


def phone(app, unit: str, host: str, **fields) -> None:
    """One phone answer from its own phone (cookie and address): no repeat or address flags."""
    client = TestClient(app, follow_redirects=False, client=(host, 50000))
    page = client.get(f"/s/{unit}")
    assert page.status_code == 200, page.text[:300]
    data = {"csrf": CSRF_RE.search(page.text).group(1), "qid": "bg-friendly-gov", "qver": "1", **fields}
    assert client.post(f"/s/{unit}", data=data).status_code == 303


def sheet(content: bytes, title: str) -> list[dict]:
    """The rows of an XLSX sheet as dicts by its header row (blank rows dropped)."""
    rows = list(load_workbook(io.BytesIO(content))[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:] if any(v is not None for v in r)]
