"""Issue 15, "Admin safety": a destructive action goes ahead only with its confirmation box ticked, the
box naming what it affects; without it the answer is 400 and nothing changed. New accounts default to
the least-privileged role. Real database, the real app."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from fastapi.testclient import TestClient

from tests.results_world import enrol
from tests.server_web import add_users, login, make_app


def test_destructive_posts_without_confirmation_are_refused(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)
    admin, csrf = login(app, "province-admin")
    enrol(app, storage, "7201")
    device = storage.devices()[0]
    fleet = admin.get("/admin/fleet").text
    assert f"Thu hồi kiosk {device['name']}: kiosk ngừng gửi phiếu" in fleet
    now = datetime.now(timezone.utc)
    cid = storage.add_campaign("Đợt thử", "2026-01-01", "2026-01-31", "bg-friendly-gov", 1, ["24"], now)
    assert "Xoá đợt khảo sát Đợt thử (phiếu đã thu vẫn giữ)" in admin.get("/admin/questionnaires").text
    for path in (f"/admin/fleet/{device['id']}/revoke", f"/admin/fleet/{device['id']}/reenrol", f"/admin/campaigns/{cid}/delete"):
        for confirm in ({}, {"confirm": "0"}, {"confirm": "yes"}):
            resp = admin.post(path, data={"csrf": csrf, **confirm})
            assert resp.status_code == 400 and "Chưa đánh dấu ô xác nhận: chưa có gì thay đổi." in resp.text, (path, confirm)
    assert storage.device(device["id"])["revoked_at"] is None and storage.campaign(cid) is not None
    assert admin.post(f"/admin/campaigns/{cid}/delete", data={"csrf": csrf, "confirm": "1"}).status_code == 303
    assert storage.campaign(cid) is None
    assert admin.post(f"/admin/fleet/{device['id']}/revoke", data={"csrf": csrf, "confirm": "1"}).status_code == 303
    assert storage.device(device["id"])["revoked_at"] is not None
    # An unknown campaign is 404 before any confirmation is asked for.
    assert admin.post("/admin/campaigns/999999/delete", data={"csrf": csrf, "confirm": "1"}).status_code == 404


def test_a_new_account_defaults_to_the_least_privileged_role(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)
    admin, _ = login(app, "province-admin")
    form = admin.get("/admin/users").text
    select = form[form.index('<select id="new-role" name="role"'):]
    select = select[:select.index("</select>")]
    assert re.search(r'<option value="commune_viewer" selected>', select) and "province_admin\" selected" not in select
