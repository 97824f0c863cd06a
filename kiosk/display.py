"""The kiosk's screen: rotation, touch mapping, and the screen off outside office hours. No Qt.

What works under each ``cage`` (measured on Debian 12 and a Debian 13 root, docs/install-kiosk.md):

=============  ===================  ===========================  ==============================
cage           where                rotation                     screen off / on
=============  ===================  ===========================  ==============================
0.1.4          Debian 12            ``cage -r`` (once per 90°)   no Wayland way: the panel's
                                                                 backlight (``bl_power``) or a
                                                                 command (e.g. ``ddcutil``)
≥ 0.1.5        Ubuntu 24.04,        ``wlr-randr --transform``    ``wlr-randr --off`` / ``--on``
               Debian 13 (0.2.0)    (output management)          (the output is disabled: the
                                                                 monitor gets no signal, sleeps)
=============  ===================  ===========================  ==============================

No cage offers wlr-output-power-management, so ``wlopm`` does not work under any of them.

``hailong-kiosk session`` (the systemd unit's ``ExecStart``) reads the settings, asks cage its
version and replaces itself with ``cage [-s] [-r…] -d -- hailong-kiosk run``; ``run`` then calls
:func:`start_in_session`, which applies a rotation cage could not take on its command line and
starts the :class:`ScreenSchedule` thread. Whether the screen should be on is a pure function
(:func:`screen_should_be_on`) of the office hours and the time; the thread only runs a command
when that answer changes. Every command goes through an injected ``run`` (tests fake it).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Sequence

from kiosk import hours

log = logging.getLogger(__name__)

ROTATIONS = (0, 90, 180, 270)
CAGE = "/usr/bin/cage"
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def default_run(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run a display command with a short timeout; never raises for a failing command."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


# --- cage -----------------------------------------------------------------------------------

def parse_cage_version(text: str) -> tuple[int, ...] | None:
    """``Cage version 0.1.4`` → ``(0, 1, 4)``; None when the text holds no version."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(g) for g in match.groups(default="0"))


def cage_version(run: Runner = default_run, cage: str = CAGE) -> tuple[int, ...] | None:
    out = run([cage, "-v"])
    return parse_cage_version((out.stdout or "") + (out.stderr or ""))


def cage_has_output_management(version: tuple[int, ...] | None) -> bool:
    """cage 0.1.5 added wlr-output-management (wlr-randr) and dropped ``-r``."""
    return version is not None and version >= (0, 1, 5)


def cage_argv(child: Sequence[str], *, rotation: int = 0, allow_vt_switch: bool = True,
              version: tuple[int, ...] | None = None, cage: str = CAGE) -> list[str]:
    """The compositor's command line for ``child``.

    ``-d``: no client-side decorations. ``-s``: Ctrl+Alt+F2… reach a login console (the recovery
    path, docs/install-kiosk.md). ``-r`` once per 90° clockwise, only on a cage that has it
    (< 0.1.5); a newer one is rotated by :func:`rotation_commands` once it runs.
    """
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS}, not {rotation!r}")
    argv = [cage, "-d"]
    if allow_vt_switch:
        argv.append("-s")
    if not cage_has_output_management(version):
        argv += ["-r"] * (rotation // 90)
    return [*argv, "--", *child]


# --- outputs (wlr-randr) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    name: str
    enabled: bool
    transform: str


def parse_wlr_randr(text: str) -> list[Output]:
    """The outputs in ``wlr-randr``'s plain listing (a name at the start of a line, then indented fields)."""
    outputs: list[Output] = []
    name, enabled, transform = None, True, "normal"
    for line in (text or "").splitlines():
        if line and not line[0].isspace():
            if name:
                outputs.append(Output(name, enabled, transform))
            name, enabled, transform = line.split()[0], True, "normal"
        elif name:
            key, _, value = line.strip().partition(":")
            if key == "Enabled":
                enabled = value.strip() == "yes"
            elif key == "Transform":
                transform = value.strip()
    if name:
        outputs.append(Output(name, enabled, transform))
    return outputs


def list_outputs(run: Runner = default_run) -> list[Output] | None:
    """The compositor's outputs, or None when it has no output management (cage 0.1.4) or no wlr-randr."""
    out = run(["wlr-randr"])
    if out.returncode != 0:
        return None
    return parse_wlr_randr(out.stdout)


def rotation_commands(rotation: int, outputs: Sequence[Output], only: str | None = None) -> list[list[str]]:
    """``wlr-randr --output NAME --transform …`` for each output (or the one named ``only``)."""
    transform = "normal" if rotation == 0 else str(rotation)
    return [["wlr-randr", "--output", o.name, "--transform", transform]
            for o in outputs if (only is None or o.name == only) and o.transform != transform]


# --- when the screen is on ------------------------------------------------------------------

def screen_should_be_on(office_hours: dict | None, moment: datetime, *, early_min: float = 15,
                        late_min: float = 15) -> bool:
    """True from ``early_min`` before the day's first opening to ``late_min`` after its last closing.

    The midday break keeps the screen on (staff come back to a lit kiosk); a closed day is dark
    all day; no office hours (or malformed ones, as :mod:`kiosk.hours` reads them) keep it on.
    ``moment`` is local time in the province's zone.
    """
    today = hours.periods(office_hours, moment)
    if today is None:
        return True
    if not today:
        return False
    first = min(a for a, _ in today)
    last = max(b for _, b in today)
    day = moment.replace(tzinfo=None)
    start = day.replace(hour=first.hour, minute=first.minute, second=0, microsecond=0) - timedelta(minutes=early_min)
    end = day.replace(hour=last.hour, minute=last.minute, second=0, microsecond=0) + timedelta(minutes=late_min)
    return start <= day < end


# --- how the screen is turned off -----------------------------------------------------------

BACKLIGHT = Path("/sys/class/backlight")


@dataclass
class ScreenPower:
    """Turns the panel off and on by one method: ``wlr-randr``, ``backlight``, ``command`` or ``none``.

    ``backlight`` writes ``bl_power`` (4 off, 0 on) of every backlight under ``backlight_dir``
    (all-in-one touch PCs and laptops panels; the installer's udev rule lets group ``video`` write
    it). ``command`` runs ``off_command`` / ``on_command`` (e.g. ``ddcutil setvcp d6 04`` for a
    monitor that speaks DDC/CI).
    """

    method: str
    run: Runner = default_run
    outputs: Sequence[str] = ()
    off_command: str | None = None
    on_command: str | None = None
    backlight_dir: Path = BACKLIGHT

    def commands(self, on: bool) -> list[list[str]]:
        if self.method == "wlr-randr":
            return [["wlr-randr", "--output", name, "--on" if on else "--off"] for name in self.outputs]
        if self.method == "command":
            text = self.on_command if on else self.off_command
            return [text.split()] if text else []
        return []

    def set(self, on: bool) -> bool:
        """Turn the screen on or off; True when every step worked (failures are logged, never raised)."""
        if self.method == "none":
            return True
        if self.method == "backlight":
            ok = True
            for power in sorted(self.backlight_dir.glob("*/bl_power")):
                try:
                    power.write_text("0\n" if on else "4\n")
                except OSError as exc:
                    ok = False
                    log.warning("screen %s: cannot write %s: %s", "on" if on else "off", power, exc)
            return ok
        ok = True
        for argv in self.commands(on):
            out = self.run(argv)
            if out.returncode != 0:
                ok = False
                log.warning("screen %s: %s exited %s: %s", "on" if on else "off", " ".join(argv), out.returncode,
                            (out.stderr or "").strip()[-300:])
        return ok


def choose_method(wanted: str, *, outputs: list[Output] | None, backlight_dir: Path = BACKLIGHT,
                  off_command: str | None = None) -> str:
    """The method for ``wanted`` (``auto`` picks: a set command, wlr-randr, a writable backlight, none)."""
    if wanted != "auto":
        return wanted
    if off_command:
        return "command"
    if outputs:
        return "wlr-randr"
    if any(os.access(p, os.W_OK) for p in backlight_dir.glob("*/bl_power")):
        return "backlight"
    return "none"


class ScreenSchedule:
    """Keeps the screen on during office hours (:func:`screen_should_be_on`) by calling ``power``.

    ``office_hours()`` and ``now()`` are read on every :meth:`tick` (the config may change);
    ``now`` is local time in the province's zone. A command runs only when the wanted state
    changes, and again after a failure (the next tick retries).
    """

    def __init__(self, power: ScreenPower, office_hours: Callable[[], dict | None], now: Callable[[], datetime], *,
                 early_min: float = 15, late_min: float = 15):
        self.power = power
        self._office_hours = office_hours
        self._now = now
        self.early_min, self.late_min = early_min, late_min
        self.state: bool | None = None  # what the screen was last set to (None: not yet)
        self._stop = threading.Event()

    def tick(self) -> bool:
        """Decide and, on a change, act; the wanted state."""
        try:
            wanted = screen_should_be_on(self._office_hours(), self._now(), early_min=self.early_min, late_min=self.late_min)
        except Exception:  # noqa: BLE001 - a broken config read must never leave the screen dark
            log.exception("screen schedule: could not decide; keeping the screen on")
            wanted = True
        if wanted != self.state:
            log.info("screen schedule: turning the screen %s", "on" if wanted else "off")
            self.state = wanted if self.power.set(wanted) else None
        return wanted

    def run_forever(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.tick()

    def start(self, every_s: float) -> threading.Thread:
        """Decide now (on the caller's thread), then every ``every_s`` seconds on a daemon thread."""
        self.tick()
        thread = threading.Thread(target=self.run_forever, args=(every_s,), name="screen-schedule", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


# --- touch mapping --------------------------------------------------------------------------

# libinput's calibration matrix (a b c d e f: x' = a·x + b·y + c, y' = d·x + e·y + f, in 0..1 of
# the touch surface) that turns a panel's touches with the picture rotated clockwise by the key.
TOUCH_MATRICES = {
    0: (1, 0, 0, 0, 1, 0),
    90: (0, 1, 0, -1, 0, 1),
    180: (-1, 0, 1, 0, -1, 1),
    270: (0, -1, 1, 1, 0, 0),
}
TOUCH_RULE = Path("etc/udev/rules.d/99-hailong-touch.rules")


def parse_input_devices(text: str) -> list[dict]:
    """Touch screens in ``/proc/bus/input/devices``: ``name`` and ``handlers`` (those with ABS_MT or a touch key)."""
    devices, block = [], {}
    for line in (text or "").splitlines() + [""]:
        if not line.strip():
            if block.get("name") and block.get("touch"):
                devices.append({"name": block["name"], "handlers": block.get("handlers", "")})
            block = {}
            continue
        kind, _, rest = line.partition(": ")
        if kind == "N":
            block["name"] = rest.partition("=")[2].strip().strip('"')
        elif kind == "H":
            block["handlers"] = rest.partition("=")[2].strip()
        elif kind == "B" and rest.startswith("ABS="):
            # ABS bits 0x35/0x36 (ABS_MT_POSITION_X/Y) mark a multi-touch surface.
            words = rest.partition("=")[2].split()
            block["touch"] = block.get("touch") or bool(words and int(words[-1], 16) >> 0x35 & 1)
        elif kind == "B" and rest.startswith("KEY="):
            words = rest.partition("=")[2].split()
            # BTN_TOUCH (0x14a = 330) is bit 10 of the sixth 64-bit word from the right.
            if len(words) >= 6:
                block["touch"] = block.get("touch") or bool(int(words[-6], 16) >> (0x14a - 320) & 1)
    return devices


def parse_matrix(text: str) -> tuple[float, ...]:
    """Six numbers (``"0 1 0 -1 0 1"``); ValueError otherwise."""
    values = tuple(float(v) for v in text.replace(",", " ").split())
    if len(values) != 6:
        raise ValueError("a calibration matrix has six numbers: a b c d e f")
    return values


def calibration_from_corners(top_left: tuple[float, float], bottom_right: tuple[float, float]) -> tuple[float, ...]:
    """A matrix that maps the touches read at the screen's top-left and bottom-right targets onto them.

    Points are what the panel reported, as fractions 0..1 of its surface: ``libinput debug-events``
    prints a touch as ``x/y`` in percent of the surface (divide by 100), read with no rule of ours in
    place. The targets sit at the very corners; a panel whose axes are swapped needs a rotation
    matrix instead.
    """
    (x0, y0), (x1, y1) = top_left, bottom_right
    if abs(x1 - x0) < 0.1 or abs(y1 - y0) < 0.1:
        raise ValueError("the two corners are too close: tap the top-left and the bottom-right corner")
    a, d = 1 / (x1 - x0), 1 / (y1 - y0)
    return (a, 0.0, -x0 * a, 0.0, d, -y0 * d)


def udev_rule(matrix: Sequence[float], device_name: str | None = None) -> str:
    """A udev rule setting ``LIBINPUT_CALIBRATION_MATRIX`` on the touch screen (by name, else every one)."""
    values = " ".join(f"{v:g}" for v in matrix)
    match = f'ATTRS{{name}}=="{device_name}", ' if device_name else 'ENV{ID_INPUT_TOUCHSCREEN}=="1", '
    return ("# Written by 'hailong-kiosk touch-map' (docs/install-kiosk.md). Reboot, or run:\n"
            "#   udevadm control --reload && udevadm trigger --subsystem-match=input\n"
            f'ACTION=="add|change", KERNEL=="event[0-9]*", {match}ENV{{LIBINPUT_CALIBRATION_MATRIX}}="{values}"\n')


def write_touch_rule(root: Path, matrix: Sequence[float], device_name: str | None = None) -> Path:
    path = Path(root) / TOUCH_RULE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(udev_rule(matrix, device_name), encoding="utf-8")
    return path


# --- the session ----------------------------------------------------------------------------

def session_argv(data_dir: Path, settings, *, run: Runner = default_run, kiosk: str | None = None,
                 cage: str = CAGE) -> list[str]:
    """The command line ``hailong-kiosk session`` replaces itself with."""
    import sys

    if kiosk is None:
        # The entry point beside this interpreter (the venv's bin/, never resolved out of the venv).
        beside = Path(sys.executable).parent / "hailong-kiosk"
        kiosk = str(beside) if beside.exists() else "hailong-kiosk"
    child = [kiosk, "--data-dir", str(data_dir), "run"]
    return cage_argv(child, rotation=settings.display_rotation, allow_vt_switch=settings.allow_vt_switch,
                     version=cage_version(run, cage), cage=cage)


def start_in_session(store, settings, *, run: Runner = default_run, now: Callable[[], datetime] | None = None
                     ) -> ScreenSchedule | None:
    """Inside the compositor: rotate (when cage could not) and start the screen schedule thread.

    Does nothing off Wayland (a windowed or offscreen run). Never raises: a display command that
    fails is logged and the kiosk goes on collecting answers.
    """
    if not os.environ.get("WAYLAND_DISPLAY"):
        return None
    try:
        outputs = list_outputs(run) if shutil.which("wlr-randr") else None
        if outputs is not None:
            for argv in rotation_commands(settings.display_rotation, outputs, settings.display_output):
                out = run(argv)
                if out.returncode != 0:
                    log.warning("rotation: %s exited %s: %s", " ".join(argv), out.returncode, (out.stderr or "").strip())
        if not settings.screen_schedule:
            return None
        from hailong_core.config import kiosk_settings
        from kiosk.clock import ProvinceClock

        method = choose_method(settings.screen_off_method, outputs=outputs, off_command=settings.screen_off_command)
        names = [o.name for o in outputs or () if settings.display_output in (None, o.name)]
        power = ScreenPower(method, run, names, settings.screen_off_command, settings.screen_on_command)
        config = lambda: store.get_meta("config") or {}  # noqa: E731
        clock = ProvinceClock(config)
        schedule = ScreenSchedule(power, lambda: kiosk_settings(config())["office_hours"], now or clock,
                                  early_min=settings.screen_on_early_min, late_min=settings.screen_off_late_min)
        log.info("screen schedule: method %s, outputs %s", method, ", ".join(names) or "-")
        schedule.start(settings.tick_s)
        return schedule
    except Exception:  # noqa: BLE001 - the display is a comfort; answers come first
        log.exception("display set-up failed; the kiosk runs without rotation or screen schedule")
        return None


def exec_session(data_dir: Path, settings) -> int:
    """``hailong-kiosk session``: become cage running the kiosk (the unit's main process stays one PID)."""
    argv = session_argv(data_dir, settings)
    log.info("starting %s", " ".join(argv))
    os.execv(argv[0], argv)
    return 1  # unreachable: execv replaces the process or raises


# --- the command line -----------------------------------------------------------------------

def add_parsers(sub) -> None:
    """``session`` and ``touch-map``, added to ``hailong-kiosk``'s subcommands."""
    sub.add_parser("session", help="start cage with the kiosk inside, rotated as the settings say (the systemd unit runs this)")
    t = sub.add_parser("touch-map", help="map the touch screen to the picture: a udev rule with LIBINPUT_CALIBRATION_MATRIX (as root)")
    how = t.add_mutually_exclusive_group()
    how.add_argument("--rotation", type=int, choices=ROTATIONS, help="the picture's rotation (default: the display_rotation setting)")
    how.add_argument("--matrix", help="six numbers a b c d e f, e.g. '0 1 0 -1 0 1'")
    how.add_argument("--corners", nargs=2, metavar=("X0,Y0", "X1,Y1"),
                     help="where the panel reported taps on the top-left and bottom-right corners, as fractions 0..1")
    t.add_argument("--device", help="the touch screen's name (see --list); default: every touch screen")
    t.add_argument("--list", action="store_true", help="list the touch screens and exit")
    t.add_argument("--print", action="store_true", help="print the rule instead of writing it")
    t.add_argument("--root", type=Path, default=Path("/"), help="write under this root (image building, tests)")


def command(args, data_dir: Path, settings) -> int:
    """Run ``session`` or ``touch-map``."""
    import sys

    if args.command == "session":
        return exec_session(data_dir, settings)
    if args.list:
        try:
            text = Path("/proc/bus/input/devices").read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"hailong-kiosk: cannot read the input devices: {exc}", file=sys.stderr)
            return 1
        devices = parse_input_devices(text)
        for device in devices:
            print(f"{device['name']}\t{device['handlers']}")
        if not devices:
            print("không thấy màn hình cảm ứng / no touch screen found", file=sys.stderr)
        return 0 if devices else 1
    try:
        if args.matrix:
            matrix = parse_matrix(args.matrix)
        elif args.corners:
            (x0, y0), (x1, y1) = (tuple(float(v) for v in c.split(",")) for c in args.corners)
            matrix = calibration_from_corners((x0, y0), (x1, y1))
        else:
            rotation = settings.display_rotation if args.rotation is None else args.rotation
            matrix = TOUCH_MATRICES[rotation]
    except ValueError as exc:
        print(f"hailong-kiosk: {exc}", file=sys.stderr)
        return 2
    if args.print:
        print(udev_rule(matrix, args.device), end="")
        return 0
    try:
        path = write_touch_rule(args.root, matrix, args.device)
    except OSError as exc:
        print(f"hailong-kiosk: cannot write the rule (run as root: sudo): {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}; reboot, or: udevadm control --reload && udevadm trigger --subsystem-match=input "
          "&& systemctl restart hailong-kiosk")
    return 0
