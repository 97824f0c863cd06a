"""``hailong-server`` commands of the phone (QR) channel: posters, dossier tokens, purging contacts.

Kept apart from ``sync_server.cli`` so that module stays small; ``posters`` imports Qt only when run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sync_server import phone


def add_parsers(sub) -> None:
    post = sub.add_parser("posters", help="a print-ready PDF with one QR poster per point (all active points by default)")
    post.add_argument("--out", type=Path, required=True, help="the PDF file to write")
    post.add_argument("--base-url", required=True, help="the server's public address, e.g. https://hailong.bacgiang.gov.vn")
    post.add_argument("--unit", action="append", default=[], help="a point's code (repeatable; default: every active point)")
    post.add_argument("--size", choices=("a4", "a5"), default="a4")
    tokens = sub.add_parser("dossier-tokens", help="single-use tokens to print on dossier receipts (one per line)")
    tokens.add_argument("--unit", required=True, help="the point's code")
    tokens.add_argument("--count", type=int, default=1)
    tokens.add_argument("--base-url", help="print each token's form URL instead of the bare token")
    sub.add_parser("purge-contacts", help="delete call-back phone numbers past contact_retention_days (also done at start-up)")


def _posters(storage, settings, args) -> int:
    from sync_server import posters  # Qt: only for this command

    try:
        points = posters.select_points(storage, args.unit)
        count = posters.write_posters(args.out, points, args.base_url, args.size)
    except (ValueError, OSError) as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} poster page(s) to {args.out}")
    return 0


def _dossier_tokens(storage, settings, args) -> int:
    unit = storage.unit(args.unit)
    if unit is None or unit["valid_to"] is not None or unit["level"] == "province":
        print(f"hailong-server: {args.unit!r} is not an open service point (see 'hailong-server units')", file=sys.stderr)
        return 2
    if not 1 <= args.count <= 100_000:
        print("hailong-server: --count must be 1..100000", file=sys.stderr)
        return 2
    for token in phone.new_dossier_tokens(storage, settings, unit["code"], args.count):
        print(f"{args.base_url.rstrip('/')}/s/{unit['code']}?t={token}" if args.base_url else token)
    return 0


def _purge(storage, settings, args) -> int:
    done = phone.purge(storage, settings)
    print(f"deleted {done['contacts']} contact(s) older than {settings.contact_retention_days:g} days, "
          f"{done['orphan_comments']} comment(s) whose kiosk answer did not arrive in {settings.comment_orphan_days:g} days")
    return 0


COMMANDS = {"posters": _posters, "dossier-tokens": _dossier_tokens, "purge-contacts": _purge}
