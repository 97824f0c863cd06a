"""sd_notify reaches a real datagram socket as systemd would read it; outside systemd nothing is sent."""

from __future__ import annotations

import socket

from kiosk import watchdog


def test_ready_and_ping_reach_the_notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"}
        assert watchdog.ready(env) and watchdog.ping(env)
        assert sock.recv(64) == b"READY=1"
        assert sock.recv(64) == b"WATCHDOG=1"
    assert watchdog.interval_s(env) == 15.0


def test_outside_systemd_nothing_is_sent():
    assert watchdog.ping({}) is False and watchdog.interval_s({}) is None
    assert watchdog.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "/nonexistent/socket"}) is False
