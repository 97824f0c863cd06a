"""Issue 14: the dossier register import, ``hailong-server import-dossiers FILE.csv|FILE.xlsx
[--mapping FILE.json]`` (real processes) and the use case behind the admin upload.

A generated 10,000-row register imports once: a re-import adds nothing, an overlapping month adds
its new rows and updates the changed ones with an audit entry (old → new). A malformed row or an
unknown unit is reported with its line number, every problem listed up to the cap, and nothing of
that file is stored. Exports differ between provinces: a column mapping, ``;`` separators, a BOM,
title lines above the header, day-first dates with times, XLSX with real date cells.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from sync_server.days import local_today
from sync_server.dossiers import MappingError, import_register, load_mapping, parse_register_date
from sync_server.results.official import as_json, measure
from tests.dossier_world import generate, register_csv, window_for
from tests.server_web import make_app
from tests.support import ROOT, server_cli

HEAD = "ma_ho_so,unit_code,linh_vuc,thu_tuc,ngay_tiep_nhan,ngay_hen_tra,ngay_tra,trang_thai,kenh"


@pytest.fixture
def world(tmp_path):
    app, storage = make_app(tmp_path)
    yield storage, app.state.hailong.settings, tmp_path
    storage.close()


def _cli(db, *args: str, settings_file=None) -> subprocess.CompletedProcess:
    extra = ["--settings", str(settings_file)] if settings_file else []
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), *extra, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_a_10000_row_register_imports_once_and_a_changed_row_updates_with_an_audit_entry(world):
    storage, settings, tmp = world
    today = local_today(settings)
    dossiers = generate(10_000, today, seed=7)
    text = register_csv(dossiers)
    # One malformed row deep inside (the file's line 7,345, header = line 1): reported with its line, nothing stored.
    lines = text.split(b"\r\n")
    cells = lines[7344].decode().split(",")
    cells[4] = "31/02/2025"
    lines[7344] = ",".join(cells).encode()
    bad = tmp / "register-bad.csv"
    bad.write_bytes(b"\r\n".join(lines))
    refused = _cli(settings.db, "import-dossiers", str(bad))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines()[0].startswith("register-bad.csv: dòng 7345 (ngay_tiep_nhan): '31/02/2025'"), refused.stderr
    assert "refused: 1 problem; nothing of register-bad.csv was stored" in refused.stderr
    assert storage.dossier_count() == 0 and not [e for e in storage.audit_log() if e["action"].startswith("dossier")]
    # The clean file imports; a re-import adds nothing and the 766 measure does not move.
    first = tmp / "register.csv"
    first.write_bytes(text)
    assert server_cli(settings.db, "import-dossiers", str(first)).stdout.strip() == \
        "register.csv: added 10000, updated 0, unchanged 0"
    assert storage.dossier_count() == 10_000
    start, end = window_for(today)
    before = as_json(measure(storage, settings, start, end, today=today))
    assert before["total"]["dossiers"] > 1000 and before["total"]["late"] > 0
    again = server_cli(settings.db, "import-dossiers", "--json", str(first))
    assert {k: json.loads(again.stdout)[k] for k in ("stored", "added", "updated", "unchanged")} == \
        {"stored": True, "added": 0, "updated": 0, "unchanged": 10_000}
    assert storage.dossier_count() == 10_000
    assert as_json(measure(storage, settings, start, end, today=today)) == before
    # The next export overlaps: the last 2,000 rows again (30 of them changed since), and 500 new ones.
    overlap = dossiers[-2000:]
    changed = overlap[:30]
    for d in changed:
        d.complaint = not d.complaint
        d.counter = "9"
    fresh = generate(500, local_today(settings), seed=8)
    for i, d in enumerate(fresh):
        d.code = f"H24.NEW-{i:05d}"
    second = tmp / "register-2.csv"
    second.write_bytes(register_csv(overlap + fresh, seed=3))  # other date spellings, same dates
    assert server_cli(settings.db, "import-dossiers", str(second)).stdout.strip() == \
        "register-2.csv: added 500, updated 30, unchanged 1970"
    assert storage.dossier_count() == 10_500
    updates = [e for e in storage.audit_log(limit=100) if e["action"] == "dossier.update"]
    assert sorted(e["target"] for e in updates) == sorted(d.code for d in changed)
    for e in updates:
        d = next(x for x in changed if x.code == e["target"])
        assert e["detail"]["source"] == "register-2.csv"
        assert e["detail"]["changes"] == {"complaint": [int(not d.complaint), int(d.complaint)], "counter": [e["detail"]["changes"]
                                                                                                              ["counter"][0], "9"]}
        assert e["detail"]["changes"]["counter"][0] in ("1", "2", "3")
    stored = storage.dossiers_by_code([changed[0].code])[changed[0].code]
    assert stored["counter"] == "9" and stored["source"] == "register-2.csv" and stored["updated_at"] > stored["imported_at"]
    imports = [e for e in storage.audit_log(limit=100) if e["action"] == "dossiers.import"]
    assert [e["detail"]["added"] for e in imports] == [500, 0, 10_000] and imports[0]["detail"]["via"] == "cli"


def test_a_file_without_an_optional_column_leaves_its_stored_values_alone(world):
    """The default nine-column export has no complaint, site or counter: re-importing it must not clear a
    complaint or a counter an earlier, fuller file stored. Only the columns the file has update."""
    storage, settings, tmp = world
    site = storage.first_site("7201", "2025-08-01")["id"]
    full = (f"{HEAD},co_phan_anh,diem_tiep_nhan,quay\n"
            f"K-1,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,04/08/2025,Đã trả,Trực tiếp,1,{site},2\n"
            f"K-2,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,,Đang xử lý,Trực tiếp,,,3\n")
    assert import_register(storage, settings, full.encode(), "full.csv", via="test").added == 2
    plain = (f"{HEAD}\nK-1,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,04/08/2025,Đã trả,Trực tiếp\n"
             f"K-2,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,06/08/2025,Đã trả,Trực tiếp\n")
    again = import_register(storage, settings, plain.encode(), "plain.csv", via="test")
    assert (again.added, again.updated, again.unchanged) == (0, 1, 1)
    got = storage.dossiers_by_code(["K-1", "K-2"])
    assert (got["K-1"]["complaint"], got["K-1"]["site_id"], got["K-1"]["counter"]) == (1, site, "2")
    assert (got["K-2"]["complaint"], got["K-2"]["counter"], got["K-2"]["returned_on"]) == (0, "3", "2025-08-06")
    update = next(e for e in storage.audit_log(limit=20) if e["action"] == "dossier.update")
    assert update["target"] == "K-2" and update["detail"]["changes"] == {"returned_on": [None, "2025-08-06"],
                                                                         "status": ["Đang xử lý", "Đã trả"]}
    # A file that has the column does update it, an empty cell included.
    cleared = f"{HEAD},co_phan_anh\nK-1,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,04/08/2025,Đã trả,Trực tiếp,0\n"
    assert import_register(storage, settings, cleared.encode(), "cleared.csv", via="test").updated == 1
    got = storage.dossiers_by_code(["K-1"])["K-1"]
    assert (got["complaint"], got["site_id"], got["counter"]) == (0, site, "2")


BAD = f"""{HEAD},co_phan_anh
GOOD-1,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,04/08/2025,Đã trả,Trực tiếp,
GOOD-2,7204,Hộ tịch,Khai sinh,2025-08-01,2025-08-05,,Đang xử lý,Trực tiếp,0
BAD-DATE,7201,Hộ tịch,Khai sinh,31/02/2025,05/08/2025,,Đang xử lý,Trực tiếp,
,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,,Đang xử lý,Trực tiếp,
BAD-DUE,7201,Hộ tịch,Khai sinh,10/08/2025,05/08/2025,,Đang xử lý,Trực tiếp,
BAD-UNIT,9999,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,,Đang xử lý,Trực tiếp,
BAD-RETURN,7201,Hộ tịch,Khai sinh,10/08/2025,15/08/2025,09/08/2025,Đã trả,Trực tiếp,
BAD-PAKN,7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,,Đang xử lý,Trực tiếp,maybe
GOOD-1,7201,Hộ tịch,Khai sinh,01/08/2025,06/08/2025,04/08/2025,Đã trả,Trực tiếp,
"bad code",7201,Hộ tịch,Khai sinh,01/08/2025,05/08/2025,,Đang xử lý,Trực tiếp,
NO-DUE,7201,Hộ tịch,Khai sinh,01/08/2025,,,Đang xử lý,Trực tiếp,
"""
EXPECTED = [(4, "ngay_tiep_nhan"), (5, "ma_ho_so"), (6, "ngay_hen_tra"), (7, "unit_code"), (8, "ngay_tra"), (9, "co_phan_anh"),
            (10, "ma_ho_so"), (11, "ma_ho_so"), (12, "ngay_hen_tra")]


def test_malformed_rows_are_reported_with_their_line_numbers_and_nothing_of_the_file_is_stored(world):
    storage, settings, tmp = world
    path = tmp / "bad.csv"
    path.write_text(BAD, encoding="utf-8")
    done = _cli(settings.db, "import-dossiers", str(path))
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines[:-1]] == [f"dòng {n} ({c})" for n, c in EXPECTED]
    assert "31/02/2025" in lines[0] and "9999" in lines[3] and "line 2" in lines[6]
    assert lines[-1] == "hailong-server: refused: 9 problems; nothing of bad.csv was stored"
    assert storage.dossier_count() == 0  # not even GOOD-1 and GOOD-2
    assert not [e for e in storage.audit_log() if e["action"].startswith("dossier")]


def test_an_unknown_unit_alone_refuses_the_file(world):
    storage, settings, tmp = world
    path = tmp / "unit.csv"
    path.write_text(f"{HEAD}\nA-1,7201,,,01/08/2025,05/08/2025,,,\nA-2,72O1,,,01/08/2025,05/08/2025,,,\n", encoding="utf-8")
    result = import_register(storage, settings, path.read_bytes(), "unit.csv", via="test")
    assert not result.stored and [(p.line, p.column) for p in result.problems] == [(3, "unit_code")]
    assert "72O1" in result.problems[0].message and storage.dossier_count() == 0
    assert result.as_dict()["problems"] == [{"line": 3, "column": "unit_code", "message": result.problems[0].message}]


def test_problems_are_listed_up_to_the_cap_and_the_rest_counted(world):
    storage, settings, tmp = world
    rows = "".join(f"X-{i},7201,,,01/08/2025,not a date,,,\n" for i in range(10))
    path = tmp / "many.csv"
    path.write_text(HEAD + "\n" + rows, encoding="utf-8")
    settings_file = tmp / "settings.json"
    settings_file.write_text(json.dumps({"dossier_import_max_problems": 3}), encoding="utf-8")
    done = _cli(settings.db, "import-dossiers", str(path), settings_file=settings_file)
    assert done.returncode == 1
    assert done.stderr.count("(ngay_hen_tra)") == 3 and "… and 7 more problems" in done.stderr and "10 problems" in done.stderr


def test_a_provinces_own_export_reads_with_a_mapping(world):
    storage, settings, tmp = world
    mapping = {"ma_ho_so": "Mã hồ sơ", "unit_code": "Mã đơn vị", "linh_vuc": "Lĩnh vực", "thu_tuc": "Tên thủ tục",
               "ngay_tiep_nhan": "Ngày tiếp nhận", "ngay_hen_tra": "Ngày hẹn trả", "ngay_tra": "Ngày trả kết quả",
               "trang_thai": "Trạng thái", "co_phan_anh": "Có PAKN", "quay": "Quầy"}
    text = ("DANH SÁCH HỒ SƠ THÁNG 8/2025;;;;;;;;;\n;;;;;;;;;\n"
            "STT;Mã hồ sơ;Mã đơn vị;Lĩnh vực;Tên thủ tục;Ngày tiếp nhận;Ngày hẹn trả;Ngày trả kết quả;Trạng thái;Có PAKN;Quầy\n"
            "1;h24-0801;7201;Hộ tịch;Khai sinh;01/08/2025 08:15;05/08/2025 17:00;05/08/2025 16:30;Đã trả;Có;2\n"
            '2;H24-0802;7201;"Đất đai; tài nguyên";Cấp GCN;2025-08-01T09:00:00;2025-08-05;2025-08-05 18:00;Đã trả;;1\n')
    path = tmp / "xuat.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp / "map.json").write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    done = server_cli(settings.db, "import-dossiers", str(path), "--mapping", str(tmp / "map.json"))
    assert done.stdout.strip() == "xuat.csv: added 2, updated 0, unchanged 0"
    got = storage.dossiers_by_code(["H24-0801", "H24-0802"])
    assert {k: got["H24-0801"][k] for k in ("unit_code", "field", "received_on", "due_on", "returned_on", "complaint", "counter",
                                            "channel")} == {
        "unit_code": "7201", "field": "Hộ tịch", "received_on": "2025-08-01T08:15:00", "due_on": "2025-08-05T17:00:00",
        "returned_on": "2025-08-05T16:30:00", "complaint": 1, "counter": "2", "channel": None}
    assert got["H24-0802"]["field"] == "Đất đai; tài nguyên" and got["H24-0802"]["complaint"] == 0
    assert got["H24-0802"]["due_on"] == "2025-08-05" and got["H24-0802"]["returned_on"] == "2025-08-05T18:00:00"
    # Without the mapping the same file has no header we know: refused, and it says what it looked for.
    refused = import_register(storage, settings, path.read_bytes(), "xuat.csv")
    assert not refused.stored and refused.problems[0].column == "ma_ho_so" and "ma_ho_so" in refused.problems[0].message


def test_xlsx_with_date_cells_numbers_and_gaps(world):
    storage, settings, tmp = world
    book = Workbook()
    sheet = book.active
    sheet.append(["Báo cáo hồ sơ"])
    sheet.append([])
    sheet.append(["ma_ho_so", "unit_code", "linh_vuc", "thu_tuc", "ngay_tiep_nhan", "ngay_hen_tra", "ngay_tra", "trang_thai", "kenh",
                  "co_phan_anh", "diem_tiep_nhan"])
    site = storage.first_site("7201", "2025-08-01")["id"]
    sheet.append(["X-1", 7201, "Hộ tịch", "Khai sinh", datetime(2025, 8, 1, 8, 30), date(2025, 8, 5), datetime(2025, 8, 4),
                  "Đã trả", "Trực tiếp", 1, site])
    sheet.append([])
    sheet.append(["X-2", "7204", "Hộ tịch", "Khai sinh", "01/08/2025", "05/08/2025", None, "Đang xử lý", "Trực tuyến", 0, None])
    buf = io.BytesIO()
    book.save(buf)
    result = import_register(storage, settings, buf.getvalue(), "thang8.xlsx", via="test")
    assert result.stored and (result.rows, result.added) == (2, 2), result.problems
    got = storage.dossiers_by_code(["X-1", "X-2"])
    assert (got["X-1"]["unit_code"], got["X-1"]["received_on"], got["X-1"]["due_on"], got["X-1"]["returned_on"],
            got["X-1"]["complaint"], got["X-1"]["site_id"]) == ("7201", "2025-08-01T08:30:00", "2025-08-05", "2025-08-04", 1, site)
    # A problem in a workbook names its sheet row; the site must be one of the row's unit.
    sheet.append(["X-3", "7204", "", "", "01/08/2025", "05/08/2025", None, "", "", "", site])
    buf = io.BytesIO()
    book.save(buf)
    refused = import_register(storage, settings, buf.getvalue(), "thang8b.xlsx")
    assert not refused.stored and [(p.line, p.column) for p in refused.problems] == [(7, "diem_tiep_nhan")]
    assert storage.dossier_count() == 2
    broken = import_register(storage, settings, b"PK\x03\x04 not really a workbook", "x.xlsx")
    assert not broken.stored and broken.problems[0].line is None


def test_file_level_problems_and_the_size_cap(world):
    storage, settings, tmp = world
    small = settings.replace(dossier_import_max_mb=0.001)
    big = (HEAD + "\n" + "".join(f"C-{i},7201,,,01/08/2025,05/08/2025,,,\n" for i in range(100))).encode()
    assert "dossier_import_max_mb" in import_register(storage, small, big, "big.csv").problems[0].message
    rows = settings.replace(dossier_import_max_rows=10)
    assert "dossier_import_max_rows" in import_register(storage, rows, big, "big.csv").problems[0].message
    missing = import_register(storage, settings, b"ma_ho_so,unit_code\nA,7201\n", "short.csv")
    assert [(p.line, p.column) for p in missing.problems] == [(1, "ngay_tiep_nhan"), (1, "ngay_hen_tra"), (1, "ngay_tra")]
    latin = import_register(storage, settings, (HEAD + "\nA,7201,Tư pháp,,01/08/2025,05/08/2025,,,\n").encode("cp1258"), "x.csv")
    assert "UTF-8" in latin.problems[0].message
    assert "xlsx" in import_register(storage, settings, b"\xd0\xcf\x11\xe0", "old.xls").problems[0].message
    assert storage.dossier_count() == 0
    with pytest.raises(MappingError):
        load_mapping('{"ma_hoso": "Mã"}')
    with pytest.raises(MappingError):
        load_mapping('{"ma_ho_so": "A", "unit_code": "a"}')
    (tmp / "bad-map.json").write_text("{not json", encoding="utf-8")
    path = tmp / "ok.csv"
    path.write_bytes(big)
    done = _cli(settings.db, "import-dossiers", str(path), "--mapping", str(tmp / "bad-map.json"))
    assert done.returncode == 2 and "mapping" in done.stderr


@pytest.mark.parametrize("text, stored", [
    ("05/08/2025", "2025-08-05"), ("5/8/2025", "2025-08-05"), ("2025-08-05", "2025-08-05"),
    ("05/08/2025 07:05", "2025-08-05T07:05:00"), ("05/08/2025 7:05:09", "2025-08-05T07:05:09"),
    ("2025-08-05T07:05:09", "2025-08-05T07:05:09"), ("2025-08-05 07:05:09.123", "2025-08-05T07:05:09"), ("", None),
    (datetime(2025, 8, 5), "2025-08-05"), (datetime(2025, 8, 5, 7, 5), "2025-08-05T07:05:00"), (date(2025, 8, 5), "2025-08-05"),
])
def test_register_dates(text, stored):
    assert parse_register_date(text) == stored


@pytest.mark.parametrize("text", ["08/2025", "2025/08/05", "32/01/2025", "05/08/1925", "05/08/2025 25:00", 45873, "05-08-2025"])
def test_register_dates_refused(text):
    with pytest.raises(ValueError):
        parse_register_date(text)
