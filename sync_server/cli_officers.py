"""``hailong-server officers``: officer rosters on the command line (list, add, edit), with the same
rules as the officer pages: a unit in force that is not the province, and optionally one of its
open sites (``--site``; a kiosk at a site carries the unit's officers of no site and that site's).
PINs and photos are set on the officer pages."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from hailong_core import procedure_groups
from sync_server import days
from sync_server.site_rules import SiteRefused, new_officer_id, officer_site, officer_unit


def add_parsers(sub) -> None:
    off = sub.add_parser("officers", help="officer rosters: list, add, edit (PINs and photos: the officer pages)")
    off_sub = off.add_subparsers(dest="officers_command", required=True)
    lst = off_sub.add_parser("list", help="list officers")
    lst.add_argument("--unit", help="only this unit's officers")
    lst.add_argument("--json", action="store_true")
    add = off_sub.add_parser("add", help="add an officer; prints the new id on the last line")
    add.add_argument("--unit", required=True, help="the unit (a centre, district or commune in force)")
    add.add_argument("--name", required=True)
    add.add_argument("--title")
    add.add_argument("--site", help="one of the unit's open sites (see 'hailong-server sites --unit CODE'); "
                                    "default: none, the officer shows on every site's kiosks")
    # Checked when the command runs, not here: building the parser must not read the shipped assets
    # (a wheel installed without them still answers --help).
    add.add_argument("--procedure-group", dest="procedure_group", help="a procedure group (lĩnh vực) code of the catalogue")
    edit = off_sub.add_parser("edit", help="change an officer's unit, site, name, title or state")
    edit.add_argument("--id", required=True, dest="officer_id")
    edit.add_argument("--unit")
    edit.add_argument("--name")
    edit.add_argument("--title")
    where = edit.add_mutually_exclusive_group()
    where.add_argument("--site", help="one of the unit's open sites")
    where.add_argument("--no-site", action="store_true", help="the whole unit again (every site's kiosks)")
    state = edit.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", dest="activate")
    state.add_argument("--inactive", action="store_true", dest="deactivate", help="off the kiosks; the history is kept")


def _officers(storage, settings, args) -> int:
    if args.officers_command == "list":
        return _list(storage, args)
    now = datetime.now(timezone.utc)
    today = days.local_today(settings).isoformat()
    try:
        if args.officers_command == "add":
            unit = officer_unit(storage, args.unit.strip())
            site = officer_site(storage, unit["code"], args.site, today)
            if args.procedure_group and args.procedure_group not in procedure_groups.codes():
                raise SiteRefused(f"unknown procedure group {args.procedure_group!r}; the catalogue has: "
                                  + ", ".join(procedure_groups.codes()))
            name = args.name.strip()
            if not name or len(name) > 120:
                raise SiteRefused("the officer's name is required (at most 120 characters)")
            oid = new_officer_id()
            storage.add_officer(oid, unit["code"], name, (args.title or "").strip() or None, None, None, now, site_id=site)
            if args.procedure_group:
                storage.update_officer(oid, now, procedure_group=args.procedure_group)
            storage.audit(now, None, "officer.add", oid, {"unit_code": unit["code"], "name": name, "site_id": site,
                                                          "procedure_group": args.procedure_group, "via": "cli"})
            print(f"Đã thêm cán bộ «{name}» ({unit['code']}) / officer added:")
            print(oid)
            return 0
        return _edit(storage, args, now, today)
    except SiteRefused as exc:
        print(f"hailong-server: {exc.message}", file=sys.stderr)
        return 2


def _edit(storage, args, now, today) -> int:
    officer = storage.officer(args.officer_id)
    if officer is None:
        print(f"hailong-server: no officer {args.officer_id!r} (see 'hailong-server officers list')", file=sys.stderr)
        return 2
    fields: dict = {}
    unit_code = officer["unit_code"]
    if args.unit is not None:
        unit_code = officer_unit(storage, args.unit.strip())["code"]
        fields["unit_code"] = unit_code
    if args.site is not None:
        fields["site_id"] = officer_site(storage, unit_code, args.site, today)
    elif args.no_site:
        fields["site_id"] = None
    elif "unit_code" in fields and officer["site_id"] is not None and unit_code != officer["unit_code"]:
        fields["site_id"] = None  # the old site belongs to the old unit
    if args.name is not None:
        if not args.name.strip() or len(args.name.strip()) > 120:
            raise SiteRefused("the officer's name is required (at most 120 characters)")
        fields["name"] = args.name.strip()
    if args.title is not None:
        fields["title"] = args.title.strip() or None
    if args.activate or args.deactivate:
        fields["active"] = bool(args.activate)
    storage.update_officer(officer["id"], now, **fields)
    storage.audit(now, None, "officer.edit", officer["id"], {**fields, "via": "cli"})
    print(f"Đã cập nhật cán bộ {officer['id']} / officer updated")
    return 0


def _list(storage, args) -> int:
    rows = [{k: o[k] for k in ("id", "unit_code", "site_id", "name", "title", "procedure_group", "active", "has_pin")}
            for o in storage.officers({args.unit} if args.unit else None)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for o in rows:
            site = f"site {o['site_id']}" if o["site_id"] is not None else "cả đơn vị / whole unit"
            print(f"{o['id']:<14} {o['unit_code']:>8}  {site:<22}  {'active' if o['active'] else 'inactive':<8}  {o['name']}")
    return 0


COMMANDS = {"officers": _officers}
