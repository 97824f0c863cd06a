"""Issue 15 (7), comparable indices: recognition and rankings do not depend on a kiosk's ``ask_criteria``.

Two communes of district 213 give the same headline (overall) answers; Thọ Xương's kiosk has
``ask_criteria`` on, so its citizens also answered the criteria questions (all low), Trần Nguyên Hãn's
has it off (the headline only). Their comparable index, recognition verdict and rank basis are equal;
their criteria index differs; the per-question table gives each criteria question's n only where it was
asked. Real database, real app, answers uploaded through the kiosk API; expected figures computed here
from the questionnaire's JSON, not from the scoring code."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hailong_core.questionnaire import parse_questionnaire
from hailong_core.timeutil import now_local
from kiosk.flow import CitizenFlow
from sync_server.results.model import Filters
from sync_server.results.report import Report, resolve_window
from tests.results_world import enrol, sheet, upload, wilson_low
from tests.server_web import add_users, login, make_app

ON, OFF = "7201", "7204"  # kiosk with ask_criteria on / off; both communes of district 213
HEADLINE = [5, 5, 4, 4, 4, 5, 3, 4, 5, 2, 4, 5]
CRITERIA = ("responsibility", "skills", "guidance", "procedure", "environment")
QUESTIONNAIRE = json.loads((Path(__file__).parents[1] / "assets/questionnaires/default.json").read_text(encoding="utf-8"))
SCORES = {lv["value"]: lv["score"] for lv in QUESTIONNAIRE["questions"][0]["levels"]}
SATISFIED = {lv["value"] for lv in QUESTIONNAIRE["questions"][0]["levels"] if lv["satisfied"]}


def kiosk_answers(ask_criteria: bool) -> list[tuple[dict, list]]:
    """The answers the kiosk's own flow records for :data:`HEADLINE` (kiosk.flow: what ``ask_criteria`` asks):
    every criteria question it asks answered at level 1, the "why" follow-up skipped."""
    questionnaire = parse_questionnaire(QUESTIONNAIRE)
    out = []
    for value in HEADLINE:
        flow = CitizenFlow(questionnaire, value, ask_criteria=ask_criteria)
        while not flow.finished:
            flow.answer(1) if flow.current.kind == "scale" else flow.skip()
        out.append((flow.answers, []))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, storage = make_app(tmp_path_factory.mktemp("comparable"), report_min_answers=5, recognition_min_index=80.0,
                            recognition_min_answers=10)
    add_users(storage)
    on, off = kiosk_answers(True), kiosk_answers(False)
    assert all(set(a) == {"overall", *CRITERIA} for a, _ in on) and all(set(a) == {"overall"} for a, _ in off)
    upload(app, enrol(app, storage, ON), ON, on)
    upload(app, enrol(app, storage, OFF), OFF, off)
    today = now_local().date()
    campaign = storage.add_campaign("Đợt so sánh", (today - timedelta(days=1)).isoformat(), today.isoformat(),
                                    "bg-friendly-gov", 1, ["24"], datetime.now(timezone.utc))
    state = app.state.hailong
    report = Report.build(state, None, resolve_window(storage, state.settings, campaign), Filters())
    yield app, storage, report, storage.campaign(campaign)
    storage.close()


def test_the_headline_basis_is_the_same_whatever_the_kiosk_asks(world):
    _, _, report, campaign = world
    expected = sum(SCORES[v] for v in HEADLINE) / len(HEADLINE)
    assert expected == pytest.approx(950 / 12)  # 79,17
    on, off = report.score(ON), report.score(OFF)
    assert on.comparable_index == pytest.approx(expected) and off.comparable_index == pytest.approx(expected)
    # The criteria index is not comparable: Thọ Xương's low criteria pull it down, Trần Nguyên Hãn's has none.
    assert off.index == pytest.approx(expected)
    officials = ((expected + 0 + 0) / 3)  # friendly officials: overall, responsibility, skills (the two at level 1 = 0)
    assert on.index == pytest.approx((officials + 0 + 0) / 3)  # with friendly activities 0, environment 0
    assert on.index < 10


def test_recognition_and_rank_basis_are_equal(world):
    _, _, report, campaign = world
    rows = {r["code"]: r for r in report.recognition(campaign)}
    assert rows[ON]["status"] == rows[OFF]["status"] == "low_index"  # 79,2 < 80 on both: the same verdict
    assert rows[ON]["score"].comparable_index == rows[OFF]["score"].comparable_index
    assert rows[ON]["reason"].vi == rows[OFF]["reason"].vi == "Chỉ số 79,2 dưới ngưỡng 80"
    ranked = {r["code"]: r for r in report.ranked(report.level_rows("commune", "213"))}
    k = sum(v in SATISFIED for v in HEADLINE)
    assert ranked[ON]["score"].low == pytest.approx(wilson_low(k, len(HEADLINE))) == ranked[OFF]["score"].low
    assert ranked[ON]["rank"] == ranked[OFF]["rank"] == 1  # a tie: one basis, one rank


def test_recognition_passes_alike_with_a_lower_threshold(tmp_path):
    """The verdict moves with the comparable index only: at 75 both pass, though Thọ Xương's criteria
    index is far under 75."""
    app, storage = make_app(tmp_path, recognition_min_index=75.0, recognition_min_answers=10)
    try:
        upload(app, enrol(app, storage, ON), ON, kiosk_answers(True))
        upload(app, enrol(app, storage, OFF), OFF, kiosk_answers(False))
        today = now_local().date()
        cid = storage.add_campaign("Đợt", (today - timedelta(days=1)).isoformat(), today.isoformat(), "bg-friendly-gov", 1,
                                   ["24"], datetime.now(timezone.utc))
        state = app.state.hailong
        report = Report.build(state, None, resolve_window(storage, state.settings, cid), Filters())
        rows = {r["code"]: r for r in report.recognition(storage.campaign(cid))}
        assert rows[ON]["status"] == rows[OFF]["status"] == "passed"
        assert rows[ON]["score"].index < 75  # the old basis would have failed it
    finally:
        storage.close()


def test_per_question_n_only_where_asked(world):
    _, _, report, _ = world
    district = {q["id"]: q for q in report.question_coverage("213")}
    assert list(district)[0] == "overall" and district["overall"]["headline"]
    assert (district["overall"]["answers"], district["overall"]["points"], district["overall"]["of"]) == (24, 2, 2)
    assert district["overall"]["comparable"]
    for c in CRITERIA:
        assert (district[c]["answers"], district[c]["points"], district[c]["of"], district[c]["comparable"]) == (12, 1, 2, False)
    assert {q["id"] for q in report.question_coverage(OFF)} == {"overall"}  # no criteria row where none was asked
    on = {q["id"]: q for q in report.question_coverage(ON)}
    assert set(on) == {"overall", *CRITERIA} and all(q["comparable"] and q["of"] == 1 for q in on.values())


def test_the_page_and_the_xlsx_show_the_basis(world):
    app, _, _, campaign = world
    client = login(app, "district-viewer")[0]  # district 213
    page = client.get(f"/results/recognition?campaign={campaign['id']}")
    assert page.status_code == 200
    assert 'id="comparable-basis"' in page.text and "Chỉ số so sánh được" in page.text
    coverage = page.text[page.text.index('id="coverage"'):]
    assert "2/2 điểm" in coverage and "1/2 điểm" in coverage and "chỉ hỏi ở một số điểm" in coverage
    book = client.get(f"/results/export.xlsx?campaign={campaign['id']}").content
    rows = {r["Câu hỏi"]: r for r in sheet(book, "Theo câu hỏi")}
    headline = next(r for k, r in rows.items() if k.endswith("(câu hỏi chung)"))
    assert (headline["Số phiếu trả lời"], headline["Số điểm có hỏi"], headline["Trên số điểm có phiếu"]) == (24, 2, 2)
    others = [r for k, r in rows.items() if not k.endswith("(câu hỏi chung)")]
    assert len(others) == 5 and all((r["Số phiếu trả lời"], r["Số điểm có hỏi"]) == (12, 1) for r in others)
    ws = load_workbook(io.BytesIO(book))["Công nhận"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any(c.startswith("Chỉ số so sánh được: trung bình điểm") for c in cells)
    header = next(row for row in ws.iter_rows(values_only=True) if row[0] == "STT")
    col = header.index("Chỉ số so sánh được (0–100)")
    values = {row[1]: row[col] for row in ws.iter_rows(values_only=True) if row[1] in (ON, OFF)}
    assert values[ON] == values[OFF] == round(sum(SCORES[v] for v in HEADLINE) / len(HEADLINE), 1)
