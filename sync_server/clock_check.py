"""Where reports place an answer when the device's wall clock may have been wrong. Pure: no I/O.

A kiosk stamps each answer with its wall clock (``created_at``) and, beside it, its boot id and
that boot's monotonic clock (``mono_ms``), which counts from boot and never jumps when someone
sets the date. Any message of the same boot that reaches the server (an upload, a heartbeat)
ties the two together: ``anchor = server time - mono_ms``. The answer then happened at about
``anchor + mono_ms`` whatever the wall clock said, so a clock that was off when the answer was
given and fixed before it was sent is still caught, after the fact.
"""

from __future__ import annotations


def anchor(received_ms: int, mono_ms: int) -> int:
    """A boot's anchor (UTC epoch ms at its monotonic zero) from one message of that boot.

    ``received_ms`` is the server's receipt time of the message, ``mono_ms`` the monotonic clock
    the message carried. The time in transit makes it late by that much (well under a second on
    any link a kiosk syncs over).
    """
    return received_ms - mono_ms


def placed_ms(created_ms: int, boot_id: str | None, mono_ms: int | None, received_ms: int,
              anchor_ms: int | None, skew_ms: int) -> tuple[int, bool]:
    """``(the instant reports place the answer at, in UTC epoch ms; whether the device clock is suspect)``.

    With the anchor of the answer's boot: the estimate is ``anchor_ms + mono_ms``; a device time
    more than ``skew_ms`` from it is suspect and the estimate is used instead. Without an anchor
    (no boot stamp, or no message of that boot seen yet): the device time stands, unless it is
    later than the receipt by more than ``skew_ms`` (nothing is answered after it arrived), when
    the receipt time is used. An earlier device time without an anchor cannot be told from an
    answer that waited offline, so it is not flagged here.
    """
    if boot_id is not None and mono_ms is not None and anchor_ms is not None:
        # Nothing is answered after it arrived: a stale or wrong anchor cannot place it later.
        estimate = min(anchor_ms + mono_ms, received_ms)
        if abs(created_ms - estimate) > skew_ms:
            return estimate, True
        return created_ms, False
    if created_ms > received_ms + skew_ms:
        return received_ms, True
    return created_ms, False
