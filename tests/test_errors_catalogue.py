"""One error catalogue, one JSON shape; an unexpected exception is a plain 500 without a traceback."""

from __future__ import annotations

from tests.support import server_db_location

import logging
import re

import pytest
from fastapi.testclient import TestClient

from sync_server import settings as server_settings
from sync_server.app import create_app
from sync_server.errors import CATALOGUE, ITEM_CODES, ApiError, error_body
from sync_server.storage import open_storage


def test_every_code_has_an_error_status_and_message():
    for code, (status, message) in CATALOGUE.items():
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", code), code
        assert 400 <= status <= 599, code
        assert message and message[0].islower(), code
    for code in ITEM_CODES:
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", code), code


def test_api_error_takes_status_and_default_message_from_the_catalogue():
    exc = ApiError("batch_too_large")
    assert (exc.status, exc.message) == CATALOGUE["batch_too_large"]
    assert ApiError("invalid_json", "bad").message == "bad"
    with pytest.raises(KeyError):
        ApiError("no_such_code")
    assert error_body("x", "y") == {"error": {"code": "x", "message": "y"}}


class _Broken(Exception):
    pass


def test_unexpected_exception_is_a_plain_500(tmp_path, caplog):
    db = server_db_location(tmp_path)
    storage = open_storage(db)

    def explode(*args, **kwargs):
        raise _Broken("secret detail /etc/passwd at line 42")

    # A failure scripted inside the storage boundary: every route that reads the device breaks.
    storage.device_by_token = explode
    app = create_app(server_settings.load(db=str(db)), storage)
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="sync_server"):
        resp = client.get("/api/v1/kiosk/config", headers={"Authorization": "Bearer hl1_x"})
    assert resp.status_code == 500
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {"error": {"code": "internal_error", "message": CATALOGUE["internal_error"][1]}}
    assert "Traceback" not in resp.text and "secret detail" not in resp.text and "_Broken" not in resp.text
    # ... and the traceback is in the log, where IT staff look.
    assert any(r.exc_info and r.exc_info[0] is _Broken for r in caplog.records)
    storage.close()


def test_unexpected_exception_in_a_sync_route_and_upload(tmp_path):
    db = server_db_location(tmp_path)
    storage = open_storage(db)
    app = create_app(server_settings.load(db=str(db)), storage)

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    storage.redeem_enroll_code = explode
    client = TestClient(app, raise_server_exceptions=False)
    resp = client.post("/api/v1/enroll", json={"code": "ABCD-EFGH-JKMN"})
    assert resp.status_code == 500
    assert resp.json()["error"]["code"] == "internal_error"
    assert "disk on fire" not in resp.text
    storage.close()
