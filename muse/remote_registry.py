"""Finding a remote driver by URL scheme through the `muse.remotes` entry-point group."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import cast
from urllib.parse import urlsplit

from .errors import RemoteError
from .remote import Remote, RemoteOptions

GROUP = "muse.remotes"

# Used when the installed metadata is stale (an editable install made before a
# driver was declared): the built-in drivers must work regardless.
BUILTIN: dict[str, str] = {"file": "remotes.fs:open_remote", "s3": "remotes.s3:open_remote"}

URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# A driver's factory: its URL and the options it is opened with (token, timeout, settings).
Factory = Callable[[str, RemoteOptions], Remote]


def scheme_of(url: str) -> str:
    """`s3` for `s3://bucket/x`; `file` for `file://…` and for plain paths."""
    match = URL_SCHEME.match(url)
    return match.group(1).lower() if match else "file"


def redact_url(url: str) -> str:
    """`url` with any `user:secret@` shown as `***@`, and the value of a `password=`
    parameter (libpq reads one) as `***`: what a message may print."""
    match = URL_SCHEME.match(url)
    if not match:
        return url
    parts = urlsplit(url)
    if "@" in parts.netloc:
        start = match.end()
        url = url[:start] + "***@" + url[start + len(parts.netloc.rsplit("@", 1)[0]) + 1:]
    if parts.query:
        query = "&".join("password=***" if pair.partition("=")[0].lower() == "password"
                         else pair for pair in parts.query.split("&"))
        url = url.replace("?" + parts.query, "?" + query, 1)
    return url


def refuse_credentials(url: str, what: str = "the remote URL") -> None:
    """A URL carrying `user:secret@` is refused before anything stores, prints or sends it.

    A token in a URL would land in `.muse/config` (shared with every clone), in
    messages and in `--json`; the hub wants it as a Bearer header, S3 as AWS keys.
    `what` names where the URL came from: a remote's URL, an S3 endpoint, a setting.
    """
    if URL_SCHEME.match(url) and "@" in urlsplit(url).netloc:
        raise RemoteError(
            f"{what} {redact_url(url)} holds credentials; Muse never keeps a secret "
            "in a URL",
            hint="drop `USER:TOKEN@` from it; give a hub token in MUSE_TOKEN or with "
            "`muse remote set-token NAME`, S3 keys in AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY")


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def known_schemes() -> list[str]:
    return sorted({*BUILTIN, *_entry_points()})


def _load(scheme: str) -> Factory | None:
    ep = _entry_points().get(scheme)
    target = ep.value if ep is not None else BUILTIN.get(scheme)
    if target is None:
        return None
    try:
        # Only the one driver asked for is imported: heavy libraries stay unloaded.
        if ep is not None:
            factory = ep.load()
        else:
            module_name, _, attr = target.partition(":")
            factory = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise RemoteError(
            f"the {scheme!r} remote driver cannot be loaded: {exc}",
            hint=f"install the extra it needs, e.g. `pip install 'muse-vcs[{scheme}]'`",
        ) from None
    return cast(Factory, factory)


def check_url(url: str) -> None:
    """Refuse now a URL its driver could never open (`s3://B/x`, a hub URL with no
    repository): the driver module's own `check_url(url)`, if it has one. An unknown
    scheme passes here (its driver may be installed later); opening it names the known
    ones."""
    factory = _load(scheme_of(url))
    if factory is None:
        return
    check = getattr(sys.modules.get(factory.__module__), "check_url", None)
    if check is not None:
        check(url)


def open_remote(url: str, options: RemoteOptions | None = None) -> Remote:
    """The driver for `url`, opened with `options`; RemoteError (listing known schemes) when
    none fits."""
    if not url:
        raise RemoteError("empty remote URL")
    refuse_credentials(url)  # also for a URL written into the config by hand
    scheme = scheme_of(url)
    factory = _load(scheme)
    if factory is None:
        raise RemoteError(
            f"unknown remote scheme {scheme!r} in {url}",
            hint=f"known schemes: {', '.join(known_schemes())} "
            "(a plain path means file); drivers register under the `muse.remotes` entry point",
        )
    return factory(url, options or RemoteOptions())
