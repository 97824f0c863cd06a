"""Issue 14, privacy of the QĐ 766 figures: the minimum-count rule (``official_min_cell``) and its
complementary suppression (``sync_server.results.official_privacy``, docs/dossiers.md "Privacy").

The attack the audit found: a commune viewer asks for a one-day window holding one dossier they know
(they handed its receipt over) and reads "1 dossier, 100 % disliked, counter 2: 1/1" — how that citizen
rated. Below the province admin, on the results page, in the XLSX and through the pull API, such a
figure now says "ít hơn 5", and a hidden figure cannot be had back by subtracting the others from a
total. The province admin still sees it; the CLI (an operator holding the database) is unchanged.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from hailong_core.questionnaire import parse_questionnaire
from sync_server import accounts
from sync_server.days import local_today
from sync_server.dossiers import import_register
from sync_server.ingest import ingest
from sync_server.results import official, official_privacy
from tests.records import make_record
from tests.server_web import PASSWORD, add_users, login, make_app
from tests.support import server_cli

UNIT = "7246"  # a commune of the structure in force
VIEWER = "xa-7246"
HEAD = "ma_ho_so,unit_code,linh_vuc,thu_tuc,ngay_tiep_nhan,ngay_hen_tra,ngay_tra,trang_thai,kenh,quay"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """30 dossiers of Hộ tịch at counter 1, returned 6 to 10 days before day D and rated "5"; one of Đất đai
    at counter 2 ("the lone one"), returned on D, on time, rated "1" (a dislike)."""
    tmp = tmp_path_factory.mktemp("official-privacy")
    app, storage = make_app(tmp)
    add_users(storage)
    storage.add_user(VIEWER, accounts.hash_secret(PASSWORD), "commune_viewer", UNIT, datetime.now(timezone.utc))
    settings = app.state.hailong.settings
    today = local_today(settings)
    day = today - timedelta(days=3)
    dmy = lambda d: d.strftime("%d/%m/%Y")  # noqa: E731
    rows = [HEAD] + [f"P-{i:03d},{UNIT},Hộ tịch,Khai sinh,{dmy(day - timedelta(days=20))},{dmy(day)},"
                     f"{dmy(day - timedelta(days=6 + i % 5))},Đã trả,Trực tiếp,1" for i in range(30)]
    rows.append(f"P-LONE,{UNIT},Đất đai,Cấp GCN,{dmy(day - timedelta(days=20))},{dmy(day + timedelta(days=5))},{dmy(day)},"
                "Đã trả,Trực tiếp,2")
    assert import_register(storage, settings, "\n".join(rows).encode(), "p.csv", via="test").stored
    questionnaires = {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
    records = [make_record(i + 1, UNIT, {"overall": 5}, channel="qr", dossier_code=f"P-{i:03d}") for i in range(30)]
    records.append(make_record(99, UNIT, {"overall": 1}, channel="qr", dossier_code="P-LONE"))
    done = ingest(storage, None, {"responses": records}, max_items=100, skew_s=300, questionnaires=questionnaires,
                  unit_code=UNIT)
    assert {r["status"] for r in done["results"]} == {"accepted"}
    yield app, storage, settings, day
    storage.close()


def _card(client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:300]
    return page.text[page.text.index('id="official"'):].split('<div class="card"', 1)[0]


def _token(settings, *where: str) -> str:
    from sync_server import cli

    import contextlib
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["--db", str(settings.db), "api-tokens", "add", "--name", f"t-{'-'.join(where) or 'p'}", *where]) == 0
    return out.getvalue().strip().splitlines()[-1]


def test_the_one_day_attack_on_the_page_shows_no_dislike_figure_below_the_province_admin(world):
    app, storage, settings, day = world
    one_day = f"from={day:%d/%m/%Y}&to={day:%d/%m/%Y}"
    admin = _card(login(app, "province-admin")[0], f"/results/units/{UNIT}?{one_day}")
    # The province admin sees it all: one dossier, on time, disliked: ratio 0 %, 0 points, 100 % rated.
    assert "<b>0,0 %</b>Tỷ lệ hài lòng (QĐ 766)" in admin and "<b>0,00</b>" in admin
    assert "Không hài lòng hoặc có PAKN (1)" in admin and "100,0 %" in admin and "ít hơn" not in admin
    for who in (VIEWER, "province-analyst"):
        client = login(app, who)[0]
        for url in (f"/results/units/{UNIT}?{one_day}", f"/results?{one_day}"):
            card = _card(client, url)
            assert 'id="official-hidden"' in card and "ít hơn 5" in card, (who, url)
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))
            assert "<b>1</b>Hồ sơ trong kỳ" in card  # the register's own count stays
            # Nothing that rests on the one rating: no ratio, no points, no dislike share, no counter's "1 rated".
            assert "100,0 %" not in text and "0,00" not in text and "Tỷ lệ hài lòng (QĐ 766)" not in card.split("<table")[0]
            assert "(1)" not in text, (who, url, text[:600])


def test_the_one_day_attack_through_the_pull_api_gives_nulls(world):
    app, storage, settings, day = world
    from fastapi.testclient import TestClient

    api = TestClient(app)
    query = f"from={day.isoformat()}&to={day.isoformat()}"
    for where in (["--scope-unit", UNIT], ["--province"]):
        got = api.get(f"/api/v1/pull/official?{query}", headers={"Authorization": f"Bearer {_token(settings, *where)}"})
        assert got.status_code == 200, got.text[:300]
        body = got.json()
        unit = next(u for u in body["units"] if u["code"] == UNIT)
        assert unit["dossiers"] == 1 and unit["suppressed"] is True and body["min_cell"] == 5
        for figures in (unit, body["total"], *unit["by_field"], *unit["by_month"], *unit["by_site"]):
            assert {k: figures[k] for k in official.HIDDEN_KEYS} == dict.fromkeys(official.HIDDEN_KEYS), figures
        assert [(r["rated"], r["suppressed"]) for r in unit["reconciliation"]] == [(None, True)]
        assert [(r["rated"], r["suppressed"]) for r in unit["rated_at"]] == [(None, True)]
    # The CLI is an operator's, with the database in hand: unchanged, nothing hidden.
    cli = json.loads(server_cli(settings.db, "official", "--json", "--unit", UNIT, "--from", day.isoformat(),
                                "--to", day.isoformat()).stdout)
    mine = next(u for u in cli["units"] if u["code"] == UNIT)
    assert (mine["dossiers"], mine["rated"], mine["dislikes"], mine["ratio"], mine["points"]) == (1, 1, 1, 0.0, 0.0)
    assert "suppressed" not in mine and "min_cell" not in cli
    assert mine["reconciliation"] == [{"site_id": None, "counter": "2", "dossiers": 1, "rated": 1, "rated_share": 100.0}]


def test_a_hidden_row_cannot_be_had_back_from_the_total(world):
    """Over 11 days the unit has 31 rated dossiers (its ratio shows), but its counter 2 and its field Đất đai
    hold the lone one: hidden, and so are counter 1 and Hộ tịch, else total − counter 1 = the lone one."""
    app, storage, settings, day = world
    start = day - timedelta(days=10)
    whole = official.measure(storage, settings, start, day, UNIT, refresh=False)
    m = official_privacy.measure_for(storage, settings, start, day, UNIT, "commune_viewer", refresh=False)
    doc = official.as_json(m)
    unit = next(u for u in doc["units"] if u["code"] == UNIT)
    assert (unit["rated"], unit["dislikes"], unit["suppressed"]) == (31, 1, False)
    assert [(r["counter"], r["rated"]) for r in unit["reconciliation"]] == [("1", None), ("2", None)]
    assert [(r["field"], r["dislikes"]) for r in unit["by_field"]] == [("Hộ tịch", None), ("Đất đai", None)] or \
        [(r["field"], r["dislikes"]) for r in unit["by_field"]] == [("Đất đai", None), ("Hộ tịch", None)]
    assert [r["suppressed"] for r in unit["by_month"]] in ([False], [False, False])  # each month ≥ 5 here
    # Every table has none or at least two hidden members.
    for part in ("by_site", "by_field", "by_month", "reconciliation", "rated_at"):
        assert sum(bool(r["suppressed"]) for r in unit[part]) != 1, part
    # The province admin's cut is the plain measure.
    plain = official_privacy.measure_for(storage, settings, start, day, UNIT, "province_admin", refresh=False)
    assert official.as_json(plain) == official.as_json(whole)
    card = _card(login(app, VIEWER)[0], f"/results/units/{UNIT}?from={start:%d/%m/%Y}&to={day:%d/%m/%Y}")
    assert 'id="official-hidden"' not in card and 'id="official-fields"' in card and "ít hơn 5" in card


def test_the_commune_viewers_xlsx_hides_the_same_figures(world):
    app, storage, settings, day = world
    one_day = f"from={day:%d/%m/%Y}&to={day:%d/%m/%Y}"

    def sheets(who: str) -> dict:
        book = load_workbook(io.BytesIO(login(app, who)[0].get(f"/results/export.xlsx?{one_day}&unit={UNIT}").content))
        return {name: [r for r in book[name].iter_rows(values_only=True)] for name in ("QĐ 766", "QĐ 766 chi tiết")}

    def line(rows, code):
        header = rows[0]
        return dict(zip(header, next(r for r in rows[1:] if r and r[0] == code)))

    admin = sheets("province-admin")
    mine = line(admin["QĐ 766"], UNIT)
    assert (mine["Số hồ sơ"], mine["Đánh giá không hài lòng"], mine["Tỷ lệ hài lòng (QĐ 766)"], mine["Điểm"]) == (1, 1, 0, 0)
    viewer = sheets(VIEWER)
    mine = line(viewer["QĐ 766"], UNIT)
    assert mine["Số hồ sơ"] == 1 and {mine[h] for h in ("Đánh giá không hài lòng", "Hồ sơ được đánh giá",
                                                      "Tỷ lệ hài lòng (QĐ 766)", "Điểm")} == {"ít hơn 5"}
    detail = [dict(zip(viewer["QĐ 766 chi tiết"][0], r)) for r in viewer["QĐ 766 chi tiết"][1:] if r and r[0] == UNIT]
    assert {r["Theo"] for r in detail} == {"Lĩnh vực", "Tháng", "Đối chiếu theo quầy"}
    assert {r["Hồ sơ được đánh giá"] for r in detail} == {"ít hơn 5"}
    admin_detail = [dict(zip(admin["QĐ 766 chi tiết"][0], r)) for r in admin["QĐ 766 chi tiết"][1:] if r and r[0] == UNIT]
    assert {r["Hồ sơ được đánh giá"] for r in admin_detail} == {1}


def test_the_tables_are_settled_over_the_whole_province_so_every_page_hides_the_same_units():
    """District D (10 rated of its own) with communes C1 (3 rated) and C2 (20): C1 is hidden, and D with it
    (the smallest other member of D's table), on D's page and on the province's alike."""
    def unit(code, parent, rated):
        return official.UnitMeasure(code, code, None, parent, official.Figures(dossiers=rated + 2, rated=rated))
    units = [unit("P", None, 6), unit("D", "P", 10), unit("C1", "D", 3), unit("C2", "D", 20), unit("E", "P", 40)]
    total = official.UnitMeasure("", "", None, None)
    for u in units:
        total.figures.add(u.figures)
    m = official.OfficialMeasure(datetime(2026, 1, 1).date(), datetime(2026, 1, 31).date(), None, None, 6.0, 90.0, units,
                                 total, {}, [], structure={u.code: u.parent_code for u in units})
    subtotals = official_privacy.protect(m, 5)
    assert {u.code for u in units if u.figures.hidden} == {"C1", "D"}
    assert not subtotals["D"].hidden and not m.total.figures.hidden
    cut = official_privacy._cut(m, "D", subtotals["D"])
    assert [u.code for u in cut.units if u.figures.hidden] == ["D", "C1"] and cut.total.figures.rated == 33
