"""The one error catalogue and the one JSON shape: ``{"error": {"code": "...", "message": "..."}}``.

Codes are stable: clients and tests depend on them. Add codes; never rename or reuse one.
"""

from __future__ import annotations

# code -> (HTTP status, default message)
CATALOGUE: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "the body is not valid JSON"),
    "invalid_gzip": (400, "the body is not valid gzip"),
    "json_too_deep": (400, "the JSON nests deeper than this server accepts"),
    "invalid_body": (422, "the body does not have the expected shape"),
    "unknown_field": (422, "the body has a field this server does not know"),
    "missing_token": (401, "this call needs 'Authorization: Bearer <device token>'"),
    "invalid_token": (401, "the device token is not known"),
    "device_revoked": (403, "this device was revoked; enrol it again"),
    "api_token_revoked": (403, "this API token was revoked; ask the province for a new one"),
    "officer_results_forbidden": (403, "this API token's unit has no officer results (a commune's or a point's)"),
    "enroll_code_invalid": (403, "the enrolment code is unknown, used or expired"),
    "relay_token_required": (403, "this call is a relay's (issue 17): a kiosk's token cannot use it"),
    "kiosk_token_required": (403, "this call is a kiosk's: a relay's token cannot use it"),
    "unknown_unit": (404, "no such unit"),
    "unknown_prompt": (404, "no recording of this prompt in this language"),
    "unknown_release": (404, "no kiosk release of this version"),
    "release_not_staged": (403, "this kiosk release is not staged for this kiosk"),
    "campaign_started": (409, "this campaign has started: its name, window, questionnaire and units can no longer change"),
    "not_found": (404, "no such page or resource"),
    "method_not_allowed": (405, "method not allowed here"),
    "unsupported_media_type": (415, "send application/json, optionally with Content-Encoding: gzip"),
    "body_too_large": (413, "the body is larger than this server accepts"),
    "batch_too_large": (413, "the batch holds more responses than this server accepts"),
    "rate_limited": (429, "too many answers from this address; wait a few minutes"),
    "internal_error": (500, "internal error; the server's log has the details"),
    "database_unavailable": (503, "the database cannot be reached; try again shortly"),
}

# Per-item codes in upload results (status rejected or conflict), from hailong_core.response and ingest.
ITEM_CODES = (
    "invalid_item", "unknown_field", "missing_field", "invalid_field", "unknown_questionnaire",
    "unknown_question", "invalid_answer", "unit_mismatch", "channel_mismatch", "unknown_officer", "response_conflict",
    "unit_out_of_scope",
)


class ApiError(Exception):
    """Raise anywhere in a request to answer with the catalogue's status and shape."""

    def __init__(self, code: str, message: str | None = None, headers: dict[str, str] | None = None):
        status, default = CATALOGUE[code]
        super().__init__(message or default)
        self.code = code
        self.status = status
        self.message = message or default
        self.headers = headers


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
