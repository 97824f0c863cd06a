"""What the kiosk and the server must agree on: questionnaires, response records, scoring.

Nothing here imports Qt, requests or FastAPI; both sides import this package, never each other.
"""

PROTOCOL_VERSION = 1
