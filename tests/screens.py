"""Where tests put their screenshots: the test's own tmp_path, or the committed docs/screens/ when asked.

A test run leaves the working tree clean; ``HAILONG_WRITE_DOCS_SCREENS=1`` refreshes the committed
pictures (run the screenshot tests with it, look at them, commit what changed).
"""

from __future__ import annotations

import os
from pathlib import Path

DOCS_SCREENS = Path(__file__).resolve().parents[1] / "docs" / "screens"
WRITE_DOCS = "HAILONG_WRITE_DOCS_SCREENS"


def screen_path(tmp_path: Path, name: str) -> Path:
    """The file screenshot ``name`` goes to, its folder made: ``docs/screens/name`` when
    ``HAILONG_WRITE_DOCS_SCREENS=1``, else ``tmp_path/screens/name``."""
    folder = DOCS_SCREENS if os.environ.get(WRITE_DOCS) == "1" else Path(tmp_path) / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
