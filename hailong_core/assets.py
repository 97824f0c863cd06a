"""Where the shipped data files (questionnaires, unit registry, fonts) live."""

from __future__ import annotations

import json
import os
from pathlib import Path

# The assets folder sits beside the packages in the source tree (installed editable, or copied
# as a whole by the installer); HAILONG_ASSETS points elsewhere for unusual layouts.
ASSETS_DIR = Path(os.environ.get("HAILONG_ASSETS") or Path(__file__).resolve().parent.parent / "assets")


def asset_path(*parts: str) -> Path:
    """Path of a shipped asset, e.g. ``asset_path("questionnaires", "default.json")``."""
    return ASSETS_DIR.joinpath(*parts)


def load_json_asset(*parts: str):
    """Parse a shipped JSON asset."""
    with asset_path(*parts).open(encoding="utf-8") as fh:
        return json.load(fh)
