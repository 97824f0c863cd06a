"""The QR channel's rules over HTTP: abuse flags and limits, CSRF, dossier tokens, the kiosk comment
link, contacts (consent, who sees them, retention) and privacy (no phone number in responses or logs)."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from hailong_core.ids import uuid7
from sync_server import cli, phone, security
from sync_server import settings as server_settings
from sync_server.app import create_app
from sync_server.ingest import ingest
from sync_server.storage import open_storage
from tests.records import make_record
from tests.server_web import add_users, login
from tests.support import server_db_location

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
PHONE = "0912 345 678"
PHONE_DIGITS = "0912345678"


@pytest.fixture()
def world(tmp_path):
    db = server_db_location(tmp_path)
    storage = open_storage(db)
    app = create_app(server_settings.load(db=str(db)), storage)
    yield app, storage, db
    storage.close()


def _uuid7_at(moment: datetime) -> str:
    """A UUIDv7 carrying ``moment`` (``uuid7()`` itself never goes back in time)."""
    ms = int(moment.timestamp() * 1000)
    tail = uuid7()[14:]
    hexed = f"{ms:012x}"
    return f"{hexed[:8]}-{hexed[8:]}-{tail}"


def _client(app, host: str = "203.0.113.7") -> TestClient:
    return TestClient(app, follow_redirects=False, client=(host, 50000))


def _form_token(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:300]
    return CSRF_RE.search(page.text).group(1)


def _answer(client: TestClient, unit: str = "7201", query: str = "", **fields):
    token = _form_token(client, f"/s/{unit}{query}")
    data = {"csrf": token, "qid": "bg-friendly-gov", "qver": "1", "q_overall": "4", **fields}
    return client.post(f"/s/{unit}", data=data)


def _rows(storage) -> list[dict]:
    rows = storage._conn().execute("SELECT id, unit_code, channel, seq, answers, flags FROM responses ORDER BY server_seq").fetchall()
    return [dict(id=r[0], unit_code=r[1], channel=r[2], seq=r[3], answers=json.loads(r[4]), flags=json.loads(r[5])) for r in rows]


def test_answer_goes_through_ingest_with_server_id_and_per_point_seq(world):
    app, storage, _ = world
    client = _client(app)
    assert _answer(client, q_responsibility="5").status_code == 303
    assert _answer(_client(app, "198.51.100.1"), "7204").status_code == 303
    assert _answer(_client(app, "198.51.100.2")).status_code == 303
    rows = _rows(storage)
    assert [(r["unit_code"], r["seq"], r["channel"]) for r in rows] == [("7201", 1, "qr"), ("7204", 1, "qr"), ("7201", 2, "qr")]
    assert rows[0]["answers"] == {"overall": 4, "responsibility": 5}
    assert all(phone.uuid7_ms(r["id"]) for r in rows)  # the server made UUIDv7 ids


def test_citizen_may_name_the_procedure_group_and_a_named_officer_suggests_theirs(world):
    app, storage, _ = world
    storage.add_officer("cb-q", "7201", "Nguyễn Thị Hoa", None, None, None, datetime.now(timezone.utc))
    storage.update_officer("cb-q", datetime.now(timezone.utc), procedure_group="dat_dai")
    page = _client(app).get("/s/7201").text
    assert 'name="g"' in page and "Hộ tịch" in page and "Đất đai" in page  # optional, offered on every form
    assert 'value="dat_dai" selected' in _client(app).get("/s/7201?o=cb-q").text  # the poster's officer's field
    assert _answer(_client(app, "198.51.100.10"), g="ho_tich").status_code == 303
    assert _answer(_client(app, "198.51.100.11"), query="?o=cb-q", o="cb-q", g="dat_dai").status_code == 303
    assert _answer(_client(app, "198.51.100.12"), g="").status_code == 303
    assert _answer(_client(app, "198.51.100.13"), g="not-a-field").status_code == 303  # ignored, the answer kept
    groups = [r[0] for r in storage._conn().execute("SELECT procedure_group FROM responses ORDER BY server_seq")]
    assert groups == ["ho_tich", "dat_dai", None, None]


def test_missing_overall_keeps_the_other_answers_on_the_form(world):
    app, storage, _ = world
    resp = _answer(_client(app), q_overall="", q_skills="2", q_comment="Chờ lâu")
    assert resp.status_code == 400 and "Vui lòng chọn mức độ hài lòng" in resp.text
    assert 'value="2" checked' in resp.text and "Chờ lâu" in resp.text
    assert _rows(storage) == []


def test_csrf_is_required_and_bound_to_the_browser(world):
    app, storage, _ = world
    a, b = _client(app), _client(app)
    token_a = _form_token(a, "/s/7201")
    _form_token(b, "/s/7201")
    for client, data in ((a, {}), (a, {"csrf": "1.forged"}), (b, {"csrf": token_a}), (a, {"csrf": token_a.replace(".", ".0")})):
        resp = client.post("/s/7201", data={**data, "q_overall": "5"})
        assert resp.status_code == 403 and "hết hạn" in resp.text
    # A token made for one point does not post to another.
    assert a.post("/s/7204", data={"csrf": token_a, "q_overall": "5"}).status_code == 403
    assert _rows(storage) == []
    assert a.post("/s/7201", data={"csrf": token_a, "q_overall": "5"}).status_code == 303


def test_same_browser_same_point_same_day_is_flagged_repeat(world):
    app, storage, _ = world
    client = _client(app)
    for unit in ("7201", "7201", "7204", "7201"):
        assert _answer(client, unit).status_code == 303
    assert [r["flags"] for r in _rows(storage)] == [[], ["repeat"], [], ["repeat"]]
    # Another phone (another cookie) is not a repeat; from this address it is the point's fourth answer
    # today, so the daily address cap flags it (tests/test_phone_bound.py). From another address: counted.
    assert _answer(_client(app)).status_code == 303
    assert _rows(storage)[-1]["flags"] == ["address_repeat"]
    assert _answer(_client(app, "198.51.100.77")).status_code == 303
    assert _rows(storage)[-1]["flags"] == []


def test_hundred_rapid_answers_from_one_address_are_flagged_then_limited(world):
    app, storage, _ = world
    settings = app.state.hailong.settings
    client = _client(app, "192.0.2.50")  # one café's Wi-Fi: many phones behind one address
    statuses = []
    for i in range(100):
        client.cookies.clear()  # a different phone each time, so only the address links them
        resp = _answer(client, q_overall=str(1 + i % 5), **({"q_why": "waited_long"} if i % 5 < 2 else {}))
        statuses.append(resp.status_code)
    flag_after, refuse_after = settings.phone_rate_flag_after, settings.phone_rate_refuse_after
    assert statuses == [303] * refuse_after + [429] * (100 - refuse_after)
    rows = _rows(storage)
    assert len(rows) == refuse_after  # everything under the hard limit is stored
    per_day = settings.phone_counted_per_address_day  # only the first few of a day count (tests/test_phone_bound.py)
    assert [r["flags"] for r in rows] == ([[]] * per_day + [["address_repeat"]] * (flag_after - per_day)
                                          + [["rate_limited", "address_repeat"]] * (refuse_after - flag_after))
    # Nothing that counts is lost: the refused ones would have carried rate_limited (left out of reports).
    assert sum(1 for r in rows if not r["flags"]) == per_day
    # The refusal: a friendly page for a browser, the error shape for an API client; other addresses unaffected.
    page = _answer(client)
    assert page.status_code == 429 and "Vui lòng thử lại sau" in page.text and page.headers["retry-after"]
    token = _form_token(client, "/s/7201")
    api = client.post("/s/7201", data={"csrf": token, "q_overall": "5"}, headers={"Accept": "application/json"})
    assert api.status_code == 429 and api.json() == {"error": {"code": "rate_limited", "message": api.json()["error"]["message"]}}
    assert _answer(_client(app, "192.0.2.51")).status_code == 303
    assert _rows(storage)[-1]["flags"] == []


def _tokens(capsys, db, unit: str, count: int) -> list[str]:
    assert cli.main(["--db", str(db), "dossier-tokens", "--unit", unit, "--count", str(count)]) == 0
    return capsys.readouterr().out.split()


def test_dossier_tokens_bind_once_and_forged_or_reused_are_refused(world, capsys):
    app, storage, db = world
    token, other = _tokens(capsys, db, "7201", 2)
    (elsewhere,) = _tokens(capsys, db, "7204", 1)
    client = _client(app)
    form = client.get(f"/s/7201?t={token}")
    assert form.status_code == 200 and f'name="t" value="{token}"' in form.text
    assert _answer(client, query=f"?t={token}", t=token).status_code == 303
    (row,) = _rows(storage)
    assert storage.dossier_token(security.digest(security.normalise_code(token)))["response_id"] == row["id"]
    # Reused: refused up front and on submit; the answers come back so they can be sent without it.
    assert client.get(f"/s/7201?t={token}").status_code == 403
    token_field = _form_token(client, "/s/7201")
    reuse = client.post("/s/7201", data={"csrf": token_field, "q_overall": "2", "t": token})
    assert reuse.status_code == 403 and "đã được dùng" in reuse.text and 'value="2" checked' in reuse.text
    assert 'name="t"' not in reuse.text
    # Forged, and another point's token.
    for bad, words in (("ABCD-EFGH-JKMN", "không hợp lệ"), (elsewhere, "điểm tiếp nhận khác")):
        assert client.get(f"/s/7201?t={bad}").status_code == 403
        resp = client.post("/s/7201", data={"csrf": token_field, "q_overall": "2", "t": bad})
        assert resp.status_code == 403 and words in resp.text
    assert len(_rows(storage)) == 1
    # The other token still works once.
    assert _answer(_client(app, "198.51.100.9"), t=other).status_code == 303
    assert len(_rows(storage)) == 2


def _kiosk_answer(storage, app, unit: str = "7201", rid: str | None = None) -> dict:
    storage.create_enroll_code(unit, security.digest("CODE" + unit), datetime.now(timezone.utc) + timedelta(hours=1))
    device = storage.redeem_enroll_code(security.digest("CODE" + unit), datetime.now(timezone.utc), "dev-" + unit,
                                        security.digest("tok" + unit), None)
    record = make_record(1, unit, {"overall": 2})
    record["id"] = _uuid7_at(datetime.now(timezone.utc))  # uuid7() may run ahead after other tests' future clocks
    if rid:
        record["id"] = rid
    result = ingest(storage, device, {"responses": [record]}, max_items=10, skew_s=300,
                    questionnaires=app.state.hailong.questionnaires())
    assert result["results"][0]["status"] == "accepted"
    return record


def _comment(client: TestClient, unit: str, rid: str, text: str, **extra):
    page = client.get(f"/s/{unit}?r={rid}")
    if page.status_code != 200:
        return page
    return client.post(f"/s/{unit}/comment", data={"csrf": CSRF_RE.search(page.text).group(1), "r": rid, "comment": text, **extra})


def test_comment_link_works_once_and_waits_for_an_unsynced_answer(world):
    app, storage, _ = world
    client = _client(app)
    rid = _uuid7_at(datetime.now(timezone.utc))  # the kiosk made this answer a moment ago and has not synced it yet
    first = _comment(client, "7201", rid, "Cán bộ hướng dẫn chưa rõ")
    assert first.status_code == 200 and "Góp ý của Ông/Bà đã được ghi nhận" in first.text
    assert storage.phone_comments()[0]["linked"] == 0  # pending: the answer is not here yet
    again = _comment(_client(app, "198.51.100.3"), "7201", rid, "lần hai")
    assert again.status_code == 409 and "đã có góp ý" in again.text
    # Posting again with a token got earlier is refused too.
    assert storage.phone_comment(rid)["comment"] == "Cán bộ hướng dẫn chưa rõ"
    _kiosk_answer(storage, app, "7201", rid)  # the kiosk syncs: the comment is now linked
    (comment,) = storage.phone_comments()
    assert comment["linked"] == 1 and comment["response_id"] == rid
    # The kiosk record itself is unchanged (its content hash is fixed).
    assert storage.response_brief(rid)["channel"] == "kiosk"


def test_comment_link_offers_the_call_back_box_with_its_own_consent(world):
    app, storage, _ = world
    rid = _uuid7_at(datetime.now(timezone.utc))
    page = _client(app).get(f"/s/7201?r={rid}")
    assert 'name="phone"' in page.text and 'name="consent"' in page.text
    refused = _comment(_client(app, "198.51.100.20"), "7201", rid, "Phải đi lại hai lần", phone=PHONE)  # no consent
    assert refused.status_code == 200 and storage.phone_contacts() == []
    assert storage.phone_comment(rid)["comment"] == "Phải đi lại hai lần"  # the comment itself is kept
    other = _uuid7_at(datetime.now(timezone.utc))
    saved = _comment(_client(app, "198.51.100.21"), "7201", other, "Xin liên hệ lại", phone=PHONE, consent="yes")
    assert saved.status_code == 200
    assert [(c["response_id"], c["phone"]) for c in storage.phone_contacts()] == [(other, PHONE_DIGITS)]
    assert PHONE_DIGITS not in storage.phone_comment(other)["comment"]  # stored apart from the comment


def test_comment_link_refuses_expired_forged_and_other_point(world):
    app, storage, _ = world
    client = _client(app)
    old = _uuid7_at(datetime.now(timezone.utc) - timedelta(hours=3))
    assert _comment(client, "7201", old, "muộn").status_code == 410
    assert _comment(client, "7201", "not-a-uuid", "x").status_code == 404
    future = _uuid7_at(datetime.now(timezone.utc) + timedelta(days=2))
    assert _comment(client, "7201", future, "x").status_code == 404
    record = _kiosk_answer(storage, app, "7201")
    assert _comment(client, "7204", record["id"], "x").status_code == 404  # the answer belongs to 7201
    # A forged POST straight to the comment endpoint (no form token) stores nothing.
    assert client.post("/s/7201/comment", data={"r": record["id"], "comment": "x"}).status_code == 403
    assert storage.phone_comments() == []
    assert _comment(client, "7201", record["id"], "Tốt").status_code == 200


def test_unknown_closed_or_province_code_is_a_friendly_404(world):
    app, _, _ = world
    client = _client(app)
    for code in ("9999", "24"):
        resp = client.get(f"/s/{code}")
        assert resp.status_code == 404 and "Không tìm thấy điểm tiếp nhận" in resp.text


def test_contact_needs_consent_is_stored_apart_and_never_logged(world, caplog, tmp_path):
    app, storage, db = world
    caplog.set_level(logging.DEBUG)
    resp = _answer(_client(app, "198.51.100.4"), phone=PHONE, q_comment="Xin gọi lại giúp")
    assert resp.status_code == 303 and resp.headers["location"].endswith("?c=no_consent")
    assert storage.phone_contacts() == []
    resp = _answer(_client(app, "198.51.100.5"), phone=PHONE, consent="yes")
    assert resp.status_code == 303 and resp.headers["location"].endswith("?c=saved")
    thanks = _client(app).get(resp.headers["location"])
    assert "cán bộ sẽ liên hệ lại" in thanks.text
    (contact,) = storage.phone_contacts()
    rows = _rows(storage)
    assert contact["phone"] == PHONE_DIGITS and contact["response_id"] == rows[-1]["id"]
    # Not in the responses table (any column), nor in any log record.
    dump = json.dumps([list(r) for r in storage._conn().execute("SELECT * FROM responses").fetchall()], ensure_ascii=False)
    assert PHONE_DIGITS not in dump and "0912" not in dump
    logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert PHONE_DIGITS not in logged and PHONE not in logged
    # Not in exports, when the exports exist (issue 5's command).
    out = tmp_path / "export.csv"
    if "export" in cli.COMMANDS and cli.main(["--db", str(db), "export", "--format", "csv", "--out", str(out)]) == 0:
        text = out.read_bytes().decode("utf-8", "replace")
        assert PHONE_DIGITS not in text and PHONE not in text
    # An invalid number is not stored either.
    resp = _answer(_client(app, "198.51.100.6"), phone="12ab", consent="yes")
    assert resp.headers["location"].endswith("?c=invalid") and len(storage.phone_contacts()) == 1


def test_contacts_visible_to_province_admin_only_and_purged_after_retention(world):
    app, storage, _ = world
    add_users(storage)
    assert _answer(_client(app), phone=PHONE, consent="yes").status_code == 303
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/callbacks")
    assert page.status_code == 200 and PHONE_DIGITS in page.text
    for role in ("province-analyst", "district-viewer", "commune-viewer"):
        client, _ = login(app, role)
        resp = client.get("/admin/callbacks")
        assert resp.status_code == 403 and PHONE_DIGITS not in resp.text
    settings = app.state.hailong.settings
    assert phone.purge(storage, settings, datetime.now(timezone.utc) + timedelta(days=settings.contact_retention_days - 1))["contacts"] == 0
    assert phone.purge(storage, settings, datetime.now(timezone.utc) + timedelta(days=settings.contact_retention_days + 1))["contacts"] == 1
    assert storage.phone_contacts() == []
    assert len(_rows(storage)) == 1  # the answer itself stays


def test_purge_contacts_command_and_purge_at_start_up(tmp_path, capsys):
    db = server_db_location(tmp_path)
    storage = open_storage(db)
    old_ms = int((datetime.now(timezone.utc) - timedelta(days=400)).timestamp() * 1000)
    storage.add_phone_contact(uuid7(), "7201", PHONE_DIGITS, old_ms)
    storage.add_phone_contact(uuid7(), "7201", "0987654321", int(datetime.now(timezone.utc).timestamp() * 1000))
    assert cli.main(["--db", str(db), "purge-contacts"]) == 0
    assert "deleted 1 contact" in capsys.readouterr().out
    storage.add_phone_contact(uuid7(), "7201", PHONE_DIGITS, old_ms)
    create_app(server_settings.load(db=str(db)), storage)  # start-up purges too
    assert [c["phone"] for c in storage.phone_contacts()] == ["0987654321"]
    # Comments from a kiosk's thank-you link wait for their answer; one that never came goes after
    # comment_orphan_days (90), one whose answer arrived stays, and so does a recent one.
    settings = server_settings.load(db=str(db))
    app = create_app(settings, storage)
    long_ago = int((datetime.now(timezone.utc) - timedelta(days=120)).timestamp() * 1000)
    arrived = _kiosk_answer(storage, app, "7201")["id"]
    storage.add_phone_comment(arrived, "7201", "đã đồng bộ", long_ago)
    storage.add_phone_comment(uuid7(), "7201", "máy không bao giờ đồng bộ", long_ago)
    recent = uuid7()
    storage.add_phone_comment(recent, "7201", "mới", int(datetime.now(timezone.utc).timestamp() * 1000))
    capsys.readouterr()
    assert cli.main(["--db", str(db), "purge-contacts"]) == 0
    assert "1 comment(s) whose kiosk answer did not arrive in 90 days" in capsys.readouterr().out
    assert sorted(c["response_id"] for c in storage.phone_comments()) == sorted([arrived, recent])
    storage.close()
