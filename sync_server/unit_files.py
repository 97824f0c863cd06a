"""Unit releases: reading them from files, and planning an import against the stored history.

A *release* is one province's whole tree as of a date: the JSON files under ``assets/units/``
(written by ``tools/export_units.py`` for 2023 and ``tools/export_units_2025.py`` for the
two-level structure since 2025-07-01) or a CSV (``docs/units.md``). Importing it closes, at that
date, every unit of the province the release no longer lists, opens a new version for every unit
whose name, level or parent changed, and adds the new ones. No SQL here: the storage back end
calls :func:`plan_release` inside its transaction and applies the plan.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sync_server.storage.types import ImportReport, UnitRelease

LEVELS = ("province", "centre", "district", "commune")
LEVEL_ORDER = {level: i for i, level in enumerate(LEVELS)}
CSV_COLUMNS = ("code", "name", "level", "parent_code", "predecessors")
_CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")


class ReleaseError(ValueError):
    """A release file or plan is inconsistent; the message names the row or code."""


def tree_key(unit: dict) -> tuple:
    """Sort key: level, then the numeric part of the code (``24``, ``24-HCC``, ``213``, ``7201``)."""
    head = unit["code"].split("-")[0]
    return (LEVEL_ORDER.get(unit["level"], 9), int(head) if head.isdigit() else 0, unit["code"])


def _check_date(text: str, what: str) -> str:
    try:
        date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ReleaseError(f"{what}: {text!r} is not a date YYYY-MM-DD") from None
    return text


def _clean_unit(raw: dict, where: str) -> dict:
    code = str(raw.get("code") or "").strip()
    if not _CODE_RE.match(code):
        raise ReleaseError(f"{where}: code {code!r} is not a unit code")
    name = unicodedata.normalize("NFC", str(raw.get("name") or "").strip())
    if not name or len(name) > 200:
        raise ReleaseError(f"{where} ({code}): name is required (at most 200 characters)")
    level = str(raw.get("level") or "").strip()
    if level not in LEVELS:
        raise ReleaseError(f"{where} ({code}): level must be one of {', '.join(LEVELS)}")
    parent = raw.get("parent_code")
    parent = str(parent).strip() if parent not in (None, "") else None
    preds = raw.get("predecessors") or []
    if isinstance(preds, str):
        preds = [p for p in re.split(r"[;\s]+", preds) if p]
    if not isinstance(preds, list):
        raise ReleaseError(f"{where} ({code}): predecessors must be a list")
    return {"code": code, "name": name, "level": level, "parent_code": parent,
            "predecessors": [_clean_predecessor(p, f"{where} ({code})") for p in preds]}


def _clean_predecessor(raw, where: str) -> dict:
    """A predecessor as a code (``"7201"``, a whole merge) or ``{"code", "valid_from"?, "partial"?}``
    (issue 13: ``partial`` when the old unit was split among several new ones)."""
    if isinstance(raw, dict):
        code, partial = str(raw.get("code") or "").strip(), raw.get("partial", False)
        if not isinstance(partial, bool):
            raise ReleaseError(f"{where}: predecessor {code!r}: partial must be true or false")
        since = raw.get("valid_from")
        if since is not None:
            since = _check_date(str(since), f"{where}: predecessor {code!r} valid_from")
    else:
        code, partial, since = str(raw).strip(), False, None
    if not _CODE_RE.match(code):
        raise ReleaseError(f"{where}: predecessor {code!r} is not a unit code")
    return {"code": code, "partial": partial, "valid_from": since}


def check_release(release: UnitRelease) -> UnitRelease:
    """Validate the tree: one province at the root, known parents, no duplicate codes."""
    _check_date(release.valid_from, "valid_from")
    codes = [u["code"] for u in release.units]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ReleaseError(f"duplicate unit code(s): {', '.join(dupes[:5])}")
    province = release.province_code
    known = set(codes)
    for u in release.units:
        if u["level"] == "province":
            if u["parent_code"] is not None:
                raise ReleaseError(f"{u['code']}: the province row has no parent")
        elif u["parent_code"] not in known:
            raise ReleaseError(f"{u['code']}: parent {u['parent_code']!r} is not in the release")
    by_code = {u["code"]: u for u in release.units}
    for u in release.units:  # every row must reach the province
        seen, cur = set(), u
        while cur["parent_code"] is not None:
            if cur["code"] in seen:
                raise ReleaseError(f"{u['code']}: the parent links form a loop")
            seen.add(cur["code"])
            cur = by_code[cur["parent_code"]]
        if cur["code"] != province:
            raise ReleaseError(f"{u['code']}: does not hang under province {province}")
    release.units.sort(key=tree_key)
    return release


def load_release_json(text: str, source: str = "") -> UnitRelease:
    """A release from the JSON shape of ``assets/units/*.json`` (its first tree; see :func:`load_releases_json`)."""
    return load_releases_json(text, source)[0]


def load_releases_json(text: str, source: str = "") -> list[UnitRelease]:
    """Every dated tree of a unit file, oldest first: the top-level ``valid_from``/``units``, then
    each of ``releases`` (``[{"valid_from", "units"}]``, issue 13: e.g. the 2026 code corrections
    and the city status of Bắc Ninh), each a whole tree as of its date."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ReleaseError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("units"), list):
        raise ReleaseError("a unit file is a JSON object with 'valid_from' and 'units'")
    trees = [doc] + list(doc.get("releases") or [])
    out = []
    for t, tree in enumerate(trees):
        if not isinstance(tree, dict) or not isinstance(tree.get("units"), list):
            raise ReleaseError(f"releases[{t - 1}]: a release is an object with 'valid_from' and 'units'")
        where = "units" if t == 0 else f"releases[{t - 1}].units"
        units = [_clean_unit(u if isinstance(u, dict) else {}, f"{where}[{i}]") for i, u in enumerate(tree["units"])]
        links = [(str(a), str(b)) for a, b in tree.get("links", [])]
        out.append(check_release(UnitRelease(str(tree.get("valid_from") or ""), units, doc.get("source") or source, links)))
    if [r.valid_from for r in out] != sorted(r.valid_from for r in out):
        raise ReleaseError("the releases of a unit file must be in date order")
    return out


def load_release_csv(text: str, valid_from: str | None, source: str = "") -> UnitRelease:
    """A release from CSV with the header ``code,name,level,parent_code[,predecessors][,valid_from]``.

    ``predecessors`` holds codes separated by ``;``. The date comes from ``valid_from`` (argument),
    else from a ``valid_from`` column holding one date for every row.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS[:4] if c not in header]
    if missing:
        raise ReleaseError(f"CSV header lacks column(s): {', '.join(missing)} (expected {','.join(CSV_COLUMNS)})")
    unknown = [h for h in header if h not in CSV_COLUMNS + ("valid_from",)]
    if unknown:
        raise ReleaseError(f"CSV has unknown column(s): {', '.join(unknown)}")
    rows = list(reader)
    dates = {(r.get("valid_from") or "").strip() for r in rows} - {""}
    if valid_from is None:
        if len(dates) != 1:
            raise ReleaseError("give the release date (--valid-from) or one valid_from for every row")
        valid_from = dates.pop()
    units = [_clean_unit({k.strip(): (v or "").strip() for k, v in r.items() if k}, f"line {i + 2}") for i, r in enumerate(rows)]
    return check_release(UnitRelease(valid_from, units, source))


def load_releases(path: Path, valid_from: str | None = None) -> list[UnitRelease]:
    """Every dated tree in a unit file (JSON: all of them; CSV: its one)."""
    if path.suffix.lower() == ".json":
        return load_releases_json(path.read_text(encoding="utf-8"), source=path.name)
    return [load_release(path, valid_from)]


def load_release(path: Path, valid_from: str | None = None) -> UnitRelease:
    """A release from a ``.json`` or ``.csv`` file."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix.lower() == ".csv":
        return load_release_csv(text, valid_from, source=Path(path).name)
    release = load_release_json(text, source=Path(path).name)
    if valid_from is not None:
        release.valid_from = _check_date(valid_from, "valid_from")
    return release


# --- planning ----------------------------------------------------------------------------------

# Words naming the kind of a unit, not the unit: "Tỉnh Bắc Ninh" becoming "Thành phố Bắc Ninh" (2026-09-20),
# "Thị trấn Nếnh" becoming "Phường Nếnh", "Trung tâm … tỉnh Bắc Ninh" becoming "… thành phố Bắc Ninh".
_KIND_WORDS = re.compile(r"\b(?:thành phố|thị xã|thị trấn|tỉnh|huyện|quận|xã|phường)\b", re.IGNORECASE)


def proper_name(name: str) -> str:
    """A unit's name without the words of its kind, case-folded: what stays when only its status changes."""
    return " ".join(_KIND_WORDS.sub(" ", unicodedata.normalize("NFC", name)).split()).casefold()


def is_reuse(old: dict, new: dict) -> bool:
    """Whether the new version of a code names another unit than its old version (a reused code).

    A new version continues the old one when it keeps the name (regrouped under another parent,
    or grown by a merger under its own name), or when it takes over the old unit alone (no other
    predecessor) and only the kind in its name changed: the province becoming a city on
    2026-09-20 and its centre's rename are the same units. A merger under a new name (7210: Phường
    Hoàng Văn Thụ, then Phường Bắc Giang of eight old units) or another place's name under the
    code (24: Tỉnh Bắc Giang, then Tỉnh Bắc Ninh) is a reuse.
    """
    if old["name"] == new["name"]:
        return False
    others = [p for p in new.get("predecessors", ()) if p["code"] != new["code"]]
    return bool(others) or proper_name(old["name"]) != proper_name(new["name"])

@dataclass
class ReleasePlan:
    """What to write: versions to open (in tree order), versions to close, links to add."""

    day: str
    open_versions: list[dict] = field(default_factory=list)
    close_codes: list[str] = field(default_factory=list)
    links: list[tuple[str, str, bool]] = field(default_factory=list)  # (from, to, partial)
    report: ImportReport = field(default_factory=ImportReport)


def plan_release(current: list[dict], existing_links: set[tuple[str, str, str]], release: UnitRelease,
                 ended_on_day: set[str] = frozenset()) -> ReleasePlan:
    """Compare the release with the open versions (``current``: rows with ``valid_to`` None).

    ``ended_on_day``: codes with a version that already ended on the release's date (a second
    import of the same date adding links, e.g. the 2026 file over the 2025 one)."""
    day = release.valid_from
    plan = ReleasePlan(day)
    open_by_code = {v["code"]: v for v in current if v["valid_to"] is None}
    province = release.province_code

    def in_province(code: str) -> bool:
        seen = set()
        while code is not None and code not in seen:
            if code == province:
                return True
            seen.add(code)
            code = open_by_code[code]["parent_code"] if code in open_by_code else None
        return False

    listed = set()
    for u in release.units:
        listed.add(u["code"])
        cur = open_by_code.get(u["code"])
        attrs = (u["name"], u["level"], u["parent_code"])
        if cur is not None and (cur["name"], cur["level"], cur["parent_code"]) == attrs:
            plan.report.unchanged += 1
            continue
        if cur is not None:
            if cur["valid_from"] >= day:
                raise ReleaseError(f"{u['code']}: the release dated {day} is not newer than its version from {cur['valid_from']}")
            plan.close_codes.append(u["code"])
            plan.report.changed.append(u["code"])
            if is_reuse(cur, u):
                plan.report.reused.append(u["code"])  # the same code now names another unit (issue 13)
        else:
            plan.report.added.append(u["code"])
        plan.open_versions.append({k: u[k] for k in ("code", "name", "level", "parent_code")})
    for code in sorted((c for c in open_by_code if c not in listed and in_province(c)),
                       key=lambda c: tree_key(open_by_code[c])):
        if open_by_code[code]["valid_from"] >= day:
            raise ReleaseError(f"{code}: cannot close on {day} a version that starts {open_by_code[code]['valid_from']}")
        plan.close_codes.append(code)
        plan.report.closed.append(code)
    ending = set(plan.close_codes) | set(ended_on_day)
    wanted = [(p["code"], u["code"], p["partial"]) for u in release.units for p in u.get("predecessors", [])]
    wanted += [(a, b, False) for a, b in release.links]
    for old, new, partial in wanted:
        if (old, new, day) in existing_links or (old == new and old not in ending):
            continue
        if old not in ending:
            raise ReleaseError(f"predecessor {old} of {new}: no version of {old} ends on {day}")
        if new not in listed:
            raise ReleaseError(f"successor {new} of {old} is not in the release")
        plan.links.append((old, new, partial))
    plan.report.links = len(plan.links)
    return plan
