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


def imported_full(path: Path) -> set[str]:
    """Full dotted names of every ``sync_server`` module ``path`` imports (anywhere in the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("sync_server")}


def _offenders(files, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for p in files:
        for name in imported_full(p):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{p.relative_to(ROOT)} imports {name}")
    return sorted(out)


SERVER = ROOT / "sync_server"
UPPER = ("sync_server.app", "sync_server.web", "sync_server.api", "sync_server.cli")


def test_server_layers_never_import_upward():
    # Storage holds SQL only; results count and score; neither knows the app, the pages or the API.
    storage = python_files("sync_server/storage")
    assert _offenders(storage, UPPER + ("sync_server.results", "sync_server.maintenance", "sync_server.ingest")) == []
    assert _offenders(python_files("sync_server/results"), UPPER[:3]) == []
    # The protocol routes share the access rules with the pages, not the pages themselves.
    assert _offenders(python_files("sync_server/api"), ("sync_server.web", "sync_server.app")) == []
    # The command line calls the same use cases as the pages, without building the app or a page.
    cli = [SERVER / "cli.py", SERVER / "cli_phone.py", *sorted(SERVER.glob("cli_*.py")), SERVER / "results" / "cli.py"]
    # ``serve`` alone runs the app (inside its own function); no other command builds it.
    serve = ["sync_server/cli.py imports sync_server.app", "sync_server/cli.py imports sync_server.app.create_app"]
    assert _offenders(cli, ("sync_server.app", "sync_server.web")) == serve


def test_the_layer_walk_sees_imports():
    assert "sync_server.storage" in {n.rsplit(".", 1)[0] for n in imported_full(SERVER / "ingest.py")} | imported_full(SERVER / "ingest.py")
