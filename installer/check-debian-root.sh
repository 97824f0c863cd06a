#!/usr/bin/env bash
# Runs the kiosk installer for real inside a Debian root made with debootstrap, then checks what it
# left: the unit against that release's own systemd (systemd-analyze verify), sshd's configuration,
# the admin PIN, the time settings, the self-test. A manual check for a release this machine is not
# (docs/install-kiosk.md, "Kiểm tra trên Debian 13 / Checked on Debian 13"):
#   sudo bash installer/check-debian-root.sh /var/tmp/hailong-trixie trixie
# Needs root, debootstrap and Debian's mirror; re-uses DIR when it already holds a root. The kiosk's
# service is not started (no systemd runs in the root): the installer runs with --no-start.
# The install guide itself, command by command against a real server: installer/check_install_guide.py.
set -euo pipefail

DIR=${1:?usage: check-debian-root.sh DIR [SUITE] [MIRROR]}
SUITE=${2:-trixie}
MIRROR=${3:-http://deb.debian.org/debian}
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "check-debian-root: run as root" >&2; exit 1; }

if [ ! -e "$DIR/etc/os-release" ]; then
    command -v debootstrap >/dev/null || { echo "check-debian-root: apt-get install debootstrap" >&2; exit 1; }
    echo "check-debian-root: debootstrap $SUITE into $DIR"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,python3,ca-certificates,dbus "$SUITE" "$DIR" "$MIRROR" >/dev/null
fi
cleanup() { umount -R "$DIR/dev" 2>/dev/null || true; umount "$DIR/proc" 2>/dev/null || true; }
trap cleanup EXIT
mountpoint -q "$DIR/proc" || mount -t proc proc "$DIR/proc"
mountpoint -q "$DIR/dev" || { mount --rbind /dev "$DIR/dev"; mount --make-rslave "$DIR/dev"; }
cp /etc/resolv.conf "$DIR/etc/resolv.conf"

rm -rf "$DIR/root/hailong-src"
mkdir -p "$DIR/root/hailong-src"
tar -C "$SOURCE" --exclude=.git --exclude=.venv --exclude=demo-data --exclude=__pycache__ --exclude='*.egg-info' \
    --exclude=.pytest_cache --exclude=build -cf - . | tar -C "$DIR/root/hailong-src" -xf -
rm -f "$DIR/root/check-key" "$DIR/root/check-key.pub"
ssh-keygen -q -t ed25519 -N "" -C check@hailong -f "$DIR/root/check-key" || \
    echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0dGVzdGtleWZvcmhhaWxvbmdpbnN0YWxsZXJ0ZXN0 check@hailong" > "$DIR/root/check-key.pub"
# A network that inspects TLS (a province's proxy) has its own CA: pip in the root needs it too.
env_extra=()
for ca in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}"; do
    if [ -n "$ca" ] && [ -f "$ca" ]; then cp "$ca" "$DIR/root/network-ca.crt"; env_extra=(PIP_CERT=/root/network-ca.crt); break; fi
done

run() { chroot "$DIR" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            "${env_extra[@]}" "$@"; }
start=$(date +%s)
run bash /root/hailong-src/installer/install-kiosk.sh --no-start --admin-pin 482913 --ntp ntp.example.gov.vn \
    --rotation 90 --ssh-key /root/check-key.pub
echo "check-debian-root: installer passed in $(( $(date +%s) - start )) s on $(. "$DIR/etc/os-release"; echo "$PRETTY_NAME")"

run systemd-analyze verify --man=no /etc/systemd/system/hailong-kiosk.service
echo "check-debian-root: unit verified by $(run systemd-analyze --version | head -1)"
run systemctl is-enabled hailong-kiosk.service >/dev/null
run bash -c 'mkdir -p /run/sshd && sshd -t && sshd -T | grep -qx "passwordauthentication no"'
echo "check-debian-root: sshd accepts its configuration; passwords off"
echo 482913 | run runuser -u hailong-kiosk -- /opt/hailong/venv/bin/python -c '
import sys
from kiosk.pins import verify_pin
from kiosk.store import Store
store = Store("/var/lib/hailong-kiosk/kiosk.sqlite3")
assert verify_pin(store.get_meta("local_admin_pin_hash"), sys.stdin.readline().strip()), "the admin PIN does not verify"
print("check-debian-root: admin PIN verifies")'
[ "$(cat "$DIR/etc/timezone")" = Asia/Ho_Chi_Minh ] && grep -q "NTP=ntp.example.gov.vn" "$DIR/etc/systemd/timesyncd.conf.d/hailong.conf"
echo "check-debian-root: time zone and time server set"
run hailong-kiosk self-test
run dpkg-query -W -f='check-debian-root: ${Package} ${Version}\n' cage xwayland wlr-randr python3 systemd
echo "check-debian-root: all passed"
