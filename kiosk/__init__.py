"""The kiosk: a touch-screen app beside a one-stop counter.

``kiosk.store`` and ``kiosk.sync`` hold all logic and import no Qt; ``kiosk.ui`` is only the GUI.
"""

__version__ = "0.1.0"
