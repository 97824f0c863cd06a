"""Issue 15, "One ranking definition for officers": an officer's rank is among every officer of the
viewer's scope, the same on the officer page, in the XLSX ("Cán bộ") and in the pull API, each with
its denominator. Real database, real app, answers uploaded through the kiosk API."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from sync_server import cli
from tests.results_world import enrol, sheet, upload
from tests.server_web import add_users, login, make_app

# Officer → (unit, headline levels): Good and Poor serve Thọ Xương (7201, district 213), Fair serves
# Canh Nậu (7246, district 215); Few has too few answers to be ranked.
OFFICERS = {"cb-good": ("7201", [5] * 9 + [4]), "cb-poor": ("7201", [1, 2, 2, 1, 5, 4, 2, 1, 2, 3]),
            "cb-fair": ("7246", [5, 4, 4, 2, 5, 4, 3, 4, 5, 2]), "cb-few": ("7201", [5, 5])}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app, storage = make_app(tmp_path_factory.mktemp("officers"), report_min_answers=5)
    add_users(storage)
    now = datetime.now(timezone.utc)
    tokens = {}
    seq = {}
    for oid, (unit, levels) in OFFICERS.items():
        storage.add_officer(oid, unit, f"Cán bộ {oid[3:]}", "Công chức", None, None, now)
        token = tokens.setdefault(unit, enrol(app, storage, unit))
        upload(app, token, unit, [({"overall": v}, []) for v in levels], first_seq=seq.get(unit, 1), officer_id=oid)
        seq[unit] = seq.get(unit, 1) + len(levels)
    yield app, storage
    storage.close()


def _page_rank(client, officer: str) -> tuple[str, str]:
    page = client.get(f"/results/officers/{officer}").text
    block = page[page.index('id="officer-rank"'):]
    return re.search(r"<b>([^<]*)</b>", block).group(1).strip(), block[:400]


def _api(app, storage, scope: list[str]) -> dict:
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--db", db, "api-tokens", "add", "--name", f"officers-{'-'.join(scope)}", *scope]) == 0
    token = buf.getvalue().strip().splitlines()[-1]
    resp = TestClient(app).get("/api/v1/pull/officers", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return {o["officer_id"]: o for o in resp.json()["officers"]} | {"_ranked": resp.json()["ranked"]}


def test_one_officer_rank_on_the_page_in_the_xlsx_and_in_the_api(world):
    app, storage = world
    admin = login(app, "province-admin")[0]
    xlsx = {r["Mã"]: r for r in sheet(admin.get("/results/export.xlsx").content, "Cán bộ")}
    api = _api(app, storage, ["--province"])
    assert api["_ranked"] == 3 and xlsx["cb-poor"]["Trên tổng số"] == 3
    for oid in ("cb-good", "cb-fair", "cb-poor"):
        rank = xlsx[oid]["Xếp hạng"]
        assert api[oid]["rank"] == rank and _page_rank(admin, oid)[0] == f"{rank} / 3", oid
    assert [xlsx[o]["Xếp hạng"] for o in ("cb-good", "cb-fair", "cb-poor")] == [1, 2, 3]
    assert xlsx["cb-few"]["Xếp hạng"] is None and api["cb-few"]["rank"] is None and _page_rank(admin, "cb-few")[0] == "—"
    # The commune's own page lists its officers with the same province ranks (not 1 and 2 of the commune).
    commune_book = {r["Mã"]: r for r in sheet(admin.get("/results/export.xlsx?unit=7201").content, "Cán bộ")}
    assert (commune_book["cb-good"]["Xếp hạng"], commune_book["cb-poor"]["Xếp hạng"]) == (1, 3)


def test_a_district_viewer_ranks_within_the_district(world):
    app, storage = world
    viewer = login(app, "district-viewer")[0]  # district 213: Thọ Xương's officers only
    xlsx = {r["Mã"]: r for r in sheet(viewer.get("/results/export.xlsx").content, "Cán bộ")}
    assert set(xlsx) == {"cb-good", "cb-poor", "cb-few"} and xlsx["cb-poor"]["Xếp hạng"] == 2
    rank, block = _page_rank(viewer, "cb-poor")
    assert rank == "2 / 2" and "Thành phố Bắc Giang" in block
    api = _api(app, storage, ["--scope-unit", "213"])
    assert api["_ranked"] == 2 and api["cb-poor"]["rank"] == 2 and "cb-fair" not in api


def test_a_commune_token_gets_no_officer_results(world):
    app, storage = world
    db = storage.url if hasattr(storage, "url") else str(storage.path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--db", db, "api-tokens", "add", "--name", "officers-xa", "--scope-unit", "7201"]) == 0
    token = buf.getvalue().strip().splitlines()[-1]
    resp = TestClient(app).get("/api/v1/pull/officers", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "officer_results_forbidden"
