"""Message screens: thank-you (with the QR code for a comment by phone) and the polite error.

After a dissatisfied answer the thank-you becomes a sincere apology, with the unit's hotline in
large type when the config gives one. A tap anywhere returns to the start, except on the QR
code: a citizen aiming a phone at it often touches the glass. Taps act on release.

Screens only show things and emit signals; they never touch the store.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QBoxLayout, QSizePolicy, QSpacerItem, QVBoxLayout, QWidget

from kiosk.ui import style
from kiosk.ui.screen import Screen
from kiosk.ui.widgets import QrWidget

# Kept for importers of the old module layout.
OK_GREEN = QColor(style.OK_GREEN)
NOTICE_BLUE = QColor(style.NOTICE_BLUE)


class _Badge(QWidget):
    """A large round symbol: a check mark (saved) or an ``i`` (a notice)."""

    def __init__(self, kind: str, colour: QColor, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.colour = colour
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.height() / 2 * 0.95
        c = QPointF(self.width() / 2, self.height() / 2)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.colour)
        p.drawEllipse(c, r, r)
        pen = QPen(QColor("#FFFFFF"), r * 0.16, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        if self.kind == "check":
            path = QPainterPath(QPointF(c.x() - r * 0.42, c.y() + r * 0.02))
            path.lineTo(QPointF(c.x() - r * 0.12, c.y() + r * 0.32))
            path.lineTo(QPointF(c.x() + r * 0.45, c.y() - r * 0.30))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        else:
            p.drawLine(QPointF(c.x(), c.y() - r * 0.05), QPointF(c.x(), c.y() + r * 0.45))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#FFFFFF"))
            p.drawEllipse(QPointF(c.x(), c.y() - r * 0.40), r * 0.10, r * 0.10)
        p.end()


class _MessageScreen(Screen):
    """A badge, a large title, a body line and an optional footer, centred."""

    sig_tapped = Signal()
    """Fires when the screen is tapped anywhere (the window then returns to the start early)."""

    def __init__(self, name: str, kind: str, colour: QColor, keys: tuple[str, str, str], parent: QWidget | None = None):
        super().__init__(name, parent)
        self._keys = keys
        self.fit_any_window()
        self.badge = _Badge(kind, colour)
        self.title_label = style.label()
        self.title_label.setObjectName("title_label")
        self.body_label = style.label(colour=style.MUTED)
        self.body_label.setObjectName("body_label")
        self.footer_label = style.label(colour=style.MUTED)
        self.footer_label.setObjectName("footer_label")
        self.footer_label.setVisible(bool(keys[2]))
        self._text = QVBoxLayout()
        self._text.addStretch(3)
        self._text.addWidget(self.badge)
        self._gaps = [QSpacerItem(0, 8), QSpacerItem(0, 8)]  # sized with the window
        self._text.addItem(self._gaps[0])
        self._text.addWidget(self.title_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self._text.addItem(self._gaps[1])
        self._text.addWidget(self.body_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self._text.addStretch(3)
        self._row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self._row.addLayout(self._text, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(self._row, 1)
        layout.addWidget(self.footer_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        self.retranslate()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        event.accept()  # the release decides, as for every button of the kiosk

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.rect().contains(event.position().toPoint()):
            self.sig_tapped.emit()
        event.accept()

    def retranslate(self) -> None:
        title, body, footer = self._keys
        self.title_label.setText(self.tr(title))
        self.body_label.setText(self.tr(body))
        if footer:
            self.footer_label.setText(self.tr(footer))

    def _text_width(self) -> int:
        return self.width() - 2 * int(self.width() * 0.06)

    def relayout(self) -> None:
        w = self.width()
        unit = self.unit()
        self.badge.setFixedHeight(int(unit * 0.20))
        style.set_px(self.title_label, self.px(0.064, 5.0, grow=0.5), bold=True)
        style.set_px(self.body_label, self.px(0.040, 3.5))
        style.set_px(self.footer_label, self.px(0.030, 3.0))
        for gap in self._gaps:
            gap.changeSize(0, int(unit * 0.03))
        margin = int(w * 0.06)
        self.layout().setContentsMargins(margin, int(unit * 0.03), margin, int(unit * 0.02))
        for lab in (self.title_label, self.body_label):
            style.balance(lab, self._text_width())
        style.balance(self.footer_label, w - 2 * margin)
        self.layout().invalidate()


QR_MM = 35.0  # a phone at 30–40 cm reads a ~40-module code of this size easily (≥ 30 mm asked)


class ThankYouScreen(_MessageScreen):
    """Shown only after the answer committed (contract 1), with a QR code for a comment by phone.

    :meth:`set_thanks` picks the thank-you (satisfied) or the apology (dissatisfied, with the
    unit's hotline when known); both show the QR code when there is a link.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__("thanks_screen", "check", OK_GREEN, ("thanks_title", "thanks_body", "thanks_footer"), parent)
        self.apology = False
        self.hotline: str | None = None
        self.hotline_label = style.label(colour=style.HEADER)
        self.hotline_label.setObjectName("hotline_label")
        self.hotline_label.hide()
        self._hotline_gap = QSpacerItem(0, 0)
        index = self._text.indexOf(self.body_label) + 1
        self._text.insertItem(index, self._hotline_gap)
        self._text.insertWidget(index + 1, self.hotline_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self.qr = QrWidget()
        self.qr.setObjectName("thanks_qr")
        self.qr_label = style.label(colour=style.INK_HEX)
        self.qr_label.setObjectName("qr_label")
        self._qr_box = QVBoxLayout()
        self._qr_box.addStretch(1)
        self._qr_box.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        self._qr_box.addWidget(self.qr_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self._qr_box.addStretch(1)
        self._row.addLayout(self._qr_box, 2)
        self.retranslate()

    def set_thanks(self, link: str | None, *, apology: bool, hotline: str | None) -> None:
        """The thank-you (``apology=False``) or the apology, the QR of ``link`` (None: no QR) and,
        with the apology, the unit's ``hotline`` (None or empty: not shown)."""
        self.apology = bool(apology)
        self.hotline = (hotline or "").strip() or None
        self.badge.colour = NOTICE_BLUE if self.apology else OK_GREEN
        self.badge.update()
        self.qr.set_text(link or "")
        self.qr.setVisible(bool(link))
        self.qr_label.setVisible(bool(link))
        self.hotline_label.setVisible(self.apology and self.hotline is not None)
        self.retranslate()
        self.relayout()  # the text gets the whole width without a QR, less with one

    def set_link(self, url: str | None) -> None:
        """The comment link for this answer (``<server>/s/<unit>?r=<id>``), or None to hide the QR.

        The plain thank-you; :meth:`set_thanks` also offers the apology and the hotline.
        """
        self.set_thanks(url, apology=False, hotline=None)

    def retranslate(self) -> None:
        super().retranslate()
        if not hasattr(self, "qr_label"):
            return
        if self.apology:
            self.title_label.setText(self.tr("apology_title"))
            self.body_label.setText(self.tr("apology_body"))
        self.hotline_label.setText(self.tr("hotline", number=self.hotline) if self.hotline else "")
        self.qr_label.setText(self.tr("thanks_qr_apology" if self.apology else "thanks_qr"))

    def _text_width(self) -> int:
        full = super()._text_width()
        if not hasattr(self, "qr") or self.qr.isHidden() or self.width() < self.height():
            return full
        return int(full * 0.58)

    def relayout(self) -> None:
        if not hasattr(self, "qr"):
            return super().relayout()
        portrait = self.width() < self.height()
        self._row.setDirection(QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight)
        unit = self.unit()
        side = int(max(self.mm(QR_MM), unit * (0.34 if not portrait else 0.45)))
        self.qr.setFixedSize(side, side)
        style.set_px(self.qr_label, self.px(0.030, 3.0))
        style.balance(self.qr_label, int(side * 1.4))
        style.set_px(self.hotline_label, self.px(0.056, 5.0), bold=True)
        self._hotline_gap.changeSize(0, int(unit * 0.03) if not self.hotline_label.isHidden() else 0)
        super().relayout()
        if self.apology:
            # The apology is longer than "Cảm ơn Ông/Bà!": a little smaller, so it stays two lines.
            style.set_px(self.title_label, self.px(0.050, 4.5, grow=0.5), bold=True)
            style.balance(self.title_label, self._text_width())
        style.balance(self.hotline_label, self._text_width())


class ErrorScreen(_MessageScreen):
    """Shown instead of the thank-you when the answer could not be stored."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("error_screen", "notice", NOTICE_BLUE, ("error_title", "error_body", ""), parent)
