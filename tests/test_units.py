"""The unit registry a fresh server database is seeded with (Bắc Giang, 2023), through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from sync_server import security
from tests.support import server_db_location, ROOT, server_cli


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> list[dict]:
    db = server_db_location(tmp_path_factory.mktemp("units"))
    return json.loads(server_cli(db, "units", "--json").stdout)


def test_counts_by_level(units):
    assert Counter(u["level"] for u in units) == {"province": 1, "centre": 1, "district": 10, "commune": 209}
    assert len({u["code"] for u in units}) == len(units) == 221


def test_codes_and_tree(units):
    by_code = {u["code"]: u for u in units}
    province = [u for u in units if u["level"] == "province"]
    assert province[0]["code"] == "24" and province[0]["parent_code"] is None
    districts = sorted(int(u["code"]) for u in units if u["level"] == "district")
    assert districts == [213] + list(range(215, 224))
    assert all(by_code[str(d)]["parent_code"] == "24" for d in districts)
    communes = [u for u in units if u["level"] == "commune"]
    assert all(7201 <= int(u["code"]) <= 7885 for u in communes)
    assert all(by_code[u["parent_code"]]["level"] == "district" for u in communes)
    # Every district has communes under it.
    assert {u["parent_code"] for u in communes} == {str(d) for d in districts}


def test_real_names_with_diacritics(units):
    by_code = {u["code"]: u for u in units}
    assert by_code["7201"]["name"] == "Phường Thọ Xương"
    assert by_code["7201"]["parent_code"] == "213"
    assert by_code["213"]["name"] == "Thành phố Bắc Giang"
    assert by_code["24"]["name"] == "Tỉnh Bắc Giang"
    centre = by_code["24-HCC"]
    assert centre["level"] == "centre" and centre["parent_code"] == "24"
    assert "hành chính công" in centre["name"]


def test_enroll_code_alone_on_last_line(tmp_path):
    out = server_cli(server_db_location(tmp_path), "enroll-code", "--unit", "7201").stdout
    last = out.rstrip("\n").splitlines()[-1]
    assert last == last.strip()
    groups = last.split("-")
    assert len(groups) == security.CODE_GROUPS and all(len(g) == security.CODE_GROUP_LEN for g in groups)
    assert set(last.replace("-", "")) <= set(security.CODE_ALPHABET)
    assert "Phường Thọ Xương" in out


def test_unknown_unit_fails(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(server_db_location(tmp_path)),
                           "enroll-code", "--unit", "9999"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "9999" in proc.stderr
    assert proc.stdout.strip() == ""
