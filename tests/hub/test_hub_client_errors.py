"""The hub client at a URL that is not quite a hub: the wrong scheme, an untrusted
certificate, a redirect, another web server, a path the hub has no route for, and a
presigned URL that only looks like the hub's. Each is one line, a hint that names the
fix, exit 6, no retries where retrying cannot help, and nothing changed here.

The servers are real sockets on loopback: Python's own HTTP (and TLS) servers, in a
thread, answering what a misconfigured proxy or a wrong port answers.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from muse.errors import BundleError, RemoteError, TransientRemoteError
from muse.remote import RemoteOptions
from muse.repo import Repository
from muse.transfer import push
from remotes.hub_client import HubRemote
from tests.hub_server import HOST, HubServer, NewRepo
from tests.remotes.remote_support import MAIN, commit_files, new_repo
from tests.testkit import MuseRunner, changes_nothing

Answer = Callable[["Site", http.server.BaseHTTPRequestHandler], None]


@dataclass
class Site:
    """One loopback web server: its URL, and every request it saw (method, path, auth)."""

    url: str = ""
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


@contextlib.contextmanager
def serving(answer: Answer, tls: ssl.SSLContext | None = None) -> Iterator[Site]:
    site = Site()

    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            site.seen.append((self.command, self.path, self.headers.get("Authorization")))
            answer(site, self)

        do_GET = do_POST = do_PUT = handle_one

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    site.url = f"{'https' if tls else 'http'}://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def reply(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"",
          kind: str = "text/html", **headers: str) -> None:
    if handler.command in ("POST", "PUT"):
        handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A TLS server context whose certificate no client trusts (made here, for 127.0.0.1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def not_found_page(site: Site, handler: http.server.BaseHTTPRequestHandler) -> None:
    reply(handler, 404, b"<html><body>Not Found</body></html>")


def hub_error(site: Site, handler: http.server.BaseHTTPRequestHandler) -> None:
    body = {"error": {"code": "remote-not-found", "message": "a hub answered", "hint": None}}
    reply(handler, 404, json.dumps(body).encode(), "application/json")


@pytest.fixture
def work(tmp_path: Path, muse: MuseRunner) -> Path:
    path = tmp_path / "song"
    path.mkdir()
    assert muse("init", cwd=path).exit_code == 0
    (path / "take.wav").write_bytes(b"RIFF" + bytes(3000))
    assert muse("commit", "-m", "take", cwd=path).exit_code == 0
    return path


def refused(muse: MuseRunner, work: Path, url: str) -> tuple[str, str]:
    """`muse push URL main` and `muse ls-remote --json URL`: exit 6, nothing changed;
    the push's error and hint lines."""
    result = changes_nothing(muse, work, "push", url, "main", exit_code=6)
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    as_json = changes_nothing(muse, work, "ls-remote", "--json", url, exit_code=6)
    assert as_json.stdout == "" and json.loads(as_json.stderr)["error"]["exit_code"] == 6
    return lines[0], lines[1]


def test_https_to_a_plain_http_hub_says_to_use_http(muse: MuseRunner, work: Path) -> None:
    """It printed `[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)`, with
    "is the hub running?", after four attempts."""
    with serving(hub_error) as site:
        https = site.url.replace("http://", "https://") + "/ada/song"
        error, hint = refused(muse, work, https)
        assert error.startswith(f"error: cannot reach {https[:-len('/ada/song')]}: the TLS "
                                "handshake failed")
        assert hint == f"hint: if the hub serves plain HTTP, use {site.url}/ada/song"
        assert site.seen == []  # no HTTP request ever arrived


def test_http_to_a_tls_only_port_suggests_https(muse: MuseRunner, work: Path,
                                                tmp_path: Path) -> None:
    with serving(hub_error, tls=self_signed(tmp_path)) as site:
        http_url = site.url.replace("https://", "http://") + "/ada/song"
        error, hint = refused(muse, work, http_url)
        assert error.startswith("error: cannot reach http://")
        assert hint.endswith(f"if it serves HTTPS only, use {site.url}/ada/song")


def test_an_untrusted_certificate_is_named_and_not_retried(muse: MuseRunner, work: Path,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    with serving(hub_error, tls=self_signed(tmp_path)) as site:
        error, hint = refused(muse, work, site.url + "/ada/song")
        assert "its TLS certificate is not trusted here" in error
        assert "SSL_CERT_FILE" in hint
        # The hint's fix works: trusting that certificate reaches the "hub" behind it.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        trusted = changes_nothing(muse, work, "ls-remote", site.url + "/ada/song", exit_code=6)
        assert "a hub answered" in trusted.stderr


def test_a_tls_failure_is_not_retried() -> None:
    """Four attempts with backoff could never make a plain-HTTP port speak TLS."""
    from muse.remote_wrappers import connect

    with serving(hub_error) as site:
        sleeps: list[float] = []
        remote = connect(site.url.replace("http://", "https://") + "/ada/song",
                         RemoteOptions(timeout=5), sleep=sleeps.append)
        with pytest.raises(RemoteError, match="TLS handshake failed") as caught:
            remote.list_refs()
        assert not isinstance(caught.value, TransientRemoteError) and sleeps == []


def test_a_redirect_names_the_repository_url_to_use_and_is_not_followed(
        muse: MuseRunner, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An http:// URL a proxy redirects to https:// said only `HTTP 301`."""
    def moved(site: Site, handler: http.server.BaseHTTPRequestHandler) -> None:
        reply(handler, 301, Location=f"https://hub.example.org/music{handler.path}")

    monkeypatch.setenv("MUSE_TOKEN", "muse_not-for-anyone-else")
    with serving(moved) as site:
        error, hint = refused(muse, work, site.url + "/ada/song")
        assert error == (f"error: {site.url}/ada/song: the server redirects (HTTP 301) to "
                         "https://hub.example.org/music/api/v1/repos/ada/song/refs")
        assert hint == ("hint: use https://hub.example.org/music/ada/song "
                        "(`muse remote set-url NAME URL`)")
        assert {method for method, _, _ in site.seen} == {"GET"}  # nothing pushed


def test_another_web_server_is_not_taken_for_a_hub(muse: MuseRunner, work: Path) -> None:
    """A 404 page from a web server said only `HTTP 404`, with no hint."""
    with serving(not_found_page) as site:
        error, hint = refused(muse, work, site.url + "/ada/song")
        assert error == (f"error: {site.url}/ada/song: HTTP 404 from a server that does not "
                         "answer as a Muse hub (or a proxy in front of one)")
        assert hint.startswith("hint: check the URL; a hub repository's URL is http(s)://")


def test_a_proxys_413_is_a_size_refusal(tmp_path: Path, muse_home: Path) -> None:
    def too_big(site: Site, handler: http.server.BaseHTTPRequestHandler) -> None:
        reply(handler, 413, b"<html>413 Request Entity Too Large</html>")

    with serving(too_big) as site, pytest.raises(BundleError) as caught:
        HubRemote(site.url + "/ada/song").list_refs()
    assert caught.value.code == "too-large" and caught.value.exit_code == 5
    assert "client_max_body_size" in (caught.value.hint or "")


def test_a_path_the_hub_has_no_route_for_hints_at_the_url_shape(
        muse: MuseRunner, work: Path, hub_server: HubServer, hub_repo: NewRepo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`/OWNER/NAME/extra` reads as prefix OWNER; the hub's hint was `see /openapi.json`."""
    monkeypatch.setenv("MUSE_TOKEN", hub_repo.write_token)
    result = changes_nothing(muse, work, "push", hub_repo.url + "/extra", "main", exit_code=6)
    assert result.stderr.splitlines()[1].startswith(
        "hint: check the URL; a hub repository's URL is http(s)://HOST[:PORT][/PREFIX]/")


def test_the_token_goes_only_to_the_hubs_own_urls(tmp_path: Path, muse_home: Path) -> None:
    """The token was sent to any URL that merely began with the hub's base as a string:
    `…/hub-blobs/…` for a hub at `…/hub`."""
    local: Repository = new_repo(tmp_path / "local")
    commit_files(local, {"song.mid": b"MThd-verse"}, "first")

    def fake_hub(site: Site, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path.endswith("/refs"):
            body: object = {"refs": {}, "capabilities": {"inline_max_bytes": 0}}
        elif path.endswith("/presign"):
            body = {"exists": False, "method": "PUT", "url": f"{site.url}/hub-blobs/upload",
                    "headers": {}}
        elif path.endswith("/upload"):
            body = {}
        else:
            sent = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
            body = {"results": [{**u, "ok": True, "reason": None} for u in sent["updates"]]}
            reply_json = json.dumps(body).encode()
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(reply_json)))
            handler.end_headers()
            handler.wfile.write(reply_json)
            return
        reply(handler, 200, json.dumps(body).encode(), "application/json")

    with serving(fake_hub) as site:
        remote = HubRemote(site.url + "/hub/ada/song", RemoteOptions(token="muse_secret"))
        push(local, remote, [(MAIN, MAIN)])
    auth = {path.rsplit("/", 1)[-1]: token for _, path, token in site.seen}
    assert auth["refs"] == auth["presign"] == auth["confirm"] == "Bearer muse_secret"
    assert auth["upload"] is None
