"""Screenshots of every kiosk screen (a thin wrapper of ``hailong-kiosk screenshots``).

    python -m tools.kiosk_screenshot out/ [--size 1280x800 ...] [--lang vi ...]

Writes ``<lang>-<W>x<H>-<screen>.png`` for every screen (attract, faces, large-text, why,
criteria, thanks, error, after-hours, officer-sign-in, pin, admin). Offscreen rendering unless
``QT_QPA_PLATFORM`` says otherwise (e.g. under Xvfb: ``xvfb-run -a python -m tools.kiosk_screenshot out/``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--size", action="append", default=[], help="window size WxH (repeatable; default: the three kiosk sizes)")
    parser.add_argument("--lang", action="append", choices=("vi", "en"), default=[])
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from kiosk.ui.screenshots import LANGS, SIZES, run

    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.size] or SIZES
    for path in run(args.out, sizes, tuple(args.lang) or LANGS):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
