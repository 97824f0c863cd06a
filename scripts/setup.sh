#!/usr/bin/env bash
# Sets up everything the demo and the tests need, on a fresh Debian/Ubuntu with Python >= 3.11:
# the Debian packages Qt, fonts and screenshots need (when run as root), a virtual environment in
# .venv, and the project with its test extras. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "setup: Python >= 3.11 is required (found: $("$PYTHON" --version 2>&1 || echo none))" >&2
    exit 1
fi

# Qt's xcb/EGL libraries, fonts with Vietnamese glyphs (the PySide6 wheel ships none),
# Xvfb for screenshots, Chromium and its driver for the server pages' browser tests and screenshots,
# poppler-utils and zbar-tools to read the QR posters back (text and codes) in tests,
# espeak-ng for the kiosk's generated Vietnamese voice (tests/test_kiosk_voice.py runs the real one),
# LibreOffice Calc (headless) to print the XLSX reports to PDF in tests, as an office would,
# python3-venv for Debian's own Python.
DEBS="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0
      libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0
      libxcb-randr0 fonts-noto-core fonts-dejavu-core xvfb xauth chromium chromium-driver postgresql
      poppler-utils zbar-tools espeak-ng libreoffice-calc-nogui"
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then DEBS="$DEBS python3-venv"; fi
missing=""
for pkg in $DEBS; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "setup: warning: not root, cannot install:$missing (Qt screens or fonts may fail)" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.hailong-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]"
    touch "$stamp"
fi
echo "setup: ready (.venv)"
