"""Issue 15 (2), the officer page: rank with its denominator (the same as the XLSX's and the pull API's),
n, share, Wilson bound, the reasons citizens gave when dissatisfied, a trend per week, the results filters.
Real database, real app; answers uploaded through the kiosk API on chosen days; every expected figure
computed here from the seeded answers and the questionnaire's JSON."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hailong_core.timeutil import format_rfc3339, now_local
from sync_server import cli
from tests.records import UPLOAD, make_record
from tests.results_world import enrol, sheet, wilson_low
from tests.server_web import add_users, login, make_app

QUESTIONNAIRE = json.loads((Path(__file__).parents[1] / "assets/questionnaires/default.json").read_text(encoding="utf-8"))
OPTIONS = {o["id"]: o["label"]["vi"] for o in QUESTIONNAIRE["questions"][1]["options"]}
SATISFIED = {lv["value"] for lv in QUESTIONNAIRE["questions"][0]["levels"] if lv["satisfied"]}
TODAY = now_local().date()
FROM, TO = TODAY - timedelta(days=20), TODAY
# cb-main (Thọ Xương, 7201): (days ago, headline level, why). ``None``: the why follow-up was shown (level
# 1 or 2) and skipped, so it counts as "Không nêu lý do"; ``()``: not asked (a satisfied level).
MAIN = ([(20, 5, ()), (20, 4, ()), (19, 1, ["waited_long", "impolite"]), (18, 2, ["waited_long"]), (18, 5, ())]
        + [(12, 4, ()), (12, 5, ()), (11, 2, None), (10, 1, ["extra_papers"]), (9, 5, ())]
        + [(5, 5, ()), (4, 4, ()), (3, 2, ["waited_long"]), (1, 5, ()), (0, 4, ())]
        + [(25, 1, ["impolite"])])  # before the window: counts nowhere here
OTHERS = {"cb-good": ("7201", [5] * 9 + [4]), "cb-fair": ("7246", [5, 4, 4, 2, 5, 4, 3, 4, 5, 2])}


def _answers(rows):
    out = []
    for ago, level, why in rows:
        answers = {"overall": level}
        if why:
            answers["why"] = list(why)
        out.append((TODAY - timedelta(days=ago), answers))
    return out


def _upload(app, token, unit, dated, officer, first_seq):
    records = []
    for i, (day, answers) in enumerate(dated):
        created = datetime(day.year, day.month, day.day, 9, 0, tzinfo=now_local().tzinfo) + timedelta(minutes=i)
        if created > now_local():
            created = now_local() - timedelta(seconds=60 + i)
        records.append(make_record(first_seq + i, unit, answers, created=created, officer_id=officer))
    resp = TestClient(app).post(UPLOAD, json={"responses": records, "device_time": format_rfc3339(now_local())},
                                headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and {r["status"] for r in resp.json()["results"]} == {"accepted"}, resp.text


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, storage = make_app(tmp_path_factory.mktemp("officer-page"), report_min_answers=5)
    add_users(storage)
    now = datetime.now(timezone.utc)
    tokens, seq = {}, {}
    storage.add_officer("cb-main", "7201", "Nguyễn Thị Mai", "Công chức", None, None, now)
    tokens["7201"] = enrol(app, storage, "7201")
    _upload(app, tokens["7201"], "7201", _answers(MAIN), "cb-main", 1)
    seq["7201"] = 1 + len(MAIN)
    for oid, (unit, levels) in OTHERS.items():
        storage.add_officer(oid, unit, f"Cán bộ {oid[3:]}", "Công chức", None, None, now)
        token = tokens.setdefault(unit, enrol(app, storage, unit))
        _upload(app, token, unit, [(TODAY - timedelta(days=2), {"overall": v}) for v in levels], oid, seq.get(unit, 1))
        seq[unit] = seq.get(unit, 1) + len(levels)
    yield app, storage
    storage.close()


QUERY = f"from={FROM.isoformat()}&to={TO.isoformat()}"


def _in_window():
    return [(TODAY - timedelta(days=ago), level, why) for ago, level, why in MAIN if ago <= 20]


def _share_text(k: int, n: int) -> str:
    return f"{k / n * 100:.1f}".replace(".", ",") + " %"


def _token(storage, name, *scope) -> str:
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--db", db, "api-tokens", "add", "--name", name, *scope]) == 0
    return buf.getvalue().strip().splitlines()[-1]


def _card(page: str, ident: str) -> str:
    start = page.index(f'id="{ident}"')
    return page[start:page.index('<div class="card"', start + 1) if '<div class="card"' in page[start + 1:] else len(page)]


def test_rank_with_its_denominator_equals_the_xlsx_and_the_api(world):
    app, storage = world
    admin = login(app, "province-admin")[0]
    page = admin.get(f"/results/officers/cb-main?{QUERY}").text
    xlsx = {r["Mã"]: r for r in sheet(admin.get(f"/results/export.xlsx?{QUERY}").content, "Cán bộ")}
    resp = TestClient(app).get(f"/api/v1/pull/officers?{QUERY}",
                               headers={"Authorization": f"Bearer {_token(storage, 'page-province', '--province')}"})
    api = {o["officer_id"]: o for o in resp.json()["officers"]}
    rows = _in_window()
    n, k = len(rows), sum(level in SATISFIED for _, level, _ in rows)
    assert (n, k) == (15, 10)
    # Independently: cb-good 9/10+1 → all satisfied (10/10), cb-fair 7/10, cb-main 10/15: Wilson orders them.
    assert wilson_low(10, 10) > wilson_low(10, 15) > wilson_low(7, 10)
    assert xlsx["cb-main"]["Xếp hạng"] == api["cb-main"]["rank"] == 2
    assert xlsx["cb-main"]["Trên tổng số"] == resp.json()["ranked"] == 3
    line = re.search(r'id="officer-rank-line"><b>([^<]*)</b>', page).group(1)
    assert line == "Hạng 2/3 trong phạm vi Tỉnh Bắc Giang"
    assert api["cb-main"]["answers"] == xlsx["cb-main"]["Số phiếu tính"] == n
    assert api["cb-main"]["wilson_low"] == pytest.approx(wilson_low(k, n))
    wilson = _card(page, "officer-wilson")
    assert f"{wilson_low(k, n) * 100:.1f}".replace(".", ",") + " %" in wilson
    assert _share_text(k, n) in page


def test_reasons_are_the_dissatisfied_citizens_own(world):
    app, _ = world
    admin = login(app, "province-admin")[0]
    card = _card(admin.get(f"/results/officers/cb-main?{QUERY}").text, "officer-reasons")
    counts: dict[str, int] = {}
    no_reason = 0
    for _, level, why in _in_window():
        if why is None:
            no_reason += 1
        for option in why or ():
            counts[OPTIONS[option]] = counts.get(OPTIONS[option], 0) + 1
    assert counts == {"Phải chờ lâu": 3, "Thái độ thiếu lịch sự": 1, "Yêu cầu giấy tờ ngoài quy định": 1} and no_reason == 1
    shown = dict(re.findall(r'<tr(?: class="no-reason")?><td>(?:<em>)?([^<]+)(?:</em>)?</td><td class="n">(\d+)</td></tr>', card))
    assert {label: int(v) for label, v in shown.items()} == {**counts, "Không nêu lý do": no_reason}


def test_trend_per_week_from_the_seeded_days(world):
    app, _ = world
    admin = login(app, "province-admin")[0]
    card = _card(admin.get(f"/results/officers/cb-main?{QUERY}").text, "officer-trend")
    weeks: dict[date, list[int]] = {}
    for day, level, _ in _in_window():
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(level)
    expected = []
    start = FROM - timedelta(days=FROM.weekday())
    while start <= TO:
        levels = weeks.get(start, [])
        first = max(start, FROM)
        k = sum(v in SATISFIED for v in levels)
        expected.append((f"{first:%d/%m} – {min(start + timedelta(days=6), TO):%d/%m/%Y}", str(len(levels)),
                         _share_text(k, len(levels)) if levels else "—"))
        start += timedelta(days=7)
    shown = re.findall(r'<tr><td class="nowrap">([^<]+)</td><td class="n">(\d+)</td><td class="n nowrap">([^<]+)</td>', card)
    assert shown == expected and sum(int(n) for _, n, _ in shown) == 15
    assert "theo tuần" in card and "<svg" in card  # the chart beside the table: bars answers, line share


def test_filters_change_the_figures(world):
    app, _ = world
    admin = login(app, "province-admin")[0]
    last_week = f"from={(TODAY - timedelta(days=5)).isoformat()}&to={TODAY.isoformat()}"
    page = admin.get(f"/results/officers/cb-main?{last_week}").text
    assert 'action="/results/officers/cb-main"' in page and 'name="campaign"' in page
    rows = [(ago, level) for ago, level, _ in MAIN if ago <= 5]
    k = sum(level in SATISFIED for _, level in rows)
    assert re.search(r"<b>(\d+)</b>Số phiếu tính", page).group(1) == str(len(rows)) == "5"
    assert re.search(r"<b>([^<]+)</b>Tỷ lệ hài lòng", page).group(1) == _share_text(k, len(rows))
    assert re.search(r'id="officer-rank-line"><b>Hạng \d+/\d+ trong phạm vi', page)


def test_roles_without_officer_access_see_no_officer(world):
    app, _ = world
    commune = login(app, "commune-viewer")[0]
    assert commune.get(f"/results/officers/cb-main?{QUERY}").status_code == 403
    district = login(app, "district-viewer")[0]  # district 213 holds Thọ Xương: ranked among its own officers
    line = re.search(r'id="officer-rank-line"><b>([^<]*)</b>', district.get(f"/results/officers/cb-main?{QUERY}").text).group(1)
    assert line.startswith("Hạng 2/2 trong phạm vi")
