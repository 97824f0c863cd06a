"""Follows docs/install-kiosk.md literally on a Debian root made with debootstrap (issue 16).

    sudo .venv/bin/python installer/check_install_guide.py /var/tmp/hailong-guide-bookworm [--suite bookworm]

Every ```` ```sh kiosk ```` block of the guide runs, command by command and in order, inside the
root (chroot, with /proc, /sys and /dev bound), in a copy of this source folder, as root; every
```` ```sh server ```` block runs on this machine against a real ``hailong-server`` (this repo's
venv, 127.0.0.1, a fresh SQLite file) behind a TLS front whose certificate chains to a test
"Government CA". Only placeholders are replaced (the server's address and port, the enrolment
code, a release's id and file, a device's id), and each replacement is printed. What needs a
running systemd or a person at the screen cannot run in a chroot; those commands get their
offline equivalent (``systemd-analyze verify``, ``systemctl is-enabled``, the files behind
``timedatectl``, ``udevadm verify``/``test``) and the line says so. One line per command:
``ran/ok``, ``checked-offline`` with why, or ``FAIL``; the exit status is 1 on any FAIL. The
commands' whole output goes to ``--log`` (default ROOT.log).

The Vietnamese and the English halves must carry the same commands (comments aside): checked
first, and by tests/test_install_guide.py without a chroot.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent
GUIDE = SOURCE / "docs" / "install-kiosk.md"
HOST = "hailong.bacgiang.gov.vn"       # the guide's example server: /etc/hosts in the root points it here
GUIDE_URL = f"https://{HOST}"
GUIDE_CODE = "ABCD-EFGH-JKMN"
PIN = "482913"
WHERES = ("kiosk", "server")
FENCE = re.compile(r"^```sh(?:\s+(\S+))?\s*$")


# --- the guide's commands (no root needed: the tests use this part) -----------------------------

@dataclass(frozen=True)
class Command:
    """One command of a ```` ```sh WHERE ```` block: the text as written (continuations joined)."""

    text: str
    where: str           # "kiosk" or "server"
    section: str         # the ### heading above it
    half: str            # "vi" or "en"
    line: int            # 1-based line in the guide

    @property
    def command(self) -> str:
        return split_comment(self.text)[0]

    @property
    def comment(self) -> str:
        return split_comment(self.text)[1]


def split_comment(text: str) -> tuple[str, str]:
    """``cmd  # note`` → (``cmd``, ``note``); a ``#`` inside quotes or inside a word is not a comment."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1:].strip()
    return text.rstrip(), ""


def guide_commands(markdown: str) -> list[Command]:
    """Every command of the guide's ```` ```sh ```` blocks, in order; a block without WHERE is refused."""
    commands: list[Command] = []
    half, section = "vi", ""
    in_block, where, pending, start = False, "", "", 0
    for number, line in enumerate(markdown.splitlines(), 1):
        if not in_block:
            if line.startswith("## English"):
                half = "en"
            elif line.startswith("### "):
                section = line[4:].strip()
            match = FENCE.match(line)
            if match:
                where = match.group(1) or ""
                if where not in WHERES:
                    raise ValueError(f"docs/install-kiosk.md:{number}: a ```sh block says where it runs: "
                                     f"```sh kiosk or ```sh server (got {where!r})")
                in_block = True
            continue
        if line.startswith("```"):
            if pending:
                raise ValueError(f"docs/install-kiosk.md:{start}: a continued line ends the block")
            in_block = False
            continue
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue  # comment lines are instructions for the reader, not commands
        if "<<" in split_comment(stripped)[0]:
            raise ValueError(f"docs/install-kiosk.md:{number}: no here-documents in the guide's commands")
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        commands.append(Command(pending + stripped, where, section, half, start))
        pending = ""
    return commands


def halves_differ(commands: list[Command]) -> list[str]:
    """What differs between the two halves' commands (their comments aside); empty when equal."""
    vi = [(c.where, c.command) for c in commands if c.half == "vi"]
    en = [(c.where, c.command) for c in commands if c.half == "en"]
    problems = []
    for i in range(max(len(vi), len(en))):
        a = vi[i] if i < len(vi) else None
        b = en[i] if i < len(en) else None
        if a != b:
            problems.append(f"command {i + 1}: vi {a!r} / en {b!r}")
    return problems


def named_options(commands: list[Command]) -> dict[tuple[str, ...], set[str]]:
    """``hailong-kiosk``/``hailong-server`` subcommands the guide runs, with the options it gives them."""
    found: dict[tuple[str, ...], set[str]] = {}
    for c in commands:
        for part in re.split(r"\|\||&&|\||;", c.command):
            words = part.split()
            if words[:1] == ["sudo"]:
                words = words[1:]
            for program in ("hailong-kiosk", "hailong-server"):
                if words[:1] == [program]:
                    rest = words[1:]
                    sub = [w for w in rest[:2] if not w.startswith("-")]
                    if program == "hailong-kiosk" and sub[:1] != ["update"]:
                        sub = sub[:1]
                    elif program == "hailong-server":
                        sub = sub[:1]
                    key = (program, *sub)
                    found.setdefault(key, set()).update(w.split("=")[0] for w in rest if w.startswith("--"))
    return found


# What a chroot cannot run, and why: each such command gets an offline check (Run.offline).
OFFLINE = (
    ("systemctl restart hailong-kiosk", "no systemd runs in a chroot"),
    ("journalctl -u hailong-kiosk", "no journald in a chroot"),
    ("udevadm control --reload", "no udevd runs in a chroot"),
    ("libinput debug-events", "needs a person tapping the screen and Ctrl+C"),
)


def offline_reason(command: str) -> str | None:
    """Why ``command`` cannot run in a chroot, or None when it runs there as written."""
    if command.strip() == "timedatectl":
        return "timedatectl asks systemd-timedated (not running in a chroot)"
    return next((why for part, why in OFFLINE if part in command), None)


# --- a real server behind a TLS front --------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_test_pki(folder: Path) -> dict[str, Path]:
    """A root (the stand-in for Vietnam National Root CA), an issuing CA, and the server's certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    def ext(name: str, text: str) -> str:
        (folder / name).write_text(text)
        return name

    ca = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "root.key",
            "-out", "root.pem", "-days", "30", "-subj", "/C=VN/O=TEST ONLY/CN=Vietnam National Root CA (test)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subject, issuer, extensions in (
            ("int", "/C=VN/O=TEST ONLY/CN=Government Issuing CA (test)", "root",
             ca + "authorityKeyIdentifier=keyid:always\n"),
            ("server", f"/C=VN/O=TEST ONLY/CN={HOST}", "int",
             f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
             f"subjectAltName=DNS:{HOST}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", subject)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "30", "-extfile", ext(f"{name}.ext", extensions))
    openssl("x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der")
    (folder / "fullchain.pem").write_text((folder / "server.pem").read_text() + (folder / "int.pem").read_text())
    return {name: folder / f"{name}" for name in ("root.pem", "root.der", "int.pem", "fullchain.pem", "server.key")}


class TlsFront:
    """What nginx does in front of the server (docs/deploy-server.md): TLS on PORT, plain HTTP behind."""

    def __init__(self, port: int, backend: int, chain: Path, key: Path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(chain, key)
        self.backend = backend
        self.listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.backend))
        except (OSError, ssl.SSLError):
            raw.close()
            return

        def pump(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except (OSError, ssl.SSLError):
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.close()
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self.listener.close()


# --- the run ---------------------------------------------------------------------------------------

@dataclass
class Run:
    root: Path
    work: Path
    log: Path
    venv: Path
    failures: int = 0
    server: subprocess.Popen | None = None
    plain_port: int = 0
    tls_port: int = 0
    db: Path | None = None
    fresh_code: str | None = None
    release_file: str = ""
    release_id: str = ""
    device_id: str = ""
    pin: str = ""

    # -- output
    def say(self, line: str) -> None:
        print(line, flush=True)
        self.write_log(line)

    def write_log(self, text: str) -> None:
        with self.log.open("a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")

    def result(self, status: str, c: Command, note: str = "") -> None:
        if status == "FAIL":
            self.failures += 1
        self.say(f"{status:<16}[{c.where}] {c.command}" + (f"  -- {note}" if note else ""))

    # -- running
    def in_root(self, command: str, stdin: str | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
        env = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
               "LANG=C.UTF-8", "TERM=dumb", "DEBIAN_FRONTEND=noninteractive"]
        proc = subprocess.run(["chroot", str(self.root), *env, "bash", "-c", f"cd /root/hailong && {command}"],
                              input=stdin if stdin is not None else "", capture_output=True, text=True,
                              timeout=timeout)
        self.write_log(f"$ [kiosk] {command}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}]")
        return proc

    def on_server(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess:
        env = {"PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
               "LANG": "C.UTF-8", "HAILONG_SERVER_DB": str(self.db)}
        proc = subprocess.run(["bash", "-c", command], cwd=self.work / "server-src", env=env, input="",
                              capture_output=True, text=True, timeout=timeout)
        self.write_log(f"$ [server] {command}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}]")
        return proc

    # -- setting up
    def prepare_root(self, suite: str, mirror: str) -> None:
        if not (self.root / "etc/os-release").exists():
            self.say(f"setup: debootstrap {suite} into {self.root} (default variant: a Debian as its installer leaves it)")
            subprocess.run(["debootstrap", "--include=systemd,systemd-sysv,python3,ca-certificates,dbus",
                            suite, str(self.root), mirror], check=True, capture_output=True)
        for sub, how in (("proc", ["-t", "proc", "proc"]), ("sys", ["--rbind", "/sys"]), ("dev", ["--rbind", "/dev"])):
            target = self.root / sub
            if subprocess.run(["mountpoint", "-q", str(target)]).returncode != 0:
                subprocess.run(["mount", *how, str(target)], check=True)
                if sub != "proc":
                    subprocess.run(["mount", "--make-rslave", str(target)], check=True)
        shutil.copy("/etc/resolv.conf", self.root / "etc/resolv.conf")
        hosts = self.root / "etc/hosts"
        text = hosts.read_text() if hosts.exists() else ""
        # debootstrap leaves the machine's own name out (sudo then warns); the installer of Debian puts it in.
        for line in (f"127.0.1.1 {socket.gethostname()}", f"127.0.0.1 {HOST}"):
            if line not in text.splitlines():
                text += line + "\n"
        hosts.write_text(text)
        self.say(f"setup: /etc/hosts of the root: 127.0.0.1 {HOST} (the guide's server is the real server on this machine), "
                 f"127.0.1.1 {socket.gethostname()}")
        # A network that inspects TLS has its own CA: pip in the root needs it too (sudo drops PIP_CERT,
        # so it goes into /etc/pip.conf, as a province behind such a proxy would do).
        ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
        if ca and Path(ca).is_file():
            shutil.copy(ca, self.root / "root/network-ca.crt")
            (self.root / "etc/pip.conf").write_text("[global]\ncert = /root/network-ca.crt\n")
            self.say(f"setup: /etc/pip.conf of the root: cert = /root/network-ca.crt (this network's CA, from {ca})")
        target = self.root / "root/hailong"
        shutil.rmtree(target, ignore_errors=True)
        copy_source(SOURCE, target)
        self.say("setup: this source folder copied to /root/hailong in the root; kiosk commands run there as root, "
                 "stdin empty, environment PATH, HOME=/root, LANG=C.UTF-8, TERM=dumb, DEBIAN_FRONTEND=noninteractive")

    def unmount(self) -> None:
        for sub in ("dev", "sys", "proc"):
            for _ in range(5):  # busy while a command in the root is still exiting
                if subprocess.run(["mountpoint", "-q", str(self.root / sub)]).returncode != 0:
                    break
                subprocess.run(["umount", "-R", str(self.root / sub)], capture_output=True)
                time.sleep(1)

    def start_server(self) -> None:
        pki = make_test_pki(self.work / "pki")
        shutil.copy(pki["root.der"], self.root / "root/hailong/goc.cer")
        shutil.copy(pki["int.pem"], self.root / "root/hailong/trung-gian.pem")
        self.say("setup: test PKI: goc.cer (a root standing in for the Vietnam National Root CA, DER) and "
                 f"trung-gian.pem (its issuing CA) in /root/hailong; the server's certificate for {HOST} chains to them")
        self.pin = subprocess.run("openssl pkey -in server.key -pubout -outform der | openssl dgst -sha256 -binary "
                                  "| openssl base64", shell=True, cwd=pki["server.key"].parent, capture_output=True,
                                  text=True, check=True).stdout.strip()
        copy_source(SOURCE, self.work / "server-src")
        self.db = self.work / "server.sqlite3"
        self.plain_port = free_port()
        env = {**os.environ, "HAILONG_SERVER_DB": str(self.db), "PYTHONUNBUFFERED": "1"}
        self.server = subprocess.Popen([str(self.venv / "bin/hailong-server"), "serve", "--host", "127.0.0.1",
                                        "--port", str(self.plain_port)], env=env, stdout=(self.work / "server.log").open("ab"),
                                       stderr=subprocess.STDOUT)
        import urllib.request
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.plain_port}/healthz", timeout=1)
                break
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("hailong-server did not start: " + (self.work / "server.log").read_text()[-2000:])
                time.sleep(0.2)
        try:
            front = TlsFront(443, self.plain_port, pki["fullchain.pem"], pki["server.key"])
        except OSError:
            front = TlsFront(0, self.plain_port, pki["fullchain.pem"], pki["server.key"])
        self.tls_port = front.port
        self.say(f"setup: hailong-server serve on http://127.0.0.1:{self.plain_port} (fresh SQLite {self.db}); "
                 f"TLS front on 127.0.0.1:{self.tls_port}")

    def stop_server(self) -> None:
        if self.server and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(20)

    # -- placeholders
    def substitute(self, c: Command) -> tuple[str, str | None]:
        """The command to run and its stdin; prints each replacement."""
        text, stdin = c.command, None
        subs: list[tuple[str, str, str]] = []
        tls = c.section.startswith("TLS")
        if GUIDE_URL in text:
            url = (f"{GUIDE_URL}" + ("" if self.tls_port == 443 else f":{self.tls_port}")) if tls \
                else f"http://{HOST}:{self.plain_port}"
            why = ("the TLS front, whose certificate chains to the test Government CA" if tls else
                   "plain HTTP: no publicly trusted certificate can be had here; the TLS part runs over HTTPS")
            if url != GUIDE_URL:
                subs.append((GUIDE_URL, url, why))
        if f"{HOST}:443" in text and self.tls_port != 443:
            subs.append((f"{HOST}:443", f"{HOST}:{self.tls_port}", "port 443 is taken here"))
        if GUIDE_CODE in text:
            code = self.fresh_code or self.new_code()
            self.fresh_code = None
            subs.append((GUIDE_CODE, code, "a single-use code from hailong-server enroll-code"))
        if "dist/hailong-0.2.0-py3-none-any.whl" in text and self.release_file != "dist/hailong-0.2.0-py3-none-any.whl":
            subs.append(("dist/hailong-0.2.0-py3-none-any.whl", self.release_file, "the wheel just built"))
        if "--release 3" in text:
            subs.append(("--release 3", f"--release {self.release_id}", "the id release-add printed"))
        if "5f0c…,a41b…" in text:
            subs.append(("5f0c…,a41b…", self.device_id, "this kiosk's device id (hailong-server devices)"))
        for old, new, why in subs:
            text = text.replace(old, new)
            self.say(f"  substituted: {old} -> {new} ({why})")
        if c.where == "kiosk" and "installer/install-kiosk.sh" in text:
            text += " --no-start"
            self.say("  added: --no-start (no systemd runs in a chroot; the installer refuses to start a service there)")
        if re.search(r"hailong-kiosk set-admin-pin\b", text):
            stdin = PIN + "\n"
            self.say(f"  stdin: the PIN {PIN} (the command reads it from the terminal)")
        return text, stdin

    def new_code(self) -> str:
        proc = self.on_server("hailong-server enroll-code --unit 7210")
        if proc.returncode:
            raise RuntimeError(proc.stderr)
        return proc.stdout.strip().splitlines()[-1]

    # -- the commands
    def offline(self, c: Command) -> str | None:
        """The offline check of a command that needs a running systemd or a person; None: run it."""
        cmd = c.command
        if offline_reason(cmd) is None:
            return None
        if "systemctl restart hailong-kiosk" in cmd:
            verify = self.in_root("systemd-analyze verify --man=no /etc/systemd/system/hailong-kiosk.service")
            enabled = self.in_root("systemctl is-enabled hailong-kiosk.service")
            version = self.in_root("systemctl --version | head -1").stdout.strip()
            ok = verify.returncode == 0 and enabled.stdout.strip() == "enabled"
            return self.verdict(ok, f"no systemd runs in a chroot; unit verified by systemd-analyze verify ({version}), "
                                    f"systemctl is-enabled: {enabled.stdout.strip() or enabled.stderr.strip()}")
        if "journalctl -u hailong-kiosk" in cmd:
            proc = self.in_root("journalctl -u hailong-kiosk --no-pager")
            first = (proc.stdout.strip() or proc.stderr.strip()).splitlines()[:1]
            return self.verdict(proc.returncode == 0, "no journald in a chroot; journalctl -u hailong-kiosk --no-pager "
                                                      f"read the root's empty journal: {first[0] if first else '(nothing)'}")
        if cmd.strip() == "timedatectl":
            proc = self.in_root("readlink /etc/localtime; cat /etc/timezone; systemctl is-enabled systemd-timesyncd; "
                                "grep -h '^NTP=' /etc/systemd/timesyncd.conf.d/hailong.conf")
            facts = ", ".join(proc.stdout.split("\n")[:4]).strip(", ")
            ok = proc.returncode == 0 and "Asia/Ho_Chi_Minh" in proc.stdout and "enabled" in proc.stdout
            return self.verdict(ok, f"timedatectl asks systemd-timedated (not running in a chroot); its sources: {facts}")
        if "udevadm control --reload" in cmd:
            if self.in_root("udevadm verify --help >/dev/null 2>&1").returncode == 0:
                proc = self.in_root("udevadm verify /etc/udev/rules.d/*.rules")
                how = "udevadm verify /etc/udev/rules.d/*.rules"
                ok = proc.returncode == 0
            else:
                proc = self.in_root("udevadm test --action=add /sys/class/mem/null 2>&1")
                bad = [line for line in proc.stdout.splitlines() if "/etc/udev/rules.d" in line and
                       re.search(r"invalid|ignoring|error|failed", line, re.I)]
                how = "udevadm test (this udevadm has no verify) parsed the rules without a complaint" if not bad \
                    else "udevadm test: " + "; ".join(bad)
                ok = not bad and proc.returncode == 0
            rules = self.in_root("ls /etc/udev/rules.d/ | grep hailong | tr '\\n' ' '").stdout.strip()
            return self.verdict(ok, f"no udevd runs in a chroot; {how} ({rules or 'no hailong rules'})")
        if "libinput debug-events" in cmd:
            proc = self.in_root("libinput --version")
            return self.verdict(proc.returncode == 0, f"needs a person tapping the screen and Ctrl+C; libinput "
                                                      f"{proc.stdout.strip()} is installed")
        raise AssertionError(f"no offline check for {cmd!r}")

    def verdict(self, ok: bool, note: str) -> str:
        return ("checked-offline" if ok else "FAIL") + "\x00" + note

    def run_command(self, c: Command) -> None:
        offline = self.offline(c)
        if offline is not None:
            status, note = offline.split("\x00")
            self.result(status, c, note)
            return
        text, stdin = self.substitute(c)
        started = time.monotonic()
        proc = self.in_root(text, stdin) if c.where == "kiosk" else self.on_server(text)
        seconds = time.monotonic() - started
        output = proc.stdout + proc.stderr
        self.after(c, proc.stdout)
        if proc.returncode == 1 and "touch-map --list" in text and "no touch screen found" in output:
            self.result("checked-offline", c, "ran; this machine has no touch screen, and the command says so: "
                                              + output.strip().splitlines()[-1])
            return
        if proc.returncode != 0:
            last = " | ".join(output.strip().splitlines()[-3:])
            self.result("FAIL", c, f"exit {proc.returncode}: {last}")
            return
        if "openssl base64" in c.command and proc.stdout.strip() != self.pin:
            self.result("FAIL", c, f"printed {proc.stdout.strip()!r}, the server key's pin is {self.pin!r}")
            return
        missing = [piece for piece in expectations(c) if piece not in output]
        if missing:
            self.result("FAIL", c, f"the guide's comment promises {missing!r}; not in the output")
            return
        self.result("ran/ok", c, f"{seconds:.1f} s")

    def after(self, c: Command, stdout: str) -> None:
        """Keep what later placeholders need."""
        if re.search(r"hailong-server enroll-code", c.command) and stdout.strip():
            self.fresh_code = stdout.strip().splitlines()[-1]
        if "pip wheel --no-deps -w dist" in c.command:
            wheels = sorted((self.work / "server-src/dist").glob("hailong-*.whl"))
            if wheels:
                self.release_file = f"dist/{wheels[-1].name}"
        if "hailong-server release-add" in c.command and stdout.strip():
            self.release_id = stdout.strip().splitlines()[-1].strip()
        if "hailong-kiosk enroll" in c.command or "install-kiosk.sh --server" in c.command:
            proc = self.in_root("hailong-kiosk status --json")
            try:
                self.device_id = json.loads(proc.stdout).get("device_id") or self.device_id
            except (ValueError, AttributeError):
                pass

    def bump_release_version(self) -> None:
        """The guide's step 1 (a comment): the new version in pyproject.toml and kiosk/__init__.py."""
        src = self.work / "server-src"
        current = re.search(r'__version__ = "([^"]+)"', (src / "kiosk/__init__.py").read_text()).group(1)
        new = "0.2.0" if tuple(int(p) for p in re.findall(r"\d+", current)[:3]) < (0, 2, 0) else current + ".post1"
        for path, pattern in ((src / "pyproject.toml", r'(?m)^version = "[^"]+"'),
                              (src / "kiosk/__init__.py", r'__version__ = "[^"]+"')):
            text = path.read_text()
            path.write_text(re.sub(pattern, pattern.split(" = ")[0].replace("(?m)^", "") + f' = "{new}"', text, count=1))
        self.say(f"  step 1 of the comment: version {current} -> {new} in pyproject.toml and kiosk/__init__.py "
                 "(of the server's copy of the source)")


    def display_check(self, shot: Path | None) -> None:
        """Not a guide command: the display path the guide describes, with wlroots' headless backend.

        As the unit does (the kiosk's user, QT_QPA_PLATFORM=wayland), ``hailong-kiosk session``
        starts cage, which runs the kiosk; grim captures the output. Without Xwayland, a cage that
        needs it must exit 1. A virtual output, not a panel: touch and the backlight are not in it.
        """
        env = ("env -i PATH=/usr/bin:/bin HOME=/var/lib/hailong-kiosk XDG_RUNTIME_DIR=/tmp/hailong-xdg "
               "WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1")
        self.in_root("apt-get install -y -qq grim >/dev/null && rm -rf /tmp/hailong-xdg && "
                     "install -d -m 700 -o hailong-kiosk -g hailong-kiosk /tmp/hailong-xdg")
        xwayland = self.root / "usr/bin/Xwayland"
        if xwayland.exists():
            xwayland.rename(xwayland.with_suffix(".hidden"))
            try:
                proc = self.in_root(f"runuser -u hailong-kiosk -- {env} timeout 20 cage -d -- true", timeout=60)
            finally:
                xwayland.with_suffix(".hidden").rename(xwayland)
            said = [line.split("] ", 1)[-1] for line in (proc.stdout + proc.stderr).splitlines() if "Xwayland" in line]
            self.say(f"display: without Xwayland, cage exits {proc.returncode}: {said[0] if said else '(nothing about Xwayland)'}")
        session = subprocess.Popen(["chroot", str(self.root), "runuser", "-u", "hailong-kiosk", "--", *env.split(),
                                    "QT_QPA_PLATFORM=wayland", "XDG_SESSION_TYPE=wayland", "timeout", "60",
                                    "/opt/hailong/venv/bin/hailong-kiosk", "--data-dir", "/var/lib/hailong-kiosk",
                                    "session"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(20)  # the kiosk's first paint; nothing to wait on from outside the session
            grab = self.in_root(f"runuser -u hailong-kiosk -- {env} WAYLAND_DISPLAY=wayland-0 grim /tmp/hailong-xdg/kiosk.png")
        finally:
            session.terminate()
            out = session.communicate(timeout=30)[0]
        self.write_log(f"$ [kiosk] hailong-kiosk session (headless)\n{out}")
        started = next((line.split("starting ", 1)[1] for line in out.splitlines() if "kiosk.display: starting" in line), "?")
        png = self.root / "tmp/hailong-xdg/kiosk.png"
        if grab.returncode == 0 and png.exists():
            size = subprocess.run(["file", "-b", str(png)], capture_output=True, text=True).stdout.split(",")[1].strip()
            if shot:
                shutil.copy(png, shot)
            self.say(f"display: hailong-kiosk session started {started}; grim captured {size}"
                     + (f" ({shot})" if shot else ""))
        else:
            self.say(f"display: hailong-kiosk session started {started}; grim failed: {grab.stderr.strip()[-200:]}")


def expectations(c: Command) -> list[str]:
    """Quoted output a comment promises for a hailong-kiosk command, in pieces between '…'."""
    if "hailong-kiosk" not in c.command:
        return []
    pieces = []
    for quoted in re.findall(r'"([^"]+)"', c.comment):
        if quoted.startswith("time:"):
            pieces.append("time: zone")  # "synchronised": no time sync runs in a chroot; the line itself must be there
            continue
        pieces += [p.strip(" ,") for p in quoted.split("…") if p.strip(" ,")]
    return pieces


def copy_source(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    excludes = [f"--exclude={x}" for x in (".git", ".venv", "demo-data", "__pycache__", "*.egg-info", ".pytest_cache",
                                           "build", "dist", "wheels")]
    tar = subprocess.Popen(["tar", "-C", str(source), *excludes, "-cf", "-", "."], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", str(target), "-xf", "-"], stdin=tar.stdout, check=True)
    tar.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path, help="a Debian root (made with debootstrap when it holds none)")
    p.add_argument("--suite", default="bookworm")
    p.add_argument("--mirror", default="http://deb.debian.org/debian")
    p.add_argument("--log", type=Path, help="every command's output (default: ROOT.log)")
    p.add_argument("--screenshot", type=Path, help="also run the display path headless and keep grim's PNG here")
    p.add_argument("--venv", type=Path, default=SOURCE / ".venv", help="the server's environment (hailong-server)")
    args = p.parse_args(argv)
    commands = guide_commands(GUIDE.read_text(encoding="utf-8"))
    differ = halves_differ(commands)
    if differ:
        print("FAIL the Vietnamese and English halves differ:\n  " + "\n  ".join(differ))
        return 1
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # killed: still unmount (finally below)
    if os.geteuid() != 0:
        print("check_install_guide: run as root (chroot, mount, debootstrap)", file=sys.stderr)
        return 2
    root = args.root.resolve()
    log = (args.log or root.with_suffix(".log")).resolve()
    log.write_text("")
    run = Run(root=root, work=Path(tempfile.mkdtemp(prefix="hailong-guide-")), log=log, venv=args.venv)
    vi = [c for c in commands if c.half == "vi"]
    run.say(f"guide: docs/install-kiosk.md, {len(vi)} commands in each half (vi and en the same), run in the order of the vi half")
    try:
        run.prepare_root(args.suite, args.mirror)
        run.start_server()
        os_name = run.in_root(". /etc/os-release; echo $PRETTY_NAME").stdout.strip()
        run.say(f"system: {os_name}, {os.uname().machine}")
        for c in vi:
            if "pip wheel --no-deps -w dist" in c.command:
                run.bump_release_version()
            run.run_command(c)
        run.display_check(args.screenshot.resolve() if args.screenshot else None)
        versions = run.in_root("dpkg-query -W -f='${Package} ${Version}\\n' cage xwayland wlr-randr python3 systemd udev "
                               "libinput-tools grim 2>/dev/null; /opt/hailong/venv/bin/python -c 'import kiosk; print(\"hailong \" + kiosk.__version__)'")
        for line in versions.stdout.strip().splitlines():
            run.say(f"version: {line}")
    finally:
        run.stop_server()
        run.unmount()
    run.say(f"result: {'FAIL' if run.failures else 'passed'} ({run.failures} failed); every command's output: {log}")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
