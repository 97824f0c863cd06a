#!/usr/bin/env bash
# Installs the Hài Lòng kiosk on a Debian/Ubuntu machine (one command for IT staff):
#   sudo bash installer/install-kiosk.sh --server https://hailong.bacgiang.gov.vn --code ABCD-EFGH-JKMN
#
# What it does: installs the Debian packages (cage, Qt's libraries, fonts with Vietnamese glyphs),
# copies the app to /opt/hailong/app with its own virtual environment in /opt/hailong/venv,
# creates the locked-down system user hailong-kiosk (no password, no shell), installs and enables
# the systemd unit that starts the kiosk full-screen in cage on tty1 at boot, restarts it on
# crash and through the watchdog, enrols the kiosk with the code, and runs its self-test.
#
# --root DIR installs into a scratch root instead of / (for tests and image building): no Debian
# packages, no service start; the venv is built there and the self-test runs from it.
set -euo pipefail

usage() {
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --server URL --code CODE [--name LABEL] [--root DIR] [--source DIR] [--no-packages] [--no-start] [--wheelhouse DIR]"
}

ROOT=/
SERVER="" CODE="" NAME=""
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
PACKAGES=1 START=1 WHEELHOUSE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=$2; shift 2 ;;
        --server) SERVER=$2; shift 2 ;;
        --code) CODE=$2; shift 2 ;;
        --name) NAME=$2; shift 2 ;;
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
KUSER=hailong-kiosk
R=${ROOT%/}            # "" for the real root
SCRATCH=0; [ "$ROOT" != "/" ] && SCRATCH=1 && PACKAGES=0 && START=0

say() { echo "install-kiosk: $*"; }
if [ "$SCRATCH" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install-kiosk: run as root (sudo), or use --root DIR for a scratch install" >&2
    exit 1
fi
if [ -n "$SERVER" ] && [ -z "$CODE" ] || [ -z "$SERVER" ] && [ -n "$CODE" ]; then
    echo "install-kiosk: --server and --code go together" >&2
    exit 2
fi

# 1. Debian packages: the compositor, Qt's libraries, fonts with Vietnamese glyphs, and the voice:
#    espeak-ng (the generated Vietnamese voice) and alsa-utils (aplay plays the prompts; docs/voice.md).
if [ "$PACKAGES" = 1 ]; then
    say "installing Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv cage libegl1 libgl1 libxkbcommon0 libwayland-client0 libwayland-cursor0 \
        libwayland-egl1 libfontconfig1 libdbus-1-3 fonts-noto-core fonts-dejavu-core \
        espeak-ng alsa-utils >/dev/null
fi

# 2. The app and its own virtual environment (see docs/install-kiosk.md for why not a bundle).
say "copying the app to $R$PREFIX/app"
mkdir -p "$R$PREFIX/app"
tar -C "$SOURCE" --exclude=.git --exclude=.venv --exclude=demo-data --exclude='__pycache__' \
    --exclude='*.egg-info' --exclude=.pytest_cache -cf - . | tar -C "$R$PREFIX/app" -xf -
if [ ! -x "$R$PREFIX/venv/bin/python" ]; then
    python3 -m venv "$R$PREFIX/venv"
fi
PIP=("$R$PREFIX/venv/bin/python" -m pip install -q)
[ -n "$WHEELHOUSE" ] && PIP+=(--no-index --find-links "$WHEELHOUSE")
say "installing the app into $R$PREFIX/venv"
# Editable: the code and its assets (questionnaire, unit registry) stay together in app/.
"${PIP[@]}" -e "$R$PREFIX/app"

# 3. The locked-down kiosk user: a system account, no password, no login shell.
mkdir -p "$R/etc"
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

# 4. The systemd unit and its PAM session.
say "installing the systemd unit"
mkdir -p "$R/etc/systemd/system" "$R/etc/pam.d"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@DATA@|$DATA|g" "$SOURCE/installer/systemd/hailong-kiosk.service" \
    > "$R/etc/systemd/system/hailong-kiosk.service"
install -m 644 "$SOURCE/installer/pam/hailong-kiosk" "$R/etc/pam.d/hailong-kiosk"
if [ "$SCRATCH" = 1 ]; then
    systemctl --root="$R" enable hailong-kiosk.service >/dev/null 2>&1 || \
        ln -sf /etc/systemd/system/hailong-kiosk.service "$R/etc/systemd/system/graphical.target.wants/hailong-kiosk.service"
    ln -sf /lib/systemd/system/graphical.target "$R/etc/systemd/system/default.target"
else
    systemctl daemon-reload
    systemctl enable hailong-kiosk.service
    systemctl set-default graphical.target
fi

KIOSK=("$R$PREFIX/venv/bin/hailong-kiosk" --data-dir "$R$DATA")
# 5. Enrolment with the single-use code.
if [ -n "$CODE" ]; then
    say "enrolling with $SERVER"
    enroll=("${KIOSK[@]}" enroll --server "$SERVER" --code "$CODE")
    [ -n "$NAME" ] && enroll+=(--name "$NAME")
    if [ "$SCRATCH" = 0 ]; then
        chown -R "$uid:$gid" "$DATA"
        runuser -u "$KUSER" -- "${enroll[@]}"
    else
        "${enroll[@]}"
    fi
fi
chown -R "$uid:$gid" "$R$DATA" 2>/dev/null || true

# 6. Self-test: the installed app starts (offscreen) and its database and assets are sound.
say "self-test"
if [ "$SCRATCH" = 0 ]; then
    runuser -u "$KUSER" -- env QT_QPA_PLATFORM=offscreen "${KIOSK[@]}" self-test
else
    QT_QPA_PLATFORM=offscreen "${KIOSK[@]}" self-test
fi

if [ "$START" = 1 ]; then
    systemctl restart hailong-kiosk.service
    say "started; status: systemctl status hailong-kiosk; logs: journalctl -u hailong-kiosk"
fi
say "done"
