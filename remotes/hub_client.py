"""The hub remote: `http(s)://host[:port][/prefix]/OWNER/NAME`, spoken over httpx.

A push is the refs read, then one of: a confirm with the bundle inline (small
bundles), or presign + one PUT of the whole bundle + confirm; a push with
nothing new is the refs read alone. HTTP errors become Muse's error tree here,
at the edge, by the stable code in the hub's error body (docs/hub.md). (The
server is the package `remotes/hub/`; a module cannot share its name.)
"""

from __future__ import annotations

import contextlib
import io
import json
import ssl
import struct
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import httpx

from muse.errors import (
    BundleError,
    ConflictError,
    MuseError,
    RemoteError,
    TransientRemoteError,
    UsageError,
)
from muse.refs import RefUpdate
from muse.remote import (
    Capabilities,
    IncomingBundle,
    OutgoingBundle,
    RefResult,
    Remote,
    RemoteOptions,
    dependency_order,
)

CHUNK = 1 << 20
PART_WORKERS = 4  # parts of a multipart upload in flight at once
INLINE_TYPE = "application/vnd.muse.push+bundle"
# Named steps of a push, for tests and tracers (a hook may raise there).
STEPS = ("presigned", "uploaded", "confirmed")
Hook = Callable[[str], None]
INTEGRITY_CODES = {"bad-bundle", "not-a-commit", "too-large", "object-too-large", "repo-too-large",
                   "missing-prerequisite", "blocked", "unsigned", "untrusted-signer",
                   "corrupt-object", "missing-object", "bad-signature", "integrity"}


URL_HINT = "a hub repository's URL is http(s)://HOST[:PORT][/PREFIX]/OWNER/NAME"
API_ROOT = "/api/v1/repos/"


def check_url(url: str) -> None:
    """What `muse remote add` asks of the driver: UsageError for a URL naming no hub
    repository (a typing mistake, not a remote's failure)."""
    try:
        parse_url(url)
    except RemoteError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None


def parse_url(url: str) -> tuple[str, str, str]:
    """(base URL, owner, name) of a hub repository URL; RemoteError when it is not one."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or not parts.netloc or len(segments) < 2:
        raise RemoteError(f"not a hub repository URL: {url}", hint=f"check it: {URL_HINT}")
    prefix = "/".join(segments[:-2])
    base = f"{parts.scheme}://{parts.netloc}" + (f"/{prefix}" if prefix else "")
    return base, segments[-2], segments[-1]


class HubRemote:
    """The `Remote` protocol over the hub's HTTP API."""

    def __init__(self, url: str, options: RemoteOptions | None = None, *,
                 transport: httpx.BaseTransport | None = None, hook: Hook | None = None) -> None:
        options = options or RemoteOptions()
        self.url = url
        self.base, owner, name = parse_url(url)
        self.api = f"{self.base}/api/v1/repos/{owner}/{name}"
        self._auth = {"Authorization": f"Bearer {options.token}"} if options.token else {}
        self._http = httpx.Client(timeout=options.timeout, transport=transport,
                                  follow_redirects=False)
        self._hook: Hook = hook or (lambda step: None)
        self._inline_setting = options.settings.get("inline-max")
        self._caps: dict[str, Any] | None = None  # learnt from the last refs read

    # -- requests ------------------------------------------------------------------------

    def _is_hub(self, url: str) -> bool:
        """Whether `url` is this hub's own (it gets the token), not a presigned store URL.
        A path boundary, not a string prefix: `https://hub.example.org.evil/…` and
        `…/PREFIX-blobs/…` are other places."""
        return url == self.base or url.startswith(self.base + "/")

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self._is_hub(url):
            headers.update(self._auth)  # never send the token to a presigned store URL
        try:
            response = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientRemoteError(f"{self.url} timed out ({type(exc).__name__})",
                                       hint="retry, or raise remote.NAME.timeout") from None
        except httpx.TransportError as exc:
            raise self._unreachable(exc, "cannot reach") from None
        _raise_for(response, self.url)
        return response

    def _unreachable(self, exc: httpx.TransportError, doing: str) -> RemoteError:
        """A failure below HTTP. A TLS one is the URL's to fix and is not retried: retrying
        cannot make a plain-HTTP server speak TLS, nor a certificate trusted."""
        tls = _tls_cause(exc)
        if isinstance(tls, ssl.SSLCertVerificationError):
            return RemoteError(
                f"{doing} {self.base}: its TLS certificate is not trusted here "
                f"({tls.verify_message or tls.reason})",
                hint="check the host name in the URL; if the hub's certificate comes from a "
                "private authority, point SSL_CERT_FILE at that authority's certificate")
        if tls is not None:
            return RemoteError(
                f"{doing} {self.base}: the TLS handshake failed ({tls.reason or tls})",
                hint=f"if the hub serves plain HTTP, use {_other_scheme(self.url)}")
        hint = "is the hub running and the URL right?"
        if self.base.startswith("http://") and not isinstance(exc, httpx.ConnectError):
            # Connected, then dropped without an HTTP answer: what a TLS-only port does.
            hint += f" if it serves HTTPS only, use {_other_scheme(self.url)}"
        return TransientRemoteError(f"{doing} {self.base}: {exc}", hint=hint)

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self._request(method, self.api + path,
                                 **({} if body is None else {"json": body}))
        try:
            return response.json()
        except ValueError:
            raise RemoteError(f"{self.url} answered with something that is not JSON",
                              hint=f"is this URL a Muse hub? {URL_HINT}") from None

    # -- the protocol ----------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        # No request of its own: the hub announces its limits with every refs read, and a
        # push always reads the refs first. Until then, the protocol's defaults hold.
        caps = self._caps or {}
        return Capabilities(atomic_multi_ref=bool(caps.get("atomic_multi_ref", True)),
                            max_bundle_bytes=caps.get("max_bundle_bytes"),
                            server_verifies=bool(caps.get("server_verifies", True)))

    def list_refs(self) -> dict[str, str]:
        answer = self._json("GET", "/refs")
        refs = answer.get("refs") if isinstance(answer, dict) else None
        if not isinstance(refs, dict) or not all(isinstance(v, str) for v in refs.values()):
            raise RemoteError(f"{self.url} answered refs in an unknown shape")
        caps = answer.get("capabilities")
        self._caps = caps if isinstance(caps, dict) else {}
        return dict(refs)

    def push(self, bundle: OutgoingBundle | None,
             updates: Sequence[RefUpdate]) -> list[RefResult]:
        self._check_limit(bundle)
        body: dict[str, Any] = {"updates": [{"name": u.name, "old": u.old, "new": u.new}
                                            for u in updates]}
        if bundle is None:
            answer = self._json("POST", "/push/bundle/confirm", {**body, "bundle_id": None})
        elif bundle.size <= self._inline_max():
            answer = self._confirm_inline(bundle, body)
        else:
            self._upload(bundle)
            answer = self._json("POST", "/push/bundle/confirm",
                                {**body, "bundle_id": bundle.sha256})
        self._hook("confirmed")
        return _results(answer, updates, self.url)

    def _inline_max(self) -> int:
        if self._inline_setting is not None:
            try:
                return int(self._inline_setting)
            except ValueError:
                raise UsageError(f"remote inline-max is {self._inline_setting!r}, not a number "
                                 "of bytes") from None
        value = (self._caps or {}).get("inline_max_bytes", 0)
        return int(value) if isinstance(value, int) else 0

    def _check_limit(self, bundle: OutgoingBundle | None) -> None:
        limit = (self._caps or {}).get("max_bundle_bytes")
        if bundle is not None and isinstance(limit, int) and bundle.size > limit:
            raise BundleError(f"the bundle is {bundle.size} bytes; {self.url} takes at most "
                              f"{limit}; nothing was sent", code="too-large",
                              hint="push fewer commits at a time")

    def _confirm_inline(self, bundle: OutgoingBundle, body: dict[str, Any]) -> Any:
        meta = json.dumps({**body, "bundle_id": bundle.sha256}).encode()
        envelope = struct.pack(">I", len(meta)) + meta
        content = _chunks(bundle, first=envelope)
        response = self._request("POST", self.api + "/push/bundle/confirm", content=content,
                                 headers={"Content-Type": INLINE_TYPE,
                                          "Content-Length": str(len(envelope) + bundle.size)})
        return response.json()

    def _upload(self, bundle: OutgoingBundle) -> None:
        target = self._json("POST", "/push/bundle/presign",
                            {"bundle_id": bundle.sha256, "size_bytes": bundle.size})
        self._hook("presigned")
        if target.get("exists"):
            return  # the hub holds these bytes already (a resent push): no PUT
        if isinstance(target.get("parts"), list):
            self._upload_parts(bundle, target["parts"])
        else:
            url = target.get("url")
            if not isinstance(url, str):
                raise RemoteError(f"{self.url} answered a presign without a URL")
            headers = {str(k): str(v) for k, v in (target.get("headers") or {}).items()}
            headers["Content-Length"] = str(bundle.size)
            self._request("PUT", url, content=_chunks(bundle), headers=headers)
        self._hook("uploaded")

    def _upload_parts(self, bundle: OutgoingBundle, parts: list[Any]) -> None:
        """A multipart upload: each part not yet there, PUT in parallel from its offset."""
        try:
            todo = [(str(p["url"]), int(p["offset"]), int(p["size"])) for p in parts
                    if not p.get("done")]
        except (KeyError, TypeError, ValueError):
            raise RemoteError(f"{self.url} answered a multipart presign in an unknown "
                              "shape") from None

        def send(part: tuple[str, int, int]) -> None:
            url, offset, size = part
            self._request("PUT", url, content=_range(bundle, offset, size),
                          headers={"Content-Length": str(size)})

        with ThreadPoolExecutor(max_workers=PART_WORKERS) as pool:
            for done in [pool.submit(send, part) for part in todo]:
                done.result()

    def fetch(self, wants: Sequence[str], haves: Sequence[str]) -> list[IncomingBundle]:
        answer = self._json("POST", "/fetch", {"wants": list(wants), "haves": list(haves)})
        bundles = answer.get("bundles") if isinstance(answer, dict) else None
        if not isinstance(bundles, list):
            raise RemoteError(f"{self.url} answered a fetch in an unknown shape")
        return dependency_order([self._incoming(b) for b in bundles])

    def _incoming(self, item: Any) -> IncomingBundle:
        try:
            url, size = str(item["url"]), int(item["size"])
            requires, provides = frozenset(item["requires"]), frozenset(item["provides"])
        except (KeyError, TypeError, ValueError):
            raise RemoteError(f"{self.url} described a bundle in an unknown shape") from None

        @contextlib.contextmanager
        def opener() -> Iterator[BinaryIO]:
            headers = self._auth if self._is_hub(url) else {}
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    _raise_for(response, self.url)
                    yield _reader(response.iter_raw(CHUNK))
            except httpx.TransportError as exc:
                raise self._unreachable(exc, "downloading from") from None

        return IncomingBundle(label=str(item.get("id", url)), opener=opener, size=size,
                              requires=requires, provides=provides)

    def close(self) -> None:
        self._http.close()


def _range(bundle: OutgoingBundle, offset: int, size: int) -> Iterator[bytes]:
    with bundle.open() as handle:
        handle.seek(offset)
        left = size
        while left > 0 and (data := handle.read(min(CHUNK, left))):
            left -= len(data)
            yield data


def _chunks(bundle: OutgoingBundle, first: bytes = b"") -> Iterator[bytes]:
    if first:
        yield first
    with bundle.open() as handle:
        while data := handle.read(CHUNK):
            yield data


class _IteratorRaw(io.RawIOBase):
    """A raw stream over a response's byte iterator; wrapped in a BufferedReader for `read(n)`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _reader(chunks: Iterator[bytes]) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(_IteratorRaw(chunks), buffer_size=CHUNK))


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error under an httpx error (httpx → httpcore → ssl), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _other_scheme(url: str) -> str:
    """`url` with http and https swapped: the hint for a scheme mistake."""
    scheme, _, rest = url.partition("://")
    return ("http" if scheme == "https" else "https") + "://" + rest


def _moved_hint(response: httpx.Response) -> str:
    """Where a redirect points, as a repository URL when it points at the hub's API."""
    target = response.url.join(response.headers.get("location", ""))
    path = target.path
    if API_ROOT in path:
        prefix, _, rest = path.partition(API_ROOT)
        segments = rest.split("/")
        if len(segments) >= 2 and segments[0] and segments[1]:
            moved = f"{target.scheme}://{target.netloc.decode()}{prefix}/{segments[0]}/" \
                    f"{segments[1]}"
            return f"use {moved} (`muse remote set-url NAME URL`)"
    return f"check the URL; {URL_HINT}"


def _not_a_hub(response: httpx.Response, where: str) -> MuseError:
    """An answer without a hub error body: a redirect, or another server at that URL.

    Redirects are not followed: a token must not travel to wherever one points.
    """
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return RemoteError(f"{where}the server redirects (HTTP {status}) to {location}",
                           hint=_moved_hint(response))
    if status == 413:
        return BundleError(f"{where}HTTP 413: the request is larger than a server on the way "
                           "to the hub accepts", code="too-large",
                           hint="a proxy in front of the hub limits bodies: its admin can lift "
                           "that (nginx: client_max_body_size 0)")
    return RemoteError(f"{where}HTTP {status} from a server that does not answer as a Muse "
                       "hub (or a proxy in front of one)", hint=f"check the URL; {URL_HINT}")


def _raise_for(response: httpx.Response, url: str) -> None:
    """Nothing for a 2xx; else the error the hub's body names, in Muse's tree."""
    if response.status_code < 300:
        return
    if not response.is_closed:
        response.read()
    code, message, hint = _error_body(response)
    status = response.status_code
    where = f"{url}: "
    if status >= 500 or code == "remote-unavailable":
        raise TransientRemoteError(where + (message or f"HTTP {status}"),
                                   hint=hint or "the hub, or a proxy in front of it, failed; "
                                   "retry later")
    if code is None and status not in (401, 403):
        raise _not_a_hub(response, where)
    if code == "not-found":
        # The hub has no such route: the URL's path is off (a prefix taken for OWNER?).
        raise RemoteError(where + (message or "no such route"), code=code,
                          hint=f"check the URL; {URL_HINT}")
    if status in (401, 403):
        raise RemoteError(where + (message or "access refused"), code=code or "remote-auth",
                          hint=hint or "set MUSE_TOKEN (or MUSE_TOKEN_<REMOTE>) to a token "
                          "with the scope this needs")
    if code in INTEGRITY_CODES:
        raise BundleError(where + message, hint=hint, code=code)
    if code in ("ref-moved", "non-fast-forward", "exists", "conflict"):
        raise ConflictError(where + message, hint=hint, code=code)
    if code == "usage":
        raise UsageError(where + message, hint=hint)
    if status == 429 and response.headers.get("retry-after", "").isdigit():
        hint = f"{hint + '; ' if hint else ''}the hub says to retry in " \
               f"{response.headers['retry-after']} s"
    raise RemoteError(where + (message or f"HTTP {status}"), hint=hint, code=code or "remote")


def _error_body(response: httpx.Response) -> tuple[str | None, str, str | None]:
    try:
        error = response.json().get("error") or {}
        return (str(error["code"]) if error.get("code") else None, str(error.get("message", "")),
                error.get("hint"))
    except (ValueError, AttributeError):
        return None, "", None


def _results(answer: Any, updates: Sequence[RefUpdate], url: str) -> list[RefResult]:
    try:
        rows = answer["results"]
        results = [RefResult(str(r["name"]), r.get("old"), r.get("new"), bool(r["ok"]),
                             r.get("reason")) for r in rows]
    except (KeyError, TypeError):
        raise RemoteError(f"{url} answered a push in an unknown shape") from None
    if [r.name for r in results] != [u.name for u in updates]:
        raise RemoteError(f"{url} answered for other refs than were pushed")
    return results


def open_remote(url: str, options: RemoteOptions | None = None) -> Remote:
    return HubRemote(url, options)


__all__ = ["HubRemote", "MuseError", "check_url", "open_remote", "parse_url"]
