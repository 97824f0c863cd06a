"""The kiosk's GUI (PySide6). Only widgets and the one background bridge live here.

All logic (storage, sync, questionnaires) is in ``kiosk.store``, ``kiosk.sync`` and
``hailong_core``, which import no Qt; ``kiosk.app`` wires these widgets to them.
"""
