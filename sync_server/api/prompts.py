"""Protocol v1: a kiosk downloads a recorded voice prompt named in its config (docs/voice.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from hailong_core.prompts import NAMES
from sync_server.access_rules import rule
from sync_server.api.kiosk import ERRORS, current_device
from sync_server.errors import ApiError
from sync_server.prompts import DOWNLOAD_PATH
from sync_server.storage import Device

router = APIRouter()

_SHA_HEADER = {"X-Content-SHA256": {"description": "SHA-256 of the file (hex), as in the config's entry",
                                    "schema": {"type": "string"}}}


@router.get(DOWNLOAD_PATH, response_class=Response,
            responses={**ERRORS, 200: {"description": "The recording: a WAV file of 16-bit PCM samples", "headers": _SHA_HEADER,
                                       "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}},
            summary="One recorded voice prompt (WAV) named in the config's `prompts` list")
@rule("device")
def kiosk_prompt(request: Request, device: Device = Depends(current_device),
                 name: str = Query(description=f"The prompt: one of {', '.join(NAMES)}", pattern="^(" + "|".join(NAMES) + ")$"),
                 lang: str = Query(description="Its language code, e.g. `vi`", max_length=40)) -> Response:
    prompt = request.app.state.hailong.storage.prompt(name, lang)
    if prompt is None:
        raise ApiError("unknown_prompt", f"no recording of {name!r} in {lang!r}")
    # The same bytes until the province replaces them; the kiosk checks the hash anyway.
    return Response(prompt["content"], media_type="audio/wav",
                    headers={"X-Content-SHA256": prompt["sha256"], "Cache-Control": "no-cache"})
