"""Pydantic models of protocol v1: the text of the OpenAPI document, and parsing of small bodies.

The upload itself is parsed and checked by hand (``sync_server.ingest``), item by item, because a
bad item must be rejected alone rather than fail the whole batch; its models here document it.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class QuestionnaireRef(Strict):
    id: str
    version: int


class ResponseRecord(Strict):
    id: str = Field(description="UUIDv7 born on the device with the answer; a retry resends it.")
    seq: int = Field(gt=0, description="The device's sequence number.")
    unit_code: str = Field(description="Must be the unit the device's token belongs to.")
    officer_id: str | None = None
    procedure_group: str | None = Field(None, description="Field of the errand (lĩnh vực thủ tục), a short lowercase code "
                                        "from the province's catalogue; absent or null when not known.")
    questionnaire: QuestionnaireRef
    channel: Literal["kiosk", "qr"]
    created_at: str = Field(description="Device time, RFC 3339 with its UTC offset.")
    answers: dict[str, Union[int, str, list[str]]] = Field(description="{question id: level number 1..N | option id | [option ids] | text}")
    flags: list[str] = Field(default_factory=list, description="e.g. incomplete, cooldown, burst, after_hours")


class UploadIn(Strict):
    responses: list[ResponseRecord]
    device_time: str | None = Field(default=None, description="The device's clock when sending; used to flag devices whose clock is off.")


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


class HeartbeatIn(Strict):
    # Bounded: a count beyond any real queue is a broken client, and SQLite integers stop at 2**63.
    pending: int = Field(ge=0, le=1_000_000_000)
    kept_aside: int | None = Field(default=None, ge=0, le=1_000_000_000)
    last_sync_at: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, max_length=1000)
    app_version: str = Field(max_length=32)
    device_time: str = Field(max_length=40)


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
