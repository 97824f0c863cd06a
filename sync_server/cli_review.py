"""``hailong-server conflicts``: answers whose id arrived again with other content, for review.

``conflicts [--json] [--all]`` lists the unreviewed ones (or all), newest first, with the fields that
differ from the stored record; ``conflicts review --id N [--note TEXT]`` marks one reviewed (audited).
The same use case as the admin page: :mod:`sync_server.conflicts_review`.
"""

from __future__ import annotations

import getpass
import json
import sys

from sync_server import conflicts_review

PAGE = 500


def add_parsers(sub) -> None:
    conf = sub.add_parser("conflicts", help="list answers filed as conflicts (same id, other content); 'review' marks one reviewed")
    conf.add_argument("--json", action="store_true", help="one JSON document: the conflicts with both records and the differing fields")
    conf.add_argument("--all", action="store_true", help="reviewed ones too")
    conf_sub = conf.add_subparsers(dest="conflicts_command")
    rev = conf_sub.add_parser("review", help="mark a conflict reviewed (the first review stands)")
    rev.add_argument("--id", type=int, required=True, help="the conflict's number, as listed")
    rev.add_argument("--note", default="", help="why, or what was done (optional)")


def _conflicts(storage, settings, args) -> int:
    if args.conflicts_command == "review":
        return _review(storage, args)
    items, page = [], 0
    while True:  # every conflict, a page at a time
        listing = conflicts_review.list_conflicts(storage, include_reviewed=args.all, page=page, per_page=PAGE)
        items += listing["items"]
        if len(items) >= listing["total"] or not listing["items"]:
            break
        page += 1
    if args.json:
        print(json.dumps({"total": len(items), "items": items}, ensure_ascii=False, indent=1))
        return 0
    if not items:
        print("no conflicts" + ("" if args.all else " to review"))
        return 0
    for c in items:
        state = f"reviewed {c['reviewed_at']} by {c['reviewed_by']}" if c["reviewed_at"] else "not reviewed"
        print(f"#{c['id']}  {c['response_id']}  unit {c['unit_code'] or '?'}  device {c['device_name'] or c['device_id'] or '-'}  "
              f"received {c['received_at']}  {state}")
        for f in c["fields"]:
            if f["differs"]:
                print(f"    {f['field']}: stored {f['stored'] if f['stored'] is not None else '(none)'}"
                      f"  new {f['new'] if f['new'] is not None else '(none)'}")
    return 0


def _review(storage, args) -> int:
    try:
        done = conflicts_review.review(storage, args.id, by=f"cli:{getpass.getuser()}", note=args.note)
    except conflicts_review.ReviewRefused as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 1 if exc.code == "already_reviewed" else 2
    print(f"conflict #{done['id']} marked reviewed")
    return 0


COMMANDS = {"conflicts": _conflicts}
