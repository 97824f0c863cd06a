"""``hailong-server export`` and ``hailong-server api-tokens``: the results on the command line."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

from sync_server import security
from sync_server.results import export as exports
from sync_server.results.model import Filters
from sync_server.results.report import Report, WindowError, resolve_window
from sync_server.storage import StorageRefused


from sync_server.indexes import ServerState as _State


def export(storage, settings, args) -> int:
    """The province's (or one unit's) report; the command line runs with province scope."""
    state = _State(settings, storage)
    try:
        window = resolve_window(storage, settings, args.campaign, args.date_from, args.date_to)
    except WindowError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    # ``--include incomplete`` stays a valid choice (scripts pass it) and changes nothing: those answers always count.
    report = Report.build(state, None, window, Filters("misuse" in args.include, history=args.history), complete=True)
    focus = args.unit or report.tree.root()
    if focus not in report.tree.units:
        print(f"hailong-server: unit {focus!r} is not in the tree on {window.end} (see 'hailong-server units')", file=sys.stderr)
        return 2
    if args.format == "xlsx":
        args.out.write_bytes(exports.build_xlsx(state, report, focus, "province_admin"))
    else:
        args.out.write_text(exports.report_csv(report, focus, machine=args.format == "csv-machine"), encoding="utf-8")
    structure = report.structure()
    print(f"wrote {args.out} ({report.tree.units[focus]['name']}, {window.start} – {window.end})")
    if structure:
        print(structure["text"].vi)
    return 0


def api_tokens(storage, settings, args) -> int:
    now = datetime.now(timezone.utc)
    if args.tokens_command == "list":
        for t in storage.api_tokens():
            state = "revoked" if t["revoked_at"] else "active"
            print(f"{t['name']:<24} {t['unit_code'] or 'province':>8}  {state:<7}  created {t['created_at']}")
        return 0
    if args.tokens_command == "revoke":
        if storage.revoke_api_token(args.name, now):
            storage.audit(now, None, "api_token.revoke", args.name, {"via": "cli"})
            print(f"revoked {args.name}")
            return 0
        print(f"hailong-server: no active API token named {args.name!r}", file=sys.stderr)
        return 2
    unit = None
    if not args.province:
        found = storage.unit(args.scope_unit)
        if found is None:
            print(f"hailong-server: no unit with code {args.scope_unit!r}", file=sys.stderr)
            return 2
        unit = found["code"]
    token = security.new_token()
    try:
        storage.add_api_token(args.name, security.digest(token), unit, now)
    except StorageRefused as exc:
        print(f"hailong-server: {exc.message}", file=sys.stderr)
        return 2
    storage.audit(now, None, "api_token.add", args.name, {"unit_code": unit, "via": "cli"})
    print(f"API token {args.name!r} for {unit or 'the whole province'}; shown once, keep it secret:")
    print(token)
    return 0
