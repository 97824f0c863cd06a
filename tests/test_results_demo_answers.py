"""Issue 15, "The demo": the answers the demo makes up (flag ``demo``) count in no figure, whatever
the filters, and the page says how many there are. Real database, real app, the kiosk upload API."""

from __future__ import annotations

from sync_server.results.model import Filters
from sync_server.results.report import Report, resolve_window
from tests.results_world import enrol, upload
from tests.server_web import add_users, login, make_app


def test_demo_answers_count_nowhere_and_are_said(tmp_path):
    app, storage = make_app(tmp_path, report_min_answers=1)
    add_users(storage)
    token = enrol(app, storage, "7201")
    upload(app, token, "7201", [({"overall": 1}, ["demo"])] * 3 + [({"overall": 5}, []), ({"overall": 4}, [])])
    state = app.state.hailong
    window = resolve_window(storage, state.settings)
    for filters in (Filters(), Filters(include_misuse=True)):
        s = Report.build(state, None, window, filters, complete=True).score("7201")
        assert (s.n, s.satisfied, s.flagged.get("demo")) == (2, 2, 3)
    page = login(app, "province-admin")[0].get("/results/units/7201").text
    assert 'id="demo-answers"><b>3</b>Phiếu thử của bản chạy thử (demo)' in page
    storage.close()
