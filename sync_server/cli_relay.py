"""CLI of the office's sync server (issue 17): enrol upstream, and what waits to go up."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from hailong_core.timeutil import format_rfc3339
from sync_server.relay.status import status_details, upstream_status


def add_parsers(sub) -> None:
    up = sub.add_parser("enroll-upstream", help="make this server a relay: forward every answer to URL (a relay code from "
                                                 "'enroll-code --unit CODE --relay' there)")
    up.add_argument("--upstream", required=True, help="the upstream server's address, e.g. https://hailong.bacninh.gov.vn")
    up.add_argument("--code", required=True, help="the single-use relay code the upstream printed")
    up.add_argument("--name", help="how the upstream lists this relay (default: this machine's name)")
    up.add_argument("--config", choices=("mirror", "own"), help="mirror: take questionnaires, campaigns, officers, sites and kiosk "
                                                                "values from the upstream (an office's relay); own: keep this "
                                                                "server's (a province forwarding to a national collector). "
                                                                "Default: own for a province-level unit, else mirror")
    st = sub.add_parser("upstream-status", help="what waits to go up, the last forward and the last error")
    st.add_argument("--json", action="store_true", help='print {"pending", "last_forward_at", "last_error"}')


def _enroll_upstream(storage, settings, args) -> int:
    import socket

    import requests

    url = args.upstream.rstrip("/")
    if not url.startswith(("http://", "https://")):
        print(f"hailong-server: --upstream must start with https:// or http:// (got {args.upstream!r})", file=sys.stderr)
        return 2
    try:
        response = requests.post(url + "/api/v1/enroll", json={"code": args.code, "name": args.name or socket.gethostname()},
                                 timeout=settings.relay_timeout_s)
    except requests.RequestException as exc:
        print(f"hailong-server: cannot reach the upstream at {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        try:
            err = response.json()["error"]
            text = f"{err['code']}: {err['message']}"
        except Exception:  # noqa: BLE001
            text = response.text[:200]
        print(f"hailong-server: the upstream refused the code ({response.status_code} {text})", file=sys.stderr)
        return 1
    got = response.json()
    if got.get("kind") != "relay":
        print("hailong-server: this is a kiosk's enrolment code, not a relay's (at the upstream: "
              "'hailong-server enroll-code --unit CODE --relay'); the code is used up: revoke that kiosk there", file=sys.stderr)
        return 1
    if storage.unit(got["unit_code"]) is None:
        print(f"hailong-server: the upstream enrolled this relay for unit {got['unit_code']}, which this database does not know "
              "(import the province's units first: 'hailong-server import-units')", file=sys.stderr)
        return 1
    unit = storage.unit(got["unit_code"])
    mirror = args.config == "mirror" if args.config else unit["level"] != "province"
    storage.link_upstream(url, got["token"], got["device_id"], got["unit_code"], format_rfc3339(datetime.now(timezone.utc)),
                          mirror_config=mirror)
    storage.audit(datetime.now(timezone.utc), None, "relay.enroll_upstream", url, {"unit": got["unit_code"], "device_id": got["device_id"]})
    print(f"Máy chủ trạm đã đăng ký với {url} cho {unit['name']} ({unit['code']}) và các đơn vị trực thuộc; "
          f"'hailong-server serve' sẽ tự chuyển phiếu lên. {storage.upstream_pending()} phiếu đang chờ chuyển. "
          + ("Cấu hình (bộ câu hỏi, đợt khảo sát, cán bộ, điểm tiếp nhận) lấy từ cấp trên." if mirror
             else "Máy chủ này giữ cấu hình riêng của mình."))
    print(f"Relay enrolled at {url} for {unit['code']} and the units under it; 'serve' forwards on its own; config: "
          + ("mirrored from the upstream" if mirror else "this server's own"))
    return 0


def _upstream_status(storage, settings, args) -> int:
    status = upstream_status(storage)
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
    details = status_details(storage)
    if details is None:
        print("Máy chủ này không chuyển phiếu lên đâu (chưa chạy 'enroll-upstream'). / This server forwards nowhere.")
        return 0
    print(f"upstream: {details['url']} (unit {details['unit_code']})")
    print(f"pending: {details['pending']}  (oldest received {details['oldest_unsent_at'] or '—'})")
    print(f"forwarded: {details['forwarded']}  last forward: {details['last_forward_at'] or '—'}")
    print(f"kept aside (refused upstream): {details['kept_aside']}")
    print(f"last error: {details['last_error'] or '—'}")
    return 0


COMMANDS = {"enroll-upstream": _enroll_upstream, "upstream-status": _upstream_status}
