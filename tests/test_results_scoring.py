"""Results against hand-computed expectations: indices, Wilson bounds, ties, zero-answer units,
misuse left out (and counted on request), walk-away (``incomplete``) answers counted, the reasons
with "không nêu lý do", clock-suspect rows placed by receipt time,
a merged unit carrying its predecessors' answers, the pass/fail list, and the rollup staying exact
when more answers arrive."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from hailong_core.assets import load_json_asset
from sync_server import settings as server_settings
from sync_server.app import AppState
from sync_server.results import rollups
from sync_server.results.model import Filters
from sync_server.results.report import Report, resolve_window
from sync_server.storage import open_storage
from sync_server.storage.migrations import MIGRATIONS
from sync_server.unit_files import load_release_json
from tests import results_fixture as fx
from tests.support import server_db_location

SCORE = {1: 0, 2: 25, 3: 50, 4: 75, 5: 100}  # the default questionnaire's levels, written out here
SATISFIED = {4, 5}


def wilson_low(k: int, n: int) -> float:
    """The textbook formula, independent of hailong_core.scoring."""
    if n == 0:
        return 0.0
    z = 1.959963984540054
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def index(levels):
    return sum(SCORE[v] for v in levels) / len(levels)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = server_db_location(tmp_path_factory.mktemp("results"))
    storage = open_storage(db)
    fx.load(storage)
    settings = server_settings.load(db=str(db), report_min_answers=5, recognition_min_index=70.0, recognition_min_answers=6)
    state = AppState(settings, storage)
    yield state
    storage.close()


def report(state, **filters):
    campaign = state.storage.campaigns()[0]["id"]
    return Report.build(state, None, resolve_window(state.storage, state.settings, campaign), Filters(**filters))


@pytest.mark.sqlite_only
def test_migration_is_the_last_step(world):
    assert world.storage._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_commune_indices_and_flag_counts(world):
    r = report(world)
    a = r.score("7201")
    overall = [5, 5, 4, 4, 3, 1, 2]  # the 2 is the walk-away: its follow-ups were left, its face counts
    assert a.n == 7 and a.satisfied == 4 and a.responses == 7
    assert a.left_out == {"misuse": 2} and a.followups_left == 1
    assert a.questions["overall"].index == pytest.approx(index(overall))
    assert a.questions["responsibility"].index == pytest.approx(index([5, 3]))
    officials = (index(overall) + index([5, 3])) / 2  # one criterion answered: the unit's index is that criterion's
    assert a.index == pytest.approx(officials)
    assert a.share == pytest.approx((4 / 7 + 1 / 2) / 2)
    assert a.low == pytest.approx(wilson_low(4, 7))
    c = r.score("7246")
    assert c.n == 8 and c.satisfied == 8  # the after-hours answer counts; the clock-suspect one by receipt time
    assert c.index == pytest.approx((7 * 100 + 75) / 8)
    assert r.score("7207").n == 0 and r.score("7207").index is None


def test_flagged_answers_on_request(world):
    r = report(world, include_misuse=True)
    a = r.score("7201")
    levels = [5, 5, 4, 4, 3, 1, 1, 1, 2]
    assert a.n == 9 and a.left_out == {}
    assert a.questions["overall"].index == pytest.approx(index(levels))
    assert report(world).score("7201").n == 7  # the walk-away without asking; misuse only on request


def test_district_and_province_pool_answers(world):
    r = report(world)
    district = [5, 5, 4, 4, 3, 1, 2] + [5, 4, 4, 4, 2, 2, 1]
    d = r.score("213")
    assert d.n == 14 and d.satisfied == 8
    assert d.questions["overall"].index == pytest.approx(index(district))
    assert d.low == pytest.approx(wilson_low(8, 14))
    p = r.score("24")
    assert p.n == 22 and p.satisfied == 16


def test_ranking_ties_and_not_enough_answers(world):
    r = report(world)
    rows = r.ranked(r.level_rows("commune", "213") + r.level_rows("commune", "215"))
    by = {row["code"]: row for row in rows}
    assert by["7246"]["rank"] == 1
    assert by["7201"]["rank"] == by["7204"]["rank"] == 2  # 4 of 7 each (walk-aways included): the same Wilson bound
    assert wilson_low(4, 7) < wilson_low(8, 8)
    assert by["7207"]["rank"] is None and by["7207"]["enough"] is False
    assert [row["code"] for row in rows[:3]] == ["7246", "7201", "7204"]


def test_recognition_list(world):
    campaign = world.storage.campaigns()[0]
    r = report(world)
    rows = {row["code"]: row for row in r.recognition(campaign)}
    assert len(rows) == 209  # every commune of 2023 (the campaign covers the province)
    # 7201 would pass on its six complete answers (70.83); its walk-away 2 counts: (60.71 + 75) / 2 = 67.86 < 70.
    assert (index([5, 5, 4, 4, 3, 1]) + 75) / 2 == pytest.approx(70.83, abs=0.01)
    assert rows["7201"]["score"].index == pytest.approx((index([5, 5, 4, 4, 3, 1, 2]) + 75) / 2) == pytest.approx(67.86, abs=0.01)
    assert rows["7201"]["passes"] is False and rows["7201"]["score"].n == 7
    assert rows["7204"]["passes"] is False          # index 53.57
    assert index([5, 4, 4, 4, 2, 2, 1]) == pytest.approx(53.57, abs=0.01)
    assert rows["7246"]["passes"] is True           # 96.9 ≥ 70 and 8 ≥ 6
    assert rows["7207"]["passes"] is False          # no answers
    # Each says why (issue 15): not enough answers is no judgement; the list is by result, best first.
    assert (rows["7246"]["status"], rows["7204"]["status"], rows["7207"]["status"]) == ("passed", "low_index", "not_enough")
    assert rows["7204"]["reason"].vi == "Chỉ số 53,6 dưới ngưỡng 70" and rows["7207"]["reason"].vi == "0 phiếu, cần ít nhất 6"
    ordered = [row["status"] for row in r.recognition(campaign)]
    assert ordered == sorted(ordered, key=["passed", "low_index", "not_enough"].index) and ordered[0] == "passed"


def test_channels_reasons_and_officers(world):
    r = report(world)
    ch = r.channels("7246")
    assert ch["qr"].n == 2 and ch["kiosk"].n == 6
    [why] = r.reasons("7201")
    assert {o["id"]: o["n"] for o in why["options"]} == {"waited_long": 1, "impolite": 1}  # the cooldown press's reason is left out
    assert (why["answered"], why["no_reason"]) == (1, 1)  # the walk-away 2 was asked why and gave nothing
    assert r.reasons("7204")[0]["no_reason"] == 3 and r.reasons("7204")[0]["options"] == []  # 2 2 and the walk-away 1
    assert r.reasons("213")[0]["no_reason"] == 4
    with_misuse = report(world, include_misuse=True).reasons("7201")[0]
    assert {o["id"]: o["n"] for o in with_misuse["options"]} == {"waited_long": 2, "impolite": 1}
    assert with_misuse["no_reason"] == 2  # the burst 1 gave none either
    officers = {o["code"]: o for o in r.officers("213")}
    assert officers["cb-a"]["score"].n == 7 and officers["cb-a"]["rank"] == 1 and officers["cb-b"]["rank"] == 1


def test_rollup_catches_up_with_new_answers(world):
    r1 = report(world)
    before = r1.score("7204").n
    when = fx.DAY + timedelta(hours=3)
    world.storage.store_batch(None, [fx.prepared("7204", 5, {}, [], "kiosk", "cb-b", when, 77)], when.isoformat(), None)
    assert report(world).score("7204").n == before + 1
    assert rollups.refresh(world.storage, 7 * 3_600_000).folded == 0  # already current


def test_merged_unit_carries_its_predecessors_answers_in_the_history_view(tmp_path):
    """By default a merged unit's figures are its own; the history view adds its predecessors' (issue 13)."""
    db = server_db_location(tmp_path, "m.sqlite3")
    storage = open_storage(db)
    try:
        fx.load(storage)
        doc = load_json_asset("units", "bac_giang_2023.json")
        units = [u for u in doc["units"] if u["code"] not in ("7201", "7204")]
        units.append({"code": "7999", "name": "Phường Hợp Nhất", "level": "commune", "parent_code": "213",
                      "predecessors": ["7201", "7204"]})
        storage.import_unit_release(load_release_json(__import__("json").dumps({"valid_from": "2024-01-01", "units": units})))
        when = datetime(2024, 3, 5, 9, 0, tzinfo=fx.TZ)
        storage.store_batch(None, [fx.prepared("7999", 4, {}, [], "kiosk", None, when, 5)], when.isoformat(), None)
        settings = server_settings.load(db=str(db), report_min_answers=5)
        state = AppState(settings, storage)
        window = resolve_window(storage, settings, None, "2023-06-01", "2024-06-30")
        own = Report.build(state, None, window, Filters())
        assert (own.score("7999").n, own.score("7999").satisfied) == (1, 1)  # its own answer only
        assert own.score("213").n == 1  # and so its district: 7201's and 7204's answers belong to units that ended
        r = Report.build(state, None, window, Filters(history=True))
        merged = r.score("7999")
        # 7201's seven counted + its out-of-window-for-the-campaign July answer (inside this window) + 7204's seven + one new.
        assert merged.n == 7 + 1 + 7 + 1
        assert merged.satisfied == 4 + 0 + 4 + 1
        assert "7201" not in r.tree.units and r.score("213").n == merged.n
        assert [(p["code"], p["counted"], p["partial"]) for p in r.tree.predecessors("7999")] == [("7201", True, False),
                                                                                                  ("7204", True, False)]
    finally:
        storage.close()


def test_month_grain_and_day_grain_agree(world):
    """Whole months come from the month rollup, edges from the day rollup: the same counts either way."""
    for start, end in (("2023-06-01", "2023-07-31"), ("2023-06-15", "2023-07-01"), ("2023-05-31", "2023-07-01"), ("2023-06-27", "2023-06-27")):
        r = Report.build(world, None, resolve_window(world.storage, world.settings, None, start, end), Filters())
        expected = {"2023-06-27": 7}.get(start, 8)  # 7201: seven counted in June, one on 1 July
        assert r.score("7201").n == expected, (start, end)


def test_procedure_groups_hand_computed(world):
    """By procedure group: the named groups from their own rollup, the rest "not stated"."""
    r = report(world)
    groups = {g["code"]: g["score"] for g in r.procedure_groups("24")}
    assert list(groups)[-1] is None  # "not stated" comes last
    ho_tich, dat_dai = groups["ho_tich"], groups["dat_dai"]
    # 7201's 5 5 4 4 and 7246's two QR 5s; 7201's 3 1 (its cooldown press left out, and counted as misuse).
    assert (ho_tich.n, ho_tich.satisfied) == (6, 6) and ho_tich.index == pytest.approx(index([5, 5, 4, 4, 5, 5]))
    # Both also answered "responsibility" (5, 3): one criterion, the mean of its two questions.
    assert (dat_dai.n, dat_dai.satisfied) == (2, 0) and dat_dai.index == pytest.approx((index([3, 1]) + index([5, 3])) / 2)
    assert dat_dai.flagged["misuse"] == 1 and dat_dai.low == pytest.approx(wilson_low(0, 2))
    assert ho_tich.low == pytest.approx(wilson_low(6, 6))
    assert groups["chung_thuc"].n == 0 and groups["chung_thuc"].index is None
    # Everything else names no group; the groups add up to the province.
    assert sum(s.n for s in groups.values()) == r.score("24").n
    assert groups[None].n == r.score("24").n - 8
    canh_nau = {g["code"]: g["score"] for g in r.procedure_groups("7246")}
    assert canh_nau["ho_tich"].n == 2 and canh_nau[None].n == 6
    qr = {g["code"]: g["score"] for g in report(world, channel="qr").procedure_groups("24")}
    assert qr["ho_tich"].n == 2 and qr["dat_dai"].n == 0 and qr[None].n == 0
    with_misuse = {g["code"]: g["score"] for g in report(world, include_misuse=True).procedure_groups("7201")}
    assert with_misuse["dat_dai"].n == 3 and with_misuse[None].n == 2  # the burst press and the walk-away name no group


def test_heatmap_follows_the_channel_filter(world):
    def total(**filters):
        return sum(s.n for s in report(world, **filters).heatmap("215")["cells"].values())
    # District 215 holds 7246: two QR answers, six kiosk ones (the clock-suspect one by receipt time).
    assert (total(), total(channel="qr"), total(channel="kiosk")) == (8, 2, 6)


def _alert_world(tmp_path):
    db = server_db_location(tmp_path, "alerts.sqlite3")
    storage = open_storage(db)
    settings = server_settings.load(db=str(db), alert_window_min=15.0, alert_min_answers=4, alert_unsatisfied_share=0.5)
    return AppState(settings, storage)


def test_alerts_see_every_answer_in_the_window_however_many(tmp_path):
    """Alerts read every answer received in the window (no cap on rows), and only those placed in it."""
    state = _alert_world(tmp_path)
    storage = state.storage
    now = datetime(2026, 11, 27, 10, 0, tzinfo=fx.TZ)
    now_ms = int(now.timestamp() * 1000)
    seq = iter(range(1, 10**6))

    def put(unit, levels, created, received, flags=(), suspect=False, officer=None):
        items = [fx.prepared(unit, lv, {}, list(flags), "kiosk", officer, created + timedelta(milliseconds=i), next(seq), suspect=suspect)
                 for i, lv in enumerate(levels)]
        storage.store_batch(None, items, received.isoformat(), None)
    try:
        # Stored in the order received, as the server does.
        put("7207", [1] * 5, now - timedelta(hours=2), now - timedelta(hours=2))  # long ago
        put("7201", [1, 1, 2, 5], now - timedelta(minutes=10), now - timedelta(minutes=10), officer="cb-x")  # 3 of 4 unhappy
        for start in range(0, 25_000, 5_000):  # more than the old 20,000-row scan, all newer than 7201's
            put("7204", [5] * 5_000, now - timedelta(minutes=5), now - timedelta(minutes=5))
        put("7210", [1] * 6, now - timedelta(minutes=3), now - timedelta(minutes=3), flags=["burst"])  # misuse
        put("7246", [1] * 4, datetime(2020, 1, 1, tzinfo=fx.TZ), now - timedelta(minutes=2), suspect=True)  # wrong clock
        put("7208", [1] * 5, now - timedelta(hours=2), now - timedelta(minutes=1))  # old answers carried in late (USB)
        from sync_server.results.report import alerts
        found = {(a["kind"], a["id"]): a for a in alerts(state, None, now_ms=now_ms)}
        assert set(found) == {("unit", "7201"), ("officer", "cb-x"), ("unit", "7246")}
        assert (found[("unit", "7201")]["n"], found[("unit", "7201")]["unsatisfied"]) == (4, 3)
        assert alerts(state, {"7204", "7246"}, now_ms=now_ms) == [found[("unit", "7246")]]  # scope
        # The bisection finds the first row received since a moment, as a scan would.
        conn = storage._conn()
        rows = [(s, r) for s, r in conn.execute("SELECT server_seq, received_at FROM responses ORDER BY server_seq")]
        from sync_server.days import utc_ms as _received_ms
        for minutes in (0, 1, 2, 4, 5, 6, 11, 200):
            since = now_ms - minutes * 60_000
            expected = next((s for s, r in rows if _received_ms(r) >= since), None)
            got = storage._first_received_since(conn, since)
            assert (got is None) == (expected is None), minutes
            if expected is not None:
                assert min(s for s, _ in rows if s >= got) == expected, minutes
    finally:
        storage.close()


@pytest.mark.sqlite_only
def test_a_step_5_database_upgrades_and_its_rollups_are_rebuilt(tmp_path):
    """A server database from before procedure groups: its answers stay, name no group, and the
    rebuilt rollups (heatmap now by channel) count them."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for step in MIGRATIONS[:5]:
        for statement in step:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    when = datetime(2023, 6, 27, 9, 0, tzinfo=fx.TZ)
    for i, (level, channel) in enumerate(((5, "kiosk"), (2, "qr"))):
        conn.execute("INSERT INTO responses (id, content_hash, device_id, received_at, unit_code, officer_id, questionnaire_id, "
                     "questionnaire_version, channel, seq, created_at, created_ms, answers, flags, clock_suspect) "
                     "VALUES (?, ?, NULL, ?, '7201', NULL, 'bg-friendly-gov', 1, ?, ?, ?, ?, ?, '[]', 0)",
                     (f"id-{i}", f"h{i}", when.isoformat(), channel, i + 1, when.isoformat(), int(when.timestamp() * 1000),
                      f'{{"overall":{level}}}'))
    conn.execute("INSERT INTO rollup_state (name, last_seq, offset_ms) VALUES ('answers', 2, 25200000)")  # "already folded"
    conn.close()
    storage = open_storage(path)
    try:
        assert storage._conn().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [r[0] for r in storage._conn().execute("SELECT procedure_group FROM responses")] == [None, None]
        settings = server_settings.load(db=str(path), report_min_answers=1)
        state = AppState(settings, storage)
        r = Report.build(state, None, resolve_window(storage, settings, None, "2023-06-01", "2023-06-30"), Filters(channel="qr"))
        assert r.score("7201").n == 2 - 1  # the channel filter on unit scores: the QR answer only
        assert sum(s.n for s in r.heatmap("7201")["cells"].values()) == 1
        assert {g["code"]: g["score"].n for g in r.procedure_groups("7201")}[None] == 1
    finally:
        storage.close()
