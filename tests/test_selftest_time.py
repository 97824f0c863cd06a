"""The self-test's time check: zone, sync state and offset from timedatectl (faked at the process
boundary) or from the files systemd keeps (a scratch root); it warns and never fails the self-test."""

from __future__ import annotations

import os
import subprocess

import pytest

from kiosk import selftest
from kiosk.selftest import TimeReport, parse_offset_ms, read_time
from kiosk.store import Store

TIMESYNC_STATUS = """       Server: 10.24.0.1 (ntp.bacgiang.gov.vn)
Poll interval: 34min 8s (min: 32s; max 34min 8s)
         Leap: normal
      Version: 4
      Stratum: 2
    Reference: C0A80101
    Precision: 1us (-25)
Root distance: 1.027ms (max: 5s)
       Offset: -3.201ms
        Delay: 1.337ms
       Jitter: 512us
 Packet count: 12
    Frequency: +12.345ppm
"""


def fake_run(answers: dict[str, tuple[int, str]]):
    calls = []

    def run(argv):
        calls.append(list(argv))
        code, out = answers.get(" ".join(argv[:2]), (127, ""))
        return subprocess.CompletedProcess(list(argv), code, out, "" if code == 0 else "not found")

    run.calls = calls
    return run


def test_timedatectl_gives_zone_sync_server_and_offset():
    run = fake_run({"timedatectl show": (0, "Timezone=Asia/Ho_Chi_Minh\nNTPSynchronized=yes\n"),
                    "timedatectl timesync-status": (0, TIMESYNC_STATUS)})
    report = read_time(run=run)
    assert report == TimeReport("Asia/Ho_Chi_Minh", True, -3.201, "10.24.0.1", ())
    assert report.line() == "zone Asia/Ho_Chi_Minh, synchronised, server 10.24.0.1, offset -3.2 ms"


@pytest.mark.parametrize("text, ms", [("Offset: +1.5s", 1500.0), ("Offset: -12us", -0.012), ("Offset: +1s 250ms", 1250.0),
                                      ("Offset: +2min 3s", 123000.0), ("Delay: 1ms", None), ("", None)])
def test_offsets(text, ms):
    assert parse_offset_ms(text) == (pytest.approx(ms) if ms is not None else None)


def test_files_of_a_scratch_root_when_timedatectl_is_absent(tmp_path):
    (tmp_path / "etc/systemd/timesyncd.conf.d").mkdir(parents=True)
    (tmp_path / "etc/systemd/timesyncd.conf.d/hailong.conf").write_text("[Time]\nNTP=ntp.bacgiang.gov.vn 10.24.0.1\n")
    os.symlink("/usr/share/zoneinfo/Asia/Ho_Chi_Minh", tmp_path / "etc/localtime")
    (tmp_path / "run/systemd/timesync").mkdir(parents=True)
    run = fake_run({})
    report = read_time(tmp_path, run=run)
    assert run.calls == []  # another root: systemd there is not ours to ask
    assert report == TimeReport("Asia/Ho_Chi_Minh", False, None, None, ("ntp.bacgiang.gov.vn", "10.24.0.1"))
    (tmp_path / "run/systemd/timesync/synchronized").touch()
    assert read_time(tmp_path, run=run).synchronized is True
    (tmp_path / "etc/timezone").write_text("Asia/Bangkok\n")  # /etc/timezone wins over the link
    assert read_time(tmp_path, run=run).zone == "Asia/Bangkok"


def test_nothing_known_degrades_to_unknown(tmp_path):
    report = read_time(tmp_path, run=fake_run({}))
    assert report == TimeReport(None, None)
    assert report.line() == "zone unknown, sync state unknown"


class _Settings:
    pass


def _lines(store, report: TimeReport) -> tuple[bool, list[str]]:
    lines: list[str] = []
    ok = selftest.run_self_test(store, _Settings(), lines.append, read_time=lambda: report)
    return ok, [line for line in lines if " time:" in line]


@pytest.fixture
def store(tmp_path, monkeypatch):
    # The Qt check is another test's business (tests/test_kiosk_cli.py): keep this one Qt-free.
    monkeypatch.setattr(selftest, "_check_qt", lambda store, settings: "skipped")
    s = Store(tmp_path / "kiosk.sqlite3")
    yield s
    s.close()


def test_self_test_reports_time_and_only_warns(store):
    ok, lines = _lines(store, TimeReport("Asia/Ho_Chi_Minh", True, 1.25, "10.24.0.1"))
    assert ok and lines == ["ok    time: zone Asia/Ho_Chi_Minh, synchronised, server 10.24.0.1, offset +1.2 ms"]

    ok, lines = _lines(store, TimeReport("Etc/UTC", False, None, None, ("10.24.0.1",)))
    assert ok, "a clock not yet synchronised warns, it does not fail the install"
    assert lines == ["warn  time: zone Etc/UTC, NOT synchronised, NTP 10.24.0.1: the system's zone is not Asia/Ho_Chi_Minh "
                     "(the kiosk still keeps province time); the clock has not reached its time server yet"]

    ok, lines = _lines(store, TimeReport("Asia/Ho_Chi_Minh", True, 600_000.0))
    assert ok and lines[0].startswith("warn  time:") and "more than 2 s off" in lines[0]


def test_the_configs_zone_is_the_one_expected(store):
    store.set_meta(config={"settings": {"time_zone": "Asia/Bangkok"}})
    ok, lines = _lines(store, TimeReport("Asia/Bangkok", True))
    assert ok and lines == ["ok    time: zone Asia/Bangkok, synchronised"]
