"""Logic without Qt, and the kiosk apart from the server: checked by walking the imports."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUI = (ROOT / "kiosk" / "ui", ROOT / "kiosk" / "app.py")


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (anywhere in the file, also in functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    assert files, f"no Python files under {folders}"
    return files


def is_gui(path: Path) -> bool:
    return any(path == g or g in path.parents for g in GUI)


def test_logic_imports_no_qt():
    logic = [p for p in python_files("kiosk", "hailong_core") if not is_gui(p)]
    offenders = [str(p.relative_to(ROOT)) for p in logic if {"PySide6", "shiboken6"} & imported_modules(p)]
    assert offenders == []


def test_kiosk_and_core_never_import_the_server():
    offenders = [str(p.relative_to(ROOT)) for p in python_files("kiosk", "hailong_core") if "sync_server" in imported_modules(p)]
    assert offenders == []


def test_the_walk_sees_the_gui():
    # Guards the test itself: if the GUI's Qt imports were invisible, the checks above prove nothing.
    gui = [p for p in python_files("kiosk") if is_gui(p)]
    assert any("PySide6" in imported_modules(p) for p in gui)
