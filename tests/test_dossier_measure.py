"""Issue 14: the official measure, QĐ 766 item 5.4, over a generated 10,000-row register and its
ratings (kiosk uploads through the real API, phone answers down the phone form's path, repeats and
misuse presses among them), worked out by hand in ``tests/dossier_world.py`` and compared with what
``hailong-server official --json`` (a real process) prints per unit. Then the decisions: a late
dossier not yet returned counts where it fell due and moves when returned; nothing is measured
before 1 July 2025; ratings without a dossier and codes not in the register are shown apart; the
measure holds counts only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from hailong_core.questionnaire import parse_questionnaire
from sync_server.days import local_today
from sync_server.dossiers import import_register
from sync_server.ingest import ingest
from sync_server.results.official import KEYS, MEASURED_FROM, OfficialError, as_json, measure
from tests.dossier_world import GOOD_UNIT, UNITS, generate, hand_measure, register_csv, send_ratings, window_for
from tests.records import make_record
from tests.results_world import enrol
from tests.server_web import make_app
from tests.support import ROOT, server_cli

N = 10_000
PLAIN = {"7201": (7, 3), "7204": (2, 0)}  # ratings without a dossier code sent today: (kiosk, phone)
NOT_IN_REGISTER = {"7201": 5}             # ratings today whose code the register does not hold


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("measure")
    app, storage = make_app(tmp)
    settings = app.state.hailong.settings
    today = local_today(settings)
    dossiers = generate(N, today)
    path = tmp / "register.csv"
    path.write_bytes(register_csv(dossiers))
    done = server_cli(settings.db, "import-dossiers", str(path))
    assert done.stdout.strip().endswith(f"added {N}, updated 0, unchanged 0"), done.stdout
    tokens = {u: enrol(app, storage, u) for u in UNITS}
    sent = send_ratings(app, storage, tokens, dossiers)
    assert sent > N // 2
    questionnaires = {k: parse_questionnaire(v) for k, v in storage.questionnaires().items()}
    client = TestClient(app)
    for unit, (kiosk, phone) in PLAIN.items():
        extra = [make_record(100_000 + i, unit, {"overall": 4}) for i in range(kiosk)]
        extra += [make_record(100_000 + kiosk + i, unit, {"overall": 2}, dossier_code=f"NOT-HERE-{unit}-{i}")
                  for i in range(NOT_IN_REGISTER.get(unit, 0))]
        assert client.post("/api/v1/kiosk/responses", json={"responses": extra},
                           headers={"Authorization": f"Bearer {tokens[unit]}"}).status_code == 200
        phones = [make_record(500 + i, unit, {"overall": 5}, channel="qr") for i in range(phone)]
        if phones:
            ingest(storage, None, {"responses": phones}, max_items=100, skew_s=300, questionnaires=questionnaires, unit_code=unit)
    yield app, storage, settings, dossiers, today
    storage.close()


def _official(db, *args: str) -> dict:
    return json.loads(server_cli(db, "official", "--json", *args).stdout)


def test_the_766_ratio_per_unit_equals_a_hand_computation(world):
    app, storage, settings, dossiers, today = world
    start, end = window_for(today)
    hand = hand_measure(dossiers, start, end, today)
    got = _official(settings.db, "--from", start.isoformat(), "--to", end.isoformat())
    assert (got["from"], got["to"], got["measured_from"], got["unit"]) == (start.isoformat(), end.isoformat(), start.isoformat(), None)
    assert got["points_max"] == 6.0 and got["full_points_ratio"] == 90.0 and got["points_max_verified"] is False
    by_code = {u["code"]: u for u in got["units"]}
    assert set(UNITS) <= set(by_code) and len(by_code) == len(storage.units_as_of(end.isoformat()))
    for code, h in hand.items():
        u = by_code[code]
        assert list(u)[4:4 + len(KEYS)] == list(KEYS)  # the fixed interface, in order, after code/name/level/parent
        assert {k: u[k] for k in ("dossiers", "late", "rated", "dislikes", "complaints")} == \
            {k: h[k] for k in ("dossiers", "late", "rated", "dislikes", "complaints")}, code
        assert u["disliked_or_complained"] == h["bad"]
        assert u["ratio"] == round(h["ratio"], 1) and u["points"] == round(h["points"], 2), code
        assert u["rated_share"] == round(100 * h["rated"] / h["dossiers"], 1)
    assert by_code[GOOD_UNIT]["ratio"] >= 90 and by_code[GOOD_UNIT]["points"] == 6.0  # full points at ≥ 90 %
    assert all(by_code[c]["points"] < 6.0 for c in hand if c != GOOD_UNIT)
    untouched = [u for c, u in by_code.items() if c not in hand]
    assert untouched and all(u["dossiers"] == 0 and u["ratio"] is None and u["points"] is None for u in untouched)
    pooled = {k: sum(h[k] for h in hand.values()) for k in ("dossiers", "late", "rated", "dislikes", "complaints", "bad")}
    ratio = 100 * (pooled["dossiers"] - pooled["late"] - pooled["bad"]) / pooled["dossiers"]
    assert {k: got["total"][k] for k in ("dossiers", "late", "rated", "dislikes", "complaints")} == \
        {k: pooled[k] for k in ("dossiers", "late", "rated", "dislikes", "complaints")}
    assert got["total"]["ratio"] == round(ratio, 1)
    # The breakdowns add up to the unit: by field, by month, and the reconciliation by counter.
    u = by_code["7201"]
    for part in ("by_field", "by_month", "reconciliation"):
        assert sum(row["dossiers"] for row in u[part]) == u["dossiers"] and sum(row["rated"] for row in u[part]) == u["rated"]
    assert {row["counter"] for row in u["reconciliation"]} == {"1", "2", "3"}
    assert sum(row["rated"] for row in u["rated_at"]) == u["rated"]
    assert {row["channel"] for row in u["rated_at"]} == {"kiosk", "qr"}


def test_unit_selects_its_subtree_in_the_structure_in_force(world):
    app, storage, settings, dossiers, today = world
    start, end = window_for(today)
    subtree = storage.subtree_codes("213")
    got = _official(settings.db, "--unit", "213", "--from", start.isoformat(), "--to", end.isoformat())
    hand = hand_measure(dossiers, start, end, today, units=subtree)
    assert {u["code"] for u in got["units"]} == {u["code"] for u in storage.units_as_of(end.isoformat())} & subtree
    assert set(hand) == {"213", "7201", "7204", "7207"} & subtree
    for u in got["units"]:
        if u["code"] in hand:
            assert u["ratio"] == round(hand[u["code"]]["ratio"], 1)
    assert got["total"]["dossiers"] == sum(h["dossiers"] for h in hand.values())
    bad = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(settings.db), "official", "--json", "--unit", "9999",
                          "--from", start.isoformat(), "--to", end.isoformat()], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "9999" in bad.stderr


def test_ratings_without_a_dossier_and_codes_not_in_the_register_are_shown_apart(world):
    app, storage, settings, dossiers, today = world
    got = _official(settings.db, "--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat())
    by_code = {u["code"]: u for u in got["units"]}
    for unit, (kiosk, phone) in PLAIN.items():
        assert by_code[unit]["ratings_without_dossier"] == {"kiosk": kiosk, "qr": phone}, unit
    assert by_code["7201"]["rated_not_in_register"] == 5 and by_code["7204"]["rated_not_in_register"] == 0
    assert by_code["7246"]["ratings_without_dossier"] == {"kiosk": 0, "qr": 0}
    assert got["total"]["ratings_without_dossier"] == {"kiosk": 9, "qr": 3} and got["total"]["rated_not_in_register"] == 5
    # The dossiers of those ratings were returned a month ago or more: none is in this window.
    assert got["total"]["dossiers"] == 0 and got["total"]["ratio"] is None


def test_the_measure_holds_counts_only(world):
    app, storage, settings, dossiers, today = world
    start, end = window_for(today)
    text = json.dumps(as_json(measure(storage, settings, start, end, today=today)), ensure_ascii=False)
    assert not any(d.code in text or d.code.lower() in text for d in dossiers[:500])
    assert "NOT-HERE" not in text and "officer" not in text
    rows = storage.dossier_measure_rows(start.isoformat(), end.isoformat(), start.isoformat(), end.isoformat())
    assert rows and all("code" not in r and "officer_id" not in r for r in rows)


# --- the decisions, on a small register ------------------------------------------------------------

CSV = """ma_ho_so,unit_code,linh_vuc,thu_tuc,ngay_tiep_nhan,ngay_hen_tra,ngay_tra,trang_thai,kenh
OLD-1,7201,Hộ tịch,Khai sinh,10/06/2025,20/06/2025,20/06/2025,Đã trả,Trực tiếp
OLD-2,7201,Hộ tịch,Khai sinh,25/06/2025,30/06/2025,02/07/2025,Đã trả,Trực tiếp
NEW-1,7201,Hộ tịch,Khai sinh,01/07/2025,05/07/2025,04/07/2025,Đã trả,Trực tiếp
OPEN-1,7201,Đất đai,Cấp GCN,01/07/2025,10/07/2025,,Đang xử lý,Trực tiếp
"""


@pytest.fixture
def small(tmp_path):
    app, storage = make_app(tmp_path)
    settings = app.state.hailong.settings
    result = import_register(storage, settings, CSV.encode(), "thang7.csv", via="test")
    assert result.stored and result.added == 4
    yield storage, settings
    storage.close()


def test_nothing_is_measured_before_1_july_2025(small):
    storage, settings = small
    before = measure(storage, settings, date(2025, 6, 1), date(2025, 6, 30), today=date(2025, 8, 1))
    assert before.measured_from is None and "01/07/2025" in before.notes[0]
    assert all(u.figures.dossiers == 0 for u in before.units)
    across = measure(storage, settings, date(2025, 6, 15), date(2025, 7, 15), "7201", today=date(2025, 8, 1))
    assert across.measured_from == MEASURED_FROM == date(2025, 7, 1) and "01/07/2025" in across.notes[0]
    # OLD-1 (returned 20/06) is left out; OLD-2 (returned late on 02/07), NEW-1 and the overdue OPEN-1 count.
    f = across.total.figures
    assert (f.dossiers, f.late, f.late_open) == (3, 2, 1)
    db = settings.db
    done = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), "official", "--json", "--from", "2025-06-01",
                           "--to", "2025-06-30"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "01/07/2025" in done.stderr and not done.stdout


def test_a_late_dossier_not_yet_returned_counts_where_it_fell_due_and_moves_when_returned(small):
    storage, settings = small
    july = (date(2025, 7, 1), date(2025, 7, 31))
    # On 10 July OPEN-1 is due that very day: not late yet, and in no window.
    early = measure(storage, settings, *july, "7201", today=date(2025, 7, 10))
    assert (early.total.figures.dossiers, early.total.figures.late) == (2, 1)
    later = measure(storage, settings, *july, "7201", today=date(2025, 9, 1))
    assert (later.total.figures.dossiers, later.total.figures.late, later.total.figures.late_open) == (3, 2, 1)
    returned = CSV.replace("OPEN-1,7201,Đất đai,Cấp GCN,01/07/2025,10/07/2025,,Đang xử lý",
                           "OPEN-1,7201,Đất đai,Cấp GCN,01/07/2025,10/07/2025,12/08/2025 09:30,Đã trả")
    again = import_register(storage, settings, returned.encode(), "thang8.csv", via="test")
    assert (again.added, again.updated, again.unchanged) == (0, 1, 3)
    moved = measure(storage, settings, *july, "7201", today=date(2025, 9, 1))
    assert (moved.total.figures.dossiers, moved.total.figures.late) == (2, 1)
    august = measure(storage, settings, date(2025, 8, 1), date(2025, 8, 31), "7201", today=date(2025, 9, 1))
    assert (august.total.figures.dossiers, august.total.figures.late, august.total.figures.late_open) == (1, 1, 0)
    entry = next(e for e in storage.audit_log() if e["action"] == "dossier.update")
    assert entry["target"] == "OPEN-1" and entry["detail"]["changes"] == {
        "returned_on": [None, "2025-08-12T09:30:00"], "status": ["Đang xử lý", "Đã trả"]}


def test_points_follow_the_settings_and_an_unknown_unit_is_refused(small):
    storage, settings = small
    strict = settings.replace(official_points_max=10.0, official_full_points_ratio=95.0)
    m = measure(storage, strict, date(2025, 7, 1), date(2025, 7, 31), "7201", today=date(2025, 9, 1))
    f = m.total.figures
    assert f.ratio == pytest.approx(100 * (3 - 2) / 3)
    assert f.points(m.points_max, m.full_ratio) == pytest.approx(f.ratio * 10 / 95)
    assert as_json(m)["units"][0]["points"] == round(f.ratio * 10 / 95, 2)
    with pytest.raises(OfficialError):
        measure(storage, settings, date(2025, 7, 1), date(2025, 7, 31), "no-such-unit")
    with pytest.raises(OfficialError):
        measure(storage, settings, date(2025, 7, 31), date(2025, 7, 1))


def strip(value):
    """A measure document without what only a viewer's cut carries (and the rollups' lag)."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in ("rollups_behind", "min_cell", "suppressed")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def test_the_pull_api_gives_the_same_measure_within_the_tokens_scope(world, capsys):
    """``GET /api/v1/pull/official`` is ``official --json`` for the token's unit: the same figures."""
    from sync_server import cli as server_cli_module

    app, storage, settings, dossiers, today = world
    start, end = window_for(today)
    tokens = {}
    for name, where in (("tinh", ["--province"]), ("huyen", ["--scope-unit", "213"])):
        assert server_cli_module.main(["--db", str(settings.db), "api-tokens", "add", "--name", f"official-{name}", *where]) == 0
        tokens[name] = capsys.readouterr().out.strip().splitlines()[-1]
    api = TestClient(app)
    query = f"from={start.isoformat()}&to={end.isoformat()}"
    for name, args in (("tinh", []), ("huyen", ["--unit", "213"])):
        got = api.get(f"/api/v1/pull/official?{query}", headers={"Authorization": f"Bearer {tokens[name]}"})
        assert got.status_code == 200, got.text[:300]
        body, cli = got.json(), _official(settings.db, "--from", start.isoformat(), "--to", end.isoformat(), *args)
        # A token reads as an analyst at most: the minimum-count rule applies (here every figure rests on
        # enough ratings, so nothing is hidden); the CLI, an operator's, carries no such keys.
        assert body["min_cell"] == settings.official_min_cell and "min_cell" not in cli
        assert body["total"]["suppressed"] is False and {u["suppressed"] for u in body["units"]} == {False}
        assert "suppressed" not in cli["total"] and "suppressed" not in cli["units"][0]
        assert strip(body) == strip(cli), name
        assert list(body["units"][0])[4:11] == list(KEYS)
    assert api.get(f"/api/v1/pull/official?{query}").status_code == 401
    assert api.get("/api/v1/pull/official?from=2024-01-01&to=2023-01-01",
                   headers={"Authorization": f"Bearer {tokens['tinh']}"}).status_code == 422
