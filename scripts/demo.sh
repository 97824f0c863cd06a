#!/usr/bin/env bash
# README command 1: set up, then run the demo (server on an embedded SQLite file seeded with
# Bắc Giang's 220 points, one kiosk enrolled for a commune; the URLs are printed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m tools.demo "$@"
