"""The stall proxy forwards both ways, and a stall stops traffic without closing a socket."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from stallproxy import StallProxy

from fustor_core.testing import wait_for
from fustor_core.testing.postgres import shared_postgres_url


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A real TCP echo server on loopback."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def exchange(sock: socket.socket, data: bytes, timeout: float = 2.0) -> bytes:
    sock.sendall(data)
    sock.settimeout(timeout)
    received = b""
    while len(received) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_a_stall_holds_traffic_both_ways_without_closing_and_resume_delivers_it(echo_port: int) -> None:
    with StallProxy("127.0.0.1", echo_port) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        assert exchange(client, b"before") == b"before"

        proxy.stall()
        client.sendall(b"during")
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):  # no echo, and no EOF: the socket is still open
            client.recv(100)
        assert proxy.stalled

        proxy.resume()
        client.settimeout(2)
        assert client.recv(100) == b"during"  # held, then delivered
        assert exchange(client, b"after") == b"after"
        client.close()


def test_a_connection_made_during_a_stall_gets_through_only_after_resume(echo_port: int) -> None:
    with StallProxy("127.0.0.1", echo_port) as proxy:
        proxy.stall()
        late = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        late.sendall(b"hello")
        late.settimeout(0.5)
        with pytest.raises(TimeoutError):
            late.recv(100)
        proxy.resume()
        late.settimeout(2)
        assert late.recv(100) == b"hello"
        late.close()


def test_a_big_transfer_during_a_stall_blocks_the_sender_then_arrives_whole(echo_port: int) -> None:
    """Nothing is dropped: the kernel's buffers fill and the sender waits, as on a dead link."""
    payload = os.urandom(8 * 2**20)
    with StallProxy("127.0.0.1", echo_port) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
        proxy.stall()
        sent = threading.Event()
        threading.Thread(target=lambda: (client.sendall(payload), sent.set()), daemon=True).start()
        time.sleep(0.5)  # give a broken proxy the time to let bytes through
        assert not sent.is_set()  # 8 MB do not fit in the buffers: the sender is blocked
        forwarded = proxy.forwarded_bytes
        proxy.resume()
        received = bytearray()
        client.settimeout(10)
        while len(received) < len(payload):
            received += client.recv(2**20)
        assert bytes(received) == payload
        assert forwarded == 0
        wait_for(sent.is_set, 10, "the sender to finish")
        client.close()


def test_postgres_queries_hang_through_a_stall_and_finish_after_resume() -> None:
    """The proxy's reason to exist: a real PostgreSQL connection neither fails nor answers."""
    url = shared_postgres_url()
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url.replace("+psycopg", ""))
    with StallProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        conn = psycopg.connect(proxy.rewrite(url.replace("+psycopg", "")), autocommit=True)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.stall()
        answers: list[object] = []
        worker = threading.Thread(target=lambda: answers.append(conn.execute("SELECT 2").fetchone()))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and answers == []  # neither an answer nor an error
        proxy.resume()
        worker.join(5)
        assert answers == [(2,)]
        conn.close()
