"""The hub's HTTP face: a Starlette application over `service.Hub`, streaming every body.

Routes, bodies and statuses are in docs/hub.md and in the OpenAPI document the
server serves at /openapi.json (`openapi.py`); the live server is tested against it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from muse.errors import MuseError, TransientRemoteError, UsageError
from muse.refs import RefUpdate

from .openapi import openapi_document
from .security import QuarantinedError, ThrottledError
from .service import API, Hub
from .tokens import READ, WRITE, Grant

log = logging.getLogger("muse.hub")
JSON_LIMIT = 1 << 20            # a JSON request body (a push's ref updates) is at most 1 MiB
INLINE_TYPE = "application/vnd.muse.push+bundle"
CHUNK = 1 << 20

# HTTP status by error code; anything else by its class (docs/hub.md "Errors").
STATUS_BY_CODE = {
    "remote-auth": 401, "remote-forbidden": 403, "remote-not-found": 404,
    "remote-missing": 404, "exists": 409, "too-large": 413, "object-too-large": 413,
    "repo-too-large": 413, "quota-exceeded": 429, "rate-limited": 429, "blocked": 451,
    "taken-down": 451, "checksum-mismatch": 422, "remote-unavailable": 503,
    "upload-incomplete": 409,
}
STATUS_BY_EXIT = {2: 400, 3: 409, 4: 409, 5: 422, 6: 502, 7: 500, 8: 507}


def status_of(exc: MuseError) -> int:
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    if isinstance(exc, TransientRemoteError):
        return 503
    return STATUS_BY_EXIT.get(exc.exit_code, 500)


def error_response(exc: MuseError) -> JSONResponse:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message, "hint": exc.hint}
    headers = {}
    if isinstance(exc, QuarantinedError):
        body["quarantine_id"] = exc.quarantine_id
    if isinstance(exc, ThrottledError):
        headers["Retry-After"] = str(exc.retry_after)
        body["retry_after"] = exc.retry_after
    return JSONResponse({"error": body}, status_code=status_of(exc), headers=headers)


Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(hub: Hub, *, public_url: str | None = None) -> Starlette:
    """The ASGI application serving `hub`; `public_url` is how clients reach it (a proxy)."""

    def base(request: Request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def run(request: Request) -> Response:
            started = time.monotonic()
            try:
                response = await endpoint(request)
            except MuseError as exc:
                response = error_response(exc)
            except Exception:  # a bug: logged with its traceback, never sent to the client
                log.exception("internal error on %s %s", request.method, request.url.path)
                response = JSONResponse({"error": {"code": "internal", "message":
                                                   "internal error", "hint": None}}, 500)
            _log_request(request, response.status_code, time.monotonic() - started)
            return response
        return run

    async def repo_of(request: Request, need: str) -> Any:
        return (await grant_and_repo(request, need))[1]

    async def grant_and_repo(request: Request, need: str) -> tuple[Grant, Any]:
        grant = await run_in_threadpool(hub.grant, request.headers.get("authorization"))
        params = request.path_params
        repo = await run_in_threadpool(hub.repo, params["owner"], params["name"], grant, need)
        return grant, repo

    async def health(request: Request) -> Response:
        await run_in_threadpool(hub.index.ticket_secret)  # the index answers
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(base(request)))

    async def refs(request: Request) -> Response:
        repo = await repo_of(request, READ)
        return JSONResponse(await run_in_threadpool(hub.refs, repo))

    async def presign(request: Request) -> Response:
        grant, repo = await grant_and_repo(request, WRITE)
        body = await _json_body(request)
        bundle_id = _field(body, "bundle_id", str)
        size = _field(body, "size_bytes", int)
        return JSONResponse(await run_in_threadpool(hub.presign, repo, grant, bundle_id, size,
                                                    base(request)))

    async def upload(request: Request) -> Response:
        bundle_id, size = await run_in_threadpool(hub.upload_ticket,
                                                  request.path_params["ticket"])
        declared = request.headers.get("content-length")
        if declared is not None and declared != str(size):
            raise UsageError(f"this upload URL takes exactly {size} bytes",
                             code="too-large" if declared.isdigit() and int(declared) > size
                             else "usage")
        work = hub.new_work_file()
        try:
            digest = await _receive_to(request.stream(), work, size)
            if digest != bundle_id:
                raise MuseError("the uploaded bytes do not hash to the bundle id; nothing "
                                "was stored", code="checksum-mismatch")
            await run_in_threadpool(hub.store_upload, bundle_id, work)
        finally:
            work.unlink(missing_ok=True)
        return JSONResponse({"stored": bundle_id}, status_code=201)

    async def confirm(request: Request) -> Response:
        grant, repo = await grant_and_repo(request, WRITE)
        if request.headers.get("content-type", "").startswith(INLINE_TYPE):
            return await _confirm_inline(request, grant, repo)
        body = await _json_body(request)
        updates = _updates(body)
        bundle_id = body.get("bundle_id")
        if bundle_id is not None and not isinstance(bundle_id, str):
            raise UsageError("bundle_id must be a string or null")
        answer = await run_in_threadpool(lambda: hub.confirm(repo, grant, updates,
                                                             bundle_id=bundle_id))
        return JSONResponse(answer)

    async def _confirm_inline(request: Request, grant: Grant, repo: Any) -> Response:
        limit = hub.limits.inline_max_bytes
        stream = request.stream()
        head = await _read_exactly(stream, 4, b"")
        (length,) = struct.unpack(">I", head[0][:4])
        if length > JSON_LIMIT:
            raise UsageError("the push envelope's JSON part is too large")
        meta_raw, rest = await _read_exactly(stream, length, head[1])
        meta = _parse_json(meta_raw)
        updates = _updates(meta)
        work = hub.new_work_file()
        try:
            await _receive_to(_prepend(rest, stream), work, limit, exact=False)
            bundle_id = meta.get("bundle_id")
            if bundle_id is not None and not isinstance(bundle_id, str):
                raise UsageError("bundle_id must be a string or null")
            answer = await run_in_threadpool(lambda: hub.confirm(
                repo, grant, updates, bundle_id=bundle_id, inline=work))
        finally:
            work.unlink(missing_ok=True)
        return JSONResponse(answer)

    async def fetch(request: Request) -> Response:
        repo = await repo_of(request, READ)
        body = await _json_body(request)
        wants = _id_list(body, "wants")
        haves = _id_list(body, "haves")
        return JSONResponse(await run_in_threadpool(hub.fetch, repo, wants, haves,
                                                    base(request)))

    async def pack(request: Request) -> Response:
        repo = await repo_of(request, READ)
        pack_id = request.path_params["pack_id"]
        opened = hub.open_pack(repo, pack_id)
        stream = await run_in_threadpool(opened.__enter__)

        def chunks() -> Any:
            try:
                while data := stream.read(CHUNK):
                    yield data
            finally:
                opened.__exit__(None, None, None)

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    repo_path = API + "/repos/{owner}/{name}"
    routes = [
        Route("/health", guarded(health), methods=["GET"]),
        Route("/openapi.json", guarded(openapi), methods=["GET"]),
        Route(repo_path + "/refs", guarded(refs), methods=["GET"]),
        Route(repo_path + "/push/bundle/presign", guarded(presign), methods=["POST"]),
        Route(repo_path + "/push/bundle/confirm", guarded(confirm), methods=["POST"]),
        Route(repo_path + "/fetch", guarded(fetch), methods=["POST"]),
        Route(repo_path + "/packs/{pack_id}", guarded(pack), methods=["GET"]),
        Route(API + "/uploads/{ticket}", guarded(upload), methods=["PUT"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": {"code": "not-found", "message": "no such route",
                                   "hint": "see /openapi.json"}}, status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": {"code": "usage", "message": "method not allowed",
                                   "hint": "see /openapi.json"}}, status_code=405)


def _log_request(request: Request, status: int, seconds: float) -> None:
    path = request.url.path
    if path.startswith(API + "/uploads/"):
        path = API + "/uploads/…"  # a ticket is a credential: never logged
    log.info(json.dumps({"method": request.method, "path": path, "status": status,
                         "ms": round(seconds * 1000, 1)}))


# -- bodies ------------------------------------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any]:
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > JSON_LIMIT:
            raise UsageError("the request body is too large for a JSON request",
                             code="too-large")
        chunks.append(chunk)
    return _parse_json(b"".join(chunks))


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UsageError(f"{name} must be a {kind.__name__}")
    return value


def _id_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{name} must be a list of commit ids")
    if len(value) > 100_000:
        raise UsageError(f"too many {name}")
    return value


def _updates(body: dict[str, Any]) -> list[RefUpdate]:
    raw = body.get("updates")
    if not isinstance(raw, list) or len(raw) > 10_000:
        raise UsageError("updates must be a list of {name, old, new}")
    updates = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UsageError("each update needs a name")
        old, new = item.get("old"), item.get("new")
        if not all(v is None or isinstance(v, str) for v in (old, new)):
            raise UsageError("an update's old and new are commit ids or null")
        updates.append(RefUpdate(item["name"], old, new))
    return updates


async def _read_exactly(stream: AsyncIterator[bytes], n: int,
                        buffered: bytes) -> tuple[bytes, bytes]:
    """`n` bytes from `buffered` + `stream`, and what was read beyond them."""
    data = bytearray(buffered)
    while len(data) < n:
        try:
            data += await stream.__anext__()
        except StopAsyncIteration:
            raise UsageError("the push envelope ends early") from None
    return bytes(data[:n]), bytes(data[n:])


async def _prepend(first: bytes, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in stream:
        yield chunk


async def _receive_to(stream: AsyncIterator[bytes], path: Path, limit: int, *,
                      exact: bool = True) -> str:
    """Write the body to `path`, refusing past `limit` bytes (or short of it, if `exact`)."""
    digest = hashlib.sha256()
    total = 0
    with open(path, "wb") as out:
        async for chunk in stream:
            total += len(chunk)
            if total > limit:
                raise UsageError(f"the upload is longer than the {limit} bytes it may be",
                                 code="too-large")
            out.write(chunk)
            digest.update(chunk)
    if exact and total != limit:
        raise UsageError(f"the upload ended after {total} of its {limit} bytes")
    return digest.hexdigest()
