"""Citizens' written comments (issue 15): the phone form's text answers and the kiosk comment link on
``/results/comments``, by scope and role (officer names only for officer roles, never an officer id),
filters, moderation (hide with a reason, text kept, audited; unhide), refusals, escaping, and schema
step 15 over a database with comments in place."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from hailong_core.assets import asset_path
from hailong_core.timeutil import format_rfc3339, now_local
from sync_server import comments
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS, statements
from tests.records import UPLOAD, make_record
from tests.results_world import enrol, phone
from tests.server_web import CSRF_RE, add_users, login, make_app
from tests.support import BACKEND, PG_URL

OFFICER_A, NAME_A = "cb-7201-1", "Nguyễn Thị Lan"      # commune 7201 (district 213)
OFFICER_B, NAME_B = "cb-7246-1", "Trần Văn Bình"      # commune 7246 (district 215)
FORM_TEXT = "Chờ lâu ở quầy một cửa"
LINK_TEXT = "Cán bộ hướng dẫn chưa rõ"
HOSTILE = '<script>alert(1)</script> =HYPERLINK("http://evil.example","bấm")'


def _kiosk_answer_with_comment(app, storage, unit: str, officer: str, text: str) -> str:
    """A kiosk answer (overall 2) uploaded with its officer, then a comment through its thank-you QR."""
    token = enrol(app, storage, unit)
    record = make_record(1, unit, {"overall": 2}, created=now_local() - timedelta(minutes=1), officer_id=officer)
    resp = TestClient(app).post(UPLOAD, json={"responses": [record], "device_time": format_rfc3339(now_local())},
                                headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json()["results"][0]["status"] == "accepted", resp.text
    citizen = TestClient(app, follow_redirects=False, client=("198.51.100.40", 50000))
    page = citizen.get(f"/s/{unit}?r={record['id']}")
    assert page.status_code == 200, page.text[:300]
    sent = citizen.post(f"/s/{unit}/comment", data={"csrf": CSRF_RE.search(page.text).group(1), "r": record["id"], "comment": text})
    assert sent.status_code == 200, sent.text[:300]
    return record["id"]


@pytest.fixture()
def world(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)
    now = datetime.now(timezone.utc)
    storage.add_officer(OFFICER_A, "7201", NAME_A, None, None, None, now)
    storage.add_officer(OFFICER_B, "7246", NAME_B, None, None, None, now)
    phone(app, "7201", "203.0.113.10", q_overall="4", q_comment=FORM_TEXT, o=OFFICER_A)
    link_id = _kiosk_answer_with_comment(app, storage, "7246", OFFICER_B, LINK_TEXT)
    yield app, storage, link_id
    storage.close()


def _form_comment(storage) -> dict:
    (row,) = [r for r in storage.form_comment_rows(0, 2**62, None, ["comment"]) if r["answers"].get("comment") == FORM_TEXT]
    return row


def _moderate(client, csrf, key: str, action: str = "hide", reason: str = "Lời lẽ xúc phạm", confirm: str = "yes"):
    return client.post("/results/comments/moderate", data={"csrf": csrf, "key": key, "action": action, "reason": reason,
                                                            "confirm": confirm, "back": "source=&visible="})


def test_admin_sees_both_sources_with_officer_names_and_levels(world):
    app, storage, link_id = world
    client, _ = login(app, "province-admin")
    page = client.get("/results/comments")
    assert page.status_code == 200
    assert FORM_TEXT in page.text and LINK_TEXT in page.text
    assert NAME_A in page.text and NAME_B in page.text
    assert OFFICER_A not in page.text and OFFICER_B not in page.text  # names only, never ids
    assert "Phiếu điện thoại (QR)" in page.text and "Góp ý sau đánh giá tại kiosk" in page.text
    assert '/results/comments"' in client.get("/").text  # in the menu
    # The use case: newest first, the headline level of each answer, the province's local time.
    listing = comments.list_comments(storage, app.state.hailong.settings, app.state.hailong.questionnaires(),
                                     role="province_admin", scope=None, day_from=now_local().date() - timedelta(days=1),
                                     day_to=now_local().date())
    assert [c.source for c in listing.items] == ["link", "form"] and listing.total == 2
    link, form = listing.items
    assert (link.level, link.response_id, link.officer_name) == (2, link_id, NAME_B)
    assert (form.level, form.officer_name, form.unit_code) == (4, NAME_A, "7201")
    assert form.level_label and link.level_label and form.site_name
    assert form.at == datetime.fromtimestamp(form.created_ms / 1000, timezone(timedelta(hours=7))).strftime("%d/%m/%Y %H:%M")


def test_commune_viewer_sees_only_its_commune_and_no_officer(world):
    app, storage, _ = world
    client, _ = login(app, "commune-viewer")
    page = client.get("/results/comments")
    assert page.status_code == 200
    assert FORM_TEXT in page.text and LINK_TEXT not in page.text
    for secret in (NAME_A, NAME_B, OFFICER_A, OFFICER_B, "cb-"):
        assert secret not in page.text
    assert client.get("/results/comments?unit=7246").status_code == 403


def test_district_viewer_sees_its_district_with_officer_names(world):
    app, storage, _ = world
    client, _ = login(app, "district-viewer")
    page = client.get("/results/comments")
    assert FORM_TEXT in page.text and LINK_TEXT not in page.text
    assert NAME_A in page.text and OFFICER_A not in page.text and NAME_B not in page.text
    assert FORM_TEXT in client.get("/results/comments?unit=7201").text
    assert client.get("/results/comments?unit=215").status_code == 403


def test_hide_keeps_the_text_replaces_it_for_viewers_audits_and_unhide(world):
    app, storage, link_id = world
    admin, csrf = login(app, "province-admin")
    viewer, _ = login(app, "commune-viewer")
    form = _form_comment(storage)
    key = f"{form['response_id']}/comment"
    # A reason and the confirmation are required.
    assert _moderate(admin, csrf, key, reason="  ").status_code == 400
    assert _moderate(admin, csrf, key, confirm="").status_code == 400
    assert _moderate(admin, csrf, "no-such-id/comment").status_code == 404
    done = _moderate(admin, csrf, key)
    assert done.status_code == 303 and "ok=ok_comment_hidden" in done.headers["location"]
    seen = viewer.get("/results/comments").text
    assert FORM_TEXT not in seen and "đã ẩn" in seen and "Lời lẽ xúc phạm" not in seen
    assert _form_comment(storage)["answers"]["comment"] == FORM_TEXT  # kept in storage
    shown = admin.get("/results/comments").text
    assert FORM_TEXT in shown and "Đã ẩn với người xem" in shown and "Lời lẽ xúc phạm" in shown
    assert FORM_TEXT not in admin.get("/results/comments?visible=1").text
    (entry,) = [e for e in storage.audit_log() if e["action"] == "comment.hide"]
    assert entry["target"] == form["response_id"] and entry["detail"] == {"question": "comment", "reason": "Lời lẽ xúc phạm"}
    assert entry["username"] == "province-admin"
    assert _moderate(admin, csrf, key).status_code == 400  # already hidden
    # The link comment is hidden by its response id alone; the text stays in phone_comments.
    assert _moderate(admin, csrf, f"{link_id}/", reason="Quảng cáo").status_code == 303
    assert storage.phone_comment(link_id)["comment"] == LINK_TEXT
    assert LINK_TEXT not in login(app, "province-analyst")[0].get("/results/comments").text
    # Unhide: the viewer reads the text again.
    assert _moderate(admin, csrf, key, action="unhide", reason="Xem lại: không vi phạm").status_code == 303
    assert FORM_TEXT in viewer.get("/results/comments").text
    assert [e["detail"]["reason"] for e in storage.audit_log() if e["action"] == "comment.unhide"] == ["Xem lại: không vi phạm"]


def test_only_the_province_admin_moderates_and_csrf_is_required(world):
    app, storage, _ = world
    key = f"{_form_comment(storage)['response_id']}/comment"
    for role in ("commune-viewer", "district-viewer", "province-analyst"):
        client, csrf = login(app, role)
        assert _moderate(client, csrf, key).status_code == 403
    admin, _ = login(app, "province-admin")
    assert admin.post("/results/comments/moderate", data={"key": key, "action": "hide", "reason": "x",
                                                          "confirm": "yes"}).status_code == 403
    assert not [e for e in storage.audit_log() if e["action"].startswith("comment.")]
    assert FORM_TEXT in login(app, "commune-viewer")[0].get("/results/comments").text


def test_filters_by_source_unit_and_dates(world):
    app, storage, _ = world
    client, _ = login(app, "province-admin")
    form_only = client.get("/results/comments?source=form").text
    assert FORM_TEXT in form_only and LINK_TEXT not in form_only
    link_only = client.get("/results/comments?source=link").text
    assert LINK_TEXT in link_only and FORM_TEXT not in link_only
    unit = client.get("/results/comments?unit=215").text  # a district: its communes
    assert LINK_TEXT in unit and FORM_TEXT not in unit
    old = (now_local().date() - timedelta(days=40)).strftime("%d/%m/%Y")
    older = (now_local().date() - timedelta(days=35)).strftime("%d/%m/%Y")
    empty = client.get(f"/results/comments?from={old}&to={older}").text
    assert FORM_TEXT not in empty and LINK_TEXT not in empty and "Không có ý kiến" in empty
    assert client.get("/results/comments?from=31/02/2026").status_code == 400
    assert client.get("/results/comments?unit=nope").status_code == 400


def test_paging_newest_first(world):
    app, storage, _ = world
    for i in range(3):
        phone(app, "7201", f"203.0.113.{20 + i}", q_overall="3", q_comment=f"ý kiến {i}")
    state = app.state.hailong
    kwargs = dict(role="commune_viewer", scope={"7201"}, day_from=now_local().date(), day_to=now_local().date(), per_page=2)
    first = comments.list_comments(state.storage, state.settings, state.questionnaires(), page=1, **kwargs)
    second = comments.list_comments(state.storage, state.settings, state.questionnaires(), page=2, **kwargs)
    assert (first.total, first.pages) == (4, 2)
    assert [c.text for c in first.items] == ["ý kiến 2", "ý kiến 1"]
    assert [c.text for c in second.items] == ["ý kiến 0", FORM_TEXT]
    assert all(c.officer_name is None for c in first.items + second.items)


def test_hostile_text_is_escaped(world):
    app, storage, _ = world
    phone(app, "7201", "203.0.113.30", q_overall="1", q_comment=HOSTILE)
    page = login(app, "province-admin")[0].get("/results/comments").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '=HYPERLINK("' not in page and "=HYPERLINK(&#34;http://evil.example&#34;" in page


def _step_14_database(tmp_path):
    """A database as the server left it before comments moderation (schema 14), with a phone answer that
    carries a comment and a kiosk-link comment; the location to open it at."""
    when = now_local() - timedelta(hours=1)
    ms = int(when.timestamp() * 1000)
    if BACKEND == "postgres":
        import uuid

        import psycopg

        from sync_server.storage.postgres import PGConnection, translate_ddl

        name = "t_step14_" + uuid.uuid4().hex[:12]
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        location = PG_URL.rpartition("/")[0] + "/" + name
        conn = PGConnection(psycopg.connect(location, autocommit=True))
        for step in MIGRATIONS[:14]:
            for statement in statements(step, "postgres"):
                conn.execute(translate_ddl(statement))
        conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (14)")
    else:
        location = tmp_path / "step14.sqlite3"
        conn = sqlite3.connect(str(location), isolation_level=None)
        for step in MIGRATIONS[:14]:
            for statement in statements(step, "sqlite"):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 14")
    for code, name, level, parent in (("24", "Tỉnh Bắc Giang", "province", None), ("7201", "Phường Thọ Xương", "commune", "24")):
        conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES (?, ?, ?, ?, '2023-01-01')",
                     (code, name, level, parent))
        conn.execute("INSERT INTO unit_versions (code, valid_from, name, level, parent_code) VALUES (?, '2023-01-01', ?, ?, ?)",
                     (code, name, level, parent))
        conn.execute("INSERT INTO sites (unit_code, unit_valid_from, position, name, created_at) VALUES (?, '2023-01-01', 1, ?, "
                     "'2023-01-01')", (code, name))
    doc = json.loads(asset_path("questionnaires", "default.json").read_text(encoding="utf-8"))
    conn.execute("INSERT INTO questionnaires (id, version, body, published_at, created_at) VALUES (?, ?, ?, ?, ?)",
                 (doc["id"], doc["version"], json.dumps(doc), "2024-01-01T00:00:00+07:00", "2024-01-01T00:00:00+07:00"))
    rows = (("00000000-0000-7000-8000-000000000001", "qr", '{"comment":"Thủ tục nhanh","overall":5}'),
            ("00000000-0000-7000-8000-000000000002", "kiosk", '{"overall":1}'))
    for i, (rid, channel, answers) in enumerate(rows, 1):
        conn.execute("INSERT INTO responses (id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
                     "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect, placed_ms, site_id) "
                     "VALUES (?, ?, NULL, ?, '7201', NULL, ?, ?, ?, ?, ?, ?, ?, '[]', 0, ?, NULL)",
                     (rid, f"h{i}", format_rfc3339(when), doc["id"], doc["version"], channel, i, format_rfc3339(when), ms,
                      answers, ms))
    conn.execute("INSERT INTO phone_comments (response_id, unit_code, comment, created_ms) VALUES (?, '7201', ?, ?)",
                 (rows[1][0], "Phải đi lại hai lần", ms))
    conn.close()
    return location, [r[0] for r in rows]


def test_step_15_upgrades_a_database_with_comments_in_place(tmp_path):
    from sync_server import settings as server_settings
    from sync_server.storage import User

    location, (form_id, kiosk_id) = _step_14_database(tmp_path)
    storage = open_storage(location)  # migrates 14 -> 15
    try:
        assert storage.schema_version() == len(MIGRATIONS) >= 15
        questionnaires = _questionnaires(storage)
        settings = server_settings.load()
        today = now_local().date()
        listing = comments.list_comments(storage, settings, questionnaires, role="province_admin", scope=None,
                                         day_from=today - timedelta(days=1), day_to=today)
        assert sorted((c.response_id, c.text, c.hidden, c.level) for c in listing.items) == [
            (form_id, "Thủ tục nhanh", False, 5), (kiosk_id, "Phải đi lại hai lần", False, 1)]
        user = User(1, "province-admin", "province_admin", None, True)
        comments.set_hidden(storage, questionnaires, user, kiosk_id, "", True, "Xúc phạm", datetime.now(timezone.utc))
        again = comments.list_comments(storage, settings, questionnaires, role="commune_viewer", scope={"7201"},
                                       day_from=today - timedelta(days=1), day_to=today)
        assert {c.response_id: c.text for c in again.items} == {form_id: "Thủ tục nhanh", kiosk_id: None}
    finally:
        storage.close()
    reopened = open_storage(location)  # a second start runs no step twice
    try:
        assert reopened.schema_version() == len(MIGRATIONS) and reopened.phone_comment(kiosk_id)["comment"] == "Phải đi lại hai lần"
    finally:
        reopened.close()


def _questionnaires(storage) -> dict:
    from hailong_core.questionnaire import parse_questionnaire

    return {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
