"""Export one province's administrative tree to a static JSON file.

This is a build-time helper, not part of the application. The kiosk runtime
reads the generated JSON and never imports ``vietnam-provinces``; that package
is only needed (in a throw-away virtualenv) to regenerate the file.

How the shipped file was produced (from the repository root)::

    python3 -m venv /tmp/vp
    /tmp/vp/bin/pip install vietnam-provinces==0.5.0
    /tmp/vp/bin/python tools/export_units.py --province 24 \
        --out assets/units/bac_giang_2023.json

Data source: ``vietnam_provinces.enums`` (``ProvinceEnum``, ``DistrictEnum``,
``WardEnum``) from vietnam-provinces 0.5.0, whose data were retrieved from the
General Statistics Office on 2023-05-07, i.e. the three-level structure
(province / district / commune) in force during 2023. The package already
stores full official names with their division prefix ("Huyện Lạng Giang",
"Thị trấn Vôi", ...), so names are taken as-is and only NFC-normalised.

Output shape (UTF-8, one unit per line, rows sorted by level, then numeric
code, which for this data is also plain numeric-code order)::

    {"source": "vietnam-provinces==0.5.0", "structure": "2023-three-level",
     "valid_from": "2023-01-01",
     "units": [{"code": "24", "name": "Tỉnh Bắc Giang",
                "level": "province", "parent_code": null}, ...]}

Levels: ``province`` (root of the tree, not a service point), ``centre``
(the provincial Public Administration Centre, a service point of its own,
code ``<province>-HCC``), ``district`` and ``commune``. Codes are strings of
the official numeric codes without leading zeros.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

from vietnam_provinces.enums import DistrictEnum, ProvinceEnum
from vietnam_provinces.enums.wards import WardEnum

SOURCE = "vietnam-provinces==0.5.0"
STRUCTURE = "2023-three-level"
VALID_FROM = "2023-01-01"

# Expected sizes for the province this project ships (Bắc Giang, code 24).
# Other provinces are exported without a count check.
EXPECTED_COUNTS = {24: {"district": 10, "commune": 209}}

LEVEL_ORDER = {"province": 0, "centre": 1, "district": 2, "commune": 3}


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the form used everywhere in the app."""
    return unicodedata.normalize("NFC", text)


def unit(code: int | str, name: str, level: str, parent: int | str | None) -> dict:
    """Build one output row; codes become strings without leading zeros."""
    return {
        "code": str(code),
        "name": nfc(name),
        "level": level,
        "parent_code": None if parent is None else str(parent),
    }


def centre_name(province_name: str) -> str:
    """'Tỉnh Bắc Giang' -> 'Trung tâm Phục vụ hành chính công tỉnh Bắc Giang'."""
    return "Trung tâm Phục vụ hành chính công " + province_name[:1].lower() + province_name[1:]


def build_units(province_code: int, with_centre: bool = True) -> list[dict]:
    """Collect the province, its centre, districts and communes as rows."""
    try:
        province = ProvinceEnum[f"P_{province_code}"].value
    except KeyError:
        sys.exit(f"error: unknown province code {province_code}")

    districts = sorted(
        (m.value for m in DistrictEnum if m.value.province_code == province.code),
        key=lambda d: d.code,
    )
    district_codes = {d.code for d in districts}
    communes = sorted(
        (m.value for m in WardEnum if m.value.district_code in district_codes),
        key=lambda w: w.code,
    )

    rows = [unit(province.code, province.name, "province", None)]
    if with_centre:
        rows.append(unit(f"{province.code}-HCC", centre_name(province.name), "centre", province.code))
    rows += [unit(d.code, d.name, "district", province.code) for d in districts]
    rows += [unit(w.code, w.name, "commune", w.district_code) for w in communes]
    rows.sort(key=lambda r: (LEVEL_ORDER[r["level"]], int(r["code"].split("-")[0])))
    return rows


def check(rows: list[dict], province_code: int, with_centre: bool) -> None:
    """Fail loudly if the tree is inconsistent or (for Bắc Giang) mis-sized."""
    counts = {level: sum(r["level"] == level for r in rows) for level in LEVEL_ORDER}
    district_codes = {r["code"] for r in rows if r["level"] == "district"}

    assert counts["province"] == 1, counts
    assert counts["centre"] == (1 if with_centre else 0), counts
    # Official codes are only unique within a level (e.g. Hà Nội has province 1,
    # district 1 and ward 1); for Bắc Giang they happen to be globally unique.
    keys = {(r["level"], r["code"]) for r in rows}
    assert len(keys) == len(rows), "duplicate codes within a level"
    for r in rows:
        assert unicodedata.is_normalized("NFC", r["name"]), r
        if r["level"] == "commune":
            assert r["parent_code"] in district_codes, r

    expected = EXPECTED_COUNTS.get(province_code)
    if expected:
        for level, n in expected.items():
            assert counts[level] == n, f"{level}: expected {n}, got {counts[level]}"
        assert len(rows) == 1 + int(with_centre) + sum(expected.values()), len(rows)


def dumps(doc: dict) -> str:
    """Serialise as valid JSON with one unit per line (readable, diff-friendly)."""
    head = {k: v for k, v in doc.items() if k != "units"}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "units": [']
    units = [" " + json.dumps(u, ensure_ascii=False) for u in doc["units"]]
    lines.append(",\n".join(units))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", type=int, required=True, help="official province code, e.g. 24")
    parser.add_argument("--out", type=Path, required=True, help="output JSON path")
    parser.add_argument("--no-centre", action="store_true", help="omit the Public Administration Centre row")
    args = parser.parse_args(argv)

    with_centre = not args.no_centre
    rows = build_units(args.province, with_centre)
    check(rows, args.province, with_centre)

    doc = {"source": SOURCE, "structure": STRUCTURE, "valid_from": VALID_FROM, "units": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(doc), encoding="utf-8", newline="\n")
    print(f"wrote {len(rows)} units to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
