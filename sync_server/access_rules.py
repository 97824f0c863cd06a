"""The access rules, declared once: which rule each route carries and which roles each rule admits.

Both the protocol routes (``api/``) and the pages (``web/``) import this module; the gate that
checks a session against a rule lives with the pages (``web/access.py``), the token checks with
the API. ``create_app`` refuses to start when a route names no rule.

Rules: ``public`` (anyone), ``device`` (a kiosk's Bearer token), ``api_client`` (a province system's
read-only API token, scoped like a user), ``user`` (any signed-in role; objects filtered or refused
by scope in the handler), ``province_read`` (province admin and analyst), ``admin`` (province admin only).
"""

from __future__ import annotations

from typing import Callable

from sync_server.accounts import OFFICER_ROLES, PROVINCE_ROLES, ROLES  # noqa: F401 - OFFICER_ROLES: who sees officers

RULES = ("public", "device", "api_client", "user", "province_read", "admin")
ROLES_FOR = {"user": frozenset(ROLES), "province_read": PROVINCE_ROLES, "admin": frozenset(("province_admin",))}


def rule(name: str) -> Callable:
    """Mark a route's endpoint with its access rule (for routes not registered through the pages' router)."""
    assert name in RULES, name

    def mark(fn):
        fn.access = name
        return fn
    return mark
