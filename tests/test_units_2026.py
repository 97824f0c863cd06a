"""Bắc Ninh (province 24) as in force today: assets/units/bac_ninh_2026.json and its conversion table.

Plain JSON checks (no server, no vietnam-provinces): counts at the newest date, every 2023 commune of
Bắc Giang reaching a unit in force today through the predecessor links, partial merges, names.
The file's shape is described in tools/export_units_2026.py.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "assets" / "units"


def _load(name: str) -> dict:
    return json.loads((UNITS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc() -> dict:
    return _load("bac_ninh_2026.json")


@pytest.fixture(scope="module")
def releases(doc) -> list[dict]:
    """All releases in date order: the top-level one first, then ``releases``."""
    first = {"valid_from": doc["valid_from"], "units": doc["units"]}
    out = [first] + doc["releases"]
    assert [r["valid_from"] for r in out] == sorted(r["valid_from"] for r in out)
    return out


@pytest.fixture(scope="module")
def conversion() -> dict:
    return _load("bac_ninh_conversion.json")


def _pred(p) -> dict:
    """A predecessor in either shape: a plain code or ``{"code", "valid_from", "partial"}``."""
    return p if isinstance(p, dict) else {"code": p, "valid_from": None, "partial": False}


def _attrs(u: dict) -> tuple:
    return (u["name"], u["level"], u["parent_code"])


def _trace(releases: list[dict], first: dict) -> dict[str, set[tuple[str, str]]]:
    """Follow each version of the release ``first`` through ``releases``, as an importer would.

    A version continues while its code is listed with the same name, level and parent; otherwise it
    ends on the release's date and continues in the units naming it (code and valid_from) as a
    predecessor. Returns, for every code of ``first``, the versions it has reached at the end.
    """
    open_versions = {u["code"]: (first["valid_from"], _attrs(u)) for u in first["units"]}
    reached = {code: {(code, vf)} for code, (vf, _) in open_versions.items()}
    for rel in releases:
        day, listed = rel["valid_from"], {u["code"]: u for u in rel["units"]}
        ending = {code for code, (_, attrs) in open_versions.items()
                  if code not in listed or attrs != _attrs(listed[code])}
        succ = defaultdict(set)
        for u in rel["units"]:
            for p in map(_pred, u.get("predecessors", [])):
                succ[(p["code"], p["valid_from"])].add((u["code"], day))
        for code in reached:
            nxt = set()
            for version in reached[code]:
                if version[0] in ending:
                    assert succ[version], f"{code}: version {version} ends on {day} with no successor"
                    nxt |= succ[version]
                else:
                    nxt.add(version)
            reached[code] = nxt
        for code in ending:
            del open_versions[code]
        for code, u in listed.items():
            if code not in open_versions:
                open_versions[code] = (day, _attrs(u))
    return reached


@pytest.fixture(scope="module")
def from_2023(releases) -> dict[str, set[tuple[str, str]]]:
    old = _load("bac_giang_2023.json")
    # Districts were abolished on 2025-07-01 and have no successors.
    return _trace(releases, {"valid_from": old["valid_from"], "units": [u for u in old["units"] if u["level"] != "district"]})


def test_newest_tree_counts(releases):
    newest = releases[-1]["units"]
    communes = [u for u in newest if u["level"] == "commune"]
    assert len(communes) == 99
    assert Counter(u["name"].split(" ", 1)[0] for u in communes) == {"Xã": 66, "Phường": 33}
    assert Counter(u["level"] for u in newest) == {"province": 1, "centre": 1, "commune": 99}
    assert all(u["parent_code"] == "24" for u in newest if u["level"] != "province")


def test_province_and_centre_by_date(releases):
    def row(rel, code):
        return next(u for u in rel["units"] if u["code"] == code)

    first, newest = releases[0], releases[-1]
    assert first["valid_from"] == "2025-07-01" and newest["valid_from"] == "2026-09-20"
    assert row(first, "24")["name"] == "Tỉnh Bắc Ninh" and row(first, "24")["level"] == "province"
    assert row(newest, "24")["name"] == "Thành phố Bắc Ninh"
    assert row(first, "24-HCC")["name"] == "Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh"
    assert row(newest, "24-HCC")["name"] == "Trung tâm Phục vụ hành chính công thành phố Bắc Ninh"
    assert row(newest, "24-HCC")["level"] == "centre" and row(newest, "24-HCC")["parent_code"] == "24"


def test_first_release_is_the_shipped_2025_tree(releases):
    shipped = _load("bac_ninh_2025.json")
    key = lambda u: (u["code"], u["name"], u["level"], u["parent_code"])  # noqa: E731
    assert releases[0]["valid_from"] == shipped["valid_from"]
    assert sorted(map(key, releases[0]["units"])) == sorted(map(key, shipped["units"]))


def test_2026_code_corrections(releases):
    fix = releases[1]
    assert fix["valid_from"] == "2026-01-07" and fix["date_basis"]
    moved = {u["code"]: [_pred(p)["code"] for p in u["predecessors"]] for u in fix["units"] if u.get("predecessors")}
    assert moved == {"9370": ["9376"], "9379": ["9373"], "9385": ["9382"]}
    names = {u["code"]: u["name"] for u in fix["units"]}
    assert [names[c] for c in ("9370", "9379", "9385")] == ["Phường Tam Sơn", "Phường Phù Khê", "Phường Đồng Nguyên"]


def test_no_duplicate_codes_within_a_date(releases):
    for rel in releases:
        codes = [u["code"] for u in rel["units"]]
        assert len(codes) == len(set(codes)), rel["valid_from"]


def test_predecessors_name_real_versions(releases):
    """Every predecessor names the version of its code that is open until the release's date."""
    old = _load("bac_giang_2023.json")
    open_versions = {u["code"]: (old["valid_from"], _attrs(u)) for u in old["units"]}
    for rel in releases:
        listed = {u["code"]: u for u in rel["units"]}
        ending = {code for code, (_, attrs) in open_versions.items()
                  if code not in listed or attrs != _attrs(listed[code])}
        for u in rel["units"]:
            for p in u.get("predecessors", []):
                assert isinstance(p, dict) and set(p) >= {"code", "valid_from", "partial"}, p
                assert p["code"] in ending, (rel["valid_from"], u["code"], p)
                assert open_versions[p["code"]][0] == p["valid_from"], (rel["valid_from"], u["code"], p)
                assert isinstance(p["partial"], bool)
        for code in ending:
            del open_versions[code]
        for code, u in listed.items():
            open_versions.setdefault(code, (rel["valid_from"], _attrs(u)))


def test_every_2023_commune_reaches_a_unit_in_force_today(from_2023, releases):
    newest = {u["code"] for u in releases[-1]["units"]}
    old = _load("bac_giang_2023.json")
    communes = [u["code"] for u in old["units"] if u["level"] == "commune"]
    assert len(communes) == 209
    for code in communes:
        reached = from_2023[code]
        assert reached, code
        assert {c for c, _ in reached} <= newest, (code, reached)
        assert {vf for _, vf in reached} <= {r["valid_from"] for r in releases}


def test_tho_xuong_is_phuong_bac_giang_only(from_2023, releases):
    names = {u["code"]: u["name"] for u in releases[-1]["units"]}
    assert {c for c, _ in from_2023["7201"]} == {"7210"}
    assert names["7210"] == "Phường Bắc Giang"
    links = [(u["code"], p["code"]) for rel in releases for u in rel["units"] for p in map(_pred, u.get("predecessors", []))]
    assert [new for new, old in links if old == "7201"] == ["7210"]
    bac_giang = next(u for u in releases[0]["units"] if u["code"] == "7210")
    constituents = {_pred(p)["code"] for p in bac_giang["predecessors"]}
    assert {"7201", "7207", "7210", "7213", "7225", "7231", "7441"} <= constituents


def test_province_and_centre_continue(from_2023):
    assert from_2023["24"] == {("24", "2026-09-20")}
    assert from_2023["24-HCC"] == {("24-HCC", "2026-09-20")}


def test_partial_merges_are_flagged(releases, conversion):
    """partial <=> the old version continues in more than one new unit, in the file and in the table."""
    for rel in releases:
        uses = defaultdict(list)
        for u in rel["units"]:
            for p in map(_pred, u.get("predecessors", [])):
                uses[(p["code"], p["valid_from"])].append(p["partial"])
        for version, flags in uses.items():
            assert all(f == (len(flags) > 1) for f in flags), (rel["valid_from"], version, flags)
    successors = Counter(r["old_code"] for r in conversion["rows"])
    for row in conversion["rows"]:
        assert row["partial"] == (successors[row["old_code"]] > 1), row
    # The package flags 7663 Xã Tuấn Đạo as partly merged; it was kept whole ("Giữ nguyên").
    tuan_dao = [r for r in conversion["rows"] if r["old_code"] == "7663"]
    assert [(r["new_code"], r["partial"], r["package_flag"]) for r in tuan_dao] == [("7663", False, True)]


def test_conversion_table_covers_the_province(conversion, releases):
    newest = {u["code"] for u in releases[-1]["units"] if u["level"] == "commune"}
    assert {r["new_code"] for r in conversion["rows"]} == newest
    origin = defaultdict(set)
    for r in conversion["rows"]:
        origin[r["new_code"]].add(r["old_province_code"])
    assert Counter(frozenset(o) for o in origin.values()) == {frozenset({"24"}): 58, frozenset({"27"}): 41}
    old_bg = {r["old_code"] for r in conversion["rows"] if r["old_province_code"] == "24"}
    assert len(old_bg) == 192  # old Bắc Giang on 1 January 2025
    assert len(conversion["from_2023"]) == 209
    assert Counter(r["rule"] for r in conversion["from_2023"])["code"] == 192


def test_names_have_vietnamese_diacritics(releases, conversion):
    prefixes = ("Xã ", "Phường ", "Tỉnh ", "Thành phố ", "Trung tâm ")
    names = [u["name"] for rel in releases for u in rel["units"]]
    names += [r[k] for r in conversion["rows"] for k in ("old_name", "new_name")]
    for name in names:
        assert unicodedata.is_normalized("NFC", name), name
        assert name == name.strip() and "  " not in name, name
        assert "\ufffd" not in name and "Ã" not in name and "Æ" not in name, name  # no mojibake
    for rel in releases:
        for u in rel["units"]:
            assert u["name"].startswith(prefixes), u
    communes = [u["name"] for u in releases[-1]["units"] if u["level"] == "commune"]
    bare = [n.split(" ", 1)[1] for n in communes]
    assert sum(any(ord(ch) > 127 for ch in b) for b in bare) >= 90, "names lost their diacritics"
    for expected in ("Phường Bắc Giang", "Phường Kinh Bắc", "Xã Tuấn Đạo", "Phường Đồng Nguyên",
                     "Xã Hiệp Hoà"):
        assert expected in communes


def test_reused_codes_are_codes_naming_another_unit():
    """The import's "reused codes": 45 on 2025-07-01 (7210 Phường Hoàng Văn Thụ, then Phường Bắc Giang
    of eight old units; 24 Tỉnh Bắc Giang, then Tỉnh Bắc Ninh), none on 2026-09-20, when the province
    became a city and its centre was renamed with it: the same units, continued."""
    from sync_server.unit_files import is_reuse, load_releases_json, plan_release

    (old,) = load_releases_json((UNITS / "bac_giang_2023.json").read_text(encoding="utf-8"))
    current = {u["code"]: dict(u, valid_from=old.valid_from, valid_to=None) for u in old.units}
    reused = {}
    for release in load_releases_json((UNITS / "bac_ninh_2026.json").read_text(encoding="utf-8")):
        plan = plan_release(list(current.values()), set(), release)
        reused[release.valid_from] = plan.report.reused
        for code in plan.close_codes:
            current.pop(code)
        current.update({v["code"]: dict(v, valid_from=release.valid_from, valid_to=None) for v in plan.open_versions})
    assert {day: len(codes) for day, codes in reused.items()} == {"2025-07-01": 45, "2026-01-07": 0, "2026-09-20": 0}
    assert {"7210", "24", "24-HCC"} <= set(reused["2025-07-01"])
    alone = {"code": "7789", "predecessors": [{"code": "7789", "partial": False, "valid_from": None}]}
    assert not is_reuse({"name": "Thị trấn Nếnh"}, {**alone, "name": "Phường Nếnh"})  # only its kind changed
    assert is_reuse({"name": "Thị trấn Nếnh"}, {**alone, "name": "Phường Vân Hà"})
    merged = {"code": "7789", "predecessors": [{"code": "7795", "partial": False, "valid_from": None}]}
    assert is_reuse({"name": "Thị trấn Nếnh"}, {**merged, "name": "Phường Nếnh"})  # others merged in under a new name
    assert not is_reuse({"name": "Xã Tân Yên"}, {**merged, "name": "Xã Tân Yên"})  # grown under its own name
