#!/usr/bin/env bash
# README command 1: set up, then run the demo (server on an embedded SQLite file with today's
# Bắc Ninh, or with --structure 2023 Bắc Giang's 220 points; a few sites and counters; one kiosk
# enrolled to a counter; the URLs are printed). Arguments go to tools/demo.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m tools.demo "$@"
