"""Packaging: the extras (a kiosk gets no server libraries, a server no Qt), the Apache-2.0 licence,
and the licences of everything that runs.

The fast tests read pyproject.toml, walk the imports and read the installed distributions' metadata
(importlib.metadata). The slow one builds the wheel, installs ``[kiosk]`` and ``[server]`` each
alone in a new virtual environment (from the package index, as a province would) and imports each
side's entry points there.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.test_imports import python_files

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

SERVER_ONLY = {"fastapi", "uvicorn", "psycopg", "openpyxl", "jinja2", "starlette", "reportlab", "multipart",
               "python_multipart", "pydantic"}
QT = {"PySide6", "shiboken6"}


def names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_extras_split_the_two_sides():
    base = names(PROJECT["dependencies"])
    extras = {k: names(v) for k, v in PROJECT["optional-dependencies"].items()}
    assert not base & {"pyside6-essentials", "pyside6", "fastapi", "uvicorn"}, base
    assert {"pyside6-essentials", "requests"} <= extras["kiosk"]
    assert not extras["kiosk"] & {"fastapi", "uvicorn", "psycopg", "openpyxl", "jinja2", "reportlab"}
    assert {"fastapi", "uvicorn", "psycopg", "jinja2", "python-multipart", "openpyxl", "reportlab"} <= extras["server"]
    assert not extras["server"] & {"pyside6-essentials", "pyside6"}
    # [test] installs both sides.
    sides = [Requirement(r) for r in PROJECT["optional-dependencies"]["test"] if Requirement(r).name == PROJECT["name"]]
    assert sides and sides[0].extras == {"kiosk", "server"}


def third_party_imports(folder: str) -> dict[str, list[str]]:
    std = set(sys.stdlib_module_names) | {"hailong_core", "kiosk", "sync_server", "tests", "__future__"}
    found: dict[str, list[str]] = {}
    for path in python_files(folder):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module.split(".")[0]]
            else:
                continue
            for mod in mods:
                if mod not in std:
                    found.setdefault(mod, []).append(str(path.relative_to(ROOT)))
    return found


def test_each_side_imports_only_its_own_libraries():
    core = third_party_imports("hailong_core")
    assert not set(core) & (SERVER_ONLY | QT), core
    kiosk = third_party_imports("kiosk")
    assert not set(kiosk) & SERVER_ONLY, {m: kiosk[m] for m in set(kiosk) & SERVER_ONLY}
    server = third_party_imports("sync_server")
    assert not set(server) & QT, {m: server[m] for m in set(server) & QT}


def closure(requirements: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """Installed distributions reached from ``requirements`` (markers evaluated here), by normalised name."""
    seen: set[str] = set()
    todo = [(Requirement(r), extras) for r in requirements]
    while todo:
        req, wanted = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted or ("",))):
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name in seen or name == PROJECT["name"]:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [(Requirement(r), tuple(req.extras)) for r in dist.requires or ()]
    return seen


def side_closure(side: str) -> set[str]:
    return closure(PROJECT["dependencies"] + PROJECT["optional-dependencies"][side])


def test_every_import_is_declared_for_its_side():
    """What a side imports is installed by its extra (no library that only [test] happens to bring)."""
    providers = md.packages_distributions()
    for folder, side in (("hailong_core", None), ("kiosk", "kiosk"), ("sync_server", "server")):
        declared = closure(PROJECT["dependencies"]) if side is None else side_closure(side)
        missing = {}
        for module, files in third_party_imports(folder).items():
            dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])}
            if not dists & declared:
                missing[module] = files[:3]
        assert not missing, f"{folder} imports what its extra does not install: {missing}"


# --- licences -------------------------------------------------------------------------------

# Licences a runtime dependency may have: permissive ones, and the weak copyleft ones whose terms a
# province meets by shipping the library unmodified as its own files (LGPL: dynamic linking; MPL:
# file-level). docs/licences.md lists every dependency with its licence.
ACCEPTED = re.compile(r"^(MIT(-0|-CMU)?|BSD(-[234]-Clause)?|Apache-2\.0|ISC|PSF-2\.0|MPL-2\.0|LGPL-[23]\.[01](-only|-or-later)?|"
                      r"Unlicense|Zlib|HPND|0BSD)$")
# Where a distribution's metadata names its licence in words, not SPDX: what it is, and why we know.
KNOWN = {
    "reportlab": "BSD-3-Clause",     # "BSD license (see license.txt for details)": ReportLab's LICENSE.txt is BSD 3-clause
    "qrcode": "BSD-3-Clause",        # License: BSD; the "Other/Proprietary" classifier is a leftover, LICENSE is BSD
    "uvloop": "MIT",                 # License: "MIT License" (dual MIT / Apache-2.0 by its classifiers)
    "jinja2": "BSD-3-Clause",        # classifier "BSD License"; LICENSE.txt is BSD 3-clause
    "markdown-it-py": "MIT",
    "setuptools": "MIT",
}


def spdx_of(dist: md.Distribution) -> str | None:
    """The distribution's licence as an SPDX expression, from its metadata (None when it says nothing usable)."""
    meta = dist.metadata
    name = re.sub(r"[-_.]+", "-", meta["Name"]).lower()
    if meta.get("License-Expression"):
        return meta["License-Expression"].strip()
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 80:
        word = {"MIT License": "MIT", "BSD": "BSD-3-Clause", "Apache 2.0": "Apache-2.0", "Apache License 2.0": "Apache-2.0"}
        candidate = word.get(text, text)
        # An SPDX expression in the old field (PySide6: "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only").
        if all(re.fullmatch(r"[A-Za-z0-9.+-]+", part.strip("() ")) for part in re.split(r"\s+(?:OR|AND)\s+", candidate)):
            return candidate
    return KNOWN.get(name)


def acceptable(expression: str) -> bool:
    """True when one of the OR alternatives has only accepted licences (AND: every part must be)."""
    for alternative in re.split(r"\s+OR\s+", expression.replace("(", " ").replace(")", " ")):
        parts = [p.strip() for p in re.split(r"\s+AND\s+", alternative.strip()) if p.strip()]
        if parts and all(ACCEPTED.match(p) for p in parts):
            return True
    return False


def runtime_distributions() -> set[str]:
    return side_closure("kiosk") | side_closure("server")


def test_no_runtime_dependency_is_gpl_or_unknown():
    assert len(runtime_distributions()) > 20  # the walk found the tree (fastapi, PySide6, their dependencies)
    problems = {}
    for name in sorted(runtime_distributions()):
        expression = spdx_of(md.distribution(name))
        if expression is None or not acceptable(expression):
            problems[name] = expression or "unknown"
    assert not problems, f"GPL or unknown licences at run time (add a reviewed entry to KNOWN if it is neither): {problems}"


def test_the_checker_refuses_gpl_and_takes_lgpl():
    assert acceptable("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only")  # PySide6: we take the LGPL
    assert acceptable("MPL-2.0 AND (Apache-2.0 OR MIT)")                  # orjson
    assert not acceptable("GPL-3.0-or-later")                             # vietnam-provinces: a tool's, never at run time
    assert not acceptable("AGPL-3.0-only")


def test_every_runtime_dependency_is_listed_in_the_licences_doc():
    doc = (ROOT / "docs" / "licences.md").read_text(encoding="utf-8").lower()
    missing = [name for name in sorted(runtime_distributions()) if f"| {name} |" not in doc]
    assert not missing, f"docs/licences.md lacks: {missing}"


def test_the_project_is_apache_2():
    assert PROJECT["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert set(PROJECT["license-files"]) == {"LICENSE", "NOTICE"} and (ROOT / "NOTICE").exists()


# --- real installs --------------------------------------------------------------------------

NETWORK = re.compile(r"Could not fetch URL|NewConnectionError|Temporary failure in name resolution|Network is unreachable|"
                     r"No matching distribution found for setuptools")


def _pip(python: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    out = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 and NETWORK.search(out.stdout + out.stderr):
        pytest.skip("the package index cannot be reached here: " + (out.stderr.strip().splitlines() or [""])[-1])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_wheel_metadata_and_each_side_alone_in_its_own_venv(tmp_path):
    # A copy of the tree: building in place would leave build/ and *.egg-info in the working tree.
    source = tmp_path / "src"
    source.mkdir()
    subprocess.run(f"tar -C {ROOT} --exclude=.git --exclude=.venv --exclude=demo-data --exclude=__pycache__ "
                   f"--exclude='*.egg-info' --exclude=.pytest_cache --exclude=build -cf - . | tar -C {source} -xf -",
                   shell=True, check=True, executable="/bin/bash", timeout=120)
    _pip(Path(sys.executable), "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source))
    wheel = next((tmp_path / "dist").glob("hailong-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        licences = [n for n in zf.namelist() if "/licenses/" in n]
    assert "License-Expression: Apache-2.0" in meta
    assert {Path(n).name for n in licences} == {"LICENSE", "NOTICE"}
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    base = {r.name.lower() for r in requires if not r.marker}
    assert not base & {"pyside6-essentials", "fastapi"}, base

    checks = {
        "kiosk": ("import sys, kiosk.cli, kiosk.app, kiosk.display, kiosk.selftest, kiosk.sync\n"
                  "bad = [m for m in ('fastapi', 'uvicorn', 'psycopg', 'openpyxl', 'jinja2', 'reportlab') if m in sys.modules]\n"
                  "import importlib.util as u\n"
                  "present = [m for m in ('fastapi', 'uvicorn', 'psycopg', 'openpyxl', 'jinja2') if u.find_spec(m)]\n"
                  "print(bad, present)"),
        "server": ("import sys, sync_server.cli, sync_server.app, sync_server.posters\n"
                   "sync_server.app.create_app\n"
                   "import importlib.util as u\n"
                   "print([m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))], [m for m in ('PySide6',) if u.find_spec(m)])"),
    }
    for side, code in checks.items():
        venv = tmp_path / f"venv-{side}"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        _pip(venv / "bin/python", "install", "-q", f"{wheel}[{side}]")
        out = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "[] []", (side, out.stdout)
        assert subprocess.run([str(venv / f"bin/hailong-{side}"), "--help"], capture_output=True, timeout=120).returncode == 0
