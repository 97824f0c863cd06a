"""systemd notifications (sd_notify) without a dependency: READY=1 and WATCHDOG=1.

The kiosk's systemd unit uses ``Type=notify`` and ``WatchdogSec=``: the UI thread pings from a
timer, so a frozen event loop stops the pings and systemd restarts the kiosk. Outside systemd
(``NOTIFY_SOCKET`` unset) every call is a no-op. No Qt here: the UI wires a timer to :func:`ping`.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str, environ: dict | None = None) -> bool:
    """Send one sd_notify datagram; True when it was sent."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError as exc:
        log.warning("sd_notify(%s) failed: %s", message, exc)
        return False


def ready(environ: dict | None = None) -> bool:
    """Tell systemd the kiosk is up (its window is shown)."""
    return notify("READY=1", environ)


def ping(environ: dict | None = None) -> bool:
    """Tell systemd the UI thread is alive."""
    return notify("WATCHDOG=1", environ)


def interval_s(environ: dict | None = None) -> float | None:
    """Half the watchdog period systemd asked for (``WATCHDOG_USEC``), or None when not watched."""
    usec = (environ if environ is not None else os.environ).get("WATCHDOG_USEC")
    try:
        return int(usec) / 2_000_000 if usec else None
    except ValueError:
        return None
