"""``hailong-server import-dossiers`` and ``hailong-server official``: the dossier register and the
official measure (QĐ 766 item 5.4) on the command line. Both call the same use cases as the pages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hailong_core.timeutil import parse_day
from sync_server.dossiers import DEFAULT_HEADER, MappingError, import_register
from sync_server.results.official import OfficialError, as_json, as_text, measure


def add_parsers(sub) -> None:
    imp = sub.add_parser("import-dossiers", help="import the dossier register (CSV or XLSX from the one-stop information "
                                                 "system); all of the file or, when a row has a problem, nothing of it")
    imp.add_argument("file", type=Path, help=f"FILE.csv or FILE.xlsx; default header: {DEFAULT_HEADER}")
    imp.add_argument("--mapping", type=Path, help='JSON {"our column": "the file\'s header"} for an export with other headers')
    imp.add_argument("--json", action="store_true")
    off = sub.add_parser("official", help="the official satisfaction measure (QĐ 766 item 5.4) per unit over a window")
    off.add_argument("--from", dest="date_from", required=True, help="first day YYYY-MM-DD (or DD/MM/YYYY)")
    off.add_argument("--to", dest="date_to", required=True, help="last day YYYY-MM-DD (or DD/MM/YYYY)")
    off.add_argument("--unit", help="this unit and its subtree in the structure in force on --to (default: the province)")
    off.add_argument("--json", action="store_true")


def _import_dossiers(storage, settings, args) -> int:
    try:
        data = args.file.read_bytes()
        mapping = args.mapping.read_bytes() if args.mapping else None
        result = import_register(storage, settings, data, args.file.name, mapping=mapping, via="cli")
    except (MappingError, OSError) as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    if not result.stored:
        for problem in result.problems:
            print(f"{args.file.name}: {problem}", file=sys.stderr)
        if result.more_problems:
            print(f"{args.file.name}: … and {result.more_problems} more problems", file=sys.stderr)
        print(f"hailong-server: {result.summary()}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"{args.file.name}: {result.summary()}")
    return 0


def _official(storage, settings, args) -> int:
    try:
        date_from, date_to = parse_day(args.date_from), parse_day(args.date_to)
    except ValueError as exc:
        print(f"hailong-server: --from/--to: {exc}", file=sys.stderr)
        return 2
    try:
        result = measure(storage, settings, date_from, date_to, args.unit)
    except OfficialError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    if result.measured_from is None:
        print(f"hailong-server: {result.notes[0]}", file=sys.stderr)
        return 2
    print(json.dumps(as_json(result), ensure_ascii=False, indent=1) if args.json else as_text(result))
    return 0


COMMANDS = {"import-dossiers": _import_dossiers, "official": _official}
