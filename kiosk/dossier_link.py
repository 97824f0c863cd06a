"""Dossier codes waiting for the next answer at this kiosk (issue 14). No Qt; thread-safe.

Two sources bring a code before the citizen taps a face:

- ``scan``: the citizen scanned their receipt on the start screen. It waits for their tap and no
  longer than the idle timeout (a citizen who scanned and walked away must not lend their code
  to the next person); the start screen coming back (after an answer, or the idle reset) drops it.
- ``counter``: the one-stop or queue system said "dossier X was returned here"
  (:mod:`kiosk.local_api`, from its own thread). It waits ``dossier_link_s`` (300 s) for the next
  answer started here; a newer call replaces it.

:meth:`DossierLinks.take` is called by the face tap that starts an answer, so a code goes on
exactly one answer, the first one started after it arrived. When both wait, the citizen's own
scan wins (it is the receipt in their hand) and the counter's link is used up with it: that
answer was the "next rating" the counter asked for. Times are monotonic seconds, injected.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

SCAN, COUNTER = "scan", "counter"
SOURCES = (SCAN, COUNTER)


@dataclass(frozen=True)
class Link:
    """One waiting code: ``code`` (normalised), its ``source``, monotonic ``until``, the ``counter`` named."""

    code: str
    source: str
    until: float
    counter: str | None = None


class DossierLinks:
    """At most one waiting code per source, each with its own deadline."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._links: dict[str, Link] = {}

    def put(self, source: str, code: str, hold_s: float, counter: str | None = None) -> Link:
        """``code`` waits ``hold_s`` seconds from now for the next answer; replaces this source's link."""
        if source not in SOURCES:
            raise ValueError(f"unknown dossier source {source!r}")
        link = Link(code, source, self._monotonic() + max(0.0, hold_s), counter)
        with self._lock:
            self._links[source] = link
        return link

    def drop(self, source: str) -> bool:
        """Forget the waiting code of ``source``; True if one was waiting."""
        with self._lock:
            return self._links.pop(source, None) is not None

    def _live(self, now: float) -> dict[str, Link]:
        # Caller holds the lock. Expired links are dropped on the way.
        for source, link in list(self._links.items()):
            if now >= link.until:
                del self._links[source]
        return self._links

    def waiting(self, source: str) -> Link | None:
        """The code of ``source`` still waiting, or None (expired ones are forgotten)."""
        with self._lock:
            return self._live(self._monotonic()).get(source)

    def expires_in(self, source: str) -> float | None:
        """Seconds left for ``source``'s waiting code, or None."""
        link = self.waiting(source)
        return None if link is None else max(0.0, link.until - self._monotonic())

    def take(self) -> tuple[Link, ...]:
        """An answer starts now: every waiting code, used up; the first (the scan's, else the
        counter's) is the one it carries. Empty when none waits."""
        with self._lock:
            live = self._live(self._monotonic())
            taken = tuple(link for link in (live.pop(SCAN, None), live.pop(COUNTER, None)) if link is not None)
        return taken

    def give_back(self, links: tuple[Link, ...]) -> None:
        """The answer that took ``links`` was not stored (the disk): they wait again (until their
        own deadlines), unless a newer code of the same source came meanwhile."""
        with self._lock:
            for link in links:
                self._links.setdefault(link.source, link)
