"""The kiosk installer against a scratch root; systemd units verified by systemd-analyze.

The system checks run with ``--check-only`` against scratch roots holding another system's
``/etc/os-release`` (and a fake ``python3`` on PATH for the Python check). The slow test installs
for real into a scratch root (venv, pip install ".[kiosk]", self-test) with every option, then
verifies the installed unit against this machine's own systemd units. A Debian 13 root made with
debootstrap is checked by ``installer/check-debian-root.sh`` (docs/install-kiosk.md); the install
guide itself, command by command, by ``installer/check_install_guide.py`` (tests/test_install_guide.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

UNITS = ROOT / "installer" / "systemd"


def _fill(text: str) -> str:
    return text.replace("@PREFIX@", "/opt/hailong").replace("@DATA@", "/var/lib/hailong-kiosk")


def _fake_root(tmp_path: Path) -> Path:
    """A root holding the binaries the units name, so verify checks our files, not this machine."""
    root = tmp_path / "root"
    for exe in ("usr/bin/cage", "opt/hailong/venv/bin/hailong-kiosk", "opt/hailong/venv/bin/hailong-server"):
        path = root / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    # The system's own units (sysinit.target, graphical.target, …) that ours depend on.
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    return root


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["hailong-kiosk.service", "hailong-server.service", "hailong-server-maintain.service",
                                  "hailong-server-maintain.timer"])
def test_units_pass_systemd_analyze_verify(tmp_path, unit):
    root = _fake_root(tmp_path)
    for shipped in UNITS.iterdir():  # a timer is verified with the service it starts
        (root / "etc/systemd/system" / shipped.name).write_text(_fill(shipped.read_text()))
    target = root / "etc/systemd/system" / unit
    out = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no", str(target)],
                         capture_output=True, text=True, timeout=60)
    problems = [line for line in (out.stdout + out.stderr).splitlines() if unit in line or "Unknown" in line]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr


def test_unit_restarts_and_watches(tmp_path):
    text = (UNITS / "hailong-kiosk.service").read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "User=hailong-kiosk", "NoNewPrivileges=yes",
                 "Environment=QT_QPA_PLATFORM=wayland"):
        assert line in text
    # "session" becomes cage (same PID, so the watchdog and READY=1 still belong to the unit's main process).
    assert "ExecStart=@PREFIX@/venv/bin/hailong-kiosk --data-dir @DATA@ session" in text


INSTALLER = ROOT / "installer" / "install-kiosk.sh"
OS_RELEASES = {
    "debian12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "debian13": 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n',
    "ubuntu2404": 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
    "ubuntu2204": 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
    "debian11": 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n',
    "fedora40": 'PRETTY_NAME="Fedora Linux 40 (Workstation Edition)"\nID=fedora\nVERSION_ID=40\n',
}


def _os_root(tmp_path: Path, system: str, systemd: bool = True) -> Path:
    root = tmp_path / system
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(OS_RELEASES[system])
    if systemd:
        init = root / "usr/lib/systemd/systemd"
        init.parent.mkdir(parents=True)
        init.write_text("#!/bin/sh\n")
        init.chmod(0o755)
    return root


def _installer(*args: str, env: dict | None = None, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALLER), *args], capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ), input=stdin)


@pytest.mark.parametrize("system", ["debian12", "debian13", "ubuntu2404"])
def test_supported_systems_pass_the_checks(tmp_path, system):
    out = _installer("--root", str(_os_root(tmp_path, system)), "--check-only")
    assert out.returncode == 0, out.stderr
    assert "supported" in out.stdout and "nothing changed" in out.stdout
    assert sorted(p.name for p in (tmp_path / system / "etc").iterdir()) == ["os-release"]  # nothing written


@pytest.mark.parametrize("system, reason", [
    ("ubuntu2204", "its Python is 3.10, the kiosk needs 3.11 or newer"),
    ("debian11", "its Python is 3.9"),
    ("fedora40", "Fedora Linux 40 (Workstation Edition) is not supported. Supported: Debian 12, Debian 13, Ubuntu 24.04"),
])
def test_other_systems_are_refused_with_the_reason(tmp_path, system, reason):
    out = _installer("--root", str(_os_root(tmp_path, system)), "--check-only")
    assert out.returncode == 3
    assert "cannot install" in out.stderr and reason in out.stderr, out.stderr


def test_no_systemd_is_refused(tmp_path):
    out = _installer("--root", str(_os_root(tmp_path, "debian12", systemd=False)), "--check-only")
    assert out.returncode == 3 and "systemd is not installed" in out.stderr, out.stderr


@pytest.mark.skipif(os.path.isdir("/run/systemd/system") or os.geteuid() != 0,
                    reason="needs root on a machine where systemd is not PID 1 (a container, like CI's)")
def test_real_root_without_a_running_systemd_is_refused():
    # --check-only stops before anything is changed, so this is safe on the machine itself.
    out = _installer("--check-only")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "systemd is not running as the init system" in out.stderr and "--no-start" in out.stderr


def test_python_older_than_3_11_is_refused(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"  # stands in for Ubuntu 22.04's Python at the process boundary
    fake.write_text("#!/bin/sh\necho 3.10\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = _installer("--root", str(_os_root(tmp_path, "debian12")), "--check-only", env=env)
    assert out.returncode == 3 and "is Python 3.10; the kiosk needs Python 3.11 or newer" in out.stderr, out.stderr


@pytest.mark.parametrize("args, message", [
    (["--rotation", "45"], "--rotation must be 0, 90, 180 or 270"),
    (["--admin-pin", "12ab"], "--admin-pin must be 4 to 12 digits"),
    (["--admin-pin", "123"], "--admin-pin must be 4 to 12 digits"),
    (["--server", "https://x.example"], "--server and --code go together"),
])
def test_bad_options_are_refused_before_anything(tmp_path, args, message):
    out = _installer("--root", str(_os_root(tmp_path, "debian12")), "--check-only", *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_every_option_of_the_guides_tables_is_one_the_installer_takes(tmp_path):
    """docs/install-kiosk.md lists the options in a table (vi) and a sentence (en): both in step
    with ``--help``, and each is accepted (``--check-only`` stops before anything changes)."""
    guide = (ROOT / "docs/install-kiosk.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `(--[a-z-]+)[^`]*` \|", guide, re.M)
    assert len(table) >= 8
    usage = _installer("--help").stdout
    for option in table:
        assert option in usage and option in guide.split("## English")[1], option
    out = _installer("--root", str(_os_root(tmp_path, "debian12")), "--check-only", "--time-zone", "Asia/Ho_Chi_Minh",
                     "--ntp", "ntp.example.gov.vn", "--rotation", "90", "--keep-display-manager")
    assert out.returncode == 0, out.stderr


def test_a_file_that_is_not_a_public_key_is_refused(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    out = _installer("--root", str(_os_root(tmp_path, "debian12")), "--check-only", "--ssh-key", str(key))
    assert out.returncode == 2 and "is not an OpenSSH public key" in out.stderr




GDM_UNIT = """[Unit]
Description=GNOME Display Manager (a stand-in)
[Service]
ExecStart=/usr/sbin/gdm3
[Install]
Alias=display-manager.service
"""


@pytest.mark.slow
def test_install_into_scratch_root_then_uninstall(tmp_path):
    root = tmp_path / "scratch"
    # A desktop install: GDM enabled as the display manager, taking tty1.
    (root / "lib/systemd/system").mkdir(parents=True)
    (root / "lib/systemd/system/gdm3.service").write_text(GDM_UNIT)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/display-manager.service").symlink_to("/lib/systemd/system/gdm3.service")
    key = tmp_path / "it.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0dGVzdGtleWZvcmhhaWxvbmdpbnN0YWxsZXJ0ZXN0 it@province\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    args = ["--root", str(root), "--source", str(ROOT), "--time-zone", "Asia/Ho_Chi_Minh", "--ntp", "ntp.bacgiang.gov.vn",
            "--ntp", "10.24.0.1", "--rotation", "90", "--ssh-key", str(key)]
    out = _installer(*args, env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "self-test passed" in out.stdout
    unit = root / "etc/systemd/system/hailong-kiosk.service"
    assert "ExecStart=/opt/hailong/venv/bin/hailong-kiosk --data-dir /var/lib/hailong-kiosk session" in unit.read_text()
    assert "@PREFIX@" not in unit.read_text()
    assert (root / "etc/systemd/system/graphical.target.wants/hailong-kiosk.service").is_symlink()
    assert (root / "etc/pam.d/hailong-kiosk").exists()
    passwd = (root / "etc/passwd").read_text()
    assert any(line.startswith("hailong-kiosk:") and line.endswith(":/usr/sbin/nologin") for line in passwd.splitlines())
    data = root / "var/lib/hailong-kiosk"
    assert (data / "kiosk.sqlite3").exists() and oct(data.stat().st_mode & 0o777) == "0o700"
    assert (root / "opt/hailong/app/assets/units/bac_giang_2023.json").exists()

    # The kiosk extra only: no server libraries in the kiosk's venv.
    site = next((root / "opt/hailong/venv/lib").glob("python3*/site-packages"))
    assert (site / "PySide6").is_dir()
    assert not [p.name for p in site.iterdir() if p.name.lower().startswith(("fastapi", "uvicorn", "psycopg", "openpyxl", "jinja2"))]

    # The admin PIN: made, printed once, stored as the kiosk's local Argon2id hash.
    from kiosk.pins import verify_pin

    pin = re.search(r"new admin PIN:\s+(\d{6})", out.stdout).group(1)
    from kiosk.store import Store

    def local_hash() -> str:
        store = Store(data / "kiosk.sqlite3")
        try:
            return store.get_meta("local_admin_pin_hash")
        finally:
            store.close()

    assert verify_pin(local_hash(), pin)

    # Time: the zone and the province's servers.
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Asia/Ho_Chi_Minh"
    assert (root / "etc/timezone").read_text() == "Asia/Ho_Chi_Minh\n"
    assert "NTP=ntp.bacgiang.gov.vn 10.24.0.1" in (root / "etc/systemd/timesyncd.conf.d/hailong.conf").read_text().splitlines()

    # The display manager is disabled (and remembered), the rotation and the touch rule are set.
    assert not (root / "etc/systemd/system/display-manager.service").exists()
    assert (root / "etc/hailong-kiosk/display-manager").read_text().strip() == "gdm3.service"
    assert "display manager gdm3.service" in out.stdout
    assert '"display_rotation": 90' in (data / "settings.json").read_text()
    assert 'LIBINPUT_CALIBRATION_MATRIX}="0 1 0 -1 0 1"' in (root / "etc/udev/rules.d/99-hailong-touch.rules").read_text()
    assert (root / "etc/udev/rules.d/70-hailong-backlight.rules").exists()

    # SSH: the key for root, key-only.
    assert (root / "root/.ssh/authorized_keys").read_text() == key.read_text()
    assert oct((root / "root/.ssh/authorized_keys").stat().st_mode & 0o777) == "0o600"
    sshd = (root / "etc/ssh/sshd_config.d/10-hailong.conf").read_text().splitlines()
    assert "PasswordAuthentication no" in sshd and "KbdInteractiveAuthentication no" in sshd
    # The staff's command: sudo hailong-kiosk … runs as the kiosk's user.
    wrapper = (root / "usr/local/sbin/hailong-kiosk").read_text()
    assert "runuser -u hailong-kiosk" in wrapper and "--data-dir /var/lib/hailong-kiosk" in wrapper

    # The installed unit verifies against this machine's own systemd units.
    if shutil.which("systemd-analyze"):
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
        verify = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no", str(unit)],
                                capture_output=True, text=True, timeout=60)
        problems = [line for line in (verify.stdout + verify.stderr).splitlines() if "hailong-kiosk" in line or "Unknown" in line]
        assert verify.returncode == 0 and not problems, verify.stdout + verify.stderr

    # Run again (an upgrade) with a PIN given on stdin: it replaces the made one; the key is not added twice.
    again = _installer(*args, "--admin-pin", "-", env=env, stdin="482913\n", timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "new admin PIN" not in again.stdout
    assert verify_pin(local_hash(), "482913") and not verify_pin(local_hash(), pin)
    assert (root / "root/.ssh/authorized_keys").read_text() == key.read_text()

    # Uninstall keeps the database by default and gives tty1 back to the display manager ...
    out = subprocess.run(["bash", str(ROOT / "installer/uninstall-kiosk.sh"), "--root", str(root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not (root / "opt/hailong").exists() and not unit.exists()
    assert not (root / "usr/local/sbin/hailong-kiosk").exists()
    assert (root / "etc/systemd/system/display-manager.service").is_symlink()
    assert (data / "kiosk.sqlite3").exists()
    # ... and --purge removes it (nothing pending here).
    subprocess.run(["bash", str(ROOT / "installer/uninstall-kiosk.sh"), "--root", str(root), "--purge"],
                   capture_output=True, text=True, timeout=120, check=True)
    assert not data.exists()
    assert "hailong-kiosk:" not in (root / "etc/passwd").read_text()
