"""kiosk/display.py: when the screen is on, how cage is started and rotated, how the screen is switched
and how the touch screen is mapped. Commands are faked at the process boundary (a recording runner);
the backlight is a scratch sysfs folder."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiosk import display
from kiosk import settings as kiosk_settings
from kiosk.cli import main

HOURS = {"mon": [["07:30", "11:30"], ["13:30", "17:00"]], "tue": [["07:30", "11:30"], ["13:30", "17:00"]],
         "sat": [["07:30", "11:30"]]}
MONDAY = datetime(2026, 11, 30)  # a Monday


def at(day: datetime, hhmm: str) -> datetime:
    hh, mm = hhmm.split(":")
    return day.replace(hour=int(hh), minute=int(mm))


class Recorder:
    """Stands in for subprocess at the boundary: records argv, answers as scripted."""

    def __init__(self, answers: dict[str, tuple[int, str]] | None = None):
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv):
        self.calls.append(list(argv))
        code, out = self.answers.get(" ".join(argv), self.answers.get(argv[0], (0, "")))
        return subprocess.CompletedProcess(list(argv), code, out, "" if code == 0 else "failed")


@pytest.mark.parametrize("hhmm, on", [("07:00", False), ("07:14", False), ("07:15", True), ("09:00", True),
                                       ("12:30", True),  # the midday break stays lit
                                       ("17:14", True), ("17:15", False), ("23:59", False), ("00:00", False)])
def test_screen_follows_office_hours_with_margins(hhmm, on):
    assert display.screen_should_be_on(HOURS, at(MONDAY, hhmm), early_min=15, late_min=15) is on


def test_closed_days_and_missing_or_broken_hours():
    sunday = MONDAY + timedelta(days=6)
    assert display.screen_should_be_on(HOURS, at(sunday, "09:00")) is False
    assert display.screen_should_be_on(HOURS, at(MONDAY + timedelta(days=5), "11:40")) is True   # Saturday morning
    assert display.screen_should_be_on(HOURS, at(MONDAY + timedelta(days=5), "14:00")) is False  # Saturday afternoon
    assert display.screen_should_be_on(None, at(sunday, "03:00")) is True     # no office hours: always on
    assert display.screen_should_be_on({"mon": "garbage"}, at(MONDAY, "03:00")) is True  # malformed: always on


def test_cage_argv_per_version():
    child = ["/opt/hailong/venv/bin/hailong-kiosk", "--data-dir", "/var/lib/hailong-kiosk", "run"]
    # Debian 12's cage 0.1.4: rotation on the command line, one -r per 90°.
    assert display.cage_argv(child, rotation=270, version=(0, 1, 4)) == ["/usr/bin/cage", "-d", "-s", "-r", "-r", "-r", "--", *child]
    # 0.1.5 (Ubuntu 24.04) and 0.2.0 (Debian 13) have no -r: wlr-randr rotates once it runs.
    assert display.cage_argv(child, rotation=90, version=(0, 2, 0)) == ["/usr/bin/cage", "-d", "-s", "--", *child]
    assert display.cage_argv(child, allow_vt_switch=False, version=(0, 1, 5))[:3] == ["/usr/bin/cage", "-d", "--"]
    with pytest.raises(ValueError):
        display.cage_argv(child, rotation=45)
    assert display.parse_cage_version("Cage version 0.1.4\n") == (0, 1, 4)
    assert display.parse_cage_version("cage 0.2") == (0, 2, 0)
    assert display.parse_cage_version("") is None


WLR_RANDR = """HDMI-A-1 "Dell Inc. P2219H (HDMI-A-1)"
  Make: Dell Inc.
  Enabled: yes
  Modes:
    1920x1080 px, 60.000000 Hz (preferred, current)
  Transform: normal
DP-1 "Touch panel"
  Enabled: no
  Transform: 90
"""


def test_wlr_randr_listing_and_rotation_commands():
    outputs = display.parse_wlr_randr(WLR_RANDR)
    assert outputs == [display.Output("HDMI-A-1", True, "normal"), display.Output("DP-1", False, "90")]
    assert display.rotation_commands(90, outputs) == [["wlr-randr", "--output", "HDMI-A-1", "--transform", "90"]]
    assert display.rotation_commands(0, outputs, only="DP-1") == [["wlr-randr", "--output", "DP-1", "--transform", "normal"]]


def test_session_argv_asks_cage_its_version(tmp_path):
    settings = kiosk_settings.load(tmp_path, display_rotation=180)
    run = Recorder({"/usr/bin/cage -v": (0, "Cage version 0.1.4\n")})
    argv = display.session_argv(tmp_path, settings, run=run, kiosk="/k")
    assert run.calls == [["/usr/bin/cage", "-v"]]
    assert argv == ["/usr/bin/cage", "-d", "-s", "-r", "-r", "--", "/k", "--data-dir", str(tmp_path), "run"]


def test_schedule_switches_only_on_change_and_retries_a_failure():
    run = Recorder()
    power = display.ScreenPower("wlr-randr", run, outputs=["HDMI-A-1"])
    now = [at(MONDAY, "06:00")]
    schedule = display.ScreenSchedule(power, lambda: HOURS, lambda: now[0])
    assert schedule.tick() is False
    assert run.calls == [["wlr-randr", "--output", "HDMI-A-1", "--off"]]
    schedule.tick()
    assert len(run.calls) == 1  # no change, no command
    now[0] = at(MONDAY, "07:20")
    assert schedule.tick() is True
    assert run.calls[-1] == ["wlr-randr", "--output", "HDMI-A-1", "--on"]
    # A failing command is tried again on the next tick.
    run.answers["wlr-randr"] = (1, "")
    now[0] = at(MONDAY, "18:00")
    schedule.tick()
    schedule.tick()
    assert run.calls[-2:] == [["wlr-randr", "--output", "HDMI-A-1", "--off"]] * 2
    assert schedule.state is None


def test_schedule_keeps_the_screen_on_when_the_config_cannot_be_read():
    run = Recorder()
    power = display.ScreenPower("command", run, off_command="ddcutil setvcp d6 04", on_command="ddcutil setvcp d6 01")

    def broken():
        raise RuntimeError("database is locked")

    schedule = display.ScreenSchedule(power, broken, lambda: at(MONDAY, "23:00"))
    assert schedule.tick() is True
    assert run.calls == [["ddcutil", "setvcp", "d6", "01"]]


def test_backlight_method_writes_bl_power(tmp_path):
    for name in ("intel_backlight", "acpi_video0"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "bl_power").write_text("0\n")
    power = display.ScreenPower("backlight", backlight_dir=tmp_path)
    assert power.set(False)
    assert {p.read_text() for p in tmp_path.glob("*/bl_power")} == {"4\n"}
    assert power.set(True)
    assert {p.read_text() for p in tmp_path.glob("*/bl_power")} == {"0\n"}


def test_choose_method(tmp_path):
    outputs = [display.Output("HDMI-A-1", True, "normal")]
    assert display.choose_method("auto", outputs=outputs, backlight_dir=tmp_path) == "wlr-randr"
    assert display.choose_method("auto", outputs=None, backlight_dir=tmp_path) == "none"
    (tmp_path / "panel").mkdir()
    (tmp_path / "panel" / "bl_power").write_text("0\n")
    assert display.choose_method("auto", outputs=None, backlight_dir=tmp_path) == "backlight"
    assert display.choose_method("auto", outputs=outputs, off_command="ddcutil setvcp d6 04") == "command"
    assert display.choose_method("none", outputs=outputs) == "none"


def test_start_in_session_rotates_then_schedules(tmp_path, monkeypatch):
    """Under cage ≥ 0.1.5: wlr-randr lists the outputs, rotates the one that is not, then the schedule runs."""
    from kiosk.store import Store

    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setattr(display.shutil, "which", lambda name: "/usr/bin/" + name)
    store = Store(tmp_path / "kiosk.sqlite3")
    store.set_meta(config={"settings": {"office_hours": HOURS}})
    settings = kiosk_settings.load(tmp_path, display_rotation=90, tick_s=3600)
    run = Recorder({"wlr-randr": (0, WLR_RANDR)})
    schedule = display.start_in_session(store, settings, run=run, now=lambda: at(MONDAY, "22:00"))
    try:
        assert schedule is not None
        assert run.calls[:2] == [["wlr-randr"], ["wlr-randr", "--output", "HDMI-A-1", "--transform", "90"]]
        assert schedule.power.method == "wlr-randr"
        # The first decision is taken before start returns: 22:00 on a Monday is outside office hours.
        assert schedule.state is False
        assert ["wlr-randr", "--output", "HDMI-A-1", "--off"] in run.calls
    finally:
        schedule.stop()
        store.close()


def test_start_in_session_does_nothing_off_wayland(tmp_path, monkeypatch):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    run = Recorder()
    assert display.start_in_session(None, kiosk_settings.load(tmp_path), run=run) is None
    assert run.calls == []


PROC_DEVICES = """I: Bus=0011 Vendor=0001 Product=0001 Version=ab41
N: Name="AT Translated Set 2 keyboard"
H: Handlers=sysrq kbd event0 leds
B: EV=120013
B: KEY=402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe

I: Bus=0003 Vendor=0eef Product=c002 Version=0111
N: Name="eGalax Inc. eGalaxTouch EXC3000-0368-44.00.00"
H: Handlers=mouse0 event5
B: EV=1b
B: KEY=400 0 0 0 0 0
B: ABS=260800000000003
"""


def test_touch_devices_and_matrices(tmp_path):
    assert display.parse_input_devices(PROC_DEVICES) == [
        {"name": "eGalax Inc. eGalaxTouch EXC3000-0368-44.00.00", "handlers": "mouse0 event5"}]
    assert display.TOUCH_MATRICES[90] == (0, 1, 0, -1, 0, 1)
    assert display.parse_matrix("0 -1 1, 1 0 0") == (0, -1, 1, 1, 0, 0)
    with pytest.raises(ValueError):
        display.parse_matrix("1 0 0")
    # Corners read at 5 %/4 % and 95 %/97 % of the surface map back onto the screen's corners.
    a, b, c, d, e, f = display.calibration_from_corners((0.05, 0.04), (0.95, 0.97))
    assert a * 0.05 + c == pytest.approx(0) and a * 0.95 + c == pytest.approx(1)
    assert d * 0.05 + e * 0.04 + f == pytest.approx(0) and e * 0.97 + f == pytest.approx(1)
    rule = display.udev_rule((0, 1, 0, -1, 0, 1), "eGalax Inc. eGalaxTouch EXC3000-0368-44.00.00")
    assert 'ATTRS{name}=="eGalax Inc. eGalaxTouch EXC3000-0368-44.00.00"' in rule
    assert 'ENV{LIBINPUT_CALIBRATION_MATRIX}="0 1 0 -1 0 1"' in rule


def test_touch_map_command_writes_the_rule(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.json").write_text('{"display_rotation": 270}')
    assert main(["--data-dir", str(data), "touch-map", "--root", str(tmp_path)]) == 0
    rule = (tmp_path / "etc/udev/rules.d/99-hailong-touch.rules").read_text()
    assert 'ENV{ID_INPUT_TOUCHSCREEN}=="1"' in rule and 'LIBINPUT_CALIBRATION_MATRIX}="0 -1 1 1 0 0"' in rule
    assert main(["--data-dir", str(data), "touch-map", "--corners", "0.05,0.04", "0.95,0.97", "--print"]) == 0
    assert "LIBINPUT_CALIBRATION_MATRIX" in capsys.readouterr().out
    assert main(["--data-dir", str(data), "touch-map", "--matrix", "1 2 3"]) == 2
    assert not (data / "kiosk.sqlite3").exists()  # touch-map never opens the kiosk's database


def test_display_is_qt_free():
    from tests.test_imports import imported_modules

    assert not {"PySide6", "shiboken6"} & imported_modules(Path(display.__file__))
