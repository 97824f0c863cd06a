"""Issue 15 (3): citizens' comments in the XLSX ("Góp ý") and the pull API (``/api/v1/pull/comments``):
the visible comments of the window within scope, hidden ones left out and counted, officer names only
for roles (tokens) with officer access, never an officer id. Real database, real app; comments given
through the real phone form and the kiosk's thank-you link, hidden through the real moderation form."""

from __future__ import annotations

import contextlib
import io
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hailong_core.timeutil import now_local
from sync_server import cli
from tests.results_world import phone, sheet
from tests.server_web import CSRF_RE, add_users, login, make_app
from tests.test_server_comments import FORM_TEXT, LINK_TEXT, NAME_A, NAME_B, OFFICER_A, OFFICER_B, _kiosk_answer_with_comment

HIDDEN = "Nội dung xúc phạm cần ẩn"
TODAY = now_local().date()
QUERY = f"from={(TODAY - timedelta(days=1)).isoformat()}&to={TODAY.isoformat()}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, storage = make_app(tmp_path_factory.mktemp("comments-export"))
    add_users(storage)
    now = datetime.now(timezone.utc)
    storage.add_officer(OFFICER_A, "7201", NAME_A, None, None, None, now)
    storage.add_officer(OFFICER_B, "7246", NAME_B, None, None, None, now)
    phone(app, "7201", "203.0.113.10", q_overall="4", q_comment=FORM_TEXT, o=OFFICER_A)
    phone(app, "7201", "203.0.113.11", q_overall="1", q_comment=HIDDEN)
    _kiosk_answer_with_comment(app, storage, "7246", OFFICER_B, LINK_TEXT)
    (row,) = [r for r in storage.form_comment_rows(0, 2**62, None, ["comment"]) if r["answers"].get("comment") == HIDDEN]
    admin, _ = login(app, "province-admin")
    csrf = CSRF_RE.search(admin.get("/results/comments").text).group(1)
    hidden = admin.post("/results/comments/moderate", data={"csrf": csrf, "key": f"{row['response_id']}/comment", "action": "hide",
                                                            "reason": "Lời lẽ xúc phạm", "confirm": "yes", "back": ""})
    assert hidden.status_code == 303, hidden.text[:300]
    yield app, storage
    storage.close()


def _book(client, query: str = QUERY):
    resp = client.get(f"/results/export.xlsx?{query}")
    assert resp.status_code == 200
    return resp.content


def _all_text(content: bytes, only: str | None = None) -> str:
    book = load_workbook(io.BytesIO(content))
    return "\n".join(str(c) for ws in book if only in (None, ws.title) for row in ws.iter_rows(values_only=True)
                     for c in row if c is not None)


def _comment_rows(content: bytes) -> list[dict]:
    return [r for r in sheet(content, "Góp ý") if r.get("Mã đơn vị")]


def _hidden_line(content: bytes) -> str:
    ws = load_workbook(io.BytesIO(content))["Góp ý"]
    return next(c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str) and c.startswith("Ý kiến đã ẩn"))


def _token(storage, name: str, *scope: str) -> str:
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--db", db, "api-tokens", "add", "--name", name, *scope]) == 0
    return buf.getvalue().strip().splitlines()[-1]


def _pull(app, token: str, query: str = QUERY):
    return TestClient(app).get(f"/api/v1/pull/comments?{query}", headers={"Authorization": f"Bearer {token}"})


def test_xlsx_sheet_holds_the_visible_comments_with_officer_names_for_the_admin(world):
    app, _ = world
    content = _book(login(app, "province-admin")[0])
    rows = _comment_rows(content)
    assert [r["Nội dung"] for r in rows] == [LINK_TEXT, FORM_TEXT]  # newest first
    link, form = rows
    assert (link["Mã đơn vị"], link["Cán bộ"], link["Nguồn"]) == ("7246", NAME_B, "Góp ý sau đánh giá tại kiosk")
    assert (form["Mã đơn vị"], form["Cán bộ"], form["Nguồn"]) == ("7201", NAME_A, "Phiếu điện thoại (QR)")
    assert form["Điểm tiếp nhận"] and form["Mức đánh giá"]
    assert form["Thời gian"].startswith(TODAY.strftime("%d/%m/%Y")) or form["Thời gian"].startswith(
        (TODAY - timedelta(days=1)).strftime("%d/%m/%Y"))
    assert _hidden_line(content) == "Ý kiến đã ẩn (không đưa vào bảng): 1"
    assert HIDDEN not in _all_text(content)  # left out for the admin too: what leaves the server is what a reader may see
    sheet_text = _all_text(content, "Góp ý")
    assert OFFICER_A not in sheet_text and OFFICER_B not in sheet_text  # names, never ids


def test_xlsx_sheet_follows_the_scope_and_leaves_officers_out_for_a_commune(world):
    app, _ = world
    content = _book(login(app, "commune-viewer")[0])  # commune 7201
    rows = _comment_rows(content)
    assert [r["Nội dung"] for r in rows] == [FORM_TEXT]
    assert "Cán bộ" not in rows[0]
    text = _all_text(content)
    assert NAME_A not in text and NAME_B not in text and LINK_TEXT not in text and HIDDEN not in text
    assert _hidden_line(content).endswith(": 1")  # its hidden comment is its own
    district = _comment_rows(_book(login(app, "district-viewer")[0]))  # district 213: Thọ Xương only
    assert [(r["Nội dung"], r["Cán bộ"]) for r in district] == [(FORM_TEXT, NAME_A)]


def test_xlsx_sheet_follows_the_window(world):
    app, _ = world
    before = f"from={(TODAY - timedelta(days=20)).isoformat()}&to={(TODAY - timedelta(days=10)).isoformat()}"
    content = _book(login(app, "province-admin")[0], before)
    assert _comment_rows(content) == [] and _hidden_line(content).endswith(": 0")


def test_pull_api_rows_equal_the_visible_comments_by_token_scope(world):
    app, storage = world
    province = _pull(app, _token(storage, "cmt-province", "--province"))
    assert province.status_code == 200, province.text
    body = province.json()
    assert body["hidden_left_out"] == 1 and body["window"]["from"] == (TODAY - timedelta(days=1)).isoformat()
    assert [(i["text"], i["unit_code"], i["source"], i["officer_name"]) for i in body["items"]] == [
        (LINK_TEXT, "7246", "link", NAME_B), (FORM_TEXT, "7201", "form", NAME_A)]
    assert all(i["created_at"].endswith("+07:00") for i in body["items"])
    assert OFFICER_A not in province.text and OFFICER_B not in province.text and HIDDEN not in province.text
    # The XLSX and the API hand on the same comments.
    xlsx = [(r["Nội dung"], r["Mã đơn vị"]) for r in _comment_rows(_book(login(app, "province-admin")[0]))]
    assert xlsx == [(i["text"], i["unit_code"]) for i in body["items"]]
    commune = _pull(app, _token(storage, "cmt-commune", "--scope-unit", "7201")).json()
    assert [i["text"] for i in commune["items"]] == [FORM_TEXT] and "officer_name" not in commune["items"][0]
    assert commune["hidden_left_out"] == 1
    district = _pull(app, _token(storage, "cmt-district", "--scope-unit", "215")).json()
    assert [(i["text"], i["officer_name"]) for i in district["items"]] == [(LINK_TEXT, NAME_B)] and district["hidden_left_out"] == 0
    only_form = _pull(app, _token(storage, "cmt-form", "--province"), QUERY + "&source=form").json()
    assert [i["text"] for i in only_form["items"]] == [FORM_TEXT]


def test_pull_api_checks_the_window_and_the_token(world):
    app, storage = world
    token = _token(storage, "cmt-checks", "--province")
    bad = _pull(app, token, "from=31/02/2024")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_body"
    reversed_ = _pull(app, token, f"from={TODAY.isoformat()}&to={(TODAY - timedelta(days=3)).isoformat()}")
    assert reversed_.status_code == 422
    assert TestClient(app).get("/api/v1/pull/comments").status_code == 401
    unknown = TestClient(app).get("/api/v1/pull/comments", headers={"Authorization": "Bearer hl1_nope"})
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_token"
