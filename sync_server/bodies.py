"""Reading request bodies with size caps, gzip included.

Starlette does not decompress request bodies. We do it here, incrementally, and stop as soon as
the inflated size passes the cap: a 10 MB gzip bomb that inflates to 10 GB costs us at most the
cap in memory and answers 413.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from starlette.requests import Request

from sync_server.errors import ApiError


async def read_body(request: Request, max_bytes: int, max_inflated: int) -> bytes:
    """The body as sent (capped), inflated when ``Content-Encoding: gzip`` (capped again)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise ApiError("body_too_large", f"the body is larger than {max_bytes} bytes")
        except ValueError:
            raise ApiError("invalid_body", "bad Content-Length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError("body_too_large", f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > max_inflated:
            raise ApiError("body_too_large", f"the body is larger than {max_inflated} bytes")
        return raw
    if encoding != "gzip":
        raise ApiError("unsupported_media_type", f"Content-Encoding {encoding!r} is not supported; use gzip")
    return inflate(raw, max_inflated)


def inflate(raw: bytes, max_inflated: int) -> bytes:
    """Gunzip ``raw``, refusing (413) anything that would inflate beyond ``max_inflated``."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, max_inflated + 1)
        if len(out) > max_inflated or inflater.unconsumed_tail:
            raise ApiError("body_too_large", f"the body inflates to more than {max_inflated} bytes")
        if not inflater.eof:
            raise ApiError("invalid_gzip", "the gzip body is truncated")
        if inflater.unused_data:
            # A second gzip member or trailing bytes: refuse rather than silently drop them.
            raise ApiError("invalid_gzip", "the body has data after the end of the gzip stream; send one gzip member")
    except zlib.error as exc:
        raise ApiError("invalid_gzip", f"the body is not valid gzip: {exc}") from None
    return out


# The deepest body of protocol v1 is 5 levels ({responses: [{answers: {q: [option]}}]}). Deeper
# nesting is refused before any validation: recursive validators and error rendering would
# otherwise hit Python's recursion limit (a 500 and a long traceback per 2 KB request).
MAX_JSON_DEPTH = 32


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON or answer 400 ``invalid_json``; nesting beyond ``max_depth`` answers 400 ``json_too_deep``."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):  # orjson stops by itself at 1024 levels
            raise ApiError("json_too_deep", f"the JSON nests deeper than {max_depth} levels") from None
        raise ApiError("invalid_json", f"the body is not valid JSON: {exc}") from None
    if json_depth_exceeds(value, max_depth):
        raise ApiError("json_too_deep", f"the JSON nests deeper than {max_depth} levels")
    return value


def json_depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when arrays and objects in ``value`` nest deeper than ``max_depth`` (``[]`` is 1).

    Iterative (an explicit stack, no recursion) and one pass over the containers only.
    """
    containers = (dict, list)
    if type(value) not in containers:
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in (node.values() if type(node) is dict else node):
            if type(child) in containers:
                stack.append((child, depth + 1))
    return False


def check_json_content_type(request: Request) -> None:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise ApiError("unsupported_media_type", f"Content-Type {ctype!r} is not supported; send application/json")
