"""The fleet page's summary, filters and coverage (issue 15, item 8).

A seeded fleet on Bắc Giang's 2023 tree (the tests' seed: 220 points, the centre, 10 districts and 209
communes): kiosks active, silent, revoked, with a clock off, with a failed update. Coverage lists
exactly the open sites (of the units in force, not the province's own) without an active kiosk: a
revoked kiosk does not cover, a silent one does not either but is noted, a closed site is never
listed, a unit's second site counts on its own. The summary's counts match the seed; each filter
narrows the rows; a commune or district viewer sees only their scope, whatever the query asks.

The module name starts with ``test_server_`` so the PostgreSQL run (tests/conftest.py) takes it too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from sync_server import days, security
from tests.server_web import add_users, login, make_app

NOW = datetime.now(timezone.utc)


def _kiosk(storage, key: str, unit: str, site_id: int, *, version: str = "1.0.3", pending: int = 0, aside: int = 0,
           offset: float = 0.0, seen: timedelta = timedelta(minutes=1), name: str | None = None) -> str:
    """A kiosk enrolled at a site, with one heartbeat ``seen`` ago."""
    code = security.digest(f"CODE-{key}")
    storage.create_enroll_code(unit, code, NOW + timedelta(hours=1), name or f"Kiosk {key}", None, site_id=site_id)
    device = storage.redeem_enroll_code(code, NOW - timedelta(hours=6), f"dev-{key}", security.digest(f"tok-{key}"), None)
    storage.record_heartbeat(device.id, NOW - seen, {"pending": pending, "kept_aside": aside, "app_version": version,
                                                     "clock_offset_s": offset, "last_error": None})
    return device.id


@pytest.fixture
def fleet(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)  # the commune viewer is at 7201 (Phường Thọ Xương), the district viewer at 213
    today = days.local_today(app.state.hailong.settings).isoformat()
    first = {code: storage.first_site(code, today)["id"] for code in ("213", "7201", "7204", "7246", "7264", "24-HCC")}
    second = storage.add_site("7204", "Phường Trần Nguyên Hãn – cơ sở 2", NOW, address="Đường Lê Lợi")  # open, no kiosk
    gone = storage.add_site("7246", "Xã Canh Nậu – điểm cũ", NOW)
    storage.close_site(gone["id"], NOW)  # closed: never a point to cover
    ids = {
        "tx": _kiosk(storage, "tx", "7201", first["7201"], pending=2, aside=1, name="Quầy 1 – Thọ Xương"),
        "tnh": _kiosk(storage, "tnh", "7204", first["7204"], offset=900.0, name="Quầy Trần Nguyên Hãn"),
        "cn": _kiosk(storage, "cn", "7246", first["7246"], version="1.0.2", pending=40, seen=timedelta(hours=5), name="Quầy Canh Nậu"),
        "tt": _kiosk(storage, "tt", "7264", first["7264"], version="1.0.2", pending=7, name="Quầy Tiến Thắng"),
        "hcc": _kiosk(storage, "hcc", "24-HCC", first["24-HCC"], version="1.0.2", name="Sảnh A – Trung tâm HCC"),
        "tp": _kiosk(storage, "tp", "213", first["213"], pending=3, name="Một cửa thành phố"),
    }
    storage.revoke_device(ids["tt"], NOW)
    release = storage.add_release("1.0.4", "hailong-1.0.4-py3-none-any.whl", "0" * 64, b"wheel", None, NOW, None)
    storage.stage_release(release, [ids["hcc"]], NOW, None)
    assert storage.note_release_outcome(ids["hcc"], release, "failed", "sha256 mismatch", None, None, NOW)
    yield app, storage, ids, first, second, gone, today
    storage.close()


def _rows(page: str) -> set[str]:
    return set(re.findall(r'<tr id="kiosk-([^"]+)"', page))


def _uncovered(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr class="uncovered" data-site="(\d+)"', page)}


def _stat(page: str, key: str) -> str:
    match = re.search(rf'id="stat-{key}"[^>]*>(?:<a [^>]*>)?<b>([^<]+)</b>', page)
    assert match, f"no stat {key}"
    return match.group(1).strip()


def _open_points(storage, today: str, codes=None) -> set[int]:
    """Open sites of the unit versions in force today, not the province's: read straight from the sites."""
    versions = {(u["code"], u["valid_from"]) for u in storage.units_as_of(today)
                if u["level"] != "province" and (codes is None or u["code"] in codes)}
    return {s["id"] for s in storage.sites() if (s["unit_code"], s["unit_valid_from"]) in versions}


def test_coverage_lists_exactly_the_open_points_without_an_active_kiosk(fleet):
    app, storage, ids, first, second, gone, today = fleet
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/fleet").text
    points = _open_points(storage, today)
    assert len(points) == 221  # the 220 points' first sites and Trần Nguyên Hãn's second
    covered = {first["7201"], first["7204"], first["24-HCC"], first["213"]}  # active kiosks (silent and revoked do not)
    assert _uncovered(page) == points - covered
    assert first["7264"] in _uncovered(page)  # its kiosk was revoked
    assert first["7246"] in _uncovered(page) and second["id"] in _uncovered(page)
    assert gone["id"] not in _uncovered(page)  # closed
    row = re.search(rf'<tr class="uncovered" data-site="{first["7246"]}">.*?</tr>', page, re.S).group(0)
    assert "Có 1 máy nhưng mất liên lạc" in row  # silent: fix it, not install another
    assert "Chưa lắp kiosk" in re.search(rf'data-site="{first["7264"]}">.*?</tr>', page, re.S).group(0)
    assert _stat(page, "covered") == "4 / 221"
    assert re.search(r'id="coverage-count">217 trên 221 điểm<', page)
    # Grouped under the unit above: Huyện Yên Thế's group holds its uncovered communes, Canh Nậu among them.
    group = re.search(r'<details class="card coverage" id="coverage-215".*?</details>', page, re.S).group(0)
    assert f'data-site="{first["7246"]}"' in group and f'data-site="{first["7201"]}"' not in group


def test_the_summary_counts_match_the_seeded_fleet(fleet):
    app, storage, ids, *_ = fleet
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/fleet").text
    assert _rows(page) == set(ids.values())
    assert {k: _stat(page, k) for k in ("enrolled", "active", "silent", "revoked", "clock_off", "update_failed", "pending")} == {
        "enrolled": "6", "active": "4", "silent": "1", "revoked": "1", "clock_off": "1", "update_failed": "1",
        "pending": str(2 + 40 + 3)}  # the revoked kiosk's 7 pending are not waiting to come any more
    assert "1 phiếu bị giữ lại" in page
    versions = re.search(r'<p id="fleet-versions">(.*?)</p>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", versions).split(": ", 1)[1] == "1.0.3 (3 máy) · 1.0.2 (2 máy)"  # kiosks not revoked
    assert 'id="clock-alert">1 máy' in page
    assert "Cập nhật 1.0.4 không thành công" in page


@pytest.mark.parametrize("query, expected", [
    ("status=active", {"tx", "tnh", "hcc", "tp"}), ("status=silent", {"cn"}), ("status=revoked", {"tt"}),
    ("status=clock_off", {"tnh"}), ("status=update_failed", {"hcc"}), ("version=1.0.2", {"cn", "tt", "hcc"}),
    ("q=canh+nau", {"cn"}), ("q=Sảnh", {"hcc"}), ("unit=7201", {"tx"}), ("unit=213", {"tx", "tnh", "tp"}),
    ("unit=215&status=silent", {"cn"}), ("unit=213&status=silent", set()), ("unit=213&version=1.0.3&q=tho+xuong", {"tx"}),
    ("status=bogus", {"tx", "tnh", "cn", "tt", "hcc", "tp"}),
])
def test_each_filter_narrows_the_rows_and_says_how_many(fleet, query, expected):
    app, storage, ids, *_ = fleet
    admin, _ = login(app, "province-admin")
    page = admin.get(f"/admin/fleet?{query}").text
    assert _rows(page) == {ids[k] for k in expected}
    if "bogus" not in query:
        shown = re.search(r'id="fleet-shown">hiển thị (\d+) trên (\d+) máy<', page)
        assert shown and int(shown.group(1)) == len(expected)
    if not expected:
        assert "Không có kiosk nào khớp bộ lọc." in page


def test_the_unit_and_text_filters_narrow_the_summary_and_the_coverage(fleet):
    app, storage, ids, first, second, gone, today = fleet
    admin, _ = login(app, "province-admin")
    page = admin.get("/admin/fleet?unit=7204").text
    assert _stat(page, "enrolled") == "1" and _stat(page, "covered") == "1 / 2"
    assert _uncovered(page) == {second["id"]}
    page = admin.get("/admin/fleet?unit=213").text
    district = _open_points(storage, today, storage.subtree_codes("213"))
    assert _stat(page, "enrolled") == "3" and _stat(page, "covered") == f"3 / {len(district)}"
    assert _uncovered(page) == district - {first["213"], first["7201"], first["7204"]}
    page = admin.get("/admin/fleet?q=canh+nau").text
    assert _uncovered(page) == {first["7246"]}  # the closed "điểm cũ" matches the words but is no point


@pytest.mark.parametrize("username, own", [("commune-viewer", {"tx"}), ("district-viewer", {"tx", "tnh", "tp"})])
def test_a_viewer_sees_only_their_scope(fleet, username, own):
    app, storage, ids, first, second, gone, today = fleet
    viewer, _ = login(app, username)
    scope = storage.subtree_codes("7201" if username == "commune-viewer" else "213")
    page = viewer.get("/admin/fleet").text
    assert _rows(page) == {ids[k] for k in own}
    assert _stat(page, "enrolled") == str(len(own))
    assert _uncovered(page) == _open_points(storage, today, scope) - {first["7201"], first["7204"], first["213"]}
    assert "Canh Nậu" not in page and "Trung tâm Phục vụ" not in page
    for query in ("unit=215", "unit=24", "q=canh+nau", "status=silent", "version=1.0.2", "unit=7246"):
        other = viewer.get(f"/admin/fleet?{query}").text
        assert _rows(other) <= {ids[k] for k in own}, query
        assert _uncovered(other) <= _open_points(storage, today, scope), query
        assert "Canh Nậu" not in other, query
    assert 'value="7246"' not in page and 'value="215"' not in page  # the unit filter offers only their own units
    assert "Tạo mã đăng ký" not in page  # enrolment is the province admin's
