"""Dossiers (issue 14): the register imported from the one-stop information system, and the dossier
code a phone link brings to a rating. One use case each, called by the CLI (``import-dossiers``),
the admin upload page and the tests alike.

The register import (:func:`import_register`) reads a CSV or XLSX export, checks every row, and
stores the file in one transaction only when no row has a problem: an unknown unit or a malformed
row (bad date, empty code, due before received, …) is reported with its line number, every such
problem listed up to ``dossier_import_max_problems``, and nothing of that file is stored. A stored
file is idempotent by dossier code: a row already stored with the same fields adds nothing, a
changed row updates it with an audit entry (field → [old, new]). Formats, the column mapping and
the decisions behind them: docs/dossiers.md.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterator

from hailong_core.dossier import normalise_dossier_code, valid_dossier_code
from sync_server.kiosk_config import dossier_code_fits
from sync_server.storage import Storage, User

#: Our column names, in the default CSV header's order, and the register field each fills.
COLUMNS = {"ma_ho_so": "code", "unit_code": "unit_code", "linh_vuc": "field", "thu_tuc": "procedure_name",
           "ngay_tiep_nhan": "received_on", "ngay_hen_tra": "due_on", "ngay_tra": "returned_on", "trang_thai": "status",
           "kenh": "channel"}
#: Columns a file may add: the complaint (PAKN) marker, our site id (``hailong-server sites``), the counter.
OPTIONAL_COLUMNS = {"co_phan_anh": "complaint", "diem_tiep_nhan": "site_id", "quay": "counter"}
ALL_COLUMNS = {**COLUMNS, **OPTIONAL_COLUMNS}
DEFAULT_HEADER = ",".join(COLUMNS)
#: A file must have these columns (a dossier's unit and dates decide the measure); the others may be missing.
REQUIRED_COLUMNS = ("ma_ho_so", "unit_code", "ngay_tiep_nhan", "ngay_hen_tra", "ngay_tra")
DATE_COLUMNS = ("ngay_tiep_nhan", "ngay_hen_tra", "ngay_tra")
TEXT_MAX = 500
HEADER_SEARCH_ROWS = 20  # exports often put a title and a blank row above the header
YEARS = (2000, 2099)     # a date outside is a typing slip or an Excel serial number, not a dossier's
TRUE_MARKS = frozenset(("1", "x", "có", "co", "yes", "y", "true", "t", "pakn"))
FALSE_MARKS = frozenset(("", "0", "không", "khong", "no", "n", "false", "f"))

_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")


class MappingError(ValueError):
    """A column mapping that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused: its line (the file's own numbering, header included; None for the
    file as a whole), the column (our name) and what is wrong."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"dòng {self.line}" if self.line is not None else "tệp"
        return f"{where}{f' ({self.column})' if self.column else ''}: {self.message}"


@dataclass
class RegisterImport:
    """What an import did: the counts when stored, else the problems (nothing of the file stored)."""

    source: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0  # problems beyond the listed ones
    stored: bool = False

    @property
    def ok(self) -> bool:
        return self.stored and not self.problems

    def summary(self) -> str:
        if self.stored:
            return f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}"
        total = len(self.problems) + self.more_problems
        return f"refused: {total} problem{'s' if total != 1 else ''}; nothing of {self.source} was stored"

    def as_dict(self) -> dict:
        return {"source": self.source, "stored": self.stored, "rows": self.rows, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "more_problems": self.more_problems,
                "problems": [{"line": p.line, "column": p.column, "message": p.message} for p in self.problems]}


class _Problems:
    """Problems up to a cap, counting the rest."""

    def __init__(self, cap: int):
        self.cap = cap
        self.items: list[Problem] = []
        self.more = 0

    def add(self, line: int | None, column: str | None, message: str) -> None:
        if len(self.items) < self.cap:
            self.items.append(Problem(line, column, message))
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.items)


# --- the column mapping --------------------------------------------------------------------------

def load_mapping(data: bytes | str | dict | None) -> dict[str, str]:
    """A column mapping ``{our column name: the file's header}`` from JSON text or a dict; raises
    :class:`MappingError`. Columns it does not name keep their default header (their own name)."""
    if data is None:
        return {}
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise MappingError(f"the mapping is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError('the mapping must be a JSON object {"our column": "their header"}')
    unknown = sorted(k for k in data if k not in ALL_COLUMNS)
    if unknown:
        raise MappingError(f"unknown column {unknown[0]!r} in the mapping; ours are {', '.join(ALL_COLUMNS)}")
    if not all(isinstance(v, str) and v.strip() for v in data.values()):
        raise MappingError("every header in the mapping must be a non-empty string")
    headers = [_header(v) for v in data.values()]
    if len(set(headers)) != len(headers):
        raise MappingError("two of our columns are mapped to the same header")
    return dict(data)


def _header(text: Any) -> str:
    """A header cell as matched: no BOM, white space collapsed, case folded."""
    return " ".join(str(text or "").replace("\ufeff", "").split()).casefold()


# --- reading the file ----------------------------------------------------------------------------

def _csv_rows(data: bytes, wanted: str, problems: _Problems) -> Iterator[tuple[int, list]] | None:
    """``(line, cells)`` of a CSV (UTF-8, BOM allowed; ``,`` ``;`` or tab between fields), or None after a problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(None, None, f"not UTF-8 text (byte {exc.start}): save the export as 'CSV UTF-8'")
        return None
    # The separator is the one whose reading of the first lines shows our code column's header.
    for delimiter in (",", ";", "\t"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            for _, cells in zip(range(HEADER_SEARCH_ROWS), reader):
                if wanted in (_header(c) for c in cells):
                    return _numbered(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
    return _numbered(csv.reader(io.StringIO(text, newline="")))


def _numbered(reader) -> Iterator[tuple[int, list]]:
    last = 0
    for cells in reader:
        yield last + 1, cells  # the line the record starts on (a quoted field may span lines)
        last = reader.line_num


def _xlsx_rows(data: bytes, problems: _Problems) -> Iterator[tuple[int, list]] | None:
    """``(row number, cells)`` of the workbook's first sheet, or None after a problem."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zipfile, XML and openpyxl errors alike: the file is unreadable
        problems.add(None, None, f"not a readable XLSX workbook ({type(exc).__name__})")
        return None

    def rows() -> Iterator[tuple[int, list]]:
        try:
            # Read-only sheets yield an empty row for each missing one, so the count is the sheet's row number.
            for number, cells in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
                yield number, list(cells)
        finally:
            book.close()
    return rows()


# --- checking a row ------------------------------------------------------------------------------

def _text(value: Any) -> str:
    """A cell as text: numbers without a stray ``.0`` (Excel stores a code like 7201 as a number)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_register_date(value: Any) -> str | None:
    """A register date as stored: ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS`` when it has a time; None when
    empty. Accepts ``DD/MM/YYYY`` and ISO ``YYYY-MM-DD``, each with an optional ``HH:MM[:SS]``, and
    spreadsheet dates. Raises ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=None)
        return _checked(moment.date(), None if moment.time() == datetime.min.time() else moment.time().replace(microsecond=0))
    if isinstance(value, date):
        return _checked(value, None)
    if not isinstance(value, str):
        raise ValueError(f"{_text(value)!r} is not a date (DD/MM/YYYY or YYYY-MM-DD, with an optional time)")
    text = value.strip()
    m = _DMY.match(text)
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _ISO.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a date (DD/MM/YYYY or YYYY-MM-DD, with an optional time)")
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        when = date(year, month, day)
        clock = None
        if m.group(4) is not None:
            clock = datetime(2000, 1, 1, int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)).time()
    except ValueError:
        raise ValueError(f"{text!r} is not a date of the calendar") from None
    return _checked(when, clock)


def _checked(day: date, clock) -> str:
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValueError(f"{day.isoformat()}: the year must be from {YEARS[0]} to {YEARS[1]}")
    return day.isoformat() if clock is None else f"{day.isoformat()}T{clock.isoformat(timespec='seconds')}"


def before(a: str, b: str) -> bool:
    """Whether register date ``a`` is strictly before ``b``: by day, and by time only when both have one
    (a day without a time means "some time that day")."""
    if a[:10] != b[:10] or len(a) == 10 or len(b) == 10:
        return a[:10] < b[:10]
    return a < b


def _complaint(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and float(value).is_integer() and value >= 0:
        return int(value > 0)  # a count of PAKN: any is a complaint
    text = _text(value).casefold()
    if text in TRUE_MARKS:
        return 1
    if text in FALSE_MARKS:
        return 0
    if text.isdigit():
        return int(int(text) > 0)
    raise ValueError(f"{_text(value)!r} is not a complaint marker (1/0, x, có/không)")


class _Checker:
    """Turns one data row into a register row, noting its problems."""

    def __init__(self, storage: Storage, columns: dict[str, int], problems: _Problems):
        self.columns = columns
        self.problems = problems
        self.units = {v["code"] for v in storage.unit_versions()}
        self.sites = {s["id"]: s["unit_code"] for s in storage.sites(include_closed=True)}

    def cell(self, cells: list, name: str) -> Any:
        index = self.columns.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    def row(self, line: int, cells: list) -> dict | None:
        bad = False

        def problem(column: str, message: str) -> None:
            nonlocal bad
            bad = True
            self.problems.add(line, column, message)

        out: dict[str, Any] = {}
        raw = _text(self.cell(cells, "ma_ho_so"))
        code = normalise_dossier_code(raw)
        if not code:
            problem("ma_ho_so", "the dossier code is empty")
        elif not valid_dossier_code(code):
            problem("ma_ho_so", f"{raw!r} is not a dossier code (1 to 64 letters, digits or . _ / -)")
        out["code"] = code
        unit = _text(self.cell(cells, "unit_code"))
        if not unit:
            problem("unit_code", "the unit code is empty")
        elif unit not in self.units:
            problem("unit_code", f"unknown unit {unit!r} (see 'hailong-server units')")
        out["unit_code"] = unit
        for name in DATE_COLUMNS:
            try:
                out[COLUMNS[name]] = parse_register_date(self.cell(cells, name))
            except ValueError as exc:
                problem(name, str(exc))
                out[COLUMNS[name]] = "?"
        received, due, returned = out["received_on"], out["due_on"], out["returned_on"]
        if received is None:
            problem("ngay_tiep_nhan", "the date received is empty")
        if due is None:
            problem("ngay_hen_tra", "the due date (ngày hẹn trả) is empty")
        if received not in (None, "?"):
            if due not in (None, "?") and before(due, received):
                problem("ngay_hen_tra", f"due {due} is before received {received}")
            if returned not in (None, "?") and before(returned, received):
                problem("ngay_tra", f"returned {returned} is before received {received}")
        for name in ("linh_vuc", "thu_tuc", "trang_thai", "kenh", "quay"):
            text = _text(self.cell(cells, name))
            if len(text) > TEXT_MAX:
                problem(name, f"longer than {TEXT_MAX} characters")
            out[ALL_COLUMNS[name]] = text or None
        try:
            out["complaint"] = _complaint(self.cell(cells, "co_phan_anh"))
        except ValueError as exc:
            problem("co_phan_anh", str(exc))
        site = _text(self.cell(cells, "diem_tiep_nhan"))
        out["site_id"] = None
        if site:
            if not site.isdigit() or int(site) not in self.sites:
                problem("diem_tiep_nhan", f"{site!r} is not a site id (see 'hailong-server sites')")
            elif unit and self.sites[int(site)] != unit:
                problem("diem_tiep_nhan", f"site {site} is not a site of unit {unit}")
            else:
                out["site_id"] = int(site)
        return None if bad else out


# --- the use case --------------------------------------------------------------------------------

def import_register(storage: Storage, settings, data: bytes, filename: str, *, mapping: dict | bytes | str | None = None,
                    user: User | None = None, via: str = "web", now: datetime | None = None) -> RegisterImport:
    """Import one register file (CSV or XLSX: by its name, else by its content) with an optional column
    mapping ``{our column: their header}``; store it whole in one transaction, or nothing of it.

    Returns a :class:`RegisterImport`: its counts when stored, else its problems with line numbers.
    Raises :class:`MappingError` for a mapping that cannot be used (the caller's input, not the file's).
    """
    result = RegisterImport(source=filename)
    problems = _Problems(settings.dossier_import_max_problems)
    headers = {ours: _header(ours) for ours in ALL_COLUMNS}
    headers.update((ours, _header(theirs)) for ours, theirs in load_mapping(mapping).items())
    limit = int(settings.dossier_import_max_mb * 1024 * 1024)
    if len(data) > limit:
        problems.add(None, None, f"the file has {len(data)} bytes; at most {limit} (setting dossier_import_max_mb)")
        return _refused(result, problems)
    name = filename.lower()
    if name.endswith(".xls"):
        problems.add(None, None, "an old .xls workbook: save it as .xlsx or as 'CSV UTF-8'")
        return _refused(result, problems)
    if name.endswith(".xlsx") or (not name.endswith(".csv") and data[:4] == b"PK\x03\x04"):
        rows = _xlsx_rows(data, problems)
    else:
        rows = _csv_rows(data, headers["ma_ho_so"], problems)
    if rows is None:
        return _refused(result, problems)
    read = _read_rows(storage, settings, rows, headers, problems, result)
    if problems or read is None:
        return _refused(result, problems)
    stored, columns = read
    _keep_absent_columns(storage, stored, columns)
    now = now or datetime.now(timezone.utc)
    result.added, result.updated, result.unchanged = storage.import_dossiers(stored, filename, now, user=user, via=via)
    result.stored = True
    return result


def _keep_absent_columns(storage: Storage, rows: list[dict], columns: dict[str, int]) -> None:
    """A file without an optional column (the default nine-column header has no complaint, site or
    counter) says nothing about it: a dossier already stored keeps its value there, so a re-import
    neither clears a complaint nor forgets a counter. Only the columns the file has update."""
    absent = [f for name, f in ALL_COLUMNS.items() if name not in columns]  # required ones are never absent here
    if not absent or not rows:
        return
    stored = storage.dossiers_by_code([r["code"] for r in rows])
    for row in rows:
        old = stored.get(row["code"])
        if old is not None:
            row.update((f, old[f]) for f in absent)


def _read_rows(storage, settings, rows, headers: dict[str, str], problems: _Problems,
               result: RegisterImport) -> tuple[list[dict], dict[str, int]] | None:
    columns: dict[str, int] | None = None
    checker = None
    out: list[dict] = []
    seen: dict[str, tuple[int, dict]] = {}
    for line, cells in rows:
        if columns is None:
            if line > HEADER_SEARCH_ROWS:
                break
            found = [_header(c) for c in cells]
            if headers["ma_ho_so"] not in found:
                continue
            columns = {}
            for ours, wanted in headers.items():
                if found.count(wanted) > 1:
                    problems.add(line, ours, f"the header {wanted!r} appears twice")
                elif wanted in found:
                    columns[ours] = found.index(wanted)
            for ours in REQUIRED_COLUMNS:
                if ours not in columns:
                    problems.add(line, ours, f"no column {headers[ours]!r} in the header")
            if problems:
                return None
            checker = _Checker(storage, columns, problems)
            continue
        if all(_text(c) == "" for c in cells):
            continue  # blank lines between blocks of an export
        result.rows += 1
        if result.rows > settings.dossier_import_max_rows:
            problems.add(line, None, f"more than {settings.dossier_import_max_rows} dossiers in one file "
                                     "(setting dossier_import_max_rows): split it, e.g. by month")
            return None
        row = checker.row(line, cells)
        if row is None:
            continue
        earlier = seen.get(row["code"])
        if earlier is not None:
            if earlier[1] != row:
                problems.add(line, "ma_ho_so", f"dossier {row['code']} is also on line {earlier[0]}, with other values")
            continue  # the same row twice adds nothing twice
        seen[row["code"]] = (line, row)
        out.append(row)
    if columns is None:
        problems.add(None, "ma_ho_so", f"no header row with the column {headers['ma_ho_so']!r} in the first "
                                       f"{HEADER_SEARCH_ROWS} lines (default header: {DEFAULT_HEADER})")
        return None
    return out, columns


def _refused(result: RegisterImport, problems: _Problems) -> RegisterImport:
    result.problems, result.more_problems, result.stored = problems.items, problems.more, False
    return result


# --- the phone link's dossier code ---------------------------------------------------------------

class DossierCodeRefused(ValueError):
    """A ``?d=`` value that is not a receipt code of the unit (``code`` for the error catalogue)."""

    code = "dossier_code_invalid"


def dossier_code_for_link(storage: Storage, settings, unit_code: str, raw: str | None) -> str | None:
    """The dossier code a phone link (``/s/<point>?d=…``) brings, as a record carries it: None when the link
    has none, else the normalised code; raises :class:`DossierCodeRefused` when it does not fit the
    protocol or the unit's pattern (the form then says so and lets the citizen rate without it)."""
    if raw is None or not raw.strip():
        return None
    code = normalise_dossier_code(raw)
    if not dossier_code_fits(storage, settings, unit_code, code):
        raise DossierCodeRefused("this is not a receipt's dossier code")
    return code


def attach_dossier_code(record: dict, code: str | None) -> dict:
    """Put ``code`` (from :func:`dossier_code_for_link`) on a phone record before it goes to ingest, which
    stores it and settles whether the rating counts for the dossier (the first received does)."""
    if code:
        record["dossier_code"] = code
    return record
