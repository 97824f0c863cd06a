#!/usr/bin/env bash
# Installs the Hài Lòng kiosk on Debian 12, Debian 13 or Ubuntu 24.04 (one command for IT staff):
#   sudo bash installer/install-kiosk.sh --server https://hailong.bacgiang.gov.vn --code ABCD-EFGH-JKMN
#   (more: --admin-pin PIN --time-zone ZONE --ntp SERVER --rotation 90 --ssh-key FILE; --help)
#
# What it does: checks the system first and refuses, saying why, where the kiosk cannot run (another
# system or release, Python < 3.11, no systemd, a processor PySide6 has no wheels for); installs the
# Debian packages (cage and Xwayland, Qt's Wayland libraries, fonts with Vietnamese glyphs, the
# voice, time sync); copies the app to /opt/hailong/app with its own virtual environment
# (".[kiosk]": no server libraries) in /opt/hailong/venv; creates the locked-down system user
# hailong-kiosk (no password, no shell); sets the province's time zone and time servers; disables
# a display manager (GDM, LightDM, SDDM) that would take tty1; installs the systemd unit that starts
# the kiosk full-screen in cage on tty1 at boot, restarts it on crash and through the watchdog;
# enrols the kiosk with the code; sets the admin PIN (the one given, or a new one printed at the
# end); optionally opens SSH for one key (key-only); and runs the kiosk's self-test.
#
# --root DIR installs into a scratch root instead of / (for tests and image building): no Debian
# packages, no service start; the venv is built there and the self-test runs from it.
# --check-only runs the system checks and stops (nothing is changed).
set -euo pipefail

usage() {
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
options:
  --server URL --code CODE [--name LABEL]   enrol with the province server (a single-use code)
  --admin-pin PIN|-      the admin screen's PIN, 4-12 digits ('-': read it from stdin);
                         default: keep the kiosk's PIN, or make one and print it at the end
  --time-zone ZONE       default Asia/Ho_Chi_Minh
  --ntp SERVER           a time server (repeatable; the province server can be one)
  --rotation DEG         0, 90, 180 or 270 (clockwise; a portrait panel), touch screen included
  --ssh-key FILE         open SSH for this public key only (no passwords); default: no SSH set-up
  --keep-display-manager leave GDM/LightDM/SDDM enabled (the kiosk then fails to get tty1)
  --check-only           run the system checks and stop
  --no-packages --no-start --wheelhouse DIR --source DIR --root DIR --allow-unsupported
EOF
}

ROOT=/
SERVER="" CODE="" NAME="" ADMIN_PIN="" SSH_KEY="" ROTATION=""
TIME_ZONE=Asia/Ho_Chi_Minh NTP=()
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
PACKAGES=1 START=1 WHEELHOUSE="" CHECK_ONLY=0 KEEP_DM=0 ALLOW_UNSUPPORTED=0
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=$2; shift 2 ;;
        --server) SERVER=$2; shift 2 ;;
        --code) CODE=$2; shift 2 ;;
        --name) NAME=$2; shift 2 ;;
        --admin-pin) ADMIN_PIN=$2; shift 2 ;;
        --time-zone) TIME_ZONE=$2; shift 2 ;;
        --ntp) NTP+=("$2"); shift 2 ;;
        --rotation) ROTATION=$2; shift 2 ;;
        --ssh-key) SSH_KEY=$2; shift 2 ;;
        --keep-display-manager) KEEP_DM=1; shift ;;
        --check-only) CHECK_ONLY=1; shift ;;
        --allow-unsupported) ALLOW_UNSUPPORTED=1; shift ;;
        --source) SOURCE=$2; shift 2 ;;
        --no-packages) PACKAGES=0; shift ;;
        --no-start) START=0; shift ;;
        --wheelhouse) WHEELHOUSE=$2; shift 2 ;;  # offline install: pip --no-index --find-links
        -h|--help) usage; exit 0 ;;
        *) echo "install-kiosk: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

PREFIX=/opt/hailong
DATA=/var/lib/hailong-kiosk
STATE=/etc/hailong-kiosk   # what the installer changed, so the uninstaller can put it back
KUSER=hailong-kiosk
R=${ROOT%/}            # "" for the real root
SCRATCH=0; [ "$ROOT" != "/" ] && SCRATCH=1 && PACKAGES=0 && START=0

say() { echo "install-kiosk: $*"; }
refuse() {
    echo "install-kiosk: không cài được / cannot install: $*" >&2
    exit 3
}
if [ "$SCRATCH" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install-kiosk: run as root (sudo), or use --root DIR for a scratch install" >&2
    exit 1
fi
if { [ -n "$SERVER" ] && [ -z "$CODE" ]; } || { [ -z "$SERVER" ] && [ -n "$CODE" ]; }; then
    echo "install-kiosk: --server and --code go together" >&2
    exit 2
fi
case "$ROTATION" in ""|0|90|180|270) ;; *) echo "install-kiosk: --rotation must be 0, 90, 180 or 270" >&2; exit 2 ;; esac
if [ -n "$ADMIN_PIN" ] && [ "$ADMIN_PIN" = - ]; then
    IFS= read -r ADMIN_PIN || true
fi
if [ -n "$ADMIN_PIN" ] && ! [[ "$ADMIN_PIN" =~ ^[0-9]{4,12}$ ]]; then
    echo "install-kiosk: --admin-pin must be 4 to 12 digits (the kiosk's keypad has only digits)" >&2
    exit 2
fi
if [ -n "$SSH_KEY" ] && ! grep -qE '^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh.com) [A-Za-z0-9+/=]+' "$SSH_KEY" 2>/dev/null; then
    echo "install-kiosk: --ssh-key $SSH_KEY is not an OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub)" >&2
    exit 2
fi

# 0. The system: refuse early, with the reason, before anything is changed.
#    Supported: Debian 12 (cage 0.1.4), Debian 13 (cage 0.2.0), Ubuntu 24.04 (cage 0.1.5); each has
#    Python >= 3.11, systemd, and PySide6 wheels on x86_64 and aarch64 (docs/install-kiosk.md).
OS_RELEASE="$R/etc/os-release"
[ -e "$OS_RELEASE" ] || OS_RELEASE=/etc/os-release   # an empty scratch root: the machine building it
ID="" VERSION_ID="" PRETTY_NAME=""
# shellcheck disable=SC1090
[ -r "$OS_RELEASE" ] && . "$OS_RELEASE"
OS="${ID:-unknown} ${VERSION_ID:-}"
case "$ID:$VERSION_ID" in
    debian:12|debian:13|ubuntu:24.04) ;;
    ubuntu:22.04|ubuntu:20.04)
        refuse "$PRETTY_NAME: its Python is $([ "$VERSION_ID" = 22.04 ] && echo 3.10 || echo 3.8), the kiosk needs 3.11 or newer. Use Ubuntu 24.04, Debian 12 or Debian 13." ;;
    debian:11|debian:10)
        refuse "$PRETTY_NAME: its Python is $([ "$VERSION_ID" = 11 ] && echo 3.9 || echo 3.7) and its cage too old; the kiosk needs Python 3.11 or newer. Use Debian 12 or 13, or Ubuntu 24.04." ;;
    *)
        if [ "$ALLOW_UNSUPPORTED" = 1 ]; then
            say "warning: ${PRETTY_NAME:-$OS} is not a supported system; going on (--allow-unsupported)"
        else
            refuse "${PRETTY_NAME:-unknown system ($OS_RELEASE)} is not supported. Supported: Debian 12, Debian 13, Ubuntu 24.04 (add --allow-unsupported for a derivative of one of them, at your own risk)."
        fi ;;
esac
case "$(uname -m)" in
    x86_64|aarch64) ;;
    *) refuse "this processor ($(uname -m)) has no PySide6 (Qt) wheels; the kiosk needs x86_64 or aarch64 (arm64)." ;;
esac
python_ok() {  # $1: a python; prints its version, true when >= 3.11
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}
check_python() {
    local py version
    py=$(command -v python3 || true)
    [ -n "$py" ] || { [ "$PACKAGES" = 1 ] && return 0; refuse "python3 is not installed (Debian: apt install python3 python3-venv)."; }
    if ! version=$(python_ok "$py"); then
        refuse "$py is Python ${version:-of unknown version}; the kiosk needs Python 3.11 or newer."
    fi
    PYVERSION=$version
}
PYVERSION="(from the packages)"
check_python
if [ "$SCRATCH" = 0 ] || [ -e "$R/etc/os-release" ]; then
    if [ ! -x "$R/lib/systemd/systemd" ] && [ ! -x "$R/usr/lib/systemd/systemd" ]; then
        refuse "systemd is not installed: the kiosk runs as a systemd service (sysvinit, OpenRC and containers without systemd are not supported)."
    fi
    if [ "$START" = 1 ] && [ ! -d /run/systemd/system ]; then
        refuse "systemd is not running as the init system (PID 1 is $(ps -p 1 -o comm= 2>/dev/null || echo unknown)): the kiosk runs as a systemd service. In a chroot or an image build, add --no-start."
    fi
fi
if [ ! -e "/usr/share/zoneinfo/$TIME_ZONE" ] && [ ! -e "$R/usr/share/zoneinfo/$TIME_ZONE" ] && [ "$PACKAGES" = 0 ]; then
    refuse "unknown time zone $TIME_ZONE (see timedatectl list-timezones; apt install tzdata)."
fi
say "system: ${PRETTY_NAME:-$OS}, $(uname -m), Python $PYVERSION: supported"
if [ "$CHECK_ONLY" = 1 ]; then
    say "checks passed; nothing changed (--check-only)"
    exit 0
fi

# 1. Debian packages. The kiosk draws through Qt's own Wayland platform (QT_QPA_PLATFORM=wayland),
#    so X is not in its path; Xwayland is installed only because cage 0.1.4 (Debian 12) and 0.1.5
#    (Ubuntu 24.04) exit with code 1 when its binary is missing (Debian 13's cage depends on it).
#    udev (libinput finds the touch screen through it; minimal images lack it) and wlr-randr, which
#    rotates and switches the screen under cage >= 0.1.5; libinput-tools reads touches for
#    the calibration guide; espeak-ng and alsa-utils speak the prompts (docs/voice.md); tzdata and
#    systemd-timesyncd keep the time (docs/install-kiosk.md).
if [ "$PACKAGES" = 1 ]; then
    say "installing Debian packages"
    debs=(python3 python3-venv udev cage xwayland wlr-randr libinput-tools libegl1 libgl1 libxkbcommon0
          libwayland-client0 libwayland-cursor0 libwayland-egl1 libfontconfig1 libdbus-1-3
          fonts-noto-core fonts-dejavu-core espeak-ng alsa-utils tzdata)
    # chrony (or ntpsec) keeps time on some boxes already; timesyncd would conflict with it.
    if ! dpkg-query -W -f='${Status}' chrony 2>/dev/null | grep -q "install ok installed"; then
        debs+=(systemd-timesyncd)
    fi
    [ -n "$SSH_KEY" ] && debs+=(openssh-server)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
    check_python
    say "Python $PYVERSION"
fi

# 2. The app and its own virtual environment (see docs/install-kiosk.md for why not a bundle).
say "copying the app to $R$PREFIX/app"
mkdir -p "$R$PREFIX/app"
tar -C "$SOURCE" --exclude=.git --exclude=.venv --exclude=demo-data --exclude='__pycache__' \
    --exclude='*.egg-info' --exclude=.pytest_cache --exclude=build -cf - . | tar -C "$R$PREFIX/app" -xf -
if [ ! -x "$R$PREFIX/venv/bin/python" ]; then
    python3 -m venv "$R$PREFIX/venv"
fi
PIP=("$R$PREFIX/venv/bin/python" -m pip install -q)
[ -n "$WHEELHOUSE" ] && PIP+=(--no-index --find-links "$WHEELHOUSE")
say "installing the app into $R$PREFIX/venv"
# Editable: the code and its assets (questionnaire, unit registry) stay together in app/. The kiosk
# extra only: no FastAPI, uvicorn, psycopg, openpyxl or Jinja2 on a kiosk.
"${PIP[@]}" -e "$R$PREFIX/app[kiosk]"
KIOSK=("$R$PREFIX/venv/bin/hailong-kiosk" --data-dir "$R$DATA")
VPY="$R$PREFIX/venv/bin/python"

# 3. The locked-down kiosk user: a system account, no password, no login shell.
mkdir -p "$R/etc" "$R$STATE"
for f in passwd group shadow gshadow; do [ -e "$R/etc/$f" ] || : > "$R/etc/$f"; done
if ! grep -q "^$KUSER:" "$R/etc/passwd"; then
    say "creating user $KUSER"
    groups=""
    for g in video input render; do grep -q "^$g:" "$R/etc/group" && groups="$groups,$g"; done
    args=(--system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin)
    [ -n "$groups" ] && args+=(--groups "${groups#,}")
    [ "$SCRATCH" = 1 ] && args+=(--root "$R")
    useradd "${args[@]}" "$KUSER" 2>/dev/null || useradd "${args[@]}" "$KUSER"
fi
uid=$(awk -F: -v u="$KUSER" '$1 == u {print $3}' "$R/etc/passwd")
gid=$(awk -F: -v u="$KUSER" '$1 == u {print $4}' "$R/etc/passwd")
mkdir -p "$R$DATA"
chmod 700 "$R$DATA"

# The release layout of remote update (docs/install-kiosk.md, "Cập nhật từ xa / Remote update"):
# releases the kiosk installs itself go to releases/<version>/venv, owned by its user (the unit
# lets it write there and nowhere else in /opt); releases/current names the venv that runs. This
# install's venv becomes current (again, on a re-run); the link is relative, so a scratch root works.
mkdir -p "$R$PREFIX/releases"
ln -sfn ../venv "$R$PREFIX/releases/.current.new"
mv -Tf "$R$PREFIX/releases/.current.new" "$R$PREFIX/releases/current"
if [ "$SCRATCH" = 0 ]; then chown "$uid:$gid" "$R$PREFIX/releases"; chown -h "$uid:$gid" "$R$PREFIX/releases/current"; fi

# 4. Time: the province's zone, and its time servers when given (systemd-timesyncd drop-in, or
#    chrony's sources.d where chrony keeps the time).
say "time zone $TIME_ZONE"
zoneinfo=/usr/share/zoneinfo/$TIME_ZONE
[ -e "$R$zoneinfo" ] || [ -e "$zoneinfo" ] || refuse "unknown time zone $TIME_ZONE (see timedatectl list-timezones)."
ln -sfn "$zoneinfo" "$R/etc/localtime"
echo "$TIME_ZONE" > "$R/etc/timezone"
if [ ${#NTP[@]} -gt 0 ]; then
    say "time servers: ${NTP[*]}"
    mkdir -p "$R/etc/systemd/timesyncd.conf.d"
    sed "s|@NTP@|${NTP[*]}|" "$SOURCE/installer/timesyncd-hailong.conf" > "$R/etc/systemd/timesyncd.conf.d/hailong.conf"
    if [ -d "$R/etc/chrony" ]; then
        mkdir -p "$R/etc/chrony/sources.d"
        printf '# Written by install-kiosk.sh: the province'"'"'s time servers.\n' > "$R/etc/chrony/sources.d/hailong.sources"
        for server in "${NTP[@]}"; do echo "server $server iburst" >> "$R/etc/chrony/sources.d/hailong.sources"; done
    fi
else
    say "time servers: the system's defaults (no --ntp given; an air-gapped network needs --ntp SERVER)"
fi

# 5. The screen: a display manager on tty1 is disabled (the kiosk owns tty1; the greeter would
#    otherwise come up instead of the kiosk); the rotation and the touch mapping; the backlight
#    switch for the screen schedule (kiosk/display.py).
dm_link="$R/etc/systemd/system/display-manager.service"
if [ -L "$dm_link" ]; then
    dm=$(basename "$(readlink "$dm_link")")
    if [ "$KEEP_DM" = 1 ]; then
        say "warning: $dm stays enabled (--keep-display-manager): it takes tty1 and the kiosk will not show"
    else
        say "disabling the display manager $dm: it takes tty1, where the kiosk runs (re-enable: systemctl enable $dm)"
        echo "$dm" > "$R$STATE/display-manager"
        if [ "$SCRATCH" = 1 ]; then
            systemctl --root="$R" disable "$dm" >/dev/null 2>&1 || true
            rm -f "$dm_link"
        else
            systemctl disable "$dm" >/dev/null 2>&1 || systemctl --root=/ disable "$dm" >/dev/null 2>&1 || true
            rm -f "$dm_link"
        fi
    fi
fi
if [ -n "$ROTATION" ]; then
    say "rotation $ROTATION°"
    "$VPY" - "$R$DATA/settings.json" "$ROTATION" <<'EOF'
import json, sys
from pathlib import Path
path, rotation = Path(sys.argv[1]), int(sys.argv[2])
settings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
settings["display_rotation"] = rotation
path.write_text(json.dumps(settings, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
EOF
    "${KIOSK[@]}" touch-map --rotation "$ROTATION" --root "${R:-/}" >/dev/null
fi
mkdir -p "$R/etc/udev/rules.d"
install -m 644 "$SOURCE/installer/udev/70-hailong-backlight.rules" "$R/etc/udev/rules.d/70-hailong-backlight.rules"

# 6. The systemd unit, its PAM session, and the staff's command (sudo hailong-kiosk …).
say "installing the systemd unit"
mkdir -p "$R/etc/systemd/system" "$R/etc/pam.d" "$R/usr/local/sbin"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@DATA@|$DATA|g" "$SOURCE/installer/systemd/hailong-kiosk.service" \
    > "$R/etc/systemd/system/hailong-kiosk.service"
install -m 644 "$SOURCE/installer/pam/hailong-kiosk" "$R/etc/pam.d/hailong-kiosk"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@DATA@|$DATA|g" "$SOURCE/installer/hailong-kiosk-admin" > "$R/usr/local/sbin/hailong-kiosk"
chmod 755 "$R/usr/local/sbin/hailong-kiosk"
timesync=""
[ -e "$R/lib/systemd/system/systemd-timesyncd.service" ] || [ -e "$R/usr/lib/systemd/system/systemd-timesyncd.service" ] && timesync=systemd-timesyncd.service
if [ "$SCRATCH" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable hailong-kiosk.service
    systemctl set-default graphical.target
    if [ -n "$timesync" ]; then
        systemctl enable "$timesync" >/dev/null 2>&1 || true
        [ "$START" = 1 ] && systemctl restart "$timesync" || true
    fi
else
    # A scratch root, a chroot or an image build: systemd is not running there, so enable offline.
    systemctl --root="${R:-/}" enable hailong-kiosk.service >/dev/null 2>&1 || {
        mkdir -p "$R/etc/systemd/system/graphical.target.wants"
        ln -sf /etc/systemd/system/hailong-kiosk.service "$R/etc/systemd/system/graphical.target.wants/hailong-kiosk.service"; }
    if [ -n "$timesync" ]; then systemctl --root="${R:-/}" enable "$timesync" >/dev/null 2>&1 || true; fi
    ln -sf /lib/systemd/system/graphical.target "$R/etc/systemd/system/default.target"
fi

# 7. SSH, only when asked: one key for root, no passwords at all (a drop-in read before the
#    distribution's own, so cloud-init's "PasswordAuthentication yes" cannot win).
if [ -n "$SSH_KEY" ]; then
    say "SSH: key-only login for root with $(cut -d' ' -f1,3 "$SSH_KEY" | head -1)"
    mkdir -p "$R/root/.ssh" "$R/etc/ssh/sshd_config.d"
    chmod 700 "$R/root/.ssh"
    key=$(grep -m1 -E '^(ssh-|ecdsa-|sk-)' "$SSH_KEY")
    touch "$R/root/.ssh/authorized_keys"
    grep -qxF "$key" "$R/root/.ssh/authorized_keys" || echo "$key" >> "$R/root/.ssh/authorized_keys"
    chmod 600 "$R/root/.ssh/authorized_keys"
    install -m 644 "$SOURCE/installer/sshd-hailong.conf" "$R/etc/ssh/sshd_config.d/10-hailong.conf"
    if [ "$SCRATCH" = 0 ]; then
        mkdir -p /run/sshd  # sshd -t wants its privilege-separation folder, absent until ssh first ran
        sshd -t || refuse "sshd refuses its configuration (sshd -t above); nothing restarted"
        if [ -d /run/systemd/system ]; then systemctl enable ssh.service >/dev/null 2>&1 || true
        else systemctl --root=/ enable ssh.service >/dev/null 2>&1 || true; fi
        [ "$START" = 1 ] && systemctl restart ssh.service
    fi
fi

as_kiosk() {  # run a kiosk command as its user (in a scratch root: as whoever runs the installer)
    if [ "$SCRATCH" = 0 ]; then runuser -u "$KUSER" -- "$@"; else "$@"; fi
}
[ "$SCRATCH" = 0 ] && chown -R "$uid:$gid" "$DATA"

# 8. Enrolment with the single-use code.
if [ -n "$CODE" ]; then
    say "enrolling with $SERVER"
    enroll=("${KIOSK[@]}" enroll --server "$SERVER" --code "$CODE")
    [ -n "$NAME" ] && enroll+=(--name "$NAME")
    as_kiosk "${enroll[@]}"
fi

# 9. The admin PIN: the one given; else keep the kiosk's own; else a new one, printed at the end.
#    Read from stdin by set-admin-pin, never put on its command line (the kiosk stores an Argon2id hash).
NEW_PIN=""
has_pin=$(as_kiosk "$VPY" -c 'import sys; from kiosk.store import Store; s = Store(sys.argv[1]); print("yes" if s.get_meta("local_admin_pin_hash") else "no"); s.close()' "$R$DATA/kiosk.sqlite3")
if [ -n "$ADMIN_PIN" ] || [ "$has_pin" = no ]; then
    if [ -z "$ADMIN_PIN" ]; then
        NEW_PIN=$("$VPY" -c 'import secrets
pin = "000000"
while pin in ("000000", "123456") or len(set(pin)) < 3:
    pin = "%06d" % secrets.randbelow(10**6)
print(pin)')
        ADMIN_PIN=$NEW_PIN
    fi
    printf '%s\n' "$ADMIN_PIN" | as_kiosk "${KIOSK[@]}" set-admin-pin >/dev/null
    say "admin PIN set"
else
    say "admin PIN: kept the one this kiosk has"
fi
chown -R "$uid:$gid" "$R$DATA" 2>/dev/null || true

# 10. The console: the recovery path (Ctrl+Alt+F2) needs an account that can log in there.
logins=$(awk -F: '$2 != "" && $2 !~ /^[!*]/ {n++} END {print n + 0}' "$R/etc/shadow" 2>/dev/null || echo 0)
if [ "$logins" = 0 ] && [ -z "$SSH_KEY" ]; then
    say "warning: no account here has a password, so Ctrl+Alt+F2 leads to a login nobody can pass; set one (passwd) or use --ssh-key"
fi

# 11. Self-test: the installed app starts (offscreen) and its database, assets and clock are sound.
say "self-test"
as_kiosk env QT_QPA_PLATFORM=offscreen "${KIOSK[@]}" self-test

if [ "$START" = 1 ]; then
    systemctl restart hailong-kiosk.service
    say "started; status: sudo hailong-kiosk status; logs: journalctl -u hailong-kiosk"
fi
if [ -n "$NEW_PIN" ]; then
    say "================================================================"
    say " Mã quản trị mới / new admin PIN:  $NEW_PIN"
    say " Ghi lại ngay, chỉ in một lần. Đổi: sudo hailong-kiosk set-admin-pin"
    say " Write it down now: it is printed once. The server's PIN, once set, wins."
    say "================================================================"
fi
say "done"
