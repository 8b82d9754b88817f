#!/usr/bin/env python3
"""A TCP delay line on loopback: each byte reaches the other side half a round trip later.

    .venv/bin/python benchmarks/latency_proxy.py 127.0.0.1:8333 --rtt-ms 20 [--lifetime 600]

`LatencyProxy` listens on 127.0.0.1 (a free port), forwards every connection to
the upstream server and holds each direction's bytes for half the round-trip
time, as a network link would; a new connection also waits one round trip
before its first byte leaves (the TCP handshake). Bandwidth is not limited,
only latency is added. Loopback only (both ends must be loopback addresses);
bounded (a cap on connections and on the bytes held per direction); it stops
by itself after `lifetime` seconds, and with the process that started it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ipaddress
import sys
import threading
import time

HOST = "127.0.0.1"
CHUNK = 256 * 1024
MAX_HELD = 32 * 1024 * 1024  # bytes held per direction: bounds memory, not throughput here
MAX_CONNECTIONS = 64
LIFETIME = 3600.0


def _loopback(host: str) -> str:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the latency proxy works on loopback only, not {host}")
    return host


class _DelayLine:
    """One direction: chunks leave `delay` seconds after they arrived, in order."""

    def __init__(self, delay: float, not_before: float) -> None:
        self.delay = delay
        self.not_before = not_before  # the handshake: nothing leaves earlier than this
        self.held: collections.deque[tuple[float, bytes]] = collections.deque()
        self.held_bytes = 0
        self.changed = asyncio.Condition()

    async def take_in(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            async with self.changed:
                await self.changed.wait_for(lambda: self.held_bytes < MAX_HELD)
            chunk = await reader.read(CHUNK)
            due = max(loop.time(), self.not_before) + self.delay
            async with self.changed:
                self.held.append((due, chunk))
                self.held_bytes += len(chunk)
                self.changed.notify_all()
            if not chunk:  # end of stream travels down the line like data
                return

    async def give_out(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            async with self.changed:
                await self.changed.wait_for(lambda: bool(self.held))
                due, chunk = self.held.popleft()
                self.held_bytes -= len(chunk)
                self.changed.notify_all()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()


class LatencyProxy:
    """Forwards 127.0.0.1:`port` to `upstream`, adding `rtt` seconds per round trip."""

    def __init__(self, upstream_host: str, upstream_port: int, rtt: float, *,
                 lifetime: float = LIFETIME, max_connections: int = MAX_CONNECTIONS) -> None:
        self.upstream = (_loopback(upstream_host), upstream_port)
        self.rtt = rtt
        self.lifetime = lifetime
        self.max_connections = max_connections
        self.port = 0
        self.connections = 0  # accepted so far: each costs one handshake round trip
        self._active = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> LatencyProxy:
        """Serve on a daemon thread (it dies with this process); returns once listening."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()),
                                        name="latency-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError("the latency proxy did not start")
        return self

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._relay, HOST, 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.lifetime)
        server.close()  # open connections end with the loop: asyncio.run cancels them

    async def _relay(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        if self._active >= self.max_connections:
            client_writer.close()
            return
        self._active += 1
        self.connections += 1
        loop = asyncio.get_running_loop()
        opened = loop.time()
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._active -= 1
            client_writer.close()
            return
        half = self.rtt / 2
        # The handshake costs one round trip before the client's first byte can leave;
        # the server's first answer can then follow only after that byte arrived.
        up = _DelayLine(half, opened + self.rtt)
        down = _DelayLine(half, opened + self.rtt)
        legs = [asyncio.ensure_future(leg) for leg in (
            up.take_in(client_reader), up.give_out(server_writer),
            down.take_in(server_reader), down.give_out(client_writer))]
        try:
            # Done when both ends closed; the first failure (a reset) ends the rest.
            await asyncio.wait(legs, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            pass  # the proxy is stopping: close this connection quietly
        finally:
            for leg in legs:
                leg.cancel()
            await asyncio.gather(*legs, return_exceptions=True)
            self._active -= 1
            for writer in (server_writer, client_writer):
                writer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("upstream", help="HOST:PORT of the server, a loopback address")
    ap.add_argument("--rtt-ms", type=float, default=20.0)
    ap.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    try:
        proxy = LatencyProxy(host, int(port), args.rtt_ms / 1000, lifetime=args.lifetime)
    except ValueError as exc:  # not a loopback address, or not an address at all
        sys.exit(f"error: {exc}")
    proxy.start()
    print(f"{proxy.endpoint} -> {args.upstream}, {args.rtt_ms:g} ms round trip, "
          f"for {args.lifetime:g} s", flush=True)
    deadline = time.monotonic() + args.lifetime
    with contextlib.suppress(KeyboardInterrupt):
        while proxy.running() and time.monotonic() < deadline:
            time.sleep(0.5)
    proxy.stop()


if __name__ == "__main__":
    main()
