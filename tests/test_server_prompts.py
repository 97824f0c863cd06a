"""Voice prompts on the server (issue 12): the admin page, the config's list, the kiosk download, the
kiosk-side fetch against a real server, and schema step 8 with data in place.

Runs on SQLite and again on PostgreSQL (the module name starts with ``test_server_``).
"""

from __future__ import annotations

import hashlib
import queue
import re
import sqlite3
import wave
from array import array
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from kiosk import prompts as kiosk_prompts
from kiosk import settings as kiosk_settings
from kiosk.store import Store
from kiosk.sync import ServerApi, SyncService, enroll
from kiosk.voice import RECORDING, Voice
from sync_server import accounts, security
from sync_server.kiosk_config import build_config
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS
from tests.server_web import CSRF_RE, PASSWORD, add_users, login, make_app

NOW = datetime.now(timezone.utc)


def wav_bytes(seconds: float = 0.2, rate: int = 16000, width: int = 2, tone: int = 1) -> bytes:
    import io

    frames = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(array("h", [(i * 37 * tone) % 20000 - 10000 for i in range(frames)]).tobytes() if width == 2
                      else bytes(frames))
    return buf.getvalue()


def _device_token(storage, unit: str = "7201", name: str = "prompts") -> str:
    code, token = f"CODE{name.upper()}", f"hl1_{name}-token"
    storage.create_enroll_code(unit, security.digest(code), NOW + timedelta(hours=1))
    storage.redeem_enroll_code(security.digest(code), NOW, f"dev-{name}", security.digest(token), name)
    return token


@pytest.fixture
def site(tmp_path):
    app, storage = make_app(tmp_path, prompt_max_kb=64)
    add_users(storage)
    yield app, storage
    storage.close()


def _upload(client, csrf, name="invitation", lang="vi", data: bytes | None = None, filename="loi-moi.wav"):
    data = wav_bytes() if data is None else data
    return client.post("/admin/prompts", data={"csrf": csrf, "name": name, "lang": lang},
                       files={"file": (filename, data, "audio/wav")})


def _error_detail(resp) -> str:
    match = re.search(r'<div class="flash err">(.*?)</div>', resp.text, re.S)
    assert match, resp.text[:800]
    return match.group(1)


# --- the admin page --------------------------------------------------------------------------------

def test_upload_lists_it_the_config_names_it_and_a_kiosk_downloads_it(site):
    app, storage = site
    client, csrf = login(app, "province-admin")
    data = wav_bytes()
    resp = _upload(client, csrf, data=data)
    assert resp.status_code == 303 and resp.headers["location"] == "/admin/prompts?ok=ok_prompt_uploaded"
    page = client.get("/admin/prompts?ok=ok_prompt_uploaded")
    assert page.status_code == 200
    assert "Đã tải lên bản ghi âm" in page.text and "Lời mời đánh giá" in page.text and "Tiếng Việt" in page.text
    assert "0.2 s" in page.text and 'name="csrf"' in page.text
    listen = client.get("/admin/prompts/audio?name=invitation&lang=vi")
    assert listen.status_code == 200 and listen.content == data and listen.headers["content-type"] == "audio/wav"

    config = build_config(storage, app.state.hailong.settings, "7201")
    sha = hashlib.sha256(data).hexdigest()
    assert config["prompts"] == [{"name": "invitation", "lang": "vi", "sha256": sha, "bytes": len(data), "duration_ms": 200,
                                  "path": "/api/v1/kiosk/prompt?name=invitation&lang=vi"}]
    assert storage.audit_log()[0]["action"] == "prompt.upload" and storage.audit_log()[0]["detail"]["sha256"] == sha

    from fastapi.testclient import TestClient

    kiosk = TestClient(app)
    token = _device_token(storage)
    fetched = kiosk.get(config["prompts"][0]["path"], headers={"Authorization": f"Bearer {token}"})
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["content-type"] == "audio/wav" and fetched.headers["x-content-sha256"] == sha
    # The config the kiosk fetches carries the list too.
    assert kiosk.get("/api/v1/kiosk/config", headers={"Authorization": f"Bearer {token}"}).json()["prompts"] == config["prompts"]

    wrong = kiosk.get(config["prompts"][0]["path"], headers={"Authorization": "Bearer hl1_not-this-one"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"
    none = kiosk.get(config["prompts"][0]["path"])
    assert none.status_code == 401 and none.json()["error"]["code"] == "missing_token"
    missing = kiosk.get("/api/v1/kiosk/prompt?name=thanks&lang=vi", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_prompt"
    bad = kiosk.get("/api/v1/kiosk/prompt?name=welcome&lang=vi", headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_body"


@pytest.mark.parametrize("case,expected", [
    ("text", "không phải tệp WAV"),
    ("8bit", "PCM 16 bit"),
    ("big", "quá mức tối đa 64 KB"),
    ("empty", "Chưa chọn tệp ghi âm"),
    ("lang", "Mã ngôn ngữ “Tiếng Việt!” không hợp lệ"),
    ("name", "Không có lời nhắc “welcome”"),
    ("rate", "từ 8 000 đến 48 000 Hz"),
])
def test_bad_files_are_refused_with_a_clear_vietnamese_message(site, case, expected):
    app, storage = site
    client, csrf = login(app, "province-admin")
    kwargs = {
        "text": {"data": "xin chào, đây không phải âm thanh".encode(), "filename": "loi-moi.txt"},
        "8bit": {"data": wav_bytes(width=1)},
        "big": {"data": wav_bytes(seconds=3.0)},  # 96 KB at 16 kHz mono
        "empty": {"data": b""},
        "lang": {"lang": "Tiếng Việt!"},
        "name": {"name": "welcome"},
        "rate": {"data": wav_bytes(rate=96000, seconds=0.05)},
    }[case]
    resp = _upload(client, csrf, **kwargs)
    assert resp.status_code in (400, 422), resp.text[:300]
    assert expected in _error_detail(resp)
    assert storage.prompts() == []
    # ... and in English for a reader who chose it.
    client.cookies.set("hl_lang", "en")
    if case == "big":
        assert "over the limit of 64 KB" in _error_detail(_upload(client, csrf, **kwargs))


def test_replace_and_delete(site):
    app, storage = site
    client, csrf = login(app, "province-admin")
    _upload(client, csrf, name="thanks", lang="tyz", data=wav_bytes(tone=1))
    second = wav_bytes(tone=3)
    assert _upload(client, csrf, name="thanks", lang="tyz", data=second).status_code == 303
    rows = storage.prompts()
    assert len(rows) == 1 and rows[0]["sha256"] == hashlib.sha256(second).hexdigest()
    assert storage.audit_log()[0]["detail"]["replaced"] is True
    page = client.get("/admin/prompts").text
    assert "Tiếng Tày" in page and "Lời cảm ơn" in page and "chưa có bản tiếng Việt" in page
    refused = client.post("/admin/prompts/delete", data={"csrf": csrf, "name": "thanks", "lang": "tyz"})
    assert refused.status_code == 400  # the confirmation box not ticked: nothing deleted
    resp = client.post("/admin/prompts/delete", data={"csrf": csrf, "name": "thanks", "lang": "tyz", "confirm": "1"})
    assert resp.status_code == 303 and storage.prompts() == []
    again = client.post("/admin/prompts/delete", data={"csrf": csrf, "name": "thanks", "lang": "tyz", "confirm": "1"})
    assert again.status_code == 400 and "Không có bản ghi âm" in _error_detail(again)
    assert build_config(storage, app.state.hailong.settings, "7201")["prompts"] == []


def test_roles_and_csrf(site):
    app, storage = site
    analyst, analyst_csrf = login(app, "province-analyst")
    assert analyst.get("/admin/prompts").status_code == 200
    assert "prompt-file" not in analyst.get("/admin/prompts").text  # no upload form for a reader
    assert _upload(analyst, analyst_csrf).status_code == 403
    viewer, _ = login(app, "district-viewer")
    assert viewer.get("/admin/prompts").status_code == 403
    admin, csrf = login(app, "province-admin")
    assert _upload(admin, "not-the-token").status_code == 403
    assert storage.prompts() == []
    assert 'href="/admin/prompts"' in admin.get("/").text


# --- schema step 8 with data in place ---------------------------------------------------------

@pytest.mark.sqlite_only  # builds a step-7 file by hand; PostgreSQL databases start at the current schema
def test_a_step_7_database_upgrades_keeping_its_answers(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for step in MIGRATIONS[:7]:
        for statement in step:
            conn.execute(statement if isinstance(statement, str) else statement.sqlite)
    conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES ('24', 'Bắc Giang', 'province', NULL, '2023-01-01')")
    conn.execute("INSERT INTO responses (id, content_hash, unit_code, questionnaire_id, questionnaire_version, channel, seq, "
                 "created_at, created_ms, received_at, answers, flags) VALUES ('r-1', 'c', '24', 'bg-friendly-gov', 1, 'kiosk', 1, "
                 "'2026-01-05T08:00:00+07:00', 1767574800000, '2026-01-05T08:00:01+07:00', '{\"overall\": 5}', '[]')")
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    storage = open_storage(path)
    try:
        assert storage._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 8
        assert storage.response_count() == 1
        assert storage.prompts() == []
        data = wav_bytes()
        assert storage.put_prompt("apology", "vi", data, hashlib.sha256(data).hexdigest(), 200, NOW, "admin") is False
        assert storage.prompt("apology", "vi")["content"] == data
    finally:
        storage.close()


def test_storage_keeps_the_bytes_exactly(tmp_path):
    from tests.support import server_db_location

    storage = open_storage(server_db_location(tmp_path))
    try:
        data = bytes(range(256)) * 40  # every byte value, NULs included (BLOB / BYTEA)
        storage.put_prompt("question", "nut", data, hashlib.sha256(data).hexdigest(), 1, NOW, None)
        assert storage.prompt("question", "nut")["content"] == data
        assert storage.prompts()[0]["bytes"] == len(data) and "content" not in storage.prompts()[0]
        assert storage.delete_prompt("question", "nut") and not storage.delete_prompt("question", "nut")
    finally:
        storage.close()


# --- the kiosk's fetch against a real server ----------------------------------------------------------

def _admin_session(server) -> tuple[requests.Session, str]:
    storage = open_storage(server.db)
    try:
        storage.add_user("tinh-admin", accounts.hash_secret(PASSWORD), "province_admin", None, NOW)
    finally:
        storage.close()
    session = requests.Session()
    csrf = CSRF_RE.search(session.get(server.url + "/login", timeout=10).text).group(1)
    resp = session.post(server.url + "/login", data={"username": "tinh-admin", "password": PASSWORD, "csrf": csrf, "next": "/"},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 303, resp.text[:300]
    return session, CSRF_RE.search(session.get(server.url + "/admin/prompts", timeout=10).text).group(1)


def _upload_live(server, session, csrf, name, lang, data) -> None:
    resp = session.post(server.url + "/admin/prompts", data={"csrf": csrf, "name": name, "lang": lang},
                        files={"file": (f"{name}.wav", data, "audio/wav")}, allow_redirects=False, timeout=10)
    assert resp.status_code == 303, resp.text[:500]


def test_a_kiosk_fetches_checks_replaces_and_drops_recordings_from_a_real_server(server, tmp_path):
    session, csrf = _admin_session(server)
    invitation, thanks = wav_bytes(tone=1), wav_bytes(tone=2)
    _upload_live(server, session, csrf, "invitation", "vi", invitation)
    _upload_live(server, session, csrf, "thanks", "nut", thanks)

    store = Store(tmp_path / "kiosk" / "kiosk.sqlite3")
    enroll(store, server.url, server.enroll_code("7201"), "Quầy 1")  # the first config brings the recordings
    folder = kiosk_prompts.folder(store)
    assert folder == tmp_path / "kiosk" / "prompts"
    assert (folder / "invitation.vi.wav").read_bytes() == invitation
    assert (folder / "thanks.nut.wav").read_bytes() == thanks
    assert store.get_meta("prompts_status") == {"count": 2, "failed": {}}

    # The window's voice plays the downloaded recording.
    played: "queue.Queue" = queue.Queue()

    class Sink:
        def play(self, prompt, cancel):
            played.put(prompt)

        def close(self):
            pass

    voice = Voice(folder, sink=Sink())
    try:
        voice.say("invitation", "vi")
        prompt = played.get(timeout=10)
        assert (prompt.kind, prompt.source) == (RECORDING, str(folder / "invitation.vi.wav"))
    finally:
        voice.close()

    # The province replaces one and deletes the other: the next round follows.
    invitation2 = wav_bytes(tone=5)
    _upload_live(server, session, csrf, "invitation", "vi", invitation2)
    resp = session.post(server.url + "/admin/prompts/delete", data={"csrf": csrf, "name": "thanks", "lang": "nut", "confirm": "1"},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 303
    service = SyncService(store, kiosk_settings.load(tmp_path / "kiosk", connect_timeout_s=2.0))
    report = service.run_round(force=True)
    assert report["error"] is None and report["config_changed"] is True
    assert (folder / "invitation.vi.wav").read_bytes() == invitation2
    assert not (folder / "thanks.nut.wav").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["index.json", "invitation.vi.wav"]

    # A file lost on the kiosk comes back even though the config did not change (304).
    (folder / "invitation.vi.wav").unlink()
    report = service.run_round(force=True)
    assert report["config_changed"] is False and (folder / "invitation.vi.wav").read_bytes() == invitation2

    # A wrong token: the download fails, the round and the kept file survive, and it is noted.
    api = ServerApi(server.url, "hl1_wrong", timeout=(2.0, 10.0))
    (folder / "invitation.vi.wav").unlink()
    assert kiosk_prompts.refresh(api, store, store.get_meta("config")).failed.keys() == {"invitation.vi.wav"}
    assert "invitation.vi.wav" in store.get_meta("prompts_status")["error"]
    assert store.status()["last_error"].startswith("prompts: invitation.vi.wav: SyncAuthError")
    assert not any(p.name.endswith(".part") for p in folder.iterdir())
    store.close()


def test_a_recording_that_does_not_match_its_entry_is_not_kept(server, tmp_path):
    session, csrf = _admin_session(server)
    data = wav_bytes()
    _upload_live(server, session, csrf, "apology", "vi", data)
    store = Store(tmp_path / "kiosk.sqlite3")
    enroll(store, server.url, server.enroll_code("7201"))
    config = store.get_meta("config")
    folder = kiosk_prompts.folder(store)
    (folder / "apology.vi.wav").unlink()
    entry = config["prompts"][0]
    tampered = {**config, "prompts": [{**entry, "sha256": "0" * 64}, {**entry, "lang": "en", "bytes": entry["bytes"] - 1},
                                      {"name": "thanks", "lang": "vi", "path": "/x"}, {"name": "a-newer-prompt", "lang": "vi"}]}
    api = ServerApi(server.url, store.get_meta("token"), timeout=(2.0, 10.0))
    report = kiosk_prompts.refresh(api, store, tampered)
    assert "SHA-256 differs" in report.failed["apology.vi.wav"]
    assert "larger than" in report.failed["apology.en.wav"]
    assert report.failed["thanks.vi"] == "incomplete entry"
    assert sorted(p.name for p in folder.iterdir()) == ["index.json"]
    store.close()
