"""Signed tickets: what the hub's own upload URL carries instead of a presigned S3 signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from muse.errors import RemoteError


def sign_ticket(secret: bytes, fields: dict[str, Any], expires_in: int) -> str:
    body = dict(fields, exp=int(time.time()) + expires_in)
    raw = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True).encode()).rstrip(b"=")
    mac = hmac.new(secret, raw, hashlib.sha256).hexdigest()
    return f"{raw.decode()}.{mac}"


def read_ticket(secret: bytes, ticket: str) -> dict[str, Any]:
    """The fields of a ticket this hub signed and that has not expired; RemoteError otherwise."""
    raw, _, mac = ticket.partition(".")
    expected = hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(mac, expected):
        raise RemoteError("the upload ticket's signature does not verify", code="remote-auth")
    try:
        fields = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise RemoteError("the upload ticket is malformed", code="remote-auth") from None
    if not isinstance(fields, dict) or not isinstance(fields.get("exp"), int):
        raise RemoteError("the upload ticket is malformed", code="remote-auth")
    if fields["exp"] <= time.time():
        raise RemoteError("the upload ticket has expired", code="remote-auth",
                          hint="push again: the client asks for a new one")
    return fields
