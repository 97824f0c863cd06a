"""Results through the web: each role sees only its subtree in pages, exports and the pull API; the
XLSX reads back with the right numbers; the CLI export and API tokens; the pull feed returns every
answer exactly once while answers keep arriving between pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from sync_server import cli
from tests import results_fixture as fx
from tests.server_web import add_users, login, make_app

OTHER_NAME = "Xã Canh Nậu"  # 7246, district 215


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("results_web")
    app, storage = make_app(tmp, report_min_answers=5, recognition_min_index=70.0, recognition_min_answers=6)
    fx.load(storage)
    add_users(storage)
    clients = {role: login(app, role.replace("_", "-"))[0] for role in
               ("province_admin", "province_analyst", "district_viewer", "commune_viewer")}
    names = {u["code"]: u["name"] for u in storage.units()}
    yield app, storage, clients, names, tmp
    storage.close()


def _q(storage) -> str:
    return f"campaign={storage.campaigns()[0]['id']}"


def test_pages_show_only_the_viewers_subtree(world):
    app, storage, clients, names, _ = world
    q = _q(storage)
    province = clients["province_analyst"].get(f"/results?{q}")
    assert province.status_code == 200 and OTHER_NAME in province.text and names["7201"] in province.text
    assert "<svg" in province.text and "chưa đủ số phiếu" in province.text
    district = clients["district_viewer"].get(f"/results?{q}")
    assert district.status_code == 200 and names["213"] in district.text and names["7204"] in district.text
    assert OTHER_NAME not in district.text
    commune = clients["commune_viewer"].get(f"/results?{q}")
    assert commune.status_code == 200 and names["7201"] in commune.text
    assert names["7204"] not in commune.text and OTHER_NAME not in commune.text
    for who in ("district_viewer", "commune_viewer"):
        assert clients[who].get(f"/results/units/7246?{q}").status_code == 403
        assert clients[who].get(f"/results/units/24?{q}").status_code == 403
    assert clients["commune_viewer"].get(f"/results/units/213?{q}").status_code == 403
    # Officers: the district sees its officers' ranking; a commune viewer sees no officer results.
    assert "Nguyễn Văn A" in clients["district_viewer"].get(f"/results/units/7201?{q}").text
    assert "Nguyễn Văn A" not in commune.text
    assert clients["commune_viewer"].get(f"/results/officers/cb-a?{q}").status_code == 403
    assert clients["district_viewer"].get(f"/results/officers/cb-a?{q}").status_code == 200
    recog = clients["district_viewer"].get(f"/results/recognition?{q}")
    assert recog.status_code == 200 and names["7201"] in recog.text and OTHER_NAME not in recog.text


def test_flag_toggle_changes_the_counts(world):
    _, storage, clients, names, _ = world
    page = clients["province_admin"].get(f"/results/units/7201?{_q(storage)}&include=misuse&include=incomplete")
    assert page.status_code == 200 and "<b>9</b>" in page.text  # 7 counted (the walk-away among them) + 2 misuse
    plain = clients["province_admin"].get(f"/results/units/7201?{_q(storage)}")
    assert "<b>7</b>" in plain.text and "<b>9</b>" not in plain.text


def _sheet(book, title):
    """A sheet's rows by its header row: the first row, or under a document frame the row starting "STT"."""
    ws = book[title]
    rows = list(ws.iter_rows(values_only=True))
    at = next((i for i, r in enumerate(rows) if r and r[0] == "STT"), 0)
    head = rows[at]
    return [dict(zip(head, r)) for r in rows[at + 1:] if len(r) > 1 and r[1]]


def test_xlsx_reads_back_with_the_right_numbers_and_scope(world):
    _, storage, clients, names, _ = world
    resp = clients["province_analyst"].get(f"/results/export.xlsx?{_q(storage)}")
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.content))
    assert {"Tổng hợp", "Cấp huyện", "Cấp xã", "Theo lĩnh vực", "Cán bộ", "Công nhận"} <= set(book.sheetnames)
    ws = book["Theo lĩnh vực"]
    groups = {r[0]: dict(zip(next(ws.iter_rows(values_only=True)), r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert (groups["Hộ tịch"]["Số phiếu tính"], groups["Hộ tịch"]["Hài lòng"]) == (6, 6)  # 7201's 5 5 4 4, 7246's QR 5 5
    assert groups["Đất đai"]["Số phiếu tính"] == 2 and groups["Đất đai"]["Ghi chú"] == "chưa đủ số phiếu"
    assert groups["Hộ tịch"]["Cận dưới Wilson 95%"] == pytest.approx(round(6 / (6 + 1.959963984540054 ** 2), 3))
    assert sum(g["Số phiếu tính"] for g in groups.values()) == 22  # every counted answer once: "Không rõ lĩnh vực" holds the rest
    communes = {r["Mã"]: r for r in _sheet(book, "Cấp xã")}
    assert len(communes) == 209
    a = communes["7201"]
    assert a["Số phiếu tính"] == 7 and a["Hài lòng"] == 4  # the walk-away 2 counts
    assert a["Chỉ số hài lòng (0–100)"] == pytest.approx(round(((100 + 100 + 75 + 75 + 50 + 0 + 25) / 7 + 75) / 2, 1))
    assert a["Tỷ lệ hài lòng"] == round(4 / 7, 3)  # as shown: 57,1 %
    assert a["Phiếu bị loại (lạm dụng)"] == 2 and a["Phiếu bỏ dở phần hỏi thêm (vẫn tính câu đã trả lời)"] == 1
    assert a["Xếp hạng"] == communes["7204"]["Xếp hạng"] == 2 and communes["7246"]["Xếp hạng"] == 1
    assert communes["7207"]["Ghi chú"] == "chưa đủ số phiếu"
    recognition = {r["Mã"]: r for r in _sheet(book, "Công nhận") if isinstance(r["STT"], int)}
    assert recognition["7246"]["Kết quả"] == "Đạt" and recognition["7204"]["Kết quả"] == "Không đạt"
    assert recognition["7201"]["Kết quả"] == "Không đạt"  # 67.86: its walk-away counts (tests/test_results_scoring.py)
    assert recognition["7207"]["Kết quả"] == "Chưa đủ số phiếu để đánh giá" and recognition["7204"]["Lý do"].startswith("Chỉ số")
    frame = [c for row in book["Công nhận"].iter_rows(max_row=6, values_only=True) for c in row if c]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in frame and any(str(c).startswith("Số: ") for c in frame)
    # A district viewer's workbook holds its own communes only.
    mine = load_workbook(io.BytesIO(clients["district_viewer"].get(f"/results/export.xlsx?{_q(storage)}").content))
    codes = {r["Mã"] for r in _sheet(mine, "Cấp xã")}
    assert "7201" in codes and "7246" not in codes and codes <= storage.subtree_codes("213")
    assert "Cấp huyện" not in mine.sheetnames  # the district is the workbook's top


def test_csv_exports_are_scoped(world):
    _, storage, clients, names, _ = world
    text = clients["commune_viewer"].get(f"/results/export.csv?{_q(storage)}").text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [r["Mã"] for r in rows if r["Cấp"] not in ("Lĩnh vực", "Điểm tiếp nhận")] == ["7201"] and rows[0]["Số phiếu tính"] == "7"
    groups = {r["Mã"]: r for r in rows if r["Cấp"] == "Lĩnh vực"}  # 7201 by procedure group: 5 5 4 4, 3 1, the walk-away none
    assert (groups["ho_tich"]["Số phiếu tính"], groups["dat_dai"]["Số phiếu tính"], groups[""]["Số phiếu tính"]) == ("4", "2", "1")
    assert groups["ho_tich"]["Đơn vị"] == "Hộ tịch" and groups[""]["Đơn vị"] == "Không rõ lĩnh vực"
    raw = clients["district_viewer"].get("/results/answers.csv").text.lstrip("\ufeff")
    units = {r["unit_code"] for r in csv.DictReader(io.StringIO(raw))}
    assert units == {"7201", "7204"}
    # The raw answers follow the page's dates (issue 15): a window without answers gives the header only.
    page = clients["district_viewer"].get(f"/results?{_q(storage)}").text
    assert f'href="/results/answers.csv?{_q(storage)}' in page.replace("&amp;", "&")
    dated = clients["district_viewer"].get(f"/results/answers.csv?{_q(storage)}").text.lstrip("\ufeff")
    c = storage.campaigns()[0]
    inside = [r["id"] for r in csv.DictReader(io.StringIO(raw)) if c["starts_on"] <= r["created_at"][:10] <= c["ends_on"]]
    assert [r["id"] for r in csv.DictReader(io.StringIO(dated))] == inside and 0 < len(inside) < len(raw.splitlines()) - 1
    empty = clients["district_viewer"].get("/results/answers.csv?from=01/01/2024&to=31/01/2024")
    assert list(csv.DictReader(io.StringIO(empty.text.lstrip("\ufeff")))) == [] and "20240101-20240131" in empty.headers["content-disposition"]
    everything = clients["province_admin"].get("/results/answers.csv").text.lstrip("\ufeff")
    assert len(list(csv.DictReader(io.StringIO(everything)))) == storage.response_count()


def test_cli_export_and_api_tokens(world, capsys):
    app, storage, clients, names, tmp = world
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    out = tmp / "report.xlsx"
    cid = str(storage.campaigns()[0]["id"])
    assert cli.main(["--db", db, "export", "--format", "xlsx", "--out", str(out), "--campaign", cid, "--unit", "213"]) == 0
    communes = {r["Mã"]: r for r in _sheet(load_workbook(out), "Cấp xã")}
    assert communes["7204"]["Số phiếu tính"] == 7 and "7246" not in communes
    assert cli.main(["--db", db, "export", "--format", "csv", "--out", str(tmp / "r.csv"), "--campaign", cid]) == 0
    assert "7246" in (tmp / "r.csv").read_text(encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--db", db, "api-tokens", "add", "--name", "district-system", "--scope-unit", "213"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli.main(["--db", db, "api-tokens", "add", "--name", "district-system", "--province"]) == 2
    client = TestClient(app)
    feed = client.get("/api/v1/pull/answers?limit=100", headers={"Authorization": f"Bearer {token}"}).json()
    assert {i["unit_code"] for i in feed["items"]} == {"7201", "7204"}
    assert {i["procedure_group"] for i in feed["items"]} == {"ho_tich", "dat_dai", None}
    agg = client.get(f"/api/v1/pull/aggregates?{_q(storage)}", headers={"Authorization": f"Bearer {token}"}).json()
    codes = {u["code"]: u for u in agg["units"]}
    assert "7246" not in codes and "24" not in codes and codes["7201"]["answers"] == 7
    assert codes["7201"]["left_out"] == {"incomplete": 0, "misuse": 2} and codes["7201"]["followups_left"] == 1
    by_group = {g["code"]: g for g in agg["procedure_groups"]["groups"]}  # the district's, within its scope
    assert agg["procedure_groups"]["unit_code"] == "213" and by_group["ho_tich"]["answers"] == 4 and by_group["dat_dai"]["answers"] == 2
    assert cli.main(["--db", db, "api-tokens", "revoke", "--name", "district-system"]) == 0
    refused = client.get("/api/v1/pull/answers", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "api_token_revoked"
    assert client.get("/api/v1/pull/answers", headers={"Authorization": "Bearer nope"}).status_code == 401
    # A browser session is not an API token.
    assert clients["province_admin"].get("/api/v1/pull/answers").status_code == 401


def test_pull_feed_every_answer_exactly_once_while_answers_arrive(world, capsys):
    app, storage, _, _, _ = world
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    assert cli.main(["--db", db, "api-tokens", "add", "--name", "province-bi", "--province"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    client = TestClient(app)
    seen: list[str] = []
    since, added, page = 0, [], 0
    while True:
        body = client.get(f"/api/v1/pull/answers?since={since}&limit=4", headers={"Authorization": f"Bearer {token}"}).json()
        seen += [i["id"] for i in body["items"]]
        since = body["next_since"]
        if page < 5:  # new answers arrive between pages, some created *before* what was already read
            when = fx.DAY - timedelta(days=page)
            item = fx.prepared("7201", 4, {}, [], "kiosk", None, when, 500 + page)
            storage.store_batch(None, [item], when.isoformat(), None)
            added.append(item.id)
        page += 1
        if not body["has_more"] and page > 5:
            break
    assert len(seen) == len(set(seen)) == storage.response_count()
    assert set(added) <= set(seen)


def test_day_first_dates_in_the_filters(world):
    """Officials type 26/06/2023: the filters take it (and ISO), show it back day first, and refuse the rest."""
    from hailong_core.timeutil import parse_day

    _, storage, clients, _, _ = world
    page = clients["province_admin"].get("/results/units/7246?from=26/06/2023&to=30/06/2023")
    assert page.status_code == 200 and "<b>8</b>" in page.text  # 7246's eight, as for the campaign
    assert 'value="26/06/2023"' in page.text and 'placeholder="dd/mm/yyyy"' in page.text and 'type="date"' not in page.text
    iso = clients["province_admin"].get("/results/units/7246?from=2023-06-26&to=2023-06-30")
    assert iso.status_code == 200 and 'value="30/06/2023"' in iso.text
    bad = clients["province_admin"].get("/results/units/7246?from=06/31/2023")
    assert bad.status_code == 400 and "DD/MM/YYYY" in bad.text
    assert str(parse_day("1/7/2025")) == "2025-07-01" and str(parse_day("2025-07-01")) == "2025-07-01"
    for wrong in ("31/02/2025", "2025/07/01", "07-01-2025", ""):
        with pytest.raises(ValueError):
            parse_day(wrong)
