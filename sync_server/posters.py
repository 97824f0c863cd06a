"""Print-ready QR posters, one page per site (điểm tiếp nhận): ``hailong-server posters`` (Qt's QPdfWriter).

The only server module that draws with Qt (PySide6, a dependency of the kiosk already); Qt is
imported inside :func:`write_posters` alone, so ``sync_server.app`` never loads it. The admin
pages print posters by running this module in a subprocess (:func:`posters_pdf`, ``python -m
sync_server.posters`` reading the points as JSON on stdin), so Qt never runs in a server thread.

Each page: the site's name (a unit's first site is named as the unit), its address, the unit when
the site is named otherwise and the unit above it (district, or province for district-level points
and the provincial centre), a QR code of ``<base URL>/s/<code>`` for the unit's first site and
``<base URL>/s/<code>?site=<id>`` for its other sites (10.5 cm on A4, 7.4 cm on A5: scannable from
about 1 m), short instructions in Vietnamese with a line of English, and the address to type by
hand. A site with its own public base URL is printed with it. The QR is drawn as vector rectangles
from the ``qrcode`` matrix; fonts (Noto Sans, else DejaVu Sans) are embedded by Qt as subsets, so
``pdftotext`` gives the names back exactly.
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
    """The posters' PDF, drawn by a child process (Qt stays out of the server); raises OSError."""
    import json
    import subprocess
    import sys
    import tempfile

    if not points:
        raise ValueError("no points to print")
    with tempfile.TemporaryDirectory(prefix="hailong-posters-") as folder:
        out = Path(folder) / "posters.pdf"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        try:
            run = subprocess.run([sys.executable, "-m", "sync_server.posters", "--out", str(out), "--base-url", base_url,
                                  "--size", size], input=json.dumps(points, ensure_ascii=False), capture_output=True,
                                 text=True, timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired as exc:
            raise OSError(f"the poster writer took longer than {timeout_s:.0f} s") from exc
        if run.returncode != 0 or not out.exists():
            raise OSError((run.stderr or "").strip().splitlines()[-1] if run.stderr.strip() else "the poster writer failed")
        return out.read_bytes()


def _qt_app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([])


def _load_font(kind: str) -> str:
    """A family with Vietnamese glyphs, loaded from its file so the right face is embedded."""
    from PySide6.QtGui import QFontDatabase

    for path in FONT_FILES[kind]:
        if Path(path).exists():
            font_id = QFontDatabase.addApplicationFont(path)
            families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
            if families:
                return families[0]
    for family in ("Noto Sans", "DejaVu Sans"):
        if family in QFontDatabase.families():
            return family
    raise OSError("no font with Vietnamese glyphs (install fonts-noto-core or fonts-dejavu-core)")


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
    _qt_app()
    from PySide6.QtCore import QMarginsF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPageLayout, QPageSize, QPainter, QPdfWriter

    regular, bold = _load_font("regular"), _load_font("bold")
    width_mm, height_mm, qr_mm = SIZES[size]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(out))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4 if size == "a4" else QPageSize.PageSizeId.A5))
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    writer.setTitle("Hài Lòng – mã QR khảo sát")
    writer.setCreator("Hài Lòng (hailong-server posters)")
    dots = writer.resolution() / 25.4  # device units per millimetre
    scale = width_mm / 210.0  # A5 is A4 scaled down

    def mm(value: float) -> float:
        return value * dots

    def font(family: str, points_size: float, weight_bold: bool = False) -> QFont:
        f = QFont(family)
        f.setPointSizeF(points_size * scale)
        f.setBold(weight_bold)
        return f

    def fitted(family: str, text: str, largest: float, smallest: float, width: float) -> QFont:
        """The largest size (down to ``smallest``) at which ``text`` fits on one line; wraps below that."""
        size_pt = largest
        while size_pt > smallest:
            f = font(family, size_pt, True)
            if QFontMetricsF(f, writer).horizontalAdvance(text) <= width:
                return f
            size_pt -= 1
        return font(family, smallest, True)

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write {out}")
    try:
        margin = mm(14 * scale)
        inner = mm(width_mm) - 2 * margin
        center = Qt.AlignmentFlag.AlignHCenter
        wrap = Qt.TextFlag.TextWordWrap
        for index, point in enumerate(points):
            if index:
                writer.newPage()
            url = point_url(point.get("base_url") or base_url, point["code"], point.get("query", ""))
            # Title band.
            band = QRectF(0, 0, mm(width_mm), mm(34 * scale))
            painter.fillRect(band, QColor(BRAND))
            painter.setPen(QColor("white"))
            painter.setFont(font(bold, 26, True))
            painter.drawText(QRectF(margin, mm(6 * scale), inner, mm(15 * scale)), center | Qt.AlignmentFlag.AlignVCenter, TITLE_VI)
            painter.setFont(font(regular, 14))
            painter.drawText(QRectF(margin, mm(20 * scale), inner, mm(10 * scale)), center | Qt.AlignmentFlag.AlignVCenter, TITLE_EN)
            # The point's name (one line when it fits at ≥ 20 pt) and the unit above it.
            painter.setPen(QColor("#1b2733"))
            y = mm(44 * scale)
            name_font = fitted(bold, point["name"], 30, 20, inner)
            painter.setFont(name_font)
            box = painter.boundingRect(QRectF(margin, y, inner, mm(60)), center | wrap, point["name"])
            painter.drawText(QRectF(margin, y, inner, box.height()), center | wrap, point["name"])
            y += box.height() + mm(2 * scale)
            # Under it: the address, then the unit (when the site is named otherwise) and the unit above.
            unit_line = " · ".join(n for n in (point.get("unit_name") if point.get("unit_name") != point["name"] else None,
                                               point["parent_name"]) if n)
            for text, size_pt in ((point.get("address"), 14), (unit_line, 16)):
                if not text:
                    continue
                painter.setPen(QColor("#5b6b7a"))
                painter.setFont(font(regular, size_pt))
                box = painter.boundingRect(QRectF(margin, y, inner, mm(30)), center | wrap, text)
                painter.drawText(QRectF(margin, y, inner, box.height()), center | wrap, text)
                y += box.height()
            # The QR code, as rectangles (one per horizontal run of dark modules), quiet zone left white.
            matrix = qr_matrix(url)
            n = len(matrix)
            side = mm(qr_mm)
            module = side / n
            left = (mm(width_mm) - side) / 2
            top = max(y + mm(8 * scale), mm(80 * scale))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("black"))
            for r, row in enumerate(matrix):
                c = 0
                while c < n:
                    if row[c]:
                        start = c
                        while c < n and row[c]:
                            c += 1
                        # A hair of overlap so renderers leave no seams between modules.
                        painter.drawRect(QRectF(left + start * module, top + r * module, (c - start) * module + 0.5, module + 0.5))
                    else:
                        c += 1
            y = top + side + mm(6 * scale)
            painter.setPen(QColor("#1b2733"))
            painter.setFont(font(regular, 11))
            line = QFontMetricsF(painter.font(), writer).height()
            painter.drawText(QRectF(margin, y, inner, line), center, url)
            y += line + mm(8 * scale)
            # Instructions: Vietnamese first, then one line of English.
            painter.setFont(font(regular, 15))
            for text in STEPS_VI:
                box = painter.boundingRect(QRectF(margin, y, inner, mm(40)), center | wrap, text)
                painter.drawText(QRectF(margin, y, inner, box.height()), center | wrap, text)
                y += box.height() + mm(1.5 * scale)
            painter.setPen(QColor("#5b6b7a"))
            painter.setFont(font(regular, 11))
            box = painter.boundingRect(QRectF(margin, y + mm(3 * scale), inner, mm(30)), center | wrap, LINE_EN)
            painter.drawText(QRectF(margin, y + mm(3 * scale), inner, box.height()), center | wrap, LINE_EN)
            # Footer: the point's code, for whoever puts the poster up.
            painter.setFont(font(regular, 9))
            painter.drawText(QRectF(margin, mm(height_mm - 12 * scale), inner, mm(6 * scale)), center,
                             f"Hài Lòng · {point['code']}" + (f" · {point['site_id']}" if point.get("site_id") else ""))
    finally:
        painter.end()
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
