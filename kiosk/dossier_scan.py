"""Reading a USB barcode/QR scanner that types like a keyboard, with no text field. No Qt.

A scanner in keyboard mode sends the code's characters a few milliseconds apart and ends with
Enter. A person types 80–300 ms apart. :class:`ScanAccumulator` is fed every typed character with
the time it was typed (the key event's own stamp, so a stall of the window cannot split a scan;
else the monotonic time it is handled: :mod:`kiosk.ui.scan_filter`) and every Enter; it yields the text only when **every** gap, the
Enter's included, was at most ``max_gap_s`` (50 ms) and at least ``min_length`` characters came.
Anything else (someone typing on a plugged-in keyboard, a stray key, a scan cut short) is
discarded silently: a slow gap starts a new candidate from that character.

The Qt side (:mod:`kiosk.ui.scan_filter`) feeds it the application's key presses; what the text
means (a valid code of this unit, attached or refused) is decided by
:meth:`kiosk.answering.Answering.attach_dossier`. :func:`code_from_scan` takes the code out of a
receipt QR that holds the phone link (``…/s/<point>?d=<code>``) rather than the bare code.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

MAX_GAP_S = 0.05   # a scanner's keystrokes come 1–20 ms apart; people rarely type 4 keys under 50 ms apart
MIN_LENGTH = 4     # shorter bursts are stray keys or key rollover, never a receipt's code
MAX_LENGTH = 512   # a receipt QR holding a URL stays far below; a longer burst is not a receipt


class ScanAccumulator:
    """Collects keystrokes that come at a scanner's speed; :meth:`enter` yields a finished scan."""

    def __init__(self, *, max_gap_s: float = MAX_GAP_S, min_length: int = MIN_LENGTH, max_length: int = MAX_LENGTH):
        self.max_gap_s = max_gap_s
        self.min_length = min_length
        self.max_length = max_length
        self._chars: list[str] = []
        self._last: float | None = None
        self._overflow = False

    def reset(self) -> None:
        """Forget the keystrokes so far (the screen changed, a key that is no character came)."""
        self._chars = []
        self._last = None
        self._overflow = False

    def _fast(self, now: float) -> bool:
        return self._last is not None and 0 <= now - self._last <= self.max_gap_s + 1e-9  # float sums of times

    def feed(self, text: str, now: float) -> None:
        """One key press that typed ``text`` (usually one character) at time ``now`` (seconds, one clock per scan)."""
        if not text or not text.isprintable():
            self.reset()
            return
        if not self._fast(now):
            self.reset()  # too slow after the previous key: a person, or the first key of a scan
        self._last = now
        if self._overflow or len(self._chars) + len(text) > self.max_length:
            self._overflow = True
            self._chars = []
            return
        self._chars.append(text)

    def enter(self, now: float) -> str | None:
        """Enter was pressed at ``now``: the scanned text if all came at a scanner's speed, else None.

        Either way the accumulator starts afresh.
        """
        fast = self._fast(now)
        text = "".join(self._chars)
        overflow = self._overflow
        self.reset()
        if not fast or overflow or len(text) < self.min_length:
            return None
        return text


def code_from_scan(text: str) -> str:
    """The dossier code a scan carries: the ``d`` parameter of a phone link
    (``https://…/s/<point>?d=<code>``, as a receipt's QR may hold), else the text itself.

    The result is not checked here: :func:`hailong_core.dossier.valid_dossier_code` and the
    unit's pattern decide (a URL without ``d`` is refused as not a code).
    """
    text = text.strip()
    if text.lower().startswith(("http://", "https://")):
        values = parse_qs(urlsplit(text).query).get("d")
        if values:
            return values[0]
    return text
