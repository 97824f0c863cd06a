"""Issue 13: results by service point (site, điểm tiếp nhận). A district's own one-stop counter and
the provincial centre's points are ranked as points of their own, apart from the pooled subtree.

Answers go in as citizens give them: kiosks enrolled to a site upload through the real API, one
phone answer through the real phone form (recorded at the commune's first site). Hand counts
(headline question; levels 4 and 5 are satisfied):

- 219 Lục Ngạn's district counter (its first site): 5 4 4 2 1 1 2 3 1 2: 3 of 10, index 37.5.
- 7525 (a commune of 219): 5 5 5 5 4 4: 6 of 6.
- 7201 Thọ Xương, site 1: kiosk 5 5 4 3 and the phone 4: 4 of 5, index 80.
- 7201 Thọ Xương, site 2 (added with ``storage.add_site``): 5 4 1 and a ``cooldown`` press (misuse,
  left out): 2 of 3, index 58.33.
- 24-HCC, the provincial centre's site: 5 5 5 4: 4 of 4.

Wilson lower bounds order the points 7525 (0.61), 24-HCC (0.51), 7201 site 1 (0.38), 7201 site 2
(0.21), Lục Ngạn's counter (0.11): the counter is the worst point, rank 5. Its district pools 16
answers (9 satisfied); that pooled figure is not the counter's.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from hailong_core.timeutil import now_local
from sync_server import cli
from sync_server.results import rollups
from sync_server.results.fold import flag_class
from sync_server.results.model import Filters
from sync_server.results.report import Report, resolve_window
from tests import results_fixture as fx
from tests.results_world import enrol, phone, sheet, upload, wilson_low
from tests.server_web import add_users, login, make_app

SCORE = {1: 0, 2: 25, 3: 50, 4: 75, 5: 100}
OFFSET_MS = 7 * 3_600_000
COUNTER_219 = [5, 4, 4, 2, 1, 1, 2, 3, 1, 2]
COMMUNE_7525 = [5, 5, 5, 5, 4, 4]
SITE1_KIOSK, SITE1_PHONE = [5, 5, 4, 3], 4
SITE2 = [5, 4, 1]
CENTRE = [5, 5, 5, 4]
SECOND_SITE = "Điểm tiếp nhận số 2 – Phường Thọ Xương"




def index(levels) -> float:
    return sum(SCORE[v] for v in levels) / len(levels)


def satisfied(levels) -> int:
    return sum(v >= 4 for v in levels)








@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sites")
    app, storage = make_app(tmp, report_min_answers=3)
    add_users(storage)
    second = storage.add_site("7201", SECOND_SITE, now_local())
    upload(app, enrol(app, storage, "219"), "219", [({"overall": lv}, []) for lv in COUNTER_219])
    upload(app, enrol(app, storage, "7525"), "7525", [({"overall": lv}, []) for lv in COMMUNE_7525])
    upload(app, enrol(app, storage, "7201"), "7201", [({"overall": lv}, []) for lv in SITE1_KIOSK])
    upload(app, enrol(app, storage, "7201", second["id"]), "7201",
           [({"overall": lv}, []) for lv in SITE2] + [({"overall": 1}, ["cooldown"])])
    upload(app, enrol(app, storage, "24-HCC"), "24-HCC", [({"overall": lv}, []) for lv in CENTRE])
    phone(app, "7201", "198.51.100.7", q_overall=str(SITE1_PHONE))
    today = now_local().date()
    query = f"from={(today - timedelta(days=1)):%d/%m/%Y}&to={today:%d/%m/%Y}"
    sites = {code: storage.first_site(code, today.isoformat())["id"] for code in ("219", "7525", "7201", "24-HCC")}
    sites["7201-2"] = second["id"]
    yield app, storage, login(app, "province-admin")[0], query, sites
    storage.close()


def _report(app, query: str, scope=None, focus=None, **filters) -> Report:
    state = app.state.hailong
    q = dict(p.split("=") for p in query.split("&"))
    return Report.build(state, scope, resolve_window(state.storage, state.settings, None, q["from"], q["to"]), Filters(**filters),
                        focus=focus)


# Points ranked across the province, best first: (site key, levels).
EXPECTED = [("7525", COMMUNE_7525), ("24-HCC", CENTRE), ("7201", SITE1_KIOSK + [SITE1_PHONE]), ("7201-2", SITE2),
            ("219", COUNTER_219)]


def test_the_hand_counts_order_the_points():
    lows = [wilson_low(satisfied(levels), len(levels)) for _, levels in EXPECTED]
    assert lows == sorted(lows, reverse=True) and len(set(lows)) == len(lows)
    assert lows[-1] == pytest.approx(0.1078, abs=1e-4)  # Lục Ngạn's counter, 3 of 10


def test_answers_are_stored_at_their_sites(world):
    _, storage, _, _, sites = world
    rows = storage._conn().execute("SELECT unit_code, site_id, channel, COUNT(*) FROM responses GROUP BY unit_code, site_id, channel "
                                   "ORDER BY unit_code, site_id, channel").fetchall()
    assert [tuple(r) for r in rows] == sorted([
        ("219", sites["219"], "kiosk", 10), ("24-HCC", sites["24-HCC"], "kiosk", 4), ("7201", sites["7201"], "kiosk", 4),
        ("7201", sites["7201"], "qr", 1), ("7201", sites["7201-2"], "kiosk", 4), ("7525", sites["7525"], "kiosk", 6)])


def test_district_counter_is_a_point_of_its_own_in_the_report(world):
    app, _, _, query, sites = world
    r = _report(app, query)
    pooled = r.score("219")
    assert (pooled.n, pooled.satisfied) == (16, 9)  # the district with its communes: not the counter's figure
    [own] = r.own_points("219")
    s = own["score"]
    assert own["site_id"] == sites["219"] and own["name"] == "Huyện Lục Ngạn" and own["level"] == "district"
    assert (s.n, s.satisfied) == (10, 3) and s.headline_share == pytest.approx(0.3)
    assert s.index == pytest.approx(index(COUNTER_219)) == pytest.approx(37.5)
    assert s.low == pytest.approx(wilson_low(3, 10))
    assert own["rank"] == 5 and own["enough"]
    ranking = r.points(r.tree.root())
    ranked = [(p["site_id"], p["rank"]) for p in ranking if p["rank"] is not None]
    assert ranked == [(sites[key], i) for i, (key, _) in enumerate(EXPECTED, 1)]
    # Every point of the province once: each unit's first site but the province's own, and 7201's second.
    assert len(ranking) == len({p["site_id"] for p in ranking}) == (len(r.tree.units) - 1) + 1
    centre = next(p for p in ranking if p["code"] == "24-HCC")
    assert (centre["rank"], centre["level"], centre["score"].n) == (2, "centre", 4)
    # A district page reads only its subtree, yet ranks its counter among the province's points.
    focused = _report(app, query, focus="219")
    assert [p["rank"] for p in focused.own_points("219")] == [5]
    assert [(p["site_id"], p["rank"]) for p in focused.points("219") if p["rank"]] == [(sites["7525"], 1), (sites["219"], 2)]


def _section(text: str, marker: str) -> str:
    start = text.index(marker)
    return text[start:text.index("</table>", start)]


def _point_rows(html: str) -> list[tuple[str, str, str]]:
    """(rank, point, unit code) of a points ranking table."""
    return re.findall(r'<tr><td class="n">(\d*)</td><td>([^<]*?)(?: <span[^>]*>[^<]*</span>)*</td><td><a href="/results/units/([^?]+)\?',
                      html)


def test_district_page_shows_its_counter_apart_from_the_pooled_figure(world):
    _, _, client, query, _ = world
    page = client.get(f"/results/units/219?{query}")
    assert page.status_code == 200
    assert "<b>16</b>" in page.text  # the pooled district
    assert "gộp mọi điểm tiếp nhận trong địa bàn" in page.text
    own = _section(page.text, 'id="own-points"')
    assert "Điểm tiếp nhận của đơn vị" in own
    assert re.search(r'<tr><td class="n">5</td><td>Huyện Lục Ngạn</td>\s*<td class="n">10</td><td class="n nowrap">30,0 %</td>', own)
    assert "37,5" in own
    assert "Cộng các điểm của đơn vị" not in own  # one point: no sum line
    district = _point_rows(_section(page.text, 'id="points-ranking"'))
    assert ("2", "Huyện Lục Ngạn", "219") in district  # ranked among the district's points
    assert 'Huyện Lục Ngạn <span class="muted">(điểm của đơn vị, không gồm cấp dưới)</span>' in page.text
    assert [r[0] for r in district if r[2] in ("7525", "219")] == ["1", "2"]


def test_province_page_ranks_every_point(world):
    _, _, client, query, _ = world
    page = client.get(f"/results?{query}")
    assert page.status_code == 200
    rows = _point_rows(_section(page.text, 'id="points-ranking"'))
    assert ("5", "Huyện Lục Ngạn", "219") in rows
    assert ("4", SECOND_SITE, "7201") in rows and ("3", "Phường Thọ Xương", "7201") in rows
    assert [r[2] for r in rows[:5]] == ["7525", "24-HCC", "7201", "7201", "219"]
    assert "Xếp hạng điểm tiếp nhận" in page.text




def test_xlsx_has_the_points_ranked(world):
    _, _, client, query, sites = world
    book = client.get(f"/results/export.xlsx?{query}")
    assert book.status_code == 200
    points = {r["Mã điểm"]: r for r in sheet(book.content, "Điểm tiếp nhận")}
    counter = points[sites["219"]]
    assert (counter["Xếp hạng"], counter["Mã đơn vị"], counter["Đơn vị"], counter["Cấp"]) == (5, "219", "Huyện Lục Ngạn", "Cấp huyện")
    assert (counter["Số phiếu tính"], counter["Hài lòng"]) == (10, 3) and counter["Tỷ lệ hài lòng"] == pytest.approx(0.3)
    assert counter["Chỉ số hài lòng (0–100)"] == pytest.approx(37.5)
    assert counter["Cận dưới Wilson 95%"] == pytest.approx(round(wilson_low(3, 10), 3))
    assert points[sites["24-HCC"]]["Cấp"] == "Trung tâm Phục vụ hành chính công" and points[sites["24-HCC"]]["Xếp hạng"] == 2
    second = points[sites["7201-2"]]
    assert (second["Điểm tiếp nhận"], second["Số phiếu tính"], second["Phiếu bị loại (lạm dụng)"]) == (SECOND_SITE, 3, 1)
    assert second["Thuộc"] == "Thành phố Bắc Giang"
    # The district's own report: its counter and its communes' points, ranked among themselves.
    district = {r["Mã điểm"]: r for r in sheet(client.get(f"/results/export.xlsx?{query}&unit=219").content, "Điểm tiếp nhận")}
    assert (district[sites["7525"]]["Xếp hạng"], district[sites["219"]]["Xếp hạng"]) == (1, 2)


@pytest.fixture(scope="module")
def pulled(world):
    app, storage, _, query, _ = world
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    tokens = {}
    for name, scope in (("bi-sites", ["--province"]), ("bi-sites-213", ["--scope-unit", "213"])):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert cli.main(["--db", db, "api-tokens", "add", "--name", name, *scope]) == 0
        tokens[name] = buf.getvalue().strip().splitlines()[-1]
    out = {}
    for name, token in tokens.items():
        resp = TestClient(app).get(f"/api/v1/pull/aggregates?{query}", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        out[name] = {u["code"]: u for u in resp.json()["units"]}
    return out


def test_pull_api_lists_each_units_points(world, pulled):
    _, _, _, _, sites = world
    units = pulled["bi-sites"]
    district = units["219"]
    assert (district["answers"], district["satisfied"]) == (16, 9)  # the existing fields: unchanged, pooled
    [point] = district["points"]
    assert point["site_id"] == sites["219"] and point["unit_code"] == "219" and point["name"] == "Huyện Lục Ngạn"
    assert (point["answers"], point["satisfied"], point["rank"], point["enough_answers"]) == (10, 3, 5, True)
    assert point["share_satisfied"] == pytest.approx(0.3) and point["index"] == pytest.approx(37.5)
    assert point["wilson_low"] == pytest.approx(wilson_low(3, 10)) and point["left_out"] == {"incomplete": 0, "misuse": 0}
    assert [p["rank"] for p in units["24-HCC"]["points"]] == [2]
    assert units["24"]["points"] == []  # the province's own site is no counter: listed only with answers
    assert all(set(u) >= {"answers", "share_satisfied", "index", "wilson_low", "wilson_high", "left_out", "criteria", "points"}
               for u in units.values())


def test_a_unit_with_two_sites_shows_both_and_their_sum(world, pulled):
    app, _, client, query, sites = world
    r = _report(app, query)
    own = r.own_points("7201")
    assert [p["site_id"] for p in own] == [sites["7201"], sites["7201-2"]]
    first, second = (p["score"] for p in own)
    levels1 = SITE1_KIOSK + [SITE1_PHONE]
    assert (first.n, first.satisfied, first.index) == (5, 4, pytest.approx(index(levels1)))
    assert (second.n, second.satisfied, second.index) == (3, 2, pytest.approx(index(SITE2)))
    assert second.left_out == {"misuse": 1}
    total, pooled = r.own_total("7201"), r.score("7201")
    assert total.n == pooled.n == first.n + second.n == 8
    assert total.satisfied == pooled.satisfied == 6 and total.index == pytest.approx(pooled.index)
    assert total.left_out == pooled.left_out == {"misuse": 1}
    assert total.low == pytest.approx(wilson_low(6, 8))
    assert [p["rank"] for p in own] == [3, 4]
    # A district viewer's ranks are among the points they may see (213's subtree).
    viewer = _report(app, query, scope=set(r.tree.stored_codes("213")))
    assert [p["rank"] for p in viewer.own_points("7201")] == [1, 2]
    # The page: both points and their sum.
    page = client.get(f"/results/units/7201?{query}")
    own_html = _section(page.text, 'id="own-points"')
    assert "Phường Thọ Xương</td>" in own_html and f"{SECOND_SITE}</td>" in own_html
    assert re.search(r"Cộng các điểm của đơn vị</b></td><td class=\"n\"><b>8</b></td><td class=\"n nowrap\">75,0 %</td>", own_html)
    commune = login(app, "commune-viewer")[0].get(f"/results/units/7201?{query}")
    assert commune.status_code == 200 and re.search(rf'<tr><td class="n">2</td><td>{SECOND_SITE}</td>', commune.text)
    # The XLSX of the commune: both points, the sum is the commune's own line.
    book = client.get(f"/results/export.xlsx?{query}&unit=7201").content
    assert [(r["Mã điểm"], r["Số phiếu tính"]) for r in sheet(book, "Điểm tiếp nhận")] == [(sites["7201"], 5), (sites["7201-2"], 3)]
    # The pull API: both points; they add up to the unit's answers.
    unit = pulled["bi-sites"]["7201"]
    assert [(p["site_id"], p["answers"], p["rank"]) for p in unit["points"]] == [(sites["7201"], 5, 3), (sites["7201-2"], 3, 4)]
    assert sum(p["answers"] for p in unit["points"]) == unit["answers"] == 8
    assert [p["rank"] for p in pulled["bi-sites-213"]["7201"]["points"]] == [1, 2]  # ranked within the token's scope
    assert "219" not in pulled["bi-sites-213"]


def test_channel_filter_applies_to_points(world):
    app, _, _, query, _ = world
    first, second = (p["score"].n for p in _report(app, query, channel="qr").own_points("7201"))
    assert (first, second) == (1, 0)  # the phone answer was given to the commune's first site


# --- the rollups against the responses --------------------------------------------------------

def _by_site_from_responses(storage) -> tuple[dict, dict]:
    """Straight from ``responses``: responses and headline levels per (unit, site or 0, channel, flag class)."""
    responses, levels = {}, {}
    rows = storage._conn().execute("SELECT unit_code, site_id, channel, answers, flags FROM responses").fetchall()
    for unit, site, channel, answers, flags in rows:
        key = (unit, site or 0, channel, flag_class(json.loads(flags)))
        responses[key] = responses.get(key, 0) + 1
        level = json.loads(answers).get("overall")
        counts = levels.setdefault(key, [0] * 5)
        counts[level - 1] += 1
    return responses, levels


def _rollup_by_site(storage, table: str) -> tuple[dict, dict]:
    conn = storage._conn()
    group = "unit_code, site_id, channel, flag_class"
    responses = {tuple(r[:4]): r[4] for r in conn.execute(f"SELECT {group}, SUM(n) FROM {table} WHERE question = '' GROUP BY {group}")}
    levels = {tuple(r[:4]): [int(v) for v in r[4:]] for r in conn.execute(
        f"SELECT {group}, SUM(c1), SUM(c2), SUM(c3), SUM(c4), SUM(c5) FROM {table} WHERE question = 'overall' GROUP BY {group}")}
    return {k: int(v) for k, v in responses.items()}, levels


def test_rollups_equal_a_group_by_over_responses_by_site(tmp_path):
    app, storage = make_app(tmp_path, report_min_answers=3)
    try:
        fx.load(storage)
        second = storage.add_site("7201", SECOND_SITE, datetime(2023, 6, 1, tzinfo=fx.TZ))
        when = fx.DAY + timedelta(hours=2)
        items = [fx.prepared("7201", lv, {}, flags, "kiosk", None, when + timedelta(minutes=i), 500 + i, site=second["id"])
                 for i, (lv, flags) in enumerate([(5, []), (2, []), (1, ["burst"]), (4, ["incomplete"])])]
        items.append(fx.prepared("7204", 3, {}, [], "kiosk", None, when, 600))  # no site recorded: site 0
        storage.store_batch(None, items, (when + timedelta(hours=1)).isoformat(), None)
        done = rollups.refresh(storage, OFFSET_MS, chunk=7)  # several chunks, each its own conditional step
        assert done.behind == 0 and done.folded == storage.response_count()
        expected = _by_site_from_responses(storage)
        assert _rollup_by_site(storage, "rollup_day") == expected
        assert _rollup_by_site(storage, "rollup_month") == expected
        assert expected[0][("7201", second["id"], "kiosk", "ok")] == 2 and expected[0][("7204", 0, "kiosk", "ok")] == 1
        # The report: 7201's two points add up to its own answers; the answer with no site counts in 7204 only.
        state = app.state.hailong
        r = Report.build(state, None, resolve_window(storage, state.settings, storage.campaigns()[0]["id"]), Filters())
        points = r.own_points("7201")
        assert [p["score"].n for p in points] == [7, 3] and r.score("7201").n == 10
        assert [p["score"].n for p in r.own_points("7204")] == [7] and r.score("7204").n == 8
    finally:
        storage.close()


@pytest.mark.sqlite_only
def test_a_step_8_database_gains_sites_and_its_rollups_are_rebuilt_by_site(tmp_path):
    """Schema steps 9 and 10 on a database with answers and old rollups in place: the answers get
    their unit's first site, the rollups are emptied and rebuilt by site."""
    import sqlite3

    from sync_server.storage import open_storage
    from sync_server.storage.migrations import MIGRATIONS, statements

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    for step in MIGRATIONS[:8]:
        for statement in statements(step, "sqlite"):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 8")
    for code, name, level, parent in (("24", "Tỉnh Bắc Giang", "province", None), ("213", "Thành phố Bắc Giang", "district", "24"),
                                      ("7201", "Phường Thọ Xương", "commune", "213")):
        conn.execute("INSERT INTO units (code, name, level, parent_code, valid_from) VALUES (?, ?, ?, ?, '2023-01-01')",
                     (code, name, level, parent))
        conn.execute("INSERT INTO unit_versions (code, valid_from, name, level, parent_code) VALUES (?, '2023-01-01', ?, ?, ?)",
                     (code, name, level, parent))
    when = datetime(2023, 6, 27, 9, 0, tzinfo=fx.TZ)
    for i, (unit, level) in enumerate((("7201", 5), ("7201", 2), ("213", 4))):
        ms = int(when.timestamp() * 1000) + i
        conn.execute("INSERT INTO responses (id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
                     "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect, placed_ms) "
                     "VALUES (?, ?, NULL, ?, ?, NULL, 'bg-friendly-gov', 1, 'kiosk', ?, ?, ?, ?, '[]', 0, ?)",
                     (f"id-{i}", f"h{i}", when.isoformat(), unit, i + 1, when.isoformat(), ms, f'{{"overall":{level}}}', ms))
    # What the old fold left: rollups without a site, and a watermark saying "all folded".
    conn.execute("INSERT INTO rollup_day VALUES (19535, '7201', 'kiosk', 'bg-friendly-gov', 1, '', 'ok', 2, 0, 0, 0, 0, 0)")
    conn.execute("INSERT INTO rollup_state (name, last_seq, offset_ms) VALUES ('answers', 3, 25200000)")
    conn.close()
    storage = open_storage(path)
    try:
        assert storage._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        sites = {s["unit_code"]: s["id"] for s in storage.sites()}
        stored = [tuple(r) for r in storage._conn().execute("SELECT unit_code, site_id FROM responses ORDER BY server_seq")]
        assert stored == [("7201", sites["7201"]), ("7201", sites["7201"]), ("213", sites["213"])]
        assert storage._conn().execute("SELECT COUNT(*) FROM rollup_day").fetchone()[0] == 0
        assert rollups.behind(storage, OFFSET_MS) == 3
        assert _rollup_by_site(storage, "rollup_day") == ({}, {})
        rollups.refresh(storage, OFFSET_MS)
        assert _rollup_by_site(storage, "rollup_day") == _by_site_from_responses(storage)
        from sync_server import settings as server_settings
        from sync_server.app import AppState
        state = AppState(server_settings.load(db=str(path), report_min_answers=1), storage)
        r = Report.build(state, None, resolve_window(storage, state.settings, None, "2023-06-01", "2023-06-30"), Filters())
        assert [p["score"].n for p in r.own_points("213")] == [1] and r.score("213").n == 3
        assert [p["score"].n for p in r.own_points("7201")] == [2]
    finally:
        storage.close()
