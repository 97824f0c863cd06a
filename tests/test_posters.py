"""QR posters: one page per point, names extractable exactly, every QR decodes to its point's URL.

Runs the real command in a subprocess (Qt stays out of the test process) and checks the PDF with
Debian's poppler-utils (pdftotext, pdftoppm) and zbar-tools (zbarimg).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sync_server.storage import open_storage

TOOLS = ("pdftotext", "pdftoppm", "zbarimg", "pdfinfo", "pdffonts")
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                                reason="needs poppler-utils and zbar-tools (scripts/setup.sh installs them)")
BASE = "https://hailong.bacgiang.gov.vn"


def _posters(db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sync_server.cli", "--db", str(db), "posters", "--out", str(out),
                           "--base-url", BASE, *extra], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})


def test_all_points_one_page_each_names_and_qr_codes(tmp_path):
    db = tmp_path / "server.sqlite3"
    storage = open_storage(db)
    points = [u for u in storage.units() if u["valid_to"] is None and u["level"] != "province"]
    storage.close()
    assert len(points) == 220
    pdf = tmp_path / "posters.pdf"
    run = _posters(db, pdf)
    assert run.returncode == 0, run.stderr
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+220$", info, re.M)
    assert "A4" in info
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # every font embedded

    text_pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    for point, page in zip(points, text_pages):
        lines = [line.strip() for line in page.splitlines()]
        assert point["name"] in lines, (point["code"], point["name"], lines[:8])
        assert f"{BASE}/s/{point['code']}" in lines

    # Every page's QR, decoded from a modest-resolution render (the QR is 10.5 cm: ~5 px per module at 36 dpi).
    subprocess.run(["pdftoppm", "-r", "36", "-gray", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    images = sorted(tmp_path.glob("page-*.pgm"))
    assert len(images) == 220
    xml = subprocess.run(["zbarimg", "--xml", "-q", *map(str, images)], capture_output=True, text=True, timeout=60).stdout
    decoded: dict[str, list[str]] = {}
    for source in ET.fromstring(xml.replace("xmlns='http://zbar.sourceforge.net/2008/barcode'", "")).iter("source"):
        decoded[Path(source.get("href")).name] = [d.text for d in source.iter("data")]
    for point, image in zip(points, images):
        assert decoded.get(image.name) == [f"{BASE}/s/{point['code']}"], (image.name, point["code"], decoded.get(image.name))


def test_a5_for_chosen_points_and_unknown_code(tmp_path):
    db = tmp_path / "server.sqlite3"
    open_storage(db).close()
    pdf = tmp_path / "two.pdf"
    run = _posters(db, pdf, "--unit", "7246", "--unit", "7201", "--size", "a5")
    assert run.returncode == 0, run.stderr
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M) and "A5" in info
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    assert "Xã Canh Nậu" in pages[0] and "Huyện Yên Thế" in pages[0] and "Phường Thọ Xương" in pages[1]
    bad = _posters(db, tmp_path / "bad.pdf", "--unit", "9999")
    assert bad.returncode == 2 and "9999" in bad.stderr


def test_the_app_does_not_import_qt():
    code = "import sys, sync_server.app, sync_server.web.phone, sync_server.cli; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
