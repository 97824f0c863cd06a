"""Export province 24 (Bắc Ninh) as in force today, with its dated history since 2025-07-01.

A build-time helper like ``tools/export_units_2025.py``. Nothing here imports ``vietnam-provinces``
(GPL-3.0): the tool downloads the wheel and reads it as a zip, parsing its Python modules with
``ast`` (no code from the wheel is executed). The server and the tests read only the JSON it writes.
How the shipped files were produced (from the repository root, with the project's Python 3.11)::

    .venv/bin/python tools/export_units_2026.py \
        --previous assets/units/bac_giang_2023.json --shipped-2025 assets/units/bac_ninh_2025.json \
        --out assets/units/bac_ninh_2026.json --conversion-out assets/units/bac_ninh_conversion.json

``--wheel PATH`` reads an already downloaded wheel; otherwise the tool runs
``pip download vietnam-provinces==2026.9.0 --no-deps --only-binary=:all: --python-version 3.12``
(2026.x releases require Python >= 3.12 to install; the wheel itself is pure data and code).

What the wheel carries (vietnam_provinces-2026.9.0-py3-none-any.whl, uploaded to PyPI 2026-09-20,
sha256 b5f3540a98937d38b9bebcbdb792fa4f5b9712737d41b05c7254beb2308ebcd1)
------------------------------------------------------------------------------------------------
* ``__init__.py``: ``__version__ = '2026.9.0'``, ``__data_version__ = '2026-09-20'`` (data retrieval
  date, UTC). Metadata: GPL-3.0-or-later, Requires-Python >=3.12,<4.0.
* ``_lookup.py``: ``PROVINCE_MAPPING`` (34) and ``WARD_MAPPING`` (3,321) of the two-level structure.
  Province 24 is ``Province('Thành phố Bắc Ninh', P_24, THANH_PHO_TRUNG_UONG, 'bac_ninh', 222)``.
  99 wards with ``ProvinceCode.P_24``: 66 ``XA``, 33 ``PHUONG``.
* ``data/nested-divisions.json`` and ``data/flat-divisions.json``: the same 3,321 wards, but NOT
  regenerated for 2026.9.0's province change: they still say ``'Tỉnh Bắc Ninh'``, ``'tỉnh'`` (as do
  Quảng Ninh 22 and Đồng Nai 75, which ``_lookup.py`` also turned into ``Thành phố``). The tool takes
  wards from ``_lookup.py``, checks that the JSON lists the same codes and names, and takes the
  province's name and type from ``_lookup.py``.
* ``_ward_conversion_2025.py``: the official conversion table between the wards in force just before
  2025-07-01 and the new ones: ``EFFECTIVE_DATE = '2025-07-01'``,
  ``SOURCE = 'BangChuyendoiĐVHCmoi_cu_khong_merge.csv'``, ``OLD_TO_NEW`` (10,033 old wards) and
  ``NEW_TO_OLD`` (3,316 new wards), 10,565 (old, new) pairs in both directions. Each old ward is
  ``OldWardRef(code, district_code, province_code, is_partly_merged)``. For new province 24 it holds
  313 old wards -> 99 new ones: 192 from old Bắc Giang (24) feed the 58 new wards with codes < 9000,
  121 from old Bắc Ninh (27) feed the 41 with codes >= 9000; no cross-province pieces; no old ward of
  24/27 is listed under more than one new ward, so no merge here is partial. One old ward is
  *flagged* ``is_partly_merged=True``: 7663 Xã Tuấn Đạo -> 7663 only. The package's generator
  (``dev/conversion_table.py`` in its repository: partial = ``'toàn bộ' not in`` the note column)
  flags every row whose note lacks "toàn bộ"; the CSV row for 7663 says "Giữ nguyên" (kept as is),
  i.e. not a split. We therefore write ``partial`` = listed under more than one new ward (the
  definition asked for) and keep the package's raw flag in the conversion file.
* ``_province_conversion_2025.py``: old -> new provinces (24 Bắc Giang and 27 Bắc Ninh -> 24).
* ``legacy/``: the three-level structure just before 2025-07-01, generated from the statistics
  office list ``Xa_2025-01-04.csv`` (so after the 1 January 2025 rearrangement): ``PROVINCE_MAPPING``,
  ``DISTRICT_MAPPING``, ``WARD_MAPPING``. For old Bắc Giang it lists 195 wards: the 192 of the
  conversion table plus 7693 Xã Tân An, 7732 Xã Nham Sơn and 7744 Xã Thắng Cương, which are not in
  the 2023 tree (209) nor in the conversion table: stale rows, ignored.
* No file carries the 1 January 2025 mergers (2023 -> 2025 rearrangement), no effective dates other
  than ``EFFECTIVE_DATE`` and ``__data_version__``, and no CHANGELOG (the sdist has none either).

Ward codes that changed "in 2026", and why (looked up, not guessed)
-------------------------------------------------------------------
Comparing wheels 2025.10.1 (the source of ``bac_ninh_2025.json``), 2026.1.0, 2026.2.3, 2026.3.0 and
2026.9.0: three wards of province 24 changed code between 2025.10.1 and 2026.1.0 and nothing else
about its wards changed since: Phường Tam Sơn 9376 -> 9370, Phường Phù Khê 9373 -> 9379, Phường Đồng
Nguyên 9382 -> 9385 (names unchanged). 2026.1.0's changelog (package repository): "Use official data
from https://danhmuchanhchinh.nso.gov.vn/"; its 2025.x data came from ``dev/seed-data/2025-07/
Cap-xa.csv`` whose ``source.txt`` points at the *draft* decision on the code list (chinhphu.vn
"dự thảo quyết định ... ban hành bảng danh mục và mã số các đơn vị hành chính"). The official
conversion table (above) already uses 9370/9379/9385, each being the code of the constituent old
ward of the same name. So no decision changed these codes in 2026: the official list (Quyết định
19/2025/QĐ-TTg, in force 2025-07-01 according to secondary sources) always had them, and the 2025 file
carried the draft codes. Servers already hold versions under the draft codes (devices are enrolled to
them), so the file does not rewrite 2025-07-01; it emits a correction release dated **2026-01-07**,
the date *from the data* (2026.1.0, ``__data_version__ = '2026-01-07'``, the first data with these
codes), linking each draft code to the official one as a whole merge.

Centrally-run city: 2026.9.0 (CHANGELOG "Upgrade Quảng Ninh and Bắc Ninh", ``__data_version__``
2026-09-20) names province 24 ``Thành phố Bắc Ninh`` of type ``thành phố trung ương`` (2026.3.0 still
said ``Tỉnh Bắc Ninh``). The date **2026-09-20** is the data's date and, per secondary sources,
the day Nghị quyết 39/2026/QH16 took effect. The package carries no other 2026 change for
province 24 (it does not reclassify any xã as phường).

Successor links for the 2023 tree (``--previous``, Bắc Giang 2023, 209 communes)
--------------------------------------------------------------------------------
The conversion table's old side is the ward list just before 2025-07-01, which already reflects the
1 January 2025 rearrangement (209 -> 192 in old Bắc Giang). Each 2023 commune is first mapped to
its unit of 1 January 2025 (the ``jan2025`` list: old Bắc Giang's 192 conversion-table wards with
names and districts from ``legacy/``), then through the table to the 2025-07-01 unit(s). Rules, in
order (the name of the rule is written as ``derived`` on the link unless it is ``code``):

1. ``code``: the 2023 code is in the 1 January 2025 list: that unit (the statistics office keeps
   one constituent's code for a merged unit and never gives an existing code to another unit).
   192 communes, including 36 that were renamed or reclassified on that day.
2. ``name``: otherwise, a 1 January 2025 unit of the same 2023 district bears its name (division
   prefix ignored): the merged unit kept this constituent's name and another's code.
3. ``name-part``: otherwise, the 1 January 2025 units of the same district whose name gained, on that
   day, a word of this commune's name (e.g. Xã Hùng Sơn -> Xã Hùng Thái gained "Thái" from Xã Thái
   Sơn); used when all of them lead to the same 2025-07-01 unit.
4. ``neighbours``: otherwise, the surviving codes just below and just above it in the same 2023
   district (codes run geographically) lead to the same 2025-07-01 unit.
5. ``nearest-code``: otherwise, the surviving code just below it (just above, for the first code of
   a district). A guess: these links must be checked against Nghị quyết 1191/NQ-UBTVQH15 (in force
   2025-01-01) and corrected with ``OVERRIDES_2025_01`` below or the server's CSV import.

The link's ``partial`` is true when the 1 January 2025 unit was split among several new units.
The province row and the Public Administration Centre keep their codes and link to their 2023 rows.

Output: ``assets/units/bac_ninh_2026.json``
-------------------------------------------
The 2025 file's shape, extended additively. The top level is the release of 2025-07-01 (same codes,
names, levels and parents as ``bac_ninh_2025.json``, so an importer that reads only ``valid_from``
and ``units`` imports exactly what the 2025 file did) with complete predecessor links; ``releases``
lists the later releases in date order, each a whole tree::

    {"source": "vietnam-provinces==2026.9.0", "data_version": "2026-09-20", "source_sha256": "…",
     "structure": "2025-two-level", "valid_from": "2025-07-01", "province_code": "24",
     "units": [UNIT, …],
     "releases": [{"valid_from": "2026-01-07", "date_basis": "…", "units": [UNIT, …]},
                  {"valid_from": "2026-09-20", "date_basis": "…", "units": [UNIT, …]}]}

    UNIT = {"code", "name", "level", "parent_code", "predecessors"?: [PRED, …]}
    PRED = {"code": "7201", "valid_from": "2023-01-01", "partial": false,
            "via"?: "7207", "derived"?: "name" | "name-part" | "neighbours" | "nearest-code"}

``PRED.valid_from`` is the start of the predecessor *version* meant: "2023-01-01" (the 2023 tree)
in the top-level release, "2025-07-01" in the later ones. ``via`` is the 1 January 2025 unit a 2023
commune went through when that unit has another code; ``derived`` says how a link not read from the
conversion table was obtained. Predecessors list the versions that end on the release's date; a
unit unchanged since the previous release has none. The older plain form ``"predecessors":
["7201", …]`` (a whole merge of the version ending that day) stays valid for importers and CSVs.

``assets/units/bac_ninh_conversion.json``: the official table for new province 24 (one row per
(old, new) pair, with old names and districts from ``legacy/``) and the 2023 -> 1 January 2025 map
(one row per 2023 commune with its rule), for audit and for old Bắc Ninh's wards, whose pre-2025
versions are not in any of our trees.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from pathlib import Path

PACKAGE = "vietnam-provinces"
VERSION = "2026.9.0"
PROVINCE = 24
OLD_PROVINCES = (24, 27)  # old Bắc Giang and old Bắc Ninh, merged into 24 on 2025-07-01
TREE_2023 = "2023-01-01"
TREE_2025 = "2025-07-01"
CORRECTION_DAY = "2026-01-07"  # from the data: vietnam-provinces 2026.1.0, __data_version__
CITY_DAY = "2026-09-20"  # from the data (2026.9.0 __data_version__); NQ 39/2026/QH16 (secondary)
EXPECTED = {"commune": 99, "xã": 66, "phường": 33, "from_24": 58, "from_27": 41}

# Confirmed 2023 -> 1 January 2025 successors that the rules cannot derive, as
# {"2023 code": "code of the 1 January 2025 unit"}, each with its source in a comment.
OVERRIDES_2025_01: dict[str, str] = {}

DATE_BASIS = {
    CORRECTION_DAY: ("data: vietnam-provinces 2026.1.0 (__data_version__ 2026-01-07) is the first release built from "
                     "danhmuchanhchinh.nso.gov.vn; its codes 9370, 9379, 9385 replace the draft codes 9376, 9373, 9382 "
                     "of 2025.x. No decision changed them: the official code list was in force from 2025-07-01."),
    CITY_DAY: ("data: vietnam-provinces 2026.9.0 (__data_version__ 2026-09-20) names province 24 'Thành phố Bắc Ninh' "
               "(thành phố trung ương); decision: Nghị quyết 39/2026/QH16, in force 2026-09-20 (secondary sources)."),
}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def core(name: str) -> str:
    """The name without its division prefix: 'Thị trấn Nhã Nam' -> 'Nhã Nam'."""
    return re.sub(r"^(Xã|Phường|Thị trấn|Thành phố|Tỉnh)\s+", "", nfc(name))


def words(name: str) -> set[str]:
    return set(core(name).lower().split())


def centre_name(province_name: str) -> str:
    return "Trung tâm Phục vụ hành chính công " + province_name[:1].lower() + province_name[1:]


# --- reading the wheel ---------------------------------------------------------------------------

def download_wheel(version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={version}", "--no-deps",
           "--only-binary=:all:", "--python-version", "3.12", "-d", str(dest), "-q"]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob(f"vietnam_provinces-{version}-*.whl"))
    if not wheels:
        sys.exit(f"error: pip did not leave a wheel of {PACKAGE}=={version} in {dest}")
    return wheels[0]


def _literal(node: ast.AST):
    """A data expression of the wheel's generated modules, without executing anything.

    Constants, tuples, lists and dicts become Python values; ``Name(a, b)`` calls become
    ``("Name", [a, b])``; ``ProvinceCode.P_24`` becomes the string ``"ProvinceCode.P_24"``.
    """
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call):
        return (ast.unparse(node.func), [_literal(a) for a in node.args])
    if isinstance(node, (ast.Attribute, ast.Name)):
        return ast.unparse(node)
    raise ValueError(f"unexpected expression in wheel data: {ast.unparse(node)[:80]}")


def module_values(source: str) -> dict:
    """Module-level ``NAME = <data>`` / ``NAME: type = <data>`` assignments of a generated module."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        try:
            out[target] = _literal(value)
        except ValueError:
            pass  # e.g. a Path expression; not data we read
    return out


def enum_int(ref: str) -> int:
    """'ProvinceCode.P_24' -> 24, 'WardCode.W_07210' -> 7210."""
    return int(ref.rsplit("_", 1)[1])


class WheelData:
    """What the tool uses from the wheel, read as a zip."""

    def __init__(self, path: Path):
        raw = path.read_bytes()
        self.path, self.sha256 = path, hashlib.sha256(raw).hexdigest()
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            text = lambda name: z.read(f"vietnam_provinces/{name}").decode("utf-8")  # noqa: E731
            init = module_values(text("__init__.py"))
            self.version, self.data_version = init["__version__"], init["__data_version__"]
            lookup = module_values(text("_lookup.py"))
            self.provinces = {code: args for code, (_, args) in lookup["PROVINCE_MAPPING"].items()}
            self.wards = {code: args for code, (_, args) in lookup["WARD_MAPPING"].items()}
            self.nested = json.loads(text("data/nested-divisions.json"))
            conv = module_values(text("_ward_conversion_2025.py"))
            self.conv_effective, self.conv_source = conv["EFFECTIVE_DATE"], conv["SOURCE"]
            # OLD_TO_NEW: {old: ("OldToNewEntry", [("OldWardRef", [code, district, province, partly]),
            #                                      [("NewWardRef", [code, province]), ...]])}
            self.old_to_new = {}
            for old, (_, (oldref, news)) in conv["OLD_TO_NEW"].items():
                code, district, province, partly = oldref[1]
                self.old_to_new[old] = {"district": district, "province": province, "partly_flag": partly,
                                        "new": [(n[1][0], n[1][1]) for n in news]}
            self.new_to_old = {new: [r[1][0] for r in olds] for new, (_, (_, olds)) in conv["NEW_TO_OLD"].items()}
            legacy = module_values(text("legacy/_lookup.py"))
            self.legacy_districts = {code: args for code, (_, args) in legacy["DISTRICT_MAPPING"].items()}
            self.legacy_wards = {code: args for code, (_, args) in legacy["WARD_MAPPING"].items()}

    def province(self, code: int) -> tuple[str, str]:
        name, _, division, *_ = self.provinces[code]
        return nfc(name), division.rsplit(".", 1)[1]

    def wards_of(self, province: int) -> dict[int, tuple[str, str]]:
        """{code: (name, division)} of the two-level wards of a province, from ``_lookup.py``."""
        return {code: (nfc(a[0]), a[2].rsplit(".", 1)[1]) for code, a in self.wards.items()
                if enum_int(a[4]) == province}

    def check_json_agrees(self, province: int) -> list[str]:
        """Differences between ``_lookup.py`` and ``data/nested-divisions.json`` for a province."""
        notes = []
        entry = next(p for p in self.nested if p["code"] == province)
        name, _ = self.province(province)
        if nfc(entry["name"]) != name:
            notes.append(f"province {province}: _lookup.py says {name!r}, nested-divisions.json {entry['name']!r}")
        js = {w["code"]: nfc(w["name"]) for w in entry["wards"]}
        py = {c: n for c, (n, _) in self.wards_of(province).items()}
        if js != py:
            raise SystemExit(f"error: wheel's JSON and _lookup.py disagree on the wards of {province}: "
                             f"{sorted(set(js.items()) ^ set(py.items()))[:6]}")
        return notes

    def legacy_name(self, code: int) -> str:
        return nfc(self.legacy_wards[code][0])

    def legacy_district(self, code: int) -> int:
        return enum_int(self.legacy_wards[code][4])


# --- building ------------------------------------------------------------------------------------

def load_units(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def derive_jan2025(communes23: dict[str, dict], jan: dict[int, str], final_of) -> dict[str, dict]:
    """Map each 2023 commune to its 1 January 2025 unit: {code23: {"jan": code, "rule": rule}}."""
    by_district = defaultdict(list)
    for code, u in communes23.items():
        by_district[u["parent_code"]].append(int(code))
    out = {}
    for code, u in communes23.items():
        if code in OVERRIDES_2025_01:
            out[code] = {"jan": int(OVERRIDES_2025_01[code]), "rule": "override"}
        elif int(code) in jan:
            out[code] = {"jan": int(code), "rule": "code"}
    for code, u in sorted(communes23.items(), key=lambda kv: int(kv[0])):
        if code in out:
            continue
        survivors = sorted(c for c in by_district[u["parent_code"]] if c in jan)
        same_name = [c for c in survivors if core(jan[c]) == core(u["name"])]
        if len(same_name) == 1:
            out[code] = {"jan": same_name[0], "rule": "name"}
            continue
        gained = [c for c in survivors
                  if (words(jan[c]) - words(communes23[str(c)]["name"])) & words(u["name"])]
        if gained and len({tuple(final_of(c)) for c in gained}) == 1:
            out[code] = {"jan": gained[0] if len(gained) == 1 else None, "final_via": gained[0], "rule": "name-part"}
            continue
        below = [c for c in survivors if c < int(code)]
        above = [c for c in survivors if c > int(code)]
        near = ([below[-1]] if below else []) + ([above[0]] if above else [])
        if near and len({tuple(final_of(c)) for c in near}) == 1:
            out[code] = {"jan": near[0] if len(near) == 1 else None, "final_via": near[0], "rule": "neighbours"}
            continue
        out[code] = {"jan": near[0], "rule": "nearest-code"}
    return out


def build(wheel: WheelData, previous: dict, shipped: dict) -> tuple[dict, dict, list[str]]:
    notes = wheel.check_json_agrees(PROVINCE)
    prov_name, prov_division = wheel.province(PROVINCE)
    wards = wheel.wards_of(PROVINCE)
    counts = {"commune": len(wards), "xã": sum(d == "XA" for _, d in wards.values()),
              "phường": sum(d == "PHUONG" for _, d in wards.values())}
    for key in ("commune", "xã", "phường"):
        assert counts[key] == EXPECTED[key], (key, counts)
    for code, (name, division) in wards.items():
        prefix = {"XA": "Xã ", "PHUONG": "Phường ", "DAC_KHU": "Đặc khu "}[division]
        assert name.startswith(prefix), (code, name, division)

    # The conversion table for new province 24.
    conv_rows = []
    for new in sorted(c for c in wards):
        for old in wheel.new_to_old[new]:
            entry = wheel.old_to_new[old]
            assert entry["province"] in OLD_PROVINCES, (old, entry)
            conv_rows.append({"old_code": old, "new_code": new, "entry": entry})
    successors = defaultdict(list)
    for r in conv_rows:
        successors[r["old_code"]].append(r["new_code"])
    for old, news in successors.items():  # both directions of the table agree
        assert sorted(news) == sorted(n for n, p in wheel.old_to_new[old]["new"] if p == PROVINCE), old
    origin = {new: {wheel.old_to_new[o]["province"] for o in wheel.new_to_old[new]} for new in wards}
    assert sum(o == {24} for o in origin.values()) == EXPECTED["from_24"], origin
    assert sum(o == {27} for o in origin.values()) == EXPECTED["from_27"], origin
    for new in wards:  # a new unit keeps the code of one of its constituents
        if new not in wheel.new_to_old[new]:
            notes.append(f"new ward {new} does not reuse a constituent's code")

    # The shipped 2025-07-01 tree and the codes it carried from the draft list.
    shipped_units = {u["code"]: u for u in shipped["units"]}
    shipped_communes = {int(c): u for c, u in shipped_units.items() if u["level"] == "commune"}
    by_name = {name: code for code, (name, _) in wards.items()}
    assert len(by_name) == len(wards), "ward names are not unique within the province"
    draft_to_official = {}
    for code, u in shipped_communes.items():
        official = by_name.get(nfc(u["name"]))
        assert official is not None, f"{code} {u['name']} of the 2025 file is not in the wheel"
        if official != code:
            draft_to_official[code] = official
    official_to_draft = {v: k for k, v in draft_to_official.items()}
    assert len(shipped_communes) == len(wards)

    # 1 January 2025: old Bắc Giang's wards of the conversion table, with legacy names.
    jan = {old: wheel.legacy_name(old) for old in successors if wheel.old_to_new[old]["province"] == 24}
    legacy_bg = {c for c, a in wheel.legacy_wards.items()
                 if enum_int(a[4]) in wheel.legacy_districts
                 and enum_int(wheel.legacy_districts[enum_int(a[4])][4]) == 24}
    stale = sorted(legacy_bg - set(jan))
    if stale:
        notes.append("legacy Bắc Giang rows not in the conversion table (ignored): "
                     + ", ".join(f"{c} {wheel.legacy_name(c)}" for c in stale))

    def final_of(jan_code: int) -> list[int]:
        return sorted(successors[jan_code])

    communes23 = {u["code"]: u for u in previous["units"] if u["level"] == "commune"}
    jan_map = derive_jan2025(communes23, jan, final_of)

    # Predecessors of the 2025-07-01 units (shipped codes), from the 2023 tree.
    preds_2025 = defaultdict(list)
    audit = []
    for code, m in sorted(jan_map.items(), key=lambda kv: int(kv[0])):
        via = m["jan"] if m["jan"] is not None else m["final_via"]
        finals = final_of(via)
        partial = len(finals) > 1
        for new in finals:
            pred = {"code": code, "valid_from": TREE_2023, "partial": partial}
            if m["jan"] is not None and m["jan"] != int(code):
                pred["via"] = str(m["jan"])
            if m["rule"] not in ("code",):
                pred["derived"] = m["rule"]
            preds_2025[str(official_to_draft.get(new, new))].append(pred)
        audit.append({"code": code, "name": communes23[code]["name"], "district_code": communes23[code]["parent_code"],
                      "jan2025_code": None if m["jan"] is None else str(m["jan"]),
                      "jan2025_name": None if m["jan"] is None else jan[m["jan"]],
                      "rule": m["rule"], "successors_2025": [str(official_to_draft.get(n, n)) for n in finals]})

    def release_rows(province_name: str, codes: dict[int, str], preds: dict[str, list]) -> list[dict]:
        rows = [{"code": str(PROVINCE), "name": province_name, "level": "province", "parent_code": None},
                {"code": f"{PROVINCE}-HCC", "name": centre_name(province_name), "level": "centre",
                 "parent_code": str(PROVINCE)}]
        rows += [{"code": str(c), "name": codes[c], "level": "commune", "parent_code": str(PROVINCE)}
                 for c in sorted(codes)]
        for row in rows:
            if preds.get(row["code"]):
                row["predecessors"] = sorted(preds[row["code"]], key=lambda p: (int(p["code"].split("-")[0]), p["code"]))
        return rows

    # Release 2025-07-01: the shipped tree (names/levels/parents checked equal), complete links.
    top_province = shipped_units[str(PROVINCE)]["name"]
    for special in (str(PROVINCE), f"{PROVINCE}-HCC"):
        preds_2025[special] = [{"code": special, "valid_from": TREE_2023, "partial": False}]
    top = release_rows(top_province, {c: nfc(u["name"]) for c, u in shipped_communes.items()}, preds_2025)
    for row in top:
        old = shipped_units[row["code"]]
        assert (row["name"], row["level"], row["parent_code"]) == (old["name"], old["level"], old["parent_code"]), row

    # Release 2026-01-07: official codes.
    official_names = {c: n for c, (n, _) in wards.items()}
    preds_fix = {str(new): [{"code": str(old), "valid_from": TREE_2025, "partial": False}]
                 for old, new in draft_to_official.items()}
    fix = release_rows(top_province, official_names, preds_fix)

    # Release 2026-09-20: the centrally-run city (when the wheel says so).
    releases = [{"valid_from": CORRECTION_DAY, "date_basis": DATE_BASIS[CORRECTION_DAY], "units": fix}]
    if prov_division == "THANH_PHO_TRUNG_UONG" and prov_name != top_province:
        self_links = {c: [{"code": c, "valid_from": TREE_2025, "partial": False}] for c in (str(PROVINCE), f"{PROVINCE}-HCC")}
        releases.append({"valid_from": CITY_DAY, "date_basis": DATE_BASIS[CITY_DAY],
                         "units": release_rows(prov_name, official_names, self_links)})
    else:
        notes.append(f"province {PROVINCE} is {prov_name!r} ({prov_division}) in the wheel: no city release")

    doc = {"source": f"{PACKAGE}=={wheel.version}", "data_version": wheel.data_version, "source_sha256": wheel.sha256,
           "structure": "2025-two-level", "valid_from": TREE_2025, "province_code": str(PROVINCE),
           "units": top, "releases": releases}

    district_name = lambda d: nfc(wheel.legacy_districts[d][0]) if d in wheel.legacy_districts else None  # noqa: E731
    conversion = {
        "source": f"{PACKAGE}=={wheel.version}", "source_sha256": wheel.sha256,
        "table": f"vietnam_provinces/_ward_conversion_2025.py (SOURCE = {wheel.conv_source!r})",
        "effective_date": wheel.conv_effective, "province_code": str(PROVINCE),
        "partial_rule": "partial = the old ward is listed under more than one new ward; package_flag = the "
                        "package's is_partly_merged (true for 7663, whose official note is 'Giữ nguyên')",
        "rows": [{"old_code": str(r["old_code"]), "old_name": wheel.legacy_name(r["old_code"]),
                  "old_district_code": str(r["entry"]["district"]), "old_district_name": district_name(r["entry"]["district"]),
                  "old_province_code": str(r["entry"]["province"]),
                  "new_code": str(r["new_code"]), "new_name": official_names[r["new_code"]],
                  **({"new_code_2025_file": str(official_to_draft[r["new_code"]])} if r["new_code"] in official_to_draft else {}),
                  "partial": len(successors[r["old_code"]]) > 1, "package_flag": r["entry"]["partly_flag"]}
                 for r in conv_rows],
        "jan2025_rules": "code, name, name-part, neighbours, nearest-code: see tools/export_units_2026.py",
        "from_2023": audit,
    }
    return doc, conversion, notes


# --- writing and checking --------------------------------------------------------------------------

def _units_block(units: list[dict], indent: str) -> str:
    return ",\n".join(indent + json.dumps(u, ensure_ascii=False) for u in units)


def dumps_release_file(doc: dict) -> str:
    """Valid JSON with one unit per line, releases after the top-level tree."""
    head = {k: v for k, v in doc.items() if k not in ("units", "releases")}
    out = [json.dumps(head, ensure_ascii=False)[:-1] + ', "units": [', _units_block(doc["units"], " "), '], "releases": [']
    blocks = []
    for rel in doc["releases"]:
        rhead = {k: v for k, v in rel.items() if k != "units"}
        blocks.append(" " + json.dumps(rhead, ensure_ascii=False)[:-1] + ', "units": [\n'
                      + _units_block(rel["units"], "  ") + "\n ]}")
    out.append(",\n".join(blocks))
    out.append("]}")
    return "\n".join(out) + "\n"


def dumps_conversion(doc: dict) -> str:
    head = {k: v for k, v in doc.items() if k not in ("rows", "from_2023")}
    return (json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [\n' + _units_block(doc["rows"], " ")
            + '\n], "from_2023": [\n' + _units_block(doc["from_2023"], " ") + "\n]}\n")


def simulate(previous_text: str, doc: dict, shipped_text: str) -> list[str]:
    """Import 2023 then each release with the server's own planner; return printable counts."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sync_server.unit_files import ReleaseError, load_release_json, plan_release

    def release_text(valid_from: str, units: list[dict]) -> str:
        return json.dumps({"source": doc["source"], "valid_from": valid_from, "units": units}, ensure_ascii=False)

    def run(texts: list[tuple[str, str]]) -> list[str]:
        versions: dict[str, dict] = {}
        history_codes: set[str] = set()
        links: set[tuple[str, str, str]] = set()
        lines = []
        for label, text in texts:
            release = load_release_json(text)
            current = [v for v in versions.values() if v["valid_to"] is None]
            plan = plan_release(current, links, release)
            new_names = {u["code"]: u["name"] for u in release.units}
            renamed = [c for c in plan.report.changed if versions[c]["name"] != new_names[c]]
            reused = [c for c in plan.report.added if c in history_codes]
            for code in plan.close_codes:
                versions[code]["valid_to"] = plan.day
            for v in plan.open_versions:
                versions[v["code"]] = dict(v, valid_from=plan.day, valid_to=None)
                history_codes.add(v["code"])
            links |= {(link[0], link[1], plan.day) for link in plan.links}
            partial = sum(1 for link in plan.links if len(link) > 2 and link[2])
            lines.append(f"  {label} ({plan.day}): {plan.report.summary()}; partial links {partial}; "
                         f"kept codes with a new name {len(renamed)}; closed codes reused {len(reused)}")
        return lines

    base = [("bac_giang_2023.json", previous_text), ("release", release_text(doc["valid_from"], doc["units"]))]
    base += [("release", release_text(r["valid_from"], r["units"])) for r in doc["releases"]]
    out = ["import into a database seeded with bac_giang_2023.json:"] + run(base)
    try:
        run([base[0], ("bac_ninh_2025.json", shipped_text)] + base[1:])
        out.append("import over an already imported bac_ninh_2025.json: accepted")
    except ReleaseError as exc:
        out.append(f"import over an already imported bac_ninh_2025.json: refused by the planner ({exc}); "
                   "the new links of 2025-07-01 end versions that an earlier import already closed")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {PACKAGE} wheel (default: pip download {VERSION})")
    parser.add_argument("--version", default=VERSION)
    parser.add_argument("--previous", type=Path, required=True, help="the 2023 export (bac_giang_2023.json)")
    parser.add_argument("--shipped-2025", type=Path, required=True, help="the shipped 2025-07-01 export (bac_ninh_2025.json)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--conversion-out", type=Path, required=True)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel_path = args.wheel or download_wheel(args.version, Path(tmp))
        wheel = WheelData(wheel_path)
    previous_text = args.previous.read_text(encoding="utf-8")
    shipped_text = args.shipped_2025.read_text(encoding="utf-8")
    doc, conversion, notes = build(wheel, json.loads(previous_text), json.loads(shipped_text))

    args.out.write_text(dumps_release_file(doc), encoding="utf-8", newline="\n")
    args.conversion_out.write_text(dumps_conversion(conversion), encoding="utf-8", newline="\n")
    json.loads(args.out.read_text(encoding="utf-8"))
    json.loads(args.conversion_out.read_text(encoding="utf-8"))

    print(f"{PACKAGE}=={wheel.version} (data {wheel.data_version}, sha256 {wheel.sha256[:16]}…)")
    for note in notes:
        print("note:", note)
    rules = defaultdict(list)
    for row in conversion["from_2023"]:
        rules[row["rule"]].append(row["code"])
    print("2023 communes -> 1 January 2025 unit:", ", ".join(f"{k} {len(v)}" for k, v in rules.items()))
    for rule in ("name", "name-part", "neighbours", "nearest-code", "override"):
        for code in rules.get(rule, []):
            row = next(r for r in conversion["from_2023"] if r["code"] == code)
            print(f"  {rule}: {code} {row['name']} -> {row['jan2025_code'] or '?'} {row['jan2025_name'] or ''}"
                  f" -> {', '.join(row['successors_2025'])}")
    prev_units = {u["code"]: u for u in json.loads(previous_text)["units"]}
    other = [u["code"] for u in doc["units"] if u["code"] in prev_units and prev_units[u["code"]]["name"] != u["name"]]
    print(f"codes of the 2023 tree naming another unit on 2025-07-01: {len(other)}")
    for line in simulate(previous_text, doc, shipped_text):
        print(line)
    rel = [doc["valid_from"]] + [r["valid_from"] for r in doc["releases"]]
    print(f"wrote {args.out} (releases {', '.join(rel)}) and {args.conversion_out} ({len(conversion['rows'])} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
