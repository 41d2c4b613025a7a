"""A TCP proxy on loopback that can *stall*: stop forwarding without closing anything.

A node cut from PostgreSQL by a network fault does not see its connections close: packets stop,
its sockets stay open, a query in flight simply never answers, until TCP gives up (minutes). That
is the failure a lease must survive, and killing the server or closing sockets does not show it.
Put this proxy between one Fusion node and PostgreSQL (the node's journal URL points at the
proxy) and::

    proxy = StallProxy("127.0.0.1", pg_port).start()
    url = proxy.rewrite(pg_url)      # the same URL, through the proxy
    proxy.stall()                    # nothing passes either way; sockets stay open
    proxy.resume()                   # what was held is delivered, traffic flows again

While stalled, bytes already read are held (not dropped: a stall, not loss), nothing more is
read, so the kernel's buffers fill and the sender blocks, as on a dead link; a connection accepted
meanwhile is not connected upstream until :meth:`resume`. One thread per direction of each
connection; everything stops in :meth:`close`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

_POLL_S = 0.05


class StallProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream_host:upstream_port`` until told to stall."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(_POLL_S)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.connections = 0
        """Connections accepted so far."""
        self.forwarded_bytes = 0
        """Bytes delivered so far, both directions."""

    # -- control --------------------------------------------------------------------------------

    def start(self) -> StallProxy:
        self._spawn(self._accept_loop)
        return self

    def stall(self) -> None:
        """Stop forwarding in both directions (and connecting new clients); close nothing."""
        self._flowing.clear()

    def resume(self) -> None:
        """Deliver what was held and forward again."""
        self._flowing.set()

    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    def rewrite(self, url: str) -> str:
        """``url`` (``scheme://user:pw@host:port/db?...``) with host and port replaced by the proxy's."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def close(self) -> None:
        """Close every socket and wait for the threads."""
        self._closed.set()
        self._flowing.set()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> StallProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- forwarding -----------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _wait_flowing(self) -> bool:
        """Block while stalled; False once the proxy is closing."""
        while not self._flowing.wait(_POLL_S):
            if self._closed.is_set():
                return False
        return not self._closed.is_set()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._track(client)
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        if not self._wait_flowing():  # a stalled link does not let a new connection through
            client.close()
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        self._track(upstream)
        for sock in (client, upstream):
            sock.settimeout(_POLL_S)
        self._spawn(self._pump, client, upstream)
        self._pump(upstream, client)

    def _send_all(self, sink: socket.socket, data: bytes) -> bool:
        """Send all of ``data`` (the socket keeps its short timeout: the other direction's
        thread reads from it); False once the proxy is closing."""
        view = memoryview(data)
        while view:
            if self._closed.is_set():
                return False
            try:
                view = view[sink.send(view) :]
            except TimeoutError:
                continue
        return True

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while self._wait_flowing():
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                if not self._wait_flowing():  # read just before a stall: held until resume
                    break
                if not self._send_all(sink, data):
                    break
                self.forwarded_bytes += len(data)
        except OSError:
            pass
        finally:
            # one side ended: end the other as a real connection would (FIN, then close)
            for sock in (sink, source):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
