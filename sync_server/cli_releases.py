"""``hailong-server`` commands of remote update (issue 16): add a kiosk release, stage it, list them.

Kept apart from ``sync_server.cli`` so that module stays small; the page ``/admin/releases`` calls
the same use cases (``sync_server.releases``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sync_server import releases


def add_parsers(sub) -> None:
    add = sub.add_parser("release-add", help="store a kiosk release (a wheel built with 'pip wheel --no-deps .') and its SHA-256; "
                                             "prints its id on the last line")
    add.add_argument("wheel", type=Path, help="hailong-VERSION-py3-none-any.whl")
    add.add_argument("--notes", help="what changed, for the releases page")
    stage = sub.add_parser("release-stage", help="stage a release for some kiosks (try it on a few first) or all; they install "
                                                 "it when idle and report the outcome")
    stage.add_argument("--release", type=int, required=True, help="the release's id (see 'hailong-server releases')")
    who = stage.add_mutually_exclusive_group(required=True)
    who.add_argument("--devices", help="device ids, separated by commas (see 'hailong-server devices')")
    who.add_argument("--all", action="store_true", help="every kiosk not revoked")
    who.add_argument("--unit", help="the kiosks of this unit and of the units under it")
    lst = sub.add_parser("releases", help="kiosk releases, and what each kiosk runs and reported")
    lst.add_argument("--json", action="store_true")


def _add(storage, settings, args) -> int:
    try:
        content = args.wheel.read_bytes()
        release = releases.add(storage, settings, args.wheel.name, content, notes=args.notes)
    except OSError as exc:
        print(f"hailong-server: {exc}", file=sys.stderr)
        return 2
    except releases.ReleaseRefused as exc:
        print(f"hailong-server: release refused: {exc}", file=sys.stderr)
        return 2
    print(f"release {release['version']} stored ({release['bytes']} bytes, SHA-256 {release['sha256']}); "
          f"stage it with: hailong-server release-stage --release {release['id']} --devices ID,ID")
    print(release["id"])
    return 0


def _stage(storage, settings, args) -> int:
    devices = [d.strip() for d in (args.devices or "").split(",") if d.strip()] if args.devices is not None else None
    try:
        count = releases.stage(storage, args.release, devices=devices, everyone=args.all, unit=args.unit)
    except releases.ReleaseRefused as exc:
        print(f"hailong-server: not staged: {exc}", file=sys.stderr)
        return 2
    version = storage.release(args.release)["version"]
    print(f"release {version} staged for {count} kiosk(s); they install it when idle (see 'hailong-server releases')")
    return 0


def _list(storage, settings, args) -> int:
    rows = storage.releases()
    targets = storage.release_targets()
    devices = {d["id"]: d for d in storage.devices()}
    kiosks = [{"device_id": d_id, "name": devices.get(d_id, {}).get("name"), "app_version": devices.get(d_id, {}).get("app_version"),
               **{k: t[k] for k in ("version", "staged_at", "outcome", "outcome_reason", "outcome_at", "install_seconds")}}
              for d_id, t in sorted(targets.items())]
    if args.json:
        print(json.dumps({"releases": rows, "staged": kiosks}, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        print(f"{r['id']:>4}  {r['version']:<12} {r['added_at'][:16]}  {r['bytes']:>8} B  staged {r['staged']}, installed "
              f"{r['installed']}, rolled back {r['rolled_back']}, failed {r['failed']}  {r['notes'] or ''}")
    for k in kiosks:
        print(f"      {k['device_id'][:8]} {k['name'] or '':<20} runs {k['app_version'] or '?':<10} staged {k['version']:<10} "
              f"{k['outcome'] or 'waiting'}{': ' + k['outcome_reason'] if k['outcome_reason'] else ''}")
    return 0


COMMANDS = {"release-add": _add, "release-stage": _stage, "releases": _list}
