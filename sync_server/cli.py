"""``hailong-server``: run the server and administer it from the command line."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hailong_core.questionnaire import QuestionnaireError, parse_questionnaire
from hailong_core.timeutil import parse_day
from sync_server import accounts, days, security
from sync_server import cli_alerts, cli_dossiers, cli_officers, cli_phone, cli_relay, cli_releases, cli_review, maintenance
from sync_server.site_rules import EnrolmentRefused, kiosk_point
from sync_server import settings as server_settings
from sync_server.settings import default_db_path
from sync_server.storage import StorageRefused, open_storage
from sync_server.unit_files import ReleaseError, load_releases


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hailong-server", description="Hài Lòng province sync server.")
    p.add_argument("--db", help="SQLite file path or sqlite:///PATH (default: the platformdirs data folder)")
    p.add_argument("--settings", type=Path, help="JSON settings file")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    code = sub.add_parser("enroll-code", help="print a single-use enrolment code for a unit (alone on the last line)")
    code.add_argument("--unit", required=True, help="unit code, e.g. 7201")
    code.add_argument("--ttl-hours", type=float, help="hours the code stays valid (default: the enroll_code_ttl_h setting)")
    code.add_argument("--site", type=int, help="site id (see 'hailong-server sites'); default: the unit's first site")
    code.add_argument("--counter", help="counter (quầy) code of the site the kiosk stands at")
    code.add_argument("--relay", action="store_true", help="a code for an office's sync server (relay) forwarding for this "
                                                          "unit and the units under it, not for a kiosk (issue 17)")
    units = sub.add_parser("units", help="list the unit registry: every unit version, or those in force on a day")
    units.add_argument("--json", action="store_true")
    units.add_argument("--on", help="only the units in force that day (YYYY-MM-DD or DD/MM/YYYY)")
    sites = sub.add_parser("sites", help="list sites (điểm tiếp nhận) and their counters")
    sites.add_argument("--json", action="store_true")
    sites.add_argument("--unit", help="only this unit's sites")
    sites.add_argument("--include-closed", action="store_true", help="list closed sites too (their closed_at is set)")
    sadd = sub.add_parser("site-add", help="add a site to the version of a unit in force today; prints its id on the last line")
    sadd.add_argument("--unit", required=True)
    sadd.add_argument("--name", required=True)
    sadd.add_argument("--address")
    sadd.add_argument("--hotline")
    sadd.add_argument("--public-url", dest="public_url", help="the address phones reach this site's QR links at")
    sedit = sub.add_parser("site-edit", help="change a site's name, address, hotline or public address")
    sedit.add_argument("--site", type=int, required=True)
    sedit.add_argument("--name")
    sedit.add_argument("--address")
    sedit.add_argument("--hotline")
    sedit.add_argument("--public-url", dest="public_url")
    cadd = sub.add_parser("counter-add", help="add (or rename) a counter (quầy) of a site")
    cadd.add_argument("--site", type=int, required=True)
    cadd.add_argument("--code", required=True, help="e.g. 1, 2, A3")
    cadd.add_argument("--name", required=True, help="e.g. 'Quầy 1 — Tư pháp, hộ tịch'")
    sclose = sub.add_parser("site-close", help="close a site and its counters (its answers stay with it); refused while "
                                                "kiosks are enrolled to it or when it is the unit's last open site")
    sclose.add_argument("--site", type=int, required=True)
    cclose = sub.add_parser("counter-close", help="close a counter of a site; 'counter-add' reopens it")
    cclose.add_argument("--site", type=int, required=True)
    cclose.add_argument("--code", required=True)
    stats = sub.add_parser("stats", help="answers per unit version (a reused code's meanings apart, each with its validity)")
    stats.add_argument("--json", action="store_true", help="{code: answers} (all versions of a code together); with --versions "
                                                           "a list of {code, valid_from, valid_to, name, answers}")
    stats.add_argument("--versions", action="store_true", help="with --json: one entry per unit version")
    devices = sub.add_parser("devices", help="enrolled kiosks")
    devices.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke-device", help="refuse a kiosk's token from now on")
    revoke.add_argument("--device", required=True)
    users = sub.add_parser("users", help="accounts for the web pages")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create an account; the password comes from --password-file, a pipe, or a prompt")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=accounts.ROLES)
    add.add_argument("--unit", help="the district or commune code of a district_viewer or commune_viewer")
    add.add_argument("--password-file", type=Path, help="read the password from the first line of this file")
    lst = users_sub.add_parser("list", help="list accounts")
    lst.add_argument("--json", action="store_true")
    imp = sub.add_parser("import-units", help="import a province's unit tree (JSON from assets/units or CSV); reports added, changed, closed")
    imp.add_argument("file", type=Path)
    imp.add_argument("--valid-from", help="the date the release takes effect (YYYY-MM-DD); required for a CSV without a valid_from column")
    imp.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    imp.add_argument("--json", action="store_true")
    usb = sub.add_parser("import-responses", help="import a kiosk's USB export of unsent answers (idempotent)")
    usb.add_argument("file", type=Path)
    bk = sub.add_parser("backup", help="write a consistent copy of the database (SQLite online backup; pg_dump for PostgreSQL)")
    bk.add_argument("--out", type=Path, required=True)
    rs = sub.add_parser("restore", help="replace the database with a backup made by 'backup' (server stopped)")
    rs.add_argument("file", type=Path)
    qn = sub.add_parser("questionnaire", help="add a questionnaire version from JSON (validated)")
    qn.add_argument("file", type=Path)
    qn.add_argument("--publish", action="store_true", help="publish it at once (immutable afterwards)")
    exp = sub.add_parser("export", help="the results report (XLSX or CSV) for the province or one unit")
    exp.add_argument("--format", choices=("xlsx", "csv", "csv-machine"), required=True,
                     help="xlsx; csv for Excel in a Vietnamese locale (';', BOM, decimal commas); csv-machine for programs "
                          "(',', decimal points, level codes)")
    exp.add_argument("--out", type=Path, required=True)
    exp.add_argument("--campaign", type=int, help="campaign id (default: the newest campaign already started)")
    exp.add_argument("--unit", help="unit code (default: the province)")
    exp.add_argument("--from", dest="date_from", help="window start YYYY-MM-DD (instead of a campaign)")
    exp.add_argument("--to", dest="date_to", help="window end YYYY-MM-DD")
    exp.add_argument("--include", action="append", choices=("misuse", "incomplete"), default=[],
                     help="misuse: count answers flagged as misuse too (repeatable); incomplete: accepted and changes "
                          "nothing (walk-away answers always count for what they answered)")
    exp.add_argument("--history", action="store_true",
                     help="add the answers given at each unit's predecessors before a reorganisation (the history "
                          "view; a unit split among several counts only above them) and list those units")
    tok = sub.add_parser("api-tokens", help="read-only API tokens for province systems (the pull API)")
    tok_sub = tok.add_subparsers(dest="tokens_command", required=True)
    tadd = tok_sub.add_parser("add", help="create a token; it is printed once (only its hash is stored)")
    tadd.add_argument("--name", required=True)
    where = tadd.add_mutually_exclusive_group(required=True)
    where.add_argument("--scope-unit", help="the unit whose subtree the client may read")
    where.add_argument("--province", action="store_true", help="the client may read the whole province")
    tok_sub.add_parser("list", help="list tokens")
    trev = tok_sub.add_parser("revoke", help="refuse a token from now on")
    trev.add_argument("--name", required=True)
    sub.add_parser("refresh-results", help="bring the results rollups up to date (the 'rollups' duty of maintain)")
    mt = sub.add_parser("maintain", help="run the periodic duties once: results rollups, purges of call-back numbers, "
                                         "orphan comments and abuse bookkeeping (the systemd timer runs it)")
    mt.add_argument("--only", action="append", choices=tuple(maintenance.DUTIES), help="run only this duty (repeatable)")
    mt.add_argument("--json", action="store_true")
    cli_phone.add_parsers(sub)
    cli_review.add_parsers(sub)
    cli_dossiers.add_parsers(sub)
    cli_releases.add_parsers(sub)
    cli_alerts.add_parsers(sub)
    cli_relay.add_parsers(sub)
    cli_officers.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = server_settings.load(args.settings, db=args.db)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = settings.db or str(default_db_path())
    if args.command == "serve":
        return _serve(settings.replace(db=db, host=args.host or settings.host, port=args.port or settings.port))
    if args.command in ("backup", "restore"):
        return _backup_or_restore(db, args)
    storage = open_storage(db)
    try:
        return COMMANDS[args.command](storage, settings, args)
    finally:
        storage.close()


def _serve(settings) -> int:
    import uvicorn

    from sync_server.app import create_app

    app = create_app(settings)
    print(f"Hài Lòng server on http://{settings.host}:{settings.port}/  (database: {settings.db})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return 0


def _enroll_code(storage, settings, args) -> int:
    unit = storage.unit(args.unit)
    if unit is None:
        print(f"hailong-server: no unit with code {args.unit!r} (see 'hailong-server units')", file=sys.stderr)
        return 2
    ttl = args.ttl_hours if args.ttl_hours is not None else settings.enroll_code_ttl_h
    if args.relay:
        if args.site is not None or args.counter is not None:
            print("hailong-server: a relay stands at no site or counter: --relay goes without --site and --counter", file=sys.stderr)
            return 2
        code = security.new_enroll_code()
        expires = datetime.now(timezone.utc) + timedelta(hours=ttl)
        storage.create_enroll_code(unit["code"], security.digest(security.normalise_code(code)), expires, kind="relay")
        print(f"Mã đăng ký máy chủ trạm (relay) cho {unit['name']} ({unit['code']}) và các đơn vị trực thuộc, dùng một lần, "
              f"hết hạn {expires.astimezone():%d/%m/%Y %H:%M}:")
        print(f"Relay enrolment code for {unit['code']} and the units under it, single use, expires "
              f"{expires.isoformat(timespec='minutes')}:")
        print(code)
        return 0
    # The same rule as the enrolment-code page: an open site of the unit version in force today.
    today = days.local_today(settings).isoformat()
    try:
        unit, site = kiosk_point(storage, unit["code"], today, args.site, args.counter)
    except EnrolmentRefused as exc:
        hint = {"code_err_unit": f"see 'hailong-server units --on {today}'",
                "code_err_counter": "add it with 'hailong-server counter-add'"}.get(exc.key, "see 'hailong-server sites --unit "
                                                                                          f"{args.unit}'")
        print(f"hailong-server: no kiosk code: {exc.message} ({hint})", file=sys.stderr)
        return 2
    code = security.new_enroll_code()
    expires = datetime.now(timezone.utc) + timedelta(hours=ttl)
    storage.create_enroll_code(unit["code"], security.digest(security.normalise_code(code)), expires, site_id=site["id"],
                               counter=args.counter)
    where = site["name"] + (f", quầy {args.counter}" if args.counter else "")
    print(f"Mã đăng ký kiosk cho {unit['name']} ({unit['code']}) tại {where}, dùng một lần, hết hạn {expires.astimezone():%d/%m/%Y %H:%M}:")
    print(f"Enrolment code for {unit['code']}, single use, expires {expires.isoformat(timespec='minutes')}:")
    print(code)
    return 0


def _units(storage, settings, args) -> int:
    if args.on:
        try:
            day = parse_day(args.on).isoformat()
        except ValueError as exc:
            print(f"hailong-server: --on: {exc}", file=sys.stderr)
            return 2
    rows = unit_listing(storage, day if args.on else None)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for u in rows:
            until = f"{u['valid_from']}→{u['valid_to'] or ''}"
            print(f"{u['code']:>8}  {u['level']:<9} {u['parent_code'] or '':>4}  {until:<23} {u['name']}")
    return 0


def _sites(storage, settings, args) -> int:
    if args.unit is not None and not storage.unit_versions(args.unit):
        print(f"hailong-server: no unit with code {args.unit!r} (see 'hailong-server units')", file=sys.stderr)
        return 2
    # valid_to: the end of the site's unit version (a site of an ended version is no point today, e.g.
    # Phường Hoàng Văn Thụ's under 7210); closed_at: when the site itself was closed (--include-closed).
    ends = {(v["code"], v["valid_from"]): v["valid_to"] for v in storage.unit_versions()}
    rows = [{k: s[k] for k in ("id", "unit_code", "unit_valid_from", "position", "name", "address", "hotline",
                                "public_base_url", "counters")}
            | {"valid_to": ends.get((s["unit_code"], s["unit_valid_from"])), "closed_at": s["closed_at"]}
            for s in storage.sites(args.unit, include_closed=args.include_closed)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for s in rows:
            counters = ", ".join(c["code"] for c in s["counters"]) or "—"
            state = (f"  [đã đóng / closed {s['closed_at'][:10]}]" if s["closed_at"] else
                     f"  [hết hiệu lực / ended {s['valid_to']}]" if s["valid_to"] else "")
            print(f"{s['id']:>6}  {s['unit_code']:>8}  {s['unit_valid_from']}→{s['valid_to'] or '':<10}  #{s['position']}  "
                  f"{s['name']}  (quầy: {counters}){state}")
    return 0


def _site_add(storage, settings, args) -> int:
    if storage.unit(args.unit) is None:
        print(f"hailong-server: no unit with code {args.unit!r} (see 'hailong-server units')", file=sys.stderr)
        return 2
    try:
        site = storage.add_site(args.unit, args.name.strip(), datetime.now().astimezone(), address=args.address,
                                hotline=args.hotline, public_base_url=args.public_url)
    except ValueError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    print(f"Đã thêm điểm tiếp nhận «{site['name']}» cho đơn vị {args.unit} / site added:")
    print(site["id"])
    return 0


def _site_edit(storage, settings, args) -> int:
    fields = {k: v.strip() for k, v in (("name", args.name), ("address", args.address), ("hotline", args.hotline),
                                        ("public_base_url", args.public_url)) if v is not None}
    if "name" in fields and not fields["name"]:
        print("hailong-server: a site needs a name", file=sys.stderr)
        return 2
    if not storage.update_site(args.site, **fields):
        print(f"hailong-server: no site {args.site} (see 'hailong-server sites')", file=sys.stderr)
        return 2
    print(f"Đã cập nhật điểm {args.site} / site updated")
    return 0


def _counter_add(storage, settings, args) -> int:
    try:
        storage.add_counter(args.site, args.code.strip(), args.name.strip())
    except ValueError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    print(f"Đã thêm quầy {args.code} vào điểm {args.site} / counter added")
    return 0


def _site_close(storage, settings, args) -> int:
    try:
        site = storage.close_site(args.site, datetime.now(timezone.utc))
    except StorageRefused as exc:
        print(f"hailong-server: {exc.message}", file=sys.stderr)
        return 2
    storage.audit(datetime.now(timezone.utc), None, "site.close", site["unit_code"], {"site_id": site["id"], "via": "cli"})
    print(f"Đã đóng điểm {site['id']} ({site['name']}) / site closed")
    return 0


def _counter_close(storage, settings, args) -> int:
    try:
        storage.close_counter(args.site, args.code.strip(), datetime.now(timezone.utc))
    except StorageRefused as exc:
        print(f"hailong-server: {exc.message}", file=sys.stderr)
        return 2
    storage.audit(datetime.now(timezone.utc), None, "counter.close", None, {"site_id": args.site, "counter": args.code, "via": "cli"})
    print(f"Đã đóng quầy {args.code} của điểm {args.site} / counter closed")
    return 0


def unit_listing(storage, day: str | None) -> list[dict]:
    """Unit versions (all, or those in force on ``day``) with their predecessors: the ``units --json`` shape."""
    versions = storage.unit_versions() if day is None else storage.units_as_of(day)
    ends: dict[tuple[str, str], str] = {}
    for v in storage.unit_versions():
        if v["valid_to"]:
            ends[(v["code"], v["valid_to"])] = v["valid_from"]
    preds: dict[tuple[str, str], list[dict]] = {}
    for link in storage.unit_links():
        key = (link["to_code"], link["on_date"])
        preds.setdefault(key, []).append({"code": link["from_code"], "valid_from": ends.get((link["from_code"], link["on_date"])),
                                          "partial": bool(link.get("partial"))})
    return [{"code": v["code"], "name": v["name"], "level": v["level"], "parent_code": v["parent_code"],
             "valid_from": v["valid_from"], "valid_to": v["valid_to"], "predecessors": preds.get((v["code"], v["valid_from"]), [])}
            for v in versions]


def answers_per_version(storage) -> list[dict]:
    """Answers per unit version, each with its name and validity: a reused code's meanings apart
    (7210 Phường Hoàng Văn Thụ until 2025-07-01, then Phường Bắc Giang). An answer belongs to the
    version of the site it was given at; one without a site is listed under its code alone."""
    versions = {(v["code"], v["valid_from"]): v for v in storage.unit_versions()}
    site_version = {s["id"]: (s["unit_code"], s["unit_valid_from"]) for s in storage.sites(include_closed=True)}
    counts: dict[tuple[str, str | None], int] = {}
    for (code, site_id), n in storage.answers_per_site().items():
        key = site_version.get(site_id) if site_id is not None else None
        key = key if key is not None and key[0] == code else (code, None)
        counts[key] = counts.get(key, 0) + n
    rows = []
    for (code, valid_from), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        v = versions.get((code, valid_from), {})
        rows.append({"code": code, "valid_from": valid_from, "valid_to": v.get("valid_to"), "name": v.get("name"), "answers": n})
    return rows


def _stats(storage, settings, args) -> int:
    if args.json and not args.versions:
        print(json.dumps(storage.answers_per_unit(), ensure_ascii=False))  # {code: answers}, as before
        return 0
    rows = answers_per_version(storage)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        until = f"{r['valid_from']}→{r['valid_to'] or ''}" if r["valid_from"] else "(không rõ điểm / no site)"
        print(f"{r['code']:>8}  {until:<23}  {r['answers']:>9}  {r['name'] or '?'}")
    print(f"{'':>8}  {'':<23}  {sum(r['answers'] for r in rows):>9}  tổng / total")
    return 0


def _devices(storage, settings, args) -> int:
    rows = storage.devices(kind=None)  # kiosks and relays (a relay is revoked the same way)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for d in rows:
            state = "revoked" if d["revoked_at"] else "active"
            print(f"{d['id']}  {d['unit_code']:>6}  {d['kind']:<6} {state:<7}  last seen {d['last_seen_at'] or '-'}  pending {d['pending'] if d['pending'] is not None else '-'}  {d['name'] or ''}")
    return 0


def _revoke(storage, settings, args) -> int:
    if storage.revoke_device(args.device, datetime.now(timezone.utc)):
        print(f"revoked {args.device}")
        return 0
    print(f"hailong-server: no active device {args.device!r}", file=sys.stderr)
    return 2


def _read_password(args) -> str:
    """From --password-file, else a pipe on stdin, else a prompt; never from argv."""
    if args.password_file:
        return args.password_file.read_text(encoding="utf-8").splitlines()[0] if args.password_file.stat().st_size else ""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu / password: ")
    if getpass.getpass("Nhập lại / again: ") != first:
        raise accounts.AccountError("the two passwords differ")
    return first


def _users(storage, settings, args) -> int:
    if args.users_command == "list":
        rows = storage.users()
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=1))
        else:
            for u in rows:
                print(f"{u['id']:>4}  {u['username']:<20} {u['role']:<17} {u['unit_code'] or '':>6}  {'active' if u['active'] else 'inactive'}")
        return 0
    username = args.username.strip().lower()
    try:
        password = _read_password(args)
        accounts.check_new_user(storage, username, password, args.role, args.unit, settings.password_min_length)
        uid = storage.add_user(username, accounts.hash_secret(password), args.role, args.unit, datetime.now(timezone.utc))
    except (accounts.AccountError, StorageRefused, OSError) as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    storage.audit(datetime.now(timezone.utc), None, "user.add", username, {"id": uid, "role": args.role, "unit_code": args.unit, "via": "cli"})
    print(f"created {args.role} {username!r} (id {uid})")
    return 0


def _import_units(storage, settings, args) -> int:
    """Import every dated tree of the file, oldest first (one for a CSV or a one-date JSON)."""
    try:
        releases = load_releases(args.file, args.valid_from)
    except (ReleaseError, ValueError, OSError) as exc:
        print(f"hailong-server: {args.file}: {exc}", file=sys.stderr)
        return 2
    for release in releases:
        try:
            report = storage.import_unit_release(release, dry_run=args.dry_run)
        except (ReleaseError, ValueError) as exc:
            print(f"hailong-server: {args.file} ({release.valid_from}): {exc}", file=sys.stderr)
            return 2
        if not args.dry_run:
            storage.audit(datetime.now(timezone.utc), None, "units.import", release.source,
                          {"valid_from": release.valid_from, "summary": report.summary(), "via": "cli"})
        if args.json:
            print(json.dumps({"valid_from": release.valid_from, "added": report.added, "changed": report.changed,
                              "closed": report.closed, "unchanged": report.unchanged, "links": report.links,
                              "reused": report.reused, "dry_run": args.dry_run}))
        else:
            print(f"{release.source} ({release.valid_from}){' [dry run]' if args.dry_run else ''}: {report.summary()}")
    return 0


def _questionnaire(storage, settings, args) -> int:
    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
        q = parse_questionnaire(doc)
        now = datetime.now(timezone.utc)
        storage.save_questionnaire_draft(doc, now)
        if args.publish:
            storage.publish_questionnaire(q.id, q.version, now)
    except (QuestionnaireError, StorageRefused, ValueError, OSError) as exc:
        print(f"hailong-server: {args.file}: {exc}", file=sys.stderr)
        return 2
    storage.audit(datetime.now(timezone.utc), None, "questionnaire.publish" if args.publish else "questionnaire.draft",
                  f"{q.id} v{q.version}", {"via": "cli"})
    print(f"{q.id} v{q.version}: {'published' if args.publish else 'saved as a draft'}")
    return 0


def _backup_or_restore(db: str, args) -> int:
    from sync_server.backup import BackupError, backup, restore

    try:
        if args.command == "backup":
            backup(db, args.out)
            print(f"backup written to {args.out}")
        else:
            restore(db, args.file)
            print(f"restored {db} from {args.file}")
    except (BackupError, OSError, sqlite3.Error) as exc:
        print(f"hailong-server: {args.command} failed: {exc}", file=sys.stderr)
        return 2
    return 0


def _import_responses(storage, settings, args) -> int:
    from sync_server.usb_import import UsbImportError, import_export

    try:
        counts = import_export(storage, args.file, batch=settings.max_batch_items, skew_s=settings.clock_skew_s,
                               created_floor=settings.created_at_floor)
    except (UsbImportError, OSError) as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    print(" ".join(f"{status}={counts.get(status, 0)}" for status in ("accepted", "duplicate", "conflict", "rejected")))
    return 0


def _export(storage, settings, args) -> int:
    from sync_server.results.cli import export

    return export(storage, settings, args)


def _api_tokens(storage, settings, args) -> int:
    from sync_server.results.cli import api_tokens

    return api_tokens(storage, settings, args)


def _refresh_results(storage, settings, args) -> int:
    done = maintenance.run(storage, settings, only=["rollups"])["rollups"]
    if "error" in done:
        print(f"hailong-server: refresh-results failed: {done['error']}", file=sys.stderr)
        return 1
    print(f"folded {done['folded']} answers into the results rollups")
    if done.get("skipped"):
        print(f"skipped {done['skipped']} answers that cannot be counted (server_seq {done['skipped_server_seq']}); see the log")
    return 0


def _maintain(storage, settings, args) -> int:
    done = maintenance.run(storage, settings, only=args.only)
    if args.json:
        print(json.dumps(done, ensure_ascii=False))
    else:
        for name, result in done.items():
            print(f"{name}: {json.dumps(result, ensure_ascii=False)}")
    return 1 if any("error" in r for r in done.values()) else 0


COMMANDS = {"import-responses": _import_responses, "enroll-code": _enroll_code, "units": _units, "sites": _sites,
            "site-add": _site_add, "site-edit": _site_edit, "counter-add": _counter_add,
            "site-close": _site_close, "counter-close": _counter_close, "stats": _stats, "devices": _devices, "revoke-device": _revoke,
            "users": _users, "import-units": _import_units, "questionnaire": _questionnaire,
            "export": _export, "api-tokens": _api_tokens, "refresh-results": _refresh_results,
            "maintain": _maintain}
COMMANDS.update(cli_phone.COMMANDS)
COMMANDS.update(cli_review.COMMANDS)
COMMANDS.update(cli_dossiers.COMMANDS)
COMMANDS.update(cli_releases.COMMANDS)
COMMANDS.update(cli_alerts.COMMANDS)
COMMANDS.update(cli_relay.COMMANDS)
COMMANDS.update(cli_officers.COMMANDS)

if __name__ == "__main__":
    sys.exit(main())
