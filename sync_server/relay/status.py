"""What waits to go up and since when (issue 17): ``upstream-status`` and the relay's status page."""

from __future__ import annotations

from sync_server.storage import Storage


def upstream_status(storage: Storage) -> dict:
    """The fixed interface's three keys: ``pending`` (answers and conflicts not yet answered by the
    upstream), ``last_forward_at`` (RFC 3339, or null) and ``last_error`` (the last failure's text,
    cleared by the next good forward, or null)."""
    link = storage.upstream_link()
    if link is None:
        return {"pending": 0, "last_forward_at": None, "last_error": "not enrolled upstream (hailong-server enroll-upstream)"}
    return {"pending": storage.upstream_pending(), "last_forward_at": link["last_forward_at"], "last_error": link["last_error"]}


def status_details(storage: Storage) -> dict | None:
    """Everything the status page shows, or None when this server forwards nowhere."""
    link = storage.upstream_link()
    if link is None:
        return None
    return {**upstream_status(storage), "url": link["url"], "unit_code": link["unit_code"], "device_id": link["device_id"],
            "enrolled_at": link["enrolled_at"], "forwarded": link["forwarded"], "last_attempt_at": link["last_attempt_at"],
            "last_error_at": link["last_error_at"], "config_at": link["config_at"], "oldest_unsent_at": storage.oldest_unsent_at(),
            "kept_aside": storage.upstream_kept_aside_count(), "kept": storage.upstream_kept_aside()}
