#!/usr/bin/env bash
# Removes the Hài Lòng kiosk. Keeps the local database (unsent answers!) in /var/lib/hailong-kiosk
# unless --purge is given, and refuses --purge while answers are still pending unless --force.
#   sudo bash installer/uninstall-kiosk.sh [--purge [--force]] [--root DIR]
set -euo pipefail

ROOT=/ PURGE=0 FORCE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=$2; shift 2 ;;
        --purge) PURGE=1; shift ;;
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall-kiosk: unknown option $1" >&2; exit 2 ;;
    esac
done
PREFIX=/opt/hailong DATA=/var/lib/hailong-kiosk KUSER=hailong-kiosk
R=${ROOT%/}
SCRATCH=0; [ "$ROOT" != "/" ] && SCRATCH=1
if [ "$SCRATCH" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "uninstall-kiosk: run as root (sudo)" >&2
    exit 1
fi

if [ "$PURGE" = 1 ] && [ "$FORCE" = 0 ] && [ -x "$R$PREFIX/venv/bin/hailong-kiosk" ] && [ -e "$R$DATA/kiosk.sqlite3" ]; then
    pending=$("$R$PREFIX/venv/bin/hailong-kiosk" --data-dir "$R$DATA" status --json | "$R$PREFIX/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
    if [ "$pending" != 0 ]; then
        echo "uninstall-kiosk: $pending answers are not yet on the server; sync first, export them to a USB stick, or add --force" >&2
        exit 3
    fi
fi

if [ "$SCRATCH" = 0 ]; then
    systemctl disable --now hailong-kiosk.service 2>/dev/null || true
else
    systemctl --root="$R" disable hailong-kiosk.service >/dev/null 2>&1 || true
fi
rm -f "$R/etc/systemd/system/hailong-kiosk.service" "$R/etc/systemd/system/graphical.target.wants/hailong-kiosk.service" \
      "$R/etc/pam.d/hailong-kiosk" "$R/usr/local/sbin/hailong-kiosk" \
      "$R/etc/udev/rules.d/70-hailong-backlight.rules" "$R/etc/udev/rules.d/99-hailong-touch.rules"
[ "$SCRATCH" = 0 ] && systemctl daemon-reload
# The display manager the installer disabled comes back.
if [ -f "$R/etc/hailong-kiosk/display-manager" ]; then
    dm=$(cat "$R/etc/hailong-kiosk/display-manager")
    if [ "$SCRATCH" = 0 ]; then systemctl enable "$dm" 2>/dev/null || true; else systemctl --root="$R" enable "$dm" >/dev/null 2>&1 || true; fi
    echo "uninstall-kiosk: re-enabled $dm"
fi
rm -rf "$R/etc/hailong-kiosk"
# Kept on purpose: the time zone, the time servers (timesyncd.conf.d/hailong.conf) and SSH
# (sshd_config.d/10-hailong.conf, root's key): the box may still be reached and keep its time.
rm -rf "$R$PREFIX/venv" "$R$PREFIX/app" "$R$PREFIX/releases"  # releases/: what remote update installed
rmdir "$R$PREFIX" 2>/dev/null || true

if [ "$PURGE" = 1 ]; then
    rm -rf "$R$DATA"
    if [ "$SCRATCH" = 0 ]; then userdel "$KUSER" 2>/dev/null || true; else userdel --root "$R" "$KUSER" 2>/dev/null || true; fi
    echo "uninstall-kiosk: removed, database and user included"
else
    echo "uninstall-kiosk: removed; the database stays in $DATA (use --purge to delete it)"
fi
