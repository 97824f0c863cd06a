"""Issue 14 end to end, with real processes: a real ``hailong-server serve``, a kiosk store enrolled to
it, the server's dossier settings reaching the kiosk in its config, a scanned code tying the next
answer, the upload, and the dossier counted as rated by ``hailong-server official`` after its
register arrives. A second rating of the same dossier (the phone) is kept and not counted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kiosk import settings as kiosk_settings
from kiosk.answering import Answering
from kiosk.store import Store
from kiosk.sync import SyncService, enroll
from sync_server.storage import open_storage
from tests.support import LiveServer, free_port, server_cli, server_db_location

PATTERN = r"H24\.[0-9]{4}-[0-9]{6}-[0-9]{5}"


class Mono:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_a_scanned_receipt_travels_to_the_official_measure(tmp_path):
    db = server_db_location(tmp_path)
    live = LiveServer(db, free_port(), env={"HAILONG_SERVER_DOSSIER_SCAN": "1", "HAILONG_SERVER_DOSSIER_PATTERN": PATTERN})
    live.start()
    store = Store(tmp_path / "kiosk.sqlite3")
    try:
        code = server_cli(db, "enroll-code", "--unit", "7201").stdout.split()[-1]
        enroll(store, live.url, code, "Quầy 1")
        config = store.get_meta("config")
        assert config["settings"]["dossier_scan"] is True and config["settings"]["dossier_pattern"] == PATTERN
        answering = Answering(store, clock=lambda: datetime.now().astimezone(), monotonic=Mono())
        answering.load()
        today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()  # the province's day, as the server counts
        dossier = f"H24.7201-{today:%y%m%d}-00001"
        assert answering.attach_dossier("H24-NOT-A-RECEIPT", "scan").kind == "dossier_refused"
        assert answering.attach_dossier(dossier.lower(), "scan").kind == "dossier_attached"
        answering.tap(2)   # tied: a dislike (level 2 of the shipped scale)
        answering.finish()
        answering.tap(5)   # the next citizen: not tied
        sent = SyncService(store, kiosk_settings.load(tmp_path)).run_round(force=True)
        assert sent["sent"] >= 2, sent
        storage = open_storage(db)
        try:
            rows = storage._conn().execute("SELECT dossier_code, dossier_repeat FROM responses ORDER BY server_seq").fetchall()
        finally:
            storage.close()
        assert [tuple(r) for r in rows][:2] == [(dossier, 0), (None, 0)]
        # The register says the dossier was received yesterday and returned today, on time.
        register = tmp_path / "so.csv"
        register.write_text("ma_ho_so,unit_code,linh_vuc,thu_tuc,ngay_tiep_nhan,ngay_hen_tra,ngay_tra,trang_thai,kenh\n"
                            f"{dossier},7201,Hộ tịch,Đăng ký khai sinh,{today - timedelta(days=1):%d/%m/%Y},"
                            f"{today + timedelta(days=2):%d/%m/%Y},{today:%d/%m/%Y},Đã trả,Trực tiếp\n", encoding="utf-8")
        assert "added 1" in server_cli(db, "import-dossiers", str(register)).stdout
        got = json.loads(server_cli(db, "official", "--json", "--unit", "7201", "--from", today.isoformat(),
                                    "--to", today.isoformat()).stdout)
        unit = next(u for u in got["units"] if u["code"] == "7201")
        assert (unit["dossiers"], unit["late"], unit["rated"], unit["dislikes"]) == (1, 0, 1, 1)
        assert unit["ratio"] == 0.0 and unit["points"] == 0.0  # one dossier, disliked: 100 % − 100 %
    finally:
        store.close()
        live.stop()
