"""Issue 14: the receipt's QR opens the point's phone form with the dossier code (``/s/<point>?d=``);
the form says what it rates, the stored answer carries the code, and a code that is not a receipt's
is dropped politely (the citizen still rates). Through the real app on a real database file."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.server_web import make_app

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
CODE = "000.00.24.H06-250701-0001"


def _client(app, last_octet: int) -> TestClient:
    return TestClient(app, follow_redirects=False, client=(f"203.0.113.{last_octet}", 50000))


def _send(client: TestClient, query: str, **extra) -> tuple[str, dict]:
    form = client.get(f"/s/7201{query}")
    assert form.status_code == 200, form.text[:300]
    data = {"csrf": CSRF_RE.search(form.text).group(1), "qid": "bg-friendly-gov", "qver": "1", "q_overall": "2"}
    hidden = re.search(r'name="d" value="([^"]*)"', form.text)
    if hidden:
        data["d"] = hidden.group(1)
    data.update(extra)
    resp = client.post("/s/7201", data=data, headers={"Accept": "application/json"})
    assert resp.status_code == 201, resp.text[:300]
    return form.text, resp.json()


def _stored(storage, response_id: str) -> str | None:
    """The dossier code stored with the answer (None: not tied)."""
    return storage._conn().execute("SELECT dossier_code FROM responses WHERE id = ?", (response_id,)).fetchone()[0]


def test_a_receipt_link_ties_the_phone_rating_to_its_dossier(tmp_path):
    app, storage = make_app(tmp_path)
    page, sent = _send(_client(app, 9), f"?d={CODE.lower()}")
    assert f"đánh giá việc tiếp nhận và giải quyết hồ sơ số {CODE}" in page  # the form says what it rates
    assert _stored(storage, sent["id"]) == CODE  # normalised (upper case)
    # Without ?d= nothing is attached.
    page, plain = _send(_client(app, 10), "")
    assert "hồ sơ số" not in page and _stored(storage, plain["id"]) is None
    storage.close()


def test_a_code_that_is_not_a_receipts_is_dropped_politely(tmp_path):
    app, storage = make_app(tmp_path, dossier_pattern=r"[0-9]{3}\.[0-9]{2}\.24\.H[0-9]{2}-[0-9]{6}-[0-9]{4}")
    for bad in ("<script>alert(1)</script>", "H24-ABC", "x" * 80, "000.00.24.H06-250701-0001 OR 1=1"):
        page, sent = _send(_client(app, 11), f"?d={bad}")
        assert "không đúng mẫu mã trên giấy tiếp nhận" in page and "<script>alert" not in page
        assert _stored(storage, sent["id"]) is None
    # A forged hidden field is checked again on submit.
    _, sent = _send(_client(app, 12), "", d="NOT A CODE")
    assert _stored(storage, sent["id"]) is None
    _, good = _send(_client(app, 13), f"?d={CODE}")
    assert _stored(storage, good["id"]) == CODE
    storage.close()


def test_a_second_rating_of_one_dossier_is_kept_and_marked(tmp_path):
    """The first rating the server receives for a dossier counts; a later one, from any phone, is kept
    and marked ``dossier_repeat`` (left out of the figures)."""
    app, storage = make_app(tmp_path)
    _, first = _send(_client(app, 21), f"?d={CODE}")
    _, again = _send(_client(app, 22), f"?d={CODE.lower()}")
    rows = dict(storage._conn().execute("SELECT id, dossier_repeat FROM responses WHERE dossier_code = ?", (CODE,)).fetchall())
    assert rows == {first["id"]: 0, again["id"]: 1}
    storage.close()
