"""Print-ready QR posters, one page per site (điểm tiếp nhận): ``hailong-server posters`` (ReportLab).

Drawn with ReportLab (BSD), not Qt: a server installs ``.[server]`` without PySide6 (about 230 MB
less; docs/licences.md has the measurements). ReportLab is imported inside :func:`write_posters`
alone. The admin pages still draw posters in a child process (:func:`posters_pdf`, ``python -m
sync_server.posters`` reading the points as JSON on stdin): 220 pages take a CPU-second or two,
which then never holds a server process's interpreter, and a timeout can stop a stuck print.

Each page: the site's name (a unit's first site is named as the unit), its address, the unit when
the site is named otherwise and the unit above it (district, or province for district-level points
and the provincial centre), a QR code of ``<base URL>/s/<code>`` for the unit's first site and
``<base URL>/s/<code>?site=<id>`` for its other sites (10.5 cm on A4, 7.4 cm on A5: scannable from
about 1 m), short instructions in Vietnamese with a line of English, and the address to type by
hand. A site with its own public base URL is printed with it. The QR is drawn as vector rectangles
from the ``qrcode`` matrix; fonts (Noto Sans, else DejaVu Sans) are embedded as subsets with their
Unicode maps, so ``pdftotext`` gives the names back exactly, diacritics included.
"""

from __future__ import annotations

import os
from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_M

FONT_FILES = {
    "regular": ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    "bold": ("/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}
SIZES = {"a4": (210.0, 297.0, 105.0), "a5": (148.0, 210.0, 74.0)}  # page width, height, QR side (mm)
# The pages in PostScript points, rounded as printers and ``pdfinfo`` name them (148 mm is 419.5 pt,
# which poppler no longer calls A5).
PAGE_PT = {"a4": (595.0, 842.0), "a5": (420.0, 595.0)}
BRAND = "#0b5d7a"
TITLE_VI = "ĐÁNH GIÁ SỰ HÀI LÒNG"
TITLE_EN = "Rate our service"
STEPS_VI = ("1. Mở camera điện thoại và quét mã QR.", "2. Chọn mức độ hài lòng, bấm “Gửi ý kiến”.",
            "Không cần cài ứng dụng, không cần đăng nhập.", "Ý kiến của Ông/Bà được gửi ẩn danh.")
LINE_EN = "Scan with your phone's camera to rate this service point: no app, no login, anonymous."


def point_url(base_url: str, code: str, query: str = "") -> str:
    return f"{base_url.rstrip('/')}/s/{code}{query}"


def select_points(storage, codes: list[str] | None = None, *, day: str | None = None,
                  site_ids: list[int] | None = None) -> list[dict]:
    """One point per open site of the units in force on ``day`` (default: today at the province),
    in tree order, or of the chosen codes in the order given; ``site_ids`` keeps only those sites.

    Each: ``code, site_id, name`` (the site's), ``unit_name, address, level, parent_name, query``
    (what the URL adds after ``/s/<code>``), ``base_url`` (the site's own, or None). Raises
    ValueError naming a code that is not an open point that day.
    """
    from sync_server.kiosk_config import province_today
    from sync_server.web.sites_view import site_url_query, sites_in_force

    day = day or province_today(7.0)
    units = {u["code"]: u for u in storage.units_as_of(day)}
    if codes:
        chosen = []
        for code in codes:
            unit = units.get(code)
            if unit is None or unit["level"] == "province":
                raise ValueError(f"{code!r} is not an open service point (see 'hailong-server units')")
            chosen.append(unit)
    else:
        chosen = [u for u in units.values() if u["level"] != "province"]
    sites = sites_in_force(storage, chosen)
    points = []
    for unit in chosen:
        own = sites[unit["code"]]
        first = own[0]["id"] if own else None
        for site in own:
            if site_ids is not None and site["id"] not in site_ids:
                continue
            points.append({"code": unit["code"], "site_id": site["id"], "name": site["name"], "unit_name": unit["name"],
                           "address": site["address"], "level": unit["level"],
                           "parent_name": units[unit["parent_code"]]["name"] if unit["parent_code"] in units else None,
                           "query": site_url_query(site, first), "base_url": site["public_base_url"]})
    return points


def posters_pdf(points: list[dict], base_url: str, size: str = "a4", timeout_s: float = 120.0) -> bytes:
    """The posters' PDF, drawn by a child process (see the module docstring); raises OSError."""
    import json
    import subprocess
    import sys
    import tempfile

    if not points:
        raise ValueError("no points to print")
    with tempfile.TemporaryDirectory(prefix="hailong-posters-") as folder:
        out = Path(folder) / "posters.pdf"
        try:
            run = subprocess.run([sys.executable, "-m", "sync_server.posters", "--out", str(out), "--base-url", base_url,
                                  "--size", size], input=json.dumps(points, ensure_ascii=False), capture_output=True,
                                 text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise OSError(f"the poster writer took longer than {timeout_s:.0f} s") from exc
        if run.returncode != 0 or not out.exists():
            raise OSError((run.stderr or "").strip().splitlines()[-1] if run.stderr.strip() else "the poster writer failed")
        return out.read_bytes()


_FONT_NAMES = {"regular": "HaiLong-Regular", "bold": "HaiLong-Bold"}


def _register_fonts() -> tuple[str, str]:
    """Register the regular and bold faces with ReportLab once per process; their names."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    registered = set(pdfmetrics.getRegisteredFontNames())
    for kind, name in _FONT_NAMES.items():
        if name in registered:
            continue
        path = next((p for p in FONT_FILES[kind] if Path(p).exists()), None)
        if path is None:
            raise OSError("no font with Vietnamese glyphs (install fonts-noto-core or fonts-dejavu-core)")
        pdfmetrics.registerFont(TTFont(name, path))
    return _FONT_NAMES["regular"], _FONT_NAMES["bold"]


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR modules of ``url`` (level M, no quiet zone: the page's white margin is the quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def write_posters(out: Path, points: list[dict], base_url: str, size: str = "a4") -> int:
    """Write one page per point to ``out`` (PDF); return the page count."""
    if not points:
        raise ValueError("no points to print")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("--base-url must start with http:// or https://")
    from reportlab.lib.colors import HexColor, black, white
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth
    from reportlab.pdfgen.canvas import Canvas

    regular, bold = _register_fonts()
    width_mm, _, qr_mm = SIZES[size]
    scale = width_mm / 210.0  # A5 is A4 scaled down
    page_w, page_h = PAGE_PT[size]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The initial font is ours too, so no unembedded Helvetica is referenced.
    pdf = Canvas(str(out), pagesize=(page_w, page_h), pageCompression=1, initialFontName=regular, initialFontSize=11)
    pdf.setTitle("Hài Lòng – mã QR khảo sát")
    pdf.setCreator("Hài Lòng (hailong-server posters)")
    pdf.setAuthor("Hài Lòng")

    # Layout in points measured down from the top edge, as a reader sees the page; ReportLab's
    # origin is the bottom-left corner, so every drawing call turns ``top`` into ``page_h - top``.
    def line_height(font: str, size_pt: float) -> float:
        ascent, descent = getAscentDescent(font, size_pt)
        return ascent - descent

    def centred_lines(text: str, font: str, size_pt: float, top: float, width: float, left: float) -> float:
        """Draw ``text`` wrapped to ``width`` and centred; return the height used."""
        ascent, _ = getAscentDescent(font, size_pt)
        height = line_height(font, size_pt)
        lines = simpleSplit(text, font, size_pt, width) or [""]
        pdf.setFont(font, size_pt)
        for i, line in enumerate(lines):
            pdf.drawCentredString(left + width / 2, page_h - (top + i * height + ascent), line)
        return height * len(lines)

    def centred_in_box(text: str, font: str, size_pt: float, top: float, box_h: float, left: float, width: float) -> None:
        """One line centred horizontally and vertically in a box (the title band)."""
        ascent, _ = getAscentDescent(font, size_pt)
        pdf.setFont(font, size_pt)
        baseline = top + (box_h - line_height(font, size_pt)) / 2 + ascent
        pdf.drawCentredString(left + width / 2, page_h - baseline, text)

    def fitted(text: str, largest: float, smallest: float, width: float) -> float:
        """The largest bold size (down to ``smallest``) at which ``text`` fits one line; wraps below that."""
        size_pt = largest
        while size_pt > smallest and stringWidth(text, bold, size_pt * scale) > width:
            size_pt -= 1
        return max(size_pt, smallest) * scale

    margin = 14 * scale * mm
    inner = page_w - 2 * margin
    ink, grey = HexColor("#1b2733"), HexColor("#5b6b7a")
    for point in points:
        url = point_url(point.get("base_url") or base_url, point["code"], point.get("query", ""))
        # Title band.
        band_h = 34 * scale * mm
        pdf.setFillColor(HexColor(BRAND))
        pdf.rect(0, page_h - band_h, page_w, band_h, stroke=0, fill=1)
        pdf.setFillColor(white)
        centred_in_box(TITLE_VI, bold, 26 * scale, 6 * scale * mm, 15 * scale * mm, margin, inner)
        centred_in_box(TITLE_EN, regular, 14 * scale, 20 * scale * mm, 10 * scale * mm, margin, inner)
        # The point's name (one line when it fits at ≥ 20 pt) and the unit above it.
        pdf.setFillColor(ink)
        y = 44 * scale * mm
        y += centred_lines(point["name"], bold, fitted(point["name"], 30, 20, inner), y, inner, margin)
        y += 2 * scale * mm
        # Under it: the address, then the unit (when the site is named otherwise) and the unit above.
        unit_line = " · ".join(n for n in (point.get("unit_name") if point.get("unit_name") != point["name"] else None,
                                           point["parent_name"]) if n)
        pdf.setFillColor(grey)
        for text, size_pt in ((point.get("address"), 14), (unit_line, 16)):
            if text:
                y += centred_lines(text, regular, size_pt * scale, y, inner, margin)
        # The QR code, as rectangles (one per horizontal run of dark modules), quiet zone left white.
        matrix = qr_matrix(url)
        n = len(matrix)
        side = qr_mm * mm
        module = side / n
        left = (page_w - side) / 2
        top = max(y + 8 * scale * mm, 80 * scale * mm)
        seam = 0.04 * mm  # a hair of overlap so renderers leave no seams between modules
        pdf.setFillColor(black)
        for r, row in enumerate(matrix):
            c = 0
            while c < n:
                if row[c]:
                    start = c
                    while c < n and row[c]:
                        c += 1
                    pdf.rect(left + start * module, page_h - (top + (r + 1) * module) - seam,
                             (c - start) * module + seam, module + seam, stroke=0, fill=1)
                else:
                    c += 1
        y = top + side + 6 * scale * mm
        pdf.setFillColor(ink)
        y += centred_lines(url, regular, 11 * scale, y, inner, margin) + 8 * scale * mm
        # Instructions: Vietnamese first, then one line of English.
        for text in STEPS_VI:
            y += centred_lines(text, regular, 15 * scale, y, inner, margin) + 1.5 * scale * mm
        pdf.setFillColor(grey)
        centred_lines(LINE_EN, regular, 11 * scale, y + 3 * scale * mm, inner, margin)
        # Footer: the point's code, for whoever puts the poster up.
        footer = f"Hài Lòng · {point['code']}" + (f" · {point['site_id']}" if point.get("site_id") else "")
        centred_lines(footer, regular, 9 * scale, page_h - 12 * scale * mm, inner, margin)
        pdf.showPage()
    try:
        pdf.save()
    except OSError as exc:
        raise OSError(f"cannot write {out}: {exc}") from exc
    return len(points)


def main(argv: list[str] | None = None) -> int:
    """``python -m sync_server.posters --out FILE --base-url URL [--size a4|a5]``, the points as JSON on stdin
    (what :func:`select_points` returns): how the admin pages draw posters outside the server process."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m sync_server.posters")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--size", choices=tuple(SIZES), default="a4")
    args = parser.parse_args(argv)
    try:
        points = json.loads(sys.stdin.read())
        count = write_posters(args.out, points, args.base_url, args.size)
    except (ValueError, OSError) as exc:
        print(f"posters: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} poster page(s) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
