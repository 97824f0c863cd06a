"""Remote update on the server (issue 16, sync_server/releases.py): a kiosk release is checked and kept
with its SHA-256, staged to a few kiosks or all (the page asks to confirm "all"; audited), named in
the config of the kiosks it is staged for (the ETag changes), served to those kiosks only, and the
outcome they report is kept and shown."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync_server import releases, security
from sync_server.storage import StorageRefused
from tests.server_web import add_users, login, make_app
from tests.screens import screen_path
from tests.support import ROOT, server_cli, server_db_location

NOW = datetime.now(timezone.utc)
SCREENSHOT = "admin_releases.png"  # in tmp_path; docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1


def wheel(version: str, *, kiosk_version: str | None = None, meta_version: str | None = None, updater: bool = True,
          extra: str = "kiosk") -> tuple[str, bytes]:
    """A small file shaped like a kiosk wheel (what the server checks: names, metadata, versions)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("kiosk/__init__.py", f'"""The kiosk."""\n\n__version__ = "{kiosk_version or version}"\n')
        z.writestr("kiosk/cli.py", "def main():\n    return 0\n")
        if updater:
            z.writestr("kiosk/updater.py", "")
        z.writestr(f"hailong-{version}.dist-info/METADATA", f"Metadata-Version: 2.4\nName: hailong\nVersion: {meta_version or version}\n"
                                                           f"Requires-Python: >=3.11\nProvides-Extra: {extra}\n\nThe long text.\n")
    return f"hailong-{version}-py3-none-any.whl", buf.getvalue()


def _device(storage, unit: str, name: str, token: str) -> str:
    code = f"REL{token.upper()}CODE"
    storage.create_enroll_code(unit, security.digest(code), NOW + timedelta(hours=1))
    return storage.redeem_enroll_code(security.digest(code), NOW, f"dev-{token}", security.digest(token), name).id


@pytest.fixture
def world(tmp_path):
    app, storage = make_app(tmp_path, release_max_mb=1.0)
    add_users(storage)
    devices = {"a": _device(storage, "7201", "Quầy 1 – Thọ Xương", "tok-a"), "b": _device(storage, "7201", "Quầy 2 – Thọ Xương", "tok-b"),
               "c": _device(storage, "7246", "Quầy một cửa – Canh Nậu", "tok-c")}
    yield app, storage, devices
    storage.close()


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- what a release must be -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, reason", [
    ({"filename": "kiosk.zip"}, "name"),
    ({"filename": "hailong-0.2.0-cp311-cp311-linux_x86_64.whl"}, "name"),
    ({"content": b""}, "empty"),
    ({"content": b"x" * (2**20 + 1)}, "too_big"),
    ({"content": b"not a zip at all"}, "not_zip"),
    ({"content": wheel("0.2.0", updater=False)[1]}, "not_kiosk"),
    ({"content": wheel("0.2.0", extra="server")[1]}, "not_kiosk"),
    ({"content": wheel("0.2.0", kiosk_version="0.1.0")[1]}, "version_mismatch"),
    ({"content": wheel("0.2.0", meta_version="0.2.1")[1]}, "version_mismatch"),
])
def test_a_release_must_be_a_kiosk_wheel_whose_versions_agree(kwargs, reason):
    name, content = wheel("0.2.0")
    with pytest.raises(releases.ReleaseRefused) as exc:
        releases.check_wheel(kwargs.get("filename", name), kwargs.get("content", content), max_mb=1.0)
    assert exc.value.reason == reason
    assert releases.check_wheel(name, content, max_mb=1.0) == "0.2.0"


def test_one_release_per_version_audited(world):
    _, storage, _ = world
    name, content = wheel("0.2.0")
    release = releases.add(storage, storage_settings(world), name, content, notes="Sửa lỗi giờ")
    assert release["sha256"] == hashlib.sha256(content).hexdigest() and release["bytes"] == len(content)
    assert storage.release_content(release["id"]) == content
    with pytest.raises(releases.ReleaseRefused) as exc:
        releases.add(storage, storage_settings(world), name, content)
    assert exc.value.reason == "version_taken"
    with pytest.raises(StorageRefused):
        storage.add_release("0.2.0", name, "0" * 64, b"x", None, NOW, None)
    entry = storage.audit_log()[0]
    assert entry["action"] == "release.add" and entry["target"] == "0.2.0" and entry["detail"]["sha256"] == release["sha256"]


def storage_settings(world):
    return world[0].state.hailong.settings


# --- the kiosk's side of the protocol -----------------------------------------------------------------


def test_the_config_names_the_release_only_for_kiosks_it_is_staged_for(world):
    app, storage, devices = world
    client = TestClient(app)
    first = {k: client.get("/api/v1/kiosk/config", headers=_auth(f"tok-{k}")) for k in "ab"}
    assert all(r.status_code == 200 and "release" not in r.json() for r in first.values())
    name, content = wheel("0.2.0")
    release = releases.add(storage, app.state.hailong.settings, name, content)
    assert releases.stage(storage, release["id"], devices=[devices["a"]]) == 1
    a = client.get("/api/v1/kiosk/config", headers={**_auth("tok-a"), "If-None-Match": first["a"].headers["ETag"]})
    assert a.status_code == 200 and a.headers["ETag"] != first["a"].headers["ETag"]  # staging changes the ETag
    block = a.json()["release"]
    assert block == {"id": release["id"], "version": "0.2.0", "sha256": release["sha256"],
                     "url": "/api/v1/kiosk/releases/0.2.0/wheel", "filename": name, "bytes": len(content),
                     "staged_at": block["staged_at"]}
    b = client.get("/api/v1/kiosk/config", headers={**_auth("tok-b"), "If-None-Match": first["b"].headers["ETag"]})
    assert b.status_code == 304  # nothing changed for a kiosk it is not staged for


def test_only_a_kiosk_the_release_is_staged_for_may_download_it(world):
    app, storage, devices = world
    client = TestClient(app)
    name, content = wheel("0.2.0")
    release = releases.add(storage, app.state.hailong.settings, name, content)
    releases.stage(storage, release["id"], devices=[devices["a"]])
    url = "/api/v1/kiosk/releases/0.2.0/wheel"
    ok = client.get(url, headers=_auth("tok-a"))
    assert ok.status_code == 200 and ok.content == content
    assert ok.headers["content-type"] == "application/octet-stream" and ok.headers["x-content-sha256"] == release["sha256"]
    for headers, status, code in (({}, 401, "missing_token"), (_auth("tok-nobody"), 401, "invalid_token"),
                                  (_auth("tok-b"), 403, "release_not_staged"), (_auth("tok-c"), 403, "release_not_staged")):
        resp = client.get(url, headers=headers)
        assert resp.status_code == status and resp.json()["error"]["code"] == code, (headers, resp.text)
    unknown = client.get("/api/v1/kiosk/releases/9.9.9/wheel", headers=_auth("tok-a"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_release"
    storage.revoke_device(devices["a"], NOW)
    assert client.get(url, headers=_auth("tok-a")).json()["error"]["code"] == "device_revoked"
    doc = client.get("/openapi.json").json()["paths"]["/api/v1/kiosk/releases/{version}/wheel"]["get"]
    assert {"200", "401", "403", "404"} <= set(doc["responses"]) and "application/octet-stream" in doc["responses"]["200"]["content"]


def _heartbeat(client, token: str, **update) -> int:
    body = {"pending": 0, "app_version": update.pop("app_version", "0.1.0"), "device_time": NOW.isoformat()}
    if update:
        body["update"] = update
    return client.post("/api/v1/kiosk/heartbeat", json=body, headers=_auth(token)).status_code


def test_the_outcome_a_kiosk_reports_is_kept_on_its_staged_release(world):
    app, storage, devices = world
    client = TestClient(app)
    old = releases.add(storage, app.state.hailong.settings, *wheel("0.2.0"))
    new = releases.add(storage, app.state.hailong.settings, *wheel("0.2.1"))
    releases.stage(storage, new["id"], devices=[devices["a"], devices["b"]])
    assert _heartbeat(client, "tok-a", app_version="0.2.1", release_id=new["id"], version="0.2.1", outcome="installed",
                      reason="after 1 start(s), from 0.1.0", sha256=new["sha256"], seconds=3.2, at=NOW.isoformat()) == 204
    assert _heartbeat(client, "tok-b", release_id=new["id"], version="0.2.1", outcome="rolled_back",
                      reason="started 3 times without reaching the server") == 204
    assert _heartbeat(client, "tok-c", release_id=old["id"], version="0.2.0", outcome="installed") == 204  # not staged: dropped
    targets = storage.release_targets()
    assert targets[devices["a"]]["outcome"] == "installed" and targets[devices["a"]]["install_seconds"] == 3.2
    assert targets[devices["b"]]["outcome"] == "rolled_back" and "3 times" in targets[devices["b"]]["outcome_reason"]
    assert devices["c"] not in targets
    listed = {r["version"]: r for r in storage.releases()}
    assert (listed["0.2.1"]["staged"], listed["0.2.1"]["installed"], listed["0.2.1"]["rolled_back"]) == (2, 1, 1)
    assert _heartbeat(client, "tok-a", release_id=new["id"], version="0.2.1", outcome="exploded") == 422
    # Staged anew: the outcome is forgotten (the kiosk may try again).
    releases.stage(storage, new["id"], devices=[devices["b"]])
    assert storage.release_targets()[devices["b"]]["outcome"] is None


# --- the command line -------------------------------------------------------------------------------------


def test_release_add_and_stage_from_the_command_line(tmp_path):
    db = server_db_location(tmp_path)
    from sync_server.storage import open_storage

    storage = open_storage(db)
    try:
        ids = [_device(storage, "7201", "Quầy 1", "tok-1"), _device(storage, "7201", "Quầy 2", "tok-2"),
               _device(storage, "7246", "Quầy 3", "tok-3")]
        storage.revoke_device(ids[1], NOW)
    finally:
        storage.close()
    name, content = wheel("0.3.0")
    (tmp_path / name).write_bytes(content)
    out = server_cli(db, "release-add", str(tmp_path / name), "--notes", "Bản thử")
    release_id = out.stdout.strip().splitlines()[-1]
    assert release_id.isdigit() and hashlib.sha256(content).hexdigest() in out.stdout
    import subprocess
    import sys

    again = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), "release-add", str(tmp_path / name)],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert again.returncode == 2 and "version_taken" in again.stderr
    assert "staged for 1 kiosk(s)" in server_cli(db, "release-stage", "--release", release_id, "--devices", ids[0]).stdout
    assert "staged for 1 kiosk(s)" in server_cli(db, "release-stage", "--release", release_id, "--unit", "215").stdout
    assert "staged for 2 kiosk(s)" in server_cli(db, "release-stage", "--release", release_id, "--all").stdout  # not the revoked one
    bad = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), "release-stage", "--release", release_id,
                          "--devices", "no-such-kiosk"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "unknown_device" in bad.stderr
    import json

    listed = json.loads(server_cli(db, "releases", "--json").stdout)
    assert listed["releases"][0]["version"] == "0.3.0" and listed["releases"][0]["staged"] == 2
    assert {k["device_id"] for k in listed["staged"]} == {ids[0], ids[2]}


# --- the page ----------------------------------------------------------------------------------------------


def test_the_page_adds_stages_to_a_few_then_all_with_confirmation_and_withdraws(world):
    app, storage, devices = world
    admin, csrf = login(app, "province-admin")
    page = admin.get("/admin/releases")
    assert page.status_code == 200 and "Cập nhật kiosk từ xa" in page.text
    name, content = wheel("0.2.0")
    resp = admin.post("/admin/releases", data={"csrf": csrf, "notes": "Sửa lỗi đồng hồ"}, files={"file": (name, content)})
    assert resp.status_code == 303 and "ok_release_added" in resp.headers["location"]
    bad = admin.post("/admin/releases", data={"csrf": csrf}, files={"file": ("hailong-0.2.1-py3-none-any.whl", content)})
    assert bad.status_code == 400 and "Phiên bản không khớp" in bad.text
    rid = str(storage.releases()[0]["id"])
    # A few first ...
    resp = admin.post("/admin/releases/stage", data={"csrf": csrf, "release_id": rid, "devices": [devices["a"]]})
    assert resp.status_code == 303 and set(storage.release_targets()) == {devices["a"]}
    # ... then all: refused without the confirmation ticked.
    resp = admin.post("/admin/releases/stage", data={"csrf": csrf, "release_id": rid, "everyone": "1"})
    assert resp.status_code == 400 and "xác nhận" in resp.text and set(storage.release_targets()) == {devices["a"]}
    resp = admin.post("/admin/releases/stage", data={"csrf": csrf, "release_id": rid, "everyone": "1", "confirm": "1"})
    assert resp.status_code == 303 and set(storage.release_targets()) == set(devices.values())
    resp = admin.post("/admin/releases/unstage", data={"csrf": csrf, "devices": [devices["c"]]})
    assert resp.status_code == 303 and set(storage.release_targets()) == {devices["a"], devices["b"]}
    assert admin.post("/admin/releases/stage", data={"csrf": csrf, "release_id": "999", "devices": [devices["a"]]}).status_code == 400
    assert admin.post("/admin/releases/stage", data={"csrf": csrf, "release_id": rid, "devices": ["nope"]}).status_code == 400
    actions = [(e["action"], (e["detail"] or {}).get("target")) for e in storage.audit_log()[:4]]
    assert actions[0][0] == "release.unstage" and actions[1] == ("release.stage", "all") and actions[2][0] == "release.stage"
    assert actions[3][0] == "release.add"
    # The page shows each kiosk's version and what it reported.
    storage.record_heartbeat(devices["a"], NOW, {"pending": 0, "app_version": "0.2.0", "last_error": None})
    storage.note_release_outcome(devices["a"], int(rid), "installed", "after 1 start(s), from 0.1.0", None, 2.8, NOW)
    storage.note_release_outcome(devices["b"], int(rid), "rolled_back", "started 3 times without reaching the server", None, 3.0, NOW)
    page = admin.get("/admin/releases").text
    assert "Quầy 1 – Thọ Xương" in page and "đã cài" in page and "đã tự quay lại bản cũ" in page
    assert "started 3 times without reaching the server" in page and "kiosk chạy bản 0.2.0" in page


def test_only_the_province_admin_sees_the_page(world):
    app, _, _ = world
    for role in ("province-analyst", "district-viewer"):
        client, _ = login(app, role)
        assert client.get("/admin/releases").status_code == 403


def _seed_releases(storage) -> None:
    from tools import server_screenshots as shots

    shots.seed(storage)
    devices = {d["name"]: d["id"] for d in storage.devices()}
    old = storage.add_release("1.0.3", "hailong-1.0.3-py3-none-any.whl", hashlib.sha256(b"1.0.3").hexdigest(), b"x" * 540_000,
                              "Giờ làm việc theo điểm tiếp nhận", NOW - timedelta(days=30), None)
    new = storage.add_release("1.0.4", "hailong-1.0.4-py3-none-any.whl", hashlib.sha256(b"1.0.4").hexdigest(), b"x" * 552_000,
                              "Chẩn đoán từ xa; cập nhật từ xa", NOW - timedelta(hours=3), None)
    storage.stage_release(old, list(devices.values()), NOW - timedelta(days=29), None, None, "all")
    for name, dev in devices.items():
        if name != "Quầy một cửa – Canh Nậu":  # silent for hours, still on 1.0.2: 1.0.3 waits for it
            storage.note_release_outcome(dev, old, "installed", "after 1 start(s), from 1.0.2", None, 3.4, NOW - timedelta(days=29))
    first = [devices["Quầy 1 – Thọ Xương"], devices["Sảnh A – Trung tâm HCC"]]
    storage.stage_release(new, first, NOW - timedelta(hours=2), None, None, None)
    storage.record_heartbeat(first[0], NOW - timedelta(minutes=1), {"pending": 0, "kept_aside": 0, "app_version": "1.0.4",
                                                                   "clock_offset_s": 1.0, "last_error": None})
    storage.note_release_outcome(first[0], new, "installed", "after 1 start(s), from 1.0.3", None, 2.9, NOW - timedelta(hours=1))
    storage.note_release_outcome(first[1], new, "rolled_back", "started 3 times without reaching the server (last exit: "
                                 "exit-code, status 1); database brought back to schema 3 (newer file kept)", None, 3.1,
                                 NOW - timedelta(minutes=50))


def test_screenshot_of_the_releases_page(tmp_path):
    from tools import server_screenshots as shots

    if not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    with shots.live_app(server_db_location(tmp_path), seed_fn=_seed_releases) as base:
        driver = shots.chromium(1366, 700)
        try:
            shots.sign_in(driver, base)
            driver.get(base + "/admin/releases")
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "1.0.4" in body and "đã tự quay lại bản cũ" in body and re.search(r"\b2\s+kiosk chạy bản 1\.0\.3", body)
            shot = screen_path(tmp_path, SCREENSHOT)
            shots.full_page_png(driver, shot)
            assert shot.stat().st_size > 20_000
        finally:
            driver.quit()
