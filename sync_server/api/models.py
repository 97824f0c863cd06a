"""Pydantic models of protocol v1: the text of the OpenAPI document, and parsing of small bodies.

The upload itself is parsed and checked by hand (``sync_server.ingest``), item by item, because a
bad item must be rejected alone rather than fail the whole batch; its models here document it.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """Unknown fields refused by name; no NUL characters in text (PostgreSQL cannot store them,
    and no client of ours sends them), so both back ends answer the same 422."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data):
        if _has_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# JSON Schema's way to say "both or neither" (OpenAPI 3.1), so the document says what the server checks.
BOOT_STAMP_TOGETHER = {"dependentRequired": {"boot_id": ["mono_ms"], "mono_ms": ["boot_id"]}}
BOOT_ID_DOC = "The kiosk's boot id (a lowercase UUID: Linux's boot_id, else one per app start); sent with mono_ms, never alone."


def _mono_ms(what: str):
    return Field(default=None, ge=0, lt=2**53, description=f"The kiosk's monotonic clock in milliseconds {what} "
                 "(CLOCK_MONOTONIC: never set, counts from boot); sent with boot_id, never alone.")


class BootStamped(Strict):
    """Bodies that may carry the kiosk's boot stamp: ``boot_id`` and ``mono_ms`` come together.

    Typed ``str``/``int`` with a default of None, not ``| None``: absent when unknown, never null.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=BOOT_STAMP_TOGETHER)

    @field_validator("mono_ms", mode="before", check_fields=False)
    @classmethod
    def _integral(cls, value):
        # JSON Schema's "integer" is by value (5.0 is one); true, "5" and 5.5 are not.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if type(value) is not int:
            raise ValueError("mono_ms must be an integer")
        return value

    @model_validator(mode="after")
    def _together(self):
        if (self.boot_id is None) != (self.mono_ms is None):
            raise ValueError("boot_id and mono_ms come together")
        return self


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code from the catalogue, e.g. `batch_too_large`.")
    message: str = Field(description="What went wrong, for people.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class EnrollIn(Strict):
    code: str = Field(min_length=1, max_length=64, description="The single-use enrolment code printed by `hailong-server enroll-code`.")
    name: str | None = Field(default=None, max_length=100, description="A label for this kiosk, e.g. 'Quầy 2'.")


class EnrollOut(BaseModel):
    device_id: str
    token: str = Field(description="Bearer token for every later call; shown once.")
    unit_code: str
    server_time: str
    name: str | None = Field(None, description="The kiosk's name (label) as the server keeps it; shown on the kiosk's admin screen.")
    site_id: int | None = Field(None, description="The site (điểm tiếp nhận) it was enrolled to (issue 13).")
    counter: str | None = Field(None, description="Its counter (quầy) at that site, when the code named one.")


class QuestionnaireRef(Strict):
    id: str
    version: int


class ResponseRecord(Strict):
    # Documentation only: records are checked by hand (hailong_core.response.check_record), item by item.
    model_config = ConfigDict(extra="forbid", json_schema_extra=BOOT_STAMP_TOGETHER)

    id: str = Field(description="UUIDv7 born on the device with the answer; a retry resends it.")
    seq: int = Field(gt=0, description="The device's sequence number.")
    unit_code: str = Field(description="Must be the unit the device's token belongs to.")
    officer_id: str | None = None
    procedure_group: str | None = Field(None, description="Field of the errand (lĩnh vực thủ tục), a short lowercase code "
                                        "from the province's catalogue; absent or null when not known.")
    dossier_code: str = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
                              description="The dossier code (mã hồ sơ) from the citizen's receipt, when the rating was tied to "
                              "one (scanner, counter system, the receipt's phone link); absent otherwise, never null. "
                              "Matched case-insensitively. One rating counts per dossier: the first the server receives; "
                              "a later one is kept and flagged. Never shown beside a rating to anyone who sees officers "
                              "(docs/dossiers.md).")
    questionnaire: QuestionnaireRef
    channel: Literal["kiosk", "qr"]
    created_at: str = Field(description="Device time, RFC 3339 with its UTC offset.")
    answers: dict[str, Union[int, str, list[str]]] = Field(description="{question id: level number 1..N | option id | [option ids] | text}")
    flags: list[str] = Field(default_factory=list, description="e.g. incomplete, cooldown, burst, after_hours")
    boot_id: str = Field(None, pattern=UUID_PATTERN, description=BOOT_ID_DOC + " Absent (not null) on records made before it existed.")
    mono_ms: StrictInt = _mono_ms("when the answer was given; with an anchor of the same boot the server places "
                                  "the answer by it and flags a created_at that differs by more than the clock tolerance")


class UploadIn(BootStamped):
    responses: list[ResponseRecord]
    device_time: str | None = Field(default=None, description="The device's clock when sending; used to flag devices whose clock is off.")
    boot_id: str = Field(None, pattern=UUID_PATTERN, description=BOOT_ID_DOC)
    mono_ms: int = _mono_ms("when sending: the server's receipt time minus it anchors this boot's clock")


class ItemError(BaseModel):
    code: str
    message: str
    field: str | None = None


class ItemResult(BaseModel):
    id: str | None = Field(description="The item's id, or null when the item had no valid id.")
    status: Literal["accepted", "duplicate", "conflict", "rejected"]
    error: ItemError | None = None


class UploadOut(BaseModel):
    results: list[ItemResult] = Field(description="One result per item, in the order sent.")
    server_time: str


class HeartbeatIn(BootStamped):
    # Bounded: a count beyond any real queue is a broken client, and SQLite integers stop at 2**63.
    pending: int = Field(ge=0, le=1_000_000_000)
    kept_aside: int | None = Field(default=None, ge=0, le=1_000_000_000)
    last_sync_at: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, max_length=1000)
    app_version: str = Field(max_length=32)
    device_time: str = Field(max_length=40)
    boot_id: str = Field(None, pattern=UUID_PATTERN, description=BOOT_ID_DOC)
    mono_ms: int = _mono_ms("when sending: the server's receipt time minus it anchors this boot's clock")


class UnitOut(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class ConfigOut(BaseModel):
    unit: UnitOut
    officers: list[dict]
    questionnaire: dict = Field(description="The active questionnaire document: {id, version, title, criteria, questions}.")
    settings: dict
    site: dict | None = Field(None, description="The site (điểm tiếp nhận) the kiosk was enrolled to: {id, name, address, counter, "
                              "counter_name}; its header shows the site's name and counter (issue 13).")
    prompts: list[dict] = Field(default_factory=list, description="Recorded voice prompts: {name, lang, sha256, bytes, duration_ms, "
                                "path}; fetch each from `path` with the device token (docs/voice.md).")
