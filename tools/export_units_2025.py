"""Export one province's two-level tree (since 1 July 2025) to a static JSON file.

A build-time helper like ``tools/export_units.py`` (the 2023 three-level export): the server and
the tests never import ``vietnam-provinces``; they read the generated file. How the shipped file
was produced (from the repository root)::

    python3 -m venv /tmp/vp25
    /tmp/vp25/bin/pip install vietnam-provinces==2025.10.1
    /tmp/vp25/bin/python tools/export_units_2025.py --province 24 \
        --previous assets/units/bac_giang_2023.json --out assets/units/bac_ninh_2025.json

Data source: ``vietnam_provinces.Province`` / ``Ward`` of vietnam-provinces 2025.10.1 (data
retrieved 2025-10-18): the two-level structure in force since 2025-07-01, where communes, wards
and special zones hang directly under the province. Province 24 is Bắc Ninh after the merger of
the former Bắc Giang and Bắc Ninh provinces: 99 commune-level units.

Successor links: the package does not carry the merger resolutions. When a new unit reuses the
official code of a unit in ``--previous`` (the statistics office kept one constituent commune's
code for the merged one), that old unit is written as its predecessor; the province can add the
remaining links with the server's CSV import (``docs/units.md``). The province row and the Public
Administration Centre keep their codes and so link to their 2023 selves.

Output shape: as the 2023 file plus ``"predecessors": [codes]`` on rows that have any::

    {"source": "vietnam-provinces==2025.10.1", "structure": "2025-two-level", "valid_from": "2025-07-01",
     "province_code": "24", "units": [{"code", "name", "level", "parent_code", "predecessors"?}, ...]}
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

import vietnam_provinces
from vietnam_provinces import Province, Ward

STRUCTURE = "2025-two-level"
VALID_FROM = "2025-07-01"
EXPECTED_COMMUNES = {24: 99}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def province_full_name(province: Province) -> str:
    """'Bắc Ninh' -> 'Tỉnh Bắc Ninh'; centrally-run cities already say 'Thành phố …'."""
    name = nfc(province.name)
    return name if name.startswith("Thành phố") else f"Tỉnh {name}"


def centre_name(province_name: str) -> str:
    return "Trung tâm Phục vụ hành chính công " + province_name[:1].lower() + province_name[1:]


def build_units(province_code: int, previous: set[str]) -> list[dict]:
    try:
        province = Province.from_code(province_code)
    except ValueError:
        sys.exit(f"error: unknown province code {province_code}")
    code = str(int(province.code))
    name = province_full_name(province)
    rows = [{"code": code, "name": name, "level": "province", "parent_code": None},
            {"code": f"{code}-HCC", "name": centre_name(name), "level": "centre", "parent_code": code}]
    wards = sorted(Ward.iter_by_province(province.code), key=lambda w: int(w.code))
    rows += [{"code": str(int(w.code)), "name": nfc(w.name), "level": "commune", "parent_code": code} for w in wards]
    for row in rows:
        if row["code"] in previous:
            row["predecessors"] = [row["code"]]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", type=int, required=True)
    parser.add_argument("--previous", type=Path, help="an earlier export of the same area, for code-reuse links")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    previous = set()
    if args.previous:
        previous = {u["code"] for u in json.loads(args.previous.read_text(encoding="utf-8"))["units"]}
    rows = build_units(args.province, previous)
    communes = sum(r["level"] == "commune" for r in rows)
    expected = EXPECTED_COMMUNES.get(args.province)
    assert expected is None or communes == expected, f"expected {expected} communes, got {communes}"
    assert len({r["code"] for r in rows}) == len(rows)
    doc = {"source": f"vietnam-provinces=={vietnam_provinces.__version__}", "structure": STRUCTURE,
           "valid_from": VALID_FROM, "province_code": rows[0]["code"]}
    head = json.dumps(doc, ensure_ascii=False)[:-1] + ', "units": ['
    body = ",\n".join(" " + json.dumps(r, ensure_ascii=False) for r in rows)
    args.out.write_text(head + "\n" + body + "\n]}\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(rows)} units ({communes} communes, {sum('predecessors' in r for r in rows)} with a predecessor) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
