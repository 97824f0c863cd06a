"""The install guide (docs/install-kiosk.md) as commands: extracted, the same in both halves, all real.

The fast tests need no root: the guide's ```` ```sh kiosk ```` / ```` ```sh server ```` blocks are
extracted by ``installer/check_install_guide.py`` (the same code that runs them), the Vietnamese and
the English halves must carry the same commands, and every ``hailong-kiosk``/``hailong-server``
subcommand and option the guide names must exist (their ``--help``). The slow test follows the
whole guide in a Debian 12 root made with debootstrap (root, network, minutes): only with
``HAILONG_CHROOT_TESTS=1``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

SCRIPT = ROOT / "installer" / "check_install_guide.py"
GUIDE = ROOT / "docs" / "install-kiosk.md"


def _guide_module():
    spec = importlib.util.spec_from_file_location("check_install_guide", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


guide = _guide_module()


def _commands():
    return guide.guide_commands(GUIDE.read_text(encoding="utf-8"))


def test_extraction_finds_the_guides_commands():
    commands = _commands()
    vi = [c.command for c in commands if c.half == "vi"]
    assert len(vi) >= 40
    # The install, the enrolment over TLS, the release on the server and at the kiosk are all there.
    for wanted in ("sudo bash installer/install-kiosk.sh --server https://hailong.bacgiang.gov.vn --code ABCD-EFGH-JKMN",
                   "sudo hailong-kiosk enroll --server https://hailong.bacgiang.gov.vn",
                   "hailong-server release-add dist/hailong-0.2.0-py3-none-any.whl",
                   "sudo hailong-kiosk update now", "timedatectl", "sudo systemctl restart hailong-kiosk"):
        assert any(c.startswith(wanted) for c in vi), wanted
    # The pin pipeline is one command across its continuation line; comments are not commands.
    pipeline = [c for c in vi if c.startswith("openssl s_client") and "openssl base64" in c]
    assert len(pipeline) == 1 and "\\" not in pipeline[0]
    assert not any(c.startswith("#") or "# " in c.split("'")[0] for c in vi)
    assert {c.where for c in commands} == {"kiosk", "server"}
    server = [c.command for c in commands if c.half == "vi" and c.where == "server"]
    assert server[0] == "hailong-server enroll-code --unit 7210" and "python3 -m pip wheel --no-deps -w dist ." in server


def test_vietnamese_and_english_halves_carry_the_same_commands():
    commands = _commands()
    assert guide.halves_differ(commands) == []
    assert len([c for c in commands if c.half == "vi"]) == len([c for c in commands if c.half == "en"])


def test_extraction_refuses_an_untagged_block_and_sees_a_difference():
    with pytest.raises(ValueError, match="says where it runs"):
        guide.guide_commands("### A\n```sh\nsudo reboot\n```\n")
    text = ("### A\n```sh kiosk\nsudo hailong-kiosk status   # vi\n```\n## English\n### A\n"
            "```sh kiosk\nsudo hailong-kiosk sync   # en\n```\n")
    assert guide.halves_differ(guide.guide_commands(text)) == [
        "command 1: vi ('kiosk', 'sudo hailong-kiosk status') / en ('kiosk', 'sudo hailong-kiosk sync')"]
    assert guide.split_comment("echo 'a # b' # c") == ("echo 'a # b'", "c")


def _program(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed in this environment")
    return found


def test_every_subcommand_and_option_the_guide_names_exists():
    named = guide.named_options(_commands())
    assert ("hailong-kiosk", "touch-map") in named and ("hailong-server", "release-stage") in named
    assert ("hailong-kiosk", "update", "now") in named
    for (program, *sub), options in sorted(named.items()):
        help_text = subprocess.run([_program(program), *sub, "--help"], capture_output=True, text=True,
                                   timeout=60, check=True).stdout
        for option in sorted(options):
            assert option in help_text, f"{program} {' '.join(sub)} has no {option}"


def test_every_installer_option_the_guide_names_exists():
    usage = subprocess.run(["bash", str(ROOT / "installer/install-kiosk.sh"), "--help"], capture_output=True,
                           text=True, timeout=30, check=True).stdout
    for c in _commands():
        words = c.command.split()
        if "installer/install-kiosk.sh" in words:
            for option in (w for w in words[words.index("installer/install-kiosk.sh") + 1:] if w.startswith("--")):
                assert option in usage, f"install-kiosk.sh has no {option}"


@pytest.mark.slow
@pytest.mark.chroot
def test_the_guide_followed_literally_in_a_debian_12_root(tmp_path):
    if os.environ.get("HAILONG_CHROOT_TESTS") != "1":
        pytest.skip("follows the install guide in a debootstrap root (root, network, ~10 min): "
                    "set HAILONG_CHROOT_TESTS=1 to run it")
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip("needs root and debootstrap")
    root = Path(os.environ.get("HAILONG_CHROOT_ROOT") or tmp_path / "bookworm")
    proc = subprocess.run([sys.executable, str(SCRIPT), str(root), "--suite", "bookworm", "--log", str(tmp_path / "run.log")],
                          capture_output=True, text=True, timeout=3600)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("ran/ok", "checked-offline", "FAIL"))]
    assert len(lines) == len([c for c in _commands() if c.half == "vi"])
    assert not [line for line in lines if line.startswith("FAIL")]


def test_only_what_a_chroot_cannot_run_is_checked_offline():
    offline = {c.command for c in _commands() if guide.offline_reason(c.command)}
    assert offline == {"sudo systemctl restart hailong-kiosk", "sudo journalctl -u hailong-kiosk", "timedatectl",
                       "sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=input",
                       "sudo libinput debug-events"}
    # Everything else in the guide runs as written (placeholders aside).
    assert guide.offline_reason("sudo hailong-kiosk self-test") is None
    assert guide.offline_reason("sudo bash installer/install-kiosk.sh --check-only") is None
