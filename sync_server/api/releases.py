"""Protocol v1: a kiosk downloads the release staged for it (remote update, issue 16; its config's
``release`` block names the path and the SHA-256 to check)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from sync_server import releases
from sync_server.access_rules import rule
from sync_server.api.kiosk import ERRORS, current_device
from sync_server.errors import ApiError
from sync_server.storage import Device

router = APIRouter()

_HEADERS = {"X-Content-SHA256": {"description": "SHA-256 of the wheel (hex), as in the config's `release` block",
                                 "schema": {"type": "string"}}}


@router.get(releases.DOWNLOAD_PATH, response_class=Response,
            responses={**ERRORS, 200: {"description": "The kiosk release: a wheel (zip) of the `hailong` package", "headers": _HEADERS,
                                       "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
            summary="The kiosk release staged for this kiosk (a wheel); 403 `release_not_staged` for any other")
@rule("device")
def kiosk_release(request: Request, device: Device = Depends(current_device),
                  version: str = Path(description="The release's version, as in the config's `release` block",
                                      pattern=releases.VERSION_PATTERN)) -> Response:
    try:
        release, content = releases.for_download(request.app.state.hailong.storage, device, version)
    except releases.ReleaseRefused as exc:
        raise ApiError("release_not_staged" if exc.reason == "not_staged" else "unknown_release") from None
    # A wheel never changes under its version (one release per version); the kiosk checks the hash anyway.
    return Response(content, media_type="application/octet-stream",
                    headers={"X-Content-SHA256": release["sha256"], "Cache-Control": "no-cache",
                             "Content-Disposition": f'attachment; filename="{release["filename"]}"'})
