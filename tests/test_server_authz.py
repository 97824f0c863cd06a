"""The authorization matrix: every route of the app × every role (and no one) × another scope's objects.

Routes are enumerated from the app itself, so a route added without an access rule, or with a
rule this test does not know, fails here (and ``create_app`` refuses to start without a rule).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from sync_server import security
from sync_server.app import check_access_rules, iter_routes
from tests.server_web import OTHER_COMMUNE, ROLE_UNITS, add_users, login, make_app

# What each rule allows, written independently of the app's own table.
ALLOWED = {
    "public": {"anonymous", *ROLE_UNITS},
    "device": set(),  # only a kiosk's Bearer token, never a browser session
    "api_client": set(),  # only a province system's API token, never a browser session
    "user": set(ROLE_UNITS),
    "province_read": {"province_admin", "province_analyst"},
    "admin": {"province_admin"},
}
VIEWERS = ("district_viewer", "commune_viewer")
OTHER_OFFICER = "Zeta Ngoài Phạm Vi"
OTHER_KIOSK = "Máy ngoài phạm vi"
OTHER_UNIT_NAME = "Xã Canh Nậu"  # 7246, in district 215
SCOPED_PARAMS = {"code", "officer_id", "device_id"}  # parameters naming an object with a unit
NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, storage = make_app(tmp_path_factory.mktemp("authz"))
    users = add_users(storage)
    storage.add_officer("cb-other", OTHER_COMMUNE, OTHER_OFFICER, "Công chức", None, None, NOW)
    storage.add_officer("cb-home", "7201", "Officer At Home", None, None, None, NOW)
    storage.create_enroll_code(OTHER_COMMUNE, security.digest("OTHERCODE"), NOW + timedelta(hours=1))
    device = storage.redeem_enroll_code(security.digest("OTHERCODE"), NOW, "dev-other", security.digest("tok"), OTHER_KIOSK)
    cid = storage.add_campaign("Đợt thử", "2025-06-26", "2025-06-30", "bg-friendly-gov", 1, [OTHER_COMMUNE], NOW)
    params = {"code": OTHER_COMMUNE, "officer_id": "cb-other", "device_id": device.id, "user_id": str(users["province_analyst"]),
              "campaign_id": str(cid), "qid": "bg-friendly-gov", "version": "1", "lang": "en"}
    clients = {"anonymous": (TestClient(app, follow_redirects=False), "")}
    for role in ROLE_UNITS:
        clients[role] = login(app, role.replace("_", "-"))
    yield app, storage, params, clients
    storage.close()


def _routes(app):
    out = []
    for route in iter_routes(app.routes):
        if isinstance(route, Mount) or route.path == app.openapi_url:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, route.path, getattr(route.endpoint, "access", None)))
    return out


def _fill(path: str, params: dict) -> str:
    def value(m):
        name = m.group(1)
        assert name in params, f"{path}: add an object for path parameter {name!r} to this test"
        return params[name]
    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", value, path)


def test_every_route_has_a_known_rule(world):
    app = world[0]
    routes = _routes(app)
    assert len(routes) > 30
    for method, path, access in routes:
        assert access in ALLOWED, f"{method} {path}: access rule {access!r} is missing or unknown to this test"


def test_a_route_without_a_rule_stops_the_app():
    app = FastAPI()

    @app.get("/admin/new-report")
    def new_report():
        return {}

    with pytest.raises(RuntimeError, match="no access rule"):
        check_access_rules(app)


@pytest.mark.parametrize("who", ["anonymous", "commune_viewer", "district_viewer", "province_analyst", "province_admin"])
def test_matrix(world, who):
    app, storage, params, clients = world
    client, csrf = clients[who]
    checked = 0
    for method, path, access in _routes(app):
        if path in ("/logout", "/login") and who != "anonymous":
            continue  # ending the shared session would spoil the other checks (tested in test_server_pages)
        url = _fill(path, params)
        data = {"csrf": csrf} if method == "POST" else None
        resp = client.request(method, url, data=data)
        where = f"{who}: {method} {path} ({access}) → {resp.status_code}"
        assert resp.status_code < 500, where
        allowed = who in ALLOWED[access]
        scoped = bool(SCOPED_PARAMS & set(re.findall(r"\{([^}:]+)", path)))
        if access == "public":
            pass  # anyone may call it; its own checks (e.g. the login form's token) still apply
        elif access in ("device", "api_client"):
            assert resp.status_code == 401 and resp.json()["error"]["code"] == "missing_token", where
        elif not allowed:
            if who == "anonymous":
                expected = (303,) if method == "GET" else (401,)
                assert resp.status_code in expected, where
                if method == "GET":
                    assert resp.headers["location"].startswith("/login?next="), where
            else:
                assert resp.status_code == 403, where
        elif who in VIEWERS and scoped:
            assert resp.status_code == 403, f"{where}: another scope's object must be refused"
        elif who in VIEWERS and method == "GET":
            assert resp.status_code == 200, where
            for marker in (OTHER_OFFICER, OTHER_KIOSK, OTHER_UNIT_NAME):
                assert marker not in resp.text, f"{where}: shows {marker!r} from another scope"
        else:
            assert resp.status_code not in (401, 403), where
        checked += 1
    assert checked > 30


def test_viewers_see_their_own_scope(world):
    _, _, _, clients = world
    for who in VIEWERS:
        client, _ = clients[who]
        assert client.get("/admin/units/7201").status_code == 200
        assert "Officer At Home" in client.get("/admin/officers").text
        assert client.get("/admin/officers/cb-home").status_code == 200
    district, _ = clients["district_viewer"]
    assert district.get("/admin/units/213").status_code == 200
    commune, _ = clients["commune_viewer"]
    assert commune.get("/admin/units/213").status_code == 403  # its district is above its scope
    analyst, _ = clients["province_analyst"]
    assert OTHER_OFFICER in analyst.get("/admin/officers").text and OTHER_KIOSK in analyst.get("/admin/fleet").text


def test_post_without_the_session_csrf_token_is_refused(world):
    app, storage, params, clients = world
    client, csrf = clients["province_admin"]
    before = len(storage.officers())
    for data in ({}, {"csrf": "forged"}, {"csrf": csrf[:-1]}):
        resp = client.post("/admin/officers", data={**data, "unit_code": "7201", "name": "Kẻ giả mạo"})
        assert resp.status_code == 403
    assert len(storage.officers()) == before
    # A session cookie with a token from another session is refused too.
    _, analyst_csrf = clients["province_analyst"]
    assert client.post("/admin/officers", data={"csrf": analyst_csrf, "unit_code": "7201", "name": "X"}).status_code == 403
