"""``hailong-server alert-channels``: the alert delivery channels (Telegram, Zalo OA, webhook) on the
command line, calling the same use cases as the page ``/admin/alerts`` (:mod:`sync_server.alert_delivery`).

Secrets never go on the command line (shell history, ``ps``): ``--secret-stdin`` reads one line from
standard input, ``--secret-file`` a file's first line; ``list`` shows only whether one is set. A Zalo
channel that renews its own access token takes ``--zalo-app-id`` and, from ``--zalo-keys-stdin`` or
``--zalo-keys-file``, two lines: the app's secret key, then the OA's refresh token (read after the access
token's line when ``--secret-stdin`` is given too; an empty line keeps the stored value on ``edit``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sync_server import alert_delivery
from sync_server.indexes import ServerState


def add_parsers(sub) -> None:
    ch = sub.add_parser("alert-channels", help="channels the dashboard's alerts are sent through (Telegram, Zalo OA, webhook)")
    ch_sub = ch.add_subparsers(dest="alerts_command", required=True)
    add = ch_sub.add_parser("add", help="add a channel; prints its id on the last line")
    add.add_argument("--kind", required=True, choices=alert_delivery.KINDS)
    add.add_argument("--name", required=True, help="what the page and the log call it, e.g. 'Nhóm lãnh đạo tỉnh'")
    add.add_argument("--target", required=True,
                     help="telegram: the chat id (a group's is negative); zalo: the follower's user id; webhook: the URL")
    add.add_argument("--unit", help="send only the alerts of this unit's subtree (default: the whole province)")
    add.add_argument("--officer-results", action="store_true",
                     help="the recipients may see officer results: officer alerts go to them too (province or district only)")
    _secret_args(add, "telegram: the bot token (required); zalo: the OA access token (required unless the token is "
                      "renewed with --zalo-app-id and --zalo-keys-*); webhook: the signing key (optional)")
    _zalo_args(add)
    lst = ch_sub.add_parser("list", help="list the channels (secrets are never shown)")
    lst.add_argument("--json", action="store_true")
    rem = ch_sub.add_parser("remove", help="remove a channel (its delivery log stays; messages waiting for it are cancelled)")
    rem.add_argument("--id", required=True, type=int)
    edit = ch_sub.add_parser("edit", help="replace a channel's secret (e.g. a renewed Zalo access token) or switch it on or off")
    edit.add_argument("--id", required=True, type=int)
    onoff = edit.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="active", action="store_const", const=True)
    onoff.add_argument("--off", dest="active", action="store_const", const=False)
    _secret_args(edit, "the new secret")
    _zalo_args(edit)
    test = ch_sub.add_parser("test", help="send a test message through a channel now and say how it went")
    test.add_argument("--id", required=True, type=int)
    ch_sub.add_parser("send", help="find the alerts and send what is due now (what the 'alerts' duty of maintain does)")
    log = ch_sub.add_parser("log", help="recent deliveries: channel, alert, status, attempts, last error")
    log.add_argument("--limit", type=int, default=30)
    log.add_argument("--json", action="store_true")


def _secret_args(parser, help_text: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--secret-stdin", action="store_true", help=f"read the secret from standard input ({help_text})")
    where.add_argument("--secret-file", type=Path, help="read the secret from this file's first line")


def _zalo_args(parser) -> None:
    parser.add_argument("--zalo-app-id", help="zalo: the id of the app (developers.zalo.me) that renews the OA access token")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--zalo-keys-stdin", action="store_true",
                       help="zalo: read two lines from standard input, the app's secret key then the OA refresh token")
    where.add_argument("--zalo-keys-file", type=Path, help="zalo: the same two lines from this file")


def _secret(args) -> str | None:
    if args.secret_stdin:
        return sys.stdin.readline().strip() or None
    if args.secret_file:
        lines = args.secret_file.read_text(encoding="utf-8").splitlines()
        return lines[0].strip() if lines else None
    return None


def _zalo_keys(args) -> dict:
    """``app_id, app_secret, refresh_token`` for :mod:`sync_server.alert_delivery` (None: not given)."""
    if args.zalo_keys_stdin:
        lines = [sys.stdin.readline(), sys.stdin.readline()]
    elif args.zalo_keys_file:
        lines = (args.zalo_keys_file.read_text(encoding="utf-8").splitlines() + ["", ""])[:2]
    else:
        lines = ["", ""]
    app_secret, refresh_token = (line.strip() or None for line in lines)
    return {"app_id": args.zalo_app_id, "app_secret": app_secret, "refresh_token": refresh_token}


def _token_note(state: dict | None) -> str:
    if not state:
        return ""
    if state["error"]:
        return f"  ZALO NEEDS A NEW REFRESH TOKEN (renewal refused: {state['error']})"
    if state["renews"]:
        return "  token renewed automatically" + (f", valid until {state['expires_at']}" if state["expires_at"] else "")
    return "  token not renewed (access token only)"


def _row(storage, channel: dict) -> dict:
    unit = storage.unit(channel["unit_code"]) if channel["unit_code"] else None
    return {"id": channel["id"], "name": channel["name"], "kind": channel["kind"], "target": alert_delivery.shown_target(channel),
            "unit_code": channel["unit_code"], "unit_name": unit["name"] if unit else None,
            "officer_results": channel["officer_results"], "active": channel["active"], "secret_set": channel["has_secret"],
            "zalo_token": alert_delivery.credential_state(storage, channel)}


def _alert_channels(storage, settings, args) -> int:
    state = ServerState(settings, storage)
    command = args.alerts_command
    try:
        if command == "add":
            secret = _secret(args)  # first: its line comes before the Zalo keys' lines on standard input
            cid = alert_delivery.add_channel(storage, kind=args.kind, name=args.name, target=args.target, secret=secret,
                                             unit_code=args.unit, officer_results=args.officer_results, **_zalo_keys(args))
            print(f"added channel {args.name!r}")
            print(cid)
        elif command == "list":
            rows = [_row(storage, c) for c in storage.alert_channels()]
            if args.json:
                print(json.dumps(rows, ensure_ascii=False))
            for r in rows if not args.json else ():
                print(f"{r['id']:>4}  {r['kind']:<8} {r['name']}  → {r['target']}  [{r['unit_name'] or 'toàn tỉnh'}]"
                      f"{'  officer results' if r['officer_results'] else ''}{'' if r['active'] else '  OFF'}"
                      f"  secret {'set' if r['secret_set'] else 'not set'}{_token_note(r['zalo_token'])}")
        elif command == "remove":
            gone = alert_delivery.remove_channel(storage, args.id)
            print(f"removed channel {gone['name']!r}")
        elif command == "edit":
            secret = _secret(args)
            channel = alert_delivery.update_channel(storage, args.id, secret=secret, active=args.active, **_zalo_keys(args))
            print(f"channel {channel['name']!r}: {'on' if channel['active'] else 'off'}, secret {'set' if channel['has_secret'] else 'not set'}")
        elif command == "test":
            d = alert_delivery.send_test(state, args.id)
            print(f"test message: {d['status']}" + (f" ({d['last_error']})" if d["last_error"] else ""))
            return 0 if d["status"] == "sent" else 1
        elif command == "send":
            print(json.dumps(alert_delivery.run(state), ensure_ascii=False))
        else:  # log
            rows = storage.alert_deliveries(args.limit)
            if args.json:
                print(json.dumps([{k: v for k, v in r.items() if k != "payload"} for r in rows], ensure_ascii=False))
            for r in rows if not args.json else ():
                print(f"{r['created_at']}  {r['channel_name']:<20} {r['alert_key']:<24} {r['status']:<10} "
                      f"attempts={r['attempts']}{'  ' + r['last_error'] if r['last_error'] else ''}")
    except alert_delivery.ChannelError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    return 0


COMMANDS = {"alert-channels": _alert_channels}
