"""Issue 13, "History across the reform": a 2025 unit's results are its own by default and, on
request (``history=1``), add the answers given at its predecessors, so trends continue.

A database with both shipped trees (the 2023 Bắc Giang tree until 1 July 2025, today's Bắc Ninh
after). Code 7210 was Phường Hoàng Văn Thụ until then and is Phường Bắc Giang since, which merged
Thọ Xương 7201, Hoàng Văn Thụ 7210, Trần Phú 7213 and five more (all whole). Answers are stored
at the sites ingest would record (the unit version's first site on the answer's day; one old kiosk
still enrolled to Hoàng Văn Thụ's site after the reform). Hand counts (headline; 4 and 5 satisfied):

- T, 7201 Thọ Xương, 27/06/2023: 5 5 4 2 (3 of 4).
- H, 7210 Hoàng Văn Thụ, 27/06/2023: 1 2 5 (1 of 3).
- C, 7246 Canh Nậu, 27/06/2023: 4 4 1 (2 of 3), into another commune (its successor S).
- D, 213 Thành phố Bắc Giang's district counter, 27/06/2023: 3 (0 of 1); districts have no successor:
  their answers go where the province went.
- B, 7210 Phường Bắc Giang, 10/09/2025: 5 4 4 3 5 (4 of 5).
- L, the old Hoàng Văn Thụ kiosk (site of the 2023 version), 10/09/2025: 2 (0 of 1): it belongs to
  Hoàng Văn Thụ, whose site it was given at, not to Phường Bắc Giang.

Window 01/06/2023 – 31/12/2025 (spans 01/07/2025). Phường Bắc Giang: by default B = 5 (4 satisfied);
in the history view B + T + H + L = 13 (8 satisfied), its predecessors listed with T = 4 at 7201 and
H + L = 4 at Hoàng Văn Thụ. S: 0 by default, C = 3 in the history view; every other commune 0. The
province: 5 by default; 5 + 4 + 4 + 3 + 1 = 17 in the history view.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hailong_core.assets import asset_path
from sync_server import cli
from sync_server.results.model import Filters
from sync_server.results.report import Report, resolve_window
from sync_server.unit_files import load_release_json, load_releases
from tests import results_fixture as fx
from tests.results_world import sheet, wilson_low
from tests.server_web import PASSWORD, add_users, login, make_app
from tests.support import BACKEND

T, H, C, D = [5, 5, 4, 2], [1, 2, 5], [4, 4, 1], [3]
B, L = [5, 4, 4, 3, 5], [2]
OLD, NEW = datetime(2023, 6, 27, 9, 0, tzinfo=fx.TZ), datetime(2025, 9, 10, 9, 0, tzinfo=fx.TZ)
WINDOW = ("2023-06-01", "2025-12-31")
QUERY = "from=01/06/2023&to=31/12/2025"
CURRENT = "Báo cáo theo cơ cấu đơn vị hành chính hiện hành (từ 01/07/2025)"




def satisfied(levels) -> int:
    return sum(v >= 4 for v in levels)


def _store(storage, rows: list[tuple[str, list[int], datetime, int | None]]) -> None:
    """``(unit, levels, when, site)`` answers, stored as ingest prepares them; site None: the unit's first that day."""
    items, seq = [], 0
    for unit, levels, when, site in rows:
        site = site if site is not None else fx.first_site(storage, unit, when)
        for i, level in enumerate(levels):
            seq += 1
            items.append(fx.prepared(unit, level, {}, [], "kiosk", None, when + timedelta(minutes=seq), 10_000 + seq, site=site))
    storage.store_batch(None, items, (max(r[2] for r in rows) + timedelta(hours=2)).isoformat(), None)


def open_both_trees(tmp):
    """An app on a fresh database holding both shipped trees, as a real fresh database does.

    On SQLite the seed choice does it; on PostgreSQL every test database is a clone of one template
    seeded with the 2023 tree (tests/support.py), so today's releases are imported into the clone,
    as on a server that started in 2023 (the same units, links and sites)."""
    if BACKEND == "postgres":
        app, storage = make_app(tmp, report_min_answers=3)
        if not any(v["valid_from"] == "2025-07-01" for v in storage.unit_versions("24")):
            for release in load_releases(asset_path("units", "bac_ninh_2026.json")):
                storage.import_unit_release(release)
        return app, storage
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAILONG_SERVER_SEED_UNITS", "all")
        return make_app(tmp, report_min_answers=3)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, storage = open_both_trees(tmp_path_factory.mktemp("history"))
    add_users(storage)
    hvt_site = fx.first_site(storage, "7210", OLD)
    _store(storage, [("7201", T, OLD, None), ("7210", H, OLD, None), ("7246", C, OLD, None), ("213", D, OLD, None)])
    _store(storage, [("7210", B, NEW, None), ("7210", L, NEW, hvt_site)])
    canh_nau = [link["to_code"] for link in storage.unit_links("7246") if link["from_code"] == "7246"]
    assert len(canh_nau) == 1
    yield app, storage, canh_nau[0], hvt_site
    storage.close()


def _report(app, history: bool = False, scope=None, focus=None, window=WINDOW) -> Report:
    state = app.state.hailong
    return Report.build(state, scope, resolve_window(state.storage, state.settings, None, *window), Filters(history=history),
                        focus=focus, complete=True)


def test_the_sites_tell_the_two_units_of_code_7210_apart(world):
    app, storage, _, hvt_site = world
    versions = {(s["unit_code"], s["unit_valid_from"]): s["id"] for s in storage.sites("7210", include_closed=True)}
    assert versions[("7210", "2023-01-01")] == hvt_site != versions[("7210", "2025-07-01")]
    rows = storage._conn().execute("SELECT site_id, COUNT(*) FROM responses WHERE unit_code = '7210' GROUP BY site_id "
                                   "ORDER BY site_id").fetchall()
    assert [tuple(r) for r in rows] == [(hvt_site, len(H) + len(L)), (versions[("7210", "2025-07-01")], len(B))]


def test_by_default_phuong_bac_giang_holds_its_own_answers_only(world):
    app, _, successor, _ = world
    r = _report(app)
    s = r.score("7210")
    # Hoàng Văn Thụ's 2023 answers (same code 7210) and the late answer at its site are not Bắc Giang's.
    assert (s.n, s.satisfied) == (len(B), satisfied(B)) == (5, 4)
    assert s.low == pytest.approx(wilson_low(4, 5))
    assert r.score(successor).n == 0
    assert r.score("24").n == len(B)  # the province today: the 2023 answers belong to units that ended
    assert [p["score"].n for p in r.own_points("7210")] == [5]  # its point: the 2025 version's site only
    assert "7201" not in r.tree.units and r.tree.units["7210"]["name"] == "Phường Bắc Giang"


def test_the_history_view_adds_the_predecessors(world):
    app, _, successor, _ = world
    r = _report(app, history=True)
    s = r.score("7210")
    levels = B + T + H + L
    assert (s.n, s.satisfied) == (len(levels), satisfied(levels)) == (13, 8)
    assert s.low == pytest.approx(wilson_low(8, 13))
    assert s.index == pytest.approx(sum({1: 0, 2: 25, 3: 50, 4: 75, 5: 100}[v] for v in levels) / 13)
    history = r.history("7210")
    rows = {(p["code"], p["valid_from"]): p for p in history["rows"]}
    assert {code for code, _ in rows} == {"7201", "7204", "7207", "7210", "7213", "7225", "7231", "7441"}
    assert (rows["7201", "2023-01-01"]["score"].n, rows["7201", "2023-01-01"]["name"]) == (4, "Phường Thọ Xương")
    hvt = rows["7210", "2023-01-01"]
    assert (hvt["name"], hvt["valid_to"], hvt["score"].n, hvt["score"].satisfied) == ("Phường Hoàng Văn Thụ", "2025-07-01", 4, 1)
    assert all(p["counted"] and not p["partial"] for p in rows.values())
    assert history["own"].n == 5 and history["total"].n == 13 and history["below"] is None
    assert history["own"].n + sum(p["score"].n for p in rows.values()) == history["total"].n
    # Every commune but these two has nothing, in both views: Thọ Xương's answers are in no other ward's.
    for code, unit in r.tree.units.items():
        if unit["level"] == "commune" and code not in ("7210", successor):
            assert r.score(code).n == 0, code
    assert r.score(successor).n == len(C) and [p["code"] for p in r.history(successor)["rows"] if p["score"].n] == ["7246"]
    province = r.history("24")
    assert r.score("24").n == 17 and province["own"].n == 5
    # The 2023 districts went where the province went: listed at the province, 213's counter with its answer.
    district = {p["code"]: p for p in province["rows"]}
    assert district["213"]["score"].n == 1 and district["213"]["counted"] and district["213"]["level"] == "district"
    assert province["below"]["units"] == 3 and province["below"]["score"].n == 4 + 4 + 3
    assert province["own"].n + sum(p["score"].n for p in province["rows"]) + province["below"]["score"].n == 17


def test_the_trend_continues_only_in_the_history_view(world):
    app, _, _, _ = world
    own = _report(app, focus="7210").timeline("7210")
    assert own["unit"] == "month"
    assert [(p["start"].isoformat(), p["score"].responses) for p in own["points"]] == [("2025-09-01", 5)]
    full = _report(app, history=True, focus="7210").timeline("7210")
    assert [(p["start"].isoformat(), p["score"].responses) for p in full["points"]] == [("2023-06-01", 7), ("2025-09-01", 6)]
    province = _report(app).timeline("24")  # the province too tells the two 7210s apart by site
    assert [(p["start"].isoformat(), p["score"].responses) for p in province["points"]] == [("2025-09-01", 5)]


def test_a_window_spanning_the_reform_says_which_structure_it_uses(world):
    app, _, _, _ = world
    own = _report(app).structure()
    assert own["spans"] == ["2025-07-01"] and own["since"] == "2025-07-01" and own["before"] is None
    assert own["text"].vi.startswith(CURRENT + "; mỗi đơn vị chỉ gồm phiếu tại các điểm tiếp nhận của chính đơn vị")
    assert _report(app, history=True).structure()["text"].vi == CURRENT + "; số liệu trước đó được cộng theo các đơn vị tiền thân."
    old = _report(app, window=("2023-06-26", "2023-06-30")).structure()
    assert old["text"].vi == "Báo cáo theo cơ cấu đơn vị hành chính trước sắp xếp ngày 01/07/2025 (áp dụng từ 01/01/2023)."
    assert _report(app, window=("2025-08-01", "2025-08-31")).structure() is None  # wholly in today's structure


def test_the_results_page_has_the_history_switch(world):
    app, _, _, _ = world
    client = login(app, "province-admin")[0]
    page = client.get(f"/results/units/7210?{QUERY}")
    assert page.status_code == 200
    assert "Gồm số liệu các đơn vị trước sắp xếp" in page.text and 'name="history" value="1">' in page.text
    assert CURRENT in page.text and 'id="history"' not in page.text
    assert "<b>5</b>" in page.text
    page = client.get(f"/results/units/7210?{QUERY}&history=1")
    assert page.status_code == 200
    assert 'name="history" value="1" checked' in page.text
    assert CURRENT + "; số liệu trước đó được cộng theo các đơn vị tiền thân." in page.text
    assert "<b>13</b>" in page.text
    card = page.text[page.text.index('id="history"'):]
    card = card[:card.index("</table>")]
    assert "Phường Thọ Xương" in card and "Phường Hoàng Văn Thụ" in card and "01/01/2023 – 01/07/2025" in card
    assert "Cộng (gồm các đơn vị trước sắp xếp)" in card and "<b>13</b>" in card
    assert "history=1" in page.text.split('id="history"')[0].split("export.xlsx?")[1][:200]  # links keep the switch
    recognition = client.get(f"/results/recognition?{QUERY}&history=1")
    assert recognition.status_code == 200 and 'name="history" value="1" checked' in recognition.text and CURRENT in recognition.text
    # A commune viewer of Thọ Xương's 2023 tree cannot open today's ward.
    assert login(app, "commune-viewer")[0].get(f"/results/units/7210?{QUERY}&history=1").status_code in (403, 404)




def test_the_xlsx_takes_the_same_switch(world):
    app, _, _, _ = world
    client = login(app, "province-admin")[0]
    plain = client.get(f"/results/export.xlsx?{QUERY}&unit=7210")
    summary = {r[0]: r[1] for r in load_workbook(io.BytesIO(plain.content))["Tổng hợp"].iter_rows(values_only=True, max_col=2) if r[0]}
    assert summary["Số phiếu tính"] == 5 and summary["Gồm số liệu các đơn vị trước sắp xếp"] == "không"
    assert summary["Cơ cấu đơn vị"].startswith(CURRENT)
    assert "Đơn vị tiền thân" not in load_workbook(io.BytesIO(plain.content)).sheetnames
    book = client.get(f"/results/export.xlsx?{QUERY}&unit=7210&history=1").content
    summary = {r[0]: r[1] for r in load_workbook(io.BytesIO(book))["Tổng hợp"].iter_rows(values_only=True, max_col=2) if r[0]}
    assert summary["Số phiếu tính"] == 13 and summary["Gồm số liệu các đơn vị trước sắp xếp"] == "có"
    rows = sheet(book, "Đơn vị tiền thân")
    assert (rows[0]["Mã"], rows[0]["Số phiếu tính"]) == ("7210", 5)
    by = {(r["Mã"], r["Từ ngày"]): r for r in rows[1:-1]}
    assert by["7201", "2023-01-01"]["Số phiếu tính"] == 4 and by["7210", "2023-01-01"]["Đơn vị"] == "Phường Hoàng Văn Thụ"
    assert (rows[-1]["Đơn vị"], rows[-1]["Số phiếu tính"], rows[-1]["Hài lòng"]) == ("Cộng (gồm các đơn vị trước sắp xếp)", 13, 8)


def test_the_pull_api_takes_the_same_switch(world):
    app, storage, _, _ = world
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--db", db, "api-tokens", "add", "--name", "bi-history", "--province"]) == 0
    auth = {"Authorization": f"Bearer {buf.getvalue().strip().splitlines()[-1]}"}
    plain = TestClient(app).get("/api/v1/pull/aggregates?from=2023-06-01&to=2025-12-31", headers=auth).json()
    unit = {u["code"]: u for u in plain["units"]}["7210"]
    assert (unit["answers"], unit["satisfied"]) == (5, 4) and "predecessors" not in unit and plain["history"] is False
    assert plain["structure"]["spans"] == ["2025-07-01"] and plain["structure"]["text"]["vi"].startswith(CURRENT)
    full = TestClient(app).get("/api/v1/pull/aggregates?from=2023-06-01&to=2025-12-31&history=1", headers=auth).json()
    unit = {u["code"]: u for u in full["units"]}["7210"]
    assert (unit["answers"], unit["satisfied"]) == (13, 8) and full["history"] is True
    preds = {(p["code"], p["valid_from"]): p for p in unit["predecessors"]}
    assert preds["7201", "2023-01-01"]["answers"] == 4 and preds["7210", "2023-01-01"]["answers"] == 4
    assert all(p["counted"] and not p["partial"] for p in preds.values())
    assert set(unit) >= {"answers", "share_satisfied", "index", "wilson_low", "points", "criteria"}  # fields only added


def test_the_command_line_export_takes_the_same_switch_and_lists_points(world, tmp_path, capsys):
    import csv as csvlib
    app, storage, _, _ = world
    db = storage.url if hasattr(storage, "url") else str(storage.path)

    def export(*extra) -> list[dict]:
        out = tmp_path / "r.csv"
        assert cli.main(["--db", db, "export", "--format", "csv", "--out", str(out), "--unit", "7210",
                         "--from", WINDOW[0], "--to", WINDOW[1], *extra]) == 0
        return list(csvlib.DictReader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff")), delimiter=";"))

    plain = export()
    said = capsys.readouterr().out
    assert CURRENT in said and "mỗi đơn vị chỉ gồm phiếu" in said
    assert [(r["Cấp"], r["Số phiếu tính"]) for r in plain if r["Cấp"] != "Lĩnh vực"] == [("Cấp xã", "5"), ("Điểm tiếp nhận", "5")]
    full = export("--history")
    assert CURRENT + "; số liệu trước đó được cộng theo các đơn vị tiền thân." in capsys.readouterr().out
    unit = [r for r in full if r["Cấp"] == "Cấp xã"]
    assert [(r["Mã"], r["Số phiếu tính"], r["Hài lòng"]) for r in unit] == [("7210", "13", "8")]
    # Its point is its own site: the predecessors' answers are in the unit's figure, at no point of its own.
    assert [(r["Đơn vị"], r["Thuộc"], r["Số phiếu tính"]) for r in full if r["Cấp"] == "Điểm tiếp nhận"] == [
        ("Phường Bắc Giang", "Phường Bắc Giang", "5")]


# --- a partial predecessor -----------------------------------------------------------------------

SPLIT_DAY = "2026-10-01"
BEFORE_SPLIT, AFTER_SPLIT = datetime(2026, 3, 4, 9, 0, tzinfo=fx.TZ), datetime(2026, 11, 5, 9, 0, tzinfo=fx.TZ)
TAM_SON, NEW_A, NEW_B = [5, 5, 1], [4], [2, 2]


def test_a_split_unit_is_shown_in_part_and_added_only_above(tmp_path):
    """Phường Tam Sơn (9376 until its code correction, 9370 since 07/01/2026) split on 01/10/2026
    between two new wards (a release imported like any other): each ward lists it as "một phần",
    its answers shown whole (5 5 1) and added to neither; the province adds them once."""
    app, storage = open_both_trees(tmp_path)
    try:
        add_users(storage)
        tam_son = next(v for v in storage.unit_versions("9370"))
        units = [u for u in storage.units_as_of(SPLIT_DAY) if u["code"] != "9370"]
        release = {"valid_from": SPLIT_DAY, "units": [{k: u[k] for k in ("code", "name", "level", "parent_code")} for u in units]}
        for code, name in (("9991", "Phường Tam Sơn Bắc"), ("9992", "Phường Tam Sơn Nam")):
            release["units"].append({"code": code, "name": name, "level": "commune", "parent_code": "24",
                                     "predecessors": [{"code": "9370", "valid_from": tam_son["valid_from"], "partial": True}]})
        storage.import_unit_release(load_release_json(json.dumps(release, ensure_ascii=False)))
        assert {(link["to_code"], link["partial"]) for link in storage.unit_links("9370") if link["on_date"] == SPLIT_DAY} == {
            ("9991", 1), ("9992", 1)}
        _store(storage, [("9370", TAM_SON, BEFORE_SPLIT, None)])
        _store(storage, [("9991", NEW_A, AFTER_SPLIT, None), ("9992", NEW_B, AFTER_SPLIT, None)])
        window = ("2026-01-01", "2026-12-31")
        own, full = _report(app, window=window), _report(app, history=True, window=window)
        assert (own.score("9991").n, own.score("9992").n, own.score("24").n) == (1, 2, 3)
        assert (full.score("9991").n, full.score("9992").n) == (1, 2)  # not added to either ward
        assert full.score("24").n == 3 + 1 + 2  # but once to the province, which holds both
        rows = full.history("9991")["rows"]
        # Tam Sơn and everything before it (9376 of 2025, the 2023 communes it merged) went into both wards.
        assert {p["code"] for p in rows} >= {"9370", "9376"} and all(p["partial"] and not p["counted"] for p in rows)
        [part] = [p for p in rows if p["code"] == "9370"]
        assert (part["code"], part["partial"], part["counted"], part["also"]) == ("9370", True, False, ["9992"])
        assert (part["score"].n, part["score"].satisfied) == (3, 2)  # shown whole
        assert full.history("9991")["total"].n == 1
        assert full.structure()["spans"] == [SPLIT_DAY]
        page = login(app, "province-admin")[0].get("/results/units/9992?from=01/01/2026&to=31/12/2026&history=1")
        card = page.text[page.text.index('id="history"'):]
        assert "Phường Tam Sơn" in card and "một phần" in card and "cũng sáp nhập vào: Phường Tam Sơn Bắc" in card
        assert "không cộng" in card and "không tách được phiếu theo phần" in card
    finally:
        storage.close()


# --- scopes follow unit versions, not codes --------------------------------------------------------

def _viewer(storage, code: str):
    from sync_server.scopes import viewer_scope
    return viewer_scope(storage, code, datetime(2026, 12, 1, 9, 0, tzinfo=fx.TZ))


def test_a_viewer_sees_the_unit_versions_of_their_unit_not_a_reused_code(world):
    """District 213 (the city of Bắc Giang until 2025) covers Hoàng Văn Thụ (7210 of 2023), never today's
    7210 (Phường Bắc Giang); today's Phường Bắc Giang covers itself and the communes that went into it."""
    app, storage, successor, hvt_site = world
    city, ward, tho_xuong = _viewer(storage, "213"), _viewer(storage, "7210"), _viewer(storage, "7201")
    assert city.covers("7210", "2023-01-01") and city.covers("7201", "2023-01-01") and city.covers("213", "2023-01-01")
    assert not city.covers("7210", "2025-07-01") and "7210" not in city and "7246" not in city.read
    assert ward.covers("7210", "2025-07-01") and ward.covers("7210", "2023-01-01") and ward.covers("7201", "2023-01-01")
    assert "7210" in ward and not ward.covers("7246", "2023-01-01") and not ward.covers("213", "2023-01-01")
    # Thọ Xương ended in 2025: its viewer keeps its last version (its officers, kiosks, answers), nothing more.
    assert tho_xuong.versions == {("7201", "2023-01-01")} and set(tho_xuong) == {"7201"}

    # The results: in 2023, the city viewer sees Hoàng Văn Thụ with its own answers.
    old = _report(app, scope=city, window=("2023-06-01", "2023-06-30"))
    assert old.visible("7210") and old.score("7210").n == len(H) and old.score("213").n == len(T + H + D)
    # In today's structure the city has no unit: nothing of Phường Bắc Giang is visible to it.
    new = _report(app, scope=city, history=True)
    assert not new.visible("7210") and not new.visible("24") and new.roots("213") == []
    assert not any(new.visible(c) for c in new.tree.units)
    # Today's ward sees its history; the province's view of the ward is the same.
    mine = _report(app, scope=ward, history=True)
    assert mine.visible("7210") and not mine.visible(successor)
    assert mine.score("7210").n == _report(app, history=True).score("7210").n == len(B + T + H + L)


def test_the_raw_answers_and_the_pull_feed_follow_unit_versions(world, capsys):
    app, storage, _, hvt_site = world
    ward_site = fx.first_site(storage, "7210", NEW)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=fx.TZ)
    from sync_server import accounts
    storage.add_user("phuong-bac-giang", accounts.hash_secret(PASSWORD), "commune_viewer", "7210", now)
    expected = {"district-viewer": {("7201", None): len(T), ("7210", hvt_site): len(H + L), ("213", None): len(D)},
                "phuong-bac-giang": {("7201", None): len(T), ("7210", hvt_site): len(H + L), ("7210", ward_site): len(B)},
                "commune-viewer": {("7201", None): len(T)}}
    for user, want in expected.items():
        client = login(app, user)
        csv_text = client[0].get("/results/answers.csv").text.lstrip("\ufeff")
        lines = csv_text.strip().splitlines()
        header = lines[0].split(",")
        assert header[-1] == "site_id"
        got: dict = {}
        for line in lines[1:]:
            cells = line.split(",")
            code, site = cells[header.index("unit_code")], int(cells[-1])
            key = (code, site if code == "7210" else None)
            got[key] = got.get(key, 0) + 1
        assert got == want, user
    # The pull API: a token scoped to district 213 reads the same answers as its viewer, with their site.
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    assert cli.main(["--db", db, "api-tokens", "add", "--name", "pull-213",
                     "--scope-unit", "213"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    api = TestClient(app)
    items, since = [], 0
    while True:
        page = api.get(f"/api/v1/pull/answers?limit=3&since={since}", headers={"Authorization": f"Bearer {token}"}).json()
        items += page["items"]
        since = page["next_since"]
        if not page["has_more"]:
            break
    assert len(items) == len(T + H + L + D) and {i["site_id"] for i in items if i["unit_code"] == "7210"} == {hvt_site}


def test_heatmap_groups_and_officers_tell_a_reused_codes_units_apart_by_site(tmp_path):
    """Schema step 18: the answer L, given at Hoàng Văn Thụ's site after it ended (a kiosk left enrolled
    there), is Hoàng Văn Thụ's in the weekday × hour heatmap, the procedure groups and the officer
    figures too, as in the score: Phường Bắc Giang's and the province's count B alone. (Before the
    step these rollups had no site and counted L for Bắc Giang: 6 answers, officer cb-old listed.)"""
    app, storage = open_both_trees(tmp_path)
    hvt_site = fx.first_site(storage, "7210", OLD)
    new_site = fx.first_site(storage, "7210", NEW)
    items = [fx.prepared("7210", v, {}, [], "kiosk", "cb-new", NEW + timedelta(minutes=i), 20_000 + i,
                         group="dat_dai", site=new_site) for i, v in enumerate(B)]
    items += [fx.prepared("7210", v, {}, [], "kiosk", "cb-old", NEW + timedelta(minutes=30 + i), 20_100 + i,
                          group="dat_dai", site=hvt_site) for i, v in enumerate(L)]
    storage.store_batch(None, items, (NEW + timedelta(hours=2)).isoformat(), None)
    for focus in ("7210", None):
        r = _report(app, focus=focus)
        code = focus or r.tree.root()
        assert r.score(code).n == len(B)
        assert sum(s.n for s in r.heatmap(code)["cells"].values()) == len(B)
        groups = {g["code"]: g["score"].n for g in r.procedure_groups(code) if g["score"].n}
        assert groups == {"dat_dai": len(B)}
        officers = {o["code"]: o["score"].n for o in r.officers(code)}
        assert officers == {"cb-new": len(B)}
        assert r.officer_tally(code, "cb-old").counts == {}
    storage.close()
