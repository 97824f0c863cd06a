"""Issue 12, "what the citizen meant": the headline counts when it was given (contract 11).

Answers go in the ways citizens give them: kiosk records through the real upload API (a red face
and a walk-away is ``{"overall": 1}`` with flag ``incomplete``), phone answers through the real
phone form (``/s/{code}``). Then every place a figure shows is checked against hand counts:

7201 kiosk: 5 5 4, a red face + walk-away (1, ``incomplete``), a red face with "waited long" (1),
an orange face whose chips were skipped (2), and a ``cooldown`` press (1, misuse: left out).
7201 phone: 2 with no reason, 1 with "impolite" and "waited long", 5, 3.
7204 kiosk: 5 4 4 3 3 3.

So 7201 counts 10 answers (6 kiosk + 4 phone), 4 satisfied (5 5 4 and the phone 5), index
(100+100+75+0+0+25 + 25+0+100+50) / 10 = 47.5; "không nêu lý do" = 3 (kiosk: the walk-away and
the skipped chips; phone: the 2). 7204: 3 of 6 satisfied. Wilson lower bounds: 7204's 3/6 = 0.188
ranks above 7201's 4/10 = 0.168; had the walk-away been left out, 7201's 4/9 = 0.189 would lead.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hailong_core.timeutil import now_local
from sync_server import cli
from sync_server.results import rollups
from sync_server.results.fold import Fold
from sync_server.results.model import Filters
from sync_server.results.report import Report, alerts, resolve_window
from tests import results_fixture as fx
from sync_server.web.i18n import COOKIE
from tests.results_world import enrol, phone, sheet, upload, wilson_low
from tests.server_web import add_users, login, make_app

FOLLOWUPS_LEFT = "Phiếu bỏ dở phần hỏi thêm (vẫn tính câu đã trả lời)"
SCORE = {1: 0, 2: 25, 3: 50, 4: 75, 5: 100}










@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("headline")
    app, storage = make_app(tmp, report_min_answers=3)
    add_users(storage)
    storage.add_officer("cb-h", "7201", "Lê Thị Hoa", None, None, None, now_local())
    upload(app, enrol(app, storage, "7201"), "7201", [
        ({"overall": 5}, []), ({"overall": 5}, []), ({"overall": 4}, []),
        ({"overall": 1}, ["incomplete"]),               # red face, then walked away from the why chips
        ({"overall": 1, "why": ["waited_long"]}, []),
        ({"overall": 2}, []),                            # orange face, chips skipped ("Bỏ qua")
        ({"overall": 1}, ["cooldown"]),                  # misuse: left out by default
    ], 1, officer_id="cb-h")
    phone(app, "7201", "198.51.100.1", q_overall="2")
    phone(app, "7201", "198.51.100.2", q_overall="1", q_why=["impolite", "waited_long"])
    phone(app, "7201", "198.51.100.3", q_overall="5")
    phone(app, "7201", "198.51.100.4", q_overall="3")
    upload(app, enrol(app, storage, "7204"), "7204", [({"overall": lv}, []) for lv in (5, 4, 4, 3, 3, 3)], 1)
    today = now_local().date()
    query = f"from={(today - timedelta(days=1)):%d/%m/%Y}&to={today:%d/%m/%Y}"
    yield app, storage, login(app, "province-admin")[0], query, tmp
    storage.close()


def _report(app, query: str, **filters) -> Report:
    state = app.state.hailong
    q = dict(p.split("=") for p in query.split("&"))
    return Report.build(state, None, resolve_window(state.storage, state.settings, None, q["from"], q["to"]), Filters(**filters))


def test_stored_as_the_kiosk_and_the_phone_send_them(world):
    _, storage, _, _, _ = world
    rows = storage._conn().execute("SELECT unit_code, channel, answers, flags FROM responses WHERE unit_code = '7201' "
                                   "ORDER BY server_seq").fetchall()
    assert [(r[1], r[2], r[3]) for r in rows if "incomplete" in r[3]] == [("kiosk", '{"overall":1}', '["incomplete"]')]
    assert sum(r[1] == "qr" and r[3] == "[]" for r in rows) == 4  # four phones, none flagged


def test_a_walk_away_counts_in_the_headline_share_index_and_n(world):
    app, _, _, query, _ = world
    s = _report(app, query).score("7201")
    levels = [5, 5, 4, 1, 1, 2] + [2, 1, 5, 3]
    assert s.n == len(levels) == 10 and s.satisfied == 4 and s.responses == 10
    assert s.headline_share == pytest.approx(4 / 10)
    assert s.index == pytest.approx(sum(SCORE[v] for v in levels) / 10) == pytest.approx(47.5)
    assert s.low == pytest.approx(wilson_low(4, 10))
    assert s.followups_left == 1 and s.left_out == {"misuse": 1}
    # By channel: the walk-away is a kiosk answer.
    channels = _report(app, query).channels("7201")
    assert (channels["kiosk"].n, channels["qr"].n) == (6, 4)
    assert _report(app, query, channel="kiosk").score("7201").n == 6


def test_a_walk_away_counts_in_rankings_officers_heatmap_alerts_and_the_page(world):
    app, _, client, query, _ = world
    r = _report(app, query)
    rows = {row["code"]: row for row in r.ranked(r.level_rows("commune", "213"))}
    assert wilson_low(4, 10) < wilson_low(3, 6) < wilson_low(4, 9)  # counting the walk-away changes the order
    assert rows["7204"]["rank"] == 1 and rows["7201"]["rank"] == 2
    assert rows["7201"]["score"].low == pytest.approx(wilson_low(4, 10))
    [officer] = [o for o in r.officers("7201") if o["code"] == "cb-h"]
    assert officer["score"].n == 6 and officer["score"].satisfied == 3  # the kiosk answers she served, the walk-away one of them
    assert sum(c.n for c in r.heatmap("7201")["cells"].values()) == 10
    found = {(a["kind"], a["id"]): a for a in alerts(app.state.hailong, None)}
    assert (found[("unit", "7201")]["n"], found[("unit", "7201")]["unsatisfied"]) == (10, 6)  # 1 1 2 kiosk, 2 1 3 phone
    page = client.get(f"/results/units/7201?{query}")
    assert page.status_code == 200
    assert "<b>10</b>" in page.text and "<b>47,5</b>" in page.text and "40,0 %" in page.text
    assert "Phiếu bỏ dở phần hỏi thêm" in page.text and "vẫn tính câu đã trả lời" in page.text
    assert "Tính cả phiếu chưa hoàn thành" not in page.text  # no choice left to make
    officer_page = client.get(f"/results/officers/cb-h?{query}")
    assert officer_page.status_code == 200 and "<b>6</b>" in officer_page.text




def test_a_walk_away_counts_in_the_exports(world):
    _, _, client, query, _ = world
    book = client.get(f"/results/export.xlsx?{query}")
    assert book.status_code == 200
    communes = {r["Mã"]: r for r in sheet(book.content, "Cấp xã")}
    a = communes["7201"]
    assert (a["Số phiếu tính"], a["Hài lòng"], a["Xếp hạng"]) == (10, 4, 2)
    assert a["Chỉ số hài lòng (0–100)"] == pytest.approx(47.5) and a["Tỷ lệ hài lòng"] == pytest.approx(0.4)
    assert a["Cận dưới Wilson 95%"] == pytest.approx(round(wilson_low(4, 10), 3))
    assert a[FOLLOWUPS_LEFT] == 1 and a["Phiếu bị loại (lạm dụng)"] == 1
    assert communes["7204"]["Xếp hạng"] == 1
    summary = {r[0]: r[1] for r in load_workbook(io.BytesIO(book.content))["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
    assert summary[FOLLOWUPS_LEFT] == 1 and "Tính cả phiếu chưa hoàn thành" not in summary
    text = client.get(f"/results/export.csv?{query}&unit=7201").text.lstrip("\ufeff")
    [row] = [r for r in csv.DictReader(io.StringIO(text), delimiter=";") if r["Mã"] == "7201" and r["Cấp"] == "Cấp xã"]
    assert (row["Số phiếu tính"], row["Hài lòng"], row[FOLLOWUPS_LEFT]) == ("10", "4", "1")


def _no_reason(reasons: list[dict]) -> tuple[int | None, dict]:
    [why] = [r for r in reasons if r["id"] == "why"]
    return why["no_reason"], {o["id"]: o["n"] for o in why["options"]}


def test_no_reason_given_on_both_channels_follows_the_channel_filter(world):
    app, _, client, query, _ = world
    # Both channels by the same rule: asked why (overall 1 or 2), chose nothing.
    assert _no_reason(_report(app, query).reasons("7201")) == (3, {"waited_long": 2, "impolite": 1})
    assert _no_reason(_report(app, query, channel="kiosk").reasons("7201")) == (2, {"waited_long": 1})
    assert _no_reason(_report(app, query, channel="qr").reasons("7201")) == (1, {"waited_long": 1, "impolite": 1})
    assert _report(app, query).reasons("7204") == []  # no low face: never asked why
    assert _no_reason(_report(app, query).reasons("213"))[0] == 3
    # The misuse press (a 1 without a reason) joins only on request.
    assert _no_reason(_report(app, query, include_misuse=True).reasons("7201"))[0] == 4
    page = client.get(f"/results/units/7201?{query}&channel=qr")
    assert page.status_code == 200
    reasons = page.text[page.text.index('<table class="reasons">'):]
    assert '<tr class="no-reason"><td><em>Không nêu lý do</em></td><td class="n">1</td></tr>' in reasons
    both = client.get(f"/results/units/7201?{query}").text
    assert '<em>Không nêu lý do</em></td><td class="n">3</td>' in both
    client.cookies.set(COOKIE, "en")
    try:
        english = client.get(f"/results/units/7201?{query}").text
    finally:
        client.cookies.delete(COOKIE)
    assert "<em>No reason given</em>" in english and "Answers with follow-ups left" in english
    for channel, expected in (("", 3), ("&channel=kiosk", 2), ("&channel=qr", 1)):
        book = client.get(f"/results/export.xlsx?{query}&unit=7201{channel}")
        rows = sheet(book.content, "Lý do")
        assert [r["Số phiếu"] for r in rows if r["Lý do"] == "Không nêu lý do"] == [expected], channel
    rows = sheet(client.get(f"/results/export.xlsx?{query}&unit=7201").content, "Lý do")
    assert {r["Mã lý do"]: r["Số phiếu"] for r in rows if r["Mã lý do"]} == {"waited_long": 2, "impolite": 1}


def test_include_incomplete_is_still_accepted_and_changes_nothing(world, capsys):
    app, storage, client, query, tmp = world
    plain = client.get(f"/results/units/7201?{query}")
    asked = client.get(f"/results/units/7201?{query}&include=incomplete")
    assert asked.status_code == 200 and "<b>10</b>" in asked.text and "<b>10</b>" in plain.text
    assert client.get(f"/results/export.xlsx?{query}&include=incomplete").status_code == 200
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    assert cli.main(["--db", db, "api-tokens", "add", "--name", "bi-headline", "--province"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    api = TestClient(app)
    pulled = {}
    for extra in ("", "&include=incomplete", "&include=incomplete&include=misuse"):
        resp = api.get(f"/api/v1/pull/aggregates?{query}{extra}", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        pulled[extra] = {u["code"]: u for u in resp.json()["units"]}["7201"]
    assert pulled[""]["answers"] == pulled["&include=incomplete"]["answers"] == 10
    assert pulled[""]["left_out"] == {"incomplete": 0, "misuse": 1} and pulled[""]["followups_left"] == 1
    assert pulled["&include=incomplete&include=misuse"]["answers"] == 11
    assert api.get(f"/api/v1/pull/aggregates?{query}&include=everything",
                   headers={"Authorization": f"Bearer {token}"}).status_code == 422  # unknown values stay refused
    today = now_local().date()
    out = tmp / "with-incomplete.csv"
    args = ["--db", db, "export", "--format", "csv", "--out", str(out), "--from", str(today - timedelta(days=1)), "--to", str(today)]
    assert cli.main(args + ["--include", "incomplete"]) == 0
    [row] = [r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff")), delimiter=";")
             if r["Mã"] == "7201" and r["Cấp"] == "Cấp xã"]
    assert row["Số phiếu tính"] == "10"


def test_misuse_is_still_left_out_by_default(world):
    app, _, client, query, _ = world
    default, with_misuse = _report(app, query).score("7201"), _report(app, query, include_misuse=True).score("7201")
    assert (default.n, default.left_out, default.flagged["misuse"]) == (10, {"misuse": 1}, 1)
    assert with_misuse.n == 11 and with_misuse.satisfied == 4 and with_misuse.left_out == {}
    assert "<b>11</b>" in client.get(f"/results/units/7201?{query}&include=misuse").text


def test_rollups_of_an_older_fold_are_rebuilt(tmp_path):
    """Rollups written before the follow-ups were counted by channel are emptied and rebuilt, no schema step."""
    app, storage = make_app(tmp_path, report_min_answers=3)
    try:
        fx.load(storage)
        state = app.state.hailong
        window = resolve_window(storage, state.settings, storage.campaigns()[0]["id"])
        assert _no_reason(Report.build(state, None, window, Filters()).reasons("7201"))[0] == 1
        # What the older fold left: no choice rows in rollup_day, and no version.
        storage._write(lambda c: c.execute("DELETE FROM rollup_day WHERE question LIKE 'why%'"))
        storage.set_config(rollups.FOLD_KEY, 1)
        assert rollups.behind(storage, 7 * 3_600_000) == storage.top_seq()
        done = rollups.refresh(storage, 7 * 3_600_000)
        assert done.folded == storage.response_count() and done.behind == 0
        assert storage.get_config(rollups.FOLD_KEY) == rollups.FOLD_VERSION
        assert _no_reason(Report.build(state, None, window, Filters()).reasons("7201")) == (1, {"waited_long": 1, "impolite": 1})
        assert rollups.refresh(storage, 7 * 3_600_000).folded == 0  # current now
    finally:
        storage.close()


def test_odd_stored_values_never_break_the_follow_up_count():
    """Contract 13: whatever a stored answer holds, the fold counts it or skips it, never raises."""
    kinds = {("q", 1): ({"overall": "scale", "why": "multi"}, "overall", {"why": ("overall", (1, 2), ("kiosk", "qr"))})}
    fold = Fold(7 * 3_600_000, kinds)
    for answers in ('{"overall": {"a": 1}}', '{"overall": [1, 3]}', '{"overall": 2, "why": []}', '{"overall": 1, "why": "x"}',
                    '{"overall": 2}', '{"overall": 5}'):
        fold.add("7201", None, "kiosk", "q", 1, 1_700_000_000_000, "2023-11-14T22:13:20+00:00", answers, "[]", 0)
    counts = {k[6]: v for k, v in fold.day.items()}  # (day, unit, site, channel, questionnaire, version, question, class)
    # Asked why and gave none: the list holding a 1, the empty choice, the plain 2; "x" is an answer given.
    assert counts["why"][:2] == [1, 3] and counts["why:x"][0] == 1
    assert counts["overall"][0] == 4  # the dict and the list are no level
