"""Small touch widgets shared by the screens: big buttons, choice chips, a QR code, an officer's
avatar, the officer's corner button, the idle-reset warning, and the hidden corner that opens the
admin PIN pad on a long press.

Every tappable thing here acts on release (Qt's ``clicked``), never on press, so a finger that
slides off a control does nothing; only :class:`CornerHotspot` starts its hold timer on press.
"""

from __future__ import annotations

import base64
import logging

import qrcode
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QPushButton, QSizePolicy, QWidget

from kiosk.ui import style
from kiosk.ui.strings import DEFAULT_LANG, tr
from kiosk.ui.style import INK

log = logging.getLogger(__name__)

_BUTTON_CSS = {
    "primary": (style.ACCENT, style.WHITE, style.ACCENT),
    "secondary": (style.WHITE, style.ACCENT, style.BORDER),
    "quiet": ("transparent", style.WHITE, "#6F8AAE"),
}


class BigButton(QPushButton):
    """A rounded touch button; ``kind`` is ``primary``, ``secondary`` or ``quiet`` (on the navy header).

    Checkable buttons show their checked state filled. :meth:`size_to` sets type and height.
    """

    def __init__(self, text: str = "", kind: str = "secondary", parent: QWidget | None = None, *, checkable: bool = False):
        super().__init__(text, parent)
        self.kind = kind
        self.setCheckable(checkable)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._radius = 12
        self._restyle()

    def _restyle(self) -> None:
        bg, fg, border = _BUTTON_CSS[self.kind]
        checked_bg, checked_fg = (style.WHITE, style.HEADER) if self.kind == "quiet" else (style.ACCENT, style.WHITE)
        self.setStyleSheet(
            f"QPushButton {{ background: {bg}; color: {fg}; border: 2px solid {border}; border-radius: {self._radius}px;"
            f" padding: 0 {self._radius}px; }}"
            f" QPushButton:pressed {{ background: #C9D8EA; color: {style.HEADER}; }}"
            f" QPushButton:checked {{ background: {checked_bg}; color: {checked_fg}; border-color: {checked_bg}; }}"
            f" QPushButton:disabled {{ background: #E5E8EC; color: #8A96A3; border-color: #D5DCE5; }}")

    def size_to(self, px: float, height: int) -> None:
        """Type of ``px`` pixels (bold) and a fixed height of ``height`` (at least the touch minimum)."""
        style.set_px(self, px, bold=True)
        height = max(height, style.min_touch_px(self))
        self.setFixedHeight(height)
        self.setMinimumWidth(height)
        radius = max(8, height // 5)
        if radius != self._radius:
            self._radius = radius
            self._restyle()


def _wrap_two(text: str, metrics: QFontMetricsF, width: float) -> list[str]:
    """``text`` on one line if it fits, else on as few lines as it needs (word wrap)."""
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if not line or metrics.horizontalAdvance(trial) <= width:
            line = trial
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


class Chip(QAbstractButton):
    """A large checkable choice ("Phải chờ lâu"): a box that ticks, and the wrapped label.

    A ``grave`` chip (harassment, unofficial payments) does not tick itself when tapped: it emits
    :attr:`sig_needs_confirmation`, and the screen ticks it with :meth:`setChecked` once the citizen
    confirmed. Unticking it needs no confirmation.
    """

    sig_needs_confirmation = Signal()
    """Fires when an unticked grave chip is tapped (before ``clicked``); it stays unticked."""

    def __init__(self, option_id: str, text: str, parent: QWidget | None = None, *, grave: bool = False):
        super().__init__(parent)
        self.option_id = option_id
        self.grave = grave
        self.setText(text)
        self.setAccessibleName(text)
        self.setObjectName(f"chip_{option_id}")
        self.setCheckable(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.text_px = 24.0
        self.min_text_px = 12.0

    def nextCheckState(self) -> None:  # noqa: N802 - Qt API
        if self.grave and not self.isChecked():
            self.sig_needs_confirmation.emit()  # ticked only through the screen's confirmation
            return
        super().nextCheckState()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(300, self.minimumHeight() or 80)

    def _parts(self) -> tuple[QRectF, float, QRectF, QFont, list[str]]:
        """The chip's outline, the tick box's side and place, and the label's font and lines."""
        w, h = self.width(), self.height()
        border = max(2.0, h * 0.03)
        rect = QRectF(border, border, w - 2 * border, h - 2 * border)
        box = min(h * 0.36, style.mm(self, 10))
        box_rect = QRectF(rect.left() + min(h * 0.22, style.mm(self, 5)), rect.center().y() - box / 2, box, box)
        left = box_rect.right() + min(h * 0.2, style.mm(self, 4))
        text_rect = QRectF(left, rect.top(), rect.right() - left - min(h * 0.15, style.mm(self, 3)), rect.height())
        px = self.text_px
        font = style.font_px(self.font(), px, bold=self.isChecked())
        floor = max(12.0, self.min_text_px)
        while True:
            font.setPixelSize(max(12, int(px)))
            metrics = QFontMetricsF(font)
            lines = _wrap_two(self.text(), metrics, text_rect.width())
            if px <= floor or (len(lines) <= 2 and metrics.lineSpacing() * len(lines) <= rect.height() * 0.9):
                break
            px -= 1
        return rect, box, box_rect, font, lines

    def label_font(self) -> QFont:
        """The font the label is drawn in now (sizes.txt measures it)."""
        return self._parts()[3]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height()
        on = self.isChecked()
        rect, box, box_rect, font, lines = self._parts()
        border = max(2.0, h * 0.03)
        p.setPen(QPen(QColor(style.ACCENT if on else style.BORDER), border * (1.6 if on else 1)))
        p.setBrush(QColor("#E4EEF9" if on else ("#EEF2F6" if self.isDown() else style.WHITE)))
        radius = min(h * 0.16, style.mm(self, 4))
        p.drawRoundedRect(rect, radius, radius)
        # The tick box.
        bx, by = box_rect.left(), box_rect.top()
        p.setPen(QPen(QColor(style.ACCENT if on else style.BORDER), max(2.0, box * 0.09)))
        p.setBrush(QColor(style.ACCENT) if on else QColor(style.WHITE))
        p.drawRoundedRect(box_rect, box * 0.18, box * 0.18)
        if on:
            pen = QPen(QColor(style.WHITE), box * 0.14, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            tick = QPainterPath(QPointF(bx + box * 0.22, by + box * 0.52))
            tick.lineTo(QPointF(bx + box * 0.42, by + box * 0.72))
            tick.lineTo(QPointF(bx + box * 0.78, by + box * 0.30))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(tick)
        p.setFont(font)
        p.setPen(INK)
        left = box_rect.right() + min(h * 0.2, style.mm(self, 4))
        p.drawText(QRectF(left, rect.top(), rect.right() - left - min(h * 0.15, style.mm(self, 3)), rect.height()),
                   int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), "\n".join(lines))
        p.end()


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of ``text`` as rows of dark (True) modules, with a 2-module quiet zone.

    A fixed mask pattern: trying all eight costs ~5 ms per code, on the tap's path.
    """
    code = qrcode.QRCode(border=2, mask_pattern=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


class QrWidget(QWidget):
    """Draws a QR code with QPainter (no image library): square, centred, black on white.

    It takes the taps on it: a citizen who touches the glass while aiming a phone at the code
    must not dismiss the screen behind it.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = ""
        self._matrix: list[list[bool]] = []
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_text(self, text: str) -> None:
        self.text = text
        self._matrix = qr_matrix(text) if text else []
        self.update()

    def matrix(self) -> list[list[bool]]:
        return self._matrix

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.accept()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self._matrix:
            return
        p = QPainter(self)
        n = len(self._matrix)
        side = min(self.width(), self.height())
        cell = side // n  # whole pixels per module: crisp edges scan best
        x0 = (self.width() - cell * n) // 2
        y0 = (self.height() - cell * n) // 2
        p.fillRect(x0, y0, cell * n, cell * n, QColor(style.WHITE))
        dark = QColor("#000000")
        for r, row in enumerate(self._matrix):
            for c, on in enumerate(row):
                if on:
                    p.fillRect(x0 + c * cell, y0 + r * cell, cell, cell, dark)
        p.end()


def pixmap_from_data_url(url: str | None) -> QPixmap | None:
    """A photo from a ``data:image/...;base64,...`` URL, or None when absent or unreadable."""
    if not url or not isinstance(url, str) or not url.startswith("data:image/") or "," not in url:
        return None
    try:
        raw = base64.b64decode(url.split(",", 1)[1], validate=False)
    except (ValueError, TypeError):
        return None
    pix = QPixmap()
    if not pix.loadFromData(raw):
        log.warning("an officer photo could not be decoded")
        return None
    return pix


def initials(name: str) -> str:
    """``Nguyễn Thị Hoa`` → ``H`` (Vietnamese given name is last) — one letter reads best."""
    parts = name.split()
    return parts[-1][0].upper() if parts else "?"


class Avatar(QWidget):
    """An officer's photo in a circle, or the initial of their given name on a colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._name = ""
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_officer(self, name: str, photo: str | None) -> None:
        self._name = name
        self._pixmap = pixmap_from_data_url(photo)
        self.update()

    def has_photo(self) -> bool:
        return self._pixmap is not None

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        side = min(self.width(), self.height())
        rect = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        clip = QPainterPath()
        clip.addEllipse(rect)
        if self._pixmap is not None and not self._pixmap.isNull():
            p.setClipPath(clip)
            scaled = self._pixmap.scaled(int(side), int(side), Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                         Qt.TransformationMode.SmoothTransformation)
            p.drawPixmap(int(rect.left() - (scaled.width() - side) / 2), int(rect.top() - (scaled.height() - side) / 2), scaled)
            p.setClipping(False)
        else:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#5B7FA8"))
            p.drawEllipse(rect)
            p.setPen(QColor(style.WHITE))
            p.setFont(style.font_px(self.font(), side * 0.45, bold=True))
            p.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), initials(self._name))
        p.setPen(QPen(QColor(style.WHITE), max(2.0, side * 0.03)))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(rect)
        p.end()


class OfficerButton(QAbstractButton):
    """The officer's sign-in / sign-out control: a quiet 15 mm icon (a person and an arrow), no words.

    It sits in a corner of the start screen, out of the citizen's way; officers know it. The arrow
    points in (sign in) or out (sign out) of the door; the accessible name says which.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.signed_in = False
        self.setObjectName("officer_button")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_state(self, signed_in: bool, name: str) -> None:
        self.signed_in = signed_in
        self.setAccessibleName(name)
        self.setToolTip(name)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        side = style.min_touch_px(self)
        return QSize(side, side)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height())
        rect = QRectF((self.width() - side) / 2 + 1, (self.height() - side) / 2 + 1, side - 2, side - 2)
        p.setPen(QPen(QColor(style.BORDER), max(1.5, side * 0.025)))
        p.setBrush(QColor("#DCE3EC" if self.isDown() else style.SUBHEADER))
        p.drawRoundedRect(rect, side * 0.18, side * 0.18)
        ink = QColor(style.MUTED)
        c = rect.center()
        s = side / 100
        # A person: head and shoulders, left of centre.
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ink)
        p.drawEllipse(QPointF(c.x() - 12 * s, c.y() - 13 * s), 11 * s, 11 * s)
        body = QPainterPath(QPointF(c.x() - 34 * s, c.y() + 27 * s))
        body.cubicTo(QPointF(c.x() - 34 * s, c.y() + 2 * s), QPointF(c.x() + 10 * s, c.y() + 2 * s), QPointF(c.x() + 10 * s, c.y() + 27 * s))
        body.closeSubpath()
        p.drawPath(body)
        # An arrow: in (→|) to sign in, out (|→) to sign out.
        pen = QPen(ink, 5 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        y = c.y() + 2 * s
        x0, x1 = (c.x() + 14 * s, c.x() + 34 * s)
        p.drawLine(QPointF(x0, y), QPointF(x1, y))
        p.drawLine(QPointF(x1 - 7 * s, y - 7 * s), QPointF(x1, y))
        p.drawLine(QPointF(x1 - 7 * s, y + 7 * s), QPointF(x1, y))
        bar = x1 + 6 * s if not self.signed_in else x0 - 6 * s
        p.drawLine(QPointF(bar, y - 11 * s), QPointF(bar, y + 11 * s))
        p.end()


class ResetBanner(QWidget):
    """The idle-reset warning, overlaid along the bottom of its parent (the window).

    "Màn hình sẽ trở về trang đầu sau {n} giây. Chạm để tiếp tục." The window shows it in the last
    seconds before it returns to the start (:meth:`show_seconds`, once a second) and hides it when
    the countdown is cancelled. It follows its parent's size by itself.
    """

    sig_tapped = Signal()
    """Fires when the banner is tapped (on release): the citizen is still there."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("reset_banner")
        self.lang = DEFAULT_LANG
        self.text_scale = 1.0
        self.seconds = 0
        self.label = style.label(colour=style.WHITE)
        self.label.setObjectName("reset_label")
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        row = QHBoxLayout(self)
        row.addWidget(self.label, 1)
        parent.installEventFilter(self)
        self.hide()

    def set_lang(self, lang: str) -> None:
        self.lang = lang
        self._retext()

    def set_text_scale(self, scale: float) -> None:
        self.text_scale = scale
        self.relayout()

    def show_seconds(self, n: int, lang: str | None = None) -> None:
        """Show (or update) the warning with ``n`` seconds left, on top of everything."""
        if lang is not None:
            self.lang = lang
        self.seconds = max(0, int(n))
        self._retext()
        self.relayout()
        self.show()
        self.raise_()

    def _retext(self) -> None:
        self.label.setText(tr("reset_warning", self.lang, n=self.seconds))

    def relayout(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        w, h = parent.width(), parent.height()
        px = max(style.cap_px(self, 4.0), min(w, h) * 0.034) * self.text_scale
        style.set_px(self.label, px, bold=True)
        margin = int(style.mm(self, 6))
        self.layout().setContentsMargins(margin, int(style.mm(self, 3)), margin, int(style.mm(self, 3)))
        self.label.setMaximumWidth(w - 2 * margin)
        text_h = self.label.heightForWidth(w - 2 * margin)
        height = max(int(style.mm(self, 22)), text_h + int(style.mm(self, 6)))
        self.setGeometry(0, h - height, w, height)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self.relayout()
        return False

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.rect().contains(event.position().toPoint()):
            self.sig_tapped.emit()
        event.accept()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(style.HEADER))
        p.fillRect(0, 0, self.width(), max(4, int(style.mm(self, 1.2))), QColor("#F6C343"))
        p.end()


class CornerHotspot(QWidget):
    """An invisible square in the top-left corner; holding it for ``hold_ms`` asks for the admin PIN."""

    sig_long_press = Signal()
    """Fires once when the corner has been held down for the whole hold time."""

    def __init__(self, hold_ms: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("admin_hotspot")
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(hold_ms)
        self._timer.timeout.connect(self.sig_long_press)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._timer.start()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._timer.stop()  # let go too soon: nothing happens
        event.accept()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        pass  # invisible on purpose
