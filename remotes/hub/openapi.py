"""The hub's API as an OpenAPI 3.0 document, served at /openapi.json and tested live."""

from __future__ import annotations

from typing import Any

ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
NULLABLE_ID = {**ID, "nullable": True}
NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "hint": {"type": "string", "nullable": True}}}}}
UPDATES = {"type": "array", "maxItems": 10000, "items": {
    "type": "object", "required": ["name"],
    "properties": {"name": {"type": "string"}, "old": NULLABLE_ID, "new": NULLABLE_ID}}}
RESULTS = {"type": "object", "required": ["results", "stored_commits", "stored_objects"],
           "properties": {
               "results": {"type": "array", "items": {"type": "object", "properties": {
                   "name": {"type": "string"}, "old": NULLABLE_ID, "new": NULLABLE_ID,
                   "ok": {"type": "boolean"},
                   "reason": {"type": "string", "nullable": True}}}},
               "stored_commits": {"type": "integer"}, "stored_objects": {"type": "integer"}}}
CAPABILITIES = {"type": "object", "properties": {
    "atomic_multi_ref": {"type": "boolean"}, "server_verifies": {"type": "boolean"},
    "max_bundle_bytes": {"type": "integer", "nullable": True},
    "max_object_bytes": {"type": "integer", "nullable": True},
    "inline_max_bytes": {"type": "integer"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {400: "malformed request", 401: "missing or bad token", 403: "token lacks the scope",
             404: "no such repository (or private), pack or commit", 409: "conflict",
             413: "too large", 422: "the bundle failed verification; nothing changed",
             451: "blocked content"}
    return {str(s): {"description": words[s], **_json(ERROR)} for s in statuses}


def _op(summary: str, ok: dict[str, Any], *statuses: int, body: dict[str, Any] | None = None,
        secured: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok, **_errors(*statuses)}}
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    if secured:
        op["security"] = [{"token": []}, {}]
    return op


REPO_PARAMS = [{"name": "owner", "in": "path", "required": True, "schema": NAME},
               {"name": "name", "in": "path", "required": True, "schema": NAME}]


def openapi_document(server_url: str) -> dict[str, Any]:
    repo = "/api/v1/repos/{owner}/{name}"
    paths: dict[str, Any] = {
        "/health": {"get": _op("The hub and its index answer", {"200": {
            "description": "healthy", **_json({"type": "object", "properties": {
                "status": {"type": "string"}}})}}, secured=False)},
        repo + "/refs": {"parameters": REPO_PARAMS, "get": _op(
            "Every ref, and the hub's capabilities and limits", {"200": {
                "description": "refs", **_json({"type": "object", "properties": {
                    "refs": {"type": "object", "additionalProperties": ID},
                    "capabilities": CAPABILITIES}})}}, 401, 403, 404)},
        repo + "/push/bundle/presign": {"parameters": REPO_PARAMS, "post": _op(
            "One upload URL for a whole bundle, bound to its id and size", {"200": {
                "description": "where to PUT the bundle, or that the hub has it", **_json({
                    "type": "object", "properties": {
                        "exists": {"type": "boolean"}, "method": {"type": "string"},
                        "url": {"type": "string"}, "expires_in": {"type": "integer"},
                        "headers": {"type": "object",
                                    "additionalProperties": {"type": "string"}}}})}},
            400, 401, 403, 404, 413, body=_json({
                "type": "object", "required": ["bundle_id", "size_bytes"], "properties": {
                    "bundle_id": ID, "size_bytes": {"type": "integer", "minimum": 1}}}))},
        repo + "/push/bundle/confirm": {"parameters": REPO_PARAMS, "post": _op(
            "Verify the uploaded (or inline) bundle, index it and move refs, all or none",
            {"200": {"description": "per-ref outcomes", **_json(RESULTS)}},
            400, 401, 403, 404, 413, 422, 451, body={"content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["updates"], "properties": {
                        "bundle_id": NULLABLE_ID, "updates": UPDATES,
                        "force": {"type": "boolean"}}}},
                "application/vnd.muse.push+bundle": {"schema": {
                    "type": "string", "format": "binary",
                    "description": "u32 big-endian length, that many bytes of the JSON "
                                   "above, then the bundle"}}}})},
        repo + "/fetch": {"parameters": REPO_PARAMS, "post": _op(
            "The packs holding `wants` beyond `haves`, each with a download URL", {"200": {
                "description": "bundles to download", **_json({
                    "type": "object", "properties": {"bundles": {"type": "array", "items": {
                        "type": "object", "properties": {
                            "id": ID, "size": {"type": "integer"}, "url": {"type": "string"},
                            "requires": {"type": "array", "items": ID},
                            "provides": {"type": "array", "items": ID}}}}}})}},
            400, 401, 403, 404, body=_json({
                "type": "object", "required": ["wants"], "properties": {
                    "wants": {"type": "array", "items": ID},
                    "haves": {"type": "array", "items": ID}}}))},
        repo + "/packs/{pack_id}": {
            "parameters": [*REPO_PARAMS, {"name": "pack_id", "in": "path", "required": True,
                                          "schema": ID}],
            "get": _op("A pack's bytes, streamed", {"200": {
                "description": "the bundle", "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}}}, 401, 403, 404)},
        "/api/v1/uploads/{ticket}": {
            "parameters": [{"name": "ticket", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "put": _op("The hub's own upload URL (a directory blob store): the bundle's bytes",
                       {"201": {"description": "stored", **_json({"type": "object"})}},
                       400, 401, 413, 422, secured=False, body={"content": {
                           "application/octet-stream": {"schema": {
                               "type": "string", "format": "binary"}}}})},
    }
    return {"openapi": "3.0.3",
            "info": {"title": "Muse hub", "version": "1",
                     "description": "Push is presign, one PUT, confirm; see docs/hub.md."},
            "servers": [{"url": server_url}],
            "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
            "paths": paths}
